import Foundation
import Testing

@testable import MTAGuard

/// U-47 for sendmail, judged on real cf files and their variants, with the real sendmail as
/// the judge: `sendmail -bt` runs Basic_check_rcpt for a recipient in an outside domain from
/// an outside client address, and mtaguard's verdict must be the rule set's (an `$# error` is
/// closed). The .mc side: m4 builds a cf from each variant, and mtaguard's fix of the .mc gives a
/// cf that sendmail says is closed.
@Suite struct SendmailRelayTests {
    static let fixtures = Repo.root + "/Tests/Fixtures/sendmail"
    static let deny = "R$*\t\t\t$#error $@ 5.7.1 $: \"550 Relaying denied\"\n"

    /// What the real sendmail's Basic_check_rcpt says of an outside recipient from 192.0.2.1:
    /// true when it returns an error (relaying refused).
    /// With `sender`, the envelope sender (macro f) is the one the client gave in MAIL FROM.
    static func sendmailRefuses(cf: String, in dir: TempDir, sender: String? = nil) throws -> Bool {
        let packages = try MTAPackages.locate()
        let sw = try dir.write("service.switch", "hosts files\naliases files\n")
        let r = try runCommand(
            ["unshare", "-u", "sh", "-c", "hostname \(ExtractedMTA.hostName) && exec \"$@\"", "sh",
             packages.sendmailBinary, "-bt", "-C", cf, "-OServiceSwitchFile=\(sw)",
             // The test's access map sits under /tmp, which sendmail calls unsafe.
             "-ODontBlameSendmail=MapInUnsafeDirPath"],
            stdin: ".D{client_addr}192.0.2.1\n" + (sender.map { ".Df<\($0)>\n" } ?? "") + "Basic_check_rcpt <probe@elsewhere.example>\n",
            environment: ["LD_LIBRARY_PATH": packages.sendmailLibraries])
        let answer = try #require(r.stdout.split(separator: "\n").last { $0.contains("Basic_check_rcpt returns:") }, "\(r)")
        return answer.contains("$# error")
    }

    /// m4 builds etc/mail/sendmail.cf under `dir` from the .mc.
    static func buildCf(mc: String, cfDirectory cfDir: String, in dir: TempDir) throws -> String {
        let r = try runCommand(["m4", "-D_CF_DIR_=\(cfDir)/", cfDir + "/m4/cf.m4", mc])
        #expect(r.status == 0, "\(r)")
        return try dir.write("etc/mail/sendmail.cf", r.stdout)
    }

    /// mtaguard's U-47 evidence for the sendmail.cf (and .mc) under `root`.
    static func evidence(_ root: String, apply: Bool = false) throws -> [[String: Any]] {
        let backups = try TempDir("smrelay-b")
        defer { backups.remove() }
        if apply {
            let a = try mtaguard(["apply", "--yes", "--item", "U-47", "--root", root], backups: backups.path)
            #expect(a.status == 0, "\(a)")
        }
        let r = try mtaguard(["check", "--item", "U-47", "--root", root, "--format", "json"], backups: backups.path)
        #expect(r.status == 0 || r.status == 2, "\(r)")
        return try checkEvidence(r.stdout).filter { $0["mta"] as? String == "sendmail" }
    }

    /// Each real cf, as it is, with the deny rule commented out (the guide's case), and with it
    /// deleted: mtaguard and sendmail agree on every one; apply closes the commented-out ones
    /// back to the original bytes, and sendmail then refuses too.
    @Test(arguments: ["generic-linux.cf", "generic-solaris.cf", "generic-hpux10.cf", "generic-osf1.cf", "generic-bsd4.4.cf"])
    func realCfVariantsAgreeWithSendmail(name: String) throws {
        let original = try String(contentsOfFile: Self.fixtures + "/" + name, encoding: .utf8)
        #expect(original.contains("\n" + Self.deny))
        let variants: [(String, String, String?)] = [
            ("as is", original, nil),
            ("commented", original.replacingOccurrences(of: "\n" + Self.deny, with: "\n#" + Self.deny), original),
            ("commented, a space after #", original.replacingOccurrences(of: "\n" + Self.deny, with: "\n# " + Self.deny), nil),
            ("deleted", original.replacingOccurrences(of: "\n" + Self.deny, with: "\n"), nil),
        ]
        for (label, text, fixed) in variants {
            let dir = try TempDir("smrelay")
            defer { dir.remove() }
            try FileManager.default.createDirectory(atPath: dir.path + "/etc/mail", withIntermediateDirectories: true)
            let cf = try dir.write("etc/mail/sendmail.cf", text)
            let refuses = try Self.sendmailRefuses(cf: cf, in: dir)
            let found = try #require(try Self.evidence(dir.path).first { $0["file"] as? String == "/etc/mail/sendmail.cf" })
            #expect((found["status"] as? String == "pass") == refuses, "\(name) \(label): sendmail refuses=\(refuses), mtaguard \(found)")
            guard let fixed else { continue }
            #expect(!refuses, "\(name) \(label)")
            let after = try Self.evidence(dir.path, apply: true)
            #expect(after.first { $0["file"] as? String == "/etc/mail/sendmail.cf" }?["status"] as? String == "pass", "\(after)")
            #expect(try String(contentsOfFile: cf, encoding: .utf8) == fixed, "\(name) \(label): the fix is the rule uncommented")
            #expect(try Self.sendmailRefuses(cf: cf, in: dir), "\(name) \(label): sendmail refuses after the fix")
        }
    }

