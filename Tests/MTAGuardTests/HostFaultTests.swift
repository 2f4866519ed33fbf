import Foundation
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// Faults on a host, each struck during a real `apply` over two lab hosts: `faulty`, where the
/// fault is, and `healthy`, which must be changed all the same. Every test then checks the
/// faulty host's main.cf byte for byte, the reason in the output, the exit code (3: partly done),
/// that no temporary file and no host lock are left (seen from inside the host's namespace),
/// and that once the fault is gone a rerun converges and the next one has nothing to do.
@Suite struct HostFaultTests {
    static let original = try! Repo.fixtureData("postfix/main.cf.debian")
    static let fixed = original + Data("disable_vrfy_command = yes\n".utf8)
    static let hosts = ["faulty", "healthy"]

    // MARK: The faults

    @Test func rollbackCutOffMidRestoreIsInDoubtAndFinishesOnRerun() throws {
        try withLab { lab, backups in
            let apply = try run(lab, backups, ["apply", "--yes"])
            #expect(apply.status == 0, "\(apply)")
            let id = try #require(runID(apply))
            // The host's sync (run right after the restore's rename) ends this session's
            // connection once: the restore is done on the host, but mtaguard cannot know it.
            let host = lab.host("faulty")
            let flag = host.directory + "/cut-once"
            FileManager.default.createFile(atPath: flag, contents: nil)
            let sync = """
                #!/bin/sh
                if [ -e '\(flag)' ]; then
                  rm -f '\(flag)'
                  p=$$
                  while [ "$p" -gt 1 ]; do
                    case $(ps -o comm= -p "$p") in sshd*) kill -KILL "$p"; sleep 1; exit 0;; esac
                    p=$(ps -o ppid= -p "$p" | tr -d ' ')
                  done
                fi
                exec /bin/sync "$@"

                """
            try Data(sync.utf8).write(to: URL(fileURLWithPath: host.shims + "/sync"))
            chmod(host.shims + "/sync", 0o755)

            let cut = try mtaguard(["rollback", id, "--ssh-config", lab.sshConfigPath, "--connect-timeout", "60"], backups: backups.path)
            #expect(cut.status != 0, "\(cut)")
            #expect(try mainCF(lab, "faulty") == Self.original, "the restore's rename happened on the host")
            #expect(try mainCF(lab, "healthy") == Self.original)
            let rollbackID = try #require(runID(cut), "\(cut)")
            let record = try journal(backups, cut, "faulty")
            #expect(record.files == ["in-doubt"], "a restore cut off mid-step is in doubt, not failed: \(record)")
            // The host's script, its connection gone, ends on the next write and frees the lock.
            #expect(waitUntil(seconds: 20) { (try? lab.inNamespace("faulty", "test ! -e /var/run/mtaguard.lock"))?.status == 0 })

            // The same rollback again finishes it: the file is read, found at its pre-image, and
            // the run is recorded as undone.
            let again = try mtaguard(["rollback", id, "--ssh-config", lab.sshConfigPath, "--connect-timeout", "60"], backups: backups.path)
            #expect(again.status == 0, "\(again)")
            #expect(try mainCF(lab, "faulty") == Self.original)
            // And a rollback of the cut-off rollback finds its in-doubt file and puts the
            // post-image back.
            let redo = try mtaguard(["rollback", rollbackID, "--ssh-config", lab.sshConfigPath, "--connect-timeout", "60"], backups: backups.path)
            #expect(redo.status == 0, "\(redo)")
            #expect(try mainCF(lab, "faulty") == Self.fixed, "\(redo)")
            FaultLedger.record(.fault, "rollback cut off mid-restore, then run again", hosts: 2,
                               survived: try mainCF(lab, "faulty") == Self.fixed ? 2 : 1, bytesLost: 0)
        }
    }

    @Test func fullFileSystemLeavesTheOriginal() throws {
        // A small file system of its own over /etc/postfix, holding the host's files, then filled.
        try namespaceFault("file system full on the host", reason: "No space left on device", inject: """
            mount -t tmpfs -o size=512k,mode=0755 mtaguard-full /etc/postfix
            cp -a "$HOSTDIR/root/etc/postfix/." /etc/postfix/
            dd if=/dev/zero of=/etc/postfix/zz-filler bs=4096 2>/dev/null || true
            if printf x >> /etc/postfix/.probe 2>/dev/null; then echo 'the file system still has room' >&2; exit 1; fi
            rm -f /etc/postfix/.probe
            """, remove: "rm -f /etc/postfix/zz-filler")
    }

