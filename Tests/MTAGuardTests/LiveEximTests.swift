import Foundation
import Testing

/// mtaguard against a real exim, unpacked from Debian's packages (`make mtas`) and run with
/// Debian's stock configuration template behind a loopback bridge to `exim4 -C FILE -bs`.
/// SRV-005 judges exim twice: from its configuration file (the exim-acl kind) and on the wire.
///
/// Over TCP, exim answers an unqualified `VRFY root` with `501 root: recipient address must
/// contain a domain` before its VRFY ACL is consulted, whatever that ACL says; only
/// `VRFY root@DOMAIN` reaches it. The probe asks again with the greeting's domain after a 501,
/// so that an exim that allows VRFY does not pass SRV-005 on a syntax error.
@Suite struct LiveEximTests {
    func check(_ exim: ExtractedMTA, _ args: [String]) throws -> CommandResult {
        let backups = try TempDir("exim-backups")
        defer { backups.remove() }
        return try exim.run([Repo.binary, "check", "--playbooks", Repo.playbooks] + args,
                            environment: ["MTAGUARD_BACKUPS": backups.path])
    }

    @Test func stockConfigurationRefusesVRFYAndEXPN() throws {
        let exim = try ExtractedMTA.exim()
        defer { exim.stop() }
        let port = String(exim.port)
        let replies = try exim.smtp(["EHLO client.example", "VRFY root@\(ExtractedMTA.hostName)", "VRFY root"])
        #expect(replies.map(\.description) == [replies[0].description, "252 Administrative prohibition",
                                               "501 root: recipient address must contain a domain"])

        let r = try check(exim, ["--item", "SRV-005", "--smtp-port", port])
        #expect(r.status == 0, "\(r)\n\(exim.logs())")
        #expect(r.stdout.contains("pass  smtp 127.0.0.1:\(port)  \"EXPN root → 550 Administrative prohibition\""), "\(r)")
        #expect(r.stdout.contains("pass  smtp 127.0.0.1:\(port)  \"VRFY root@\(ExtractedMTA.hostName) → 252 Administrative prohibition\""), "\(r)")
    }

    @Test func acceptingVRFYAndEXPNFails() throws {
        let exim = try ExtractedMTA.exim(accepting: ["vrfy", "expn"])
        defer { exim.stop() }
        let port = String(exim.port)
        let vrfy = try exim.smtp(["EHLO client.example", "VRFY root@\(ExtractedMTA.hostName)"]).last
        #expect(vrfy?.description == "250 <root@\(ExtractedMTA.hostName)> is deliverable")

        let r = try check(exim, ["--item", "SRV-005", "--smtp-port", port])
        #expect(r.status == 2, "\(r)\n\(exim.logs())")
        #expect(r.stdout.contains("fail  smtp 127.0.0.1:\(port)  \"EXPN root → 250 "), "\(r)")
        #expect(r.stdout.contains("fail  smtp 127.0.0.1:\(port)  \"VRFY root@\(ExtractedMTA.hostName) → 250 <root@\(ExtractedMTA.hostName)> is deliverable\""), "\(r)")
    }

    /// VRFY allowed, EXPN refused: exim verifies addresses for anyone who qualifies them, and
    /// the probe, asking again with the domain, sees it.
    @Test func acceptingOnlyVRFYFails() throws {
        let exim = try ExtractedMTA.exim(accepting: ["vrfy"])
        defer { exim.stop() }
        let port = String(exim.port)
        let vrfy = try exim.smtp(["EHLO client.example", "VRFY root@\(ExtractedMTA.hostName)"]).last
        #expect(vrfy?.description == "250 <root@\(ExtractedMTA.hostName)> is deliverable")

        let r = try check(exim, ["--item", "SRV-005", "--smtp-port", port])
        #expect(r.stdout.contains("pass  smtp 127.0.0.1:\(port)  \"EXPN root → 550 Administrative prohibition\""), "\(r)")
        #expect(r.status == 2, "\(r)")
        #expect(r.stdout.contains("fail  smtp 127.0.0.1:\(port)  \"VRFY root@\(ExtractedMTA.hostName) → 250 "), "\(r)")
    }

    /// exim4 on PATH answers `-bV`; /usr/sbin/sendmail is a link to it, as Debian's exim
    /// packages make it: it is reported as exim's, not as a sendmail.
    @Test func u45ReportsTheRealEximVersionAndSendmailAsItsLink() throws {
        let exim = try ExtractedMTA.exim()
        defer { exim.stop() }
        let version = try exim.packages.upstreamVersion(of: "exim4-daemon-light")
        let r = try check(exim, ["--item", "U-45", "--format", "json"])
        let evidence = try checkEvidence(r.stdout)
        let found = evidence.filter { $0["mta"] as? String == "exim" }
        #expect(found.count == 1, "\(r)")
        #expect(found.first?["text"] as? String == "exim \(version)", "\(r)")
        #expect(found.first?["file"] as? String == "exim4", "\(r)")
        let sendmail = evidence.filter { $0["mta"] as? String == "sendmail" }
        #expect(sendmail.count == 1, "\(r)")
        #expect(sendmail.first?["text"] as? String == "/usr/sbin/sendmail → exim (link:/usr/sbin/exim4)", "\(r)")
        #expect(sendmail.first?["status"] as? String == "not-applicable", "\(r)")
    }

    /// The file side: the exim-acl kind reads the configuration as exim does, comments out the
    /// `accept` lines, and the real exim then refuses both commands; rollback brings back the
    /// bytes, and exim answers again.
    @Test func applyCommentsOutTheAcceptAndTheRealEximRefuses() throws {
        let exim = try ExtractedMTA.exim(accepting: ["vrfy", "expn"])
        defer { exim.stop() }
        let backups = try TempDir("exim-apply")
        defer { backups.remove() }
        let original = try Data(contentsOf: URL(fileURLWithPath: exim.configFile))
        let vrfy = "VRFY root@\(ExtractedMTA.hostName)", expn = "EXPN root@\(ExtractedMTA.hostName)"
        func replies() throws -> [String] {
            try exim.smtp(["EHLO client.example", vrfy, expn]).dropFirst().map { String($0.code) }
        }
        #expect(try replies() == ["250", "250"])

        let check = try mtaguard(["check", "--root", exim.root, "--item", "SRV-005"], backups: backups.path)
        #expect(check.status == 2 && check.stdout.contains("VRFY answered") && check.stdout.contains("EXPN answered"), "\(check)")
        let apply = try mtaguard(["apply", "--yes", "--root", exim.root, "--item", "U-48"], backups: backups.path)
        #expect(apply.status == 0, "\(apply)")
        let fixed = try String(contentsOfFile: exim.configFile, encoding: .utf8)
        #expect(fixed.contains("\n#acl_smtp_vrfy = accept\n") && fixed.contains("\n#acl_smtp_expn = accept\n"), "\(apply)")
        // Only those two lines changed, each by a leading '#'.
        let before = String(decoding: original, as: UTF8.self).split(separator: "\n", omittingEmptySubsequences: false)
        let after = fixed.split(separator: "\n", omittingEmptySubsequences: false)
        #expect(before.count == after.count)
        let changed = zip(before, after).filter { $0 != $1 }
        #expect(changed.count == 2 && changed.allSatisfy { "#" + $0.0 == $0.1 }, "\(changed)")
        let refused = try replies()
        #expect(refused == ["252", "550"], "the real exim after the fix: \(refused)\n\(exim.logs())")

        let again = try mtaguard(["apply", "--yes", "--root", exim.root, "--item", "U-70"], backups: backups.path)
        #expect(again.status == 0 && again.stdout.contains("nothing to do"), "\(again)")
        let id = try #require(apply.stdout.split(separator: "\n").first { $0.hasPrefix("run ") }.map { String($0.dropFirst(4)) })
        let rollback = try mtaguard(["rollback", id], backups: backups.path)
        #expect(rollback.status == 0, "\(rollback)")
        #expect(try Data(contentsOf: URL(fileURLWithPath: exim.configFile)) == original)
        #expect(try replies() == ["250", "250"])
    }
}

