import Foundation
import Testing

/// mtaguard on the live host (no --root) against a real postfix: the instance's own
/// /etc/postfix is bind-mounted over the real one in a private mount namespace, so
/// `postfix check` and `postfix reload` run by mtaguard reach that instance.
@Suite struct LivePostfixTests {
    /// The VRFY reply code, waiting (up to 5 s) for `expected`: after a reload an idle smtpd
    /// may take one more session with the old configuration.
    func vrfy(_ pf: PostfixInstance, expecting expected: Int) throws -> Int {
        let replies = try pf.smtp(["EHLO client.example", "VRFY root"], until: { $0.last?.code == expected })
        return replies.last?.code ?? 0
    }

    @Test func vrfyRefusedAfterApplyAndAllowedAgainAfterRollback() throws {
        let pf = try PostfixInstance.start()
        defer { pf.stop() }
        let backups = try TempDir("live-backups")
        defer { backups.remove() }
        let env = ["MTAGUARD_BACKUPS": backups.path]
        let mainCF = pf.configDirectory + "/main.cf"
        let original = try Data(contentsOf: URL(fileURLWithPath: mainCF))

        #expect(try vrfy(pf, expecting: 252) == 252)
        let check = try pf.run([Repo.binary, "check", "--item", "SRV-005", "--playbooks", Repo.playbooks,
                                "--smtp-port", String(pf.port)], environment: env)
        #expect(check.status == 2, "\(check)")
        #expect(check.stdout.contains("fail  smtp 127.0.0.1:\(pf.port)  \"VRFY root → 252"), "\(check)")

        let started = time(nil)
        let apply = try pf.run([Repo.binary, "apply", "--yes", "--item", "SRV-005", "--playbooks", Repo.playbooks,
                                "--smtp-port", String(pf.port)], environment: env)
        #expect(apply.status == 0, "\(apply)")
        #expect(apply.stdout.contains("done postfix reload"), "\(apply)")
        // Checked in a staging folder and installed with its time 3 s back (postfix's hot-file
        // rule then never makes the check or the reload wait); no staging folder is left.
        let written = try Self.mtime(mainCF)
        #expect(written <= time(nil) - 3 && written >= started - 4, "mtime \(written), apply from \(started)")
        #expect(try !FileManager.default.contentsOfDirectory(atPath: pf.configDirectory).contains { $0.contains("mtaguard") })
        #expect(try vrfy(pf, expecting: 502) == 502)
        // SRV-005's own method agrees: probe the port.
        let probed = try pf.run([Repo.binary, "check", "--item", "SRV-005", "--playbooks", Repo.playbooks,
                                 "--smtp-port", String(pf.port)], environment: env)
        #expect(probed.status == 0, "\(probed)")
        #expect(probed.stdout.contains("pass  smtp 127.0.0.1:\(pf.port)  \"VRFY root → 502"), "\(probed)")
        #expect(probed.stdout.contains("EXPN root → 50"), "\(probed)")
        let after = try String(contentsOfFile: mainCF, encoding: .utf8)
        #expect(after == String(decoding: original, as: UTF8.self) + "disable_vrfy_command = yes\n")
        #expect(try pf.run([Repo.binary, "check", "--item", "U-48", "--playbooks", Repo.playbooks], environment: env).status == 0)

        let runs = try runCommand([Repo.binary, "runs", "--format", "json"], environment: env)
        let list = try JSONSerialization.jsonObject(with: Data(runs.stdout.utf8)) as! [[String: Any]]
        let runID = try #require(list.first?["id"] as? String)
        let rollback = try pf.run([Repo.binary, "rollback", runID], environment: env)
        #expect(rollback.status == 0, "\(rollback)")
        #expect(try Data(contentsOf: URL(fileURLWithPath: mainCF)) == original)
        #expect(try Self.mtime(mainCF) <= time(nil) - 3, "the rollback writes the pre-image backdated too")
        #expect(try vrfy(pf, expecting: 252) == 252)
    }

    static func mtime(_ path: String) throws -> time_t {
        var st = stat()
        guard stat(path, &st) == 0 else { throw CocoaError(.fileReadNoSuchFile) }
        return st.st_mtim.tv_sec
    }

    static func inode(_ path: String) -> ino_t {
        var st = stat()
        return stat(path, &st) == 0 ? st.st_ino : 0
    }

    @Test func u45JudgesTheRealPostfixVersionAndItsSmugglingSetting() throws {
        let pf = try PostfixInstance.start()
        defer { pf.stop() }
        let backups = try TempDir("live-backups")
        defer { backups.remove() }
        let env = ["MTAGUARD_BACKUPS": backups.path]
        let version = try runCommand(["postconf", "-d", "-h", "mail_version"]).stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        let before = try pf.run([Repo.binary, "check", "--item", "U-45", "--playbooks", Repo.playbooks, "--format", "json"], environment: env)
        #expect(before.status == 2, "\(before)")
        #expect(before.stdout.contains("\"text\" : \"postfix \(version)"), "\(before.stdout)")
        #expect(before.stdout.contains("smtpd_forbid_bare_newline = no leaves CVE-2023-51764 open"))
        let main = pf.configDirectory + "/main.cf"
        let text = try String(contentsOfFile: main, encoding: .utf8) + "smtpd_forbid_bare_newline = normalize\n"
        try Data(text.utf8).write(to: URL(fileURLWithPath: main))
        let after = try pf.run([Repo.binary, "check", "--item", "U-30", "--playbooks", Repo.playbooks], environment: env)
        #expect(!after.stdout.contains("leaves CVE-2023-51764 open"), "\(after)")
        #expect(after.stdout.contains("U-45"))
    }

