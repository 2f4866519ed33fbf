import Foundation
import Testing

@testable import MTAGuard

/// exim's `.include` / `.include_if_exists` files are read and judged as exim splices them,
/// with the real exim as the judge: `exim -C FILE -bP OPTION` says the option exim reads, and an
/// `exim -C FILE -bh 192.0.2.1` session says what VRFY gets, on the same files mtaguard reads
/// from `--root` (relative include names, so that both read the same folder).
@Suite struct EximIncludeTests {
    /// Debian's template behind ExtractedMTA's macros, with: VRFY's and EXPN's options set two
    /// includes deep (VRFY accepted); the ACLs in a file included after `begin acl`; a
    /// `.include_if_exists` whose file is not there; an indented, quoted `.include`.
    static func layout(_ mta: ExtractedMTA) throws -> (main: String, files: [String: String]) {
        var main = try String(contentsOfFile: mta.configFile, encoding: .utf8)
        let head = "# ISP layout\n.include_if_exists /nonexistent-mtaguard-include/missing.conf\n  .include \"include/options.conf\"\n"
        main = head + main
        #expect(main.contains("\nbegin acl\n"))
        main = main.replacingOccurrences(of: "\nbegin acl\n", with: "\nbegin acl\n\n.include include/acls.conf\n")
        return (main, [
            "include/options.conf": "# options set for the ISP\n.include deeper.conf\n",
            "include/deeper.conf": "acl_smtp_expn = acl_check_expn\nacl_smtp_vrfy = accept\n",
            "include/acls.conf": "acl_check_vrfy:\n  deny\n\nacl_check_expn:\n  deny\n",
        ])
    }

    static func exim(_ mta: ExtractedMTA, _ args: [String], stdin: String? = nil) throws -> CommandResult {
        try runCommand(["unshare", "-n", mta.packages.eximBinary, "-C", mta.configFile] + args, stdin: stdin,
                       environment: ["LD_LIBRARY_PATH": mta.packages.eximLibraries])
    }

    /// The final reply line to VRFY in an `exim -bh` session from an outside address.
    static func vrfy(_ mta: ExtractedMTA) throws -> String {
        let r = try exim(mta, ["-bh", "192.0.2.1"], stdin: "EHLO probe.test\r\nVRFY postmaster@\(ExtractedMTA.hostName)\r\nQUIT\r\n")
        let finals = r.stdout.split(whereSeparator: \.isNewline).filter { $0.count >= 4 && $0.prefix(3).allSatisfy(\.isNumber) && $0.dropFirst(3).first == " " }
        guard finals.count >= 3 else { throw ExtractedMTAError(description: "exim -bh: \(r)") }
        return String(finals[2])
    }

    /// Writes `main` and `files` (relative to its folder) where exim reads them.
    static func place(_ main: String, _ files: [String: String], for mta: ExtractedMTA) throws {
        let dir = (mta.configFile as NSString).deletingLastPathComponent
        try Data(main.utf8).write(to: URL(fileURLWithPath: mta.configFile))
        try FileManager.default.createDirectory(atPath: dir + "/include", withIntermediateDirectories: true)
        for (name, text) in files { try Data(text.utf8).write(to: URL(fileURLWithPath: dir + "/" + name)) }
    }

    /// The 오류 evidence of `check --item SRV-005 --root` on an image of `main` and `files`
    /// under /etc/exim4.
    static func errorEvidence(_ main: String, _ files: [String: String]) throws -> String {
        let root = try TempDir("include-image")
        defer { root.remove() }
        let backups = try TempDir("include-b")
        defer { backups.remove() }
        try root.write("etc/exim4/exim4.conf", main)
        for (name, text) in files { try root.write("etc/exim4/" + name, text) }
        let r = try mtaguard(["check", "--item", "SRV-005", "--root", root.path, "--format", "json"], backups: backups.path)
        let e = try #require(try checkEvidence(r.stdout).first { $0["file"] as? String == "/etc/exim4/exim4.conf" }, "\(r)")
        #expect(e["status"] as? String == "error", "\(e)")
        #expect(r.status == 1, "\(r)")
        return e["note"] as? String ?? ""
    }

