import Foundation
import Testing
@testable import MTAGuard

#if canImport(Glibc)
import Glibc
#endif

/// SMTPProbe against a real postfix (PostfixInstance) and against scripted fake servers on
/// kernel-chosen 127.0.0.1 ports.
@Suite struct SMTPProbeTests {
    // MARK: - real postfix

    /// Probes until `until` holds or 5 s pass (after a reload an idle smtpd may serve one more
    /// session with the old configuration); returns the last result.
    func probe(_ pf: PostfixInstance, until: (SMTPProbeResult) -> Bool) throws -> SMTPProbeResult {
        let deadline = Date().addingTimeInterval(5)
        while true {
            let r = try SMTPProbe.probe(host: "127.0.0.1", port: pf.port, timeout: 5)
            if until(r) || Date() >= deadline { return r }
            usleep(50_000)
        }
    }

    func appendToMainCF(_ pf: PostfixInstance, _ line: String) throws {
        let path = pf.configDirectory + "/main.cf"
        var text = try String(contentsOfFile: path, encoding: .utf8)
        if !text.hasSuffix("\n") { text += "\n" }
        text += line + "\n"
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        let reload = try pf.run(["postfix", "reload"])
        #expect(reload.status == 0, "\(reload)\n\(pf.logTail())")
    }

    @Test func stockPostfixAllowsVRFYAndHasNoEXPN() throws {
        let pf = try PostfixInstance.start()
        defer { pf.stop() }
        let r = try SMTPProbe.probe(host: "127.0.0.1", port: pf.port, timeout: 5)
        // Debian's banner: "$myhostname ESMTP $mail_name (Debian/GNU)": no version.
        #expect(r.greeting.contains("ESMTP Postfix"), "\(r)")
        #expect(r.bannerVersion == nil, "\(r)")
        #expect(r.ehloKeywords.contains("PIPELINING"), "\(r)")
        #expect(r.ehloKeywords.contains("VRFY"), "\(r)")
        #expect(r.advertises("vrfy"))
        // VRFY enabled: "252 2.0.0 root" echoes the user: allowed.
        #expect(r.vrfy.code == 252, "\(r)")
        #expect(r.vrfy.text == "2.0.0 root", "\(r)")
        #expect(!r.vrfyRefused)
        // postfix has no EXPN: "500 5.5.2 Error: command not recognized": refused.
        #expect(r.expn.code == 500, "\(r)")
        #expect(r.expn.text == "5.5.2 Error: command not recognized", "\(r)")
        #expect(r.expnRefused)
    }

    @Test func bannerVersionOfPostfix() throws {
        let pf = try PostfixInstance.start()
        defer { pf.stop() }
        let version = try pf.run(["postconf", "-h", "mail_version"]).stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(!version.isEmpty)
        try appendToMainCF(pf, "smtpd_banner = $myhostname ESMTP $mail_name $mail_version")
        let r = try probe(pf) { $0.bannerVersion != nil }
        #expect(r.bannerVersion == "Postfix \(version)", "\(r)")
        #expect(r.greeting.hasSuffix("ESMTP Postfix \(version)"), "\(r)")
    }

    @Test func disableVRFYCommandIsRefused() throws {
        let pf = try PostfixInstance.start()
        defer { pf.stop() }
        try appendToMainCF(pf, "disable_vrfy_command = yes")
        let r = try probe(pf) { $0.vrfy.code == 502 }
        #expect(r.vrfy.code == 502, "\(r)\n\(pf.logTail())")
        #expect(r.vrfy.text == "5.5.1 VRFY command is disabled", "\(r)")
        #expect(r.vrfyRefused)
        #expect(!r.ehloKeywords.contains("VRFY"), "\(r)")
        #expect(!r.advertises("VRFY"))
        #expect(r.expnRefused)
    }

    // MARK: - failures

