import Foundation
import Testing

#if canImport(Glibc)
import Glibc
#endif

@testable import MTAGuard

/// A real listener process (python3) on 127.0.0.1, on a port the kernel picks: python binds,
/// listens and forks; the child keeps the socket (its own session, stdio on /dev/null) and the
/// parent prints the port and the child's pid, so the test knows both when `init` returns. The
/// child closes every other descriptor it inherited (another test's pipes, open while this one
/// was spawned, would otherwise never see their end).
/// `stop()` ends it by that pid.
final class ProcessListener: @unchecked Sendable {
    let port: UInt16
    let pid: Int32

    init() throws {
        let code = """
            import os, signal, socket
            s = socket.socket(); s.bind(("127.0.0.1", 0)); s.listen(4)
            pid = os.fork()
            if pid == 0:
                os.setsid()
                null = os.open("/dev/null", os.O_RDWR)
                for fd in (0, 1, 2): os.dup2(null, fd)
                os.closerange(3, s.fileno()); os.closerange(s.fileno() + 1, 65536)
                while True: signal.pause()
            print(s.getsockname()[1], pid)
            """
        let r = try runCommand(["/usr/bin/python3", "-c", code])
        let words = r.stdout.split(separator: " ").map { $0.trimmingCharacters(in: .whitespacesAndNewlines) }
        guard r.status == 0, words.count == 2, let port = UInt16(words[0]), let pid = Int32(words[1]), pid > 1 else {
            throw SSHLabError(description: "the python3 listener did not start: \(r)")
        }
        self.port = port
        self.pid = pid
    }

    /// Whether the process still runs (mtaguard never kills it): not gone, not a zombie.
    var running: Bool {
        guard kill(pid, 0) == 0, let status = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8) else { return false }
        return !status.contains(") Z ")
    }

    func stop() { kill(pid, SIGKILL) }

    deinit { stop() }
}

/// SRV-004 names what listens: the process behind a port-25 listener, as the host's own tool
/// tells (ss -ltnp, lsof, netstat -ltnp, Solaris pfiles, AIX netstat -Aan + rmsock), in the
/// evidence of mode disable; where the tool is missing or not allowed, the evidence says so
/// and the verdict is the same. Nothing is ever killed.
@Suite struct ListenerOwnerTests {
    // MARK: Parsing what the tools print

    static func parse(via: String, uid: String = "0", _ lines: [String], extra: [(String, String)] = []) -> ListenerOwners {
        var reader = RemoteScript.ListenerOwnerLines()
        reader.read("lproc-uid", uid)
        reader.read("lproc-via", via)
        for line in lines { reader.read("lproc", line) }
        for (w, a) in extra { reader.read(w, a) }
        return reader.owners
    }

    static func socket(_ line: String) throws -> ListeningSocket { try #require(ListeningSocket(line: line)) }

    @Test func ssNamesEveryProcessOfASocket() throws {
        let owners = Self.parse(via: "ss -ltnp", [
            #"LISTEN 0      100        127.0.0.1:25         0.0.0.0:*    users:(("master",pid=123,fd=13),("master",pid=124,fd=13))"#,
            #"LISTEN 0      100          0.0.0.0:587        0.0.0.0:*    users:(("sendmail: MTA",pid=77,fd=4))"#,
            "LISTEN 0      128          0.0.0.0:2024       0.0.0.0:*",
        ])
        let answer = owners.answer(for: try Self.socket("LISTEN 0 100 127.0.0.1:25 0.0.0.0:*"))
        #expect(answer.processes == "master, pid 123; master, pid 124")
        #expect(answer == .named(owners.entries.prefix(2).map(\.process), by: "ss -ltnp"))
        #expect(owners.answer(for: try Self.socket("LISTEN 0 100 0.0.0.0:587 0.0.0.0:*")).processes == "sendmail: MTA, pid 77")
        #expect(owners.answer(for: try Self.socket("LISTEN 0 100 0.0.0.0:2024 0.0.0.0:*"))
                == .unknown("ss -ltnp named no process for it"))
    }

