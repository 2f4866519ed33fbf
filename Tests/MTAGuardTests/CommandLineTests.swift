import Foundation
import Testing

/// The built `mtaguard` binary over offline roots made from real files: exit codes, output,
/// and the bytes, modes and owners of the files it touches.
@Suite struct CommandLineTests {
    /// A root holding Debian's main.cf, and upstream's generic-linux sendmail.cf (with
    /// `restrictqrun` added, to prove existing flags are kept) and its .mc.
    func makeHost() throws -> (root: TempDir, backups: TempDir) {
        let root = try TempDir("root")
        try root.write("etc/postfix/main.cf", try Repo.fixtureData("postfix/main.cf.debian"), mode: 0o640)
        let cf = try String(contentsOfFile: Repo.fixture("sendmail/generic-linux.cf"), encoding: .utf8)
            .replacingOccurrences(of: "O PrivacyOptions=authwarnings\n", with: "O PrivacyOptions=authwarnings,restrictqrun\n")
        try root.write("etc/mail/sendmail.cf", cf, mode: 0o444)
        try root.write("etc/mail/sendmail.mc", try Repo.fixtureData("sendmail/generic-linux.mc"))
        chown(root.path + "/etc/postfix/main.cf", 0, 7)  // group lp: a non-default owner to keep
        let backups = try TempDir("backups")
        return (root, backups)
    }

    func stat(_ path: String) -> (mode: mode_t, uid: uid_t, gid: gid_t, mtime: Int) {
        var st = Glibc.stat()
        _ = lstat(path, &st)
        return (st.st_mode & 0o7777, st.st_uid, st.st_gid, st.st_mtim.tv_sec * 1_000_000_000 + st.st_mtim.tv_nsec)
    }

    func runs(_ backups: TempDir) throws -> [[String: Any]] {
        let r = try mtaguard(["runs", "--format", "json", "--backups", backups.path], backups: backups.path)
        return try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as! [[String: Any]]
    }

    /// Options that exclude each other: exit 64, the reason and the usage text, nothing done.
    @Test(arguments: [
        (["check", "--root", "/nonexistent", "-i", "hosts.ini"], "--root and -i exclude each other"),
        (["apply", "--yes", "--root", "/nonexistent", "--smtp-port", "25"], "--smtp-port needs a live host"),
        (["apply", "--yes", "--root", "/nonexistent", "--allow-upgrade"], "--allow-upgrade needs a live host"),
        (["plan", "--root", "/nonexistent", "--become"], "--become is for hosts reached over SSH"),
        (["check", "--limit", "web*"], "--limit selects hosts of an inventory"),
        (["check", "--forks", "0", "--root", "/nonexistent"], "--forks must be at least 1"),
        (["check", "-i", "hosts.ini", "--smtp-port", "25", "--smtp-host", "192.0.2.25"],
         "--smtp-host gives one address for every host: with -i, set each host's probe address in the inventory as mtaguard_smtp_host"),
        (["check", "--smtp-port", "25", "--smtp-host", "mx1;touch /tmp/p"], "--smtp-host \"mx1;touch /tmp/p\" is neither an IP address nor a host name"),
        (["check", "--smtp-port", "25", "--greylist-attempts", "0"], "--greylist-attempts must be at least 1"),
    ])
    func conflictingOptionsAreUsageErrors(args: [String], reason: String) throws {
        let backups = try TempDir("usage")
        defer { backups.remove() }
        let r = try mtaguard(args, backups: backups.path)
        #expect(r.status == 64, "\(r)")
        #expect(r.stderr.contains(reason), "\(r)")
        #expect(r.stderr.contains("Usage: mtaguard"), "\(r)")
        #expect(try FileManager.default.contentsOfDirectory(atPath: backups.path).isEmpty)
    }

    /// The exit-code contract for 수동 확인, in `--help` and `check --help`.
    @Test func helpDocumentsTheReviewExitCode() throws {
        let top = try runCommand([Repo.binary, "--help"])
        // (The help wraps at 80 columns: read it as words.)
        let words = top.stdout.split(whereSeparator: \.isWhitespace).joined(separator: " ")
        #expect(words.contains("check 0 every item passes, 2 a finding (취약) or an item to review (수동 확인), 1 an error"), "\(top)")
        let check = try runCommand([Repo.binary, "check", "--help"])
        #expect(check.stdout.contains("수동 확인 (review)"), "\(check)")
    }

