import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// What an SMTP server said to mtaguard's probe: the greeting, the EHLO extensions, and its
/// answers to `VRFY root` and `EXPN root` (SRV-005), plus any version number the banner leaks
/// (U-45 / SRV-005's banner check).
public struct SMTPProbeResult: Sendable, Codable, Equatable {
    /// The 220 greeting's text without the reply code; the lines of a multi-line greeting
    /// joined by "\n". E.g. "localhost ESMTP Postfix (Debian/GNU)".
    public var greeting: String
    /// A version number leaked in the banner, with the product word before it:
    /// "Postfix 3.7.11", "Sendmail 8.17.1.9/8.17.1.9", "Exim 4.96"; nil if none.
    public var bannerVersion: String?
    /// The EHLO reply's extension lines as sent (after the first line), e.g.
    /// ["PIPELINING", "SIZE 10240000", "VRFY", "ETRN", ...]; empty when the server only took HELO.
    public var ehloKeywords: [String]
    /// The reply to `VRFY root`.
    public var vrfy: Reply
    /// The reply to `EXPN root`.
    public var expn: Reply

    public struct Reply: Sendable, Codable, Equatable {
        public var code: Int
        /// The reply's text without the code; lines joined by "\n". Includes the enhanced
        /// status code when the server sends one ("2.0.0 root").
        public var text: String

        public init(code: Int, text: String) {
            self.code = code
            self.text = text
        }
    }

    /// What VRFY and EXPN were asked about: `root`, or `root@DOMAIN` where the server refused
    /// the bare name as an argument (501).
    public var vrfyAsked = SMTPProbeResult.probedUser
    public var expnAsked = SMTPProbeResult.probedUser
    /// With `relay`: the reply that decided the relay attempt (`RCPT TO` an outside domain), or
    /// the `MAIL FROM` that refused the null sender already; nil when not asked.
    public var relay: Reply?
    /// Whether `relay` is MAIL FROM's refusal: the relay question itself was not asked.
    public var relaySenderRefused = false
    /// What the relay attempt said, for evidence. The sender is the null reverse-path, which an
    /// MTA must accept (RFC 5321 4.5.5) and which no sender-domain check refuses (an outside
    /// sender's domain must resolve for sendmail, and `.example` never does): only the relay
    /// decision answers RCPT.
    public static let relayAttempt = "MAIL FROM:<> RCPT TO:<probe@elsewhere.example>"

    /// Whether the server refused to relay: a 5xx reply to RCPT TO refuses, a 2xx or 3xx
    /// accepts. nil when not asked, when MAIL FROM was refused (the RCPT was never asked), or
    /// when the last answer was a 4xx: deferred (greylisting, a lookup that failed for now) is
    /// neither, whatever the server would do later.
    public var relayRefused: Bool? {
        guard !relaySenderRefused, let relay else { return nil }
        if (400...499).contains(relay.code) { return Self.deniesRelaying(relay.text) ? true : nil }
        return relay.code >= 500
    }

    /// Whether a reply's text says the server refuses to relay (postfix's
    /// `defer_unauth_destination` answers "454 4.7.1 …: Relay access denied" for good): a 4xx
    /// that says so is a refusal with a temporary code, not a deferral to ask again.
    static func deniesRelaying(_ text: String) -> Bool {
        let t = text.lowercased()
        return ["relay access denied", "relaying denied", "relay not permitted", "relaying not permitted", "relaying not allowed",
                "relay denied", "not permitted to relay"].contains { t.contains($0) }
    }

    /// The relay attempts the server deferred (4xx to RCPT TO) before `relay`, oldest first;
    /// empty when the first answer decided. See `GreylistRetry`.
    public var relayDeferred: [RelayTry] = []
    /// Seconds after the first relay attempt that `relay` was asked (0: it was the first).
    public var relayAskedAt: Double = 0
    /// Why mtaguard stopped asking while `relay` was still a 4xx (attempts or deadline spent,
    /// the server gone); nil otherwise.
    public var relayRetryStopped: String?

    /// One deferred relay attempt: when it was asked (seconds after the first) and the reply.
    public struct RelayTry: Sendable, Codable, Equatable {
        public var at: Double
        public var reply: Reply
    }

