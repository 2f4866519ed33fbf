import Foundation
import Testing
@testable import MTAGuard

/// Each host's SMTP probe address: `mtaguard_smtp_host` from the inventory (an IP address or a
/// host name, nothing else), refused with file and line when it is anything else; `--smtp-host`
/// only without an inventory. Probed against a scripted server on a kernel-chosen 127.0.0.1 port.
@Suite struct SMTPProbeAddressTests {
    @Test func onlyAddressesAndHostNames() {
        for good in ["192.0.2.25", "2001:db8::25", "[2001:db8::25]", "::1", "mx1.example.com", "mx1.example.com.", "localhost",
                     "a-b.example", String(repeating: "a", count: 63) + ".example"] {
            #expect(SMTPProbeAddress(good) != nil, "\(good)")
        }
        #expect(SMTPProbeAddress("[2001:db8::25]")?.text == "2001:db8::25")
        for bad in ["", "-oProxyCommand=x", "mx 1.example", "mx..example", ".example", "10.0.0.300", "1.2.3", "$(touch /tmp/x)",
                    "a_b.example", "mx1.example.com:25", "-mx.example", "mx-.example", "[mx1.example.com]", "mx1.example;id",
                    "mx1\n.example", String(repeating: "a", count: 64) + ".example", "例え.example", "'mx'"] {
            #expect(SMTPProbeAddress(bad) == nil, "\(bad.debugDescription)")
        }
    }

    @Test func theInventoryGivesEachHostItsAddress() throws {
        let inv = try Inventory.parse(file: "hosts", text: """
            [mail]
            mx1 ansible_host=127.0.0.9 mtaguard_smtp_host=192.0.2.25
            mx2 ansible_host=127.0.0.10
            mx3 ansible_host=127.0.0.11 mtaguard_smtp_host=smtp.mx3.example

            """)
        #expect(inv.hosts.map(\.smtpHost?.text) == ["192.0.2.25", nil, "smtp.mx3.example"])
    }

    @Test func aBadAddressIsRefusedWithFileAndLine() {
        let cases: [(String, String, String)] = [
            ("hosts", "[mail]\nmx1 mtaguard_smtp_host='mx1;touch /tmp/p'\n", "hosts:2"),
            ("hosts", "[mail:vars]\nmtaguard_smtp_host=10.0.0.300\n", "hosts:2"),
            ("inv.yml", "all:\n  hosts:\n    mx1: {mtaguard_smtp_host: 'a b'}\n", "inv.yml:3"),
        ]
        for (file, text, place) in cases {
            let message: String
            do {
                _ = try Inventory.parse(file: file, text: text)
                message = "no error"
            } catch { message = "\(error)" }
            #expect(message.hasPrefix(place), "\(message)")
            #expect(message.contains("mtaguard_smtp_host '") && message.contains("' is neither an IP address nor a host name"), "\(message)")
            #expect(message.contains("such as 192.0.2.25"), "\(message)")
        }
    }

    /// The probe goes to each host's own `mtaguard_smtp_host`, else to the address the host is
    /// reached at: mx1's variable names the scripted server; mx2 has none, so its probe goes to
    /// its ansible_host, where nothing listens.
    @Test func eachHostIsProbedAtItsOwnAddress() async throws {
        let server = try FakeSMTPServer(greeting: "220 mx1.example.test ESMTP", replies: [
            "EHLO": "250 mx1.example.test", "VRFY": "252 2.0.0 root", "EXPN": "502 5.5.2 no",
            "MAIL": "250 2.1.0 Ok", "RCPT": "554 5.7.1 Relay access denied", "RSET": "250 2.0.0 Ok",
        ])
        var planner = Planner(playbooks: [try PlaybookLoader.load(file: Repo.playbooks + "/u-47.yaml")])
        planner.smtpPort = server.port
        let transport = try SSHTransport()
        let mx1 = SSHHost(name: "mx1", target: SSHTarget(address: "127.0.0.9"), transport: transport,
                          variables: ["mtaguard_smtp_host": "127.0.0.1"])
        let mx2 = SSHHost(name: "mx2", target: SSHTarget(address: "127.0.0.9"), transport: transport)

        var one = SMTPRefusalCheck(planner: planner)
        await one.prepare(mx1)
        #expect(one.place == "127.0.0.1:\(server.port)")
        #expect(try one.answer?.get().relay?.code == 554)
        var two = SMTPRefusalCheck(planner: planner)
        await two.prepare(mx2)
        #expect(two.place == "127.0.0.9:\(server.port)")
        guard case .failure(let error)? = two.answer else {
            Issue.record("mx2 was probed at the server's address: \(String(describing: two.answer))")
            return
        }
        #expect(error.description.contains("127.0.0.9:\(server.port)"), "\(error)")
    }

    /// Through the whole fleet path (inventory → SSH host → probe): two lab hosts over real
    /// sshd, h1 with mtaguard_smtp_host=127.0.0.1 (the scripted server) and h2 with 127.0.0.2
    /// (nothing listens there). Each is probed at its own address; the server saw one session.
    @Test func aFleetProbesEachHostAtItsInventoryAddress() throws {
        let server = try FakeSMTPServer(greeting: "220 h1.example.test ESMTP", replies: [
            "EHLO": "250 h1.example.test", "VRFY": "502 5.5.1 VRFY command is disabled", "EXPN": "502 5.5.2 no",
        ])
        let lab = try SSHLab.start(hosts: ["h1", "h2"])
        defer { lab.stop() }
        let backups = try TempDir("probe-address")
        defer { backups.remove() }
        for h in ["h1", "h2"] { try PostfixDefaults.populate(lab.host(h).root + "/etc/postfix") }
        let lines = try String(contentsOfFile: lab.inventoryPath, encoding: .utf8).split(separator: "\n").map { line in
            line.hasPrefix("h1 ") ? line + " mtaguard_smtp_host=127.0.0.1" : line.hasPrefix("h2 ") ? line + " mtaguard_smtp_host=127.0.0.2" : line
        }
        let inventory = try backups.write("inventory.ini", lines.joined(separator: "\n") + "\n")
        let r = try mtaguard(["check", "--item", "SRV-005", "-i", inventory, "--ssh-config", lab.sshConfigPath, "--connect-timeout", "60",
                              "--smtp-port", String(server.port)], backups: backups.path)
        #expect(r.stdout.contains("pass  smtp 127.0.0.1:\(server.port)  \"VRFY root → 502 5.5.1 VRFY command is disabled\""), "\(r)")
        #expect(r.stdout.contains("error smtp 127.0.0.2:\(server.port)"), "\(r)")
        #expect(r.stdout.contains("SMTP probe of 127.0.0.2:\(server.port): connection refused"), "\(r)")
        #expect(server.received() == ["EHLO mtaguard.invalid", "VRFY root", "EXPN root", "QUIT"])
    }
}
