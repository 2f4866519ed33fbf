import Foundation
import Testing

#if canImport(Glibc)
import Glibc
#endif

@testable import MTAGuard

/// A TCP socket listening on 127.0.0.1, on a port the kernel picks, until `close()`.
final class LoopbackListener: @unchecked Sendable {
    let port: UInt16
    private var fd: Int32

    init() throws {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw LoopbackSocketError(operation: "socket", code: errno) }
        var addr = loopbackAddress(port: 0)
        let bound = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard bound == 0, listen(fd, 4) == 0 else { Glibc.close(fd); throw LoopbackSocketError(operation: "bind/listen", code: errno) }
        var len = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &len) }
        }
        self.fd = fd
        port = UInt16(bigEndian: addr.sin_port)
    }

    func close() {
        if fd >= 0 { Glibc.close(fd); fd = -1 }
    }

    deinit { close() }
}

/// SRV-004: what listens on the item's port, read from the host's own tool (ss, else netstat)
/// on this machine and over SSH, for every line shape the tools print; the "not needed"
/// branch stops and disables the MTA.
@Suite struct ListenerTests {
    /// The shipped SRV-004 with its port replaced (a test cannot own port 25).
    static func playbooks(port: UInt16) throws -> TempDir {
        let dir = try TempDir("srv004-books")
        let text = try String(contentsOfFile: Repo.playbooks + "/srv-004.yaml", encoding: .utf8)
        let changed = text.replacingOccurrences(of: "port: 25,", with: "port: \(port),")
        #expect(changed != text)
        _ = try dir.write("srv-004.yaml", changed)
        return dir
    }

    static func srv004(_ json: String) throws -> [[String: Any]] {
        let report = try #require(try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any])
        let hosts = report["hosts"] as? [[String: Any]] ?? []
        return hosts.flatMap { $0["findings"] as? [[String: Any]] ?? [] }.filter { $0["item"] as? String == "SRV-004" }
    }

    @Test(arguments: [
        // ss -ltn (Linux)
        ("LISTEN 0      100          0.0.0.0:25        0.0.0.0:*", "0.0.0.0:25"),
        ("LISTEN 0      100             [::]:25           [::]:*", "[::]:25"),
        ("LISTEN 0      4096   127.0.0.53%lo:53        0.0.0.0:*", "127.0.0.53%lo:53"),
        ("LISTEN 0      128                *:587             *:*", "*:587"),
        // netstat -an: Linux, Solaris (v4 and v6), AIX, HP-UX
        ("tcp        0      0 127.0.0.1:25            0.0.0.0:*               LISTEN", "127.0.0.1:25"),
        ("tcp6       0      0 :::25                   :::*                    LISTEN", ":::25"),
        ("      *.25                 *.*                0      0 128000      0 LISTEN", "*:25"),
        ("127.0.0.1.25               *.*                0      0 128000      0 LISTEN", "127.0.0.1:25"),
        ("      *.25                             *.*                             0      0 128000      0 LISTEN", "*:25"),
        ("tcp4       0      0  *.25                  *.*                    LISTEN", "*:25"),
        ("tcp        0      0  *.25                  *.*                    LISTEN", "*:25"),
    ])
    func socketLinesOfEveryTool(line: String, endpoint: String) throws {
        let socket = try #require(ListeningSocket(line: line))
        #expect(socket.endpoint == endpoint)
    }

    @Test(arguments: [
        "State  Recv-Q Send-Q Local Address:Port Peer Address:PortProcess",
        "   Local Address        Remote Address    Swind Send-Q Rwind Recv-Q    State",
        "10.0.0",
        "tcp 0 0 host.99999 *.* LISTEN",
        "",
    ])
    func linesWithoutASocket(line: String) {
        #expect(ListeningSocket(line: line) == nil)
    }

    @Test func theShippedItemLoads() throws {
        let books = try PlaybookLoader.loadAll(folder: Repo.playbooks)
        let book = try #require(books.first { $0.id == "SRV-004" })
        #expect(book.listensOn == 25)
        #expect(book.mtas == ["sendmail", "postfix", "exim"])
        #expect(book.schemes == [.efinance: "SRV-004"])
    }

    @Test func badListeningIsNamed() {
        func error(_ listening: String) -> String {
            let text = "id: X-1\ntitle: x\nlistening: \(listening)\n"
            do { _ = try PlaybookLoader.load(file: "playbooks/x.yaml", text: text); return "no error" } catch { return "\(error)" }
        }
        #expect(error("{ port: 0, mtas: [postfix] }").contains("playbooks/x.yaml:3"))
        #expect(error("{ port: 0, mtas: [postfix] }").contains("not a TCP port"))
        #expect(error("{ port: smtp, mtas: [postfix] }").contains("not a TCP port"))
        #expect(error("{ port: 70000, mtas: [postfix] }").contains("not a TCP port"))
        #expect(error("{ port: 25 }").contains("mtas"))
        #expect(error("{ port: 25, mtas: [qmail] }").contains("qmail"))
        #expect(error("{ port: 25, mtas: [postfix], extra: 1 }").contains("extra"))
        #expect(error("{ port: 25, mtas: [postfix] }") == "no error")
    }