    public init(
        greeting: String, bannerVersion: String?, ehloKeywords: [String], vrfy: Reply, expn: Reply,
        vrfyAsked: String = SMTPProbeResult.probedUser, expnAsked: String = SMTPProbeResult.probedUser
    ) {
        self.vrfyAsked = vrfyAsked
        self.expnAsked = expnAsked
        self.greeting = greeting
        self.bannerVersion = bannerVersion
        self.ehloKeywords = ehloKeywords
        self.vrfy = vrfy
        self.expn = expn
    }

    /// The user the probe asks about in `VRFY` and `EXPN`.
    public static let probedUser = "root"

    /// Whether the server refused to verify the user. See `refuses(_:user:)` for the rule.
    public var vrfyRefused: Bool { Self.refuses(vrfy) }

    /// Whether the server refused to expand the list. See `refuses(_:user:)` for the rule.
    public var expnRefused: Bool { Self.refuses(expn) }

    /// Whether the EHLO reply offers `keyword` (first word of an extension line, any case).
    public func advertises(_ keyword: String) -> Bool {
        ehloKeywords.contains { $0.split(separator: " ").first?.uppercased() == keyword.uppercased() }
    }

    /// The refusal rule for a VRFY or EXPN reply, settled on the replies of the real servers:
    ///
    /// - 5xx: refused. postfix `disable_vrfy_command = yes` → `502 5.5.1 VRFY command is disabled`;
    ///   postfix has no EXPN at all → `500 5.5.2 Error: command not recognized` (it expands
    ///   nothing, so it counts as refused); sendmail `noexpn` → `502 5.7.0 Sorry, we do not allow
    ///   this operation`; exim's default EXPN → `550 Administrative prohibition`.
    /// - 250 and 251: allowed (the user or list is disclosed).
    /// - 252 ("cannot verify, but will accept"): decided by its text, because both sides use it.
    ///   postfix with VRFY ENABLED answers `252 2.0.0 root`: it echoes the user, so it is allowed.
    ///   sendmail `novrfy` answers `252 2.5.2 Cannot VRFY user; try RCPT to attempt delivery (or
    ///   try finger)` and exim's default is `252 Administrative prohibition`: refused. A refusal
    ///   word (cannot, can't, not, prohibit(ion), disabled, denied, refuse, unable, "try RCPT",
    ///   "send some mail", "will (attempt|take)") makes a 252 refused even if it names the
    ///   address (Exchange: `252 2.1.5 Cannot VRFY user, but will take message for <root@…>`);
    ///   otherwise a 252 that echoes the user (`root`, `<root@…>`) is allowed; a 252 that does
    ///   neither discloses nothing and counts as refused (qmail: `252 send some mail, i'll try
    ///   my best`).
    /// - 4xx: not refused. The command is enabled and the server tried (a temporary lookup
    ///   failure); an audit must not pass a server because its lookup table was down.
    ///   (421, the server closing the session, makes the probe fail instead.)
    /// - Anything else (1xx, 3xx): not refused; no conforming server sends those here.
    public static func refuses(_ reply: Reply, user: String = SMTPProbeResult.probedUser) -> Bool {
        switch reply.code {
        case 500...599:
            return true
        case 252:
            let text = withoutEnhancedCode(reply.text).lowercased()
            if refusalWords.contains(where: { text.contains($0) }) { return true }
            return !echoes(text, user: user.lowercased())
        default:
            return false
        }
    }

    static let refusalWords = [
        "cannot", "can't", "cant ", "can not", "not ", "prohibit", "disabled", "denied", "refuse",
        "unable", "try rcpt", "send some mail", "will attempt", "will take", "unavailable",
    ]

    /// "2.0.0 root" → "root".
    static func withoutEnhancedCode(_ text: String) -> String {
        let t = text.trimmingCharacters(in: .whitespaces)
        guard let space = t.firstIndex(of: " ") ?? (t.isEmpty ? nil : t.endIndex) else { return t }
        let head = t[..<space]
        let parts = head.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 3, parts.allSatisfy({ !$0.isEmpty && $0.allSatisfy(\.isNumber) }) else { return t }
        return String(t[space...]).trimmingCharacters(in: .whitespaces)
    }

