import Foundation
import Testing

@testable import MTAGuard

/// mtaguard killed with SIGKILL at every step of `apply` and of `rollback` (the fail points
/// are listed in Sources/MTAGuard/Support/FailPoint.swift; over SSH a recording shim kills it
/// while the host runs its service command). After each kill: every file is its pre-image or
/// its post-image, never anything else; `runs` shows the run as interrupted; and
/// `rollback RUN-ID` returns every file to its pre-image byte for byte, with its mode and owner.
@Suite struct CrashTests {
    static let files = ["etc/postfix/main.cf", "etc/mail/sendmail.cf", "etc/mail/sendmail.mc"]
    static let killed: Int32 = 128 + 9

    /// An offline root with both MTAs' files (three files to change), and the bytes each file
    /// must hold after a complete apply.
    func makeRoot() throws -> (root: TempDir, pre: [Data], post: [Data]) {
        let root = try TempDir("crash-root")
        try root.write(Self.files[0], try Repo.fixtureData("postfix/main.cf.debian"), mode: 0o640)
        chown(root.path + "/" + Self.files[0], 0, 7)
        try root.write(Self.files[1], try Repo.fixtureData("sendmail/generic-linux.cf"), mode: 0o444)
        try root.write(Self.files[2], try Repo.fixtureData("sendmail/generic-linux.mc"))
        let pre = try Self.files.map { try root.read($0) }
        // The post-images come from an uninterrupted apply on a copy.
        let copy = try TempDir("crash-copy"), backups = try TempDir("crash-copy-backups")
        defer { copy.remove(); backups.remove() }
        for (file, bytes) in zip(Self.files, pre) { try copy.write(file, bytes) }
        let full = try mtaguard(["apply", "--yes", "--root", copy.path], backups: backups.path)
        #expect(full.status == 0, "\(full)")
        let post = try Self.files.map { try copy.read($0) }
        #expect(post != pre)
        return (root, pre, post)
    }

    func runs(_ backups: TempDir) throws -> [[String: Any]] {
        let r = try mtaguard(["runs", "--format", "json"], backups: backups.path)
        return try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as! [[String: Any]]
    }

    /// Bytes off from "pre-image or post-image" per file (0 when each file is one of the two).
    func torn(_ root: TempDir, pre: [Data], post: [Data]) throws -> Int {
        var lost = 0
        for (i, file) in Self.files.enumerated() {
            let now = try root.read(file)
            if now != pre[i] && now != post[i] {
                lost += min(FaultLedger.bytesLost(expected: pre[i], actual: now), FaultLedger.bytesLost(expected: post[i], actual: now))
            }
        }
        return lost
    }

    /// Files left beside the targets by an interrupted write.
    func leftovers(_ root: TempDir) -> [String] {
        ["etc/postfix", "etc/mail"].flatMap { dir in
            ((try? FileManager.default.contentsOfDirectory(atPath: root.path + "/" + dir)) ?? [])
                .filter { !["main.cf", "sendmail.cf", "sendmail.mc"].contains($0) }
        }
    }

    func modeAndOwner(_ path: String) -> (mode_t, uid_t, gid_t) {
        var st = stat()
        _ = lstat(path, &st)
        return (st.st_mode & 0o7777, st.st_uid, st.st_gid)
    }

