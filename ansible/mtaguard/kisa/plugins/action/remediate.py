# -*- coding: utf-8 -*-
# The controller side of mtaguard.kisa.remediate: runs the mtaguard binary for the play's
# current host. Nothing is copied to the host: mtaguard reaches it over its own SSH, from a
# one-host inventory written here, so plays with gather_facts: false need no Python there.

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import tempfile

from ansible.errors import AnsibleActionFail
from ansible.module_utils.common.text.converters import to_text
from ansible.plugins.action import ActionBase

# The arguments, as the documentation module declares them.
ARGUMENT_SPEC = dict(
    items=dict(type="list", elements="str", default=[]),
    mode=dict(type="str", choices=["harden", "disable"]),
    playbooks=dict(type="path"),
    allow_upgrade=dict(type="bool", default=False),
    smtp_port=dict(type="int"),
    smtp_host=dict(type="str"),
    backups=dict(type="path"),
    ssh_config=dict(type="path"),
    ssh_options=dict(type="list", elements="str", default=[]),
    connect_timeout=dict(type="int"),
    command_timeout=dict(type="int"),
    executable=dict(type="path"),
)

# What a host's line of the one-host inventory carries, in the order mtaguard's InventoryINI
# reads them (Sources/MTAGuard/Fleet/Inventory.swift): the first set name wins.
CONNECTION_VARS = (
    ("ansible_host", ("ansible_host", "ansible_ssh_host")),
    ("ansible_port", ("ansible_port", "ansible_ssh_port")),
    ("ansible_user", ("ansible_user", "ansible_ssh_user")),
    ("ansible_ssh_private_key_file", ("ansible_ssh_private_key_file", "ansible_private_key_file")),
)

# Connections mtaguard can stand in for: it speaks the system OpenSSH itself.
SSH_CONNECTIONS = ("ssh", "smart", "paramiko", "paramiko_ssh", "ansible.builtin.ssh",
                   "ansible.builtin.paramiko_ssh")

ITEM_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
HOST_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9._-]*$")
VAR_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
CONTROL = re.compile(r"[\x00-\x1f\x7f]")

FAILED_OUTCOMES = ("failed", "rolled-back", "rollback-failed")

# Per-host ssh arguments Ansible users set (a ProxyJump per segment, a known_hosts file): each
# becomes one of mtaguard's --ssh-option. mtaguard puts its own BatchMode and strict host-key
# checking first, and ssh keeps the first value it is given, so none of these can weaken them.
SSH_ARG_VARS = ("ansible_ssh_common_args", "ansible_ssh_extra_args")


