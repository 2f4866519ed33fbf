// Fake Unix hosts over real SSH, for tests.
//
//     let lab = try SSHLab.start(hosts: ["host01", "host02"])
//     defer { lab.stop() }                              // ALWAYS, right after start
//     try "x\n".write(toFile: lab.host("host01").root + "/etc/postfix/main.cf", atomically: true, encoding: .utf8)
//     let r = try lab.ssh("host01", "cat /etc/postfix/main.cf")   // sees host01's file
//     // the product: --inventory lab.inventoryPath, ssh options -F lab.sshConfigPath
//
// Every host is a real sshd on 127.0.0.1 (a kernel-chosen port), started by
// Tests/lab/lab.sh inside its own mount + UTS namespace, where
//     host name                  = the host's name
//     /etc/postfix               = host.root + "/etc/postfix"      (bind-mounted folder)
//     /etc/mail                  = host.root + "/etc/mail"
//     /etc/rc.config.d           = host.root + "/etc/rc.config.d"
//     /usr/local/bin, /usr/local/sbin = host.shims (first on sshd's default PATH:
//                                  drop executable shims such as `uname` there)
// Folders are bound, never single files: replacing a file there by rename
// works. Files written under `root` from the test are visible at once over ssh.
// Shims may append to `host.commandsLog` (mode 0666, also writable by the
// non-root user). `host.sshdLog` is sshd's log (LogLevel VERBOSE).
//
// The lab folder (system temp dir, mode 0755) holds the client key
// (`privateKeyPath`), `knownHostsPath` (strict checking: every host's key under
// [127.0.0.1]:PORT), `sshConfigPath` (Host *: IdentityFile, UserKnownHostsFile,
// StrictHostKeyChecking yes, BatchMode yes, IdentitiesOnly yes, LogLevel ERROR,
// ConnectTimeout 10), `inventoryPath` (Ansible INI:
// `NAME ansible_host=127.0.0.1 ansible_port=PORT ansible_user=root`) and
// `ansibleConfigPath` (ANSIBLE_CONFIG for side-by-side ansible runs).
//
// `nonRootUser: true` also lets `SSHLab.nonRootUser` ("mtlab", created on the
// machine while labs that asked for it run and removed by the last one's stop,
// passwordless sudo through /etc/sudoers.d/mtlab) log in with
// the lab key: `lab.ssh("host01", "sudo -n id -u", user: SSHLab.nonRootUser)`.
// sudo there prints "unable to resolve host NAME" on stderr (the namespace's
// host name is not in /etc/hosts); harmless.
//
// `unreachable:` names get inventory lines with a port nothing listens on
// (connection refused). `killSSHD(name)` stops one host's sshd (and its
// sessions) for fault tests; `restartSSHD(name)` starts it again on the same
// port (same key, files and shims, a new namespace set up the same way).
// `inNamespace(name, script)` runs a shell script inside the host's mount
// namespace (nsenter into its sshd): to mount a full or read-only file system
// over /etc/postfix there, or to look at what a session there sees. `stop()` stops every sshd by its pid (and their
// session processes) and removes the folder; idempotent, never throws.

import Foundation

#if canImport(Glibc)
import Glibc
#endif

struct SSHLabError: Error, CustomStringConvertible {
    var description: String
}

/// One fake host of an `SSHLab`.
struct LabHost: Sendable {
    let name: String
    /// 127.0.0.1 port of its sshd (for an unreachable host: a closed port).
    let port: UInt16
    /// The host folder (HOSTDIR).
    let directory: String
    /// HOSTDIR/root: the host's file system overlay ("/etc/postfix" is root + "/etc/postfix").
    let root: String
    /// HOSTDIR/shims: mounted over /usr/local/bin and /usr/local/sbin on the host.
    let shims: String
    /// HOSTDIR/commands.log: empty, world-writable, for recording shims.
    let commandsLog: String
    /// HOSTDIR/sshd.log
    let sshdLog: String
    /// The sshd listener's pid as started (0 for an unreachable host).
    let sshdPID: Int32
    /// False for the `unreachable:` entries.
    let reachable: Bool
}

final class SSHLab: Sendable {
    /// The non-root login user created with `nonRootUser: true`.
    static let nonRootUser = "mtlab"

