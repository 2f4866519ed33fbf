#!/usr/bin/env bash
# Fleet benchmark: `mtaguard apply --item SRV-005` against Ansible and pyinfra doing the same
# change (Benchmarks/ansible/srv005.yml, Benchmarks/pyinfra/srv005.py), and the lab's floor (two
# plain `ssh HOST true` per host at the same forks), on fake postfix hosts over real SSH
# (Tests/lab/lab.sh). Each run's control-node CPU (the tool and the children it waited for) and
# peak RSS come from Benchmarks/rusage.py.
#
#   bash Benchmarks/fleet.sh            # as root, from anywhere: 10, 100, 500 and 1,000 hosts
#                                       # at forks 50 (about an hour on 2 cores)
#   SIZES="10 100" FORKS=20 PLAN_SIZE=10 RESULTS=/tmp/r.md bash Benchmarks/fleet.sh
#
# For each size in $SIZES a lab of that many hosts is started; before each tool's run every
# host's /etc/postfix is reset (the machine's /etc/postfix/. plus Debian's stock main.cf,
# Tests/Fixtures/postfix/main.cf.debian), then one full run is timed, every host's main.cf is
# checked to end with `disable_vrfy_command = yes`, and SSH sessions ("Starting session:" in
# each host's sshd log) are counted. At PLAN_SIZE (default: the first size) a read-only
# `mtaguard plan` is measured too. Prints a table and writes it to $RESULTS
# (default Benchmarks/results.md), with mtaguard's per-host phases (Benchmarks/phases.py).
# Exit 1 if any run failed or left a host unfixed (the table then says FAILED; logs are kept).
#
# Needs: root, python3 with venv, network to PyPI the first time (ansible-core goes into
# Benchmarks/.venv), `make deps` (run here). Network otherwise: 127.0.0.1 only.
set -euo pipefail

die() { echo "fleet.sh: $*" >&2; exit 1; }
say() { echo "fleet.sh: $*" >&2; }

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)
repo=$(cd "$here/.." && pwd -P)
cd "$repo"

((EUID == 0)) || die "must run as root (the lab starts sshd in mount namespaces)"