    @Test func readOnlyFileSystemLeavesTheOriginal() throws {
        try namespaceFault("read-only file system on the host", reason: "read-only file system",
                           inject: "mount -o remount,bind,ro /etc/postfix", remove: "mount -o remount,bind,rw /etc/postfix")
    }

    @Test func permissionDeniedForANonRootLoginWithoutBecome() throws {
        try withLab(nonRootUser: true) { lab, backups in
            let inv = try TempDir("fault-inv")
            defer { inv.remove() }
            // The faulty host is reached as the lab's non-root user; main.cf is readable (0644), so
            // it is judged and planned, but nothing there may be written without --become.
            let inventory = try String(contentsOfFile: lab.inventoryPath, encoding: .utf8).split(separator: "\n").map {
                $0.hasPrefix("faulty ") ? $0.replacingOccurrences(of: "ansible_user=root", with: "ansible_user=\(SSHLab.nonRootUser)") : String($0)
            }.joined(separator: "\n") + "\n"
            let path = try inv.write("hosts.ini", inventory)

            try applyUnderFault(lab, backups, "permission denied (non-root login, no become)",
                                outcomes: ["failed", "rolled-back"], reason: "permission denied", inventory: path)

            try expectConverges(lab, backups, ["--become"], inventory: path)
        }
    }

    @Test func validatorRejectionKeepsTheNewFileOffTheHost() throws {
        try withLab { lab, backups in
            // srv-005.yaml has postfix check the new main.cf in a staging folder before the replace.
            try shimPostfix(lab, "faulty", check: "echo 'postfix/postfix-script: fatal: main.cf: rejected by the fault test' >&2; exit 1")
            let before = try hostFile(lab, "faulty")

            let apply = try applyUnderFault(lab, backups, "validator rejects the new main.cf", outcomes: ["failed"],
                                            reason: "validator rejected the new /etc/postfix/main.cf", files: ["failed"])
            #expect(apply.stdout.contains("rejected by the fault test"), "\(apply)")
            // Validated in the staging folder, refused, never installed, nothing reloaded, and
            // neither the temporary file nor the staging folder is left.
            let log = commands(lab, "faulty")
            #expect(log.map(Self.staged) == ["postfix check (staged)"], "\(log)")
            #expect(try hostFile(lab, "faulty") == before)
            let left = try FileManager.default.contentsOfDirectory(atPath: lab.host("faulty").root + "/etc/postfix")
            #expect(!left.contains { $0.contains("mtaguard") }, "\(left)")

            try FileManager.default.removeItem(atPath: lab.host("faulty").shims + "/postfix")
            try expectConverges(lab, backups)
        }
    }

    @Test func failedReloadRollsTheHostBackAndReloadsTheOriginal() throws {
        try withLab { lab, backups in
            // postfix runs, accepts the file, and refuses to reload with it (not with the original).
            try shimPostfix(lab, "faulty", running: true, reload: """
                if grep -q '^disable_vrfy_command = yes' /etc/postfix/main.cf; then
                  echo 'postfix/postfix-script: fatal: reload refused by the fault test' >&2; exit 1
                fi
                exit 0
                """)

            let apply = try applyUnderFault(lab, backups, "reload fails after the replace", outcomes: ["rolled-back"],
                                            reason: "postfix reload exited 1", files: ["restored"])
            #expect(apply.stdout.contains("reload refused by the fault test"), "\(apply)")
            // apply: validate, probe, reload (refused); rollback: the original back, then postfix
            // reloaded again so that what runs is what the file says (a failed reload or restart
            // may have half happened).
            #expect(commands(lab, "faulty").map(Self.staged) == [
                "postfix check (staged)", "postfix status", "postfix reload",
                "postfix status", "postfix reload",
            ])

