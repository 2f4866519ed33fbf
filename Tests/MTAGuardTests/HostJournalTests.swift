import Foundation
import Testing

/// Each SSH host keeps its own copy of every run that changed it (/var/lib/mtaguard/runs/RUN-ID:
/// its record, its pre-images, the outcome of each step), written in the apply's own round
/// trip before the first change. A control node with no journal of the run (a short-lived AWX
/// execution node) rolls it back from those copies, with the same drift rules.
@Suite struct HostJournalTests {
    static let hosts = ["a", "b"]

    struct Fleet {
        let lab: SSHLab
        let stock: Data
        /// The control node that applies; every rollback below runs from a fresh one.
        let backups: TempDir

        /// Writes `text` at `path` on the host, through its own mounts (the overlay's upper
        /// layer is not to be written behind its back).
        func onHost(_ host: String, _ path: String, _ text: String) throws {
            let r = try lab.ssh(host, "cat > " + path, stdin: text)
            #expect(r.status == 0, "\(r)")
        }

        func runs(_ host: String) -> String { lab.host(host).directory + "/overlay/var/lib/mtaguard/runs" }
        func main(_ host: String) throws -> Data { try Data(contentsOf: URL(fileURLWithPath: lab.host(host).root + "/etc/postfix/main.cf")) }
        var args: [String] { ["-i", lab.inventoryPath, "--ssh-config", lab.sshConfigPath, "--connect-timeout", "60"] }

        /// `apply --item SRV-005`, returning its run id.
        func apply(_ extra: [String] = [], expect status: Int32 = 0) throws -> (id: String?, result: CommandResult) {
            let r = try mtaguard(["apply", "--yes", "--item", "SRV-005", "--format", "json"] + args + extra, backups: backups.path)
            #expect(r.status == status, "\(r)")
            let doc = try? JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any]
            return (doc?["runID"] as? String, r)
        }

