// A real, private postfix per test.
//
//     let pf = try PostfixInstance.start()
//     defer { pf.stop() }                      // ALWAYS, right after start
//     let r = try pf.run(["postfix", "reload"])   // sees pf's /etc/postfix
//     let replies = try pf.smtp(["EHLO t.example", "VRFY root"])
//
// Layout under `root` (a fresh folder in the system temp dir, mode 0755 so the
// `postfix` user can traverse it):
//     root/etc/postfix   config directory made from the package's shipped defaults
//                        (PostfixDefaults: main.cf.debian, master.cf.dist, postfix-files, ...),
//                        never from the machine's own /etc/postfix
//     root/spool         queue_directory (pid/master.pid lives here)
//     root/lib           data_directory (created by postfix, owned by postfix)
//     root/maillog       postfix's log (maillog_file): read it when something fails
//
// Isolation: every command of the instance (`run`, and start/stop) runs in a
// private mount namespace where root/etc/postfix is bind-mounted over
// /etc/postfix, so `postfix`, `postconf`, or the product's binary with no -c
// option see this instance's config as "/etc/postfix" while the machine's own
// /etc/postfix is never touched. The DIRECTORY is bound (not main.cf alone), so
// replacing main.cf by rename works. The master daemon keeps its namespace
// alive; a later `postfix reload` in a fresh namespace reaches it through
// queue_directory/pid/master.pid.
//
// Changes made to the copied Debian config:
//   main.cf:   queue_directory = ROOT/spool
//              data_directory = ROOT/lib
//              inet_interfaces = loopback-only
//              maillog_file = ROOT/maillog
//              maillog_file_prefixes = ROOT
//   master.cf: the `smtp inet ... smtpd` service is renamed `127.0.0.1:PORT`,
//              and the chroot column is `n` for every service (a chroot into
//              ROOT/spool would lack etc/, lib/ and the socket paths).
// Everything else is the machine's stock config (myhostname, mydestination,
// alias_maps = hash:/etc/aliases, compatibility_level, ...).
//
// Several instances run side by side: each has its own port, queue, data and
// config directories, and its own master.
//
// Note: postfix commands print their errors to stderr only on a terminal; in
// a test, `postfix check`'s complaints go to `logFile`, not to
// CommandResult.stderr.

import Foundation

#if canImport(Glibc)
import Glibc
#endif

struct PostfixInstanceError: Error, CustomStringConvertible {
    var description: String
}

final class PostfixInstance: Sendable {
    /// The instance folder.
    let root: String
    /// `root/etc/postfix`: bind-mounted over /etc/postfix inside `run`.
    let configDirectory: String
    /// `root/spool`
    let queueDirectory: String
    /// `root/lib`
    let dataDirectory: String
    /// `root/maillog`
    let logFile: String
    /// The loopback port smtpd listens on (127.0.0.1 only).
    let port: UInt16

    private let state = OnceFlag()

    private init(root: String, port: UInt16) {
        self.root = root
        self.configDirectory = root + "/etc/postfix"
        self.queueDirectory = root + "/spool"
        self.dataDirectory = root + "/lib"
        self.logFile = root + "/maillog"
        self.port = port
    }

    /// Safety net only: tests must call stop() themselves (defer right after start).
    deinit { stop() }

    // MARK: - start

