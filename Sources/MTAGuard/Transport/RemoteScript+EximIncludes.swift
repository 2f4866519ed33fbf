extension RemoteScript {
    /// `mtg_exim_includes FILE`: every file FILE's `.include` / `.include_if_exists` lines name,
    /// and theirs in turn, breadth first, each read as `mtg_file` reads one after an
    /// `incfile PATH` line (`EximIncludes`: the same rules and bounds). awk only prints each
    /// line's kind and name (`i NAME` or `e NAME`); the names stay in variables and reach
    /// commands as quoted words, never as code. A relative `.include` name is taken in the
    /// including file's folder; a relative `.include_if_exists` one, or a name with a `.`, `..`
    /// or empty part, is not read (the judgement says why). A bound that stops the reading is
    /// said with `incbound depth FILE` or `incbound count FILE`.
    static let eximIncludes: ShellCode = """
        mtg_exim_names() {
          awk '{
            sub(/^[ \\t]+/, ""); k = ""
            if ($0 ~ /^\\.include_if_exists[ \\t]/) { k = "e"; s = substr($0, 19) }
            else if ($0 ~ /^\\.include[ \\t]/) { k = "i"; s = substr($0, 9) }
            if (k == "") next
            sub(/^[ \\t]+/, "", s); sub(/[ \\t\\r]+$/, "", s)
            if (length(s) >= 2 && s ~ /^".*"$/) s = substr(s, 2, length(s) - 2)
            if (s != "") print k " " s
          }' "$1" 2>/dev/null
        }
        mtg_exim_includes() {
          mtg_nl='
        '
          mtg_ilevel=$1; mtg_iseen=$1; mtg_idepth=0; mtg_icount=0
          while [ -n "$mtg_ilevel" ]; do
            mtg_idepth=$((mtg_idepth + 1)); mtg_inext=
            while IFS= read -r mtg_if; do
              if [ ! -f "$mtg_if" ] || [ ! -r "$mtg_if" ] || [ -h "$mtg_if" ]; then continue; fi
              mtg_idir=${mtg_if%/*}
              mtg_inames=$(mtg_exim_names "$mtg_if")
              while IFS= read -r mtg_il; do
                if [ -z "$mtg_il" ]; then continue; fi
                mtg_ik=${mtg_il%% *}; mtg_in=${mtg_il#* }
                case $mtg_in in
                  /*) ;;
                  *) if [ "$mtg_ik" != i ]; then continue; fi; mtg_in=$mtg_idir/$mtg_in;;
                esac
                case $mtg_in/ in */./*|*/../*|*//*) continue;; esac
                case $mtg_nl$mtg_iseen$mtg_nl in *"$mtg_nl$mtg_in$mtg_nl"*) continue;; esac
                mtg_iseen=$mtg_iseen$mtg_nl$mtg_in
                if [ "$mtg_idepth" -gt \(EximIncludes.maximumDepth) ]; then printf '%s incbound depth %s\\n' "$M" "$mtg_if"; continue; fi
                mtg_icount=$((mtg_icount + 1))
                if [ "$mtg_icount" -gt \(EximIncludes.maximumFiles) ]; then printf '%s incbound count %s\\n' "$M" "$mtg_if"; continue; fi
                printf '%s incfile %s\\n' "$M" "$mtg_in"
                mtg_file "$mtg_in"
                mtg_inext=$mtg_inext$mtg_in$mtg_nl
              done <<MTG_NAMES
        $mtg_inames
        MTG_NAMES
            done <<MTG_LEVEL
        $mtg_ilevel
        MTG_LEVEL
            mtg_ilevel=$mtg_inext
          done
        }

        """
}

extension RemoteScript {
    /// The path of an `incfile` line, checked as `EximIncludes.checked` checks one.
    static func includedPath(_ arg: String, host: String) throws -> String {
        guard let path = EximIncludes.checked(arg) else {
            throw MTAGuardError(.hostProtocol, host: host, "bad facts output: incfile \(EximIncludes.quoted(arg.trimmed(200)))")
        }
        return path
    }

    /// What an `mtg_file` report inside an `incfile` record says the host could not give, in
    /// the words the host's own files get; nil for the reports of a file read (or absent).
    static func includeProblem(_ word: String, _ arg: String, path: String, host: String) throws -> String? {
        switch word {
        case "link": return "is a symbolic link; mtaguard does not read an included file through a link"
        case "notfile": return "is not a regular file"
        case "denied", "linked": return try unreached(word, arg, path: path, folder: false, host: host).message
        case "unreadable": return Unreached.unreadable.error(host: host, file: path).message
        case "readerror": return "could not be read: \(arg.isEmpty ? "od failed" : arg.trimmed(200))"
        default: return nil
        }
    }
}

extension EximIncludeFacts {
    /// An `incbound depth|count FILE` line.
    mutating func bound(_ arg: String, host: String) throws {
        let parts = arg.split(separator: " ", maxSplits: 1).map(String.init)
        guard parts.count == 2, let file = EximIncludes.checked(parts[1]), ["depth", "count"].contains(parts[0]) else {
            throw MTAGuardError(.hostProtocol, host: host, "bad facts output: incbound \(EximIncludes.quoted(arg.trimmed(200)))")
        }
        bounded[file] = parts[0] == "depth"
            ? "its includes are \(EximIncludes.maximumDepth + 1) deep (mtaguard reads at most \(EximIncludes.maximumDepth))"
            : "the configuration includes more than \(EximIncludes.maximumFiles) files (mtaguard reads at most \(EximIncludes.maximumFiles))"
    }
}