    /// Tests/lab/lab.sh, found from this file's path.
    static let script: String = {
        var url = URL(fileURLWithPath: #filePath)
        for _ in 0..<4 { url.deleteLastPathComponent() }  // SSHLab.swift, Support, MTAGuardTests, Tests
        return url.path + "/Tests/lab/lab.sh"
    }()

    let directory: String
    let inventoryPath: String
    let sshConfigPath: String
    let knownHostsPath: String
    let privateKeyPath: String
    let ansibleConfigPath: String
    /// Every host, reachable ones first, in the order given to `start`.
    let hosts: [LabHost]

    private let stopState = OnceFlag()

    private init(directory: String, hosts: [LabHost]) {
        self.directory = directory
        self.inventoryPath = directory + "/inventory.ini"
        self.sshConfigPath = directory + "/ssh_config"
        self.knownHostsPath = directory + "/known_hosts"
        self.privateKeyPath = directory + "/id_ed25519"
        self.ansibleConfigPath = directory + "/ansible.cfg"
        self.hosts = hosts
    }

    /// Safety net only: tests must call stop() themselves (defer right after start).
    deinit { stop() }

    /// Start one sshd per name (all listening when this returns). On failure
    /// everything started is stopped and the error carries lab.sh's output.
    static func start(hosts names: [String], nonRootUser: Bool = false,
                      unreachable: [String] = []) throws -> SSHLab {
        guard !names.isEmpty else { throw SSHLabError(description: "SSHLab.start: no hosts") }
        let dir = try makeLabFolder()
        var argv = ["bash", script, "start"]
        if nonRootUser { argv.append("--non-root") }
        if !unreachable.isEmpty { argv += ["--unreachable", unreachable.joined(separator: ",")] }
        argv += ["--hosts", names.joined(separator: ","), dir]

        let result: CommandResult
        do {
            result = try runCommand(argv)
        } catch {
            try? FileManager.default.removeItem(atPath: dir)
            throw error
        }
        guard result.status == 0 else {
            _ = try? runCommand(["bash", script, "stop", dir])
            try? FileManager.default.removeItem(atPath: dir)
            throw SSHLabError(description: "lab.sh start failed: \(result)")
        }

        do {
            let table = try String(contentsOfFile: dir + "/hosts.tsv", encoding: .utf8)
            var hosts: [LabHost] = []
            for line in table.split(separator: "\n") {
                let f = line.split(separator: "\t", omittingEmptySubsequences: false).map(String.init)
                guard f.count == 4, let port = UInt16(f[1]) else {
                    throw SSHLabError(description: "bad hosts.tsv line: \(line)")
                }
                let hd = f[3] == "-" ? dir + "/hosts/" + f[0] : f[3]
                hosts.append(LabHost(
                    name: f[0], port: port, directory: hd, root: hd + "/root", shims: hd + "/shims",
                    commandsLog: hd + "/commands.log", sshdLog: hd + "/sshd.log",
                    sshdPID: Int32(f[2]) ?? 0, reachable: f[2] != "-"))
            }
            guard hosts.count == names.count + unreachable.count else {
                throw SSHLabError(description: "hosts.tsv lists \(hosts.count) hosts, expected \(names.count + unreachable.count)")
            }
            return SSHLab(directory: dir, hosts: hosts)
        } catch {
            _ = try? runCommand(["bash", script, "stop", dir])
            try? FileManager.default.removeItem(atPath: dir)
            throw error
        }
    }

    /// The host of that name; a missing name is a test bug and traps.
    func host(_ name: String) -> LabHost {
        guard let h = hosts.first(where: { $0.name == name }) else {
            preconditionFailure("SSHLab: no host \(name) in \(hosts.map(\.name))")
        }
        return h
    }

    /// `ssh -F sshConfig -p PORT` + `user@127.0.0.1`, ready for a command.
    func sshArguments(_ name: String, user: String = "root") -> [String] {
        ["ssh", "-F", sshConfigPath, "-p", String(host(name).port), "\(user)@127.0.0.1"]
    }

    /// Run `command` on the host through its sshd (the remote login shell runs it).
    func ssh(_ name: String, _ command: String, user: String = "root", stdin: String? = nil) throws -> CommandResult {
        try runCommand(sshArguments(name, user: user) + [command], stdin: stdin)
    }

    /// Stop that host's sshd and its sessions (fault tests). The lab stays.
    func killSSHD(_ name: String) {
        _ = try? runCommand(["bash", Self.script, "kill", directory, host(name).name])
    }

    /// Start that host's sshd again (after `killSSHD` or a fault that killed it) on the same
    /// port, in a new namespace set up the same way. Returns the new listener's pid.
    @discardableResult
    func restartSSHD(_ name: String) throws -> Int32 {
        let r = try runCommand(["bash", Self.script, "restart", directory, host(name).name])
        guard r.status == 0, let pid = Int32(r.stdout.trimmingCharacters(in: .whitespacesAndNewlines)) else {
            throw SSHLabError(description: "lab.sh restart \(name) failed: \(r)")
        }
        return pid
    }

    /// The pid of that host's sshd listener now (0 when it has none): `sshdPID` until a restart.
    func currentSSHDPID(_ name: String) -> Int32 {
        let text = try? String(contentsOfFile: host(name).directory + "/sshd.pid", encoding: .utf8)
        return Int32(text?.trimmingCharacters(in: .whitespacesAndNewlines) ?? "") ?? 0
    }

    /// Runs `script` with /bin/sh in the host's mount and UTS namespaces, as root, without SSH.
    /// Mounts made there are seen by that host's sessions only.
    func inNamespace(_ name: String, _ script: String) throws -> CommandResult {
        let pid = currentSSHDPID(name)
        guard pid > 0 else { throw SSHLabError(description: "\(name): no sshd, so no namespace to enter") }
        return try runCommand(["nsenter", "-t", String(pid), "-m", "-u", "--", "/bin/sh", "-c", script])
    }

    /// `lab.sh status`: one line per host, "NAME PORT PID up|down|unreachable".
    func status() -> String {
        (try? runCommand(["bash", Self.script, "status", directory]).stdout) ?? ""
    }

    /// Stop every sshd (and its sessions) and remove the lab folder. Idempotent.
    func stop() {
        guard stopState.markStopped() else { return }
        _ = try? runCommand(["bash", Self.script, "stop", directory])
        if FileManager.default.fileExists(atPath: directory) {
            // lab.sh removes only folders with its marker; this one is ours.
            try? FileManager.default.removeItem(atPath: directory)
        }
    }

    private static func makeLabFolder() throws -> String {
        var template = Array((NSTemporaryDirectory() + "mtaguard-lab-XXXXXX").utf8CString)
        guard let p = template.withUnsafeMutableBufferPointer({ mkdtemp($0.baseAddress!) }) else {
            throw SSHLabError(description: "mkdtemp failed: \(String(cString: strerror(errno)))")
        }
        let path = String(cString: p)
        // sshd reads authorized keys as the login user: the folder must be traversable.
        chmod(path, 0o755)
        return path
    }
}
