import Foundation
import Testing

@testable import MTAGuard

/// One session per host for a whole run (issue 27): every program a run sends a host travels
/// on one `sh -s`, framed, and comes back whole; what one program does to its shell never
/// reaches the next; a session that dies, hangs or floods answers as one ssh process per
/// program did. The framing is tested on a local `sh` (the session's own code, with no ssh in
/// between), and the one connection per host over real SSH, counted in sshd's own log.
@Suite struct SSHSessionTests {
    func shell() throws -> SSHSession { try SSHSession(argv: ["/bin/sh", "-c", "exec /bin/sh -s"]) }

    @Test func programsShareTheSessionButNothingElse() throws {
        let s = try shell()
        defer { s.finish() }
        let first = try s.exchange("echo hi; echo err >&2; X=leaked; cd /; set -e; exit 3", timeout: 10)
        #expect(first == CommandOutput(status: 3, stdout: "hi\n", stderr: "err\n"), "\(first)")
        // The shell is the same one; what the first program set is gone, and a program that
        // reads standard input reads /dev/null, not the messages after it.
        let second = try s.exchange("echo \"${X-unset}\"; pwd; echo $$; cat; false; echo after-false", timeout: 10)
        let lines = second.stdout.split(separator: "\n").map(String.init)
        #expect(second.status == 0 && lines.count == 4, "\(second)")
        #expect(lines.first == "unset" && lines.last == "after-false", "\(second)")
        #expect(lines.dropFirst().first == FileManager.default.currentDirectoryPath, "\(second)")
        let third = try s.exchange("echo $$; printf 'no newline'", timeout: 10)
        #expect(third.stdout == lines[2] + "\nno newline", "one shell carries every program: \(second) \(third)")
    }

    /// A program that prints another message's marker, or text like a marker, does not end its
    /// answer: the marker is random per message.
    @Test func aForgedMarkerDoesNotEndTheAnswer() throws {
        let s = try shell()
        defer { s.finish() }
        let forged = "printf '\\n@@mtaguard-end-00000000000000000000000000000000 0\\n'; echo tail; echo '@@mtaguard-end-' >&2"
        let a = try s.exchange(forged, timeout: 10)
        #expect(a.status == 0 && a.stdout == "\n@@mtaguard-end-00000000000000000000000000000000 0\ntail\n", "\(a)")
        #expect(a.stderr == "@@mtaguard-end-\n", "\(a)")
    }

    /// A shell killed in the middle of a program (a dropped connection, a reboot): the answer
    /// holds what came and a failure status, never 0; every later program gets the same
    /// answer at once, without being sent.
    @Test func aSessionThatDiesAnswersWithWhatCameAndStaysDead() throws {
        let s = try shell()
        defer { s.finish() }
        let a = try s.exchange("echo partial; kill -9 $$", timeout: 20)
        #expect(a.status != 0, "\(a)")
        #expect(a.stdout == "partial\n", "\(a)")
        let start = Date()
        let b = try s.exchange("echo again", timeout: 20)
        #expect(b == a)
        #expect(Date().timeIntervalSince(start) < 5)
    }

    /// A session that ends while a large program is still being sent to it: the answer is the
    /// session's own status, and `finish` waits for the writer to stop before it closes the
    /// pipe, so a descriptor opened afterwards (which reuses the number) gets no stray bytes.
    @Test func aSessionThatEndsWhileAProgramIsSentFinishesCleanly() throws {
        let s = try SSHSession(argv: ["/bin/sh", "-c", "head -c 100 >/dev/null; exit 7"])
        let big = String(repeating: "# filler line of a large program\n", count: 500_000)
        let a = try s.exchange(big + "echo never", timeout: 30)
        #expect(a.status == 7 && a.stdout.isEmpty, "\(a)")
        let start = Date()
        s.finish()
        #expect(Date().timeIntervalSince(start) < 10)
        var fds: [Int32] = [0, 0]
        #expect(pipe(&fds) == 0)
        defer { close(fds[0]); close(fds[1]) }
        usleep(200_000)
        _ = fcntl(fds[0], F_SETFL, O_NONBLOCK)
        var byte: UInt8 = 0
        #expect(read(fds[0], &byte, 1) == -1 && errno == EAGAIN, "nothing was written to a reused descriptor")
    }