SIZES=${SIZES:-10 100 500 1000}
FORKS=${FORKS:-50}
read -r -a sizes <<<"$SIZES"
((${#sizes[@]})) || die "SIZES is empty"
for n in "${sizes[@]}"; do [[ $n =~ ^[1-9][0-9]*$ ]] || die "bad size: $n"; done
[[ $FORKS =~ ^[1-9][0-9]*$ ]] || die "bad FORKS: $FORKS"
PLAN_SIZE=${PLAN_SIZE:-${sizes[0]}}

LAB_SH=$repo/Tests/lab/lab.sh
STOCK_MAIN_CF=$repo/Tests/Fixtures/postfix/main.cf.debian
PLAYBOOK=$here/ansible/srv005.yml
PYINFRA_DEPLOY=$here/pyinfra/srv005.py
RUSAGE=$here/rusage.py
CFG_TEMPLATE=$here/ansible/ansible.cfg
RESULTS=${RESULTS:-$here/results.md}
VENV=$here/.venv
WANT_LINE='disable_vrfy_command = yes'

started=$SECONDS

# ---------------------------------------------------------------- cleanup

work=$(mktemp -d /tmp/mtaguard-fleet.XXXXXX)
logs=$work/logs
mkdir -p "$logs"
backups=$(mktemp -d /tmp/mtaguard-fleet-backups.XXXXXX)
current_lab=""
failures=0

# ssh_pids PATTERN: pids of ssh client processes whose command line contains PATTERN.
ssh_pids() {
    local f pid exe cmd
    for f in /proc/[0-9]*; do
        pid=${f#/proc/}
        exe=$(readlink "$f/exe" 2>/dev/null) || continue
        [[ ${exe% (deleted)} == */ssh ]] || continue
        cmd=$(tr '\0' ' ' <"$f/cmdline" 2>/dev/null) || continue
        if [[ $cmd == *"$1"* ]]; then echo "$pid"; fi
    done
    return 0
}

# kill_ssh PATTERN: TERM those processes (by pid), wait up to 2 s; prints how many there were.
kill_ssh() {
    local -a pids
    local p i left
    read -r -a pids <<<"$(ssh_pids "$1" | tr '\n' ' ')"
    for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
    for ((i = 0; i < 40; i++)); do
        left=0
        for p in "${pids[@]}"; do
            if [[ -d /proc/$p ]]; then left=1; fi
        done
        ((left)) || break
        sleep 0.05
    done
    for p in "${pids[@]}"; do
        if [[ -d /proc/$p ]]; then kill -KILL "$p" 2>/dev/null || true; fi
    done
    echo "${#pids[@]}"
}

stop_lab() {
    local lab=$1
    [[ -n $lab ]] || return 0
    kill_ssh "$lab/" >/dev/null
    bash "$LAB_SH" stop "$lab" >/dev/null 2>&1 || true
}

cleanup() {
    local rc=$?
    trap - EXIT INT TERM
    stop_lab "$current_lab"
    rm -rf "$backups"
    if ((rc == 0)); then
        rm -rf "$work"
    else
        say "logs kept in $logs"
    fi
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# ---------------------------------------------------------------- tools

say "installing what the lab and the build need (make deps)"
make -s deps >"$logs/deps.log" 2>&1 || { cat "$logs/deps.log" >&2; die "make deps failed"; }

if [[ ! -x $VENV/bin/ansible-playbook || ! -x $VENV/bin/pyinfra ]]; then
    say "ansible-core and pyinfra into $VENV"
    [[ -x $VENV/bin/pip ]] || python3 -m venv "$VENV" || die "python3 -m venv failed (Debian: apt-get install -y python3-venv)"
    "$VENV/bin/pip" install -q ansible-core pyinfra >"$logs/pip.log" 2>&1 ||
        { cat "$logs/pip.log" >&2; die "pip install ansible-core pyinfra failed"; }
fi
ANSIBLE_PLAYBOOK=$VENV/bin/ansible-playbook
PYINFRA=$VENV/bin/pyinfra
ansible_version=$("$ANSIBLE_PLAYBOOK" --version | sed -n '1s/.*\[core \(.*\)\].*/\1/p')
pyinfra_version=$("$PYINFRA" --version 2>&1 | sed -n 's/.*v\([0-9][0-9.]*\).*/\1/p' | head -n 1)

say "building mtaguard (release)"
swift build -c release >"$logs/build.log" 2>&1 || { tail -n 30 "$logs/build.log" >&2; die "swift build -c release failed"; }
MTAGUARD=$(swift build -c release --show-bin-path)/mtaguard
[[ -x $MTAGUARD ]] || die "no binary at $MTAGUARD"
# Which source was measured: the commit, and whether the build inputs had local changes.
if commit=$(git -C "$repo" rev-parse --short HEAD 2>/dev/null); then
    if [[ -n $(git -C "$repo" status --porcelain -- Sources Package.swift playbooks 2>/dev/null) ]]; then
        mtaguard_source="commit $commit with uncommitted changes in Sources/, Package.swift or playbooks/"
    else
        mtaguard_source="commit $commit"
    fi
else
    mtaguard_source="not a git work tree ($repo)"
fi
swift_version=$(swift --version 2>&1 | sed -n 's/.*Swift version \([^ ]*\).*/\1/p' | head -n 1)

# ---------------------------------------------------------------- per lab

# hosts_of LAB: the host folders, in inventory order.
hosts_of() { awk '{print $1}' "$1/inventory.ini" | sed "s|^|$1/hosts/|"; }

# reset_hosts LAB: every host's /etc/postfix = the machine's, with Debian's stock main.cf.
reset_hosts() {
    local hd d
    for hd in $(hosts_of "$1"); do
        d=$hd/root/etc/postfix
        # Keep the folder itself: it is bind-mounted in the host's namespace.
        find "$d" -mindepth 1 -delete
        cp -a /etc/postfix/. "$d/"
        install -m 0644 -o root -g root "$STOCK_MAIN_CF" "$d/main.cf"
    done
}

# verify_hosts LAB: every main.cf ends with WANT_LINE, holds one disable_vrfy_command line,
# and is otherwise the stock file. Prints problems; returns 1 if any.
verify_hosts() {
    local hd f bad=0 last n
    for hd in $(hosts_of "$1"); do
        f=$hd/root/etc/postfix/main.cf
        last=$(tail -n 1 "$f")
        n=$(grep -c '^[[:space:]]*disable_vrfy_command' "$f" || true)
        if [[ $last != "$WANT_LINE" ]]; then
            echo "  ${hd##*/}: main.cf ends with '$last', not '$WANT_LINE'"
            bad=1
        elif ((n != 1)); then
            echo "  ${hd##*/}: main.cf has $n disable_vrfy_command lines"
            bad=1
        elif ! head -n -1 "$f" | cmp -s - "$STOCK_MAIN_CF"; then
            echo "  ${hd##*/}: main.cf differs from the stock file in more than the appended line"
            bad=1
        fi
    done
    return $bad
}

# count NAME LAB PATTERN: per host, lines of the sshd log matching PATTERN, into array NAME.
count() {
    local -n out=$1
    local hd
    out=()
    for hd in $(hosts_of "$2"); do
        out+=("$(grep -c -- "$3" "$hd/sshd.log" || true)")
    done
}

# stats BEFORE AFTER: "mean min max" of the per-host differences.
stats() {
    local -n b=$1 a=$2
    local i
    for i in "${!a[@]}"; do echo $((a[i] - b[i])); done |
        awk 'NR == 1 { min = $1; max = $1 } { s += $1; if ($1 < min) min = $1; if ($1 > max) max = $1 }
             END { printf "%.1f %d %d\n", s / NR, min, max }'
}

# pyinfra_inventory LAB: the lab's hosts as a pyinfra inventory (paramiko, the lab's key and
# known_hosts, strict host key checking as the other tools).
pyinfra_inventory() {
    local lab=$1 name port
    {
        echo "hosts = ["
        while read -r name port _; do
            echo "    (\"$name\", {\"ssh_hostname\": \"127.0.0.1\", \"ssh_port\": $port, \"ssh_user\": \"root\","
            echo "        \"ssh_key\": \"$lab/id_ed25519\", \"ssh_known_hosts_file\": \"$lab/known_hosts\","
            echo "        \"ssh_strict_host_key_checking\": \"yes\"}),"
        done <"$lab/hosts.tsv"
        echo "]"
    } >"$lab/pyinfra_inventory.py"
}

# The lab's floor: two plain `ssh HOST true` sessions per host, FORKS at once (bash -c, so that
# rusage.py can run it): what the lab costs any tool that makes two round trips per host.
# shellcheck disable=SC2016
FLOOR='awk '"'"'{print $2; print $2}'"'"' "$1/hosts.tsv" | xargs -P "$2" -I{} ssh -F "$1/ssh_config" -o ControlMaster=no -p {} -l root 127.0.0.1 true'

# Result rows: size|tool|wall|sessions mean|min-max|connections mean|load before|status|cpu|rss
rows=()
# mtaguard's per-host phases: size|facts|probe|plan|journal|apply|verify|undo ("mean / max" s)
phase_rows=()

# measure SIZE TOOL LAB EXPECT_RC CMD...: time one run, count sessions, verify (apply only).
measure() {
    local size=$1 tool=$2 lab=$3 expect=$4
    shift 4
    local log=$logs/$size-${tool// /-}.log
    local -a s0 s1 c0 c1
    count s0 "$lab" "Starting session:"
    count c0 "$lab" "Accepted publickey"
    say "$size hosts: $tool"
    # The machine's 1-minute load average just before the run: a busy machine (another
    # build or test run) slows both tools, so the table shows it.
    local load
    read -r load _ </proc/loadavg
    local t0=$EPOCHREALTIME rc=0
    python3 "$RUSAGE" "$log.rusage" "$@" >"$log" 2>&1 </dev/null || rc=$?
    local t1=$EPOCHREALTIME
    sleep 1 # the last log lines of the session processes
    count s1 "$lab" "Starting session:"
    count c1 "$lab" "Accepted publickey"
    local wall sess conn status=ok
    wall=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f", b - a }')
    read -r smean smin smax <<<"$(stats s0 s1)"
    read -r cmean _ _ <<<"$(stats c0 c1)"
    if ((rc != expect)); then
        status="FAILED (exit $rc, expected $expect)"
    elif [[ $tool != *plan* && $tool != floor ]] && ! verify_hosts "$lab" >"$log.verify"; then
        status="FAILED (hosts not fixed)"
    fi
    if [[ $status != ok ]]; then
        failures=$((failures + 1))
        say "$size hosts: $tool: $status; log: $log"
        tail -n 20 "$log" | sed 's/^/    /' >&2
        if [[ -s $log.verify ]]; then head -n 20 "$log.verify" >&2; fi
    fi
    local cpu=- rss=-
    if [[ -s $log.rusage ]]; then read -r cpu rss <"$log.rusage"; fi
    rows+=("$size|$tool|$wall|$smean|$smin-$smax|$cmean|$load|$status|$cpu|$rss")
}

for size in "${sizes[@]}"; do
    lab=$work/lab$size
    say "starting a lab of $size hosts"
    current_lab=$lab
    bash "$LAB_SH" start "$size" "$lab" >"$logs/lab$size.log" 2>&1 ||
        { cat "$logs/lab$size.log" >&2; die "lab.sh start $size failed"; }
    sed "s|@LAB@|$lab|g" "$CFG_TEMPLATE" >"$lab/bench-ansible.cfg"

    if [[ $size == "$PLAN_SIZE" ]]; then
        reset_hosts "$lab"
        # plan: 2 = changes pending, which is what the stock main.cf must give.
        measure "$size" "mtaguard plan" "$lab" 2 \
            env MTAGUARD_BACKUPS="$backups" "$MTAGUARD" plan --item SRV-005 \
            -i "$lab/inventory.ini" --ssh-config "$lab/ssh_config" --forks "$FORKS"
        n=$(kill_ssh "$lab/")
        ((n == 0)) || say "$size hosts: mtaguard plan left $n ssh processes (ended)"
    fi

    reset_hosts "$lab"
    measure "$size" "mtaguard" "$lab" 0 \
        env MTAGUARD_BACKUPS="$backups" "$MTAGUARD" apply --yes --item SRV-005 --format json \
        -i "$lab/inventory.ini" --ssh-config "$lab/ssh_config" --forks "$FORKS"
    phase_rows+=("$size|$(python3 "$here/phases.py" "$logs/$size-mtaguard.log" || true)")
    n=$(kill_ssh "$lab/")
    ((n == 0)) || say "$size hosts: mtaguard left $n ssh processes (ended)"

    reset_hosts "$lab"
    measure "$size" "Ansible" "$lab" 0 \
        env ANSIBLE_CONFIG="$lab/bench-ansible.cfg" "$ANSIBLE_PLAYBOOK" \
        -i "$lab/inventory.ini" "$PLAYBOOK" --forks "$FORKS"
    n=$(kill_ssh "$lab/ansible-cp/")
    say "$size hosts: ended $n ControlPersist ssh processes Ansible left"
    kill_ssh "$lab/" >/dev/null

    reset_hosts "$lab"
    pyinfra_inventory "$lab"
    measure "$size" "pyinfra" "$lab" 0 \
        "$PYINFRA" -y --parallel "$FORKS" "$lab/pyinfra_inventory.py" "$PYINFRA_DEPLOY"

    measure "$size" "floor" "$lab" 0 bash -c "$FLOOR" floor "$lab" "$FORKS"

    stop_lab "$lab"
    current_lab=""
done

# ---------------------------------------------------------------- report

elapsed=$((SECONDS - started))
declare -A mt_wall=() mt_cpu=()
for r in "${rows[@]}"; do
    IFS='|' read -r size tool wall _ _ _ _ status cpu _ <<<"$r"
    if [[ $tool == mtaguard && $status == ok ]]; then mt_wall[$size]=$wall; mt_cpu[$size]=$cpu; fi
done

table="| hosts | tool | wall s | wall / mtaguard's | control-node CPU s | CPU / mtaguard's | peak RSS MB | SSH sessions/host (mean) | min-max | SSH connections/host | load before | status |
|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|"
for r in "${rows[@]}"; do
    IFS='|' read -r size tool wall smean srange cmean load status cpu rss <<<"$r"
    ratio="" cratio=""
    if [[ $tool != mtaguard* && $status == ok && -n ${mt_wall[$size]:-} ]]; then
        ratio=$(awk -v a="$wall" -v m="${mt_wall[$size]}" 'BEGIN { printf "%.2f", a / m }')
        cratio=$(awk -v a="$cpu" -v m="${mt_cpu[$size]}" 'BEGIN { if (m > 0) printf "%.2f", a / m }')
    fi
    table+=$'\n'"| $size | $tool | $wall | $ratio | $cpu | $cratio | $rss | $smean | $srange | $cmean | $load | $status |"
done

phases="| hosts | facts round trip | SMTP probe | plan | journal | apply round trip (copy, write, postfix check, rename, reload) | verify | undo |
|---:|---:|---:|---:|---:|---:|---:|---:|"
for r in "${phase_rows[@]}"; do
    phases+=$'\n'"| ${r//|/ | } |"
done

echo
echo "$table"
echo
echo "mtaguard apply, seconds per host (mean / max), timed on the control node:"
echo "$phases"
echo
echo "forks $FORKS; whole benchmark ${elapsed}s (with build and lab start/stop)"

{
    echo "# Fleet benchmark results"
    echo
    echo "Written by \`Benchmarks/fleet.sh\` (SIZES=\"$SIZES\", FORKS=$FORKS, PLAN_SIZE=$PLAN_SIZE)."
    echo "One run per tool and size, each on freshly reset hosts. \"SSH sessions\" counts"
    echo "\`Starting session:\` lines (one per remote execution) in each host's sshd log;"
    echo "\"SSH connections\" counts \`Accepted publickey\` lines (one per TCP connection)."
    echo "\"load before\" is the 1-minute load average just before the run. Control-node CPU is"
    echo "user + system time of the tool and the children it waited for (Benchmarks/rusage.py;"
    echo "detached ControlPersist masters are not counted); peak RSS is the largest process's."
    echo "\"floor\" is two plain \`ssh HOST true\` per host at the same forks."
    echo
    echo "$table"
    echo
    echo "mtaguard apply, per host and phase (seconds, mean / max over the hosts, timed on the"
    echo "control node; the round trips include the SSH connection and all the host ran in them):"
    echo
    echo "$phases"
    echo
    echo "The whole benchmark took ${elapsed} s (with the release build check and lab start/stop)."
    echo
    echo "## Machine"
    echo
    echo "- date: $(date -u '+%Y-%m-%d %H:%M:%S UTC')"
    echo "- nproc: $(nproc)"
    echo "- kernel: $(uname -r)"
    echo "- swift: $swift_version"
    echo "- ansible-core: $ansible_version"
    echo "- pyinfra: $pyinfra_version"
    echo "- OpenSSH: $(ssh -V 2>&1)"
    echo "- mtaguard source: $mtaguard_source"
    echo
    echo '```'
    echo "\$ free -g"
    free -g
    echo '```'
} >"$RESULTS"
echo "written: $RESULTS"

((failures == 0)) || die "$failures run(s) failed"