    @Test func closedPortIsAClearError() throws {
        let port = try freeLoopbackPort()
        let error = try #require(throws: MTAGuardError.self) {
            try SMTPProbe.probe(host: "127.0.0.1", port: port, timeout: 3)
        }
        #expect(error.description.contains("127.0.0.1:\(port)"), "\(error)")
        #expect(error.description.contains("connection refused"), "\(error)")
    }

    @Test func a554GreetingIsAnError() throws {
        let server = try FakeSMTPServer(greeting: "554 5.7.1 mx.example.test: no SMTP service here for you")
        let error = try #require(throws: MTAGuardError.self) {
            try SMTPProbe.probe(host: "127.0.0.1", port: server.port, timeout: 3)
        }
        #expect(error.description.contains("127.0.0.1:\(server.port)"), "\(error)")
        #expect(error.description.contains("554"), "\(error)")
        #expect(error.description.contains("instead of 220"), "\(error)")
        // It still said goodbye, and nothing else.
        #expect(server.received() == ["QUIT"])
    }

    @Test func a421GreetingIsAnError() throws {
        let server = try FakeSMTPServer(greeting: "421 4.3.2 mx.example.test Service not available, closing channel")
        let error = try #require(throws: MTAGuardError.self) {
            try SMTPProbe.probe(host: "127.0.0.1", port: server.port, timeout: 3)
        }
        #expect(error.description.contains("421"), "\(error)")
        #expect(error.description.contains("127.0.0.1:\(server.port)"), "\(error)")
    }

    @Test func aSilentServerTimesOutWithinTheTimeout() throws {
        let server = try FakeSMTPServer(greeting: nil)
        let start = Date()
        let error = try #require(throws: MTAGuardError.self) {
            try SMTPProbe.probe(host: "127.0.0.1", port: server.port, timeout: 1)
        }
        let elapsed = Date().timeIntervalSince(start)
        #expect(elapsed >= 0.9 && elapsed < 3, "took \(elapsed) s")
        #expect(error.description.contains("127.0.0.1:\(server.port)"), "\(error)")
        #expect(error.description.contains("timed out"), "\(error)")
        #expect(error.description.contains("greeting"), "\(error)")
    }

    @Test func aServerThatStallsAfterEHLOTimesOut() throws {
        let server = try FakeSMTPServer(greeting: "220 slow.example.test ESMTP", replies: ["EHLO": nil])
        let start = Date()
        let error = try #require(throws: MTAGuardError.self) {
            try SMTPProbe.probe(host: "127.0.0.1", port: server.port, timeout: 1)
        }
        #expect(Date().timeIntervalSince(start) < 3)
        #expect(error.description.contains("timed out"), "\(error)")
        #expect(error.description.contains("EHLO"), "\(error)")
    }

    @Test func a421MidSessionIsAnError() throws {
        let server = try FakeSMTPServer(greeting: "220 mx.example.test ESMTP", replies: [
            "EHLO": "250 mx.example.test",
            "VRFY": "421 4.7.0 mx.example.test Too many errors, closing connection",
        ])
        let error = try #require(throws: MTAGuardError.self) {
            try SMTPProbe.probe(host: "127.0.0.1", port: server.port, timeout: 3)
        }
        #expect(error.description.contains("421"), "\(error)")
        #expect(error.description.contains("VRFY"), "\(error)")
    }

    /// A server that refuses even the null sender was not asked the relay question: neither
    /// refused nor allowed, and the RCPT is never sent.
    @Test func aRefusedNullSenderAsksNoRelayQuestion() throws {
        let server = try FakeSMTPServer(greeting: "220 mx.example.test ESMTP", replies: [
            "EHLO": "250 mx.example.test", "VRFY": "252 2.0.0 root", "EXPN": "502 5.5.2 no",
            "MAIL": "553 5.1.8 sender refused", "RCPT": "250 2.1.5 ok", "RSET": "250 2.0.0 ok",
        ])
        let r = try SMTPProbe.probe(host: "127.0.0.1", port: server.port, timeout: 3, relay: true)
        #expect(r.relaySenderRefused)
        #expect(r.relayRefused == nil)
        #expect(r.relay?.code == 553)
        let open = try FakeSMTPServer(greeting: "220 mx.example.test ESMTP", replies: [
            "EHLO": "250 mx.example.test", "VRFY": "252 2.0.0 root", "EXPN": "502 5.5.2 no",
            "MAIL": "250 2.1.0 ok", "RCPT": "250 2.1.5 ok", "RSET": "250 2.0.0 ok",
        ])
        let o = try SMTPProbe.probe(host: "127.0.0.1", port: open.port, timeout: 3, relay: true)
        #expect(!o.relaySenderRefused && o.relayRefused == false && o.relay?.code == 250)
    }

    @Test func somethingThatIsNotSMTPIsAnError() throws {
        let server = try FakeSMTPServer(greeting: "SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u3")
        let error = try #require(throws: MTAGuardError.self) {
            try SMTPProbe.probe(host: "127.0.0.1", port: server.port, timeout: 3)
        }
        #expect(error.description.contains("not an SMTP reply"), "\(error)")
    }

    // MARK: - other servers' dialects (scripted with their real replies)

    @Test func sendmailNovrfyNoexpn() throws {
        let server = try FakeSMTPServer(
            greeting: "220-mail.example.test ESMTP Sendmail 8.17.1.9/8.17.1.9; Tue, 7 Jan 2025 10:00:00 +0900\r\n220 unauthorized use prohibited",
            replies: [
                "EHLO": "250-mail.example.test Hello localhost [127.0.0.1], pleased to meet you\r\n250-ENHANCEDSTATUSCODES\r\n250-PIPELINING\r\n250-8BITMIME\r\n250-SIZE\r\n250-DSN\r\n250-DELIVERBY\r\n250 HELP",
                "VRFY": "252 2.5.2 Cannot VRFY user; try RCPT to attempt delivery (or try finger)",
                "EXPN": "502 5.7.0 Sorry, we do not allow this operation",
            ])
        let r = try SMTPProbe.probe(host: "127.0.0.1", port: server.port, timeout: 3)
        #expect(r.greeting == "mail.example.test ESMTP Sendmail 8.17.1.9/8.17.1.9; Tue, 7 Jan 2025 10:00:00 +0900\nunauthorized use prohibited")
        #expect(r.bannerVersion == "Sendmail 8.17.1.9/8.17.1.9")
        #expect(r.ehloKeywords == ["ENHANCEDSTATUSCODES", "PIPELINING", "8BITMIME", "SIZE", "DSN", "DELIVERBY", "HELP"])
        #expect(r.vrfy == .init(code: 252, text: "2.5.2 Cannot VRFY user; try RCPT to attempt delivery (or try finger)"))
        #expect(r.vrfyRefused)
        #expect(r.expnRefused)
        // The probe's whole conversation: never MAIL, RCPT, DATA or BDAT; QUIT at the end.
        #expect(server.received() == ["EHLO mtaguard.invalid", "VRFY root", "EXPN root", "QUIT"])
    }

    @Test func sendmailAllowingBoth() throws {
        let server = try FakeSMTPServer(
            greeting: "220 mail.example.test ESMTP Sendmail 8.15.2/8.15.2/Debian-22ubuntu3; Tue, 7 Jan 2025 10:00:00 +0900",
            replies: [
                "EHLO": "250-mail.example.test Hello\r\n250-VRFY\r\n250 HELP",
                "VRFY": "250 2.1.5 root <root@mail.example.test>",
                "EXPN": "250 2.1.5 root <root@mail.example.test>",
            ])
        let r = try SMTPProbe.probe(host: "127.0.0.1", port: server.port, timeout: 3, heloName: "audit.example")
        #expect(r.bannerVersion == "Sendmail 8.15.2/8.15.2/Debian-22ubuntu3")
        #expect(!r.vrfyRefused)
        #expect(!r.expnRefused)
        #expect(server.received().first == "EHLO audit.example")
    }

    @Test func eximDefaults() throws {
        let server = try FakeSMTPServer(
            greeting: "220 mx.example.test ESMTP Exim 4.96 Tue, 07 Jan 2025 10:00:00 +0900",
            replies: [
                "EHLO": "250-mx.example.test Hello localhost [127.0.0.1]\r\n250-SIZE 52428800\r\n250-8BITMIME\r\n250-PIPELINING\r\n250-PIPE_CONNECT\r\n250-CHUNKING\r\n250 HELP",
                "VRFY": "252 Administrative prohibition",
                "EXPN": "550 Administrative prohibition",
            ])
        let r = try SMTPProbe.probe(host: "127.0.0.1", port: server.port, timeout: 3)
        #expect(r.bannerVersion == "Exim 4.96")
        #expect(r.ehloKeywords.contains("SIZE 52428800"))
        #expect(r.vrfyRefused)
        #expect(r.expnRefused)
    }

    @Test func heloFallbackWhenEHLOIsRefused() throws {
        let server = try FakeSMTPServer(greeting: "220 old.example.test SMTP", replies: [
            "EHLO": "502 5.5.2 Error: command not recognized",
            "HELO": "250 old.example.test",
            "VRFY": "250 <root@old.example.test>",
            "EXPN": "250 <root@old.example.test>",
        ])
        let r = try SMTPProbe.probe(host: "127.0.0.1", port: server.port, timeout: 3)
        #expect(r.ehloKeywords.isEmpty)
        #expect(!r.vrfyRefused)
        #expect(!r.expnRefused)
        #expect(server.received() == ["EHLO mtaguard.invalid", "HELO mtaguard.invalid", "VRFY root", "EXPN root", "QUIT"])
    }

    // MARK: - never a mail transaction

    @Test func theSenderRefusesMailTransactionVerbs() throws {
        let server = try FakeSMTPServer(greeting: "220 mx.example.test ESMTP", replies: ["NOOP": "250 2.0.0 Ok"])
        let session = try SMTPProbe.Session(host: "127.0.0.1", port: server.port, timeout: 3)
        _ = try session.readReply(while: "waiting for the greeting")
        for line in ["MAIL FROM:<a@example.test>", "mail from:<>", "RCPT TO:<root>", "DATA", "BDAT 10 LAST",
                     "NOOP\r\nMAIL FROM:<>", "NOOP\nRCPT TO:<root>"] {
            #expect(throws: MTAGuardError.self, "\(line.debugDescription) must be refused") { try session.send(line) }
        }
        #expect(try session.command("NOOP").code == 250)
        session.quit()
        session.close()
        #expect(server.received() == ["NOOP", "QUIT"])
    }

    @Test func aHeloNameCannotSmuggleCommands() throws {
        for name in ["x\r\nMAIL FROM:<a@b>", "two words", ""] {
            #expect(throws: MTAGuardError.self) {
                try SMTPProbe.probe(host: "127.0.0.1", port: 9, timeout: 1, heloName: name)
            }
        }
    }

    // MARK: - pure rules

    @Test func refusalRule() {
        typealias R = SMTPProbeResult.Reply
        let cases: [(R, Bool, String)] = [
            (R(code: 252, text: "2.0.0 root"), false, "postfix, VRFY enabled"),
            (R(code: 502, text: "5.5.1 VRFY command is disabled"), true, "postfix disable_vrfy_command"),
            (R(code: 500, text: "5.5.2 Error: command not recognized"), true, "postfix EXPN"),
            (R(code: 252, text: "2.5.2 Cannot VRFY user; try RCPT to attempt delivery (or try finger)"), true, "sendmail novrfy"),
            (R(code: 502, text: "5.7.0 Sorry, we do not allow this operation"), true, "sendmail noexpn"),
            (R(code: 250, text: "2.1.5 root <root@mail.example.test>"), false, "sendmail VRFY allowed"),
            (R(code: 252, text: "Administrative prohibition"), true, "exim VRFY default"),
            (R(code: 550, text: "Administrative prohibition"), true, "exim EXPN default"),
            (R(code: 252, text: "2.1.5 Cannot VRFY user, but will take message for <root@example.test>"), true, "Exchange"),
            (R(code: 252, text: "send some mail, i'll try my best"), true, "qmail"),
            (R(code: 252, text: "<root@example.test>"), false, "252 with an address"),
            (R(code: 251, text: "User not local; will forward to <root@elsewhere.test>"), false, "251"),
            (R(code: 450, text: "4.1.1 <root>: Recipient address rejected: lookup failed"), false, "temporary failure"),
            (R(code: 530, text: "5.7.0 Must issue a STARTTLS command first"), true, "5xx"),
        ]
        for (reply, refused, what) in cases {
            #expect(SMTPProbeResult.refuses(reply) == refused, "\(what): \(reply)")
        }
    }

    @Test func bannerVersions() {
        let cases: [(String, String?)] = [
            ("localhost ESMTP Postfix (Debian/GNU)", nil),
            ("mx.example.test ESMTP Postfix", nil),
            ("mx.example.test ESMTP Postfix 3.7.11", "Postfix 3.7.11"),
            ("mx.example.test ESMTP Postfix (3.8.4)", "Postfix 3.8.4"),
            ("mx.example.test ESMTP Sendmail 8.17.1.9/8.17.1.9; Tue, 7 Jan 2025 10:00:00 +0900", "Sendmail 8.17.1.9/8.17.1.9"),
            ("mx.example.test ESMTP Exim 4.96 Tue, 07 Jan 2025 10:00:00 +0900", "Exim 4.96"),
            ("mx.example.test ESMTP Exim 4.94.2 Tue, 07 Jan 2025 10:00:00 +0900", "Exim 4.94.2"),
            ("mx.example.test ESMTP Exim Tue, 07 Jan 2025 10:00:00 +0900", nil),
            ("10.1.2.3 ESMTP ready", nil),
            ("mx.example.test ESMTP ready [10.1.2.3]", nil),
            ("mx.example.test Microsoft ESMTP MAIL Service, Version: 10.0.17763.1 ready at Tue, 7 Jan 2025", "Microsoft 10.0.17763.1"),
            ("mx.example.test ESMTP Sendmail", nil),
            ("mx.example.test", nil),
        ]
        for (greeting, expected) in cases {
            #expect(SMTPProbeResult.bannerVersion(in: greeting) == expected, "\(greeting)")
        }
    }

    @Test func literalAddressesIPv4AndIPv6() throws {
        let v4 = try SMTPProbe.addresses(host: "127.0.0.1", port: 25)
        #expect(v4.count == 1 && v4[0].family == AF_INET)
        for host in ["::1", "[::1]", "2001:db8::25", "[2001:db8::25]"] {
            let v6 = try SMTPProbe.addresses(host: host, port: 2525)
            #expect(v6.count == 1 && v6[0].family == AF_INET6, "\(host)")
            var sin6 = sockaddr_in6()
            withUnsafeMutableBytes(of: &sin6) { dst in
                withUnsafeBytes(of: v6[0].storage) { dst.copyMemory(from: UnsafeRawBufferPointer(rebasing: $0.prefix(dst.count))) }
            }
            #expect(UInt16(bigEndian: sin6.sin6_port) == 2525)
        }
        #expect(SMTPProbe.endpoint("::1", 25) == "[::1]:25")
        #expect(SMTPProbe.endpoint("[2001:db8::25]", 25) == "[2001:db8::25]:25")
        #expect(SMTPProbe.endpoint("127.0.0.1", 25) == "127.0.0.1:25")
        #expect(throws: MTAGuardError.self) { try SMTPProbe.addresses(host: "", port: 25) }
    }

    @Test func resultIsCodable() throws {
        let r = SMTPProbeResult(greeting: "x ESMTP", bannerVersion: nil, ehloKeywords: ["VRFY"],
                                vrfy: .init(code: 252, text: "2.0.0 root"), expn: .init(code: 502, text: "nope"))
        let data = try JSONEncoder().encode(r)
        #expect(try JSONDecoder().decode(SMTPProbeResult.self, from: data) == r)
    }
}