        /// `rollback ID` from a control node that never saw the run.
        func rollbackElsewhere(_ id: String, _ extra: [String] = [], journal: String? = nil) throws -> CommandResult {
            let elsewhere = try TempDir("hj-elsewhere")
            defer { elsewhere.remove() }
            return try mtaguard(["rollback", id] + args + extra, backups: journal ?? elsewhere.path)
        }
    }

    func withFleet(_ body: (Fleet) throws -> Void) throws {
        let lab = try SSHLab.start(hosts: Self.hosts)
        defer { lab.stop() }
        let backups = try TempDir("hj-backups")
        defer { backups.remove() }
        let stock = try Repo.fixtureData("postfix/main.cf.debian")
        for name in Self.hosts { try PostfixDefaults.populate(lab.host(name).root + "/etc/postfix", main: stock) }
        try body(Fleet(lab: lab, stock: stock, backups: backups))
    }

    func mode(_ path: String) throws -> Int {
        (try FileManager.default.attributesOfItem(atPath: path)[.posixPermissions] as? Int) ?? -1
    }

    @Test func theApplyLeavesEachHostItsOwnPrivateCopy() throws {
        try withFleet { f in
            let (id, _) = try f.apply()
            let run = try #require(id)
            for name in Self.hosts {
                let folder = f.runs(name) + "/" + run
                for path in [f.runs(name), folder, folder + "/hosts"] { #expect(try mode(path) == 0o700, "\(path)") }
                let manifest = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: folder + "/manifest.json"))) as? [String: Any]
                #expect(try mode(folder + "/manifest.json") == 0o600)
                #expect(manifest?["id"] as? String == run)
                // Its own record only: another host's files are none of its business.
                let records = try #require(manifest?["hosts"] as? [[String: Any]])
                #expect(records.map { $0["name"] as? String } == [name])
                let files = try #require(records.first?["files"] as? [[String: Any]])
                let backup = try #require(files.first?["backup"] as? String)
                #expect(files.first?["path"] as? String == "/etc/postfix/main.cf")
                #expect(try Data(contentsOf: URL(fileURLWithPath: folder + "/" + backup)) == f.stock, "the pre-image, byte for byte")
                #expect(try mode(folder + "/" + backup) == 0o600)
                // Each step's outcome, in the same round trip, and that the script ended.
                let steps = try String(contentsOfFile: folder + "/steps", encoding: .utf8)
                #expect(steps.hasPrefix("0 done\n") && steps.hasSuffix("done\n"), "\(steps)")
            }
        }
    }

    @Test func anotherControlNodeRollsTheRunBackFromTheHostsCopies() throws {
        try withFleet { f in
            let (id, _) = try f.apply()
            let run = try #require(id)
            #expect(try f.main("a") != f.stock)

            let elsewhere = try TempDir("hj-finished")
            defer { elsewhere.remove() }
            let back = try f.rollbackElsewhere(run, journal: elsewhere.path)
            #expect(back.status == 0, "\(back)")
            #expect(back.stdout.contains("read from the copies kept by 2 hosts"), "\(back)")
            // A run that ended on its hosts is imported as ended, not as one cut short.
            let runs = try mtaguard(["runs"], backups: elsewhere.path)
            #expect(runs.stdout.contains(run + "  changed"), "\(runs)")
            for name in Self.hosts {
                #expect(try f.main(name) == f.stock, "\(name) back to its pre-image, byte for byte")
                // The rollback is a run too, kept on the host, and marks the run it undid.
                let undoneBy = try String(contentsOfFile: f.runs(name) + "/" + run + "/undone-by", encoding: .utf8)
                let rollbackID = undoneBy.trimmingCharacters(in: .whitespacesAndNewlines)
                #expect(FileManager.default.fileExists(atPath: f.runs(name) + "/" + rollbackID + "/manifest.json"))
            }

            // A third control node finds nothing left to undo (the copies say so), and changes nothing.
            let again = try f.rollbackElsewhere(run)
            #expect(again.status == 0, "\(again)")
            #expect(again.stdout.contains("a: nothing of run \(run) to undo"), "\(again)")
            #expect(again.stdout.contains("nothing of the run is left to undo"), "\(again)")
        }
    }

    @Test func driftOnAHostIsRefusedFromTheHostsCopiesToo() throws {
        try withFleet { f in
            let run = try #require(try f.apply().id)
            let path = f.lab.host("a").root + "/etc/postfix/main.cf"
            let drifted = try f.main("a") + Data("# edited by hand after the run\n".utf8)
            try drifted.write(to: URL(fileURLWithPath: path))

            let back = try f.rollbackElsewhere(run)
            #expect(back.status == 3, "\(back)")
            #expect(back.stdout.contains("changed since run \(run) wrote it (drift)"), "\(back)")
            #expect(back.stdout.contains("+# edited by hand after the run"), "the diff against the host's pre-image: \(back)")
            #expect(try f.main("a") == drifted, "a drifted file is left alone")
            #expect(try f.main("b") == f.stock, "the other host is rolled back")
        }
    }

    @Test func aRunCutShortOnTheHostIsRolledBackAsInterrupted() throws {
        try withFleet { f in
            let run = try #require(try f.apply(["--limit", "a"]).id)
            // The host's copy as a run cut off after its file step leaves it: no "done" line.
            try f.onHost("a", "/var/lib/mtaguard/runs/\(run)/steps", "0 done\n")
            let elsewhere = try TempDir("hj-interrupted")
            defer { elsewhere.remove() }
            let back = try f.rollbackElsewhere(run, journal: elsewhere.path)
            #expect(back.status == 0, "\(back)")
            #expect(try f.main("a") == f.stock)
            // Imported as a run cut short: rolled back as one (its planned actions guarded by their probes).
            let runs = try mtaguard(["runs"], backups: elsewhere.path)
            #expect(runs.stdout.contains("\(run)  interrupted"), "\(runs)")
        }
    }

    @Test func aHostKeepsTheNewestRunsOnly() throws {
        try withFleet { f in
            var ids: [String] = []
            for _ in 0..<3 {
                let run = try #require(try f.apply(["--host-runs-kept", "2", "--limit", "a"]).id)
                ids.append(run)
                let back = try f.rollbackElsewhere(run, ["--host-runs-kept", "2", "--limit", "a"])
                #expect(back.status == 0, "\(back)")
            }
            // Three applies and three rollbacks: six runs, the newest two kept.
            let kept = try FileManager.default.contentsOfDirectory(atPath: f.runs("a")).sorted()
            #expect(kept.count == 2, "\(kept)")
            #expect(kept.first == ids[2], "the last apply and its rollback: \(kept)")
            #expect(!FileManager.default.fileExists(atPath: f.runs("b")), "b was not in --limit")
        }
    }

    @Test func noCopyWhenAskedForNone() throws {
        try withFleet { f in
            let run = try #require(try f.apply(["--host-runs-kept", "0"]).id)
            #expect(!FileManager.default.fileExists(atPath: f.runs("a")))
            let back = try f.rollbackElsewhere(run)
            #expect(back.status == 1, "\(back)")
            #expect(back.stderr.contains("nor kept by any host of the inventory"), "\(back)")
            #expect(try f.main("a") != f.stock, "nothing was touched")
        }
    }

    @Test func aHostThatCannotKeepItsCopyIsNotChanged() throws {
        try withFleet { f in
            // /var/lib/mtaguard is a plain file on host a: its copy cannot be kept.
            let varLib = f.lab.host("a").directory + "/overlay/var/lib"
            try Data("not a folder\n".utf8).write(to: URL(fileURLWithPath: varLib + "/mtaguard"))
            let (id, r) = try f.apply(expect: 3)
            #expect(id != nil)
            #expect(r.stdout.contains("/var/lib/mtaguard"), "\(r)")
            #expect(r.stdout.contains("is not a folder; the run cannot be kept on the host, nothing was changed"), "\(r)")
            #expect(try f.main("a") == f.stock, "host a is not changed")
            #expect(try f.main("b") != f.stock, "host b went ahead")
            #expect(try String(contentsOfFile: varLib + "/mtaguard", encoding: .utf8) == "not a folder\n")
        }
    }

    @Test func aHostWhoseCopyRunsOutOfSpaceIsNotChanged() throws {
        try withFleet { f in
            // One page of tmpfs over host a's /var/lib/mtaguard: the folders and the pre-image
            // fit, the manifest does not.
            let small = try f.lab.inNamespace("a", "mkdir -p /var/lib/mtaguard && mount -t tmpfs -o size=4k,mode=700 tmpfs /var/lib/mtaguard")
            try #require(small.status == 0, "\(small)")
            defer { _ = try? f.lab.inNamespace("a", "umount /var/lib/mtaguard") }
            let (_, r) = try f.apply(expect: 3)
            #expect(r.stdout.contains("cannot keep the run on the host: writing /var/lib/mtaguard/runs/"), "\(r)")
            #expect(r.stdout.contains("No space left on device"), "\(r)")
            #expect(r.stdout.contains("nothing was changed"), "\(r)")
            #expect(try f.main("a") == f.stock, "host a is not changed")
            #expect(try f.main("b") != f.stock, "host b went ahead")
            let left = try f.lab.inNamespace("a", "ls -a /etc/postfix")
            #expect(!left.stdout.contains("mtaguard"), "no temporary file or staging folder left: \(left)")
        }
    }

    @Test func aHostsCopyCannotNameABackupOutsideItsRunNorAnotherAddress() throws {
        try withFleet { f in
            let run = try #require(try f.apply().id)
            let manifestPath = f.runs("a") + "/" + run + "/manifest.json"
            var text = try String(contentsOfFile: manifestPath, encoding: .utf8)
            // Another address in host b's copy is ignored: the inventory says where b is.
            let bPath = f.runs("b") + "/" + run + "/manifest.json"
            let bText = try String(contentsOfFile: bPath, encoding: .utf8)
            let port = f.lab.host("b").port
            #expect(bText.contains("\"port\":\(port)"), "\(bText)")
            try f.onHost("b", "/var/lib/mtaguard/runs/\(run)/manifest.json", bText.replacingOccurrences(of: "\"port\":\(port)", with: "\"port\":1"))
            // A backup path that climbs out of the run folder is refused for host a.
            let backup = try #require(text.range(of: #"hosts/0-a/files/etc/postfix/main.cf"#))
            text.replaceSubrange(backup, with: "hosts/0-a/files/../../../../../etc/shadow")
            try f.onHost("a", "/var/lib/mtaguard/runs/\(run)/manifest.json", text)

            let back = try f.rollbackElsewhere(run)
            #expect(back.status == 3, "\(back)")
            #expect(back.stdout.contains("names a backup outside its run folder"), "\(back)")
            #expect(back.stdout.contains(manifestPath.replacingOccurrences(of: f.lab.host("a").directory + "/overlay", with: "")), "\(back)")
            #expect(try f.main("a") != f.stock, "host a is left as it is")
            #expect(try f.main("b") == f.stock, "host b, reached at the inventory's address, is rolled back")
        }
    }
    /// A host's kept copy is input: tampered in each field, it never makes rollback write outside
    /// the control node's run folder nor act for another host. Each tampering is refused with the
    /// host's name and the copy's file, host a is left as it is, and host b (honest) is rolled
    /// back; the last rollback, with a's honest copy back, undoes a too.
    @Test func aTamperedCopyIsRefusedAndWritesNothingOutsideTheRunFolder() throws {
        try withFleet { f in
            let run = try #require(try f.apply().id)
            let copyPath = "/var/lib/mtaguard/runs/\(run)/manifest.json"
            let honest = try String(contentsOfFile: f.runs("a") + "/" + run + "/manifest.json", encoding: .utf8)
            #expect(honest.contains("\"path\":\"/etc/postfix/main.cf\""), "\(honest)")
            let outside = try TempDir("hj-outside")
            defer { outside.remove() }
            let target = outside.path + "/x/authorized_keys"
            let climb = "/" + String(repeating: "../", count: 12) + String(target.dropFirst())
            let records = try #require(honest.range(of: #"\[\{.*\}\]"#, options: .regularExpression))
            let record = String(honest[records].dropFirst().dropLast())
            let variants: [(String, String, String)] = [
                ("a path climbing out", honest.replacingOccurrences(of: "\"path\":\"/etc/postfix/main.cf\"", with: "\"path\":\"\(climb)\""),
                 "has a '.' or '..' part"),
                ("a relative path", honest.replacingOccurrences(of: "\"path\":\"/etc/postfix/main.cf\"", with: "\"path\":\"etc/postfix/main.cf\""),
                 "is not an absolute path"),
                ("another host's record beside its own", honest.replacingOccurrences(of: "[" + record + "]", with: "[" + record + "," + record.replacingOccurrences(of: "\"name\":\"a\"", with: "\"name\":\"b\"") + "]"),
                 "holds 2 host records"),
                ("another run's id", honest.replacingOccurrences(of: "\"id\":\"\(run)\"", with: "\"id\":\"20200101T000000.000Z-beef\""),
                 "is not of run \(run)"),
                ("a run id that climbs", honest.replacingOccurrences(of: "\"rollbackOf\"", with: "\"x\"").replacingOccurrences(of: "\"id\":\"\(run)\"", with: "\"id\":\"\(run)\",\"rollbackOf\":\"../../x\""),
                 "is not a run id"),
                ("a checksum that is not one", honest.replacingOccurrences(of: #"\"preSHA256\":\"[0-9a-f]{64}\""#, with: "\"preSHA256\":\"../../x\"", options: .regularExpression),
                 "checksum or mode that is not one"),
                ("invalid JSON", String(honest.dropLast(5)), "cannot be read"),
            ]
            var first = true
            for (label, text, why) in variants {
                #expect(text != honest, "\(label): the variant differs")
                try f.onHost("a", copyPath, text)
                let back = try f.rollbackElsewhere(run)
                // 3: host b rolled back and host a refused; then 1: only a's refusal is left.
                #expect(back.status == (first ? 3 : 1), "\(label): \(back)")
                #expect(back.stdout.contains("a: " + copyPath) && back.stdout.contains(why), "\(label): \(back)")
                #expect(!FileManager.default.fileExists(atPath: outside.path + "/x"), "\(label): nothing written outside the run folder")
                #expect(try f.main("a") != f.stock, "\(label): host a is left as it is")
                if first { #expect(try f.main("b") == f.stock, "\(label): the honest host is rolled back") }
                first = false
            }
            // A symbolic link planted in the control node's journal, where the run's folder for
            // host a's pre-images goes, is refused: nothing is written through it.
            try f.onHost("a", copyPath, honest)
            let journal = try TempDir("hj-planted")
            defer { journal.remove() }
            chmod(journal.path, 0o700)
            try FileManager.default.createDirectory(atPath: journal.path + "/" + run, withIntermediateDirectories: false, attributes: [.posixPermissions: 0o700])
            try FileManager.default.createSymbolicLink(atPath: journal.path + "/" + run + "/hosts", withDestinationPath: outside.path)
            let planted = try f.rollbackElsewhere(run, journal: journal.path)
            #expect(planted.status != 0, "\(planted)")
            #expect(planted.stdout.contains("symbolic link") || planted.stderr.contains("symbolic link"), "\(planted)")
            #expect(try FileManager.default.contentsOfDirectory(atPath: outside.path).isEmpty, "nothing written through the link")
            #expect(try f.main("a") != f.stock)
            // With its honest copy and a clean control node, host a is rolled back.
            let back = try f.rollbackElsewhere(run)
            #expect(back.status == 0, "\(back)")
            #expect(try f.main("a") == f.stock)
        }
    }
}