    /// Create, configure and start a private postfix; returns once its smtpd
    /// answers 220 on `port`. On failure everything is cleaned up and the error
    /// carries the command output and the instance's log.
    /// Callers must `defer { instance.stop() }` immediately.
    ///
    /// `tryPortFirst` makes the first attempt use that port (the harness's own
    /// test uses it to force a clash); if it is taken, a fresh port is used.
    static func start(timeout: Double = 20, tryPortFirst: UInt16? = nil) throws -> PostfixInstance {
        let root = try makeInstanceFolder()
        do {
            try FileManager.default.createDirectory(atPath: root + "/etc", withIntermediateDirectories: true)
            // queue_directory must exist (postfix chdirs there first); root-owned
            // 0755 like /var/spool/postfix. data_directory must NOT exist yet:
            // post-install creates it owned by mail_owner (a root-owned one
            // makes master fail on master.lock).
            try FileManager.default.createDirectory(atPath: root + "/spool", withIntermediateDirectories: false,
                                                    attributes: [.posixPermissions: 0o755])
            try PostfixDefaults.populate(root + "/etc/postfix")
        } catch {
            try? FileManager.default.removeItem(atPath: root)
            throw error
        }

        let configDirectory = root + "/etc/postfix"
        let stockMaster: String
        do {
            let conf = try runCommand([
                "postconf", "-c", configDirectory, "-e",
                "queue_directory = \(root)/spool",
                "data_directory = \(root)/lib",
                "inet_interfaces = loopback-only",
                "maillog_file = \(root)/maillog",
                "maillog_file_prefixes = \(root)",
            ])
            guard conf.status == 0 else {
                throw PostfixInstanceError(description: "postconf -e failed: \(conf)")
            }
            stockMaster = try String(contentsOfFile: configDirectory + "/master.cf", encoding: .utf8)
            try backdate(configDirectory + "/main.cf")
        } catch {
            try? FileManager.default.removeItem(atPath: root)
            throw error
        }

        // The port is free when chosen but could be taken before master binds
        // it: either master fails ("bind ... Address already in use", e.g. a
        // non-reuseport listener) or it shares the port (another postfix, see
        // portClash). Both cases retry with a new port.
        var failures: [String] = []
        for attempt in 0..<5 {
            let port: UInt16
            do {
                port = try (attempt == 0 ? tryPortFirst : nil) ?? freeLoopbackPort()
            } catch {
                failures.append("choosing a port: \(error)")
                break
            }
            let instance = PostfixInstance(root: root, port: port)
            do {
                let master = try rewriteMasterCF(stockMaster, port: port)
                try master.write(toFile: instance.configDirectory + "/master.cf", atomically: true, encoding: .utf8)
                try backdate(instance.configDirectory + "/master.cf")
                let started = try instance.run(["postfix", "start"])
                guard started.status == 0 else {
                    let log = instance.logTail()
                    failures.append("port \(port): postfix start \(started)\n--- maillog ---\n\(log)")
                    _ = instance.state.markStopped()  // keep root for the retry
                    instance.killMaster()
                    if log.contains("Address already in use") { continue }
                    break
                }
                // postfix sets SO_REUSEPORT: a second master on the same port
                // starts fine and the two share connections. Make sure the
                // port is ours alone, else move to another one.
                if let clash = instance.portClash() {
                    failures.append("port \(port): \(clash)")
                    _ = instance.state.markStopped()
                    instance.killMaster()
                    continue
                }
                try instance.waitForGreeting(timeout: timeout)
                return instance
            } catch {
                failures.append("port \(port): \(error)\n--- maillog ---\n\(instance.logTail())")
                _ = instance.state.markStopped()
                instance.killMaster()
                break
            }
        }
        try? FileManager.default.removeItem(atPath: root)
        throw PostfixInstanceError(description: "postfix instance did not start:\n" + failures.joined(separator: "\n\n"))
    }

    // MARK: - use

    /// Run `argv` inside this instance's private mount namespace, where
    /// `configDirectory` is bind-mounted over /etc/postfix. Same semantics as
    /// `runCommand` otherwise (argv[0] looked up on PATH inside the namespace).
    func run(_ argv: [String], stdin: String? = nil, environment: [String: String]? = nil,
             currentDirectory: String? = nil) throws -> CommandResult {
        precondition(!argv.isEmpty, "empty argv")
        let script = #"mount --bind "$1" /etc/postfix && shift && exec "$@""#
        return try runCommand(
            ["unshare", "-m", "--propagation", "private", "sh", "-c", script, "sh", configDirectory] + argv,
            stdin: stdin, environment: environment, currentDirectory: currentDirectory)
    }

    /// Open a NEW SMTP connection, check the 220 greeting, send `commands` in
    /// order (EHLO/HELO is up to the caller), QUIT. Returns one reply per
    /// command (the greeting is not included).
    func smtp(_ commands: [String], timeout: Double = 5) throws -> [SMTPReply] {
        let client = try SMTPClient(port: port, timeout: timeout)
        defer { client.close() }
        guard client.greeting.code == 220 else { throw SMTPError.unexpectedGreeting(client.greeting) }
        return try commands.map { try client.send($0) }
    }

    /// Like `smtp(_:)`, but on NEW connections again and again until
    /// `until(replies)` holds or `timeout` passes; returns the last replies
    /// (check them: they are the non-matching ones on timeout).
    ///
    /// Use it right after a `postfix reload` (yours or the product's): reload
    /// only sends SIGHUP, so for a few milliseconds the master may not have
    /// re-read main.cf yet, and an idle smtpd left from an earlier connection
    /// can still take one more session with the OLD settings. Seen under
    /// parallel load about once in 10 runs; never when the client waits ~30 ms.
    func smtp(_ commands: [String], until: ([SMTPReply]) -> Bool, timeout: Double = 5) throws -> [SMTPReply] {
        let deadline = monotonicNow() + timeout
        while true {
            let replies = try smtp(commands)
            if until(replies) || monotonicNow() >= deadline { return replies }
            usleep(50_000)
        }
    }

