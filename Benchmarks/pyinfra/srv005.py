# SRV-005 with pyinfra, for Benchmarks/fleet.sh: the same change `mtaguard apply --item SRV-005`
# makes on a postfix host. main.cf gets `disable_vrfy_command = yes` (an existing
# disable_vrfy_command line is replaced, else the line is appended); when the file changed,
# postfix is reloaded, but only if it runs. No validation, as in the Ansible play.
from pyinfra.operations import files, server

line = files.line(
    name="disable_vrfy_command = yes in main.cf",
    path="/etc/postfix/main.cf",
    line=r"^disable_vrfy_command.*$",
    replace="disable_vrfy_command = yes",
)

server.shell(
    name="reload postfix if it runs",
    commands=["if postfix status >/dev/null 2>&1; then postfix reload; fi"],
    _if=line.did_change,
)
