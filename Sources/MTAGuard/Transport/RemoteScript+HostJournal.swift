import Foundation

extension RemoteScript {
    /// The host's copy of the run (`RunCopy`), written after the lock is taken and before the
    /// first step: the pre-images, then the manifest that names them, each read back by cksum;
    /// then `undone-by` in the run a rollback undoes, and the oldest run folders beyond `keep`
    /// removed. Any failure ends the script before a step runs (`keepfailed`), so nothing is
    /// changed on a host that could not keep its copy. `$HJ` names the folder from then on:
    /// `mtg_report` appends each step's outcome to `$HJ/steps`.
    func keep(_ copy: RunCopy) -> ShellCode {
        let runs = HostJournal.folder
        let base = (runs as NSString).deletingLastPathComponent
        let run = runs + "/" + copy.runID
        var s: ShellCode = """
            # mtg_keepfail PART...: the host could not keep its copy of the run; nothing ran.
            mtg_keepfail() { echo "$M keepfailed"; printf '%s' "$@"; echo; echo "$M endstep"; }
            for mtg_k in \(base) \(runs) \(run); do
              if [ -h "$mtg_k" ] || { [ -e "$mtg_k" ] && [ ! -d "$mtg_k" ]; }; then
                mtg_keepfail "$mtg_k" ' is not a folder; the run cannot be kept on the host, nothing was changed'; exit 1
              fi
            done
            if ! E=$(mkdir -p \(run) 2>&1 && chmod 700 \(base) \(runs) \(run) 2>&1); then
              mtg_keepfail 'cannot keep the run on the host in ' \(runs) ': ' "$E" '; nothing was changed'; exit 1
            fi

            """
        var folders = Set<String>()
        for relative in copy.files.keys.sorted() {
            let folder = ((run + "/" + relative) as NSString).deletingLastPathComponent
            if folders.insert(folder).inserted {
                s += """
                    if ! E=$(mkdir -p \(folder) 2>&1); then
                      mtg_keepfail 'cannot keep the run on the host in ' \(folder) ': ' "$E" '; nothing was changed'; exit 1
                    fi

                    """
            }
        }
        let files = copy.files.sorted { $0.key < $1.key }.map { (run + "/" + $0.key, $0.value) } + [(run + "/manifest.json", copy.manifest)]
        for (path, bytes) in files {
            s += "if ! E=$( { :\n"
            for chunk in Self.printfChunks(bytes) { s += "printf \(chunk)\n" }
            s += """
                } | cat 2>&1 > \(path) ) || [ "$(mtg_sum \(path))" != \(POSIXChecksum.line(bytes)) ]; then
                  mtg_keepfail 'cannot keep the run on the host: writing ' \(path) ' failed: ' "$E" '; nothing was changed'; exit 1
                fi

                """
        }
        s += """
            if ! E=$( { : > \(run + "/steps"); } 2>&1 ); then
              mtg_keepfail 'cannot keep the run on the host: ' "$E" '; nothing was changed'; exit 1
            fi
            HJ=\(run)

            """
        if let undone = copy.undoes, HostJournal.isRunID(undone) {
            s += "if [ -d \(runs + "/" + undone) ]; then echo \(copy.runID) > \(runs + "/" + undone + "/undone-by"); fi\n"
        }
        // The newest `keep` folders stay (run ids sort by time); this run's always does.
        s += """
            mtg_n=1
            find \(runs + "/.") ! -name . -prune -print | sed 's|.*/||' | sort -r | while IFS= read -r mtg_r; do
              case $mtg_r in .*|*[!A-Za-z0-9._-]*|\(copy.runID)) continue;; esac
              mtg_n=$((mtg_n + 1))
              if [ "$mtg_n" -gt \(max(1, copy.keep)) ]; then rm -rf \(runs)/"$mtg_r"; fi
            done

            """
        return s
    }
}
