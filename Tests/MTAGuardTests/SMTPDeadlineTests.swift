import Foundation
import Testing

/// Bounded waiting (issue 26): every SMTP session has an overall deadline (`--smtp-deadline`),
/// and probes run on threads of their own, never on the cooperative pool. In a fleet over real
/// SSH, one host's SMTP server drips its greeting a byte a second (each read is quick, the
/// session never completes) and another's port drops the connection attempt (a full accept
/// queue: the kernel drops the SYN, as a firewall does); both are 오류 naming the deadline, and
/// the honest host is judged from its server's answers.
@Suite struct SMTPDeadlineTests {
    /// A drip server on 127.0.0.2:PORT and a dropping one on 127.0.0.3:PORT, in one python3
    /// process of the test's own, stopped by its pid.
    static let servers = #"""
        import socket, sys, threading, time
        port = int(sys.argv[1])
        drip = socket.socket(); drip.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        drip.bind(("127.0.0.2", port)); drip.listen(8)
        drop = socket.socket(); drop.bind(("127.0.0.3", port)); drop.listen(0)
        # Fill the accept queue (never accepted): the next SYN is dropped.
        filler = socket.create_connection(("127.0.0.3", port))
        def serve(c):
            try:
                while True:
                    for b in b"220 drip.example.test ESMTP\r\n":
                        c.send(bytes([b])); time.sleep(1)
            except OSError:
                pass
        print("ready", flush=True)
        while True:
            c, _ = drip.accept()
            threading.Thread(target=serve, args=(c,), daemon=True).start()
        """#

    @Test func aSlowServerAndADroppingPortCostTheirDeadlineOnly() throws {
        let honest = try FakeSMTPServer(greeting: "220 ok.example.test ESMTP", replies: [
            "EHLO": "250 ok.example.test", "VRFY": "502 5.5.1 VRFY command is disabled", "EXPN": "502 5.5.2 no",
        ])
        let dir = try TempDir("smtp-deadline")
        defer { dir.remove() }
        let script = try dir.write("servers.py", Data(Self.servers.utf8))
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", script, String(honest.port)]
        let out = Pipe()
        process.standardOutput = out
        try process.run()
        defer { kill(process.processIdentifier, SIGKILL); process.waitUntilExit() }
        let ready = String(decoding: out.fileHandleForReading.availableData, as: UTF8.self)
        try #require(ready.hasPrefix("ready"), "the servers did not start: \(ready)")

        let hosts = ["ok", "drip", "drop"]
        let lab = try SSHLab.start(hosts: hosts)
        defer { lab.stop() }
        for h in hosts { try PostfixDefaults.populate(lab.host(h).root + "/etc/postfix") }
        let address = ["ok": "127.0.0.1", "drip": "127.0.0.2", "drop": "127.0.0.3"]
        let lines = try String(contentsOfFile: lab.inventoryPath, encoding: .utf8).split(separator: "\n").map { line -> String in
            guard let h = hosts.first(where: { line.hasPrefix($0 + " ") }) else { return String(line) }
            return line + " mtaguard_smtp_host=" + address[h]!
        }
        let inventory = try dir.write("inventory.ini", Data((lines.joined(separator: "\n") + "\n").utf8))
        let r = try mtaguard(["check", "--item", "SRV-005", "-i", inventory, "--ssh-config", lab.sshConfigPath, "--connect-timeout", "60",
                              "--smtp-port", String(honest.port), "--smtp-deadline", "3", "--verbose"], backups: dir.path)
        #expect(r.stdout.contains("pass  smtp 127.0.0.1:\(honest.port)  \"VRFY root → 502 5.5.1 VRFY command is disabled\""), "\(r)")
        for place in ["127.0.0.2", "127.0.0.3"] {
            #expect(r.stdout.contains("error smtp \(place):\(honest.port)"), "\(place): \(r)")
            #expect(r.stdout.contains("SMTP probe of \(place):\(honest.port): no complete answer within the 3 s one probe may take"), "\(place): \(r)")
        }
        #expect(r.stdout.contains("(reading the greeting)") || r.stdout.contains("greeting"), "\(r)")
        #expect(r.stdout.contains("(connecting)"), "\(r)")
        #expect(honest.received() == ["EHLO mtaguard.invalid", "VRFY root", "EXPN root", "QUIT"])
    }
}