/// A scripted SMTP server on a kernel-chosen 127.0.0.1 port, run by a thread: for each
/// connection in turn (one per element of `sessions`) it sends `greeting` (nothing when nil),
/// then answers each line by its verb from that session's replies (a nil reply: stay silent; an
/// unknown verb: 502), answers QUIT with 221 and closes. It records every line it receives.
/// Waits for each connection as long as the test process runs (a test that starts it may wait
/// many minutes for a thread of the cooperative pool while the whole suite runs on two cores),
/// and gives up after 10 s of silence within one; `received()` waits at most 120 s, so a test
/// can never hang on it.
final class FakeSMTPServer: @unchecked Sendable {
    let port: UInt16
    private let lock = NSLock()
    private var lines: [String] = []
    private let finished = DispatchSemaphore(value: 0)

    convenience init(greeting: String?, replies: [String: String?] = [:]) throws {
        try self.init(greeting: greeting, sessions: [replies])
    }

    init(greeting: String?, sessions: [[String: String?]]) throws {
        let listener = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard listener >= 0 else { throw LoopbackSocketError(operation: "socket", code: errno) }
        var addr = loopbackAddress(port: 0)
        let bound = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(listener, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard bound == 0, listen(listener, 4) == 0 else {
            let e = errno
            close(listener)
            throw LoopbackSocketError(operation: "bind/listen 127.0.0.1:0", code: e)
        }
        var len = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(listener, $0, &len) }
        }
        port = UInt16(bigEndian: addr.sin_port)
        let thread = Thread { [self] in
            defer { finished.signal() }
            defer { close(listener) }
            for replies in sessions {
                guard Self.wait(listener, Int16(POLLIN), milliseconds: -1) else { return }
                let fd = accept(listener, nil, nil)
                guard fd >= 0 else { return }
                Self.serve(fd, greeting: greeting, replies: replies) { line in lock.withLock { lines.append(line) } }
                close(fd)
            }
        }
        thread.start()
    }

    /// One connection: the greeting, then a reply per line until QUIT or EOF.
    private static func serve(_ fd: Int32, greeting: String?, replies: [String: String?], record: (String) -> Void) {
        if let greeting { write(fd, greeting + "\r\n") }
        var buffer: [UInt8] = []
        while let line = readLine(fd, &buffer) {
            record(line)
            let verb = line.split(separator: " ").first.map { $0.uppercased() } ?? ""
            if verb == "QUIT" {
                write(fd, "221 2.0.0 Bye\r\n")
                return
            }
            if let reply = replies[verb] {
                if let reply { write(fd, reply + "\r\n") }
            } else {
                write(fd, "502 5.5.2 Error: command not recognized\r\n")
            }
        }
    }

    /// The lines received, once every connection is over (waits up to 120 s).
    func received() -> [String] {
        _ = finished.wait(timeout: .now() + 120)
        finished.signal()
        return lock.withLock { lines }
    }

    private static func wait(_ fd: Int32, _ events: Int16, milliseconds: Int32 = 10_000) -> Bool {
        var pfd = pollfd(fd: fd, events: events, revents: 0)
        return poll(&pfd, 1, milliseconds) > 0
    }

    private static func write(_ fd: Int32, _ text: String) {
        let bytes = Array(text.utf8)
        _ = bytes.withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
    }

    /// A line without CRLF; nil at EOF, on error, or after 10 s of silence.
    private static func readLine(_ fd: Int32, _ buffer: inout [UInt8]) -> String? {
        while true {
            if let nl = buffer.firstIndex(of: UInt8(ascii: "\n")) {
                var line = Array(buffer[..<nl])
                buffer.removeSubrange(...nl)
                if line.last == UInt8(ascii: "\r") { line.removeLast() }
                return String(decoding: line, as: UTF8.self)
            }
            guard wait(fd, Int16(POLLIN)) else { return nil }
            var chunk = [UInt8](repeating: 0, count: 1024)
            let n = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            guard n > 0 else { return nil }
            buffer.append(contentsOf: chunk[..<n])
        }
    }
}
