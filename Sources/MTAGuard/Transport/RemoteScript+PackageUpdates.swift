import Foundation

/// The version probe's question to the host's package manager: is a newer package than the
/// installed one available? Each function prints the answer words `PackageUpdate(words:)`
/// reads: `candidate TOOL VERSION`, `none TOOL`, `failed|nocache TOOL STATUS OUTPUT…`,
/// `timeout TOOL SECONDS`, `nocandidate TOOL`, `notool TOOLS…`. Every call is bounded by
/// `timeout(1)` where the host has it, and answered from the tool's cache where the tool
/// allows it (no network, no lock on the repositories' metadata).
extension RemoteScript {
    /// Seconds one package manager call may take (`MTAGUARD_PACKAGE_TIMEOUT`, 1 to 600; 30).
    static var defaultPackageBound: Int {
        let given = ProcessInfo.processInfo.environment["MTAGUARD_PACKAGE_TIMEOUT"].flatMap { Int($0) }
        return given.map { min(max($0, 1), 600) } ?? 30
    }

    /// The shell functions `mtg_apt NAME`, `mtg_rpmupdate NAME` and `mtg_ask CMD…`.
    static func packageUpdateFunctions(bound: Int) -> ShellCode {
        """
        MTG_BOUND=\(bound)
        # A timeout(1) that takes -k (GNU coreutils; not every busybox): else calls are unbounded.
        if timeout -k 1 5 true >/dev/null 2>&1; then MTG_TO=yes; else MTG_TO=; fi
        # mtg_ask CMD...: CMD's output (its errors too) in $mtg_o, its exit status in $mtg_s.
        # At the bound CMD gets SIGTERM, and SIGKILL 2 s later if it is still there (a
        # session whose SIGTERM is blocked); timeout then exits 124 or 137.
        mtg_ask() {
          if [ -n "$MTG_TO" ]; then mtg_o=$(timeout -k 2 "$MTG_BOUND" "$@" 2>&1 </dev/null); else mtg_o=$("$@" 2>&1 </dev/null); fi
          mtg_s=$?
        }
        # $mtg_o on one line, at most 300 characters.
        mtg_text() { printf '%s' "$mtg_o" | tr '\\n\\t' '  ' | cut -c1-300; }
        # mtg_failed TOOL: why TOOL gave no answer: stopped at the bound, no cache, or an error.
        mtg_failed() {
          if [ -n "$MTG_TO" ] && { [ "$mtg_s" -eq 124 ] || [ "$mtg_s" -eq 137 ]; }; then echo "timeout $1 $MTG_BOUND"; return; fi
          case $mtg_o in
          *"no cache"*|*"no local cache"*|*"missing cache"*|*"Cache-only"*) echo "nocache $1 $mtg_s $(mtg_text)";;
          *) echo "failed $1 $mtg_s $(mtg_text)";;
          esac
        }
        # mtg_checkupdate TOOL NAME OPTION...: dnf's and yum's check-update exit 100 with a
        # NAME.ARCH VERSION REPO line when an update is available, 0 when none, 1 on an error.
        mtg_checkupdate() {
          mtg_t=$1; mtg_n=$2; shift 2
          mtg_ask "$mtg_t" "$@" check-update "$mtg_n"
          case $mtg_s in
          0) echo "none $mtg_t";;
          100)
            mtg_c=$(printf '%s\\n' "$mtg_o" | while read -r mtg_a mtg_b _; do case $mtg_a in "$mtg_n".*) echo "$mtg_b"; break;; esac; done)
            if [ -n "$mtg_c" ]; then echo "candidate $mtg_t $mtg_c"; else echo "failed $mtg_t 100 $(mtg_text)"; fi;;
          *) mtg_failed "$mtg_t";;
          esac
        }
        # mtg_zypper NAME: zypper list-updates' table (S | Repository | Name | Current Version |
        # Available Version | Arch) or "No updates found."; 106: repositories skipped (no cache).
        mtg_zypper() {
          mtg_ask zypper --non-interactive --no-refresh list-updates
          case $mtg_s in
          0)
            mtg_l=$(printf '%s\\n' "$mtg_o" | sed 's/ *| */|/g')
            mtg_c=$(printf '%s\\n' "$mtg_l" | while IFS='|' read -r _ _ mtg_a _ mtg_b _; do
              if [ "$mtg_a" = "$1" ]; then echo "$mtg_b"; break; fi
            done)
            if [ -n "$mtg_c" ]; then echo "candidate zypper $mtg_c"
            elif printf '%s\\n' "$mtg_l" | grep -e '^No updates found' -e '^S|Repository|Name|Current Version|Available Version|' >/dev/null; then echo "none zypper"
            else echo "failed zypper 0 $(mtg_text)"; fi;;
          106) echo "nocache zypper 106 $(mtg_text)";;
          *) mtg_failed zypper;;
          esac
        }
        # mtg_rpmupdate NAME: the rpm host's package manager: dnf, else yum, else zypper.
        mtg_rpmupdate() {
          if command -v dnf >/dev/null 2>&1; then mtg_checkupdate dnf "$1" -q --cacheonly
          elif command -v yum >/dev/null 2>&1; then mtg_checkupdate yum "$1" -q -C
          elif command -v zypper >/dev/null 2>&1; then mtg_zypper "$1"
          else echo "notool dnf yum zypper"; fi
        }
        # mtg_apt NAME: apt-cache policy's Candidate, where it exits 0, names one, and its
        # version table has a source besides /var/lib/dpkg/status (else apt has no lists).
        mtg_apt() {
          if ! command -v apt-cache >/dev/null 2>&1; then echo "notool apt-cache"; return; fi
          mtg_ask apt-cache policy "$1"
          if [ "$mtg_s" -ne 0 ]; then mtg_failed apt-cache; return; fi
          mtg_c=$(printf '%s\\n' "$mtg_o" | sed -n 's/^ *Candidate: *//p' | head -1)
          case $mtg_c in
          ''|'(none)') echo "nocandidate apt-cache";;
          *)
            if printf '%s\\n' "$mtg_o" | grep '^ *[0-9][0-9]* [^ ]' | grep -v ' /var/lib/dpkg/status$' >/dev/null; then
              echo "candidate apt-cache $mtg_c"
            else
              echo "nocache apt-cache 0 $(mtg_text)"
            fi;;
          esac
        }

        """
    }
}
