import Foundation
import Testing

/// A journal write that fails is a failure (issue 26): when the control node's disk fills in the
/// middle of a run, the run starts no further host, says why, and exits with a failure; what was
/// journaled before the disk filled is enough to roll the run back once there is room again.
/// The disk is a real 2 MiB tmpfs that host a's own `systemctl restart` fills, so it fills
/// between host a's change and the record of its outcome.
@Suite struct JournalFullTests {
    static let hosts = ["jfull-a", "jfull-b"]
    static let sendmailCF = try! Data(contentsOf: URL(fileURLWithPath: Repo.fixture("sendmail/generic-linux.cf")))

    @Test func aJournalThatFillsStopsTheRunAndRollbackWorksFromWhatItHolds() throws {
        let work = try TempDir("jfull")
        defer { work.remove() }
        let fs = work.path + "/fs"
        try FileManager.default.createDirectory(atPath: fs, withIntermediateDirectories: false)
        // Mounted before the lab starts, so that the hosts' own mount tables hold it too.
        let mounted = try runCommand(["mount", "-t", "tmpfs", "-o", "size=2m,mode=0700", "tmpfs", fs])
        try #require(mounted.status == 0, "\(mounted)")
        defer { _ = try? runCommand(["umount", "-l", fs]) }
        let filler = fs + "/filler", trigger = work.path + "/fill-once"
        #expect(FileManager.default.createFile(atPath: trigger, contents: nil))

        let lab = try SSHLab.start(hosts: Self.hosts)
        defer { lab.stop() }
        for name in Self.hosts {
            try Shims.install(lab, name, family: .systemd)
            try Self.sendmailCF.write(to: URL(fileURLWithPath: lab.host(name).root + "/etc/mail/sendmail.cf"))
        }
        try Shims.prepend(lab, "jfull-a", "systemctl",
            "if [ \"$1\" = restart ] && [ -f \(trigger) ]; then rm -f \(trigger); dd if=/dev/zero of=\(filler) bs=64k 2>/dev/null; fi")
        func cf(_ name: String) throws -> Data { try Data(contentsOf: URL(fileURLWithPath: lab.host(name).root + "/etc/mail/sendmail.cf")) }

        let backups = fs + "/journal"
        let options = ["-i", lab.inventoryPath, "--ssh-config", lab.sshConfigPath, "--connect-timeout", "60"]
        let apply = try runCommand(
            [Repo.binary, "apply", "--yes", "--item", "SRV-005", "--forks", "1", "--playbooks", Repo.playbooks] + options,
            environment: ["MTAGUARD_BACKUPS": backups])
        let said = apply.stdout + apply.stderr
        #expect(apply.status == 3, "\(apply)")
        #expect(said.contains("cannot write the outcome of host jfull-a to the run's journal"), "\(apply)")
        #expect(said.contains("jfull-b") && said.contains("not started"), "\(apply)")
        #expect(FileManager.default.fileExists(atPath: filler), "the disk was filled during the run")
        #expect(try cf("jfull-a") != Self.sendmailCF, "host a was changed before the disk filled")
        #expect(try cf("jfull-b") == Self.sendmailCF, "host b was not started")

        // With room again, the run is listed as cut short and rolls back from what was journaled.
        try FileManager.default.removeItem(atPath: filler)
        let runs = try mtaguard(["runs", "--format", "json"], backups: backups)
        let list = try #require(try JSONSerialization.jsonObject(with: Data(runs.stdout.utf8)) as? [[String: Any]], "\(runs)")
        #expect(list.first?["outcome"] as? String == "interrupted", "\(runs)")
        let runID = try #require(list.first?["id"] as? String)
        let back = try mtaguard(["rollback", runID] + options, backups: backups)
        #expect(back.status == 0, "\(back)")
        #expect(try cf("jfull-a") == Self.sendmailCF, "host a is back to its pre-image")
    }
}
