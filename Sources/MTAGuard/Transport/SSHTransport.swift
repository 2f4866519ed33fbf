import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// How mtaguard reaches hosts: the system OpenSSH client, never a shell on this side.
/// Host keys are checked strictly unless the user's own options say otherwise. Each host gets
/// one connection and one session for the run (`SSHSession`), which carries every program the
/// run sends it and ends when the host's part of the run does (`end`), or at `close`.
public final class SSHTransport: Sendable {
    public struct Options: Sendable {
        /// `ssh -F FILE`; by default the user's own ~/.ssh/config applies.
        public var configFile: String?
        /// Extra `-o` options, e.g. `UserKnownHostsFile=…`.
        public var extraOptions: [String] = []
        public var connectTimeout: Int = 10
        /// Seconds one remote execution may take before it is killed.
        public var commandTimeout: Int = 300
        public var sshProgram: String = "ssh"
        /// Break a host lock whose process is gone (`--break-stale-lock`).
        public var breakStaleLock = false
        /// Runs each host keeps copies of under `HostJournal.folder` (`--host-runs-kept`); 0: none.
        public var hostRunsKept = HostJournal.defaultKeep

        public init() {}
    }

    public let options: Options
    private let sessions = SessionTable()

    public init(options: Options = Options()) throws {
        self.options = options
    }

    /// The ssh command line for `target`, running `remoteCommand` (one word list, quoted for
    /// the remote shell here). No ControlMaster of mtaguard's: a session carries the whole
    /// run. (A master the user's own configuration keeps is used where there is one.)
    func argv(_ target: SSHTarget, remoteCommand: String) -> [String] {
        var a = [options.sshProgram]
        if let f = options.configFile { a += ["-F", f] }
        a += ["-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=yes", "-o", "ControlMaster=no"]
        a += [
            "-o", "ConnectTimeout=\(options.connectTimeout)",
            "-o", "ServerAliveInterval=5",
            "-o", "ServerAliveCountMax=3",
        ]
        for o in options.extraOptions { a += ["-o", o] }
        if let port = target.port { a += ["-p", String(port)] }
        if let user = target.user { a += ["-l", user] }
        if let key = target.privateKeyFile { a += ["-i", key, "-o", "IdentitiesOnly=yes"] }
        a += ["--", target.address, remoteCommand]
        return a
    }

    /// Runs `script` with `sh` on the host (through `sudo -n` when `become`), on the host's
    /// session (started at the first program).
    func execute(_ target: SSHTarget, script: ShellCode) async throws -> CommandOutput {
        ScriptRecorder.record(script)
        let timeout = options.commandTimeout
        let session = try sessions.session(for: target) {
            try SSHSession(argv: argv(target, remoteCommand: target.become ? "exec sudo -n -- /bin/sh -s" : "exec /bin/sh -s"))
        }
        return try await withCheckedThrowingContinuation { continuation in
            // A blocking wait on a thread of its own: the cooperative pool is as wide as the
            // machine has cores, and forks are many more.
            Thread.detachNewThread {
                continuation.resume(with: Result { try session.exchange(script.text, timeout: timeout) })
            }
        }
    }

    /// Ends `target`'s session, where it has one: its part of the run is over.
    func end(_ target: SSHTarget) async {
        guard let session = sessions.remove(target) else { return }
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            Thread.detachNewThread {
                session.finish()
                continuation.resume()
            }
        }
    }

    /// Ends every session still open (all at once: each shell reads the end of its input).
    public func close(_ targets: [SSHTarget] = []) {
        let open = sessions.removeAll()
        DispatchQueue.concurrentPerform(iterations: open.count) { open[$0].finish() }
    }
}

/// The open sessions, by host.
final class SessionTable: @unchecked Sendable {
    private let lock = NSLock()
    private var open: [SSHTarget: SSHSession] = [:]

    func session(for target: SSHTarget, start: () throws -> SSHSession) throws -> SSHSession {
        try lock.withLock {
            if let s = open[target] { return s }
            let s = try start()
            open[target] = s
            return s
        }
    }

    func remove(_ target: SSHTarget) -> SSHSession? { lock.withLock { open.removeValue(forKey: target) } }

    func removeAll() -> [SSHSession] {
        lock.withLock {
            defer { open = [:] }
            return Array(open.values)
        }
    }
}

/// Everything needed to reach one host, as recorded in the journal for rollback.
public struct SSHTarget: Sendable, Codable, Hashable {
    public var address: String
    public var port: Int?
    public var user: String?
    public var privateKeyFile: String?
    public var become: Bool

    public init(address: String, port: Int? = nil, user: String? = nil, privateKeyFile: String? = nil, become: Bool = false) {
        self.address = address
        self.port = port
        self.user = user
        self.privateKeyFile = privateKeyFile
        self.become = become
    }
}
