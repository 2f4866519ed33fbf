// A tiny blocking SMTP client for probing a server on the loopback interface.
//
//     let client = try SMTPClient(port: instance.port)   // reads the greeting
//     defer { client.close() }                            // sends QUIT
//     let ehlo = try client.send("EHLO test.example")
//     #expect(ehlo.code == 250 && !ehlo.lines.contains("VRFY"))
//
// It is for session probes only (EHLO, HELO, VRFY, EXPN, NOOP, RSET, HELP; no
// TLS): it refuses to send MAIL, RCPT, DATA or BDAT, so a test can never queue
// a message by accident.
//
// Every connect, read and write has a timeout (default 5 s).

#if canImport(Glibc)
import Glibc
#endif

/// One SMTP reply. `lines` holds the text of each line WITHOUT the code and
/// separator: "250-PIPELINING" / "250 CHUNKING" give "PIPELINING" / "CHUNKING";
/// `raw` holds the lines exactly as received (without CRLF).
struct SMTPReply: Sendable, Equatable, CustomStringConvertible {
    var code: Int
    var lines: [String]
    var raw: [String] = []

    /// All lines joined by "\n".
    var text: String { lines.joined(separator: "\n") }

    /// For an EHLO reply: the extension keywords (first word of each line
    /// after the first, upper-cased), e.g. ["PIPELINING", "SIZE", "VRFY", ...].
    var ehloKeywords: [String] {
        lines.dropFirst().compactMap { $0.split(separator: " ").first.map { $0.uppercased() } }
    }

    var description: String { raw.isEmpty ? "\(code) \(text)" : raw.joined(separator: "\n") }
}

enum SMTPError: Error, CustomStringConvertible {
    /// connect(2) failed; `code` is the errno (ECONNREFUSED when nothing listens).
    case connect(port: UInt16, code: Int32)
    case timeout(String)
    case closedByServer
    case io(String, code: Int32)
    case malformedReply(String)
    case unexpectedGreeting(SMTPReply)
    case forbiddenCommand(String)
    case notConnected

    var description: String {
        switch self {
        case let .connect(port, code): return "connect 127.0.0.1:\(port): \(String(cString: strerror(code)))"
        case let .timeout(what): return "timeout while \(what)"
        case .closedByServer: return "connection closed by server"
        case let .io(what, code): return "\(what): \(String(cString: strerror(code)))"
        case let .malformedReply(line): return "malformed SMTP reply line: \(line.debugDescription)"
        case let .unexpectedGreeting(reply): return "unexpected greeting: \(reply)"
        case let .forbiddenCommand(line): return "SMTPClient refuses to send \(line.debugDescription)"
        case .notConnected: return "not connected"
        }
    }

    /// True when the connection was refused (nothing listening on the port).
    var isConnectionRefused: Bool {
        if case let .connect(_, code) = self { return code == ECONNREFUSED }
        return false
    }
}

final class SMTPClient {
    let host: String
    let port: UInt16
    let timeout: Double
    /// The server's greeting (any code; check `greeting.code == 220`).
    private(set) var greeting: SMTPReply = SMTPReply(code: 0, lines: [])

    private var fd: Int32 = -1
    private var buffer: [UInt8] = []

    /// Connect to 127.0.0.1:`port` and read the (possibly multi-line) greeting.
    /// `host`: the dotted IPv4 address to connect to.
    init(port: UInt16, timeout: Double = 5, host: String = "127.0.0.1") throws {
        self.host = host
        self.port = port
        self.timeout = timeout
        try connectSocket()
        do {
            greeting = try readReply()
        } catch {
            closeSocket()
            throw error
        }
    }

    deinit { closeSocket() }

    /// Send one command line (without CRLF) and read its reply.
    /// `envelope`: MAIL and RCPT may be sent too (a relay question); DATA and BDAT never, so
    /// nothing is queued.
    func send(_ line: String, envelope: Bool = false) throws -> SMTPReply {
        guard fd >= 0 else { throw SMTPError.notConnected }
        guard !line.contains("\r"), !line.contains("\n") else { throw SMTPError.forbiddenCommand(line) }
        let verb = line.split(separator: " ", maxSplits: 1).first.map { $0.uppercased() } ?? ""
        let forbidden = envelope ? ["DATA", "BDAT"] : ["MAIL", "RCPT", "DATA", "BDAT"]
        guard !forbidden.contains(verb) else { throw SMTPError.forbiddenCommand(line) }
        try writeAll(Array((line + "\r\n").utf8))
        return try readReply()
    }

    /// Send QUIT (best effort, reply read with a short wait) and close. Idempotent.
    func close() {
        guard fd >= 0 else { return }
        if (try? writeAll(Array("QUIT\r\n".utf8))) != nil {
            _ = try? readReply()
        }
        closeSocket()
    }

    // MARK: - socket plumbing