    @Test func aChangeTheMTADoesNotHonourFailsVerificationAndIsRolledBack() throws {
        let pf = try PostfixInstance.start()
        defer { pf.stop() }
        let backups = try TempDir("live-backups")
        defer { backups.remove() }
        let books = try TempDir("books")
        defer { books.remove() }
        // A fix that changes the file but not what VRFY answers: the probe must catch it.
        try books.write("x.yaml", """
            id: TEST-2
            title: a change that does not restrict VRFY
            targets:
              - mta: postfix
                file: /etc/postfix/main.cf
                lens: Postfix_Main.lns
                check: { node: smtpd_helo_required, equals: ["yes"] }
                fix: { set: "yes" }
                after: { service: postfix, action: reload }
            verify:
              smtp: { vrfy: refused }
            """)
        let mainCF = pf.configDirectory + "/main.cf"
        let original = try Data(contentsOf: URL(fileURLWithPath: mainCF))
        let apply = try pf.run([Repo.binary, "apply", "--yes", "--playbooks", books.path, "--smtp-port", String(pf.port)],
                               environment: ["MTAGUARD_BACKUPS": backups.path])
        #expect(apply.status == 1, "\(apply)")
        #expect(apply.stdout.contains("verification failed: the MTA still answers VRFY root → 252"), "\(apply)")
        #expect(apply.stdout.contains("rolled-back"), "\(apply)")
        #expect(try Data(contentsOf: URL(fileURLWithPath: mainCF)) == original)
    }

    /// A main.cf that parses but that `postfix check` rejects once rewritten (the queue
    /// directory does not exist), applied with the given `validate:`; the instance, the run's
    /// result and main.cf's bytes and inode before it.
    func applyBrokenQueueDirectory(validate: String, _ body: (PostfixInstance, CommandResult, Data, ino_t) throws -> Void) throws {
        let pf = try PostfixInstance.start()
        defer { pf.stop() }
        let backups = try TempDir("live-backups")
        defer { backups.remove() }
        let books = try TempDir("books")
        defer { books.remove() }
        try books.write("x.yaml", """
            id: TEST-1
            title: break the queue directory
            targets:
              - mta: postfix
                file: /etc/postfix/main.cf
                lens: Postfix_Main.lns
                check: { node: queue_directory, equals: [/nonexistent/queue] }
                fix: { set: /nonexistent/queue }
                validate: \(validate)
                after: { service: postfix, action: reload }
            """)
        let mainCF = pf.configDirectory + "/main.cf"
        let original = try Data(contentsOf: URL(fileURLWithPath: mainCF))
        let inode = Self.inode(mainCF)
        let apply = try pf.run([Repo.binary, "apply", "--yes", "--playbooks", books.path],
                               environment: ["MTAGUARD_BACKUPS": backups.path])
        #expect(apply.status == 1, "\(apply)")
        #expect(try Data(contentsOf: URL(fileURLWithPath: mainCF)) == original)
        #expect(!apply.stdout.contains("done postfix reload"), "\(apply)")
        #expect(try vrfy(pf, expecting: 252) == 252)  // still serving with its old configuration
        try body(pf, apply, original, inode)
    }

    @Test func rejectedByPostfixCheckIsRolledBackAutomatically() throws {
        try applyBrokenQueueDirectory(validate: "{ after_replace: [postfix, check] }") { _, apply, _, _ throws in
            #expect(apply.stdout.contains("rolled-back"), "\(apply)")
            #expect(apply.stdout.contains("postfix check"), "\(apply)")
        }
    }

    @Test func rejectedInTheStagingFolderNeverGoesLive() throws {
        let staged = "{ before_replace: [postfix, -c, \"{dir}\", check], staged_with: [master.cf], backdate_seconds: 3 }"
        try applyBrokenQueueDirectory(validate: staged) { pf, apply, _, inode throws in
            // postfix prints its reason only to a terminal (here it goes to the log).
            #expect(apply.stdout.contains("/etc/postfix/main.cf: the MTA's validator rejected the new file: postfix -c /etc/postfix/.mtaguard-"), "\(apply)")
            #expect(apply.stdout.contains(" check exited 1"), "\(apply)")
            // Never replaced (the same inode), and nothing of the attempt left beside it.
            #expect(Self.inode(pf.configDirectory + "/main.cf") == inode)
            #expect(try !FileManager.default.contentsOfDirectory(atPath: pf.configDirectory).contains { $0.contains("mtaguard") })
        }
    }
}