    /// A cf without check_rcpt (sendmail before 8.9) and one whose rule set was built with
    /// promiscuous_relay: open, and not edited.
    @Test func noRulesetAndPromiscuousBuildAreOpenAndLeftAlone() throws {
        #expect(SendmailRelay.judge([.init(number: 1, text: "V10/Berkeley", comment: false)]) == .noRuleset)
        let lines = [
            SendmailRelay.Line(number: 1, text: "#####  $Id: promiscuous_relay.m4,v 8.13 #####", comment: true),
            SendmailRelay.Line(number: 2, text: "SBasic_check_rcpt", comment: false),
            SendmailRelay.Line(number: 3, text: "R$*\t\t\t$: $1 $| @ $>\"Rcpt_ok\" $1", comment: false),
            SendmailRelay.Line(number: 4, text: "SRcpt_ok", comment: false),
            SendmailRelay.Line(number: 5, text: "R$*\t\t\t$#error $@ 5.1.1 $: \"550 other\"", comment: false),
        ]
        #expect(SendmailRelay.judge(lines) == .noDenyRule(ruleset: "Basic_check_rcpt", line: 2, promiscuous: true))
        #expect(SendmailRelay.rulesetName("S Basic_check_rcpt=90") == "Basic_check_rcpt")
        #expect(SendmailRelay.rulesetName("Scheck_rcpt") == "check_rcpt")
        #expect(SendmailRelay.rulesetName("Smaller") == "maller")
        #expect(!SendmailRelay.isDenyAll("R$* $| RELAY\t\t$@ RELAY"))
        #expect(SendmailRelay.isDenyAll("R$*\t$#error $: \"550 site relay message\""))
    }

    /// The .mc side, on real .mc files with FEATURE(`promiscuous_relay') as admins write it: m4
    /// builds an open cf from it (mtaguard and sendmail agree), mtaguard removes only that line,
    /// and m4 builds a closed cf from the fixed .mc.
    @Test(arguments: [
        "FEATURE(`promiscuous_relay')dnl\n", "FEATURE(promiscuous_relay)dnl\n", "FEATURE( `promiscuous_relay')dnl # open\n",
    ])
    func mcWithPromiscuousRelay(spelling: String) throws {
        let packages = try MTAPackages.locate()
        let cfDir = packages.cfDirectory
        let mc = try String(contentsOfFile: Self.fixtures + "/generic-linux.mc", encoding: .utf8)
        let open = mc.replacingOccurrences(of: "MAILER(local)dnl\n", with: spelling + "MAILER(local)dnl\n")
        #expect(open != mc)
        let dir = try TempDir("smrelay-mc")
        defer { dir.remove() }
        try FileManager.default.createDirectory(atPath: dir.path + "/etc/mail", withIntermediateDirectories: true)
        let mcPath = try dir.write("etc/mail/sendmail.mc", open)
        func build() throws -> String { try Self.buildCf(mc: mcPath, cfDirectory: cfDir, in: dir) }
        let openCf = try build()
        #expect(!(try Self.sendmailRefuses(cf: openCf, in: dir)))
        let before = try Self.evidence(dir.path)
        #expect(before.map { $0["status"] as? String } == ["fail", "fail"], "\(before)")
        #expect((before.first?["note"] as? String ?? "").contains("promiscuous_relay"), "\(before)")

        let after = try Self.evidence(dir.path, apply: true)
        #expect(try String(contentsOfFile: mcPath, encoding: .utf8) == mc, "only the FEATURE line goes")
        #expect(after.last?["status"] as? String == "pass", "\(after)")
        // The cf is left to the rebuild, which closes it.
        #expect(after.first?["status"] as? String == "fail")
        let rebuilt = try build()
        #expect(try Self.sendmailRefuses(cf: rebuilt, in: dir))
        #expect(try Self.evidence(dir.path).map { $0["status"] as? String } == ["pass", "pass"])
    }

