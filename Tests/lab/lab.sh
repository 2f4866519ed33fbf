#!/usr/bin/env bash
# SSH test lab: N fake Unix hosts on this machine, each a real sshd on 127.0.0.1.
#
#   lab.sh start [--non-root] [--unreachable NAME[,NAME...]] N DIR
#   lab.sh start [--non-root] [--unreachable NAME[,NAME...]] --hosts NAME[,NAME...] DIR
#       Creates DIR (or fills an existing empty DIR) with hosts host01..hostNN
#       (or the given names), starts one sshd per host and prints the
#       inventory path. On failure everything started is stopped and DIR removed.
#   lab.sh stop DIR       stop every sshd of the lab, remove DIR (idempotent, exit 0)
#   lab.sh status DIR     one line per host: NAME PORT PID up|down|unreachable
#                         (exit 0 if every reachable host is up, else 1)
#   lab.sh kill DIR NAME  stop one host's sshd (fault tests); DIR stays
#   lab.sh restart DIR NAME  start that host's sshd again on its own port, in a new
#                         namespace set up the same way (same folders); prints its pid
#
# Each host's sshd runs in its own mount + UTS namespace
# (unshare -m -u --propagation private) with:
#   host name NAME;
#   HOSTDIR/root/etc/postfix       bound over /etc/postfix
#   HOSTDIR/root/etc/mail          bound over /etc/mail
#   HOSTDIR/root/etc/rc.config.d   bound over /etc/rc.config.d
#   HOSTDIR/overlay/etc            upper layer of an overlay over /etc, and
#   HOSTDIR/overlay/usr/sbin       of one over /usr/sbin (= /sbin): a file a test puts
#                                  there (/etc/rc.tcpip, /sbin/init.d/sendmail) exists on
#                                  that host only, and can be replaced by rename
#   HOSTDIR/overlay/var/lib        upper layer of one over /var/lib: the host's own
#                                  /var/lib/mtaguard (its copies of runs)
#   HOSTDIR/run                    bound over /run (= /var/run): the host's own lock
#   HOSTDIR/postfix/pid, /data     bound over /var/spool/postfix/pid and /var/lib/postfix:
#                                  postfix's master.pid and master.lock, per host
#   HOSTDIR/home                   bound over /root: a root home without this machine's
#                                  shell start-up files
#   HOSTDIR/shims                  bound over /usr/local/bin AND /usr/local/sbin, so
#                                  it leads sshd's default PATH for root
#                                  (/usr/local/sbin:/usr/local/bin:...) and others
#                                  (/usr/local/bin:...)
# Directories only are bound (never single files): files there are replaced by
# rename. Mount points that a fresh machine lacks (/etc/mail, /etc/rc.config.d) are
# made inside the host's own /etc overlay, never on the machine's /etc.
#
# Layout:
#   DIR/.mtaguard-lab              marker (stop only removes folders that hold it)
#   DIR/id_ed25519(.pub)           lab client key (no passphrase)
#   DIR/authorized_keys.root       lab key, for root (sshd: AuthorizedKeysFile DIR/authorized_keys.%u)
#   DIR/authorized_keys.mtlab      lab key, for the non-root user (with --non-root)
#   DIR/known_hosts                [127.0.0.1]:PORT ssh-ed25519 ... per host
#   DIR/ssh_config                 Host * IdentityFile/UserKnownHostsFile/StrictHostKeyChecking yes/BatchMode ...
#   DIR/inventory.ini              NAME ansible_host=127.0.0.1 ansible_port=PORT ansible_user=root
#   DIR/ansible.cfg                ANSIBLE_CONFIG for side-by-side ansible runs (uses ssh_config)
#   DIR/hosts.tsv                  NAME<TAB>PORT<TAB>PID<TAB>HOSTDIR (PID "-" for unreachable hosts)
#   DIR/hosts/NAME/                HOSTDIR: root/etc/{postfix,mail,rc.config.d}, shims/, sshd_config,
#                                  ssh_host_ed25519_key(.pub), sshd.pid, sshd.log, port,
#                                  commands.log (empty, mode 0666, for recording shims)
#
# Unreachable hosts get a port nothing listens on: a port below the kernel's
# ephemeral range (so no kernel-chosen port of another lab can land on it),
# checked to refuse connections.
#
# Needs (Debian 12, root): openssh-server (sshd, ssh-keygen), openssh-client,
# util-linux (unshare, flock), hostname, perl-base; with --non-root also sudo
# and passwd (useradd, userdel). Network: 127.0.0.1 only. The non-root user exists
# while labs that asked for it run: the last one's stop removes it and its sudoers
# file again, unless the machine had the user before (see ensure_user).

