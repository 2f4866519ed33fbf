import Foundation
import Testing

@testable import MTAGuard

/// The SSH writer held to what the `--root` writer promises, on a real lab host:
/// - bytes of every kind (`-`, `%`, `\`, `'`, form feeds, tabs, high bytes, lines longer than a
///   chunk), each also placed right at a chunk boundary of the apply script, arrive byte for
///   byte, read back the same, a second write of the same bytes changes nothing, and writing the
///   original back gives the original;
/// - real sendmail.cf files with such lines, fixed over SSH, are byte for byte what the `--root`
///   writer makes of them; a second apply changes nothing; rollback gives the original bytes.
///
/// Replay with MTAGUARD_PROPERTY_SEED=SEED; MTAGUARD_SSH_PROPERTY_CASES=N sets the number of
/// random cases.
@Suite struct SSHWriterPropertyTests {
    static let seed = PropertyTests.seed
    static let cases = ProcessInfo.processInfo.environment["MTAGUARD_SSH_PROPERTY_CASES"].flatMap { Int($0) } ?? 12
    static var replay: String { "seed \(seed) (replay: MTAGUARD_PROPERTY_SEED=\(seed))" }

    /// Bytes the printf encoding treats specially, and some it does not.
    static let specials: [Data] = [
        "-", "%", "\\", "'", "\u{0C}", "\t", "\"", "$", "`", "\n", "-u", "%s%d", "\\n",
    ].map { Data($0.utf8) } + [Data([0xFF]), Data([0xC3, 0xA9]), Data([0x7F]), Data([0x01])]

    static func randomBytes(_ rng: inout SplitMix64) -> Data {
        var d = Data()
        for _ in 0..<Int.random(in: 1...60, using: &rng) {
            switch Int.random(in: 0..<6, using: &rng) {
            case 0: d += specials[Int.random(in: 0..<specials.count, using: &rng)]
            case 1: d += Data(("#" + String(repeating: "-", count: Int.random(in: 1...4500, using: &rng)) + "\n").utf8)
            case 2: d += Data((0..<Int.random(in: 1...300, using: &rng)).map { _ in UInt8.random(in: 1...255, using: &rng) })
            default: d += Data(String(repeating: "O PrivacyOptions=goaway ", count: Int.random(in: 1...40, using: &rng)).utf8)
            }
        }
        return d
    }

    /// The files to write: each special right after a full first chunk (so that it starts the
    /// second), then random ones.
    static func files() -> [(String, Data)] {
        var out: [(String, Data)] = []
        for (i, s) in specials.enumerated() {
            out.append(("boundary-\(i).cf", Data(String(repeating: "x", count: 2000).utf8) + s + Data("tail\n".utf8)))
        }
        // An empty file: no printf at all.
        out.append(("empty.cf", Data()))
        var rng = SplitMix64(seed: seed, stream: 0x55)
        for i in 0..<cases { out.append(("random-\(i).cf", randomBytes(&rng))) }
        return out
    }

    @Test func bytesSurviveTheSSHWriter() async throws {
        let lab = try SSHLab.start(hosts: ["writer"])
        defer { lab.stop() }
        let (host, close) = try Self.sshHost(lab, "writer")
        defer { close() }
        let files = Self.files()
        // The boundary cases really start a chunk with their special byte.
        for (name, data) in files where name.hasPrefix("boundary-") {
            let chunks = RemoteScript.printfChunks(data)
            #expect(chunks.count >= 2 && chunks[0] == String(repeating: "x", count: 2000), "\(name)")
        }
        let originals = files.map { Data("original of \($0.0)\n-users\n".utf8) }
        for ((name, _), original) in zip(files, originals) {
            try original.write(to: URL(fileURLWithPath: lab.host("writer").root + "/etc/mail/" + name))
        }
        func steps(_ from: [Data], _ to: [Data]) -> [ApplyStep] {
            zip(files, zip(from, to)).map { file, pair in
                .replace(FileReplacement(
                    path: "/etc/mail/" + file.0, expected: ExpectedContent(pair.0), bytes: pair.1, mode: 0o640, uid: 0, gid: 0,
                    validateBefore: nil, validateAfter: nil))
            }
        }
        let wanted = files.map(\.1)
        let written = try await host.apply(steps(originals, wanted), runID: "prop")
        #expect(written.map(\.outcome) == Array(repeating: .done, count: files.count), "\(written) \(Self.replay)")
        let facts = try await host.facts(paths: files.map { "/etc/mail/" + $0.0 }, probeServices: false, probeVersions: false)
        for (name, data) in files {
            let onDisk = try Data(contentsOf: URL(fileURLWithPath: lab.host("writer").root + "/etc/mail/" + name))
            #expect(onDisk == data, "\(name) as written: \(Self.replay)")
            #expect(try facts.file("/etc/mail/" + name)?.bytes == data, "\(name) as read back: \(Self.replay)")
            #expect(try facts.file("/etc/mail/" + name)?.mode == 0o640)
        }
        let again = try await host.apply(steps(wanted, wanted), runID: "prop")
        #expect(again.map(\.outcome) == Array(repeating: .skipped, count: files.count), "a second write changed something")
        let back = try await host.apply(steps(wanted, originals), runID: "prop")
        #expect(back.map(\.outcome) == Array(repeating: .done, count: files.count))
        for ((name, _), original) in zip(files, originals) {
            let onDisk = try Data(contentsOf: URL(fileURLWithPath: lab.host("writer").root + "/etc/mail/" + name))
            #expect(onDisk == original, "\(name) back: \(Self.replay)")
            FaultLedger.record(.property, "SSH writer round trip \(name)", survived: onDisk == original ? 1 : 0,
                               bytesLost: FaultLedger.bytesLost(expected: original, actual: onDisk))
        }
    }