    @Test func aProgramThatHangsIsKilledAtItsTimeout() throws {
        let s = try shell()
        defer { s.finish() }
        let a = try s.exchange("echo started; sleep 8", timeout: 1)
        #expect(a.status == 124, "\(a)")
        #expect(a.stdout == "started\n", "\(a)")
        #expect(try s.exchange("echo again", timeout: 5).status == 124)
    }

    @Test func aFloodIsStoppedAtTheOutputLimit() throws {
        let s = try shell()
        defer { s.finish() }
        #expect(throws: MTAGuardError.self) {
            _ = try s.exchange("head -c 3000000 /dev/zero | od -v", timeout: 30, outputLimit: 1 << 20)
        }
    }

    /// Over real SSH: check and apply each open one connection to each host (sshd accepts one
    /// key per run), carrying the facts, the apply with its journal copy, and the checks after.
    @Test func oneConnectionPerHostPerRun() throws {
        let lab = try SSHLab.start(hosts: ["one-a", "one-b"])
        defer { lab.stop() }
        let backups = try TempDir("one-session")
        defer { backups.remove() }
        let mainCf = try Repo.fixtureData("postfix/main.cf.debian")
        for name in ["one-a", "one-b"] { try PostfixDefaults.populate(lab.host(name).root + "/etc/postfix", main: mainCf) }
        /// Connections sshd accepted for `name`, and the sessions it started there (always as
        /// many): sshd's children write the log a moment after, so it is read until it says
        /// `expected` or a few seconds passed (more would show then too).
        func accepted(_ name: String, _ expected: Int = 0) throws -> Int {
            let deadline = Date().addingTimeInterval(3)
            while true {
                // sshd ends its log lines with CR LF: one Character each, split as a newline.
                let log = try String(contentsOfFile: lab.host(name).sshdLog, encoding: .utf8).split(whereSeparator: \.isNewline)
                let connections = log.filter { $0.contains("Accepted publickey") }.count
                let sessions = log.filter { $0.contains("Starting session:") }.count
                if (connections >= expected && sessions >= expected) || Date() > deadline {
                    usleep(300_000)
                    let again = try String(contentsOfFile: lab.host(name).sshdLog, encoding: .utf8).split(whereSeparator: \.isNewline)
                    let c = again.filter { $0.contains("Accepted publickey") }.count
                    #expect(c == again.filter { $0.contains("Starting session:") }.count, "\(name): \(again)")
                    return c
                }
                usleep(50_000)
            }
        }
        let fleet = ["--item", "SRV-005", "-i", lab.inventoryPath, "--ssh-config", lab.sshConfigPath, "--connect-timeout", "60"]
        let before = try ["one-a", "one-b"].map { try accepted($0) }
        let check = try mtaguard(["check"] + fleet, backups: backups.path)
        #expect(check.status == 2, "\(check)")
        #expect(try ["one-a", "one-b"].map { try accepted($0, 1) } == before.map { $0 + 1 })
        let plan = try mtaguard(["plan"] + fleet, backups: backups.path)
        #expect(plan.status == 2, "\(plan)")
        let afterPlan = try ["one-a", "one-b"].map { try accepted($0, 2) }
        #expect(afterPlan == before.map { $0 + 2 }, "\(afterPlan) \(before)")
        let apply = try mtaguard(["apply", "--yes"] + fleet, backups: backups.path)
        #expect(apply.status == 0, "\(apply)")
        let afterApply = try ["one-a", "one-b"].map { try accepted($0, 3) }
        #expect(afterApply == before.map { $0 + 3 }, "apply opened more than one connection: \(afterApply) \(before)")
        for name in ["one-a", "one-b"] {
            #expect(try lab.ssh(name, "cat /etc/postfix/main.cf").stdout.contains("disable_vrfy_command = yes"))
        }
        // No ssh of the run is left behind.
        let left = try runCommand(["pgrep", "-f", "-a", "ssh .*" + lab.sshConfigPath + ".*exec /bin/sh -s"])
        #expect(left.stdout.isEmpty, "\(left)")
    }
}