    @Test func includedSettingsAndACLsAreJudgedAndFixedWhereTheyLive() throws {
        let mta = try ExtractedMTA.exim()
        defer { mta.stop() }
        let (main, files) = try Self.layout(mta)
        let dir = (mta.configFile as NSString).deletingLastPathComponent
        try Data(main.utf8).write(to: URL(fileURLWithPath: mta.configFile))
        for (name, text) in files {
            try FileManager.default.createDirectory(atPath: dir + "/include", withIntermediateDirectories: true)
            try Data(text.utf8).write(to: URL(fileURLWithPath: dir + "/" + name))
        }
        // exim reads the include two deep: VRFY is accepted.
        #expect(try Self.exim(mta, ["-bP", "acl_smtp_vrfy"]).stdout == "acl_smtp_vrfy = accept\n")
        #expect(try Self.exim(mta, ["-bP", "acl_smtp_expn"]).stdout == "acl_smtp_expn = acl_check_expn\n")
        let answered = try Self.vrfy(mta)
        #expect(!answered.contains("Administrative prohibition"), "\(answered)")

        let root = try TempDir("include-root")
        defer { root.remove() }
        let backups = try TempDir("include-b")
        defer { backups.remove() }
        try root.write("etc/exim4/exim4.conf", main)
        for (name, text) in files { try root.write("etc/exim4/" + name, text) }
        func evidence() throws -> [String: Any] {
            let r = try mtaguard(["check", "--item", "SRV-005", "--root", root.path, "--format", "json"], backups: backups.path)
            return try #require(try checkEvidence(r.stdout).first { ($0["file"] as? String ?? "").hasPrefix("/etc/exim4/") }, "\(r)")
        }
        let before = try evidence()
        #expect(before["status"] as? String == "fail", "\(before)")
        #expect(before["file"] as? String == "/etc/exim4/include/deeper.conf" && before["line"] as? Int == 2, "\(before)")
        let note = before["note"] as? String ?? ""
        #expect(note.contains("VRFY answered: inline ACL \"accept\" accepts (/etc/exim4/include/deeper.conf:2)"), "\(note)")
        #expect(note.contains("EXPN refused: ACL acl_check_expn denies (/etc/exim4/include/acls.conf:4)"), "\(note)")
        #expect(note.contains(".include_if_exists at /etc/exim4/exim4.conf:2 names /nonexistent-mtaguard-include/missing.conf, which does not exist: exim skips it"), "\(note)")

        // The included file is checked by exim as part of the whole configuration.
        let plan = try mtaguard(["plan", "--item", "SRV-005", "--root", root.path], backups: backups.path)
        #expect(plan.stdout.contains("# /etc/exim4/include/deeper.conf (SRV-005)\n"), "\(plan)")
        #expect(plan.stdout.contains("#   validate after replacing: exim4 -C /etc/exim4/exim4.conf -bV  [skipped: offline root]\n"), "\(plan)")
        #expect(!plan.stdout.contains("# /etc/exim4/exim4.conf ("), "\(plan)")
        let apply = try mtaguard(["apply", "--yes", "--item", "SRV-005", "--root", root.path], backups: backups.path)
        #expect(apply.status == 0, "\(apply)")
        // The fix is in the included file; the main file stays byte for byte.
        #expect(try String(decoding: root.read("etc/exim4/exim4.conf"), as: UTF8.self) == main)
        let fixed = String(decoding: try root.read("etc/exim4/include/deeper.conf"), as: UTF8.self)
        #expect(fixed == "acl_smtp_expn = acl_check_expn\n#acl_smtp_vrfy = accept\n", "\(fixed)")
        let after = try evidence()
        #expect(after["status"] as? String == "pass", "\(after)")
        #expect((after["note"] as? String ?? "").contains("VRFY refused: acl_smtp_vrfy is not set: exim refuses VRFY by default"), "\(after)")

        // exim agrees on the fixed files: VRFY's option is unset, and exim refuses it.
        try Data(fixed.utf8).write(to: URL(fileURLWithPath: dir + "/include/deeper.conf"))
        #expect(try Self.exim(mta, ["-bP", "acl_smtp_vrfy"]).stdout == "acl_smtp_vrfy = \n")
        #expect(try Self.exim(mta, ["-bV"]).status == 0)
        #expect(try Self.vrfy(mta).contains("Administrative prohibition"))
    }

