# -*- coding: utf-8 -*-
# Documentation only: the work is done on the controller by plugins/action/remediate.py.

from __future__ import annotations

DOCUMENTATION = r"""
---
module: remediate
short_description: Check and fix KISA mail-service items (SRV-005 and the rest) with mtaguard
description:
  - Runs the C(mtaguard) binary on the controller (or the AWX/AAP execution node) for the
    play's current host. mtaguard reaches the host over its own SSH, judges each item
    (양호 pass, 취약 fail, 해당 없음 n/a, 오류 error), edits the mail configuration through
    Augeas, validates and reloads, journals every changed file, and rolls a host back when
    it fails.
  - Nothing is copied to the host and no Python runs there, so plays with
    C(gather_facts) set to false work on hosts without Python.
  - The host reaches mtaguard as a one-host inventory (a private 0600 temporary file) built
    from C(inventory_hostname), C(ansible_host), C(ansible_port), C(ansible_user),
    C(ansible_ssh_private_key_file), become (the C(become) keyword or C(ansible_become)),
    and every C(mtaguard_*) variable (C(mtaguard_mode) and the variables playbooks name).
    A value with a newline or another control character, or with both kinds of quote, fails
    the host with a message naming the variable.
  - C(ansible_ssh_common_args) and C(ansible_ssh_extra_args) become C(--ssh-option) values;
    C(-o Key=Value), C(-oKey=Value) and C(-J JUMP) (ProxyJump) are passed on, and any other word
    fails the host, naming it. Become is C(sudo -n) to root only; another C(become_user) or
    C(become_method) fails the host.
  - In check mode this runs C(mtaguard plan) and changes nothing; C(changed) says whether the
    plan has file, permission or service changes for the host. With C(--diff) the plan's
    unified diffs are returned as Ansible diffs.
  - Otherwise it runs C(mtaguard apply --yes), then C(mtaguard check) for the verdicts after
    the change. C(changed) is true only when the host's outcome is C(changed).
  - A host that mtaguard cannot reach, that fails, or that is rolled back fails the task with
    mtaguard's own message.
version_added: 0.1.0
author:
  - mtaguard maintainers
options:
  items:
    description:
      - Item ids or aliases (C(SRV-005), C(U-48)); each becomes C(--item). Empty means every playbook.
    type: list
    elements: str
    default: []
  mode:
    description:
      - C(harden) keeps the MTA and restricts it; C(disable) stops the mail service and keeps it off.
      - Default is each host's C(mtaguard_mode), else C(harden).
    type: str
    choices: [harden, disable]
  playbooks:
    description:
      - mtaguard's folder of playbooks (C(--playbooks)). Default is the environment variable
        C(MTAGUARD_PLAYBOOKS), else mtaguard's own default (C(playbooks) in the working folder).
      - A relative path is taken from the Ansible playbook's folder.
    type: path
  allow_upgrade:
    description: Let version items upgrade the MTA package (C(--allow-upgrade)).
    type: bool
    default: false
  smtp_port:
    description: Also probe each host's SMTP port for what the items must refuse (C(--smtp-port)).
    type: int
  smtp_host:
    description: With O(smtp_port), connect to this address instead of the host's own (the host's C(mtaguard_smtp_host) in the inventory mtaguard is given; an IP address or a host name).
    type: str
  backups:
    description:
      - Folder of run journals and backups on the controller (C(--backups)). Default is
        C(MTAGUARD_BACKUPS), else C(backups) in the working folder. Keep it, since C(mtaguard rollback RUN_ID)
        reads it.
    type: path
  ssh_config:
    description: An ssh_config file for mtaguard's ssh (C(--ssh-config), ssh C(-F)).
    type: path
  ssh_options:
    description: Extra ssh C(-o) options, e.g. C(UserKnownHostsFile=FILE); each becomes C(--ssh-option).
    type: list
    elements: str
    default: []
  connect_timeout:
    description: Seconds to wait for an SSH connection (C(--connect-timeout)).
    type: int
  command_timeout:
    description: Seconds one remote execution may take (C(--command-timeout)).
    type: int
  executable:
    description:
      - Path of the mtaguard binary. Default is the environment variable C(MTAGUARD_BIN), else
        C(mtaguard) on the controller's PATH.
    type: path
attributes:
  check_mode:
    support: full
  diff_mode:
    support: full
  platform:
    platforms: posix
notes:
  - The action runs on the controller; C(delegate_to) and non-SSH connections are not supported.
  - Each host is one mtaguard run with its own journal entry, so hosts are independent
    (forks, and AWX job slicing across execution nodes).
"""

EXAMPLES = r"""
- name: Restrict SMTP VRFY/EXPN on the mail servers
  hosts: mail
  gather_facts: false
  tasks:
    - name: SRV-005
      mtaguard.kisa.remediate:
        items: [SRV-005]
        playbooks: /usr/share/mtaguard/playbooks
        backups: /var/lib/mtaguard/backups
      register: srv005

    - name: Show the verdict
      ansible.builtin.debug:
        msg: "{{ inventory_hostname }}: SRV-005 {{ srv005.verdicts['SRV-005'] }}"

# A dry run with diffs: ansible-playbook site.yml --check --diff
"""

RETURN = r"""
changed:
  description: Check mode, the plan has changes for the host; otherwise, the host's outcome is C(changed).
  type: bool
  returned: always
findings:
  description:
    - mtaguard's findings for the host (C(item), C(title), C(status) pass/fail/review/not-applicable/error/exception,
      C(evidence)). In check mode the host as it is; after an apply, as C(mtaguard check) judges it afterwards.
  type: list
  elements: dict
  returned: success
verdicts:
  description: Item id to status (pass, fail, review, not-applicable, error, exception), from O(findings).
  type: dict
  returned: success
  sample: {"SRV-005": "pass"}
run_id:
  description: The journal's run id when the apply changed something (for C(mtaguard rollback RUN_ID)).
  type: str
  returned: when an apply was journaled
outcome:
  description: The host's outcome in the run (changed, unchanged; failed, rolled-back, rollback-failed fail the task).
  type: str
  returned: apply
files:
  description: The files the apply changed.
  type: list
  elements: str
  returned: apply, when the host has a record
actions:
  description: The service actions of the apply, each with its state.
  type: list
  elements: dict
  returned: apply, when the host has a record
plan:
  description: Check mode, what an apply would do (files with their items, permission changes, service actions).
  type: dict
  returned: check mode
diff:
  description: One entry per changed file, its unified diff in C(prepared).
  type: list
  elements: dict
  returned: with --diff
cmd:
  description: The mtaguard command lines run, as argv lists.
  type: list
  elements: list
  returned: always
exit_code:
  description:
    - The exit code of the last mtaguard command (plan and check give 2 for pending changes or a
      finding, which is not a failure). Not named C(rc), which Ansible reads as failed when not 0.
  type: int
  returned: when mtaguard ran
error_code:
  description: mtaguard's kind of error for the host (unreachable, permission, ...).
  type: str
  returned: when mtaguard reports an error for the host
"""
