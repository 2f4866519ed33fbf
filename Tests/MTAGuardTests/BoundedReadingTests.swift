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
        try Data("#!/bin/sh\nexec yes 00\n".utf8).write(to: URL(fileURLWithPath: od))
        chmod(od, 0o755)
        let flood = try Self.check(lab, in: dir)
        #expect(flood.result.status == 3, "\(flood.result)")
        let said = flood.result.stdout + flood.result.stderr
        #expect(said.contains("flood-a") && said.contains("more than \(64 << 20) bytes"), "\(said)")
        #expect(flood.result.stdout.contains("flood-b") && flood.result.stdout.contains("SRV-005"), "\(flood.result)")
        // The flood is cut at 64 MiB: the peak is the honest run's plus about that, not more.
        #expect(honest.rss > 0 && flood.rss < honest.rss + 200, "peak RSS \(flood.rss) MB flooded, \(honest.rss) MB honest")
        print("bounded reading: peak RSS \(honest.rss) MB honest, \(flood.rss) MB with one host flooding")
    }
}