    /// SRV-170 on a banner set in an included file: judged there, and set there by the fix;
    /// exim's `-bP` reads the same value before and after.
    @Test func aBannerInAnIncludedFileIsFixedThere() throws {
        let mta = try ExtractedMTA.exim()
        defer { mta.stop() }
        let main = ".include include/banner.conf\n" + (try String(contentsOfFile: mta.configFile, encoding: .utf8))
        let banner = "# the ISP's greeting\nsmtp_banner = $smtp_active_hostname ESMTP Exim $version_number $tod_full\n"
        try Self.place(main, ["include/banner.conf": banner], for: mta)
        #expect(try Self.exim(mta, ["-bP", "smtp_banner"]).stdout == "smtp_banner = $smtp_active_hostname ESMTP Exim $version_number $tod_full\n")

        let root = try TempDir("include-banner")
        defer { root.remove() }
        let backups = try TempDir("include-bb")
        defer { backups.remove() }
        try root.write("etc/exim4/exim4.conf", main)
        try root.write("etc/exim4/include/banner.conf", banner)
        func evidence() throws -> [String: Any] {
            let r = try mtaguard(["check", "--item", "SRV-170", "--root", root.path, "--format", "json"], backups: backups.path)
            return try #require(try checkEvidence(r.stdout).first { ($0["file"] as? String ?? "").hasPrefix("/etc/exim4/") }, "\(r)")
        }
        let before = try evidence()
        #expect(before["status"] as? String == "fail" && before["file"] as? String == "/etc/exim4/include/banner.conf"
                && before["line"] as? Int == 2, "\(before)")
        #expect((before["note"] as? String ?? "").contains("(set in /etc/exim4/include/banner.conf, which /etc/exim4/exim4.conf includes)"), "\(before)")
        let apply = try mtaguard(["apply", "--yes", "--item", "SRV-170", "--root", root.path], backups: backups.path)
        #expect(apply.status == 0, "\(apply)")
        #expect(String(decoding: try root.read("etc/exim4/exim4.conf"), as: UTF8.self) == main)
        let fixed = String(decoding: try root.read("etc/exim4/include/banner.conf"), as: UTF8.self)
        #expect(fixed == "# the ISP's greeting\nsmtp_banner = $smtp_active_hostname ESMTP $tod_full\n", "\(fixed)")
        #expect(try evidence()["status"] as? String == "pass")
        try Self.place(main, ["include/banner.conf": fixed], for: mta)
        #expect(try Self.exim(mta, ["-bP", "smtp_banner"]).stdout == "smtp_banner = $smtp_active_hostname ESMTP $tod_full\n")
    }

    /// A `.include` whose file is missing stops exim from starting; mtaguard says 오류, naming
    /// the file and the line that includes it, never 양호.
    @Test func aMissingIncludeIsAnErrorAsEximRefusesToStart() throws {
        let mta = try ExtractedMTA.exim()
        defer { mta.stop() }
        let (main, all) = try Self.layout(mta)
        let files = all.filter { $0.key != "include/deeper.conf" }
        try Self.place(main, files, for: mta)
        let refused = try Self.exim(mta, ["-bV"])
        #expect(refused.status != 0 && (refused.stdout + refused.stderr).contains("failed to open included configuration file"), "\(refused)")

        let note = try Self.errorEvidence(main, files)
        #expect(note.contains(
            "/etc/exim4/include/deeper.conf: does not exist, and .include at /etc/exim4/include/options.conf:2 includes it: exim refuses to start"), "\(note)")
    }

    /// An include that sets an option the main file sets too: exim refuses to start (no main
    /// option may be set twice), and mtaguard says 오류 naming both places, never a verdict
    /// on either value.
    @Test func anOptionSetAgainInAnIncludeIsAnError() throws {
        let mta = try ExtractedMTA.exim()
        defer { mta.stop() }
        let (stock, files) = try Self.layout(mta)
        let main = "acl_smtp_vrfy = acl_check_vrfy\n" + stock
        try Self.place(main, files, for: mta)
        let refused = try Self.exim(mta, ["-bV"])
        #expect(refused.status != 0 && refused.stderr.contains("\"acl_smtp_vrfy\" option set for the second time"), "\(refused)")

        let note = try Self.errorEvidence(main, files)
        #expect(note.contains(
            "acl_smtp_vrfy is set at /etc/exim4/exim4.conf:1 and again at /etc/exim4/include/deeper.conf:2: exim refuses to start"), "\(note)")
    }

    /// Without a source of included files (a caller that reads one file), an include line is
    /// never dropped: VRFY's option unset in the file is undecided, never exim's default deny.
    @Test func includesNotFollowedLeaveTheVerdictOpen() throws {
        let workspace = try ConfigWorkspace()
        for line in [".include /etc/exim4/acls.conf", ".include_if_exists /etc/exim4/acls.conf"] {
            let tree = try EximLensTests.parse(workspace, line + "\nbegin acl\n", file: "/etc/exim4/exim4.conf")
            let verdict = try EximACL.judge(.vrfy, in: [tree])
            #expect(verdict.outcome == .unknown && verdict.reason.contains("may set it"), "\(line): \(verdict)")
        }
    }

    @Test func includeLinesAndPathsAreReadAsEximReadsThem() {
        #expect(EximIncludes.parse(line: "  .include \"/etc/a b.conf\"  ") == .init(ifExists: false, name: "/etc/a b.conf"))
        #expect(EximIncludes.parse(line: "\t.include_if_exists /etc/x") == .init(ifExists: true, name: "/etc/x"))
        #expect(EximIncludes.parse(line: ".includes /etc/x") == nil)
        #expect(EximIncludes.parse(line: "# .include /etc/x") == nil)
        #expect(EximIncludes.parse(line: ".include_if_existsX /etc/x") == nil)
        let inc = { (name: String, ifExists: Bool) in EximIncludes.path(of: .init(ifExists: ifExists, name: name), in: "/etc/exim/exim.conf") }
        #expect(inc("acls.conf", false) == .success("/etc/exim/acls.conf"))
        #expect(inc("sub/acls.conf", false) == .success("/etc/exim/sub/acls.conf"))
        #expect((try? inc("acls.conf", true).get()) == nil)
        #expect((try? inc("../../etc/shadow", false).get()) == nil)
        #expect((try? inc("/etc/exim/./x", false).get()) == nil)
        #expect((try? inc("/etc//x", false).get()) == nil)
        #expect(inc("/etc/it's $(touch x)", false) == .success("/etc/it's $(touch x)"))
        #expect(EximIncludes.checked("/etc/a\nb") == nil)
    }
}