    /// This machine as the live host: a real socket on the item's port is seen (ss), and once
    /// closed, nothing is.
    @Test func theLocalHostSeesARealListener() throws {
        let listener = try LoopbackListener()
        defer { listener.close() }
        let books = try Self.playbooks(port: listener.port)
        defer { books.remove() }
        let backups = try TempDir("srv004")
        defer { backups.remove() }
        let on = try mtaguard(["check", "--item", "SRV-004", "--format", "json"], backups: backups.path, playbooks: books.path)
        #expect(on.status == 0, "\(on)")
        let found = try #require(try Self.srv004(on.stdout).first)
        #expect(found["status"] as? String == "pass")
        let evidence = found["evidence"] as? [[String: Any]] ?? []
        #expect(evidence.contains { ($0["text"] as? String ?? "").contains("127.0.0.1:\(listener.port)") }, "\(evidence)")
        #expect(evidence.contains { ($0["note"] as? String ?? "").contains("--mode disable") }, "\(evidence)")

        listener.close()
        let off = try mtaguard(["check", "--item", "SRV-004", "--format", "json"], backups: backups.path, playbooks: books.path)
        #expect(off.status == 0, "\(off)")
        let none = try Self.srv004(off.stdout).first?["evidence"] as? [[String: Any]] ?? []
        #expect(none.map { $0["text"] as? String } == ["(no socket on port \(listener.port))"], "\(off.stdout)")
        #expect(none.first?["note"] as? String == "nothing listens on port \(listener.port): no SMTP service is offered")
    }

    /// An offline root runs nothing: the listener part is 해당 없음 there.
    @Test func anOfflineRootIsNotApplicable() throws {
        let root = try TempDir("srv004-root")
        defer { root.remove() }
        let backups = try TempDir("srv004")
        defer { backups.remove() }
        let r = try mtaguard(["check", "--item", "SRV-004", "--root", root.path, "--format", "json"], backups: backups.path)
        #expect(r.status == 0, "\(r)")
        #expect(try Self.srv004(r.stdout).first?["status"] as? String == "not-applicable", "\(r.stdout)")
    }

    /// Over SSH: ss's answer, then netstat's (ss failing) in the Solaris shape with a hostile
    /// line that must stay text, then both failing, then neither tool.
    @Test func overSSHEveryToolBranch() throws {
        let listener = try LoopbackListener()
        defer { listener.close() }
        let books = try Self.playbooks(port: listener.port)
        defer { books.remove() }
        let lab = try SSHLab.start(hosts: ["lst"])
        defer { lab.stop() }
        let backups = try TempDir("srv004")
        defer { backups.remove() }
        func check(status: Int32 = 0) throws -> [[String: Any]] {
            let r = try mtaguard(
                ["check", "--item", "SRV-004", "-i", lab.inventoryPath, "--ssh-config", lab.sshConfigPath, "--format", "json"],
                backups: backups.path, playbooks: books.path)
            #expect(r.status == status, "\(r)")
            return try Self.srv004(r.stdout).first?["evidence"] as? [[String: Any]] ?? []
        }
        let viaSS = try check()
        #expect(viaSS.first?["file"] as? String == "ss -ltn", "\(viaSS)")
        #expect(viaSS.contains { ($0["text"] as? String ?? "").contains("127.0.0.1:\(listener.port)") }, "\(viaSS)")

        let canary = lab.host("lst").directory + "/canary"
        let shims = lab.host("lst").shims
        func shim(_ name: String, _ body: String) throws {
            try Data("#!/bin/sh\n\(body)\n".utf8).write(to: URL(fileURLWithPath: shims + "/" + name))
            chmod(shims + "/" + name, 0o755)
        }
        try shim("ss", "exit 1")
        try shim("netstat", """
            cat <<'E'
            TCP: IPv4
               Local Address        Remote Address    Swind Send-Q Rwind Recv-Q    State
            -------------------- -------------------- ----- ------ ----- ------ -----------
                  *.\(listener.port)                 *.*                0      0 128000      0 LISTEN
            $(touch \(canary)) '; touch \(canary); ' `touch \(canary)` *.\(listener.port) LISTEN
            E
            """)
        let viaNetstat = try check()
        #expect(viaNetstat.first?["file"] as? String == "netstat -an", "\(viaNetstat)")
        let texts = viaNetstat.map { $0["text"] as? String ?? "" }
        #expect(texts.contains("*.\(listener.port) *.* 0 0 128000 0 LISTEN"), "\(texts)")
        #expect(texts.contains { $0.hasPrefix("$(touch ") }, "\(texts)")
        #expect(!FileManager.default.fileExists(atPath: canary))

        try shim("netstat", "exit 2")
        // Both tools there and both failed: an item that could not be judged (exit 1, as for
        // any evidence in error), in words that say so.
        let failed = try check(status: 1)
        #expect(failed.count == 1)
        #expect(failed.first?["status"] as? String == "error")
        #expect(failed.first?["note"] as? String == "ss -ltn exited 1, netstat -an exited 2: what listens on port \(listener.port) could not be read", "\(failed)")

        // Neither tool on the host: the shims gone and this machine's own hidden in the host's
        // namespace (dash's command -v skips what is not a regular file).
        try FileManager.default.removeItem(atPath: shims + "/ss")
        try FileManager.default.removeItem(atPath: shims + "/netstat")
        let hidden = try lab.inNamespace("lst", "for t in /usr/bin/ss /usr/bin/netstat; do if [ -f $t ]; then mount --bind /dev/null $t || exit 1; fi; done")
        #expect(hidden.status == 0, "\(hidden)")
        let neither = try check(status: 1)
        #expect(neither.count == 1)
        #expect(neither.first?["status"] as? String == "error")
        #expect(neither.first?["note"] as? String == "the host has neither ss nor netstat to tell what listens on port \(listener.port)")
    }