    /// Apply killed at each point; then rollback of the interrupted run.
    @Test(arguments: ["apply.begun", "apply.journaled", "host.step#1", "host.step#2", "host.step#3", "apply.applied"])
    func applyKilledThenRolledBack(point: String) throws {
        let (root, pre, post) = try makeRoot()
        let backups = try TempDir("crash-backups")
        defer { root.remove(); backups.remove() }

        let apply = try runCommand(
            [Repo.binary, "apply", "--yes", "--root", root.path, "--playbooks", Repo.playbooks],
            environment: ["MTAGUARD_BACKUPS": backups.path, "MTAGUARD_FAILPOINT": point])
        #expect(apply.status == Self.killed, "\(point): \(apply)")
        let tornBytes = try torn(root, pre: pre, post: post)
        #expect(tornBytes == 0, "\(point): a file is neither its pre- nor its post-image")

        let list = try runs(backups)
        let run = try #require(list.first, "\(point): the interrupted run is not in the journal")
        #expect(run["outcome"] as? String == "interrupted", "\(point): \(run)")
        let text = try mtaguard(["runs"], backups: backups.path)
        #expect(text.stdout.contains("interrupted"), "\(text)")
        #expect(text.stdout.contains("mtaguard rollback \(run["id"] as? String ?? "?")"), "\(text)")

        let rollback = try mtaguard(["rollback", try #require(run["id"] as? String)], backups: backups.path)
        #expect(rollback.status == 0, "\(point): \(rollback)")
        let after = try Self.files.map { try root.read($0) }
        #expect(after == pre, "\(point): rollback did not return the pre-images")
        #expect(modeAndOwner(root.path + "/" + Self.files[0]) == (0o640, 0, 7))
        #expect(modeAndOwner(root.path + "/" + Self.files[1]).0 == 0o444)
        #expect(leftovers(root) == [], "\(point)")
        let lost = zip(pre, after).map { FaultLedger.bytesLost(expected: $0, actual: $1) }.reduce(0, +) + tornBytes
        FaultLedger.record(.fault, "SIGKILL of apply at \(point)", survived: lost == 0 && rollback.status == 0 ? 1 : 0, bytesLost: lost)
    }

    /// Rollback killed at each point; a second rollback of the same run finishes the job.
    @Test(arguments: ["rollback.begun", "host.step#1", "host.step#2", "rollback.applied"])
    func rollbackKilledThenRunAgain(point: String) throws {
        let (root, pre, post) = try makeRoot()
        let backups = try TempDir("crash-backups")
        defer { root.remove(); backups.remove() }
        let apply = try mtaguard(["apply", "--yes", "--root", root.path], backups: backups.path)
        #expect(apply.status == 0, "\(apply)")
        let runID = try #require(try runs(backups).first?["id"] as? String)

        let cut = try runCommand(
            [Repo.binary, "rollback", runID],
            environment: ["MTAGUARD_BACKUPS": backups.path, "MTAGUARD_FAILPOINT": point])
        #expect(cut.status == Self.killed, "\(point): \(cut)")
        let tornBytes = try torn(root, pre: pre, post: post)
        #expect(tornBytes == 0, "\(point): a file is neither its pre- nor its post-image")
        let list = try runs(backups)
        #expect(list.first?["outcome"] as? String == "interrupted", "\(point): \(list)")
        #expect(list.first?["rollbackOf"] as? String == runID)

        let again = try mtaguard(["rollback", runID], backups: backups.path)
        #expect(again.status == 0, "\(point): \(again)")
        let after = try Self.files.map { try root.read($0) }
        #expect(after == pre, "\(point): the second rollback did not return the pre-images")
        #expect(leftovers(root) == [], "\(point)")
        let lost = zip(pre, after).map { FaultLedger.bytesLost(expected: $0, actual: $1) }.reduce(0, +) + tornBytes
        FaultLedger.record(.fault, "SIGKILL of rollback at \(point)", survived: lost == 0 && again.status == 0 ? 1 : 0, bytesLost: lost)
    }
}

/// The same over SSH, on two lab hosts at once: killed at the control node's steps, and killed
/// while a host runs its service command (the shim that restarts sendmail kills mtaguard).
@Suite struct CrashOverSSHTests {
    static let sendmailCF = try! Data(contentsOf: URL(fileURLWithPath: Repo.fixture("sendmail/generic-linux.cf")))
    static let hosts = ["crash-a", "crash-b"]

    func cf(_ lab: SSHLab, _ name: String) throws -> Data {
        try Data(contentsOf: URL(fileURLWithPath: lab.host(name).root + "/etc/mail/sendmail.cf"))
    }

    /// The lock and temporary files of a cut connection are gone once the host's shell ends
    /// (told by SIGPIPE or SIGHUP): waits for that, up to 5 s.
    func settled(_ lab: SSHLab, _ name: String) throws -> Bool {
        for _ in 0..<50 {
            let r = try lab.ssh(name, "test ! -e /var/run/mtaguard.lock && ls -A /etc/mail")
            if r.status == 0, r.stdout == "sendmail.cf\n" { return true }
            usleep(100_000)
        }
        return false
    }

    /// Bytes by which the hosts' sendmail.cf differ from their pre-image (expected: 0).
    func bytesOffPreImage(_ lab: SSHLab, _ point: String) throws -> Int {
        var lost = 0
        for name in Self.hosts {
            let now = try cf(lab, name)
            #expect(now == Self.sendmailCF, "\(point): \(name) was not returned to its pre-image")
            lost += FaultLedger.bytesLost(expected: Self.sendmailCF, actual: now)
        }
        return lost
    }

    func options(_ lab: SSHLab) -> [String] {
        ["--ssh-config", lab.sshConfigPath, "--connect-timeout", "60"]
    }

    @Test func killedAtEachStepEveryHostIsWholeAndRollsBack() throws {
        let lab = try SSHLab.start(hosts: Self.hosts)
        defer { lab.stop() }
        let backups = try TempDir("crash-ssh")
        defer { backups.remove() }
        let work = try TempDir("crash-ssh-work")
        defer { work.remove() }
        let victim = work.path + "/victim.pid", trigger = work.path + "/kill-on-restart"
        for name in Self.hosts {
            try Shims.install(lab, name, family: .systemd)
            try Self.sendmailCF.write(to: URL(fileURLWithPath: lab.host(name).root + "/etc/mail/sendmail.cf"))
        }
        // crash-a's systemctl kills mtaguard (once, when armed) as it restarts sendmail.
        try Shims.prepend(lab, "crash-a", "systemctl",
            "if [ \"$1\" = restart ] && [ -f \(trigger) ]; then rm -f \(trigger); kill -9 \"$(cat \(victim))\"; sleep 1; fi")

        let points = ["apply.journaled#1", "apply.journaled#2", "apply.applied#1", "apply.applied#2", "service restart on crash-a"]
        for point in points {
            let armed = point.hasPrefix("service")
            if armed { _ = FileManager.default.createFile(atPath: trigger, contents: nil) }
            let apply = try runCommand(
                ["sh", "-c", "echo $$ > \(victim); exec \"$0\" \"$@\"", Repo.binary, "apply", "--yes", "--item", "SRV-005",
                 "-i", lab.inventoryPath, "--playbooks", Repo.playbooks] + options(lab),
                environment: ["MTAGUARD_BACKUPS": backups.path, "MTAGUARD_FAILPOINT": armed ? "" : point])
            #expect(apply.status == 128 + 9, "\(point): \(apply)\n\((try? String(contentsOfFile: lab.host("crash-a").commandsLog, encoding: .utf8)) ?? "")")

            var post = Self.sendmailCF
            post = Data(String(decoding: post, as: UTF8.self).replacingOccurrences(
                of: "\nO PrivacyOptions=authwarnings\n", with: "\nO PrivacyOptions=authwarnings,noexpn,novrfy\n").utf8)
            var tornBytes = 0
            for name in Self.hosts {
                let now = try cf(lab, name)
                #expect(now == Self.sendmailCF || now == post, "\(point): \(name) holds a torn sendmail.cf")
                if now != Self.sendmailCF && now != post { tornBytes += FaultLedger.bytesLost(expected: Self.sendmailCF, actual: now) }
            }
            let runs = try mtaguard(["runs", "--format", "json"], backups: backups.path)
            let list = try JSONSerialization.jsonObject(with: Data(runs.stdout.utf8)) as! [[String: Any]]
            #expect(list.first?["outcome"] as? String == "interrupted", "\(point): \(runs.stdout)")
            let runID = try #require(list.first?["id"] as? String)

            for name in Self.hosts {
                #expect(try settled(lab, name), "\(point): \(name) kept its lock or a temporary file")
            }

            let rollback = try mtaguard(["rollback", runID] + options(lab), backups: backups.path)
            #expect(rollback.status == 0, "\(point): \(rollback)")
            let lost = try tornBytes + bytesOffPreImage(lab, point)
            FaultLedger.record(.fault, "SIGKILL of apply over SSH at \(point)", hosts: 2,
                               survived: rollback.status == 0 && lost == 0 ? 2 : 0, bytesLost: lost)
        }

        // A rollback killed mid-way over SSH is finished by running it again.
        for point in ["rollback.begun", "rollback.applied#1"] {
            let apply = try mtaguard(["apply", "--yes", "--item", "SRV-005", "-i", lab.inventoryPath] + options(lab), backups: backups.path)
            #expect(apply.status == 0, "\(apply)")
            let runs = try mtaguard(["runs", "--format", "json"], backups: backups.path)
            let runID = try #require((try JSONSerialization.jsonObject(with: Data(runs.stdout.utf8)) as? [[String: Any]])?.first?["id"] as? String)
            let cut = try runCommand([Repo.binary, "rollback", runID] + options(lab),
                                     environment: ["MTAGUARD_BACKUPS": backups.path, "MTAGUARD_FAILPOINT": point])
            #expect(cut.status == 128 + 9, "\(point): \(cut)")
            for name in Self.hosts { #expect(try settled(lab, name), "\(point): \(name)") }
            let again = try mtaguard(["rollback", runID] + options(lab), backups: backups.path)
            #expect(again.status == 0, "\(point): \(again)")
            let lost = try bytesOffPreImage(lab, point)
            FaultLedger.record(.fault, "SIGKILL of rollback over SSH at \(point)", hosts: 2,
                               survived: again.status == 0 && lost == 0 ? 2 : 0, bytesLost: lost)
        }
    }
}

/// A file that someone changes between the facts mtaguard read and its write: refused, with
/// the change shown, and the someone's bytes kept.
@Suite struct DriftFaultTests {
    /// An offline root whose main.cf is edited by "someone else" right after mtaguard reads it.
    struct EditedAfterRead: MTAGuard.Host {
        let inner: LocalHost
        let root: String
        let edit: String
        var name: String { inner.name }
        var isLive: Bool { inner.isLive }
        var address: HostAddress { inner.address }
        var mode: Mode? { nil }
        func facts(_ request: FactsRequest) async throws -> HostFacts {
            let facts = try await inner.facts(request)
            let path = root + "/etc/postfix/main.cf"
            let now = try String(contentsOfFile: path, encoding: .utf8)
            if !now.contains(edit) { try (now + edit).write(toFile: path, atomically: false, encoding: .utf8) }
            return facts
        }
        func apply(_ steps: [ApplyStep], runID: String) async throws -> [StepResult] {
            try await inner.apply(steps, runID: runID)
        }
    }

    @Test func applyRefusesAFileChangedSinceItWasReadAndShowsTheChange() async throws {
        let root = try TempDir("drift-root"), backups = try TempDir("drift-backups")
        defer { root.remove(); backups.remove() }
        try root.write("etc/postfix/main.cf", try Repo.fixtureData("postfix/main.cf.debian"))
        let edit = "relayhost = [smtp.example.net]:587\n"
        let expected = String(decoding: try Repo.fixtureData("postfix/main.cf.debian"), as: UTF8.self) + edit

        let books = try PlaybookLoader.loadAll(folder: Repo.playbooks).filter { $0.id == "SRV-005" }
        let engine = Engine(planner: Planner(playbooks: books), journal: Journal(folder: backups.path)) { _, _ in
            LocalHost(root: root.path)
        }
        let host = EditedAfterRead(inner: LocalHost(root: root.path), root: root.path, edit: edit)
        let result = try await engine.apply([host], command: "apply")
        #expect(result.exitCode == 1)
        let record = try #require(result.hosts.first)
        #expect(record.outcome == .failed)
        let message = record.message ?? ""
        #expect(message.contains("/etc/postfix/main.cf changed since it was read"), "\(message)")
        #expect(message.contains("+relayhost = [smtp.example.net]:587"), "the change is not shown: \(message)")
        #expect(message.contains("nothing was changed"), "\(message)")
        let now = try root.read("etc/postfix/main.cf")
        #expect(String(decoding: now, as: UTF8.self) == expected)
        let lost = FaultLedger.bytesLost(expected: Data(expected.utf8), actual: now)
        FaultLedger.record(.fault, "file changed between facts and apply", survived: lost == 0 ? 1 : 0, bytesLost: lost)
    }
}