    private func connectSocket() throws {
        let s = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard s >= 0 else { throw SMTPError.io("socket", code: errno) }

        // Non-blocking connect so that it can time out.
        let flags = fcntl(s, F_GETFL, 0)
        _ = fcntl(s, F_SETFL, flags | O_NONBLOCK)

        guard var addr = ipv4Address(host, port: port) else { throw SMTPError.io("not an IPv4 address: \(host)", code: EINVAL) }
        let rc = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                Glibc.connect(s, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        if rc != 0 {
            let err = errno
            guard err == EINPROGRESS else {
                Glibc.close(s)
                throw SMTPError.connect(port: port, code: err)
            }
            guard try waitFor(s, events: Int16(POLLOUT), what: "connecting to 127.0.0.1:\(port)", closeOnFail: true) else {
                Glibc.close(s)
                throw SMTPError.timeout("connecting to 127.0.0.1:\(port)")
            }
            var soError: Int32 = 0
            var len = socklen_t(MemoryLayout<Int32>.size)
            getsockopt(s, SOL_SOCKET, SO_ERROR, &soError, &len)
            if soError != 0 {
                Glibc.close(s)
                throw SMTPError.connect(port: port, code: soError)
            }
        }
        _ = fcntl(s, F_SETFL, flags)  // back to blocking; reads/writes use poll for timeouts
        fd = s
    }

    private func closeSocket() {
        if fd >= 0 {
            Glibc.close(fd)
            fd = -1
        }
    }

    /// poll() one descriptor; false on timeout.
    private func waitFor(_ s: Int32, events: Int16, what: String, closeOnFail: Bool = false) throws -> Bool {
        var pfd = pollfd(fd: s, events: events, revents: 0)
        let deadline = monotonicNow() + timeout
        while true {
            let remaining = deadline - monotonicNow()
            if remaining <= 0 { return false }
            let rc = poll(&pfd, 1, Int32(remaining * 1000) + 1)
            if rc > 0 { return true }
            if rc == 0 { return false }
            if errno == EINTR { continue }
            let err = errno
            if closeOnFail { Glibc.close(s) }
            throw SMTPError.io("poll while \(what)", code: err)
        }
    }

    private func writeAll(_ bytes: [UInt8]) throws {
        var offset = 0
        while offset < bytes.count {
            guard try waitFor(fd, events: Int16(POLLOUT), what: "sending") else {
                throw SMTPError.timeout("sending")
            }
            let n = bytes.withUnsafeBytes { raw in
                Glibc.send(fd, raw.baseAddress! + offset, raw.count - offset, Int32(MSG_NOSIGNAL))
            }
            if n > 0 {
                offset += n
            } else if n < 0 && (errno == EINTR || errno == EAGAIN) {
                continue
            } else {
                throw SMTPError.io("send", code: n < 0 ? errno : EPIPE)
            }
        }
    }

    private func readLine() throws -> String {
        while true {
            if let nl = buffer.firstIndex(of: UInt8(ascii: "\n")) {
                var lineBytes = Array(buffer[..<nl])
                buffer.removeSubrange(...nl)
                if lineBytes.last == UInt8(ascii: "\r") { lineBytes.removeLast() }
                return String(decoding: lineBytes, as: UTF8.self)
            }
            guard try waitFor(fd, events: Int16(POLLIN), what: "reading reply") else {
                throw SMTPError.timeout("reading reply")
            }
            var chunk = [UInt8](repeating: 0, count: 4096)
            let n = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if n > 0 {
                buffer.append(contentsOf: chunk[..<n])
            } else if n == 0 {
                throw SMTPError.closedByServer
            } else if errno != EINTR && errno != EAGAIN {
                throw SMTPError.io("recv", code: errno)
            }
        }
    }

    /// Read a reply: lines "NNN-text" continue, "NNN text" (or bare "NNN") ends it.
    private func readReply() throws -> SMTPReply {
        var code: Int?
        var lines: [String] = []
        var raw: [String] = []
        while true {
            let line = try readLine()
            let chars = Array(line.utf8)
            guard chars.count >= 3, let c = Int(String(decoding: chars[0..<3], as: UTF8.self)),
                  chars[0..<3].allSatisfy({ $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") })
            else { throw SMTPError.malformedReply(line) }
            if let code, code != c { throw SMTPError.malformedReply(line) }
            code = c
            raw.append(line)
            let separator: UInt8? = chars.count > 3 ? chars[3] : nil
            lines.append(chars.count > 4 ? String(decoding: chars[4...], as: UTF8.self) : "")
            if separator == UInt8(ascii: "-") { continue }
            guard separator == nil || separator == UInt8(ascii: " ") else { throw SMTPError.malformedReply(line) }
            return SMTPReply(code: c, lines: lines, raw: raw)
        }
    }
}

/// Seconds on the monotonic clock.
func monotonicNow() -> Double {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
}