    /// Comment lines sendmail skips, holding what the SSH writer must carry.
    static let hostileComments = [
        "#" + String(repeating: "-", count: 2500), "#-users and %s %d %% \\n \\ 'quoted' \"double\"",
        "#\u{0C}", "#\ttabbed\tcomment", "# 한국어 설정 é", "#$(touch /tmp/mtaguard-never) `id`",
        "#" + String(repeating: "%", count: 1999) + "-", "#" + String(repeating: "x", count: 1998) + "-users",
    ]

    static func sendmailCase(_ index: Int) throws -> (text: String, ops: [String]) {
        var rng = SplitMix64(seed: seed, stream: 0x5E00 + UInt64(index))
        let bases = ["generic-solaris.cf", "generic-linux.cf", "generic-hpux10.cf", "generic-bsd4.4.cf"]
        let base = bases[index % bases.count]
        var lines = try String(contentsOfFile: Repo.fixture("sendmail/" + base), encoding: .utf8)
            .split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        var ops = ["base \(base)"]
        // Upstream's generic-solaris.mc output with restrictqrun, as a site keeps it.
        if let i = lines.firstIndex(where: { $0.hasPrefix("O PrivacyOptions=") }), index % 2 == 0 {
            lines[i] = "O PrivacyOptions=authwarnings,restrictqrun"
            ops.append("restrictqrun")
        }
        for _ in 0..<Int.random(in: 2...8, using: &rng) {
            let c = hostileComments[Int.random(in: 0..<hostileComments.count, using: &rng)]
            let at = Int.random(in: 0..<(lines.count - 1), using: &rng)
            lines.insert(c, at: at)
            ops.append("comment \(c.prefix(12).debugDescription) at \(at)")
        }
        return (lines.joined(separator: "\n"), ops)
    }

    @Test func sendmailCfOverSSHIsWhatTheRootWriterMakes() async throws {
        let lab = try SSHLab.start(hosts: ["smhost"])
        defer { lab.stop() }
        let h = lab.host("smhost")
        // This machine's /usr/sbin/sendmail is postfix's: a stand-in accepts the new file.
        try Data("#!/bin/sh\necho \"sendmail $*\" >> \(h.commandsLog)\nexit 0\n".utf8).write(to: URL(fileURLWithPath: h.shims + "/sendmail"))
        chmod(h.shims + "/sendmail", 0o755)
        let root = try Scratch.make("ssh-prop-root"), backups = try Scratch.make("ssh-prop-backups")
        defer { root.remove(); backups.remove() }
        var options = SSHTransport.Options()
        options.configFile = lab.sshConfigPath
        options.connectTimeout = 60
        let overSSH = Session(
            playbooksFolder: Repo.playbooks, backupsFolder: backups.path, items: ["SRV-005"], inventories: [lab.inventoryPath],
            ssh: options)
        let offline = Session(playbooksFolder: Repo.playbooks, backupsFolder: backups.path, items: ["SRV-005"], root: root.path)
        let cf = h.root + "/etc/mail/sendmail.cf"
        for index in 0..<max(4, Self.cases / 2) {
            let (text, ops) = try Self.sendmailCase(index)
            let why = "case \(index), \(Self.replay); edits: \(ops.joined(separator: "; "))"
            let original = Data(text.utf8)
            try original.write(to: URL(fileURLWithPath: cf))
            try root.write("etc/mail/sendmail.cf", original)

            let local = try await offline.apply(command: "apply (root \(index))")
            #expect(local.exitCode == 0, "\(local.errors) \(why)")
            let expected = try root.read("etc/mail/sendmail.cf")

            let applied = try await overSSH.apply(command: "apply (ssh \(index))")
            #expect(applied.exitCode == 0, "\(applied.errors) \(applied.hosts.map { $0.message ?? "" }) \(why)")
            let written = try Data(contentsOf: URL(fileURLWithPath: cf))
            #expect(written == expected, "the SSH writer and the --root writer differ: \(why)")

            let again = try await overSSH.apply(command: "apply again")
            #expect(again.runID == nil && again.exitCode == 0, "a second apply over SSH changed something: \(why)")
            if let id = applied.runID {
                let rollback = try await overSSH.rollback(id, force: false)
                #expect(rollback.exitCode == 0, "\(rollback.errors) \(why)")
            }
            let restored = try Data(contentsOf: URL(fileURLWithPath: cf))
            #expect(restored == original, "rollback over SSH: \(why)")
            FaultLedger.record(.property, "sendmail.cf over SSH case \(index)", survived: restored == original && written == expected ? 1 : 0,
                               bytesLost: FaultLedger.bytesLost(expected: original, actual: restored))
        }
    }

    static func sshHost(_ lab: SSHLab, _ name: String) throws -> (SSHHost, () -> Void) {
        var options = SSHTransport.Options()
        options.configFile = lab.sshConfigPath
        options.connectTimeout = 60
        let transport = try SSHTransport(options: options)
        let target = SSHTarget(address: "127.0.0.1", port: Int(lab.host(name).port), user: "root")
        return (SSHHost(name: name, target: target, transport: transport), { transport.close([target]) })
    }
}