    /// Mode disable: the MTA that is on the host is stopped and disabled (systemd here), a second
    /// apply does nothing, and rollback starts it again.
    @Test func notNeededStopsAndDisables() throws {
        let lab = try SSHLab.start(hosts: ["lsd"])
        defer { lab.stop() }
        try Shims.install(lab, "lsd", family: .systemd)
        let backups = try TempDir("srv004")
        defer { backups.remove() }
        let args = ["--item", "SRV-004", "--mode", "disable", "-i", lab.inventoryPath, "--ssh-config", lab.sshConfigPath]
        let apply = try mtaguard(["apply", "--yes"] + args, backups: backups.path)
        #expect(apply.status == 0, "\(apply)")
        #expect(Shims.changes(lab, "lsd") == ["systemctl stop sendmail", "systemctl disable sendmail"], "\(apply)")
        try Data().write(to: URL(fileURLWithPath: lab.host("lsd").commandsLog))
        let again = try mtaguard(["apply", "--yes"] + args, backups: backups.path)
        #expect(again.stdout.contains("nothing to do"), "\(again)")
        #expect(Shims.changes(lab, "lsd").isEmpty)

        let runs = try mtaguard(["runs", "--format", "json", "--backups", backups.path], backups: backups.path)
        let list = try #require(try JSONSerialization.jsonObject(with: Data(runs.stdout.utf8)) as? [[String: Any]])
        let id = try #require(list.first?["id"] as? String)
        let rollback = try mtaguard(["rollback", id, "--ssh-config", lab.sshConfigPath, "--backups", backups.path], backups: backups.path)
        #expect(rollback.status == 0, "\(rollback)")
        #expect(Shims.changes(lab, "lsd") == ["systemctl enable sendmail", "systemctl start sendmail"])
    }

    /// Mode disable reads the sockets too: a listener on the port that no service manager knows
    /// (started by hand) is 취약 and said, never passed because the MTA's service is stopped;
    /// nothing is run to stop it. With the listener gone, the same host passes.
    @Test func notNeededSeesAListenerNoServiceManagerKnows() throws {
        let listener = try LoopbackListener()
        let books = try Self.playbooks(port: listener.port)
        defer { books.remove() }
        let lab = try SSHLab.start(hosts: ["lsx"])
        defer { lab.stop() }
        // sendmail is installed as a service, stopped and disabled: the manager has nothing to do.
        try Shims.install(lab, "lsx", family: .systemd, running: false, enabled: false)
        let backups = try TempDir("srv004-rogue")
        defer { backups.remove() }
        let args = ["--item", "SRV-004", "--mode", "disable", "-i", lab.inventoryPath, "--ssh-config", lab.sshConfigPath]
        let check = try mtaguard(["check", "--format", "json"] + args, backups: backups.path, playbooks: books.path)
        #expect(check.status == 2, "\(check)")
        let finding = try #require(try Self.srv004(check.stdout).first)
        #expect(finding["status"] as? String == "fail", "\(finding)")
        let evidence = finding["evidence"] as? [[String: Any]] ?? []
        let rogue = try #require(evidence.first { ($0["text"] as? String ?? "").contains("127.0.0.1:\(listener.port)") }, "\(evidence)")
        #expect(rogue["status"] as? String == "fail")
        // The socket is this test process's own: ss -ltnp names it by its kernel name (15 bytes).
        let me = "\(ProcessInfo.processInfo.processName.prefix(15)), pid \(getpid())"
        #expect(rogue["note"] as? String == "127.0.0.1:\(listener.port) is listening (\(me), not known to any service manager): "
                + "stop it, and what starts it, by hand; ss -ltnp named the process, which mtaguard never kills", "\(rogue)")
        let apply = try mtaguard(["apply", "--yes"] + args, backups: backups.path, playbooks: books.path)
        #expect(Shims.changes(lab, "lsx").isEmpty, "\(apply)")
        listener.close()
        let after = try mtaguard(["check"] + args, backups: backups.path, playbooks: books.path)
        #expect(after.status == 0, "\(after)")
    }
}