set -euo pipefail

LAB_USER=mtlab
SSHD=/usr/sbin/sshd

die() { echo "lab.sh: $*" >&2; exit 1; }

usage() {
    sed -n '2,16p' "$0" >&2
    exit 2
}

# ---------------------------------------------------------------- processes

# alive PID: true if PID exists and is not a zombie.
alive() {
    local s
    { read -r s <"/proc/$1/stat"; } 2>/dev/null || return 1
    s=${s##*) }
    [[ ${s:0:1} != Z ]]
}

# descendants PID...: every process whose ancestry reaches one of the PIDs.
descendants() {
    local -A parent=()
    local f s p rest ppid
    local -a fields
    for f in /proc/[0-9]*/stat; do
        { read -r s <"$f"; } 2>/dev/null || continue
        p=${f#/proc/}; p=${p%/stat}
        rest=${s##*) }
        fields=($rest)
        parent[$p]=${fields[1]}
    done
    local -A want=()
    for p in "$@"; do want[$p]=1; done
    local changed=1
    while ((changed)); do
        changed=0
        for p in "${!parent[@]}"; do
            if [[ -z ${want[$p]:-} && -n ${want[${parent[$p]}]:-} ]]; then
                want[$p]=1
                changed=1
            fi
        done
    done
    for p in "$@"; do unset "want[$p]"; done
    echo "${!want[@]}"
}

# is_our_sshd PID HOSTDIR: the pid is an sshd started with HOSTDIR's config.
is_our_sshd() {
    local pid=$1 hd=$2 exe cmd
    exe=$(readlink "/proc/$pid/exe" 2>/dev/null) || return 1
    [[ $exe == "$SSHD" || $exe == "$SSHD (deleted)" ]] || return 1
    cmd=$(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null) || return 1
    [[ $cmd == *"$hd/sshd_config"* ]]
}

# stop_sshd HOSTDIR...: TERM each host's sshd and all their descendants
# (session processes), wait, then KILL what is left. Only pids whose
# executable is sshd and whose command line names HOSTDIR/sshd_config count.
stop_sshd() {
    local hd pid p i any
    local -a listeners=() pids=()
    for hd in "$@"; do
        [[ -f $hd/sshd.pid ]] || continue
        { read -r pid <"$hd/sshd.pid"; } 2>/dev/null || pid=
        if [[ $pid =~ ^[0-9]+$ ]] && alive "$pid" && is_our_sshd "$pid" "$hd"; then
            listeners+=("$pid")
        fi
    done
    if ((${#listeners[@]})); then
        # Collect the trees before the listeners die (their children would be
        # reparented and lost to us).
        pids=("${listeners[@]}" $(descendants "${listeners[@]}"))
        for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
        for ((i = 0; i < 60; i++)); do
            any=0
            for p in "${pids[@]}"; do alive "$p" && { any=1; break; }; done
            ((any)) || break
            sleep 0.05
        done
        if ((any)); then
            for p in "${pids[@]}" $(descendants "${pids[@]}"); do
                alive "$p" && kill -KILL "$p" 2>/dev/null || true
            done
            for ((i = 0; i < 40; i++)); do
                any=0
                for p in "${pids[@]}"; do alive "$p" && { any=1; break; }; done
                ((any)) || break
                sleep 0.05
            done
        fi
    fi
    for hd in "$@"; do rm -f "$hd/sshd.pid"; done
}

# ---------------------------------------------------------------- ports

# A kernel-chosen free port on 127.0.0.1 (bind port 0, read it, close).
free_port() {
    perl -MIO::Socket::INET -e '
        my $s = IO::Socket::INET->new(LocalAddr => "127.0.0.1", LocalPort => 0,
                                      Proto => "tcp", Listen => 1) or die "bind: $!\n";
        print $s->sockport, "\n";'
}

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# A port nothing listens on, below the ephemeral range (see header).
closed_port() {
    local low _high p i
    read -r low _high </proc/sys/net/ipv4/ip_local_port_range
    if ((low > 11000)); then
        for ((i = 0; i < 100; i++)); do
            p=$((10000 + RANDOM % (low - 10000)))
            port_open "$p" || { echo "$p"; return 0; }
        done
    fi
    free_port
}

# ---------------------------------------------------------------- machine setup

# Mount points must exist on the machine; create missing ones empty, once.
ensure_mount_points() {
    local d
    for d in /usr/local/bin /usr/local/sbin; do
        [[ -d $d ]] || mkdir -p "$d"
    done
    mkdir -p /run/sshd
    chmod 0755 /run/sshd
}

# The non-root login user with passwordless sudo (idempotent, serialized). A lab that
# asks for it registers in USERS_DIR; the user and its sudoers file are removed again by
# the stop of the last registered lab, when a lab created them (USERS_DIR/created): the
# machine keeps the users it had. Registrations of labs whose folder is gone (a test
# process killed before it stopped its lab) do not count.
USERS_DIR=/run/mtaguard-lab-users
# Serialized by a lock on /run itself, which is always there (a lock file would stay behind,
# and /etc/passwd is replaced by userdel while it is locked).
USERS_LOCK=/run

lab_key() { printf '%s' "$1" | sha256sum | cut -c1-32; }

ensure_user() {
    local dir=$1
    (
        exec 9<"$USERS_LOCK"
        flock 9
        command -v sudo >/dev/null 2>&1 || die "sudo is missing; 'make deps' installs it"
        mkdir -p "$USERS_DIR"
        if ! id -u "$LAB_USER" >/dev/null 2>&1; then
            useradd -m -s /bin/sh "$LAB_USER" || die "useradd $LAB_USER failed"
            : >"$USERS_DIR/created"
        fi
        printf '%s\n' "$dir" >"$USERS_DIR/$(lab_key "$dir")"
        # A locked account ("!" in shadow) is refused by sshd without PAM;
        # "*" means "no password works" but not locked.
        if [[ $(getent shadow "$LAB_USER" | cut -d: -f2) == '!'* ]]; then
            usermod -p '*' "$LAB_USER"
        fi
        local want="$LAB_USER ALL=(root) NOPASSWD: ALL"
        if [[ ! -f /etc/sudoers.d/$LAB_USER || $(cat "/etc/sudoers.d/$LAB_USER") != "$want" ]]; then
            [[ -f /etc/sudoers.d/$LAB_USER ]] || : >"$USERS_DIR/created-sudoers"
            mkdir -p /etc/sudoers.d
            # A name with a dot is ignored by sudo while we write it.
            printf '%s\n' "$want" >"/etc/sudoers.d/.$LAB_USER.tmp"
            chmod 0440 "/etc/sudoers.d/.$LAB_USER.tmp"
            mv -f "/etc/sudoers.d/.$LAB_USER.tmp" "/etc/sudoers.d/$LAB_USER"
        fi
    )
}

# release_user DIR: the lab in DIR no longer needs the user; the last one removes what labs
# created (after its sshd stopped, so that no session of the user is left).
release_user() {
    local dir=$1
    [[ -d $USERS_DIR ]] || return 0
    (
        exec 9<"$USERS_LOCK"
        flock 9
        rm -f "$USERS_DIR/$(lab_key "$dir")"
        local f other
        for f in "$USERS_DIR"/*; do
            [[ -f $f ]] || continue
            case ${f##*/} in created | created-sudoers) continue ;; esac
            other=$(head -n1 "$f")
            if [[ -d $other ]]; then return 0; fi
            rm -f "$f"
        done
        if [[ -f $USERS_DIR/created-sudoers ]]; then
            rm -f "/etc/sudoers.d/$LAB_USER" "$USERS_DIR/created-sudoers"
        fi
        if [[ -f $USERS_DIR/created ]] && id -u "$LAB_USER" >/dev/null 2>&1; then
            pkill -KILL -u "$LAB_USER" 2>/dev/null || true
            userdel -r "$LAB_USER" >/dev/null 2>&1 || userdel -f -r "$LAB_USER" >/dev/null 2>&1 ||
                echo "lab.sh: userdel $LAB_USER failed" >&2
            rm -f "$USERS_DIR/created"
        fi
        rmdir "$USERS_DIR" 2>/dev/null
        return 0
    )
}

# ---------------------------------------------------------------- one host

# start_host DIR NAME: prepare HOSTDIR and start its sshd; writes HOSTDIR/port.
start_host() {
    local dir=$1 name=$2 hd=$1/hosts/$2 port attempt i ok
    mkdir -p "$hd/home" "$hd/root/etc/postfix" "$hd/root/etc/mail" "$hd/root/etc/rc.config.d" "$hd/shims" "$hd/run/sshd" \
        "$hd/overlay/etc" "$hd/overlay/usr/sbin" "$hd/overlay/.work-etc" "$hd/overlay/.work-sbin" \
        "$hd/overlay/var/lib" "$hd/overlay/.work-varlib"
    chmod 700 "$hd/home"
    chmod 755 "$hd/run" "$hd/run/sshd" "$hd/overlay" "$hd/overlay/etc" "$hd/overlay/usr" "$hd/overlay/usr/sbin" \
        "$hd/overlay/var" "$hd/overlay/var/lib"
    chmod 0755 "$hd" "$hd/root" "$hd/root/etc" "$hd/root/etc/postfix" "$hd/root/etc/mail" \
        "$hd/root/etc/rc.config.d" "$hd/shims"
    # postfix's own state, per host: master.pid (queue_directory/pid, locked by `master -t`)
    # and master.lock (data_directory); shared, two hosts checking at once see each other's lock.
    mkdir -p "$hd/postfix/pid" "$hd/postfix/data"
    chmod 755 "$hd/postfix" "$hd/postfix/pid" "$hd/postfix/data"
    if id postfix >/dev/null 2>&1; then chown postfix:postfix "$hd/postfix/data"; fi
    : >"$hd/commands.log"
    chmod 0666 "$hd/commands.log"
    ssh-keygen -q -t ed25519 -N '' -C "$name" -f "$hd/ssh_host_ed25519_key" </dev/null >/dev/null

    for ((attempt = 1; attempt <= 5; attempt++)); do
        port=$(free_port)
        launch_sshd "$dir" "$name" "$port" && return 0
        (($? == 2)) || return 1
        # Lost the race for the port: try another.
    done
    echo "lab.sh: $name: no port after 5 attempts" >&2
    return 1
}

# launch_sshd DIR NAME PORT: write HOSTDIR/sshd_config for PORT and start the host's sshd in a
# new mount + UTS namespace set up as described in the header; writes HOSTDIR/port.
# Returns 0 when it listens, 2 when the port was taken, 1 on any other failure.
launch_sshd() {
    local dir=$1 name=$2 port=$3 hd=$1/hosts/$2 i ok
    cat >"$hd/sshd_config" <<EOF
ListenAddress 127.0.0.1
Port $port
HostKey $hd/ssh_host_ed25519_key
PidFile $hd/sshd.pid
AuthorizedKeysFile $dir/authorized_keys.%u
PermitRootLogin prohibit-password
UsePAM no
StrictModes no
PasswordAuthentication no
KbdInteractiveAuthentication no
PubkeyAuthentication yes
LogLevel VERBOSE
MaxStartups 100:30:200
MaxSessions 50
PrintMotd no
X11Forwarding no
Subsystem sftp internal-sftp
EOF
    rm -f "$hd/sshd.pid"
    : >"$hd/sshd.log"
    unshare -m -u --propagation private /bin/sh -c '
        set -e
        hostname "$1"
        mount -t overlay overlay -o "lowerdir=/etc,upperdir=$2/overlay/etc,workdir=$2/overlay/.work-etc" /etc
        # In the overlay: a folder the machine lacks lands in this host'"'"'s upper layer only.
        mkdir -p /etc/postfix /etc/mail /etc/rc.config.d
        mount -t overlay overlay -o "lowerdir=/usr/sbin,upperdir=$2/overlay/usr/sbin,workdir=$2/overlay/.work-sbin" /usr/sbin
        # A /var/lib of its own: where a host keeps its copies of runs (/var/lib/mtaguard).
        mount -t overlay overlay -o "lowerdir=/var/lib,upperdir=$2/overlay/var/lib,workdir=$2/overlay/.work-varlib" /var/lib
        mount --bind "$2/root/etc/postfix" /etc/postfix
        mount --bind "$2/root/etc/mail" /etc/mail
        mount --bind "$2/root/etc/rc.config.d" /etc/rc.config.d
        mount --bind "$2/shims" /usr/local/bin
        mount --bind "$2/shims" /usr/local/sbin
        # A /run (= /var/run) of its own: where a host keeps its lock, as a real host would.
        mount --bind "$2/run" /run
        # A plain root home: this machine'"'"'s /root/.bashrc sets up pyenv, which would cost every
        # session of every tool half a second that no real Unix host spends.
        mount --bind "$2/home" /root
        if [ -d /var/spool/postfix/pid ]; then mount --bind "$2/postfix/pid" /var/spool/postfix/pid; fi
        if [ -d /var/lib/postfix ]; then mount --bind "$2/postfix/data" /var/lib/postfix; fi
        exec "$3" -f "$2/sshd_config" -E "$2/sshd.log"
    ' sh "$name" "$hd" "$SSHD" </dev/null >/dev/null 2>>"$hd/sshd.log" ||
        { echo "lab.sh: $name: sshd did not start:" >&2; cat "$hd/sshd.log" >&2; return 1; }

    # sshd daemonizes before it binds; the pid file is written after the
    # listening socket is up, so: pid file + live process + port accepts.
    ok=0
    for ((i = 0; i < 200; i++)); do
        if [[ -s $hd/sshd.pid ]] && alive "$(cat "$hd/sshd.pid")" && port_open "$port"; then
            ok=1
            break
        fi
        if grep -q -e 'Cannot bind' -e 'Bind to port' -e 'fatal' "$hd/sshd.log" 2>/dev/null; then
            break
        fi
        sleep 0.05
    done
    if ((ok)); then
        echo "$port" >"$hd/port"
        return 0
    fi
    stop_sshd "$hd"
    if ! grep -q -e 'Cannot bind' -e 'Bind to port' -e 'Address already in use' "$hd/sshd.log"; then
        echo "lab.sh: $name: sshd did not come up on port $port:" >&2
        cat "$hd/sshd.log" >&2
        return 1
    fi
    return 2
}

# ---------------------------------------------------------------- commands

cmd_start() {
    local nonroot=0 unreachable="" names="" count="" dir=""
    while (($#)); do
        case $1 in
            --non-root) nonroot=1 ;;
            --unreachable) shift; unreachable=${1:-} ;;
            --hosts) shift; names=${1:-} ;;
            -*) usage ;;
            *)
                if [[ -z $names && -z $count ]]; then count=$1
                elif [[ -z $dir ]]; then dir=$1
                else usage; fi ;;
        esac
        shift
    done
    [[ -n $dir ]] || usage
    ((EUID == 0)) || die "must run as root"
    local -a hosts=() bad=()
    if [[ -n $names ]]; then
        IFS=', ' read -r -a hosts <<<"$names"
    else
        [[ $count =~ ^[0-9]+$ && $count -ge 1 ]] || die "N must be a positive number"
        local i
        for ((i = 1; i <= count; i++)); do hosts+=("$(printf 'host%02d' "$i")"); done
    fi
    IFS=', ' read -r -a bad <<<"$unreachable"
    local n
    for n in "${hosts[@]}" "${bad[@]}"; do
        [[ $n =~ ^[A-Za-z0-9][A-Za-z0-9._-]*$ ]] || die "bad host name: $n"
    done

    if [[ -e $dir ]]; then
        [[ -d $dir && -z $(ls -A "$dir") ]] || die "$dir exists and is not an empty folder"
    fi
    mkdir -p "$dir"
    dir=$(cd "$dir" && pwd -P)
    : >"$dir/.mtaguard-lab"
    # sshd reads authorized keys as the login user: the folder must be traversable.
    chmod 0755 "$dir"
    mkdir -p "$dir/hosts"
    LAB_STARTED=0
    LAB_DIR=$dir
    trap '[[ $LAB_STARTED == 1 ]] || cmd_stop "$LAB_DIR" >/dev/null 2>&1' EXIT

    command -v "$SSHD" >/dev/null || die "$SSHD missing: apt-get install -y openssh-server"
    ensure_mount_points
    ((nonroot)) && ensure_user "$dir"

    ssh-keygen -q -t ed25519 -N '' -C mtaguard-lab -f "$dir/id_ed25519" </dev/null >/dev/null
    cp "$dir/id_ed25519.pub" "$dir/authorized_keys.root"
    chmod 0644 "$dir/authorized_keys.root"
    if ((nonroot)); then
        cp "$dir/id_ed25519.pub" "$dir/authorized_keys.$LAB_USER"
        chmod 0644 "$dir/authorized_keys.$LAB_USER"
    fi

    # Start the hosts in parallel.
    local -a jobs=()
    for n in "${hosts[@]}"; do
        start_host "$dir" "$n" &
        jobs+=($!)
    done
    local failed=0 j
    for j in "${jobs[@]}"; do wait "$j" || failed=1; done
    ((failed == 0)) || die "start failed"

    local port pid
    : >"$dir/known_hosts"
    : >"$dir/inventory.ini"
    : >"$dir/hosts.tsv"
    for n in "${hosts[@]}"; do
        local hd=$dir/hosts/$n
        port=$(cat "$hd/port")
        pid=$(cat "$hd/sshd.pid")
        echo "[127.0.0.1]:$port $(cut -d' ' -f1,2 "$hd/ssh_host_ed25519_key.pub")" >>"$dir/known_hosts"
        echo "$n ansible_host=127.0.0.1 ansible_port=$port ansible_user=root" >>"$dir/inventory.ini"
        printf '%s\t%s\t%s\t%s\n' "$n" "$port" "$pid" "$hd" >>"$dir/hosts.tsv"
    done
    for n in "${bad[@]}"; do
        [[ -n $n ]] || continue
        port=$(closed_port)
        echo "$n ansible_host=127.0.0.1 ansible_port=$port ansible_user=root" >>"$dir/inventory.ini"
        printf '%s\t%s\t-\t-\n' "$n" "$port" >>"$dir/hosts.tsv"
    done

    cat >"$dir/ssh_config" <<EOF
Host *
    IdentityFile $dir/id_ed25519
    UserKnownHostsFile $dir/known_hosts
    GlobalKnownHostsFile /dev/null
    StrictHostKeyChecking yes
    BatchMode yes
    IdentitiesOnly yes
    LogLevel ERROR
    ConnectTimeout 10
EOF
    cat >"$dir/ansible.cfg" <<EOF
[defaults]
inventory = $dir/inventory.ini
host_key_checking = True

[ssh_connection]
ssh_args = -F $dir/ssh_config -o ControlMaster=auto -o ControlPersist=60s
control_path_dir = $dir/cp
EOF
    LAB_STARTED=1
    echo "$dir/inventory.ini"
}

cmd_stop() {
    local dir=${1:-}
    [[ -n $dir ]] || usage
    [[ -d $dir ]] || return 0
    dir=$(cd "$dir" && pwd -P)
    local hd
    local -a hds=()
    for hd in "$dir"/hosts/*/; do
        [[ -d $hd ]] && hds+=("${hd%/}")
    done
    ((${#hds[@]} == 0)) || stop_sshd "${hds[@]}"
    [[ -f $dir/.mtaguard-lab ]] && release_user "$dir"
    if [[ -f $dir/.mtaguard-lab ]]; then
        rm -rf "$dir" 2>/dev/null || true
    else
        echo "lab.sh: $dir holds no .mtaguard-lab marker; not removed" >&2
    fi
    return 0
}

cmd_status() {
    local dir=${1:-}
    [[ -n $dir ]] || usage
    [[ -f $dir/hosts.tsv ]] || die "no lab in $dir"
    local name port pid hd state rc=0
    while IFS=$'\t' read -r name port pid hd; do
        if [[ $pid == - ]]; then
            state=unreachable
        elif [[ -f $hd/sshd.pid ]] && alive "$pid" && is_our_sshd "$pid" "$hd" && port_open "$port"; then
            state=up
        else
            state=down
            rc=1
        fi
        printf '%s %s %s %s\n' "$name" "$port" "$pid" "$state"
    done <"$dir/hosts.tsv"
    return $rc
}

cmd_kill() {
    local dir=${1:-} name=${2:-}
    [[ -n $dir && -n $name ]] || usage
    [[ -d $dir/hosts/$name ]] || die "no host $name in $dir"
    stop_sshd "$dir/hosts/$name"
}

# The connection a fault test cut is back: the same port and host key, so known_hosts and the
# inventory stay right; hosts.tsv gets the new pid.
cmd_restart() {
    local dir=${1:-} name=${2:-} hd port pid i rc=1
    [[ -n $dir && -n $name ]] || usage
    hd=$dir/hosts/$name
    [[ -f $hd/port ]] || die "no host $name in $dir"
    stop_sshd "$hd"
    port=$(cat "$hd/port")
    # The port was just freed: wait while something else holds it a moment.
    for ((i = 0; i < 100; i++)); do
        rc=0
        launch_sshd "$dir" "$name" "$port" || rc=$?
        ((rc == 2)) || break
        sleep 0.1
    done
    ((rc == 0)) || die "$name: sshd did not start again on port $port"
    pid=$(cat "$hd/sshd.pid")
    awk -F'\t' -v OFS='\t' -v n="$name" -v p="$pid" '$1 == n { $3 = p } 1' "$dir/hosts.tsv" >"$dir/hosts.tsv.new"
    mv -f "$dir/hosts.tsv.new" "$dir/hosts.tsv"
    echo "$pid"
}

case ${1:-} in
    start) shift; cmd_start "$@" ;;
    stop) shift; cmd_stop "$@" ;;
    status) shift; cmd_status "$@" ;;
    kill) shift; cmd_kill "$@" ;;
    restart) shift; cmd_restart "$@" ;;
    *) usage ;;
esac