    /// The sender opens relaying: an outside client that gives a MAIL FROM at one of the host's
    /// names (FEATURE(`relay_local_from')), or one the access map says RELAY for
    /// (FEATURE(`relay_mail_from')), relays though the deny rule is in place. The real sendmail
    /// judges each built cf for the attacker's sender; mtaguard says 취약 for the first (and its
    /// fix of the .mc builds a cf that refuses the same attacker) and 수동 확인 for the second,
    /// never 양호.
    @Test(arguments: ["relay_local_from", "relay_mail_from"])
    func senderChosenByTheClientOpensRelaying(feature: String) throws {
        let packages = try MTAPackages.locate()
        let cfDir = packages.cfDirectory
        let dir = try TempDir("smrelay-sender")
        defer { dir.remove() }
        try FileManager.default.createDirectory(atPath: dir.path + "/etc/mail", withIntermediateDirectories: true)
        let attacker = "anyone@" + ExtractedMTA.hostName
        var features = "FEATURE(`\(feature)')dnl\n"
        let access = dir.path + "/etc/mail/access"
        if feature == "relay_mail_from" {
            features = "FEATURE(`access_db', `hash -T<TMPF> \(access)')dnl\n" + features
        }
        let mc = try String(contentsOfFile: Self.fixtures + "/generic-linux.mc", encoding: .utf8)
        let open = mc.replacingOccurrences(of: "MAILER(local)dnl\n", with: features + "MAILER(local)dnl\n")
        let mcPath = try dir.write("etc/mail/sendmail.mc", open)
        func build() throws -> String { try Self.buildCf(mc: mcPath, cfDirectory: cfDir, in: dir) }
        let cf = try build()
        if feature == "relay_mail_from" {
            // makemap reads the cf for TrustedUser.
            let made = try runCommand(
                [packages.folder + "/sendmail/usr/libexec/sendmail/makemap", "-C", cf, "hash", access],
                stdin: "From:\(attacker)\tRELAY\n", environment: ["LD_LIBRARY_PATH": packages.sendmailLibraries])
            #expect(made.status == 0, "\(made)")
        }
        #expect(try Self.sendmailRefuses(cf: cf, in: dir), "an outside sender is refused")
        #expect(!(try Self.sendmailRefuses(cf: cf, in: dir, sender: attacker)), "sendmail relays for the sender the client chose")
        let before = try Self.evidence(dir.path)
        let expected = feature == "relay_local_from" ? "fail" : "review"
        #expect(before.map { $0["status"] as? String } == [expected, expected], "\(before)")
        #expect(before.allSatisfy { ($0["note"] as? String ?? "").contains(feature) }, "\(before)")
        guard feature == "relay_local_from" else { return }
        _ = try Self.evidence(dir.path, apply: true)
        #expect(try String(contentsOfFile: mcPath, encoding: .utf8) == mc, "only the FEATURE line goes")
        let rebuilt = try build()
        #expect(try Self.sendmailRefuses(cf: rebuilt, in: dir, sender: attacker), "the rebuilt cf refuses the attacker")
        #expect(try Self.evidence(dir.path).map { $0["status"] as? String } == ["pass", "pass"])
    }

    /// A FEATURE in a dnl comment or another feature whose name starts the same is not it.
    @Test func lookalikesAreNotThePromiscuousFeature() {
        #expect(!SendmailRelay.isPromiscuousFeature("dnl FEATURE(`promiscuous_relay')dnl"))
        #expect(!SendmailRelay.isPromiscuousFeature("# FEATURE(`promiscuous_relay')"))
        #expect(!SendmailRelay.isPromiscuousFeature("FEATURE(`promiscuous_relay_x')dnl"))
        #expect(SendmailRelay.isPromiscuousFeature("  FEATURE(`promiscuous_relay')"))
        // m4 keeps a blank after the argument: FEATURE looks for "promiscuous_relay .m4" and fails.
        #expect(!SendmailRelay.isPromiscuousFeature("FEATURE(`promiscuous_relay' )dnl"))
    }
}
