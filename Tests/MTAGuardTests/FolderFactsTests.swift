import Foundation
import Testing

/// A configuration split over a folder (Debian's /etc/exim4/conf.d) reaches mtaguard by two
/// readers: the facts script over SSH (`mtg_folder`) and the local one for `--root`. Both must
/// read the same files, skip the same names, refuse the same links, and the fix must travel
/// back over SSH like any file. The names are hostile: spaces, a leading dot, a newline, shell
/// code, an option-like name and a `.rul` override.
@Suite struct FolderFactsTests {
    /// `conf.d/main` and `conf.d/acl` of Debian's stock configuration plus names that update-exim4.conf
    /// (and so mtaguard) must skip, and a `.rul` file that it reads instead of its namesake.
    static func populate(_ etc: String) throws {
        let stock = try MTAPackages.locate().folder + "/exim/etc/exim4"
        try FileManager.default.createDirectory(atPath: etc + "/exim4/conf.d", withIntermediateDirectories: true)
        for section in ["main", "acl"] {
            let r = try runCommand(["cp", "-R", stock + "/conf.d/" + section, etc + "/exim4/conf.d/"])
            #expect(r.status == 0, "\(r)")
        }
        try Data("dc_use_split_config='true'\n".utf8).write(to: URL(fileURLWithPath: etc + "/exim4/update-exim4.conf.conf"))
        let main = etc + "/exim4/conf.d/main/"
        let files: [String: String] = [
            // read instead of 05_local_vrfy: VRFY accepted there only
            "05_local_vrfy": "# the .rul file replaces this one\n",
            "05_local_vrfy.rul": "acl_smtp_vrfy = accept\n",
            // skipped: not a name update-exim4.conf reads
            "06 has space": "acl_smtp_expn = accept\n",
            ".07_hidden": "acl_smtp_expn = accept\n",
            "08_new\nline": "acl_smtp_expn = accept\n",
            "09_$(touch mtaguard-canary)`touch mtaguard-canary`": "acl_smtp_expn = accept\n",
            // read (update-exim4.conf's run_parts takes "-" anywhere): EXPN accepted there
            "-10_option": "acl_smtp_expn = accept\n",
            "11_dpkg-old.dpkg-old": "acl_smtp_expn = accept\n",
        ]
        for (name, text) in files { try Data(text.utf8).write(to: URL(fileURLWithPath: main + name)) }
    }

    /// The exim evidence of a JSON check, without the host.
    func eximEvidence(_ json: String) throws -> [String] {
        try checkEvidence(json).filter { $0["mta"] as? String == "exim" }.map {
            "\($0["status"] ?? "") \($0["file"] ?? ""):\($0["line"] ?? "-") \($0["text"] ?? "") \($0["note"] ?? "")"
        }
    }

