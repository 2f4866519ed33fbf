#!/usr/bin/env bash
# Downloads the Debian packages of sendmail and exim and unpacks them under DEST, without
# installing them: both conflict with postfix, which is this machine's MTA. The live tests
# (Tests/MTAGuardTests/Support/ExtractedMTA.swift) run them from there.
#
#   bash Tests/mta/fetch.sh DEST      (make mtas: DEST = .build/mtas)
#
# DEST/debs      the downloaded .debs (kept: a second run downloads nothing)
# DEST/sendmail  sendmail-bin, -base, -cf and the libraries the machine lacks, dpkg -x'ed;
#                usr/libexec/sendmail/sendmail has its setgid bit cleared, else the loader
#                ignores LD_LIBRARY_PATH
# DEST/exim      exim4-daemon-light, exim4-base, exim4-config and libraries, dpkg -x'ed
# DEST/.complete written last; when it is there and both binaries are, nothing is done
#
# exim refuses to run without its system user: Debian-exim is created when missing.
set -euo pipefail

DEST=${1:?usage: bash Tests/mta/fetch.sh DEST}
case $DEST in /*) ;; *) DEST=$PWD/$DEST;; esac

SENDMAIL_PKGS=(sendmail-bin sendmail-base sendmail-cf libmilter1.0.1 liblockfile1 libwrap0 libidn12)
EXIM_PKGS=(exim4-daemon-light exim4-base exim4-config libidn12)
SENDMAIL_BIN=$DEST/sendmail/usr/libexec/sendmail/sendmail
EXIM_BIN=$DEST/exim/usr/sbin/exim4
LIBDIR=usr/lib/$(dpkg-architecture -qDEB_HOST_MULTIARCH 2>/dev/null || echo x86_64-linux-gnu)

die() { echo "fetch.sh: $*" >&2; exit 1; }

if ! getent passwd Debian-exim >/dev/null; then
    useradd --system --user-group --home-dir /var/spool/exim4 --no-create-home \
        --shell /usr/sbin/nologin Debian-exim || die "cannot create the Debian-exim user exim needs"
fi

if [ -f "$DEST/.complete" ] && [ -x "$SENDMAIL_BIN" ] && [ -x "$EXIM_BIN" ]; then
    echo "mtas: already unpacked in $DEST ($(tr '\n' ' ' < "$DEST/.complete"))"
    exit 0
fi

# Libraries the binaries need that this machine does not have installed.
missing_libs() {
    apt-cache depends "$@" 2>/dev/null \
        | sed -n 's/^ *|\{0,1\}\(Pre\)\{0,1\}Depends: \(lib[^ <>]*\)$/\2/p' | sort -u \
        | while read -r p; do
            dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' || echo "$p"
        done
}
mapfile -t SENDMAIL_LIBS < <(missing_libs sendmail-bin)
mapfile -t EXIM_LIBS < <(missing_libs exim4-daemon-light)
SENDMAIL_PKGS+=("${SENDMAIL_LIBS[@]}")
EXIM_PKGS+=("${EXIM_LIBS[@]}")

mkdir -p "$DEST/debs"
deb_of() { compgen -G "$DEST/debs/${1}_*.deb" | head -1; }
download() {
    local p=$1
    [ -n "$(deb_of "$p")" ] && return 0
    # The "_apt sandbox" warning when downloading as root into this folder is harmless.
    if ! (cd "$DEST/debs" && apt-get download "$p"); then
        echo "fetch.sh: apt-get download $p failed; updating the package lists once and retrying" >&2
        apt-get update -qq || true
        (cd "$DEST/debs" && apt-get download "$p") \
            || die "cannot download the Debian package $p (apt-get download $p failed): check the apt sources and the network to the Debian mirror"
    fi
    [ -n "$(deb_of "$p")" ] || die "apt-get download $p reported success but no ${p}_*.deb is in $DEST/debs"
}

unpack() {
    local into=$1; shift
    rm -rf "$into"
    mkdir -p "$into"
    for p in "$@"; do
        download "$p"
        dpkg -x "$(deb_of "$p")" "$into" || die "dpkg -x $(deb_of "$p") failed"
    done
}

rm -f "$DEST/.complete"
unpack "$DEST/sendmail" "${SENDMAIL_PKGS[@]}"
unpack "$DEST/exim" "${EXIM_PKGS[@]}"
[ -x "$SENDMAIL_BIN" ] || die "$SENDMAIL_BIN is missing after unpacking sendmail-bin"
[ -x "$EXIM_BIN" ] || die "$EXIM_BIN is missing after unpacking exim4-daemon-light"
chmod g-s "$SENDMAIL_BIN"

# Every library each binary links to must resolve, from the machine or the unpacked ones.
for pair in "$SENDMAIL_BIN:$DEST/sendmail/$LIBDIR" "$EXIM_BIN:$DEST/exim/$LIBDIR"; do
    bin=${pair%%:*} libs=${pair#*:}
    missing=$(LD_LIBRARY_PATH=$libs ldd "$bin" | grep 'not found' || true)
    [ -z "$missing" ] || die "$bin needs libraries that are neither installed nor unpacked:
$missing
add their packages to Tests/mta/fetch.sh"
done
# Without a configuration exim prints its version, then complains and exits non-zero.
answer=$(LD_LIBRARY_PATH=$DEST/exim/$LIBDIR "$EXIM_BIN" -bV </dev/null 2>&1 || true)
grep -q '^Exim version' <<<"$answer" || die "$EXIM_BIN -bV does not answer with its version: $answer"

{
    dpkg-deb -f "$(deb_of sendmail-bin)" Package Version | paste -sd' '
    dpkg-deb -f "$(deb_of exim4-daemon-light)" Package Version | paste -sd' '
} | sed 's/Package: //; s/ Version: / /' > "$DEST/.complete"
echo "mtas: unpacked in $DEST ($(tr '\n' ' ' < "$DEST/.complete"))"