    /// Whether `text` names `user` as a word or address: "root", "<root@host>", "Root <root@host>".
    static func echoes(_ text: String, user: String) -> Bool {
        let words = text.split { !($0.isLetter || $0.isNumber || "._-+".contains($0)) }
        return words.contains { $0 == user }
    }

    /// The version a banner leaks: the first token shaped like a version number ("3.7.11",
    /// "8.17.1.9/8.17.1.9", "(4.96)", "v2.1") that follows a product word, with that word:
    /// "Postfix 3.7.11". The first token (the host name, which may be an IP address), tokens in
    /// brackets (address literals) and times/dates are not versions. nil when there is none.
    public static func bannerVersion(in greeting: String) -> String? {
        for line in greeting.split(separator: "\n") {
            let tokens = line.split(whereSeparator: { $0 == " " || $0 == "\t" }).map(String.init)
            var product: String?
            for (i, token) in tokens.enumerated() {
                defer {
                    let word = token.trimmingCharacters(in: CharacterSet(charactersIn: "()[]<>,;:"))
                    if i > 0, word.contains(where: \.isLetter), !genericWords.contains(word.lowercased()) {
                        product = word
                    }
                }
                guard i > 0, !token.hasPrefix("["), let version = versionToken(token) else { continue }
                guard let product else { continue }
                return "\(product) \(version)"
            }
        }
        return nil
    }

    /// Words that sit between a product name and its version without being the product.
    static let genericWords: Set<String> = [
        "version", "ver", "release", "rel", "v", "ready", "at", "esmtp", "smtp", "mail", "service",
    ]

    /// "8.17.1.9/8.17.1.9;" → "8.17.1.9/8.17.1.9", "(3.7.11)" → "3.7.11", "v2.1" → "2.1";
    /// nil for anything that is not a dotted number with at least two parts.
    static func versionToken(_ token: String) -> String? {
        var t = Substring(token)
        while let f = t.first, "(<".contains(f) { t = t.dropFirst() }
        while let l = t.last, ");,:>.".contains(l) { t = t.dropLast() }
        if let f = t.first, f == "v" || f == "V", t.dropFirst().first?.isNumber == true { t = t.dropFirst() }
        let allowed = Set("0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ._/+-~")
        guard !t.isEmpty, t.allSatisfy({ allowed.contains($0) }) else { return nil }
        // It must start with N.N (digits, dot, digit).
        let head = t.prefix { $0.isNumber || $0 == "." }
        let parts = head.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count >= 2, !parts[0].isEmpty, !parts[1].isEmpty,
              parts.prefix(2).allSatisfy({ $0.allSatisfy(\.isASCII) && $0.allSatisfy(\.isNumber) })
        else { return nil }
        return String(t)
    }
}

/// A read-only SMTP session from the control node: connect, read the greeting, EHLO (HELO
/// when EHLO is refused), `VRFY root`, `EXPN root`, QUIT. Plain POSIX sockets; every connect,
/// read and write waits at most `timeout` seconds, and the whole session at most `deadline`.
/// The sockets block their thread: callers run a probe on a thread of its own (`onOwnThread`),
/// never on Swift's cooperative pool, so a slow server holds no other host's work.
///
/// It never sends MAIL, RCPT, DATA or BDAT (the sender refuses them, and any line with CR or
/// LF in it), so a probe can never queue or deliver a message.
public enum SMTPProbe {
    /// Verbs the probe will not send, whatever it is asked.
    /// Never sent: no message is ever transferred.
    public static let forbiddenVerbs: Set<String> = ["DATA", "BDAT"]
    /// The only MAIL and RCPT lines ever sent: the relay attempt, which RSET ends.
    public static let relayLines: Set<String> = ["MAIL FROM:<>", "RCPT TO:<probe@elsewhere.example>"]

    /// Probes `host` (an IPv4 or IPv6 literal, with or without brackets, or a name) on `port`.
    /// Throws an `MTAGuardError` naming host:port when the connection is refused or times out,
    /// the server greets with anything but 220 (421, 554, …), closes the session, or answers
    /// something that is not SMTP.
    /// The most one SMTP session may take, whatever its server does (`--smtp-deadline`): a
    /// server that drips a byte every few seconds gets no more than this in all.
    public static let defaultDeadline = 30.0

