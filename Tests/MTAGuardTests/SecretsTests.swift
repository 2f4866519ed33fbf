import Foundation
import Testing

/// What a run leaves behind must not spread what the configuration holds: no file contents in
/// the output of check, apply, runs or rollback (only `plan`, asked for a diff, shows lines, and
/// only those near a change); the journal names files and checksums, and the one copy of the
/// bytes, the backup, is readable by its owner only.
@Suite struct HostileSecretsTests {
    static let canary = "sasl-secret-\(UUID().uuidString)"

    @Test func noContentsInOutputOrManifestAndBackupsAreOwnerOnly() throws {
        let root = try TempDir("secrets-root")
        let backups = try TempDir("secrets-backups")
        defer { root.remove(); backups.remove() }
        let main = "smtp_sasl_password_maps = static:relay:\(Self.canary)\n"
            + String(decoding: try Repo.fixtureData("postfix/main.cf.debian"), as: UTF8.self)
        try root.write("etc/postfix/main.cf", main, mode: 0o600)

        var outputs: [CommandResult] = []
        outputs.append(try mtaguard(["check", "--root", root.path], backups: backups.path))
        outputs.append(try mtaguard(["check", "--root", root.path, "--format", "json"], backups: backups.path))
        let plan = try mtaguard(["plan", "--root", root.path], backups: backups.path)
        #expect(!plan.stdout.contains(Self.canary), "plan shows a line far from any change")
        outputs.append(plan)
        let apply = try mtaguard(["apply", "--yes", "--root", root.path], backups: backups.path)
        #expect(apply.status == 0, "\(apply)")
        outputs.append(apply)
        outputs.append(try mtaguard(["runs"], backups: backups.path))
        let runs = try mtaguard(["runs", "--format", "json"], backups: backups.path)
        outputs.append(runs)
        let list = try JSONSerialization.jsonObject(with: Data(runs.stdout.utf8)) as! [[String: Any]]
        let runID = try #require(list.first?["id"] as? String)
        outputs.append(try mtaguard(["rollback", runID], backups: backups.path))
        for out in outputs {
            #expect(!out.stdout.contains(Self.canary) && !out.stderr.contains(Self.canary), "\(out)")
        }

        // Only the backup holds the bytes; folders 0700, files 0600, all of them.
        var holders: [String] = []
        let enumerator = FileManager.default.enumerator(atPath: backups.path)!
        var checked = 0
        while let relative = enumerator.nextObject() as? String {
            let path = backups.path + "/" + relative
            var st = stat()
            #expect(lstat(path, &st) == 0)
            let isDir = (st.st_mode & S_IFMT) == S_IFDIR
            #expect(st.st_mode & 0o777 == (isDir ? 0o700 : 0o600), "\(relative) is \(String(st.st_mode & 0o777, radix: 8))")
            if !isDir, let d = FileManager.default.contents(atPath: path), String(decoding: d, as: UTF8.self).contains(Self.canary) {
                holders.append(relative)
            }
            checked += 1
        }
        #expect(checked >= 4)
        #expect(holders.count == 2, "\(holders)")  // the apply's pre-image, and the rollback's copy of what it replaced
        #expect(holders.allSatisfy { $0.hasSuffix("/files/etc/postfix/main.cf") }, "\(holders)")
        FaultLedger.record(.input, "secrets: contents kept out of output and journal", hosts: 1,
                           survived: holders.allSatisfy { $0.hasSuffix("main.cf") } ? 1 : 0)
    }

    /// `--become` is `sudo -n`: mtaguard has no option that takes a password, so none can reach
    /// a command line or the journal.
    @Test func becomeTakesNoPassword() throws {
        for command in ["check", "plan", "apply", "rollback"] {
            let help = try runCommand([Repo.binary, command, "--help"])
            #expect(help.status == 0)
            #expect(!help.stdout.lowercased().contains("password"), "\(command) --help: \(help.stdout)")
            #expect(help.stdout.contains("--become"), "\(command)")
        }
    }
}
