extension RemoteScript {
    /// `mtg_pftables MAINCF`: every file MAINCF names where relaying is decided, read as
    /// `mtg_file` reads one, each after a `pfref PATH` line, and for a compiled table type a
    /// `compiled absent|current MODE|stale MODE|unknown TEXT` line about its compiled file.
    /// awk picks the names (the table after each `check_…_access` word, mynetworks entries that
    /// are files or tables, `$config_directory` expanded; `PostfixTableFacts.references` reads
    /// the same): only absolute paths without `.` or `..` components, at most
    /// `PostfixTableFacts.maxFiles`, each read only up to `PostfixTableFacts.maxBytes`. A name
    /// crosses only as a variable in double quotes: it is data, never code.
    /// Solaris's old awk has no functions: nawk is used where there is one.
    static let postfixTableReader: ShellCode = """
        mtg_pfcompiled() {
          if [ ! -e "$2" ]; then echo "$M compiled absent"; return; fi
          # shellcheck disable=SC2012
          mtg_cm=$(ls -ln "$2" 2>/dev/null | { read -r mtg_a _; echo "$mtg_a"; })
          if ! mtg_cn=$(find "$1" -prune -newer "$2" 2>&1); then
            echo "$M compiled unknown $(printf '%s\\n' "$mtg_cn" | head -n 1)"; return
          fi
          if [ -n "$mtg_cn" ]; then echo "$M compiled stale $mtg_cm"; else echo "$M compiled current $mtg_cm"; fi
        }
        # mtg_pfread SUFFIX FILE: FILE as mtg_file reads it, at most PostfixTableFacts.maxBytes,
        # then its compiled file FILE.SUFFIX (none for -).
        mtg_pfread() {
          if [ -f "$2" ] && [ -r "$2" ] && [ ! -h "$2" ]; then
            mtg_n=$(wc -c <"$2" 2>/dev/null | tr -d ' ')
            if [ "${mtg_n:-0}" -gt \(PostfixTableFacts.maxBytes) ]; then echo "$M toolarge $mtg_n"; return; fi
          fi
          mtg_file "$2"
          case $1 in -) ;; *) mtg_pfcompiled "$2" "$2$1";; esac
        }
        mtg_pftables() {
          if [ ! -f "$1" ] || [ ! -r "$1" ]; then return 0; fi
          mtg_awk='awk'
          if command -v nawk >/dev/null 2>&1; then mtg_awk='nawk'; fi
          $mtg_awk -v cfg="${1%/*}" '
            function ref(t, file,   typ, p, s) {
              while (t ~ /^proxy:/) sub(/^proxy:/, "", t)
              if (t ~ /^\\//) { if (!file) return; p = t; s = "-" }
              else {
                if (t !~ /^[a-z0-9_]+:/) return
                typ = t; sub(/:.*/, "", typ); p = t; sub(/^[^:]*:/, "", p)
                if (typ == "hash" || typ == "btree") s = ".db"
                else if (typ == "lmdb") s = ".lmdb"
                else if (typ == "cdb") s = ".cdb"
                else if (typ == "dbm") s = ".pag"
                else if (typ == "cidr" || typ == "pcre" || typ == "regexp" || typ == "texthash") s = "-"
                else return
              }
              if (p !~ /^\\// || p ~ /\\/\\.\\.?(\\/|$)/ || length(p) > 1024 || seen[p]++) return
              print s, p
            }
            /^[ \\t]*#/ || /^[ \\t]*$/ { next }
            /^[ \\t]/ { if (n) L[n] = L[n] $0; next }
            { L[++n] = $0 }
            END {
              cd = cfg
              for (i = 1; i <= n; i++) if (L[i] ~ /^config_directory[ \\t]*=[ \\t]*\\//) {
                v = L[i]; sub(/^[^=]*=[ \\t]*/, "", v); sub(/[ \\t]+$/, "", v); cd = v
              }
              for (i = 1; i <= n; i++) {
                if (L[i] !~ /=/) continue
                name = L[i]; sub(/[ \\t]*=.*/, "", name)
                v = L[i]; sub(/^[^=]*=/, "", v)
                gsub(/\\$\\{config_directory\\}|\\$\\(config_directory\\)|\\$config_directory/, cd, v)
                k = split(v, w, /[ \\t\\r,]+/); prev = ""; depth = 0
                for (j = 1; j <= k; j++) {
                  t = w[j]; if (t == "") continue
                  o = t; d0 = depth; depth += gsub(/\\{/, "{", o); depth -= gsub(/\\}/, "}", o)
                  if (d0 > 0 || depth > 0) { prev = t; continue }
                  if (prev ~ /^check_[a-z_]*_access$/) ref(t, 0)
                  else if (name == "mynetworks") ref(t, 1)
                  prev = t
                }
              }
            }' "$1" 2>/dev/null | head -n \(PostfixTableFacts.maxFiles) | while read -r mtg_x mtg_f; do
            echo "$M pfref $mtg_f"
            mtg_pfread "$mtg_x" "$mtg_f"
          done
        }

        """

    /// `mtg_pfdefaults`: the host's own postfix defaults for the relay parameters
    /// (`PostfixHostDefaults.names`), as `pfdefault NAME = VALUE` lines after a `pfdefaults`
    /// line; `pfdefaults none` where there is no postconf, `pfdefaults failed STATUS TEXT`
    /// where it failed. postconf is looked for on PATH and where postfix installs it (a login's
    /// PATH often lacks /usr/sbin). Its lines are data: printed, never run.
    static let postfixDefaultsProbe: ShellCode = """
        mtg_pfdefaults() {
          mtg_pc=$(command -v postconf 2>/dev/null)
          if [ -z "$mtg_pc" ]; then
            for mtg_p in /usr/sbin/postconf /usr/local/sbin/postconf /opt/postfix/sbin/postconf; do
              if [ -x "$mtg_p" ]; then mtg_pc=$mtg_p; break; fi
            done
          fi
          if [ -z "$mtg_pc" ]; then echo "$M pfdefaults none"; return 0; fi
          if mtg_pd=$("$mtg_pc" -d \(words: PostfixHostDefaults.names) 2>&1 </dev/null); then
            echo "$M pfdefaults"
            printf '%s\\n' "$mtg_pd" | grep ' =' | head -n 20 | cut -c1-\(PostfixHostDefaults.maxValue + 64) | while IFS= read -r mtg_l; do
              echo "$M pfdefault $mtg_l"
            done
          else
            echo "$M pfdefaults failed $? $(printf '%s\\n' "$mtg_pd" | head -n 1 | cut -c1-200)"
          fi
        }

        """
}