    /// Runs blocking socket work on a thread of its own and awaits it.
    static func onOwnThread<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            Thread.detachNewThread { continuation.resume(with: Result { try body() }) }
        }
    }

    public static func probe(
        host: String, port: UInt16, timeout: Double = 10, deadline: Double = defaultDeadline, heloName: String = "mtaguard.invalid",
        relay: Bool = false
    ) throws -> SMTPProbeResult {
        let place = endpoint(host, port)
        guard timeout > 0, timeout.isFinite else {
            throw MTAGuardError("SMTP probe of \(place): timeout must be a positive number of seconds, not \(timeout)")
        }
        guard !heloName.isEmpty, heloName.unicodeScalars.allSatisfy({ $0.value > 0x20 && $0.value < 0x7F }) else {
            throw MTAGuardError("SMTP probe of \(place): HELO name \(heloName.debugDescription) must be one printable ASCII word")
        }
        guard deadline > 0, deadline.isFinite else {
            throw MTAGuardError("SMTP probe of \(place): the deadline must be a positive number of seconds, not \(deadline)")
        }
        let session = try Session(host: host, port: port, timeout: timeout, deadline: deadline)
        defer { session.close() }
        let (greeting, keywords) = try open(session, heloName: heloName)
        let greetingText = greeting.lines.joined(separator: "\n")
        // A 501 is about the argument, not the command: exim wants a domain before its VRFY
        // rule is even asked (`501 root: recipient address must contain a domain`). Ask again
        // with the domain the server greets with.
        let user = SMTPProbeResult.probedUser
        let qualified = greeting.lines.first?.split(separator: " ").first.map { "\(user)@\($0)" }
        var vrfyAsked = user, expnAsked = user
        var vrfy = try session.command("VRFY \(user)")
        if vrfy.code == 501, let qualified {
            vrfy = try session.command("VRFY \(qualified)")
            vrfyAsked = qualified
        }
        var expn = try session.command("EXPN \(user)")
        if expn.code == 501, let qualified {
            expn = try session.command("EXPN \(qualified)")
            expnAsked = qualified
        }
        // The relay attempt (U-47 / SRV-009): the null sender to an outside domain, then RSET.
        // Never DATA: nothing is ever sent.
        var relayReply: SMTPProbeResult.Reply?
        var senderRefused = false
        if relay { (relayReply, senderRefused) = try askRelay(session) }
        session.quit()

        var result = SMTPProbeResult(
            greeting: greetingText,
            bannerVersion: SMTPProbeResult.bannerVersion(in: greetingText),
            ehloKeywords: keywords,
            vrfy: .init(code: vrfy.code, text: vrfy.lines.joined(separator: "\n")),
            expn: .init(code: expn.code, text: expn.lines.joined(separator: "\n")),
            vrfyAsked: vrfyAsked, expnAsked: expnAsked)
        result.relay = relayReply
        result.relaySenderRefused = senderRefused
        return result
    }

    /// The greeting (220, else an error naming host:port) and the EHLO extensions (HELO when
    /// EHLO is refused: none).
    static func open(_ session: Session, heloName: String) throws -> (greeting: Reply, keywords: [String]) {
        let greeting = try session.readReply(while: "waiting for the greeting")
        guard greeting.code == 220 else {
            session.quit()
            throw session.error(
                "the server greets with \(greeting.code) instead of 220: \(greeting.oneLine)",
                hint: greeting.code == 421 ? "the service is not available now (421); try again later"
                    : greeting.code == 554 ? "the server refuses this client (554); probe from an allowed address"
                    : nil)
        }
        let ehlo = try session.command("EHLO \(heloName)")
        if ehlo.code == 250 {
            return (greeting, ehlo.lines.dropFirst().map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty })
        }
        let helo = try session.command("HELO \(heloName)")
        guard helo.code == 250 else {
            session.quit()
            throw session.error("the server refuses both EHLO (\(ehlo.oneLine)) and HELO (\(helo.oneLine))")
        }
        return (greeting, [])
    }

    /// The relay attempt: the null sender, RCPT TO an outside domain, then RSET. The reply that
    /// decided it (RCPT's, or MAIL's when the sender was refused) and whether it was MAIL's.
    static func askRelay(_ session: Session) throws -> (reply: SMTPProbeResult.Reply, senderRefused: Bool) {
        let mail = try session.command("MAIL FROM:<>")
        var decided = mail
        if mail.code == 250 { decided = try session.command("RCPT TO:<probe@elsewhere.example>") }
        _ = try? session.command("RSET")
        return (.init(code: decided.code, text: decided.lines.joined(separator: "\n")), mail.code != 250)
    }

    /// The relay attempt alone on a new connection (the greylisting retry): greeting, EHLO,
    /// MAIL, RCPT, RSET, QUIT.
    static func relayOnly(
        host: String, port: UInt16, timeout: Double, deadline: Double = defaultDeadline, heloName: String
    ) throws -> (reply: SMTPProbeResult.Reply, senderRefused: Bool) {
        let session = try Session(host: host, port: port, timeout: timeout, deadline: deadline)
        defer { session.close() }
        _ = try open(session, heloName: heloName)
        let answer = try askRelay(session)
        session.quit()
        return answer
    }

    /// "127.0.0.1:25", "[::1]:25", "mail.example:25".
    static func endpoint(_ host: String, _ port: UInt16) -> String {
        let bare = bareHost(host)
        return bare.contains(":") ? "[\(bare)]:\(port)" : "\(bare):\(port)"
    }

    static func bareHost(_ host: String) -> String {
        host.hasPrefix("[") && host.hasSuffix("]") ? String(host.dropFirst().dropLast()) : host
    }

    /// One resolved address to connect to.
    struct Address {
        var family: Int32
        var storage: sockaddr_storage
        var length: socklen_t
    }

    /// The addresses of `host`: a literal is taken as is (no DNS); a name is resolved.
    static func addresses(host: String, port: UInt16) throws -> [Address] {
        let bare = bareHost(host)
        let place = endpoint(host, port)
        guard !bare.isEmpty else { throw MTAGuardError("SMTP probe of \(place): no host given") }
        var hints = addrinfo()
        hints.ai_family = AF_UNSPEC
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        hints.ai_flags = AI_NUMERICSERV
        var list: UnsafeMutablePointer<addrinfo>?
        // Literals first, without touching the resolver.
        var numeric = hints
        numeric.ai_flags |= AI_NUMERICHOST
        var rc = getaddrinfo(bare, String(port), &numeric, &list)
        if rc != 0 {
            list = nil
            rc = getaddrinfo(bare, String(port), &hints, &list)
        }
        guard rc == 0, let first = list else {
            throw MTAGuardError("SMTP probe of \(place): cannot resolve \(bare): \(String(cString: gai_strerror(rc)))")
        }
        defer { freeaddrinfo(first) }
        var result: [Address] = []
        var cursor: UnsafeMutablePointer<addrinfo>? = first
        while let ai = cursor {
            if let sa = ai.pointee.ai_addr, ai.pointee.ai_family == AF_INET || ai.pointee.ai_family == AF_INET6 {
                var storage = sockaddr_storage()
                let len = Int(ai.pointee.ai_addrlen)
                withUnsafeMutableBytes(of: &storage) { dst in
                    dst.copyMemory(from: UnsafeRawBufferPointer(start: sa, count: min(len, dst.count)))
                }
                result.append(Address(family: ai.pointee.ai_family, storage: storage, length: ai.pointee.ai_addrlen))
            }
            cursor = ai.pointee.ai_next
        }
        guard !result.isEmpty else { throw MTAGuardError("SMTP probe of \(place): \(bare) has no IPv4 or IPv6 address") }
        return result
    }

    struct Reply {
        var code: Int
        var lines: [String]
        var oneLine: String { "\(code) \(lines.joined(separator: " / "))" }
    }

    /// One connection. Not shared between threads.
    final class Session {
        let place: String
        private(set) var timeout: Double
        /// The whole session's end (monotonic seconds): no wait goes past it.
        let ends: Double
        let deadline: Double
        private var fd: Int32 = -1
        private var buffer: [UInt8] = []
        private var quitSent = false

        /// Longest reply line accepted (RFC 5321 allows 512 octets) and most lines per reply.
        static let maxLine = 8192
        static let maxLines = 256

        init(host: String, port: UInt16, timeout: Double, deadline: Double = SMTPProbe.defaultDeadline) throws {
            self.place = SMTPProbe.endpoint(host, port)
            self.timeout = timeout
            self.deadline = deadline
            self.ends = Self.now() + deadline
            var lastError: MTAGuardError?
            for address in try SMTPProbe.addresses(host: host, port: port) {
                do {
                    fd = try connect(address)
                    return
                } catch let error as MTAGuardError {
                    lastError = error
                }
            }
            throw lastError ?? error("no address to connect to")
        }

        deinit { close() }

        func error(_ message: String, hint: String? = nil) -> MTAGuardError {
            MTAGuardError("SMTP probe of \(place): \(message)", hint: hint)
        }

        private func errnoText(_ code: Int32) -> String { String(cString: strerror(code)) }

        private func connect(_ address: Address) throws -> Int32 {
            let s = socket(address.family, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
            guard s >= 0 else { throw error("socket: \(errnoText(errno))") }
            let flags = fcntl(s, F_GETFL, 0)
            _ = fcntl(s, F_SETFL, flags | O_NONBLOCK)
            var storage = address.storage
            let rc = withUnsafePointer(to: &storage) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.connect(s, $0, address.length) }
            }
            if rc != 0 {
                let err = errno
                guard err == EINPROGRESS || err == EINTR else {
                    Glibc.close(s)
                    throw connectError(err)
                }
                guard try wait(s, events: Int16(POLLOUT), what: "connecting") else {
                    Glibc.close(s)
                    throw error("no connection within \(seconds(timeout)) (connect timed out)",
                                hint: "is the host up, and is port 25 open to this control node?")
                }
                var soError: Int32 = 0
                var len = socklen_t(MemoryLayout<Int32>.size)
                getsockopt(s, SOL_SOCKET, SO_ERROR, &soError, &len)
                if soError != 0 {
                    Glibc.close(s)
                    throw connectError(soError)
                }
            }
            return s
        }

        private func connectError(_ code: Int32) -> MTAGuardError {
            if code == ECONNREFUSED {
                return error("connection refused", hint: "nothing listens on that port: the MTA is not running there, or a firewall rejects the probe")
            }
            return error("cannot connect: \(errnoText(code))")
        }

        private func seconds(_ t: Double) -> String {
            t == t.rounded() ? "\(Int(t)) s" : String(format: "%.1f s", t)
        }

        /// poll() one descriptor for at most `timeout`; false when it timed out.
        /// Past the session's overall deadline it throws, naming it.
        private func wait(_ s: Int32, events: Int16, what: String) throws -> Bool {
            var pfd = pollfd(fd: s, events: events, revents: 0)
            let deadline = min(Self.now() + timeout, ends)
            while true {
                let remaining = deadline - Self.now()
                if remaining <= 0 {
                    if Self.now() >= ends {
                        throw error("no complete answer within the \(seconds(self.deadline)) one probe may take (\(what))",
                                    hint: "a server that answers a byte at a time, or a firewall that drops the packets; --smtp-deadline sets the bound")
                    }
                    return false
                }
                let rc = poll(&pfd, 1, Int32(min(remaining * 1000, Double(Int32.max - 1))) + 1)
                if rc > 0 { return true }
                // Timed out (or interrupted): the loop's head says which deadline passed.
                if rc == 0 || errno == EINTR { continue }
                throw error("poll while \(what): \(errnoText(errno))")
            }
        }

        static func now() -> Double {
            var ts = timespec()
            clock_gettime(CLOCK_MONOTONIC, &ts)
            return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
        }

        /// Send one command and read its reply. A 421 (the server closing the session) throws.
        func command(_ line: String) throws -> Reply {
            try send(line)
            let verb = line.split(separator: " ").first.map(String.init) ?? line
            let reply = try readReply(while: "waiting for the reply to \(verb)")
            if reply.code == 421 {
                throw error("the server closed the session after \(verb): \(reply.oneLine)")
            }
            return reply
        }

        /// The one way bytes reach the server. Refuses DATA, BDAT, any MAIL or RCPT but the relay
        /// attempt's, and any CR or LF inside a line, so no message is ever transferred.
        func send(_ line: String) throws {
            guard fd >= 0 else { throw error("not connected") }
            guard !line.contains(where: { $0 == "\r" || $0 == "\n" }), !line.unicodeScalars.contains(where: { $0.value < 0x20 }) else {
                throw error("refusing to send a command with control characters: \(line.debugDescription)")
            }
            let verb = line.split(separator: " ", maxSplits: 1).first.map { $0.uppercased() } ?? ""
            guard !SMTPProbe.forbiddenVerbs.contains(verb) else {
                throw error("refusing to send \(verb): the probe never transfers a message")
            }
            guard !["MAIL", "RCPT"].contains(verb) || SMTPProbe.relayLines.contains(line) else {
                throw error("refusing to send \(line.debugDescription): the only MAIL and RCPT the probe sends are its relay attempt's")
            }
            let bytes = Array((line + "\r\n").utf8)
            var offset = 0
            while offset < bytes.count {
                guard try wait(fd, events: Int16(POLLOUT), what: "sending \(verb)") else {
                    throw error("timed out after \(seconds(timeout)) sending \(verb)")
                }
                let n = bytes.withUnsafeBytes { raw in
                    Glibc.send(fd, raw.baseAddress! + offset, raw.count - offset, Int32(MSG_NOSIGNAL))
                }
                if n > 0 {
                    offset += n
                } else if n < 0 && (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK) {
                    continue
                } else {
                    throw error("sending \(verb) failed: \(errnoText(n < 0 ? errno : EPIPE))")
                }
            }
        }

        private func readLine(while what: String) throws -> String {
            var scanned = 0
            while true {
                if let nl = buffer[scanned...].firstIndex(of: UInt8(ascii: "\n")) {
                    var lineBytes = Array(buffer[..<nl])
                    buffer.removeSubrange(...nl)
                    if lineBytes.last == UInt8(ascii: "\r") { lineBytes.removeLast() }
                    return String(decoding: lineBytes, as: UTF8.self)
                }
                scanned = buffer.count
                guard buffer.count <= Self.maxLine else {
                    throw error("a reply line longer than \(Self.maxLine) bytes while \(what): this is not an SMTP server")
                }
                guard try wait(fd, events: Int16(POLLIN), what: what) else {
                    throw error("timed out after \(seconds(timeout)) \(what)",
                                hint: "the server accepted the connection but did not answer; a tarpit or a service that is not SMTP?")
                }
                var chunk = [UInt8](repeating: 0, count: 4096)
                let n = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
                if n > 0 {
                    buffer.append(contentsOf: chunk[..<n])
                } else if n == 0 {
                    throw error("the server closed the connection while \(what)")
                } else if errno != EINTR && errno != EAGAIN && errno != EWOULDBLOCK {
                    throw error("reading failed while \(what): \(errnoText(errno))")
                }
            }
        }

        /// A reply: "NNN-text" lines continue it, "NNN text" (or a bare "NNN") ends it.
        func readReply(while what: String) throws -> Reply {
            var code: Int?
            var lines: [String] = []
            while true {
                let line = try readLine(while: what)
                let chars = Array(line.utf8)
                guard chars.count >= 3, chars[0..<3].allSatisfy({ $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }),
                      let c = Int(String(decoding: chars[0..<3], as: UTF8.self)), c >= 100
                else { throw error("not an SMTP reply while \(what): \(String(line.prefix(200)).debugDescription)") }
                if let code, code != c {
                    throw error("a multi-line reply changes its code from \(code) to \(c) while \(what)")
                }
                code = c
                let separator: UInt8? = chars.count > 3 ? chars[3] : nil
                guard separator == nil || separator == UInt8(ascii: "-") || separator == UInt8(ascii: " ") else {
                    throw error("not an SMTP reply while \(what): \(String(line.prefix(200)).debugDescription)")
                }
                lines.append(chars.count > 4 ? String(decoding: chars[4...], as: UTF8.self) : "")
                guard lines.count <= Self.maxLines else {
                    throw error("a reply of more than \(Self.maxLines) lines while \(what): this is not an SMTP server")
                }
                if separator == UInt8(ascii: "-") { continue }
                return Reply(code: c, lines: lines)
            }
        }

        /// QUIT, best effort: its reply is read with a short wait and not judged. Sent once.
        func quit() {
            guard fd >= 0, !quitSent else { return }
            quitSent = true
            guard (try? send("QUIT")) != nil else { return }
            timeout = min(timeout, 2)
            _ = try? readReply(while: "waiting for the reply to QUIT")
        }

        func close() {
            if fd >= 0 {
                Glibc.close(fd)
                fd = -1
            }
        }
    }
}