    @Test func checkPlanApplyApplyAgainRollback() throws {
        let (root, backups) = try makeHost()
        defer { root.remove(); backups.remove() }
        let files = ["etc/postfix/main.cf", "etc/mail/sendmail.cf", "etc/mail/sendmail.mc"]
        let before = try files.map { try root.read($0) }
        let statsBefore = files.map { stat(root.path + "/" + $0) }

        let check = try mtaguard(["check", "--root", root.path], backups: backups.path)
        #expect(check.status == 2, "\(check)")
        #expect(check.stdout.contains("SRV-005  취약(fail)"))
        #expect(check.stdout.contains("/etc/mail/sendmail.cf:248  \"O PrivacyOptions=authwarnings,restrictqrun\""))

        let plan = try mtaguard(["plan", "--root", root.path, "--item", "U-70"], backups: backups.path)
        #expect(plan.status == 2, "\(plan)")
        #expect(plan.stdout.contains("--- a/etc/postfix/main.cf\n+++ b/etc/postfix/main.cf\n"))
        #expect(plan.stdout.contains("-O PrivacyOptions=authwarnings,restrictqrun\n+O PrivacyOptions=authwarnings,restrictqrun,noexpn,novrfy\n"))
        #expect(plan.stdout.contains("+define(`confPRIVACY_FLAGS', `authwarnings,noexpn,novrfy')dnl\n"))
        #expect(plan.stdout.contains("# then run: postfix reload"))
        // plan changes nothing, not even a timestamp, and journals nothing.
        #expect(try files.map { try root.read($0) } == before)
        #expect(files.map { stat(root.path + "/" + $0).mtime } == statsBefore.map(\.mtime))
        #expect(try runs(backups).isEmpty)

        let apply = try mtaguard(["apply", "--root", root.path, "--yes", "--item", "SRV-005", "--item", "U-46"], backups: backups.path)
        #expect(apply.status == 0, "\(apply)")
        let mainAfter = String(decoding: try root.read(files[0]), as: UTF8.self)
        #expect(mainAfter == String(decoding: before[0], as: UTF8.self) + "disable_vrfy_command = yes\n")
        let cfAfter = String(decoding: try root.read(files[1]), as: UTF8.self)
        #expect(cfAfter == String(decoding: before[1], as: UTF8.self).replacingOccurrences(
            of: "O PrivacyOptions=authwarnings,restrictqrun\n", with: "O PrivacyOptions=authwarnings,restrictqrun,noexpn,novrfy\n"))
        for (i, f) in files.enumerated() {
            let s = stat(root.path + "/" + f)
            #expect(s.mode == statsBefore[i].mode && s.uid == statsBefore[i].uid && s.gid == statsBefore[i].gid, "\(f)")
        }
        let afterApply = try files.map { try root.read($0) }

        let again = try mtaguard(["apply", "--root", root.path, "--yes", "--item", "SRV-005", "--item", "U-46"], backups: backups.path)
        #expect(again.status == 0)
        #expect(again.stdout.contains("nothing to do"))
        #expect(try files.map { try root.read($0) } == afterApply)
        #expect(try mtaguard(["check", "--root", root.path, "--item", "SRV-005", "--item", "U-46"], backups: backups.path).status == 0)

        let journal = try runs(backups)
        #expect(journal.count == 1)
        let runID = try #require(journal.first?["id"] as? String)
        #expect(journal.first?["outcome"] as? String == "changed")
        #expect(stat(backups.path + "/" + runID).mode == 0o700)
        #expect(stat(backups.path + "/" + runID + "/manifest.json").mode == 0o600)
        let found = try runCommand(["find", backups.path + "/" + runID, "-type", "f", "-name", "main.cf", "-perm", "0600"]).stdout
        #expect(!found.isEmpty)

        let rollback = try mtaguard(["rollback", runID, "--backups", backups.path], backups: backups.path)
        #expect(rollback.status == 0, "\(rollback)")
        #expect(try files.map { try root.read($0) } == before)
        for (i, f) in files.enumerated() {
            let s = stat(root.path + "/" + f)
            #expect(s.mode == statsBefore[i].mode && s.uid == statsBefore[i].uid && s.gid == statsBefore[i].gid, "\(f)")
        }
        let after = try runs(backups)
        #expect(after.count == 2)
        #expect(after.first?["command"] as? String == "rollback \(runID)")
        #expect(after.first?["rollbackOf"] as? String == runID)
    }

    @Test func planAndApplyInJSON() throws {
        let (root, backups) = try makeHost()
        defer { root.remove(); backups.remove() }
        let plan = try mtaguard(["plan", "--root", root.path, "--format", "json"], backups: backups.path)
        #expect(plan.status == 2)
        let doc = try JSONSerialization.jsonObject(with: Data(plan.stdout.utf8)) as! [String: Any]
        #expect(doc["schema"] as? String == "mtaguard.plan/2")
        let host = (doc["hosts"] as! [[String: Any]])[0]
        let files = host["files"] as! [[String: Any]]
        #expect(files.map { $0["path"] as! String } == ["/etc/postfix/main.cf", "/etc/mail/sendmail.cf", "/etc/mail/sendmail.mc"])
        #expect((files[0]["diff"] as! String).contains("+disable_vrfy_command = yes"))
        let apply = try mtaguard(["apply", "--root", root.path, "--yes", "--format", "json"], backups: backups.path)
        #expect(apply.status == 0)
        let run = try JSONSerialization.jsonObject(with: Data(apply.stdout.utf8)) as! [String: Any]
        #expect(run["schema"] as? String == "mtaguard.run/1")
        #expect(run["exitCode"] as? Int == 0)
        let records = run["hosts"] as! [[String: Any]]
        #expect(records.first?["outcome"] as? String == "changed")
        #expect((records.first?["files"] as? [[String: Any]])?.count == 3)
    }

    @Test func checkWritesCSVAndHTMLForAuditors() throws {
        let (root, backups) = try makeHost()
        defer { root.remove(); backups.remove() }
        let csv = try mtaguard(["check", "--root", root.path, "--format", "csv", "--lang", "ko"], backups: backups.path)
        #expect(csv.status == 2)
        #expect(csv.stdout.hasPrefix("\u{FEFF}호스트,항목"), "\(csv.stdout.prefix(80))")
        #expect(csv.stdout.contains(",SRV-005,"))
        #expect(csv.stdout.contains(",취약,sendmail,/etc/mail/sendmail.cf,248,"))
        let html = try mtaguard(["check", "--root", root.path, "--format", "html", "--lang", "en"], backups: backups.path)
        #expect(html.status == 2)
        #expect(html.stdout.contains("<html lang=\"en\""))
        #expect(html.stdout.contains("SRV-005"))
        #expect(!html.stdout.contains("<script"))
        let out = try TempDir("reports")
        defer { out.remove() }
        let all = try mtaguard(["check", "--root", root.path, "--output", out.path + "/r"], backups: backups.path)
        #expect(all.status == 2)
        #expect(try FileManager.default.contentsOfDirectory(atPath: out.path + "/r").sorted()
            == ["report.csv", "report.html", "report.json", "report.pdf", "report.txt", "report.xlsx"])
        #expect(String(decoding: try out.read("r/report.txt"), as: UTF8.self) == all.stdout)
        let kb = try runCommand([Repo.binary, "kb", "show", "--playbooks", Repo.playbooks])
        #expect(kb.status == 0)
        #expect(kb.stdout.contains("CVE-2023-51765"))
    }

    @Test func goawayPassesAndCheckSaysSo() throws {
        let (root, backups) = try makeHost()
        defer { root.remove(); backups.remove() }
        try root.write("etc/postfix/main.cf", "disable_vrfy_command = yes\n")
        try root.write("etc/mail/sendmail.cf", "O PrivacyOptions = GoAway\n")
        try root.write("etc/mail/sendmail.mc", "define(`confPRIVACY_FLAGS', `goaway')dnl\n")
        let check = try mtaguard(["check", "--root", root.path, "--item", "SRV-005", "--format", "json"], backups: backups.path)
        #expect(check.status == 0, "\(check)")
        let doc = try JSONSerialization.jsonObject(with: Data(check.stdout.utf8)) as! [String: Any]
        let host = (doc["hosts"] as! [[String: Any]])[0]
        let finding = (host["findings"] as! [[String: Any]])[0]
        #expect(finding["status"] as? String == "pass")
        #expect(finding["item"] as? String == "SRV-005")
        let plan = try mtaguard(["plan", "--root", root.path, "--item", "SRV-005"], backups: backups.path)
        #expect(plan.status == 0)
        #expect(plan.stdout.contains("nothing to do"))
    }

    @Test func unparseableConfigChangesNothingAnywhere() throws {
        let (root, backups) = try makeHost()
        defer { root.remove(); backups.remove() }
        try root.write("etc/postfix/main.cf", "myhostname = a.example\nbroken line without equals\n")
        let before = try root.read("etc/mail/sendmail.cf")
        let check = try mtaguard(["check", "--root", root.path], backups: backups.path)
        #expect(check.status == 1)
        #expect(check.stdout.contains("/etc/postfix/main.cf:2"))
        let apply = try mtaguard(["apply", "--root", root.path, "--yes", "--item", "SRV-005", "--item", "U-46"], backups: backups.path)
        #expect(apply.status == 1, "\(apply)")
        #expect(apply.stdout.contains("/etc/postfix/main.cf:2"))
        #expect(try root.read("etc/mail/sendmail.cf") == before)
        #expect(try runs(backups).isEmpty)
    }

    @Test func malformedPlaybookAndUnknownItem() throws {
        let (root, backups) = try makeHost()
        defer { root.remove(); backups.remove() }
        let books = try TempDir("books")
        defer { books.remove() }
        try books.write("bad.yaml", "id: X-1\ntitle: t\ntargets:\n  - mta: postfix\n    file: /etc/postfix/main.cf\n    lens: Postfix_Main.lns\n    check: { node: a, equals: [b], colour: red }\n    fix: { set: b }\n")
        let r = try mtaguard(["check", "--root", root.path], backups: backups.path, playbooks: books.path)
        #expect(r.status == 1)
        #expect(r.stderr.contains("bad.yaml:7:"), "\(r)")
        #expect(r.stderr.contains("targets[0].check: unknown field 'colour'"), "\(r)")
        let v = try runCommand([Repo.binary, "playbooks", "validate", books.path + "/bad.yaml"])
        #expect(v.status == 1)
        let u = try mtaguard(["check", "--root", root.path, "--item", "U-999"], backups: backups.path)
        #expect(u.status == 1)
        #expect(u.stderr.contains("unknown item 'U-999'"))
    }

    @Test func rollbackRefusesDriftUnlessForced() throws {
        let (root, backups) = try makeHost()
        defer { root.remove(); backups.remove() }
        let original = try root.read("etc/postfix/main.cf")
        #expect(try mtaguard(["apply", "--root", root.path, "--yes"], backups: backups.path).status == 0)
        let runID = try #require(try runs(backups).first?["id"] as? String)
        let edited = String(decoding: try root.read("etc/postfix/main.cf"), as: UTF8.self) + "relayhost = [smtp.example]\n"
        try root.write("etc/postfix/main.cf", edited)
        let refused = try mtaguard(["rollback", runID, "--backups", backups.path], backups: backups.path)
        #expect(refused.status == 1, "\(refused)")
        #expect(refused.stdout.contains("drift"))
        #expect(refused.stdout.contains("+relayhost = [smtp.example]"))
        #expect(String(decoding: try root.read("etc/postfix/main.cf"), as: UTF8.self) == edited)
        let driftLost = FaultLedger.bytesLost(expected: Data(edited.utf8), actual: try root.read("etc/postfix/main.cf"))
        FaultLedger.record(.fault, "rollback refuses a file that drifted", hosts: 1, survived: driftLost == 0 ? 1 : 0, bytesLost: driftLost)
        let forced = try mtaguard(["rollback", runID, "--force", "--backups", backups.path], backups: backups.path)
        #expect(forced.status == 0, "\(forced)")
        #expect(try root.read("etc/postfix/main.cf") == original)
    }

    @Test func applyWithoutYesAndNoTerminalRefuses() throws {
        let (root, backups) = try makeHost()
        defer { root.remove(); backups.remove() }
        let before = try root.read("etc/postfix/main.cf")
        let r = try mtaguard(["apply", "--root", root.path], backups: backups.path, stdin: "y\n")
        #expect(r.status == 1)
        #expect(r.stderr.contains("pass --yes"))
        #expect(try root.read("etc/postfix/main.cf") == before)
    }

    @Test func readOnlyFileSystemFailsCleanly() throws {
        let (root, backups) = try makeHost()
        defer { root.remove(); backups.remove() }
        let before = try root.read("etc/postfix/main.cf")
        // A read-only bind mount of the host's /etc/postfix, in a private mount namespace.
        let script = #"mount --bind "$1/etc/postfix" "$1/etc/postfix" && mount -o remount,ro,bind "$1/etc/postfix" && shift && exec "$@""#
        let r = try runCommand(
            ["unshare", "-m", "--propagation", "private", "sh", "-c", script, "sh", root.path,
             Repo.binary, "apply", "--root", root.path, "--item", "SRV-005", "--yes", "--playbooks", Repo.playbooks],
            environment: ["MTAGUARD_BACKUPS": backups.path])
        #expect(r.status == 1, "\(r)")
        #expect(r.stdout.contains("read-only"), "\(r)")
        #expect(try root.read("etc/postfix/main.cf") == before)
        let leftovers = try FileManager.default.contentsOfDirectory(atPath: root.path + "/etc/postfix")
        #expect(leftovers == ["main.cf"])
        let readOnlyLost = FaultLedger.bytesLost(expected: before, actual: try root.read("etc/postfix/main.cf"))
        FaultLedger.record(.fault, "read-only file system (local root)", hosts: 1, survived: readOnlyLost == 0 ? 1 : 0, bytesLost: readOnlyLost)
    }

    @Test func fixedMcStillRestrictsAfterM4Rebuild() throws {
        let (root, backups) = try makeHost()
        defer { root.remove(); backups.remove() }
        #expect(try mtaguard(["apply", "--root", root.path, "--yes", "--item", "SRV-005"], backups: backups.path).status == 0)
        let cfDir = "/usr/share/sendmail/cf"
        let built = try runCommand(["m4", "-D_CF_DIR_=\(cfDir)/", "\(cfDir)/m4/cf.m4", root.path + "/etc/mail/sendmail.mc"])
        #expect(built.status == 0, "\(built)")
        #expect(built.stdout.contains("\nO PrivacyOptions=authwarnings,noexpn,novrfy\n"))
    }
}