class ActionModule(ActionBase):
    TRANSFERS_FILES = False
    _requires_connection = False
    _supports_check_mode = True
    _supports_async = False

    def run(self, tmp=None, task_vars=None):
        task_vars = task_vars or {}
        result = super().run(tmp, task_vars)
        result["changed"] = False
        try:
            return self._remediate(task_vars, result)
        except AnsibleActionFail as e:
            # Caught here rather than left to the task executor, which ansible-core before
            # 2.19 does not turn into a task result with what was found so far.
            result.update(failed=True, msg=to_text(e.message))
            return result

    def _remediate(self, task_vars, result):
        _, args = self.validate_argument_spec(argument_spec=ARGUMENT_SPEC)
        self._check_options(args)
        host = to_text(task_vars.get("inventory_hostname", ""))
        if not HOST_NAME.match(host):
            raise AnsibleActionFail(
                "host '%s': mtaguard takes inventory names of letters, digits, '.', '_' and '-' only" % host)
        connection = to_text(self._value(task_vars, "ansible_connection") or "ssh")
        if connection not in SSH_CONNECTIONS:
            raise AnsibleActionFail(
                "host %s: ansible_connection is '%s'; mtaguard reaches hosts over SSH only" % (host, connection))
        self._check_become(host)
        ssh_options = self._ssh_options(host, task_vars)
        line = self._inventory_line(host, task_vars, args["smtp_host"])
        executable = self._executable(args)

        workdir = tempfile.mkdtemp(prefix="mtaguard-ansible-")
        try:
            inventory = os.path.join(workdir, "inventory.ini")
            fd = os.open(inventory, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                f.write(line + "\n")
            common = self._common_argv(args, inventory) + ["--ssh-option=" + o for o in ssh_options]

            if self._task.check_mode:
                plan = self._run(executable, "plan", common, host, result)
                entry = self._host_entry(plan, host)
                result["changed"] = bool(entry.get("files") or entry.get("modes") or entry.get("actions"))
                result["plan"] = self._plan_summary(entry)
                self._set_findings(result, entry)
                if self._task.diff:
                    result["diff"] = self._diffs(entry)
                return result

            if self._task.diff:
                plan = self._run(executable, "plan", common, host, result)
                result["diff"] = self._diffs(self._host_entry(plan, host))

            run = self._run(executable, "apply", ["--yes"] + common, host, result)
            if run.get("runID"):
                result["run_id"] = run["runID"]
            record = next((h for h in run.get("hosts", []) if h.get("name") == host), None)
            if record is not None:
                result["outcome"] = record.get("outcome")
                result["files"] = [f.get("path") for f in record.get("files", [])]
                result["actions"] = record.get("actions", [])
                if record.get("outcome") in FAILED_OUTCOMES:
                    raise AnsibleActionFail(
                        "host %s: %s: %s" % (host, record.get("outcome"), record.get("message") or "see the run journal"))
                result["changed"] = record.get("outcome") == "changed"
                if result["exit_code"] != 0:
                    raise AnsibleActionFail("host %s: mtaguard apply exited %d: %s"
                                            % (host, result["exit_code"], record.get("message") or record.get("outcome")))
            elif host in run.get("unchanged", []):
                result["outcome"] = "unchanged"
            else:
                raise AnsibleActionFail("host %s: mtaguard's run names neither a record nor 'unchanged' for it" % host)

            # The verdicts after the change: the host as it is now.
            check = self._run(executable, "check", common, host, result)
            self._set_findings(result, self._host_entry(check, host))
            return result
        finally:
            shutil.rmtree(workdir, ignore_errors=True)

    # -- options --------------------------------------------------------------------------

    def _check_options(self, args):
        for item in args["items"]:
            if not ITEM_ID.match(item):
                raise AnsibleActionFail("items: '%s' is not an item id such as SRV-005 or U-48" % item)
        if args["smtp_port"] is not None and not 1 <= args["smtp_port"] <= 65535:
            raise AnsibleActionFail("smtp_port: %d is not a port number (1 to 65535)" % args["smtp_port"])
        if args["smtp_host"] is not None and args["smtp_port"] is None:
            raise AnsibleActionFail("smtp_host says where the SMTP probe connects: set smtp_port too")
        for name in ("connect_timeout", "command_timeout"):
            if args[name] is not None and args[name] < 1:
                raise AnsibleActionFail("%s: must be at least 1 second" % name)
        for name in ("playbooks", "backups", "ssh_config", "executable", "smtp_host"):
            value = args[name]
            if value is not None and (value == "" or CONTROL.search(value)):
                raise AnsibleActionFail("%s: '%s' is empty or holds a control character" % (name, value))
        for option in args["ssh_options"]:
            if option == "" or CONTROL.search(option):
                raise AnsibleActionFail("ssh_options: %r is empty or holds a control character" % option)

    def _path(self, value):
        """A relative path is the playbook folder's, as Ansible's own file options are."""
        return value if os.path.isabs(value) else self._loader.path_dwim(value)

    def _executable(self, args):
        name = args["executable"] or os.environ.get("MTAGUARD_BIN") or "mtaguard"
        path = name if "/" in name else shutil.which(name)
        if not path or not os.path.isfile(path) or not os.access(path, os.X_OK):
            raise AnsibleActionFail(
                "the mtaguard binary '%s' is not found or not executable on the controller; "
                "set executable, or MTAGUARD_BIN, or put mtaguard on PATH" % name)
        return path

    def _common_argv(self, args, inventory):
        # --option=value, so that no value can be taken for an option of its own.
        argv = ["--format=json", "--inventory=" + inventory, "--forks=1"]
        argv += ["--item=" + item for item in args["items"]]
        if args["mode"]:
            argv.append("--mode=" + args["mode"])
        playbooks = args["playbooks"] or os.environ.get("MTAGUARD_PLAYBOOKS")
        if playbooks:
            argv.append("--playbooks=" + self._path(playbooks))
        if args["allow_upgrade"]:
            argv.append("--allow-upgrade")
        if args["smtp_port"] is not None:
            argv.append("--smtp-port=%d" % args["smtp_port"])
        if args["backups"]:
            argv.append("--backups=" + self._path(args["backups"]))
        if args["ssh_config"]:
            argv.append("--ssh-config=" + self._path(args["ssh_config"]))
        argv += ["--ssh-option=" + option for option in args["ssh_options"]]
        if args["connect_timeout"] is not None:
            argv.append("--connect-timeout=%d" % args["connect_timeout"])
        if args["command_timeout"] is not None:
            argv.append("--command-timeout=%d" % args["command_timeout"])
        return argv

    # -- what the host's connection variables ask -------------------------------------------

    def _check_become(self, host):
        """mtaguard becomes root through `sudo -n` and nothing else: another user or method is
        refused with the host's name rather than ignored."""
        if not self._play_context.become:
            return
        method = to_text(self._play_context.become_method or "sudo")
        user = to_text(self._play_context.become_user or "root")
        if method != "sudo":
            raise AnsibleActionFail(
                "host %s: become_method is '%s'; mtaguard becomes root through sudo only (sudo -n, no password prompt)"
                % (host, method))
        if user != "root":
            raise AnsibleActionFail(
                "host %s: become_user is '%s'; mtaguard's changes need root, and it becomes root only" % (host, user))

    def _ssh_options(self, host, task_vars):
        """ansible_ssh_common_args and ansible_ssh_extra_args as ssh -o options: `-o Key=Value`,
        `-oKey=Value`, `-o 'Key Value'` and `-J JUMP` (ProxyJump). Anything else is refused,
        naming the variable and the word, rather than dropped."""
        options = []
        for name in SSH_ARG_VARS:
            value = self._value(task_vars, name)
            if value in (None, ""):
                continue
            try:
                words = shlex.split(to_text(value))
            except ValueError as e:
                raise AnsibleActionFail("host %s: %s cannot be read as ssh arguments: %s" % (host, name, e))
            i = 0
            while i < len(words):
                word = words[i]
                if word in ("-o", "-J") and i + 1 < len(words):
                    flag, rest, i = word, words[i + 1], i + 2
                elif word[:2] in ("-o", "-J") and len(word) > 2:
                    flag, rest, i = word[:2], word[2:], i + 1
                else:
                    raise AnsibleActionFail(
                        "host %s: %s: '%s' is not an ssh option mtaguard passes on; it takes -o Key=Value and -J JUMP "
                        "(put other settings in the ssh_config the task names)" % (host, name, word))
                option = "ProxyJump=" + rest if flag == "-J" else re.sub(r"^([A-Za-z]+)\s+", r"\1=", rest, count=1)
                if not re.match(r"^[A-Za-z]+=\S", option) or CONTROL.search(option):
                    raise AnsibleActionFail("host %s: %s: '%s' is not an ssh option of the form Key=Value" % (host, name, rest))
                options.append(option)
        return options

    # -- the one-host inventory -----------------------------------------------------------

    def _value(self, task_vars, name):
        if name not in task_vars:
            return None
        return self._templar.template(task_vars[name])

    def _inventory_line(self, host, task_vars, smtp_host=None):
        pairs = []
        for key, names in CONNECTION_VARS:
            value = next((v for v in (self._value(task_vars, n) for n in names) if v not in (None, "")), None)
            if value is None and key == "ansible_user":
                value = self._play_context.remote_user
            if value is None and key == "ansible_port":
                value = self._play_context.port
            if value is not None:
                pairs.append((key, value))
        # become: the task's or play's keyword, or ansible_become, as Ansible decides it.
        become = self._play_context.become
        pairs.append(("ansible_become", "yes" if become else "no"))
        # The task's smtp_host is the host's probe address: mtaguard takes it per host from the
        # inventory (it refuses --smtp-host with -i), over any mtaguard_smtp_host of the host.
        for name in sorted(task_vars):
            if name.startswith("mtaguard_") and not (smtp_host is not None and name == "mtaguard_smtp_host"):
                pairs.append((name, self._value(task_vars, name)))
        if smtp_host is not None:
            pairs.append(("mtaguard_smtp_host", smtp_host))
        return host + "".join(" " + self._ini_pair(host, key, value) for key, value in pairs)

    @staticmethod
    def _ini_pair(host, key, value):
        if not VAR_NAME.match(key):
            raise AnsibleActionFail("host %s: '%s' is not a variable name mtaguard reads" % (host, key))
        if isinstance(value, bool):
            text = "yes" if value else "no"
        elif isinstance(value, (int, float)):
            text = str(value)
        elif isinstance(value, str):
            text = to_text(value)
        else:
            raise AnsibleActionFail(
                "host %s: variable %s is a %s; mtaguard takes text, numbers and yes/no only"
                % (host, key, type(value).__name__))
        if CONTROL.search(text):
            raise AnsibleActionFail(
                "host %s: variable %s holds a newline or another control character, which an inventory line cannot carry"
                % (host, key))
        if '"' not in text:
            return '%s="%s"' % (key, text)
        if "'" not in text:
            return "%s='%s'" % (key, text)
        raise AnsibleActionFail(
            "host %s: variable %s holds both ' and \", which an inventory line cannot quote" % (host, key))

    # -- running mtaguard -----------------------------------------------------------------

    def _run(self, executable, command, argv, host, result):
        cmd = [executable, command] + argv
        result.setdefault("cmd", []).append(cmd)
        try:
            proc = subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True, shell=False, check=False)
        except OSError as e:
            raise AnsibleActionFail("cannot run %s: %s" % (executable, e))
        stdout = to_text(proc.stdout, errors="surrogate_or_replace")
        stderr = to_text(proc.stderr, errors="surrogate_or_replace")
        result["exit_code"] = proc.returncode
        try:
            document = json.loads(stdout) if stdout.strip() else None
        except ValueError:
            document = None
        if not isinstance(document, dict):
            result["stderr"] = stderr
            raise AnsibleActionFail(self._message(stderr, stdout, proc.returncode, command))

        errors = list(document.get("errors") or [])
        for entry in document.get("hosts", []):
            if entry.get("error"):
                errors.append(entry["error"])
                if entry.get("errorCode"):
                    result["error_code"] = entry["errorCode"]
        if errors:
            result["stderr"] = stderr
            raise AnsibleActionFail("; ".join(errors))
        # plan and check: 0 and 2 are answers; apply: only 0 is (its failures have a record).
        answers = (0, 2) if command in ("plan", "check") else (0,)
        if proc.returncode not in answers and command != "apply":
            result["stderr"] = stderr
            raise AnsibleActionFail(self._message(stderr, stdout, proc.returncode, command))
        return document

    @staticmethod
    def _message(stderr, stdout, rc, command):
        lines = [line for line in stderr.splitlines() if line.strip()]
        for line in lines:
            if line.startswith("mtaguard: error:"):
                return line
        if lines:
            return "mtaguard %s exited %d: %s" % (command, rc, " ".join(lines[:3]))
        return "mtaguard %s exited %d without a JSON report: %s" % (command, rc, stdout.strip()[:500])

    @staticmethod
    def _host_entry(document, host):
        for entry in document.get("hosts", []):
            if entry.get("host") == host:
                return entry
        raise AnsibleActionFail("mtaguard's %s report has no entry for host %s" % (document.get("schema"), host))

    @staticmethod
    def _set_findings(result, entry):
        findings = entry.get("findings", [])
        result["findings"] = findings
        result["verdicts"] = {f.get("item"): f.get("status") for f in findings}

    @staticmethod
    def _plan_summary(entry):
        return {
            "files": [{"path": f.get("path"), "items": f.get("items")} for f in entry.get("files", [])],
            "modes": entry.get("modes", []),
            "actions": entry.get("actions", []),
            "live": entry.get("live"),
        }

    @staticmethod
    def _diffs(entry):
        diffs = []
        for f in entry.get("files", []):
            diffs.append({"before_header": f.get("path"), "after_header": f.get("path"), "prepared": f.get("diff", "")})
        for m in entry.get("modes", []):
            diffs.append({"before_header": m.get("path"), "after_header": m.get("path"),
                          "prepared": "mode of %s: %s -> %s (%s)\n"
                                      % (m.get("path"), m.get("from"), m.get("to"), ", ".join(m.get("items", [])))})
        return diffs
