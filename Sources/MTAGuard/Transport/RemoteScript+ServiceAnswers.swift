/// The service probe's answers, three-valued: each prints `yes`, `no` or `unknown`. A status
/// command that failed for another reason than "not running" (no such service, a login that
/// may not ask, a tool that broke) is `unknown`, never `no`: an MTA said stopped must be one
/// its manager said is stopped.
extension RemoteScript {
    static let serviceAnswers: ShellCode = """
        # mtg_ask ANSWER ARG...: ANSWER's word when MTG_PROBE=yes; else no service is asked
        # about (the service manager is still named) and the word is unknown.
        mtg_ask() { if [ "$MTG_PROBE" != yes ]; then echo unknown; else "$@"; fi; }
        # mtg_lsb CMD...: an LSB status action or systemctl is-active. Exit 0 runs, exit 3 is
        # "not running"; 4 (no such service, status unknown), 1 and 2 (a script that failed,
        # or one the login may not run) tell nothing.
        mtg_lsb() {
          mtg_q "$@"
          case $? in 0) echo yes;; 3) echo no;; *) echo unknown;; esac
        }
        # mtg_enabled UNIT: systemctl is-enabled's word. enabled starts at boot; disabled and
        # masked do not; static, indirect, generated, an error: unknown.
        mtg_enabled() {
          case $(systemctl is-enabled "$1" 2>/dev/null </dev/null) in
          enabled|enabled-runtime) echo yes;;
          disabled|masked|masked-runtime) echo no;;
          *) echo unknown;;
          esac
        }
        # mtg_ps NAME: whether a process NAME is in ps -e; unknown when ps itself failed.
        mtg_ps() {
          mtg_o=$(ps -e 2>/dev/null) || { echo unknown; return; }
          if printf '%s\\n' "$mtg_o" | grep -w "$1" >/dev/null; then echo yes; else echo no; fi
        }
        # mtg_src NAME: the AIX subsystem's status as lssrc -s says it: active, inoperative.
        mtg_src() {
          mtg_o=$(lssrc -s "$1" 2>/dev/null </dev/null) || { echo unknown; return; }
          if printf '%s\\n' "$mtg_o" | grep -w active >/dev/null; then echo yes
          elif printf '%s\\n' "$mtg_o" | grep -w inoperative >/dev/null; then echo no
          else echo unknown; fi
        }
        # mtg_postfix: postfix status, which exits 0 when postfix runs and 1 when it does not,
        # but also 1 for a login that is not root ("the postfix command is reserved for the
        # superuser"), and says which only to a terminal or syslog: its 1 is believed from root.
        mtg_postfix() {
          if mtg_q postfix status; then echo yes; return; fi
          case $(id 2>/dev/null) in "uid=0("*) echo no;; *) echo unknown;; esac
        }

        """
}
