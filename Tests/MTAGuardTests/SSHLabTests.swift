import Foundation
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// The SSH lab itself: real sshds in private namespaces on loopback ports.
@Suite struct SSHLabTests {
    @Test func twoHostsOnDifferentPortsAnswerWithTheirOwnNames() throws {
        let lab = try SSHLab.start(hosts: ["host01", "host02"])
        defer { lab.stop() }
        let h1 = lab.host("host01"), h2 = lab.host("host02")
        #expect(h1.port != 0 && h2.port != 0)
        #expect(h1.port != h2.port)
        #expect(h1.sshdPID > 0 && h2.sshdPID > 0 && h1.sshdPID != h2.sshdPID)
        #expect(processAlive(h1.sshdPID) && processAlive(h2.sshdPID))

        let r1 = try lab.ssh("host01", "hostname")
        #expect(r1.status == 0, "\(r1)")
        #expect(r1.stdout == "host01\n")
        let r2 = try lab.ssh("host02", "hostname")
        #expect(r2.status == 0, "\(r2)")
        #expect(r2.stdout == "host02\n")

        let inventory = try String(contentsOfFile: lab.inventoryPath, encoding: .utf8)
        #expect(inventory == """
            host01 ansible_host=127.0.0.1 ansible_port=\(h1.port) ansible_user=root
            host02 ansible_host=127.0.0.1 ansible_port=\(h2.port) ansible_user=root

            """)
        let knownHosts = try String(contentsOfFile: lab.knownHostsPath, encoding: .utf8)
        #expect(knownHosts.contains("[127.0.0.1]:\(h1.port) ssh-ed25519 "))
        #expect(knownHosts.contains("[127.0.0.1]:\(h2.port) ssh-ed25519 "))
        #expect(FileManager.default.fileExists(atPath: lab.privateKeyPath))
        #expect(lab.status().contains("host01 \(h1.port) \(h1.sshdPID) up"))
    }

    @Test func hostFilesAreSeenOnlyOnTheirOwnHost() throws {
        let lab = try SSHLab.start(hosts: ["host01", "host02"])
        defer { lab.stop() }
        let token = "marker-\(UUID().uuidString)"
        try "\(token)\n".write(toFile: lab.host("host01").root + "/etc/postfix/x", atomically: true, encoding: .utf8)
        try "mail\n".write(toFile: lab.host("host01").root + "/etc/mail/y", atomically: true, encoding: .utf8)

        let seen = try lab.ssh("host01", "cat /etc/postfix/x /etc/mail/y")
        #expect(seen.status == 0, "\(seen)")
        #expect(seen.stdout == "\(token)\nmail\n")

        let other = try lab.ssh("host02", "test -e /etc/postfix/x || test -e /etc/mail/y; echo $?; ls -A /etc/postfix")
        #expect(other.status == 0, "\(other)")
        #expect(other.stdout == "1\n")
        // The machine's own /etc/postfix is untouched.
        #expect(!FileManager.default.fileExists(atPath: "/etc/postfix/x"))
    }

    /// postfix's master.pid and master.lock are each host's own: `master -t` on one host
    /// must not see another host's lock.
    @Test func postfixStateIsEachHostsOwn() throws {
        let lab = try SSHLab.start(hosts: ["host01", "host02"])
        defer { lab.stop() }
        let mine = try lab.ssh("host01", "echo 4242 > /var/spool/postfix/pid/master.pid && touch /var/lib/postfix/master.lock && stat -c %U /var/lib/postfix")
        #expect(mine.status == 0 && mine.stdout == "postfix\n", "\(mine)")
        let other = try lab.ssh("host02", "ls -A /var/spool/postfix/pid /var/lib/postfix")
        #expect(other.stdout == "/var/lib/postfix:\n\n/var/spool/postfix/pid:\n", "\(other)")
        #expect(FileManager.default.fileExists(atPath: lab.host("host01").directory + "/postfix/pid/master.pid"))
        #expect(!FileManager.default.fileExists(atPath: "/var/spool/postfix/pid/master.pid") ||
                (try? String(contentsOfFile: "/var/spool/postfix/pid/master.pid", encoding: .utf8)) != "4242\n")
    }

    @Test func renameInsideTheBoundFolderWorks() throws {
        let lab = try SSHLab.start(hosts: ["host01"])
        defer { lab.stop() }
        let mainCF = lab.host("host01").root + "/etc/postfix/main.cf"
        try "old = 1\n".write(toFile: mainCF, atomically: true, encoding: .utf8)

        let r = try lab.ssh("host01", """
            set -e
            printf 'new = 2\\n' > /etc/postfix/.main.cf.tmp
            mv /etc/postfix/.main.cf.tmp /etc/postfix/main.cf
            cat /etc/postfix/main.cf
            """)
        #expect(r.status == 0, "\(r)")
        #expect(r.stdout == "new = 2\n")
        #expect(try String(contentsOfFile: mainCF, encoding: .utf8) == "new = 2\n")
        #expect(!FileManager.default.fileExists(atPath: lab.host("host01").root + "/etc/postfix/.main.cf.tmp"))
    }

    @Test func aShimInTheShimFolderIsWhatTheHostRuns() throws {
        let lab = try SSHLab.start(hosts: ["host01", "host02"])
        defer { lab.stop() }
        let h = lab.host("host01")
        let shim = h.shims + "/uname"
        try """
            #!/bin/sh
            echo "uname $*" >> \(h.commandsLog)
            echo AIX

            """.write(toFile: shim, atomically: true, encoding: .utf8)
        chmod(shim, 0o755)

        let r = try lab.ssh("host01", "uname -s")
        #expect(r.status == 0, "\(r)")
        #expect(r.stdout == "AIX\n")
        #expect(try String(contentsOfFile: h.commandsLog, encoding: .utf8) == "uname -s\n")

        // host02 has no shim: the real uname.
        let other = try lab.ssh("host02", "uname -s")
        #expect(other.stdout == "Linux\n", "\(other)")
    }

    @Test func strictHostKeyCheckingRejectsAWrongKey() throws {
        let lab = try SSHLab.start(hosts: ["host01", "host02"])
        defer { lab.stop() }
        let h1 = lab.host("host01")
        // host02's key filed under host01's port.
        let key2 = try String(contentsOfFile: lab.host("host02").directory + "/ssh_host_ed25519_key.pub", encoding: .utf8)
        let keyParts = key2.split(separator: " ").prefix(2).joined(separator: " ")
        let wrong = lab.directory + "/known_hosts.wrong"
        try "[127.0.0.1]:\(h1.port) \(keyParts)\n".write(toFile: wrong, atomically: true, encoding: .utf8)

        let r = try runCommand(["ssh", "-F", lab.sshConfigPath, "-o", "UserKnownHostsFile=\(wrong)",
                                "-p", String(h1.port), "root@127.0.0.1", "echo reached"])
        #expect(r.status == 255, "\(r)")
        #expect(!r.stdout.contains("reached"))
        #expect(r.stderr.contains("REMOTE HOST IDENTIFICATION HAS CHANGED")
                || r.stderr.contains("Host key verification failed"), "\(r)")

        // An unknown host is refused too (BatchMode, strict checking).
        let empty = lab.directory + "/known_hosts.empty"
        try "".write(toFile: empty, atomically: true, encoding: .utf8)
        let u = try runCommand(["ssh", "-F", lab.sshConfigPath, "-o", "UserKnownHostsFile=\(empty)",
                                "-p", String(h1.port), "root@127.0.0.1", "echo reached"])
        #expect(u.status == 255, "\(u)")
        #expect(u.stderr.contains("Host key verification failed"), "\(u)")

        // And the lab's own known_hosts works.
        #expect(try lab.ssh("host01", "echo reached").stdout == "reached\n")
    }

    @Test func nonRootUserHasPasswordlessSudo() throws {
        let lab = try SSHLab.start(hosts: ["host01"], nonRootUser: true)
        defer { lab.stop() }
        let r = try lab.ssh("host01", "id -un; sudo -n id -u; sudo -n cat /etc/postfix/secret",
                            user: SSHLab.nonRootUser)
        #expect(r.status == 1, "\(r)")  // the file does not exist yet
        try "s\n".write(toFile: lab.host("host01").root + "/etc/postfix/secret", atomically: true, encoding: .utf8)
        chmod(lab.host("host01").root + "/etc/postfix/secret", 0o600)

        let s = try lab.ssh("host01", "id -un; cat /etc/postfix/secret 2>/dev/null || echo denied; sudo -n id -u; sudo -n cat /etc/postfix/secret; hostname",
                            user: SSHLab.nonRootUser)
        #expect(s.status == 0, "\(s)")
        #expect(s.stdout == "\(SSHLab.nonRootUser)\ndenied\n0\ns\nhost01\n", "\(s)")
    }

    @Test func unreachableHostsAreInTheInventoryWithAClosedPort() throws {
        let lab = try SSHLab.start(hosts: ["host01"], unreachable: ["gone01"])
        defer { lab.stop() }
        let gone = lab.host("gone01")
        #expect(!gone.reachable)
        #expect(gone.port != 0 && gone.port != lab.host("host01").port)
        let inventory = try String(contentsOfFile: lab.inventoryPath, encoding: .utf8)
        #expect(inventory.contains("gone01 ansible_host=127.0.0.1 ansible_port=\(gone.port) ansible_user=root\n"))
        #expect(connectError(port: gone.port) == ECONNREFUSED)
        let r = try lab.ssh("gone01", "true")
        #expect(r.status == 255, "\(r)")
        #expect(r.stderr.contains("Connection refused"), "\(r)")
        #expect(try lab.ssh("host01", "hostname").stdout == "host01\n")
    }

    @Test func killSSHDTakesOneHostDown() throws {
        let lab = try SSHLab.start(hosts: ["host01", "host02"])
        defer { lab.stop() }
        let h1 = lab.host("host01")
        lab.killSSHD("host01")
        #expect(processGone(h1.sshdPID))
        #expect(connectError(port: h1.port) == ECONNREFUSED)
        let r = try lab.ssh("host01", "true")
        #expect(r.status == 255, "\(r)")
        #expect(try lab.ssh("host02", "hostname").stdout == "host02\n")
        #expect(lab.status().contains("host01 \(h1.port) \(h1.sshdPID) down"))
    }

    @Test func stopEndsEverySSHDAndItsSessionsAndClosesThePorts() throws {
        let lab = try SSHLab.start(hosts: ["host01", "host02"])
        defer { lab.stop() }
        let hosts = lab.hosts

        // A session still running at stop time: its remote shell records its pid.
        let session = Process()
        session.executableURL = URL(fileURLWithPath: "/usr/bin/ssh")
        session.arguments = Array(lab.sshArguments("host01").dropFirst()) + ["echo $$ > /etc/postfix/session.pid; exec sleep 60"]
        session.standardInput = FileHandle.nullDevice
        session.standardOutput = FileHandle.nullDevice
        session.standardError = FileHandle.nullDevice
        try session.run()
        let pidFile = lab.host("host01").root + "/etc/postfix/session.pid"
        var remotePID: Int32 = 0
        for _ in 0..<200 {
            if let text = try? String(contentsOfFile: pidFile, encoding: .utf8),
               let pid = Int32(text.trimmingCharacters(in: .whitespacesAndNewlines)) {
                remotePID = pid
                break
            }
            usleep(50_000)
        }
        #expect(remotePID > 0)
        #expect(processAlive(remotePID))

        let started = Date()
        lab.stop()
        let took = Date().timeIntervalSince(started)
        #expect(took < 10, "stop took \(took) s")

        for h in hosts {
            #expect(processGone(h.sshdPID), "sshd \(h.sshdPID) of \(h.name) still alive")
            #expect(connectError(port: h.port) == ECONNREFUSED, "port \(h.port) of \(h.name) still open")
        }
        if remotePID > 0 { #expect(processGone(remotePID), "session shell \(remotePID) still alive") }
        #expect(!FileManager.default.fileExists(atPath: lab.directory))

        // The client sees its connection closed.
        let deadline = Date().addingTimeInterval(10)
        while session.isRunning && Date() < deadline { usleep(50_000) }
        #expect(!session.isRunning)
        if session.isRunning { session.terminate() }
        session.waitUntilExit()

        lab.stop()  // idempotent
    }
}

// MARK: - helpers

/// True if the process exists and is not a zombie.
private func processAlive(_ pid: Int32) -> Bool {
    guard pid > 0, let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8) else { return false }
    guard let close = stat.lastIndex(of: ")") else { return false }
    let rest = stat[stat.index(after: close)...].trimmingCharacters(in: .whitespaces)
    return !rest.hasPrefix("Z")
}

/// Gone, or a zombie waiting for PID 1 to reap it; waits up to 5 s.
private func processGone(_ pid: Int32) -> Bool {
    for _ in 0..<100 {
        if !processAlive(pid) { return true }
        usleep(50_000)
    }
    return false
}

/// errno of a TCP connect to 127.0.0.1:port (0 if it connected).
private func connectError(port: UInt16) -> Int32 {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    guard fd >= 0 else { return errno }
    defer { close(fd) }
    var addr = loopbackAddress(port: port)
    let rc = withUnsafePointer(to: &addr) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
            connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
        }
    }
    return rc == 0 ? 0 : errno
}
