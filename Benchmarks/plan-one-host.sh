#!/usr/bin/env bash
# Wall time of `mtaguard plan` on one offline host with both MTAs (postfix main.cf,
# sendmail.cf and sendmail.mc, all needing the SRV-005 fix). Release build; 30 runs after
# 3 warm-up runs; prints min / median / mean / max in milliseconds.
set -euo pipefail
cd "$(dirname "$0")/.."
swift build -c release >/dev/null
bin=$(swift build -c release --show-bin-path)/mtaguard
root=$(mktemp -d)
trap 'rm -rf "$root"' EXIT
mkdir -p "$root/etc/postfix" "$root/etc/mail"
cp Tests/Fixtures/postfix/main.cf.debian "$root/etc/postfix/main.cf"
cp Tests/Fixtures/sendmail/generic-linux.cf "$root/etc/mail/sendmail.cf"
cp Tests/Fixtures/sendmail/generic-linux.mc "$root/etc/mail/sendmail.mc"
python3 - "$bin" "$root" <<'PY'
import statistics, subprocess, sys, time
bin, root = sys.argv[1], sys.argv[2]
cmd = [bin, "plan", "--root", root, "--playbooks", "playbooks"]
for _ in range(3):
    subprocess.run(cmd, stdout=subprocess.DEVNULL)
times = []
for _ in range(30):
    t = time.perf_counter()
    r = subprocess.run(cmd, stdout=subprocess.DEVNULL)
    times.append((time.perf_counter() - t) * 1000)
    assert r.returncode == 2, f"plan exited {r.returncode}, expected 2 (changes pending)"
print(f"mtaguard plan, one host, postfix + sendmail (3 files): "
      f"min {min(times):.1f} ms, median {statistics.median(times):.1f} ms, "
      f"mean {statistics.mean(times):.1f} ms, max {max(times):.1f} ms (30 runs)")
PY
