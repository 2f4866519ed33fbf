import Foundation
import Testing

/// Every file the control node is handed (an inventory, an exceptions file, a knowledge base, a
/// plan, a run's manifest) is read only as a regular file of bounded size: one larger than its
/// bound is refused naming its size and the bound without being read (sparse files here, so a
/// 300 MB plan costs no disk), and a named pipe or a device is refused before a byte is read,
/// where reading it would wait forever or fill memory. Nothing is written on the host.
@Suite struct BoundedInputFileTests {
    func root() throws -> TempDir {
        let root = try TempDir("bounded-root")
        try root.write("etc/postfix/main.cf", try Repo.fixtureData("postfix/main.cf.debian"), mode: 0o644)
        return root
    }

    /// A sparse file of `bytes` bytes.
    func sparse(_ dir: TempDir, _ name: String, _ bytes: Int) throws -> String {
        let path = dir.path + "/" + name
        let r = try runCommand(["truncate", "-s", String(bytes), path])
        #expect(r.status == 0, "\(r)")
        return path
    }

    func fifo(_ dir: TempDir, _ name: String) throws -> String {
        let path = dir.path + "/" + name
        #expect(mkfifo(path, 0o600) == 0)
        return path
    }

    @Test func oversizeFilesAndSpecialFilesAreRefusedUnread() throws {
        let host = try root()
        let work = try TempDir("bounded-work")
        defer { host.remove(); work.remove() }
        let original = try host.read("etc/postfix/main.cf")
        let check = ["check", "--root", host.path, "--item", "SRV-005"]
        // The knowledge base is read by the version item only.
        let version = ["check", "--root", host.path, "--item", "U-45"]
        let cases: [(String, [String], String)] = [
            ("a 2 MiB exceptions file", check + ["--exceptions", try sparse(work, "exceptions.yaml", 2 << 20)],
             "exceptions.yaml: is 2097152 bytes; an exceptions file is at most 1048576 bytes (1 MiB), so it is not read"),
            ("a 2 MiB knowledge base", version + ["--kb", try sparse(work, "kb.yaml", 2 << 20)],
             "kb.yaml: is 2097152 bytes; a version knowledge base is at most 1048576 bytes (1 MiB), so it is not read"),
            ("a 2 MiB inventory", ["check", "-i", try sparse(work, "hosts.ini", 2 << 20), "--item", "SRV-005"],
             "hosts.ini: is 2097152 bytes; an inventory is at most 1048576 bytes (1 MiB), so it is not read"),
            ("a 300 MB plan", ["apply", "--plan", try sparse(work, "PLAN.json", 300_000_000), "--yes", "--approved", String(repeating: "a", count: 64)],
             "PLAN.json: is 300000000 bytes; a plan file is at most 268435456 bytes (256 MiB), so it is not read"),
            ("a named pipe as the plan", ["apply", "--plan", try fifo(work, "plan.fifo"), "--yes", "--approved", String(repeating: "a", count: 64)],
             "plan.fifo: is not a regular file (a device, pipe or socket), so it is not read as a plan file"),
            ("a named pipe as the inventory", ["check", "-i", try fifo(work, "inventory.fifo")],
             "inventory.fifo: is not a regular file (a device, pipe or socket), so it is not read as an inventory"),
            ("/dev/zero as the exceptions file", check + ["--exceptions", "/dev/zero"],
             "/dev/zero: is not a regular file (a device, pipe or socket), so it is not read as an exceptions file"),
            ("/dev/zero as the knowledge base", version + ["--kb", "/dev/zero"],
             "/dev/zero: is not a regular file (a device, pipe or socket), so it is not read as a version knowledge base"),
        ]
        for (name, args, expected) in cases {
            let r = try mtaguard(args, backups: work.path + "/backups")
            #expect(r.status == 1 || r.status == 64, "\(name): \(r)")
            #expect((r.stdout + r.stderr).contains(expected), "\(name): wanted '\(expected)' in \(r)")
            #expect(try host.read("etc/postfix/main.cf") == original, "\(name): the host changed")
            #expect(!FileManager.default.fileExists(atPath: work.path + "/backups"), "\(name): a run was journaled")
        }
    }

    /// A run's manifest that a fault or a hand made huge, or replaced by a pipe, is refused by
    /// rollback naming it; nothing is rolled back from it.
    @Test func aRunsManifestIsReadBounded() throws {
        let host = try root()
        let backups = try TempDir("bounded-backups")
        defer { host.remove(); backups.remove() }
        let apply = try mtaguard(["apply", "--root", host.path, "--item", "SRV-005", "--yes"], backups: backups.path)
        #expect(apply.status == 0, "\(apply)")
        let changed = try host.read("etc/postfix/main.cf")
        let runs = try mtaguard(["runs", "--format", "json"], backups: backups.path)
        let id = try #require((try JSONSerialization.jsonObject(with: Data(runs.stdout.utf8)) as? [[String: Any]])?.first?["id"] as? String)
        let manifest = backups.path + "/" + id + "/manifest.json"
        try FileManager.default.removeItem(atPath: manifest)
        #expect(mkfifo(manifest, 0o600) == 0)
        let piped = try mtaguard(["rollback", id], backups: backups.path)
        #expect(piped.status != 0, "\(piped)")
        #expect(piped.stderr.contains("manifest.json: is not a regular file (a device, pipe or socket), so it is not read as a run's manifest"), "\(piped)")
        try FileManager.default.removeItem(atPath: manifest)
        #expect(try runCommand(["truncate", "-s", String(100 << 20), manifest]).status == 0)
        let huge = try mtaguard(["rollback", id], backups: backups.path)
        #expect(huge.status != 0, "\(huge)")
        #expect(huge.stderr.contains("manifest.json: is 104857600 bytes; a run's manifest is at most 67108864 bytes (64 MiB), so it is not read"), "\(huge)")
        #expect(try host.read("etc/postfix/main.cf") == changed, "rolled back from a manifest that was not read")
    }
}
