import Foundation
import Testing

/// U-47 / SRV-009 on the wire: a real postfix, and an SMTP client placed outside the host's own
/// networks in a network namespace the test creates (a veth pair; traffic stays between the
/// two ends). The client asks MAIL FROM an outside sender and RCPT TO an outside domain, then
/// RSET: 250 before the fix (the world in mynetworks), 454 "Relay access denied" after (refused), 250 again after rollback.
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
        #expect(before.stdout.contains("fail  smtp \(net.hostAddress):\(port)  \"MAIL FROM:<> RCPT TO:<probe@elsewhere.example> → 250"), "\(before)")
        #expect(before.stdout.contains("mynetworks holds 0.0.0.0/0 (the whole Internet)"), "\(before)")

        // apply: the world leaves mynetworks (nothing else), postfix reloads, and the probe
        // from outside verifies that relaying is refused.
        let apply = try outside(["apply", "--yes"] + wire)
        #expect(apply.status == 0, "\(apply)\n\(pf.logTail())")
        let fixed = try String(contentsOfFile: mainCf, encoding: .utf8)
        #expect(fixed == String(decoding: original, as: UTF8.self).replacingOccurrences(
            of: "mynetworks = 127.0.0.0/8 [::1]/128 0.0.0.0/0\n", with: "mynetworks = 127.0.0.0/8 [::1]/128\n"), "\(fixed)")
        // Debian's smtpd_relay_restrictions ends in defer_unauth_destination: 454 "Relay access
        // denied", a refusal with a temporary code (asked once, not again).
        let after = try outside(["check"] + wire)
        #expect(after.status == 0, "\(after)")
        #expect(after.stdout.contains("pass  smtp \(net.hostAddress):\(port)  \"MAIL FROM:<> RCPT TO:<probe@elsewhere.example> → 454 4.7.1"), "\(after)")
        #expect(after.stdout.contains("pass  postfix /etc/postfix/main.cf"), "\(after)")

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

    /// sendmail or exim (`mta`, made open already; `original` its file's bytes) asked from
    /// outside: 250 before, `refusal` after apply (with the file as `fixed`), 250 again after
    /// rollback, and the file byte for byte.
    func roundTrip(_ mta: ExtractedMTA, _ net: OutsideNetwork, original: Data, fixed: String, refusal: String,
                   layingEtc: Bool = false, beforeSays: String? = nil) throws {
        let backups = try TempDir("relay-wire-\(mta.kind.rawValue)")
        defer { backups.remove() }
        func outside(_ args: [String]) throws -> CommandResult {
            let playbooks = ["check", "plan", "apply"].contains(args[0]) ? ["--playbooks", Repo.playbooks] : []
            return try mta.run(["ip", "netns", "exec", net.name, Repo.binary] + args + playbooks,
                               environment: ["MTAGUARD_BACKUPS": backups.path], layingEtc: layingEtc)
        }
        let wire = ["--item", "U-47", "--smtp-port", String(mta.port), "--smtp-host", net.hostAddress]
        let before = try outside(["check"] + wire)
        #expect(before.status == 2, "\(before)\n\(mta.logs())")
        #expect(before.stdout.contains("RCPT TO:<probe@elsewhere.example> → 250"), "\(before)\n\(mta.logs())")
        if let beforeSays { #expect(before.stdout.contains(beforeSays), "\(before)") }

        let apply = try outside(["apply", "--yes"] + wire)
        #expect(apply.status == 0, "\(apply)\n\(mta.logs())")
        #expect(try String(contentsOfFile: mta.configFile, encoding: .utf8) == fixed)
        let after = try outside(["check"] + wire)
        #expect(after.status == 0, "\(after)")
        #expect(after.stdout.contains("RCPT TO:<probe@elsewhere.example> → \(refusal)"), "\(after)")

        let id = try #require(apply.stdout.split(separator: "\n").first { $0.hasPrefix("run ") }.map { String($0.dropFirst(4)) })
        let rollback = try outside(["rollback", id])
        #expect(rollback.status == 0, "\(rollback)")
        #expect(try Data(contentsOf: URL(fileURLWithPath: mta.configFile)) == original)
        let again = try outside(["check"] + wire)
        #expect(again.status == 2 && again.stdout.contains("RCPT TO:<probe@elsewhere.example> → 250"), "\(again)")
    }

    /// sendmail: its check_rcpt rule that refuses what no relay check allowed commented out
    /// (an open relay), run by the bridge on the host's end of the veth pair so that sendmail
    /// sees the client's outside address: the rule is put back.
    @Test func anOpenSendmailRelayIsClosedAndOpenAgainAfterRollback() throws {
        let net = try OutsideNetwork()
        defer { net.remove() }
        let mta = try ExtractedMTA.sendmail(address: net.hostAddress)
        defer { mta.stop() }
        let deny = "R$*\t\t\t$#error $@ 5.7.1 $: \"550 Relaying denied\"\n"
        let built = try String(contentsOfFile: mta.configFile, encoding: .utf8)
        #expect(built.components(separatedBy: "\n" + deny).count == 2, "one deny rule in the built cf")
        let open = built.replacingOccurrences(of: "\n" + deny, with: "\n#" + deny)
        try Data(open.utf8).write(to: URL(fileURLWithPath: mta.configFile))
        try roundTrip(mta, net, original: Data(open.utf8), fixed: built, refusal: "550 5.7.1",
                      beforeSays: "the rule that refuses what no relay check allowed is commented out")
    }

    /// exim with the world in its relay networks (Debian's template, MAIN_RELAY_NETS), seen
    /// through an /etc overlay where Debian's exim4 reads it: the world leaves the macro.
    @Test func anOpenEximRelayIsClosedAndOpenAgainAfterRollback() throws {
        let net = try OutsideNetwork()
        defer { net.remove() }
        let mta = try ExtractedMTA.exim(macros: ["MAIN_RELAY_NETS = 0.0.0.0/0"], address: net.hostAddress)
        defer { mta.stop() }
        #expect(mta.configFile == mta.root + "/etc/exim4/exim4.conf")
        let original = try Data(contentsOf: URL(fileURLWithPath: mta.configFile))
        let fixed = String(decoding: original, as: UTF8.self).replacingOccurrences(
            of: "MAIN_RELAY_NETS = 0.0.0.0/0\n", with: "MAIN_RELAY_NETS = 127.0.0.1 : ::::1\n")
        try roundTrip(mta, net, original: original, fixed: fixed, refusal: "550", layingEtc: true)
    }
}