/// Debian's exim4 as installed: no /etc/exim4/exim4.conf, so exim runs the configuration
/// update-exim4.conf builds from conf.d (or exim4.conf.template). mtaguard fixes the source,
/// has Debian's own tool build the file again, and the real exim, started as Debian starts it
/// (no -C), refuses; rollback restores the sources and builds the file again.
@Suite struct DebianEximTests {
    static let vrfy = "VRFY root@\(ExtractedMTA.hostName)", expn = "EXPN root@\(ExtractedMTA.hostName)"

    func replies(_ exim: ExtractedMTA) throws -> [String] {
        try exim.smtp(["EHLO client.example", Self.vrfy, Self.expn]).dropFirst().map { String($0.code) }
    }

    func mtaguard(_ exim: ExtractedMTA, _ args: [String], backups: String) throws -> CommandResult {
        let playbooks = ["check", "plan", "apply"].contains(args[0]) ? ["--playbooks", Repo.playbooks] : []
        return try exim.run([Repo.binary] + args + playbooks, environment: ["MTAGUARD_BACKUPS": backups])
    }

    func bytes(_ path: String) throws -> Data { try Data(contentsOf: URL(fileURLWithPath: path)) }

    @Test(arguments: [true, false]) func applyFixesTheSourceAndTheBuiltFile(split: Bool) throws {
        // VRFY let through in a file of the admin's own, EXPN in Debian's options file (split);
        // both in the template (unsplit).
        let edits = split
            ? ["conf.d/main/05_local_vrfy": "acl_smtp_vrfy = accept\n", "conf.d/main/02_exim4-config_options": "acl_smtp_expn = accept\n"]
            : ["exim4.conf.localmacros": "acl_smtp_vrfy = accept\nacl_smtp_expn = accept\n"]
        let exim = try ExtractedMTA.eximDebian(split: split, edits: edits)
        defer { exim.stop() }
        let backups = try TempDir("exim-debian")
        defer { backups.remove() }
        let sources = edits.keys.sorted().map { exim.root + "/etc/exim4/" + $0 }
        let originals = try sources.map(bytes)
        #expect(try replies(exim) == ["250", "250"], "\(exim.logs())")

        let check = try mtaguard(exim, ["check", "--item", "SRV-005", "--smtp-port", String(exim.port)], backups: backups.path)
        #expect(check.status == 2, "\(check)")
        // The evidence names the source that lets VRFY through, at its line.
        let vrfySource = split ? "conf.d/main/05_local_vrfy:1" : "exim4.conf.localmacros:5"
        #expect(check.stdout.contains("fail  exim /etc/exim4/\(vrfySource)  \"acl_smtp_vrfy = accept\""), "\(check)")

        let apply = try mtaguard(exim, ["apply", "--yes", "--item", "U-48"], backups: backups.path)
        #expect(apply.status == 0, "\(apply)\n\(exim.logs())")
        for (path, original) in zip(sources, originals) {
            // Each source changed by one leading '#', nothing else.
            let before = String(decoding: original, as: UTF8.self).split(separator: "\n", omittingEmptySubsequences: false)
            let after = try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n", omittingEmptySubsequences: false)
            let changed = zip(before, after).filter { $0 != $1 }
            #expect(before.count == after.count && !changed.isEmpty && changed.allSatisfy { "#" + $0.0 == $0.1 }, "\(path): \(changed)")
        }
        let built = try String(contentsOfFile: exim.configFile, encoding: .utf8)
        #expect(!built.split(separator: "\n").contains { $0.hasPrefix("acl_smtp_vrfy") || $0.hasPrefix("acl_smtp_expn") }, "\(built)")
        #expect(try replies(exim) == ["252", "550"], "the real exim after the fix\n\(exim.logs())")

        let again = try mtaguard(exim, ["check", "--item", "U-70", "--smtp-port", String(exim.port)], backups: backups.path)
        #expect(again.status == 0, "\(again)")

        let id = try #require(apply.stdout.split(separator: "\n").first { $0.hasPrefix("run ") }.map { String($0.dropFirst(4)) })
        let rollback = try mtaguard(exim, ["rollback", id], backups: backups.path)
        #expect(rollback.status == 0, "\(rollback)")
        #expect(try sources.map(bytes) == originals)
        #expect(try replies(exim) == ["250", "250"], "after rollback, update-exim4.conf built the file from the restored sources")
    }