    /// The master daemon's pid from queue_directory/pid/master.pid, if readable.
    func masterPID() -> pid_t? {
        guard let text = try? String(contentsOfFile: queueDirectory + "/pid/master.pid", encoding: .utf8),
              let pid = pid_t(text.trimmingCharacters(in: .whitespacesAndNewlines)), pid > 0
        else { return nil }
        return pid
    }

    /// The end of the instance's maillog (empty if none yet).
    func logTail(maxBytes: Int = 8192) -> String {
        guard let data = FileManager.default.contents(atPath: logFile) else { return "" }
        return String(decoding: data.suffix(maxBytes), as: UTF8.self)
    }

    // MARK: - stop

    /// Stop postfix and remove `root`. Idempotent; never throws.
    /// 1. `postfix stop` in the namespace;
    /// 2. then, by the master's pid (only if that process's cwd is still our
    ///    queue directory): SIGTERM, wait up to 5 s, SIGKILL to its process group;
    /// 3. SIGKILL any leftover postfix child whose cwd is our queue directory;
    /// 4. remove the folder.
    func stop() {
        guard state.markStopped() else { return }
        if FileManager.default.fileExists(atPath: configDirectory + "/main.cf"),
           let pid = masterPID(), Self.isProcessRunning(pid) {
            _ = try? run(["postfix", "stop"])
        }
        killMaster()
        for _ in 0..<5 {
            do {
                try FileManager.default.removeItem(atPath: root)
                break
            } catch {
                if !FileManager.default.fileExists(atPath: root) { break }
                usleep(100_000)
            }
        }
    }

    /// True if `pid` is a live process (zombies count as gone: PID 1 on this
    /// machine reaps orphans only lazily).
    static func isProcessRunning(_ pid: pid_t) -> Bool {
        guard kill(pid, 0) == 0 || errno == EPERM else { return false }
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
              let close = stat.lastIndex(of: ")")
        else { return false }
        let state = stat[stat.index(after: close)...].trimmingCharacters(in: .whitespaces).first
        return state != "Z" && state != "X"
    }

    // MARK: - internals

    private func waitForGreeting(timeout: Double) throws {
        let deadline = monotonicNow() + timeout
        var lastError: Error?
        while monotonicNow() < deadline {
            do {
                let client = try SMTPClient(port: port, timeout: 2)
                let greeting = client.greeting
                client.close()
                if greeting.code == 220 { return }
                lastError = SMTPError.unexpectedGreeting(greeting)
            } catch {
                lastError = error
            }
            usleep(50_000)
        }
        throw PostfixInstanceError(description: "no 220 greeting on 127.0.0.1:\(port) within \(timeout) s: \(lastError.map { "\($0)" } ?? "-")")
    }

    /// nil if exactly one socket listens on `port` (IPv4 or IPv6) and it is
    /// our master's; else a description of the clash.
    private func portClash() -> String? {
        // `postfix start` returns before the master has bound its port: on a loaded machine
        // (the whole suite on two cores) that can take seconds. Wait for a listener, bounded.
        var listeners = Self.listeningSocketInodes(port: port)
        let deadline = Date().addingTimeInterval(60)
        while listeners.isEmpty, Date() < deadline {
            usleep(100_000)
            listeners = Self.listeningSocketInodes(port: port)
        }
        guard let pid = masterPID() else { return "no master.pid" }
        let ours = Self.socketInodes(of: pid)
        if listeners.count == 1, let inode = listeners.first, ours.contains(inode) { return nil }
        return "\(listeners.count) listening socket(s) on port \(port), \(listeners.filter { ours.contains($0) }.count) of them our master's"
    }

    /// Inodes of TCP sockets in LISTEN state on `port`, from /proc/net/tcp{,6}.
    private static func listeningSocketInodes(port: UInt16) -> [String] {
        let hexPort = String(format: "%04X", port)
        var inodes: [String] = []
        for file in ["/proc/net/tcp", "/proc/net/tcp6"] {
            guard let text = try? String(contentsOfFile: file, encoding: .utf8) else { continue }
            for line in text.split(separator: "\n").dropFirst() {
                let f = line.split(separator: " ")
                // sl local_address rem_address st tx:rx tr:when retrnsmt uid timeout inode
                guard f.count > 9, f[3] == "0A", f[1].hasSuffix(":" + hexPort) else { continue }
                inodes.append(String(f[9]))
            }
        }
        return inodes
    }

    private static func socketInodes(of pid: pid_t) -> Set<String> {
        let dir = "/proc/\(pid)/fd"
        guard let fds = try? FileManager.default.contentsOfDirectory(atPath: dir) else { return [] }
        var result = Set<String>()
        for fd in fds {
            guard let target = try? FileManager.default.destinationOfSymbolicLink(atPath: dir + "/" + fd),
                  target.hasPrefix("socket:[") else { continue }
            result.insert(String(target.dropFirst("socket:[".count).dropLast()))
        }
        return result
    }