/// The same over real SSH, where the facts script reads the include files on the host, and
/// with `--root` on an image of the same files: a non-root login that may not read an include
/// gets 오류 naming it, never 양호 or 해당 없음; root gets the included files judged, hostile
/// names read as data and never run, and a name that climbs with `..` refused as 오류; both
/// readers say the same words.
@Suite(.serialized) struct EximIncludeSSHTests {
    typealias Bench = UnreachedFileTests.Bench

    /// Writes `files` (host path → text and mode) on the lab host and in the image.
    static func lay(_ files: [(path: String, text: String, mode: Int)], on bench: Bench, host name: String) throws {
        let host = bench.lab.host(name)
        for f in files {
            for full in [host.directory + "/overlay" + f.path, bench.image + f.path] {
                let folder = (full as NSString).deletingLastPathComponent
                try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
                chmod(folder, 0o755)
                try Data(f.text.utf8).write(to: URL(fileURLWithPath: full))
                chmod(full, mode_t(f.mode))
            }
        }
    }

    static let main = ".include /etc/exim4/private.conf\nbegin acl\nacl_check_vrfy:\n  deny\n"

    @Test func anIncludeTheLoginMayNotReadIsAnError() throws {
        let bench = try Bench.start("incl-guarded")
        defer { bench.stop() }
        try Self.lay([("/etc/exim4/exim4.conf", Self.main, 0o644), ("/etc/exim4/private.conf", "acl_smtp_vrfy = accept\n", 0o600)],
                     on: bench, host: "incl-guarded")
        let (overSSH, fromRoot) = try bench.check("SRV-005")
        #expect(overSSH.status == 1 && fromRoot.status == 1, "\(overSSH)\n\(fromRoot)")
        let a = try UnreachedFileTests().judged(overSSH.stdout), b = try UnreachedFileTests().judged(fromRoot.stdout)
        #expect(a == b, "ssh: \(a)\nroot: \(b)")
        #expect(a.count == 1 && a[0].hasPrefix("SRV-005 error "), "\(a)")
        #expect(a.first?.contains(
            "/etc/exim4/private.conf: included by .include at /etc/exim4/exim4.conf:1: exists but cannot be read by the login user: permission denied (EACCES)"
                + " (use --become, or log in as a user that may read it: exim reads it when it starts)") == true,
            "\(a)")
    }

    @Test func hostileIncludeNamesAreDataAndClimbingIsRefused() throws {
        let bench = try Bench.start("incl-hostile")
        defer { bench.stop() }
        let marker = "/tmp/mtaguard-include-pwned"
        try? FileManager.default.removeItem(atPath: marker)
        let hostile = "/etc/exim4/x $(touch \(marker)) y/it's `touch \(marker)` \"q\" a\\b; touch \(marker).conf"
        let main = ".include_if_exists /etc/exim4/gone 'q' $(touch \(marker)).conf\n.include_if_exists \(hostile)\n" + Self.main
        try Self.lay([("/etc/exim4/exim4.conf", main, 0o644), ("/etc/exim4/private.conf", "acl_smtp_expn = acl_check_vrfy\n", 0o644),
                      (hostile, "acl_smtp_vrfy = accept\n", 0o644)], on: bench, host: "incl-hostile")
        let (overSSH, fromRoot) = try bench.check("SRV-005", asRoot: true)
        #expect(overSSH.status == 2 && fromRoot.status == 2, "\(overSSH)\n\(fromRoot)")
        let a = try UnreachedFileTests().judged(overSSH.stdout), b = try UnreachedFileTests().judged(fromRoot.stdout)
        #expect(a == b, "ssh: \(a)\nroot: \(b)")
        #expect(a.first?.contains("VRFY answered: inline ACL \"accept\" accepts (\(hostile):1)") == true, "\(a)")
        #expect(a.first?.contains("EXPN refused: ACL acl_check_vrfy") == true, "\(a)")
        #expect(a.first?.contains("names /etc/exim4/gone 'q' $(touch \(marker)).conf, which does not exist: exim skips it") == true, "\(a)")
        #expect(!FileManager.default.fileExists(atPath: marker))
        #expect(try bench.lab.inNamespace("incl-hostile", "test ! -e \(marker)").status == 0)

        try Self.lay([("/etc/exim4/exim4.conf", ".include ../../etc/shadow\n" + main, 0o644)], on: bench, host: "incl-hostile")
        let (climbSSH, climbRoot) = try bench.check("SRV-005", asRoot: true)
        let c = try UnreachedFileTests().judged(climbSSH.stdout)
        #expect(c == (try UnreachedFileTests().judged(climbRoot.stdout)), "\(climbSSH)\n\(climbRoot)")
        #expect(c.first?.hasPrefix("SRV-005 error ") == true && c.first?.contains(
            ".include \"../../etc/shadow\" names a path mtaguard does not read") == true, "\(c)")
    }

    /// The bounds, over SSH (the script's) and from `--root` (the reader's), in the same words:
    /// a configuration that includes more than 32 files, and one that includes itself (exim
    /// would open it until it runs out of files), are 오류 naming the bound.
    @Test func boundsAreErrorsNamingThem() throws {
        let bench = try Bench.start("incl-bounds")
        defer { bench.stop() }
        let many = (1...33).map { "/etc/exim4/many/\($0).conf" }
        try Self.lay([("/etc/exim4/exim4.conf", many.map { ".include \($0)\n" }.joined() + Self.main, 0o644)]
                     + many.map { ($0, "# nothing\n", 0o644) }, on: bench, host: "incl-bounds")
        let (manySSH, manyRoot) = try bench.check("SRV-005", asRoot: true)
        let a = try UnreachedFileTests().judged(manySSH.stdout)
        #expect(a == (try UnreachedFileTests().judged(manyRoot.stdout)), "\(manySSH)\n\(manyRoot)")
        #expect(a.first?.hasPrefix("SRV-005 error ") == true && a.first?.contains(
            ".include at /etc/exim4/exim4.conf:33 names /etc/exim4/many/33.conf, which was not read: the configuration includes more than 32 files (mtaguard reads at most 32)") == true,
            "\(a)")

        try Self.lay([("/etc/exim4/exim4.conf", ".include /etc/exim4/self.conf\n" + Self.main, 0o644),
                      ("/etc/exim4/self.conf", "# again\n.include self.conf\n", 0o644)], on: bench, host: "incl-bounds")
        let (selfSSH, selfRoot) = try bench.check("SRV-005", asRoot: true)
        let b = try UnreachedFileTests().judged(selfSSH.stdout)
        #expect(b == (try UnreachedFileTests().judged(selfRoot.stdout)), "\(selfSSH)\n\(selfRoot)")
        #expect(b.first?.hasPrefix("SRV-005 error ") == true && b.first?.contains(
            ".include at /etc/exim4/self.conf:2 includes /etc/exim4/self.conf more than 8 includes deep") == true, "\(b)")
    }

    /// Over SSH, a fix in an included file is written, then checked by exim as part of the
    /// whole configuration (`exim4 -C /etc/exim4/exim4.conf -bV`); this lab host has no exim,
    /// so the check fails and the included file is put back byte for byte from the journal.
    @Test func aFixInAnIncludedFileIsCheckedAndRolledBack() throws {
        let bench = try Bench.start("incl-apply")
        defer { bench.stop() }
        let private_ = "acl_smtp_vrfy = accept\n"
        try Self.lay([("/etc/exim4/exim4.conf", Self.main, 0o644), ("/etc/exim4/private.conf", private_, 0o640)], on: bench, host: "incl-apply")
        let onHost = bench.lab.host("incl-apply").directory + "/overlay/etc/exim4/private.conf"
        let r = try runCommand(
            [Repo.binary, "apply", "--yes", "--item", "SRV-005", "--playbooks", Repo.playbooks, "-i", bench.lab.inventoryPath,
             "--ssh-config", bench.lab.sshConfigPath, "--connect-timeout", "60"],
            environment: ["MTAGUARD_BACKUPS": bench.work.path + "/root-backups"])
        #expect(r.status != 0, "\(r)")
        #expect(r.stdout.contains(
            "incl-apply: rolled-back: the MTA's validator rejected the new /etc/exim4/private.conf: exim4 -C /etc/exim4/exim4.conf -bV exited 127"), "\(r)")
        #expect(r.stdout.contains("restored /etc/exim4/private.conf"), "\(r)")
        #expect(try String(contentsOfFile: onHost, encoding: .utf8) == private_)
        #expect(try (FileManager.default.attributesOfItem(atPath: onHost)[.posixPermissions] as? Int) == 0o640)
    }
}