    /// Someone fixed the source but never ran update-exim4.conf: exim still answers, so the item
    /// fails, and apply only builds the file again.
    @Test func aBuiltFileOlderThanItsSourcesIsBuiltAgain() throws {
        let exim = try ExtractedMTA.eximDebian(edits: ["conf.d/main/05_local_vrfy": "acl_smtp_vrfy = accept\n"])
        defer { exim.stop() }
        let backups = try TempDir("exim-debian-stale")
        defer { backups.remove() }
        let source = exim.root + "/etc/exim4/conf.d/main/05_local_vrfy"
        try Data("#acl_smtp_vrfy = accept\n".utf8).write(to: URL(fileURLWithPath: source))
        #expect(try replies(exim) == ["250", "550"])

        let check = try mtaguard(exim, ["check", "--item", "SRV-005"], backups: backups.path)
        #expect(check.status == 2 && check.stdout.contains("is older than its sources"), "\(check)")
        let plan = try mtaguard(exim, ["plan", "--item", "SRV-005"], backups: backups.path)
        #expect(plan.stdout.contains("# then run: update-exim4.conf") && !plan.stdout.contains("--- a/"), "\(plan)")
        let apply = try mtaguard(exim, ["apply", "--yes", "--item", "SRV-005"], backups: backups.path)
        #expect(apply.status == 0, "\(apply)")
        #expect(try String(contentsOfFile: source, encoding: .utf8) == "#acl_smtp_vrfy = accept\n")
        #expect(try replies(exim) == ["252", "550"], "\(exim.logs())")
    }