            try FileManager.default.removeItem(atPath: lab.host("faulty").shims + "/postfix")
            try expectConverges(lab, backups)
        }
    }

    @Test func connectionDropDuringReloadIsRolledBackLater() throws {
        try withLab { lab, backups in
            // The reload kills every sshd process of the host (its listener and the sessions under
            // it), then takes a moment: the connection ends after main.cf was renamed into place
            // and before the reload finished, and the automatic rollback finds no sshd.
            try shimPostfix(lab, "faulty", running: true, reload: """
                P=$(ps -e -o pid= -o ppid= -o comm= | awk -v l=\(lab.host("faulty").sshdPID) '
                  { up[$1] = $2; name[$1] = $3 }
                  END {
                    want[l] = 1
                    do { more = 0; for (p in up) if (!(p in want) && (up[p] in want)) { want[p] = 1; more = 1 } } while (more)
                    for (p in want) if (name[p] == "sshd") print p
                  }')
                kill -KILL $P
                sleep 2
                exit 0
                """)

            let apply = try run(lab, backups, ["apply", "--yes"])
            expectReported(apply, outcomes: ["rollback-failed"], reason: "connection")
            // Struck after the rename: the post-image is in place, and the journal says so.
            #expect(try hostFile(lab, "faulty") == Self.fixed)
            let healthy = try mainCF(lab, "healthy")
            #expect(healthy == Self.fixed)
            let id = try #require(runID(apply), "\(apply)")
            let record = try journal(backups, apply, "faulty")
            #expect(record.outcome == "rollback-failed" && record.files == ["replaced"], "\(record)")
            let runs = try mtaguard(["runs", "--backups", backups.path], backups: backups.path)
            #expect(runs.stdout.contains(id) && runs.stdout.contains("faulty=rollback-failed"), "\(runs)")

            // The script cut off on the host finishes on its own and must leave no lock.
            let lock = lab.host("faulty").directory + "/run/mtaguard.lock"
            #expect(waitUntil(seconds: 20) { !FileManager.default.fileExists(atPath: lock) }, "the host lock was left behind")
            try lab.restartSSHD("faulty")
            try FileManager.default.removeItem(atPath: lab.host("faulty").shims + "/postfix")
            try expectNothingLeft(lab)

            let rollback = try mtaguard(
                ["rollback", id, "--limit", "faulty", "--ssh-config", lab.sshConfigPath, "--connect-timeout", "60",
                 "--backups", backups.path], backups: backups.path)
            #expect(rollback.status == 0, "\(rollback)")
            let faulty = try mainCF(lab, "faulty")
            #expect(faulty == Self.original)
            #expect(try mainCF(lab, "healthy") == Self.fixed)
            try expectNothingLeft(lab)
            FaultLedger.record(.fault, "SSH connection drops mid-apply (rolled back later)", hosts: 2,
                               survived: survivors(faulty, healthy), bytesLost: lost(faulty, healthy))

            try expectConverges(lab, backups)
        }
    }

    // MARK: Helpers

    /// `faulty` and `healthy`, each with this machine's /etc/postfix (so that `postfix check`
    /// judges for real) and the original main.cf.
    func makeLab(nonRootUser: Bool = false) throws -> SSHLab {
        let lab = try SSHLab.start(hosts: Self.hosts, nonRootUser: nonRootUser)
        do {
            for name in Self.hosts {
                try PostfixDefaults.populate(lab.host(name).root + "/etc/postfix", main: Self.original)
            }
        } catch {
            lab.stop()
            throw error
        }
        return lab
    }

    /// A fault on /etc/postfix's file system, made by `inject` in the faulty host's namespace
    /// (with `$HOSTDIR` its folder) before the apply, and taken away by `remove` before the rerun.
    /// Nothing is written there, so the journal says the file failed.
    func namespaceFault(_ fault: String, reason: String, inject: String, remove: String,
                        sourceLocation: SourceLocation = #_sourceLocation) throws {
        try withLab { lab, backups in
            let prelude = "set -e\nHOSTDIR='\(lab.host("faulty").directory)'\n"
            let injected = try lab.inNamespace("faulty", prelude + inject)
            try #require(injected.status == 0, "\(injected)", sourceLocation: sourceLocation)
            try applyUnderFault(lab, backups, fault, outcomes: ["failed", "rolled-back"], reason: reason, files: ["failed"],
                                sourceLocation: sourceLocation)
            let removed = try lab.inNamespace("faulty", prelude + remove)
            #expect(removed.status == 0, "\(removed)", sourceLocation: sourceLocation)
            try expectConverges(lab, backups, sourceLocation: sourceLocation)
        }
    }

    /// Runs `body` on a fresh lab and backups folder; both go however it ends.
    func withLab(nonRootUser: Bool = false, _ body: (SSHLab, TempDir) throws -> Void) throws {
        let lab = try makeLab(nonRootUser: nonRootUser)
        defer { lab.stop() }
        let backups = try TempDir("host-fault")
        defer { backups.remove() }
        try body(lab, backups)
    }

    func run(_ lab: SSHLab, _ backups: TempDir, _ args: [String], inventory: String? = nil) throws -> CommandResult {
        try mtaguard(
            args + ["--item", "SRV-005", "-i", inventory ?? lab.inventoryPath, "--ssh-config", lab.sshConfigPath,
                    "--connect-timeout", "60"],
            backups: backups.path)
    }

    /// A `postfix` first on the host's PATH that records its command line. `status` says the
    /// MTA runs when `running`; `check` and `reload` run the given shell code; everything else
    /// is the real postfix.
    func shimPostfix(_ lab: SSHLab, _ name: String, running: Bool = false, check: String? = nil, reload: String? = nil) throws {
        let host = lab.host(name)
        let path = host.shims + "/postfix"
        var cases = running ? "status) exit 0;;\n" : ""
        for (word, code) in [("check", check), ("reload", reload)] {
            if let code { cases += "\(word))\n\(code)\n;;\n" }
        }
        let script = "#!/bin/sh\necho \"postfix $*\" >> \(host.commandsLog)\nfor w; do :; done\ncase \"$w\" in\n\(cases)esac\nexec /usr/sbin/postfix \"$@\"\n"
        try Data(script.utf8).write(to: URL(fileURLWithPath: path))
        chmod(path, 0o755)
    }

    /// `postfix -c STAGING check` as one line to compare, once its folder is shown to be the
    /// staging folder beside main.cf.
    static func staged(_ line: String) -> String {
        guard line.hasPrefix("postfix -c /etc/postfix/.mtaguard-"), line.hasSuffix(".d check") else { return line }
        return "postfix check (staged)"
    }

    func commands(_ lab: SSHLab, _ name: String) -> [String] {
        let log = (try? String(contentsOfFile: lab.host(name).commandsLog, encoding: .utf8)) ?? ""
        return log.split(separator: "\n").map(String.init)
    }

    /// main.cf as the host's own sessions see it: through its namespace, where a test may have
    /// mounted another file system over /etc/postfix.
    func mainCF(_ lab: SSHLab, _ name: String) throws -> Data {
        let copy = lab.directory + "/seen-" + UUID().uuidString
        defer { try? FileManager.default.removeItem(atPath: copy) }
        let r = try lab.inNamespace(name, "cat /etc/postfix/main.cf > '\(copy)'")
        guard r.status == 0 else { throw SSHLabError(description: "\(name): cannot read main.cf: \(r)") }
        return try Data(contentsOf: URL(fileURLWithPath: copy))
    }

    /// main.cf in the host's folder, for when its sshd (and so its namespace) is gone.
    func hostFile(_ lab: SSHLab, _ name: String) throws -> Data {
        try Data(contentsOf: URL(fileURLWithPath: lab.host(name).root + "/etc/postfix/main.cf"))
    }

    /// Applies with the fault in place and checks what it must leave: the faulty host reported
    /// as one of `outcomes` with `reason`, exit code 3, its main.cf the original byte for byte
    /// and the healthy one changed, nothing left behind, and the journal's file states (`files`)
    /// for the faulty host. Then records the case in the fault ledger, from the bytes.
    @discardableResult
    func applyUnderFault(_ lab: SSHLab, _ backups: TempDir, _ fault: String, outcomes: [String], reason: String,
                         files: [String]? = nil, inventory: String? = nil,
                         sourceLocation: SourceLocation = #_sourceLocation) throws -> CommandResult {
        let apply = try run(lab, backups, ["apply", "--yes"], inventory: inventory)
        expectReported(apply, outcomes: outcomes, reason: reason, sourceLocation: sourceLocation)
        let faulty = try mainCF(lab, "faulty"), healthy = try mainCF(lab, "healthy")
        #expect(faulty == Self.original, sourceLocation: sourceLocation)
        #expect(healthy == Self.fixed, sourceLocation: sourceLocation)
        try expectNothingLeft(lab, sourceLocation: sourceLocation)
        let record = try journal(backups, apply, "faulty")
        #expect(outcomes.contains(record.outcome), "\(record)", sourceLocation: sourceLocation)
        if let files { #expect(record.files == files, "\(record)", sourceLocation: sourceLocation) }
        FaultLedger.record(.fault, fault, hosts: 2, survived: survivors(faulty, healthy), bytesLost: lost(faulty, healthy))
        return apply
    }

    /// Neither host keeps a temporary file beside main.cf or the host lock, as seen from inside.
    func expectNothingLeft(_ lab: SSHLab, sourceLocation: SourceLocation = #_sourceLocation) throws {
        for name in Self.hosts {
            let seen = try lab.inNamespace(name, "ls -A /etc/postfix; if [ -e /var/run/mtaguard.lock ]; then echo '<lock>'; fi")
            #expect(seen.status == 0, "\(seen)", sourceLocation: sourceLocation)
            let entries = seen.stdout.split(separator: "\n")
            #expect(!entries.contains { $0.hasPrefix(".main.cf.mtaguard-") }, "\(name): \(entries)", sourceLocation: sourceLocation)
            #expect(!entries.contains("<lock>"), "\(name): the host lock is left", sourceLocation: sourceLocation)
        }
    }

    /// Exit code 3; the faulty host's line names one of `outcomes` and the reason, its recap row
    /// says the same; the healthy host is changed.
    func expectReported(_ apply: CommandResult, outcomes: [String], reason: String,
                        sourceLocation: SourceLocation = #_sourceLocation) {
        #expect(apply.status == 3, "\(apply)", sourceLocation: sourceLocation)
        let lines = apply.stdout.split(separator: "\n").map(String.init)
        let line = lines.first { $0.hasPrefix("faulty: ") } ?? ""
        #expect(outcomes.contains { line.hasPrefix("faulty: \($0): ") }, "\(apply)", sourceLocation: sourceLocation)
        #expect(line.lowercased().contains(reason.lowercased()), "reason '\(reason)' missing:\n\(apply)", sourceLocation: sourceLocation)
        let row = lines.first { $0.hasPrefix("faulty ") }?.split(separator: " ").map(String.init) ?? []
        #expect(row.count > 1 && outcomes.contains(row[1]), "recap: \(row)", sourceLocation: sourceLocation)
        #expect(lines.contains("healthy: changed"), "\(apply)", sourceLocation: sourceLocation)
    }

    /// With the fault gone, a rerun changes what is left and the next one has nothing to do.
    func expectConverges(_ lab: SSHLab, _ backups: TempDir, _ extra: [String] = [], inventory: String? = nil,
                         sourceLocation: SourceLocation = #_sourceLocation) throws {
        let rerun = try run(lab, backups, ["apply", "--yes"] + extra, inventory: inventory)
        #expect(rerun.status == 0, "\(rerun)", sourceLocation: sourceLocation)
        for name in Self.hosts { #expect(try mainCF(lab, name) == Self.fixed, "\(name)", sourceLocation: sourceLocation) }
        let again = try run(lab, backups, ["apply", "--yes"] + extra, inventory: inventory)
        #expect(again.status == 0 && again.stdout.contains("nothing to do"), "\(again)", sourceLocation: sourceLocation)
        try expectNothingLeft(lab, sourceLocation: sourceLocation)
    }

    func runID(_ apply: CommandResult) -> String? {
        apply.stdout.split(separator: "\n").first { $0.hasPrefix("run ") }.map { String($0.dropFirst(4)) }
    }

    /// What the run's journal says of a host: its outcome and each file's state.
    func journal(_ backups: TempDir, _ apply: CommandResult, _ host: String) throws -> (outcome: String, files: [String]) {
        let id = try #require(runID(apply), "no run id in \(apply)")
        let data = try backups.read(id + "/manifest.json")
        let manifest = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        let hosts = manifest["hosts"] as? [[String: Any]] ?? []
        let record = try #require(hosts.first { $0["name"] as? String == host }, "\(host) not in the journal")
        let files = (record["files"] as? [[String: Any]] ?? []).map { $0["state"] as? String ?? "?" }
        return (record["outcome"] as? String ?? "?", files)
    }

    /// Hosts left as they must be: faulty with its original, healthy changed.
    func survivors(_ faulty: Data, _ healthy: Data) -> Int {
        (faulty == Self.original ? 1 : 0) + (healthy == Self.fixed ? 1 : 0)
    }

    func lost(_ faulty: Data, _ healthy: Data) -> Int {
        FaultLedger.bytesLost(expected: Self.original, actual: faulty) + FaultLedger.bytesLost(expected: Self.fixed, actual: healthy)
    }

    func waitUntil(seconds: Double, _ condition: () -> Bool) -> Bool {
        let deadline = Date().addingTimeInterval(seconds)
        while !condition() {
            if Date() > deadline { return false }
            usleep(100_000)
        }
        return true
    }
}
