#!/usr/bin/env python3
"""rusage.py OUT CMD...: runs CMD, then writes "CPU_SECONDS MAXRSS_MB" to OUT and exits with
CMD's status. CPU is user + system of CMD and every descendant it waited for (getrusage
RUSAGE_CHILDREN); a process that detached (an ssh ControlPersist master) is not counted.
MAXRSS is the largest resident set of any one of those processes."""
import resource
import subprocess
import sys

out, cmd = sys.argv[1], sys.argv[2:]
status = subprocess.call(cmd)
r = resource.getrusage(resource.RUSAGE_CHILDREN)
with open(out, "w") as f:
    f.write(f"{r.ru_utime + r.ru_stime:.2f} {r.ru_maxrss / 1024:.0f}\n")
sys.exit(status)
