extension RemoteScript {
    /// `mtg_smaccess CF`: the files CF names where sendmail decides relaying, each after a
    /// `smref PATH` line, read as `mtg_pfread` reads a postfix table (bounded, with the compiled
    /// file's state). awk picks them as `SendmailAccessFacts.references` does: the source of
    /// the map the last `Kaccess` line declares (for a class answered from a compiled file, the
    /// file without its suffix), then the files of `FR` / `F{R}` lines; only absolute paths
    /// without `.` or `..` components, at most `SendmailAccessFacts.maxFiles`. A name crosses
    /// only as a variable in double quotes: it is data, never code. Needs
    /// `postfixTableReader`'s functions.
    static let sendmailAccessReader: ShellCode = """
        mtg_smaccess() {
          if [ ! -f "$1" ] || [ ! -r "$1" ]; then return 0; fi
          mtg_awk='awk'
          if command -v nawk >/dev/null 2>&1; then mtg_awk='nawk'; fi
          $mtg_awk '
            function ok(p) { return p ~ /^\\// && p !~ /\\/\\.\\.?(\\/|$)/ && length(p) <= 1024 }
            /^#/ { next }
            /^K/ {
              k = split(substr($0, 2), w, /[ \\t]+/); o = 1
              if (w[1] == "") o = 2
              if (w[o] != "access" || k < o + 2) next
              c = tolower(w[o + 1]); mf = ""
              for (j = o + 2; j <= k; j++) if (w[j] !~ /^-/) { mf = w[j]; break }
              mc = c; mp = mf; next
            }
            /^F(R|\\{R\\})/ {
              r = substr($0, 2); if (r ~ /^\\{R\\}/) r = substr(r, 4); else r = substr(r, 2)
              k = split(r, w, /[ \\t]+/); j = 1
              if (w[1] == "") j = 2
              while (j <= k && w[j] ~ /^-/) { g = substr(w[j], 3); if (g != "") { w[j] = g; break }; j++ }
              if (j <= k && w[j] !~ /^\\|/ && ok(w[j])) F[++nf] = w[j]
            }
            END {
              if (mp != "" && ok(mp)) {
                s = ""
                if (mc == "hash" || mc == "btree" || mc == "implicit") s = ".db"
                else if (mc == "cdb") s = ".cdb"
                else if (mc == "dbm") s = ".pag"
                else if (mc == "text") s = "-"
                if (s != "") {
                  if (s != "-" && length(mp) > length(s) + 1 && substr(mp, length(mp) - length(s) + 1) == s) mp = substr(mp, 1, length(mp) - length(s))
                  print s, mp; seen[mp] = 1
                }
              }
              for (i = 1; i <= nf; i++) if (!seen[F[i]]++) print "-", F[i]
            }' "$1" 2>/dev/null | head -n \(SendmailAccessFacts.maxFiles) | while read -r mtg_x mtg_f; do
            echo "$M smref $mtg_f"
            mtg_pfread "$mtg_x" "$mtg_f"
          done
        }

        """
}