/// The "not needed" branch on offline roots of AIX and HP-UX images: boot files only.
@Suite struct OfflineDisableTests {
    @Test func aixImageGetsItsSendmailLineCommentedOut() throws {
        let root = try TempDir("aix")
        defer { root.remove() }
        let backups = try TempDir("b")
        defer { backups.remove() }
        let rc = try Repo.fixtureData("aix/rc.tcpip")
        try root.write("etc/rc.tcpip", rc)
        try root.write("etc/mail/sendmail.cf", try Repo.fixtureData("sendmail/generic-linux.cf"))
        let plan = try mtaguard(["plan", "--root", root.path, "--mode", "disable"], backups: backups.path)
        #expect(plan.status == 2, "\(plan)")
        #expect(plan.stdout.contains("# then run: stopsrc -s sendmail"))
        #expect(try mtaguard(["apply", "--root", root.path, "--mode", "disable", "--yes"], backups: backups.path).status == 0)
        let after = String(decoding: try root.read("etc/rc.tcpip"), as: UTF8.self)
        let lines = zip(String(decoding: rc, as: UTF8.self).split(separator: "\n", omittingEmptySubsequences: false),
                        after.split(separator: "\n", omittingEmptySubsequences: false)).filter { $0 != $1 }
        #expect(lines.count == 1)
        #expect(lines.first?.1 == "#start /usr/lib/sendmail \"$src_running\" \"-bd -q${qpi}\"")
    }

