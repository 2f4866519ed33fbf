import Foundation
import Testing

/// What a host sends back is read with a bound (issue 26): a host whose answer never ends (here
/// its `od` prints forever, as a hostile or broken host may) is stopped at
/// `ProcessRunner.stdoutLimit`, reported by name, and the other hosts are judged as usual; the
/// control node's peak memory stays within the bound, measured by getrusage around the real
/// binary against the same run with honest hosts.
@Suite struct BoundedReadingTests {
    static let hosts = ["flood-a", "flood-b"]

    /// `check --item SRV-005` over SSH, with the peak RSS (MB) of mtaguard and what it started.
    static func check(_ lab: SSHLab, in dir: TempDir) throws -> (result: CommandResult, rss: Int) {
        let usage = dir.path + "/rusage-\(UUID().uuidString)"
        let r = try runCommand(
            ["python3", Repo.root + "/Benchmarks/rusage.py", usage, Repo.binary, "check", "--item", "SRV-005",
             "-i", lab.inventoryPath, "--ssh-config", lab.sshConfigPath, "--connect-timeout", "60", "--playbooks", Repo.playbooks],
            environment: ["MTAGUARD_BACKUPS": dir.path + "/backups"])
        let words = try String(contentsOfFile: usage, encoding: .utf8).split(separator: " ")
        return (r, Int(words.last?.trimmingCharacters(in: .whitespacesAndNewlines) ?? "") ?? -1)
    }

    @Test func aHostWhoseAnswerNeverEndsIsStoppedAndTheOthersAreJudged() throws {
        let lab = try SSHLab.start(hosts: Self.hosts)
        defer { lab.stop() }
        let dir = try TempDir("bounded")
        defer { dir.remove() }
        let stock = try Repo.fixtureData("postfix/main.cf.debian")
        for name in Self.hosts { try PostfixDefaults.populate(lab.host(name).root + "/etc/postfix", main: stock) }

        let honest = try Self.check(lab, in: dir)
        #expect(honest.result.status == 2, "\(honest.result)")

        let od = lab.host("flood-a").shims + "/od"
        // 200 MB, more than mtaguard reads, and then it ends: nothing of it outlives the test.
        try Data("#!/bin/sh\nyes 00 | head -c 200000000\n".utf8).write(to: URL(fileURLWithPath: od))
        chmod(od, 0o755)
        let flood = try Self.check(lab, in: dir)
        #expect(flood.result.status == 3, "\(flood.result)")
        let said = flood.result.stdout + flood.result.stderr
        #expect(said.contains("flood-a") && said.contains("more than \(64 << 20) bytes"), "\(said)")
        #expect(flood.result.stdout.contains("flood-b") && flood.result.stdout.contains("SRV-005"), "\(flood.result)")
        // The flood is cut at 64 MiB: the peak is the honest run's plus about that, not more.
        #expect(honest.rss > 0 && flood.rss < honest.rss + 200, "peak RSS \(flood.rss) MB flooded, \(honest.rss) MB honest")
        print("bounded reading: peak RSS \(honest.rss) MB honest, \(flood.rss) MB with one host flooding")

        // A 300 MB main.cf (sparse) is refused on the host: its size is said, its bytes stay
        // there, and the peak stays the honest run's. With --root the same words.
        try FileManager.default.removeItem(atPath: od)
        let big = lab.host("flood-a").root + "/etc/postfix/main.cf"
        let grown = try runCommand(["truncate", "-s", "300M", big])
        #expect(grown.status == 0, "\(grown)")
        let large = try Self.check(lab, in: dir)
        let words = "/etc/postfix/main.cf: is 314572800 bytes; mtaguard reads configuration files of at most 1048576 bytes"
        #expect(large.result.stdout.contains(words) || large.result.stderr.contains(words), "\(large.result)")
        #expect(large.result.stdout.contains("flood-b"), "the other host is judged: \(large.result)")
        #expect(large.rss < honest.rss + 20, "peak RSS \(large.rss) MB with a 300 MB file, \(honest.rss) MB honest")
        let image = try TempDir("bounded-root")
        defer { image.remove() }
        try FileManager.default.createDirectory(atPath: image.path + "/etc/postfix", withIntermediateDirectories: true)
        #expect(try runCommand(["truncate", "-s", "300M", image.path + "/etc/postfix/main.cf"]).status == 0)
        let root = try mtaguard(["check", "--item", "SRV-005", "--root", image.path], backups: dir.path)
        #expect((root.stdout + root.stderr).contains(words), "\(root)")
        print("bounded reading: peak RSS \(large.rss) MB with a 300 MB main.cf on one host")
    }
}