    /// update-exim4.conf installs only a file that `exim4 -C NEW -bV` accepts: when it refuses,
    /// the run fails at that step and the host is rolled back, sources byte for byte; the file
    /// exim runs was never replaced.
    @Test func aRefusedBuildRollsTheSourcesBack() throws {
        let exim = try ExtractedMTA.eximDebian(edits: ["conf.d/main/05_local_vrfy": "acl_smtp_vrfy = accept\n"])
        defer { exim.stop() }
        let backups = try TempDir("exim-debian-refused")
        defer { backups.remove() }
        let source = exim.root + "/etc/exim4/conf.d/main/05_local_vrfy"
        let original = try bytes(source), builtBefore = try bytes(exim.configFile)
        // An exim whose configuration check refuses every file, as a broken one would.
        try Data("#!/bin/sh\necho 'exim: configuration error (test)' >&2\nexit 1\n".utf8).write(to: URL(fileURLWithPath: exim.root + "/sbin/exim4"))

        let apply = try mtaguard(exim, ["apply", "--yes", "--item", "SRV-005"], backups: backups.path)
        #expect(apply.status != 0, "\(apply)")
        #expect((apply.stdout + apply.stderr).contains("Invalid new configfile") && (apply.stdout + apply.stderr).contains("rolled back"), "\(apply)")
        #expect(try bytes(source) == original)
        #expect(try bytes(exim.configFile) == builtBefore)
    }
}
