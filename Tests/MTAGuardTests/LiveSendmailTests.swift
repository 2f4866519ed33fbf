import Foundation
import Testing

/// mtaguard on the live host (no --root) against a real sendmail, unpacked from Debian's
/// packages (`make mtas`): the instance's /etc/mail is bind-mounted over the real one in a
/// private mount namespace (`ExtractedMTA.run`), and its SMTP port is a loopback bridge to
/// `sendmail -C root/etc/mail/sendmail.cf -bs`, so every session reads the file mtaguard edits.
@Suite struct LiveSendmailTests {
    func mtaguardIn(_ sm: ExtractedMTA, _ args: [String], backups: TempDir) throws -> CommandResult {
        var argv = [Repo.binary] + args
        if ["check", "plan", "apply"].contains(args.first ?? "") { argv += ["--playbooks", Repo.playbooks] }
        return try sm.run(argv, environment: ["MTAGUARD_BACKUPS": backups.path])
    }

    @Test func vrfyAndExpnRefusedAfterApplyAndAnsweredAgainAfterRollback() throws {
        let sm = try ExtractedMTA.sendmail()
        defer { sm.stop() }
        let backups = try TempDir("sendmail-backups")
        defer { backups.remove() }
        let port = String(sm.port)
        let probe = ["--item", "SRV-005", "--smtp-port", port]
        let original = try Data(contentsOf: URL(fileURLWithPath: sm.configFile))
        let text = String(decoding: original, as: UTF8.self)
        let line = try #require(text.split(separator: "\n", omittingEmptySubsequences: false).firstIndex(of: "O PrivacyOptions=authwarnings")) + 1

        // PrivacyOptions=authwarnings: sendmail answers both, by the file and on the wire.
        let before = try mtaguardIn(sm, ["check"] + probe, backups: backups)
        #expect(before.status == 2, "\(before)\n\(sm.logs())")
        #expect(before.stdout.contains("fail  sendmail /etc/mail/sendmail.cf:\(line)  \"O PrivacyOptions=authwarnings\""), "\(before)")
        #expect(before.stdout.contains("fail  smtp 127.0.0.1:\(port)  \"VRFY root → 250 2.1.5 <root@\(ExtractedMTA.hostName)>\""), "\(before)")
        #expect(before.stdout.contains("fail  smtp 127.0.0.1:\(port)  \"EXPN root → 250 2.1.5 <root@\(ExtractedMTA.hostName)>\""), "\(before)")

        // The fix is validated by this sendmail (`sendmail -bt -C TEMP`) and verified on the wire.
        let apply = try mtaguardIn(sm, ["apply", "--yes"] + probe, backups: backups)
        #expect(apply.status == 0, "\(apply)\n\(sm.logs())")
        #expect(apply.stdout.contains("replaced /etc/mail/sendmail.cf"), "\(apply)")
        let fixed = try String(contentsOfFile: sm.configFile, encoding: .utf8)
        #expect(fixed == text.replacingOccurrences(
            of: "\nO PrivacyOptions=authwarnings\n", with: "\nO PrivacyOptions=authwarnings,noexpn,novrfy\n"))

        let after = try mtaguardIn(sm, ["check"] + probe, backups: backups)
        #expect(after.status == 0, "\(after)\n\(sm.logs())")
        #expect(after.stdout.contains("pass  smtp 127.0.0.1:\(port)  \"VRFY root → 252 2.5.2 Cannot VRFY user"), "\(after)")
        #expect(after.stdout.contains("pass  smtp 127.0.0.1:\(port)  \"EXPN root → 502 5.7.0 Sorry, we do not allow this operation\""), "\(after)")

        let runs = try mtaguardIn(sm, ["runs", "--format", "json"], backups: backups)
        let list = try #require(try JSONSerialization.jsonObject(with: Data(runs.stdout.utf8)) as? [[String: Any]])
        let runID = try #require(list.first?["id"] as? String)
        let rollback = try mtaguardIn(sm, ["rollback", runID], backups: backups)
        #expect(rollback.status == 0, "\(rollback)")
        #expect(try Data(contentsOf: URL(fileURLWithPath: sm.configFile)) == original)

        let again = try mtaguardIn(sm, ["check"] + probe, backups: backups)
        #expect(again.status == 2, "\(again)")
        #expect(again.stdout.contains("fail  smtp 127.0.0.1:\(port)  \"VRFY root → 250 2.1.5"), "\(again)")
        #expect(again.stdout.contains("fail  smtp 127.0.0.1:\(port)  \"EXPN root → 250 2.1.5"), "\(again)")
    }

    /// The unpacked sendmail as /usr/sbin/sendmail: U-45 asks it (`-d0.1`) and reports the
    /// version its package says, as sendmail's own, although dpkg names postfix for that path.
    @Test func u45ReportsTheRealSendmailVersion() throws {
        let sm = try ExtractedMTA.sendmail()
        defer { sm.stop() }
        let backups = try TempDir("sendmail-backups")
        defer { backups.remove() }
        let version = try sm.packages.upstreamVersion(of: "sendmail-bin")
        let r = try mtaguardIn(sm, ["check", "--item", "U-45", "--format", "json"], backups: backups)
        let evidence = try checkEvidence(r.stdout)
        let sendmail = evidence.filter { $0["mta"] as? String == "sendmail" }
        #expect(sendmail.count == 1, "\(r)")
        #expect(sendmail.first?["text"] as? String == "sendmail \(version)", "\(r)")
        #expect(sendmail.first?["file"] as? String == "/usr/sbin/sendmail", "\(r)")
        #expect(!r.stdout.contains("sendmail-compatible command"), "\(r)")
    }

    /// This machine's /usr/sbin/sendmail is postfix's wrapper, which rejects `-d0.1`: U-45 says
    /// whose it is and claims no sendmail version.
    @Test func postfixsSendmailIsReportedAsPostfixs() throws {
        let owner = try runCommand(["dpkg", "-S", "/usr/sbin/sendmail"])
        try #require(owner.stdout.hasPrefix("postfix: "), "this test needs postfix's /usr/sbin/sendmail: \(owner)")
        let backups = try TempDir("sendmail-backups")
        defer { backups.remove() }
        let r = try mtaguard(["check", "--item", "U-45", "--format", "json"], backups: backups.path)
        let sendmail = try checkEvidence(r.stdout).filter { $0["mta"] as? String == "sendmail" }
        #expect(sendmail.count == 1, "\(r)")
        #expect(sendmail.first?["file"] as? String == "/usr/sbin/sendmail")
        #expect(sendmail.first?["text"] as? String == "/usr/sbin/sendmail → postfix (dpkg:postfix)", "\(r)")
        #expect(sendmail.first?["status"] as? String == "not-applicable")
        #expect(sendmail.first?["note"] as? String
            == "/usr/sbin/sendmail is postfix's sendmail-compatible command, not sendmail; no sendmail version is claimed for it")
    }
}
