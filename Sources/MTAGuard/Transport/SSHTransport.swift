import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// How mtaguard reaches hosts: the system OpenSSH client, never a shell on this side.
/// Host keys are checked strictly unless the user's own options say otherwise; one
/// ControlMaster connection per host is shared by the run's round trips and closed at the end.
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
    /// Private (0700) folder for ControlMaster sockets.
    let controlFolder: String

    public init(options: Options = Options()) throws {
        self.options = options
        var template = Array("/tmp/mtaguard-ssh-XXXXXX".utf8CString)
        guard let p = template.withUnsafeMutableBufferPointer({ mkdtemp($0.baseAddress!) }) else {
            throw MTAGuardError("cannot create a private folder for SSH control sockets: \(LocalFiles.errnoText())")
        }
        controlFolder = String(cString: p)
    }

    /// The ssh command line for `target`, running `remoteCommand` (one word list, quoted for
    /// the remote shell here).
    /// Without `multiplex`, one plain connection (no ControlMaster).
    func argv(_ target: SSHTarget, remoteCommand: String, multiplex: Bool = true) -> [String] {
        var a = [options.sshProgram]
        if let f = options.configFile { a += ["-F", f] }
        a += ["-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=yes"]
        a += multiplex
            ? ["-o", "ControlMaster=auto", "-o", "ControlPath=\(controlFolder)/%C", "-o", "ControlPersist=60"]
            : ["-o", "ControlMaster=no", "-o", "ControlPath=none"]
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

    /// Runs `script` with `sh` on the host (through `sudo -n` when `become`), fed on stdin.
    func execute(_ target: SSHTarget, script: ShellCode) async throws -> CommandOutput {
        ScriptRecorder.record(script)
        let shell = target.become ? "exec sudo -n -- /bin/sh -s" : "exec /bin/sh -s"
        let argv = argv(target, remoteCommand: shell)
        let timeout = options.commandTimeout
        return try await withCheckedThrowingContinuation { continuation in
            // A blocking wait on a thread of its own: the cooperative pool is as wide as the
            // machine has cores, and forks are many more.
            Thread.detachNewThread {
                continuation.resume(with: Result { try ProcessRunner.run(argv, stdin: Data(script.text.utf8), timeout: timeout) })
            }
        }
    }

    /// ssh's own words for a failed connection through a jump host: with ControlPersist, ssh
    /// sends a ProxyJump or ProxyCommand leg's error output to /dev/null (its master is to
    /// outlive the command), leaving only "Connection closed by remote host". One plain
    /// connection without a master says why (the bastion refused, its key is unknown, …).
    func diagnose(_ target: SSHTarget) async -> String {
        let argv = argv(target, remoteCommand: "true", multiplex: false)
        let timeout = options.connectTimeout + 5
        return await withCheckedContinuation { continuation in
            Thread.detachNewThread {
                continuation.resume(returning: (try? ProcessRunner.run(argv, timeout: timeout))?.stderr ?? "")
            }
        }
    }

    /// Closes the master connection of every host this transport talked to and removes the
    /// control folder.
    public func close(_ targets: [SSHTarget]) {
        for t in targets {
            let a = argv(t, remoteCommand: "true")
            var exitArgs = Array(a.dropLast(3))
            exitArgs += ["-O", "exit", "--", t.address]
            _ = try? ProcessRunner.run(exitArgs, timeout: 10)
        }
        try? FileManager.default.removeItem(atPath: controlFolder)
    }
}

/// Everything needed to reach one host, as recorded in the journal for rollback.
public struct SSHTarget: Sendable, Codable, Equatable {
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
