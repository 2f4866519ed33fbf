import Foundation
import Testing

/// U-47 / SRV-009 on the wire: a real postfix, and an SMTP client placed outside the host's own
/// networks in a network namespace the test creates (a veth pair; traffic stays between the
/// two ends). The client asks MAIL FROM an outside sender and RCPT TO an outside domain, then
/// RSET: 250 before the fix (the world in mynetworks), 454 after (refused), 250 again after rollback.
@Suite(.serialized) struct RelayWireTests {
    /// A namespace `name` joined to this machine by a veth pair: `inside` there, `outside` here.
    struct Failure: Error, CustomStringConvertible { var description: String }

    final class OutsideNetwork {
        let name: String, hostSide: String, hostAddress: String, clientAddress: String

        init() throws {
            let id = Int(getpid() % 200) + 20
            name = "mtg-relay-\(getpid())"
            hostSide = "mtgr\(getpid() % 100000)a"
            hostAddress = "10.213.\(id).1"
            clientAddress = "10.213.\(id).2"
            let peer = "mtgr\(getpid() % 100000)b"
            let steps: [[String]] = [
                ["ip", "netns", "add", name],
                ["ip", "link", "add", hostSide, "type", "veth", "peer", "name", peer],
                ["ip", "link", "set", peer, "netns", name],
                ["ip", "addr", "add", hostAddress + "/30", "dev", hostSide],
                ["ip", "link", "set", hostSide, "up"],
                ["ip", "netns", "exec", name, "ip", "addr", "add", clientAddress + "/30", "dev", peer],
                ["ip", "netns", "exec", name, "ip", "link", "set", peer, "up"],
                ["ip", "netns", "exec", name, "ip", "link", "set", "lo", "up"],
            ]
            for step in steps {
                let r = try runCommand(step)
                guard r.status == 0 else {
                    remove()
                    throw Failure(description: "\(step.joined(separator: " ")): \(r)")
                }
            }
        }

        /// Removes the namespace (and with it the peer) and the host's end. Idempotent.
        func remove() {
            _ = try? runCommand(["ip", "link", "del", hostSide])
            _ = try? runCommand(["ip", "netns", "del", name])
        }
    }

    @Test func anOpenPostfixRelayIsClosedAndOpenAgainAfterRollback() throws {
        let pf = try PostfixInstance.start()
        defer { pf.stop() }
        let net = try OutsideNetwork()
        defer { net.remove() }
        let backups = try TempDir("relay-wire")
        defer { backups.remove() }
        let port = String(pf.port)
        // The instance also listens on the host's end of the veth pair, and trusts the world.
        let master = pf.configDirectory + "/master.cf"
        var text = try String(contentsOfFile: master, encoding: .utf8)
        text += "\(net.hostAddress):\(port) inet n - n - - smtpd\n"
        try Data(text.utf8).write(to: URL(fileURLWithPath: master))
        let open = try pf.run(["postconf", "-e", "mynetworks = 127.0.0.0/8 [::1]/128 0.0.0.0/0"])
        #expect(open.status == 0, "\(open)")
        let mainCf = pf.configDirectory + "/main.cf"
        try FileManager.default.setAttributes([.modificationDate: Date(timeIntervalSinceNow: -3600)], ofItemAtPath: mainCf)
        let original = try Data(contentsOf: URL(fileURLWithPath: mainCf))
        #expect(try pf.run(["postfix", "reload"]).status == 0)

        /// mtaguard from the client's side of the veth pair, on this host's files.
        func outside(_ args: [String]) throws -> CommandResult {
            let playbooks = ["check", "plan", "apply"].contains(args[0]) ? ["--playbooks", Repo.playbooks] : []
            return try pf.run(["ip", "netns", "exec", net.name, Repo.binary] + args + playbooks,
                              environment: ProcessInfo.processInfo.environment.merging(["MTAGUARD_BACKUPS": backups.path]) { _, n in n })
        }
        let wire = ["--item", "U-47", "--smtp-port", port, "--smtp-host", net.hostAddress]
        var before = try outside(["check"] + wire)
        for _ in 0..<20 where !before.stdout.contains("→ 250") {
            usleep(200_000)
            before = try outside(["check"] + wire)
        }
        #expect(before.status == 2, "\(before)\n\(pf.logTail())")
        #expect(before.stdout.contains("fail  smtp \(net.hostAddress):\(port)  \"MAIL FROM:<probe@outside.example> RCPT TO:<probe@elsewhere.example> → 250"), "\(before)")
        #expect(before.stdout.contains("mynetworks holds 0.0.0.0/0 (the whole Internet)"), "\(before)")

        // apply: the world leaves mynetworks (nothing else), postfix reloads, and the probe
        // from outside verifies that relaying is refused.
        let apply = try outside(["apply", "--yes"] + wire)
        #expect(apply.status == 0, "\(apply)\n\(pf.logTail())")
        let fixed = try String(contentsOfFile: mainCf, encoding: .utf8)
        #expect(fixed == String(decoding: original, as: UTF8.self).replacingOccurrences(
            of: "mynetworks = 127.0.0.0/8 [::1]/128 0.0.0.0/0\n", with: "mynetworks = 127.0.0.0/8 [::1]/128\n"), "\(fixed)")
        let after = try outside(["check"] + wire)
        #expect(after.status == 0, "\(after)")
        // Debian's smtpd_relay_restrictions ends in defer_unauth_destination: a 4xx, refused.
        #expect(after.stdout.contains("RCPT TO:<probe@elsewhere.example> → 454 4.7.1"), "\(after)")

        let id = try #require(apply.stdout.split(separator: "\n").first { $0.hasPrefix("run ") }.map { String($0.dropFirst(4)) })
        let rollback = try outside(["rollback", id])
        #expect(rollback.status == 0, "\(rollback)")
        #expect(try Data(contentsOf: URL(fileURLWithPath: mainCf)) == original)
        var again = try outside(["check"] + wire)
        for _ in 0..<20 where !again.stdout.contains("→ 250") {
            usleep(200_000)
            again = try outside(["check"] + wire)
        }
        #expect(again.status == 2 && again.stdout.contains("RCPT TO:<probe@elsewhere.example> → 250"), "\(again)")
    }
}