    @Test func sshAndRootReadTheSameFolderAndTheFixTravelsBack() throws {
        let lab = try SSHLab.start(hosts: ["debian"])
        defer { lab.stop() }
        let backups = try TempDir("folder-facts")
        defer { backups.remove() }
        let host = lab.host("debian")
        // Where a name run as code would leave its mark: the login's home there, our folder here.
        let canaries = [host.directory + "/home/mtaguard-canary", FileManager.default.currentDirectoryPath + "/mtaguard-canary"]
        try Shims.install(lab, "debian", family: .sysv, running: true)
        try Self.populate(host.directory + "/overlay/etc")
        // Debian's tool, recorded: this test is about the bytes over SSH; the real tool runs in
        // DebianEximTests.
        let tool = host.shims + "/update-exim4.conf"
        try Data("#!/bin/sh\necho \"$0 $*\" >> \(host.commandsLog)\n".utf8).write(to: URL(fileURLWithPath: tool))
        chmod(tool, 0o755)
        let image = try TempDir("folder-facts-root")
        defer { image.remove() }
        try Self.populate(image.path + "/etc")

        let ssh = ["-i", lab.inventoryPath, "--ssh-config", lab.sshConfigPath, "--connect-timeout", "60"]
        let overSSH = try mtaguard(["check", "--item", "SRV-005", "--format", "json"] + ssh, backups: backups.path)
        let fromRoot = try mtaguard(["check", "--item", "SRV-005", "--format", "json", "--root", image.path], backups: backups.path)
        #expect(overSSH.status == 2 && fromRoot.status == 2, "\(overSSH)\n\(fromRoot)")
        let a = try eximEvidence(overSSH.stdout), b = try eximEvidence(fromRoot.stdout)
        #expect(a == b, "ssh: \(a)\nroot: \(b)")
        // VRFY from the .rul file, EXPN from the option-like name; none of the skipped names counts.
        #expect(a.contains {
            $0.hasPrefix("fail /etc/exim4/conf.d/main/05_local_vrfy.rul:1 acl_smtp_vrfy = accept")
                && $0.contains("accepts (/etc/exim4/conf.d/main/-10_option:1): exim answers EXPN")
        }, "\(a)")
        #expect(canaries.allSatisfy { !FileManager.default.fileExists(atPath: $0) })

        let before = try Data(contentsOf: URL(fileURLWithPath: host.directory + "/overlay/etc/exim4/conf.d/main/05_local_vrfy.rul"))
        let apply = try mtaguard(["apply", "--yes", "--item", "SRV-005"] + ssh, backups: backups.path)
        #expect(apply.status == 0, "\(apply)")
        let rul = host.directory + "/overlay/etc/exim4/conf.d/main/05_local_vrfy.rul"
        #expect(try String(contentsOfFile: rul, encoding: .utf8) == "#acl_smtp_vrfy = accept\n")
        let main = host.directory + "/overlay/etc/exim4/conf.d/main/"
        #expect(try String(contentsOfFile: main + "-10_option", encoding: .utf8) == "#acl_smtp_expn = accept\n")
        #expect(try String(contentsOfFile: main + "05_local_vrfy", encoding: .utf8) == "# the .rul file replaces this one\n")
        #expect(try String(contentsOfFile: main + "06 has space", encoding: .utf8) == "acl_smtp_expn = accept\n")
        // Built again, then the reload where exim runs (the shim's service says it does not).
        #expect(Shims.changes(lab, "debian").filter { $0.hasPrefix("update-exim4.conf") } == ["update-exim4.conf "], "\(Shims.changes(lab, "debian"))")

        let id = try #require(apply.stdout.split(separator: "\n").first { $0.hasPrefix("run ") }.map { String($0.dropFirst(4)) })
        // exim stops before the rollback, so that its reload is skipped there while the rebuild runs.
        try FileManager.default.removeItem(atPath: host.directory + "/state/running")
        let rollback = try mtaguard(["rollback", id] + ["--ssh-config", lab.sshConfigPath], backups: backups.path)
        #expect(rollback.status == 0, "\(rollback)")
        #expect(try Data(contentsOf: URL(fileURLWithPath: rul)) == before)
        #expect(try String(contentsOfFile: main + "-10_option", encoding: .utf8) == "acl_smtp_expn = accept\n")
        #expect(Shims.changes(lab, "debian").filter { $0.hasPrefix("update-exim4.conf") }.count == 2)
        #expect(canaries.allSatisfy { !FileManager.default.fileExists(atPath: $0) })

        // Each undo's outcome is recorded against its own action: the rebuild runs first (done:
        // the tool ran again), then the reload, which its probe skips (exim was stopped); each
        // names the action of the run it undoes. (Matched by position against the run's own
        // reversed list, these two outcomes were swapped.)
        func actions(_ run: String) throws -> [[String: Any]] {
            let doc = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: backups.path + "/" + run + "/manifest.json"))) as? [String: Any]
            return try #require((doc?["hosts"] as? [[String: Any]])?.first?["actions"] as? [[String: Any]])
        }
        let undoneID = try #require(rollback.stdout.split(separator: "\n").first { $0.hasPrefix("run ") }.map { String($0.dropFirst(4)) })
        let applied = try actions(id), undone = try actions(undoneID)
        #expect(undone.map { $0["action"] as? String } == ["regenerate", "reload"], "\(undone)")
        #expect(undone.map { $0["state"] as? String } == ["done", "skipped"], "\(undone)\n\(Shims.changes(lab, "debian"))")
        for action in undone {
            let original = applied.first { $0["id"] as? String == action["undoes"] as? String }
            #expect(original?["action"] as? String == action["action"] as? String && original?["service"] as? String == action["service"] as? String,
                    "\(action) undoes \(String(describing: original))")
        }
    }

    /// A file of the folder that is a symbolic link is refused by both readers with the same
    /// words; a folder that is a link too.
    @Test func linksInAFolderAreRefusedTheSameWay() throws {
        let lab = try SSHLab.start(hosts: ["linked"])
        defer { lab.stop() }
        let backups = try TempDir("folder-links")
        defer { backups.remove() }
        let host = lab.host("linked")
        let image = try TempDir("folder-links-root")
        defer { image.remove() }
        for etc in [host.directory + "/overlay/etc", image.path + "/etc"] {
            try Self.populate(etc)
            try FileManager.default.createSymbolicLink(atPath: etc + "/exim4/conf.d/main/04_linked", withDestinationPath: "/etc/passwd")
        }
        let ssh = ["-i", lab.inventoryPath, "--ssh-config", lab.sshConfigPath, "--connect-timeout", "60"]
        let overSSH = try mtaguard(["check", "--item", "SRV-005"] + ssh, backups: backups.path)
        let fromRoot = try mtaguard(["check", "--item", "SRV-005", "--root", image.path], backups: backups.path)
        for r in [overSSH, fromRoot] {
            #expect(r.status != 0 && r.stdout.contains("/etc/exim4/conf.d/main/04_linked") && r.stdout.contains("is a symbolic link"), "\(r)")
        }
    }
}