    /// A non-root ss shows the sockets and no users: said, with the reason.
    @Test func aNonRootLoginIsSaid() throws {
        let owners = Self.parse(via: "ss -ltnp", uid: "1001", ["LISTEN 0 100 127.0.0.1:25 0.0.0.0:*"])
        #expect(owners.answer(for: try Self.socket("LISTEN 0 100 127.0.0.1:25 0.0.0.0:*"))
                == .unknown("ss -ltnp named no process for it; the login is not root, and only root sees another user's process"))
    }

    @Test func lsofAndNetstatLines() throws {
        let lsof = Self.parse(via: "lsof -nP -iTCP:25 -sTCP:LISTEN", [
            "COMMAND  PID USER   FD   TYPE  DEVICE SIZE/OFF NODE NAME",
            "sendmail 4711 root    5u  IPv4 1555591      0t0  TCP *:25 (LISTEN)",
        ])
        #expect(lsof.answer(for: try Self.socket("*.25 *.* 0 0 0 0 LISTEN")).processes == "sendmail, pid 4711")
        let netstat = Self.parse(via: "netstat -ltnp", [
            "tcp        0      0 127.0.0.1:25            0.0.0.0:*               LISTEN      9280/exim4",
            "tcp6       0      0 :::25                   :::*                    LISTEN      -",
        ])
        #expect(netstat.answer(for: try Self.socket("LISTEN 0 100 127.0.0.1:25 0.0.0.0:*")).processes == "exim4, pid 9280")
        // The v6 socket has no process ("-" where netstat may not tell): the port's processes.
        #expect(netstat.answer(for: try Self.socket("LISTEN 0 100 [::]:25 [::]:*")).processes == "exim4, pid 9280")
    }

    /// Names are bounded and shown escaped; a pid that is not a number is no process.
    @Test func hostileNamesAndPids() throws {
        let owners = Self.parse(via: "ss -ltnp", [
            "LISTEN 0 1 127.0.0.1:25 0.0.0.0:* users:((\"ev\u{1B}[31mil\\\",pid=5,fd=1),(\"x\",pid=$(id),fd=2),(\"y\",pid=0,fd=3),(\"z\",pid=99999999999,fd=4))",
        ])
        #expect(owners.entries.count == 1)
        #expect(owners.entries.first?.process.name.description == "ev\\x1b[31mil\\x5c")
        let long = try #require(ListenerProcess(pid: "7", name: String(repeating: "a", count: 500)))
        #expect(long.name.raw.count == ProcessName.limit)
        #expect(ListenerProcess(pid: "-1", name: "a") == nil)
        #expect(ListenerProcess(pid: "12", name: "") == nil)
    }

    /// Solaris pfiles: the listening socket's process, not the one with a connection on the
    /// same port (peername), and the processes pfiles could not examine counted.
    @Test func pfilesStreams() throws {
        let owners = Self.parse(via: "pfiles", [
            "812:\t/usr/lib/sendmail -bd -q15m",
            "   5: S_IFSOCK mode:0666 dev:332,0 ino:23181 uid:0 gid:0 size:0",
            "\tsockname: AF_INET 0.0.0.0  port: 25",
            "   6: S_IFSOCK mode:0666 dev:332,0 ino:23182 uid:0 gid:0 size:0",
            "\tsockname: AF_INET6 ::  port: 587",
            "913:\t/usr/lib/sendmail -bd -q15m",
            "   7: S_IFSOCK mode:0666 dev:332,0 ino:4711 uid:0 gid:0 size:0",
            "\tsockname: AF_INET 127.0.0.1  port: 25",
            "\tpeername: AF_INET 127.0.0.1  port: 40123",
        ], extra: [("lproc-unexamined", "3")])
        #expect(owners.answer(for: try Self.socket("*.25 *.* 0 0 0 0 LISTEN")).processes == "sendmail, pid 812")
        #expect(owners.answer(for: try Self.socket("*.587 *.* 0 0 0 0 LISTEN")).processes == "sendmail, pid 812")
        #expect(owners.answer(for: try Self.socket("*.2525 *.* 0 0 0 0 LISTEN"))
                == .unknown("pfiles named no process for it, and could not examine 3 processes"))
    }

    @Test func rmsockLines() throws {
        let owners = Self.parse(via: "rmsock", [
            "*.25 The socket 0xf1000e0000b5c008 is being held by proccess 4522972 (sendmail).",
            "*.587 rmsock : Unable to locate socket 0xf1000e0000b5c3c0 in the file table.",
        ])
        #expect(owners.answer(for: try Self.socket("*.25 *.* 0 0 0 0 LISTEN")).processes == "sendmail, pid 4522972")
        #expect(owners.answer(for: try Self.socket("*.587 *.* 0 0 0 0 LISTEN"))
                == .unknown("rmsock named no process for it (rmsock said: rmsock : Unable to locate socket 0xf1000e0000b5c3c0 in the file table.)"))
    }

    // MARK: Real listeners over real SSH

    static func shim(_ lab: SSHLab, _ host: String, _ name: String, _ body: String) throws {
        let h = lab.host(host)
        let path = h.shims + "/" + name
        try Data("#!/bin/sh\necho \"$(basename \"$0\") $*\" >> \(h.commandsLog)\n\(body)\n".utf8).write(to: URL(fileURLWithPath: path))
        chmod(path, 0o755)
    }

    static func recorded(_ lab: SSHLab, _ host: String, _ tools: Set<String>) -> [String] {
        let log = (try? String(contentsOfFile: lab.host(host).commandsLog, encoding: .utf8)) ?? ""
        return log.split(separator: "\n").map(String.init).filter { tools.contains(String($0.split(separator: " ").first ?? "")) }
    }

    static func clear(_ lab: SSHLab, _ host: String) throws {
        try Data().write(to: URL(fileURLWithPath: lab.host(host).commandsLog))
    }

    /// The evidence of SRV-004 in mode disable for the lab host, after a check with `status`.
    static func disableCheck(_ lab: SSHLab, inventory: String? = nil, books: TempDir, backups: TempDir, status: Int32 = 2)
        throws -> [[String: Any]]
    {
        let r = try mtaguard(
            ["check", "--item", "SRV-004", "--mode", "disable", "-i", inventory ?? lab.inventoryPath, "--ssh-config", lab.sshConfigPath,
             "--format", "json"],
            backups: backups.path, playbooks: books.path)
        #expect(r.status == status, "\(r)")
        let finding = try #require(try ListenerTests.srv004(r.stdout).first, "\(r)")
        #expect(finding["status"] as? String == "fail", "\(finding)")
        return finding["evidence"] as? [[String: Any]] ?? []
    }

    static func note(_ evidence: [[String: Any]], port: UInt16) -> String {
        evidence.first { ($0["text"] as? String ?? "").contains("127.0.0.1:\(port)") }?["note"] as? String ?? "(no socket: \(evidence))"
    }

    /// A real python3 listener on a lab host (root): ss -ltnp names it; with ss failing, lsof;
    /// with lsof gone too, netstat -ltnp. Apply stops nothing and the listener still runs.
    @Test func linuxToolsNameARealListener() throws {
        let listener = try ProcessListener()
        defer { listener.stop() }
        let books = try ListenerTests.playbooks(port: listener.port)
        defer { books.remove() }
        let lab = try SSHLab.start(hosts: ["lo1"])
        defer { lab.stop() }
        try Shims.install(lab, "lo1", family: .systemd, running: false, enabled: false)
        let backups = try TempDir("srv004-owner")
        defer { backups.remove() }
        let port = listener.port, pid = listener.pid

        let viaSS = try Self.disableCheck(lab, books: books, backups: backups)
        #expect(Self.note(viaSS, port: port) == "127.0.0.1:\(port) is listening (python3, pid \(pid), not known to any service manager): "
                + "stop it, and what starts it, by hand; ss -ltnp named the process, which mtaguard never kills", "\(viaSS)")
        let apply = try mtaguard(
            ["apply", "--yes", "--item", "SRV-004", "--mode", "disable", "-i", lab.inventoryPath, "--ssh-config", lab.sshConfigPath],
            backups: backups.path, playbooks: books.path)
        #expect(Shims.changes(lab, "lo1").isEmpty, "\(apply)")
        #expect(listener.running)

        try Self.shim(lab, "lo1", "ss", "exit 1")
        try Self.clear(lab, "lo1")
        let viaLsof = try Self.disableCheck(lab, books: books, backups: backups)
        #expect(Self.recorded(lab, "lo1", ["ss"]) == ["ss -ltn", "ss -ltnp"])
        #expect(Self.note(viaLsof, port: port) == "127.0.0.1:\(port) is listening (python3, pid \(pid), not known to any service manager): "
                + "stop it, and what starts it, by hand; lsof -nP -iTCP:\(port) -sTCP:LISTEN named the process, which mtaguard never kills",
                "\(viaLsof)")

        let hidden = try lab.inNamespace("lo1", "if [ -f /usr/bin/lsof ]; then mount --bind /dev/null /usr/bin/lsof; fi")
        #expect(hidden.status == 0, "\(hidden)")
        let viaNetstat = try Self.disableCheck(lab, books: books, backups: backups)
        #expect(Self.note(viaNetstat, port: port).contains("(python3, pid \(pid), not known to any service manager)"), "\(viaNetstat)")
        #expect(Self.note(viaNetstat, port: port).contains("netstat -ltnp named the process"), "\(viaNetstat)")
        #expect(listener.running)
    }

    /// A non-root login: ss -ltnp shows the socket without its process; the evidence says why,
    /// and the verdict is the same 취약.
    @Test func aNonRootLoginCannotNameIt() throws {
        let listener = try ProcessListener()
        defer { listener.stop() }
        let login = try NonRootLogin.create(prefix: "listeners-")
        defer { login.remove() }
        let books = try ListenerTests.playbooks(port: listener.port)
        defer { books.remove() }
        let lab = try SSHLab.start(hosts: ["lo2"])
        defer { lab.stop() }
        try login.authorize(lab)
        // sendmail is installed as a service and stopped: no service manager knows the listener.
        try Shims.install(lab, "lo2", family: .systemd, running: false, enabled: false)
        let backups = try TempDir("srv004-owner")
        defer { backups.remove() }
        let inventory = backups.path + "/hosts.ini"
        let text = try String(contentsOfFile: lab.inventoryPath, encoding: .utf8)
            .replacingOccurrences(of: "ansible_user=root", with: "ansible_user=\(login.name)")
        try Data(text.utf8).write(to: URL(fileURLWithPath: inventory))
        let evidence = try Self.disableCheck(lab, inventory: inventory, books: books, backups: backups)
        #expect(Self.note(evidence, port: listener.port) == "127.0.0.1:\(listener.port) is listening (the process could not be named: "
                + "ss -ltnp named no process for it; the login is not root, and only root sees another user's process; "
                + "not known to any service manager): find it as root (ss -ltnp, lsof -nP -iTCP:\(listener.port) -sTCP:LISTEN, "
                + "or pfiles on Solaris) and stop it, and what starts it, by hand", "\(evidence)")
    }

    /// Solaris (uname SunOS): pfiles over every pid, recorded; the listening socket's process
    /// is named, the connected one's is not. Without pfiles, the evidence says the host has none.
    /// AIX: netstat -Aan, then rmsock on the listening socket's control block only (a hostile
    /// line is never run), recorded exactly.
    @Test func solarisAndAIXShims() throws {
        let listener = try ProcessListener()
        defer { listener.stop() }
        let books = try ListenerTests.playbooks(port: listener.port)
        defer { books.remove() }
        let lab = try SSHLab.start(hosts: ["lo3"])
        defer { lab.stop() }
        let backups = try TempDir("srv004-owner")
        defer { backups.remove() }
        let port = listener.port, pid = listener.pid
        let canary = lab.host("lo3").directory + "/canary"

        // Without SMF, mtaguard asks postfix itself whether it runs: this host's postfix does
        // not (the machine's own postfix answers for whatever else runs on it meanwhile).
        try Self.shim(lab, "lo3", "postfix", "echo 'postfix/postfix-script: the Postfix mail system is not running' >&2; exit 1")
        try Self.shim(lab, "lo3", "uname", "case \"$1\" in -s) echo SunOS;; -r) echo 5.11;; *) echo SunOS;; esac")
        try Self.shim(lab, "lo3", "pfiles", """
            case "$1" in
            \(pid)) printf '%s:\\t%s\\n' "$1" '/usr/lib/sendmail -bd -q15m'
              printf '   5: S_IFSOCK mode:0666 dev:332,0 ino:23181 uid:0 gid:0 size:0\\n\\tsockname: AF_INET 127.0.0.1  port: %s\\n' \(port);;
            1) echo "pfiles: cannot examine 1: permission denied" >&2; exit 1;;
            *) printf '%s:\\t%s\\n' "$1" '/usr/lib/sendmail -bd'
              printf '   7: S_IFSOCK mode:0666 dev:332,0 ino:4711 uid:0 gid:0 size:0\\n\\tsockname: AF_INET 127.0.0.1  port: %s\\n' \(port)
              printf '\\tpeername: AF_INET 127.0.0.1  port: 40123\\n';;
            esac
            """)
        let solaris = try Self.disableCheck(lab, books: books, backups: backups)
        #expect(Self.note(solaris, port: port) == "127.0.0.1:\(port) is listening (sendmail, pid \(pid), not known to any service manager): "
                + "stop it, and what starts it, by hand; pfiles named the process, which mtaguard never kills", "\(solaris)")
        let pfiles = Self.recorded(lab, "lo3", ["pfiles"])
        #expect(pfiles.contains("pfiles \(pid)") && pfiles.contains("pfiles 1"), "\(pfiles)")
        #expect(pfiles.allSatisfy { $0.wholeMatch(of: /pfiles [1-9][0-9]*/) != nil }, "\(pfiles)")

        try FileManager.default.removeItem(atPath: lab.host("lo3").shims + "/pfiles")
        let noPfiles = try Self.disableCheck(lab, books: books, backups: backups)
        #expect(Self.note(noPfiles, port: port).hasPrefix("127.0.0.1:\(port) is listening (the process could not be named: the host has no pfiles;"),
                "\(noPfiles)")

        try Self.shim(lab, "lo3", "uname", "case \"$1\" in -s) echo AIX;; -r) echo 3;; *) echo AIX;; esac")
        try Self.shim(lab, "lo3", "netstat", """
            [ "$1" = -Aan ] || exit 1
            cat <<'E'
            Active Internet connections (including servers)
            PCB/ADDR         Proto Recv-Q Send-Q  Local Address      Foreign Address    (state)
            f1000e0000b5c3b8 tcp4       0      0  127.0.0.1.\(port)  *.*                LISTEN
            f1000e0000b5c9c8 tcp4       0      0  127.0.0.1.\(port)  127.0.0.1.40123    ESTABLISHED
            $(touch \(canary)) tcp4       0      0  *.\(port)  *.*                LISTEN
            f1000e0000b5d1d8 tcp4       0      0  *.2024              *.*                LISTEN
            E
            """)
        try Self.shim(lab, "lo3", "rmsock", """
            [ "$1" = f1000e0000b5c3b8 ] && [ "$2" = tcpcb ] || exit 1
            echo "The socket 0xf1000e0000b5c008 is being held by proccess \(pid) (sendmail)."
            """)
        try Self.clear(lab, "lo3")
        let aix = try Self.disableCheck(lab, books: books, backups: backups)
        #expect(Self.recorded(lab, "lo3", ["netstat", "rmsock"]) == ["netstat -Aan", "rmsock f1000e0000b5c3b8 tcpcb"])
        #expect(Self.note(aix, port: port) == "127.0.0.1:\(port) is listening (sendmail, pid \(pid), not known to any service manager): "
                + "stop it, and what starts it, by hand; rmsock named the process, which mtaguard never kills", "\(aix)")
        #expect(!FileManager.default.fileExists(atPath: canary))
        #expect(listener.running)
    }
}