    @Test func aCommentOutThatWouldRespaceOtherLinesIsRefused() throws {
        let root = try TempDir("aix")
        defer { root.remove() }
        let backups = try TempDir("b")
        defer { backups.remove() }
        let text = "start /usr/sbin/syslogd \"$src_running\"\nstart /usr/lib/sendmail \"$src_running\" \"-bd -q${qpi}\"\nstart\t/usr/sbin/inetd \"$src_running\"\n"
        try root.write("etc/rc.tcpip", text)
        let apply = try mtaguard(["apply", "--root", root.path, "--mode", "disable", "--yes"], backups: backups.path)
        #expect(apply.status == 1, "\(apply)")
        #expect(apply.stdout.contains("would also change the spacing"), "\(apply)")
        #expect(String(decoding: try root.read("etc/rc.tcpip"), as: UTF8.self) == text)
    }

    @Test func hpuxImageGetsSendmailServerZero() throws {
        let root = try TempDir("hpux")
        defer { root.remove() }
        let backups = try TempDir("b")
        defer { backups.remove() }
        let ms = try Repo.fixtureData("hpux/mailservs")
        try root.write("etc/rc.config.d/mailservs", ms)
        try root.write("etc/mail/sendmail.cf", try Repo.fixtureData("sendmail/generic-hpux10.cf"))
        #expect(try mtaguard(["apply", "--root", root.path, "--mode", "disable", "--yes"], backups: backups.path).status == 0)
        #expect(String(decoding: try root.read("etc/rc.config.d/mailservs"), as: UTF8.self)
            == String(decoding: ms, as: UTF8.self).replacingOccurrences(of: "SENDMAIL_SERVER=1\n", with: "SENDMAIL_SERVER=0\n"))
        #expect(try root.read("etc/mail/sendmail.cf") == (try Repo.fixtureData("sendmail/generic-hpux10.cf")))
    }
}