    /// Make sure no process of this instance survives (see stop()).
    fileprivate func killMaster() {
        if let pid = masterPID(), Self.isProcessRunning(pid), cwd(of: pid) == queueDirectory {
            kill(pid, SIGTERM)
            let deadline = monotonicNow() + 5
            while Self.isProcessRunning(pid) && monotonicNow() < deadline { usleep(20_000) }
            if Self.isProcessRunning(pid) {
                kill(-pid, SIGKILL)  // master is a process-group leader (setsid)
                kill(pid, SIGKILL)
                let hard = monotonicNow() + 2
                while Self.isProcessRunning(pid) && monotonicNow() < hard { usleep(20_000) }
            }
        }
        // Children chdir to queue_directory; any left over belongs to us.
        for pid in processes(withCwd: queueDirectory) {
            kill(pid, SIGKILL)
        }
    }

    private func cwd(of pid: pid_t) -> String? {
        try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/\(pid)/cwd")
    }

    private func processes(withCwd dir: String) -> [pid_t] {
        guard let entries = try? FileManager.default.contentsOfDirectory(atPath: "/proc") else { return [] }
        return entries.compactMap { pid_t($0) }.filter { pid in
            guard let c = cwd(of: pid) else { return false }
            return (c == dir || c.hasPrefix(dir + "/")) && Self.isProcessRunning(pid)
        }
    }

    /// Postfix refuses to trust a config file modified in the current second:
    /// it re-reads it every 300 ms until it is older (about 1.5 s of every
    /// command right after an edit). Our freshly written copies are complete,
    /// so set their mtime a few seconds back. (An edit made by a test or the
    /// product afterwards still gets postfix's real behaviour.)
    private static func backdate(_ path: String) throws {
        try FileManager.default.setAttributes([.modificationDate: Date(timeIntervalSinceNow: -5)], ofItemAtPath: path)
    }

    /// Fresh 0755 folder in the system temp dir, whose ancestors the postfix
    /// user can traverse (else fall back to /tmp).
    private static func makeInstanceFolder() throws -> String {
        var base = NSTemporaryDirectory()
        while base.count > 1 && base.hasSuffix("/") { base.removeLast() }
        if !isTraversableByAll(base) { base = "/tmp" }
        var template = Array((base + "/mtaguard-postfix.XXXXXX").utf8CString)
        let made = template.withUnsafeMutableBufferPointer { mkdtemp($0.baseAddress!) }
        guard made != nil else {
            throw PostfixInstanceError(description: "mkdtemp in \(base): \(String(cString: strerror(errno)))")
        }
        let path = template.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
        chmod(path, 0o755)
        // Canonical path: killMaster compares it with /proc/PID/cwd.
        guard let real = realpath(path, nil) else { return path }
        defer { free(real) }
        return String(cString: real)
    }

    private static func isTraversableByAll(_ path: String) -> Bool {
        var p = path
        while !p.isEmpty && p != "/" {
            var st = stat()
            guard stat(p, &st) == 0, st.st_mode & S_IXOTH != 0 else { return false }
            p = (p as NSString).deletingLastPathComponent
        }
        return true
    }

    /// master.cf with the `smtp inet` service renamed to 127.0.0.1:PORT and
    /// chroot `n` everywhere; other text (comments, spacing) kept.
    static func rewriteMasterCF(_ text: String, port: UInt16) throws -> String {
        var sawSMTP = false
        var out: [String] = []
        for line in text.split(separator: "\n", omittingEmptySubsequences: false) {
            var l = String(line)
            if let first = l.first, !first.isWhitespace, first != "#" {
                var fields = splitKeepingSpace(l)
                let tokens = fields.indices.filter { !fields[$0].first!.isWhitespace }
                if tokens.count >= 8 {
                    if fields[tokens[0]] == "smtp" && fields[tokens[1]] == "inet" {
                        fields[tokens[0]] = "127.0.0.1:\(port)"
                        sawSMTP = true
                    }
                    fields[tokens[4]] = "n"
                    l = fields.joined()
                }
            }
            out.append(l)
        }
        guard sawSMTP else { throw PostfixInstanceError(description: "no `smtp inet` service in master.cf") }
        return out.joined(separator: "\n")
    }

    /// "a  b c" -> ["a", "  ", "b", " ", "c"]
    private static func splitKeepingSpace(_ s: String) -> [String] {
        var parts: [String] = []
        var current = ""
        var inSpace = false
        for ch in s {
            let space = ch.isWhitespace
            if !current.isEmpty && space != inSpace {
                parts.append(current)
                current = ""
            }
            inSpace = space
            current.append(ch)
        }
        if !current.isEmpty { parts.append(current) }
        return parts
    }
}
