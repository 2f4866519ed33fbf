import Foundation
import Testing

/// The change board's flow: `plan --out PLAN.json` → review and approve the SHA-256 →
/// `apply --plan PLAN.json` applies exactly that plan, refuses what no longer matches it.
@Suite struct ApprovedPlanTests {
    func host() throws -> (root: TempDir, backups: TempDir) {
        let root = try TempDir("plan-root")
        try root.write("etc/postfix/main.cf", try Repo.fixtureData("postfix/main.cf.debian"), mode: 0o640)
        return (root, try TempDir("plan-backups"))
    }

    func json(_ data: Data) throws -> [String: Any] {
        try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
    }

    /// The file's SHA-256, as sha256sum says it (the digest a change board records).
    func sha256(_ path: String) throws -> String {
        String(try runCommand(["sha256sum", path]).stdout.prefix(64))
    }

    /// An approved plan binds what runs: a plan file edited after approval (a blob that opens
    /// relaying, with its checksum fixed up, and mode 0666) is refused under the approved digest
    /// before the host is read; approved again under its new digest (as one who edited it would
    /// have it), it is refused because planning again from the host's files with the plan's
    /// playbooks gives other changes; and --yes without --approved is a usage error.
    @Test func anEditedPlanNeverRunsEvenUnderARecomputedDigest() throws {
        let (root, backups) = try host()
        defer { root.remove(); backups.remove() }
        let file = backups.path + "/PLAN.json"
        _ = try mtaguard(["plan", "--root", root.path, "--item", "SRV-005", "--out", file], backups: backups.path)
        let approved = try sha256(file)
        let original = try Data(contentsOf: URL(fileURLWithPath: root.path + "/etc/postfix/main.cf"))
        func unchanged() throws -> Bool { try Data(contentsOf: URL(fileURLWithPath: root.path + "/etc/postfix/main.cf")) == original }

        var doc = try json(try Data(contentsOf: URL(fileURLWithPath: file)))
        var hosts = try #require(doc["hosts"] as? [[String: Any]])
        var files = try #require(hosts[0]["files"] as? [[String: Any]])
        let after = try #require(files[0]["afterSHA256"] as? String)
        var blobs = try #require(doc["blobs"] as? [String: String])
        let encoded = try #require(blobs[after])
        let good = try #require(Data(base64Encoded: encoded))
        let evil = good + Data("mynetworks = 0.0.0.0/0\n".utf8)
        let evilPath = try backups.write("evil.bin", evil)
        let evilSHA = try sha256(evilPath)
        blobs.removeValue(forKey: after)
        blobs[evilSHA] = evil.base64EncodedString()
        files[0]["afterSHA256"] = evilSHA
        if files[0]["mode"] != nil { files[0]["mode"] = 0o666 }
        hosts[0]["files"] = files
        doc["hosts"] = hosts
        doc["blobs"] = blobs
        let edited = backups.path + "/EDITED.json"
        try JSONSerialization.data(withJSONObject: doc).write(to: URL(fileURLWithPath: edited))

        let wrong = try mtaguard(["apply", "--plan", edited, "--yes", "--approved", approved], backups: backups.path)
        #expect(wrong.status == 1, "\(wrong)")
        #expect(wrong.stderr.contains("not the approved \(approved)"), "\(wrong)")
        #expect(try unchanged())

        let recomputed = try mtaguard(["apply", "--plan", edited, "--yes", "--approved", try sha256(edited)], backups: backups.path)
        #expect(recomputed.status == 1, "\(recomputed)")
        #expect(recomputed.stdout.contains("refused: the plan's changes are not what its playbooks make of this host's files"), "\(recomputed)")
        #expect(recomputed.stdout.contains("/etc/postfix/main.cf: the approved new bytes"), "\(recomputed)")
        #expect(try unchanged())

        let bare = try mtaguard(["apply", "--plan", file, "--yes"], backups: backups.path)
        #expect(bare.status == 64 && bare.stderr.contains("--plan with --yes needs --approved SHA256"), "\(bare)")
        #expect(try unchanged())
        // The honest file under its approved digest is applied, and its digest said first.
        let honest = try mtaguard(["apply", "--plan", file, "--yes", "--approved", approved], backups: backups.path)
        #expect(honest.status == 0, "\(honest)")
        #expect(honest.stderr.contains("plan \(file) sha256 \(approved)"), "\(honest)")
        #expect(try !unchanged())
    }

    @Test func theApprovedPlanIsAppliedByteForByteAndJournaledWithItsDigest() throws {
        let (root, backups) = try host()
        defer { root.remove(); backups.remove() }
        let file = backups.path + "/PLAN.json"
        let plan = try mtaguard(["plan", "--root", root.path, "--item", "SRV-005", "--out", file], backups: backups.path)
        #expect(plan.status == 2, "\(plan)")
        let bytes = try Data(contentsOf: URL(fileURLWithPath: file))
        let digest = try runCommand(["sha256sum", file]).stdout.split(separator: " ")[0]
        #expect(plan.stdout.contains("sha256 \(digest)"), "\(plan.stdout)")
        var st = stat()
        #expect(lstat(file, &st) == 0 && st.st_mode & 0o777 == 0o600)
        let doc = try json(bytes)
        #expect(doc["schema"] as? String == "mtaguard.plan/2")
        #expect((doc["playbooksSHA256"] as? String)?.count == 64)
        #expect(doc["created"] is String)
        // `plan --format json` is the same document.
        let printed = try mtaguard(["plan", "--root", root.path, "--item", "SRV-005", "--format", "json"], backups: backups.path)
        let same = try json(Data(printed.stdout.utf8))
        #expect(Set(same.keys) == Set(doc.keys))
        let entry = try #require((doc["hosts"] as? [[String: Any]])?.first)
        let files = try #require(entry["files"] as? [[String: Any]])
        #expect(files.count == 1)
        let after = try #require(files[0]["afterSHA256"] as? String)
        let blobs = try #require(doc["blobs"] as? [String: String])
        let blob = try #require(blobs[after])
        let newBytes = try #require(Data(base64Encoded: blob))
        #expect(String(decoding: newBytes, as: UTF8.self).contains("disable_vrfy_command = yes"))
        #expect((entry["inputs"] as? [String: Any])?["files"] != nil)

        // Between plan and apply the playbooks change what they would do: apply still does
        // exactly what was approved (not re-planned) — here, nothing but that one file.
        let apply = try mtaguard(["apply", "--plan", file, "--yes", "--approved", try sha256(file)], backups: backups.path)
        #expect(apply.status == 0, "\(apply)")
        #expect(try Data(contentsOf: URL(fileURLWithPath: root.path + "/etc/postfix/main.cf")) == newBytes)
        let runs = try mtaguard(["runs", "--format", "json", "--backups", backups.path], backups: backups.path)
        let list = try #require(try JSONSerialization.jsonObject(with: Data(runs.stdout.utf8)) as? [[String: Any]])
        #expect(list.first?["plan"] as? String == String(digest))
        // Applied once, the same plan is refused: its inputs are what it changed.
        let again = try mtaguard(["apply", "--plan", file, "--yes", "--approved", try sha256(file)], backups: backups.path)
        #expect(again.status == 1, "\(again)")
        #expect(again.stdout.contains("refused: the host changed since the plan was made"), "\(again)")
        #expect(try Data(contentsOf: URL(fileURLWithPath: root.path + "/etc/postfix/main.cf")) == newBytes)
    }

    @Test func stalePlansOtherPlaybooksAndBrokenFilesAreRefusedWithNothingChanged() throws {
        let (root, backups) = try host()
        defer { root.remove(); backups.remove() }
        let file = backups.path + "/PLAN.json"
        let original = try Data(contentsOf: URL(fileURLWithPath: root.path + "/etc/postfix/main.cf"))
        _ = try mtaguard(["plan", "--root", root.path, "--out", file], backups: backups.path)
        func unchanged() throws -> Bool { try Data(contentsOf: URL(fileURLWithPath: root.path + "/etc/postfix/main.cf")) == original }

        // Too old: --max-age 1s after two seconds.
        Thread.sleep(forTimeInterval: 2.2)
        let old = try mtaguard(["apply", "--plan", file, "--yes", "--approved", try sha256(file), "--max-age", "1s"], backups: backups.path)
        #expect(old.status == 1 && old.stderr.contains("plans older than 1s are refused"), "\(old)")
        #expect(try unchanged())
        let badAge = try mtaguard(["apply", "--plan", file, "--yes", "--approved", try sha256(file), "--max-age", "soon"], backups: backups.path)
        #expect(badAge.status == 64, "\(badAge)")

        // Made by other playbooks: one byte more in a copy of the folder.
        let other = try TempDir("plan-playbooks")
        defer { other.remove() }
        _ = try runCommand(["cp", "-a", Repo.playbooks + "/.", other.path])
        let srv005 = other.path + "/srv-005.yaml"
        let text = try String(contentsOfFile: srv005, encoding: .utf8)
        try (text + "# edited after the plan\n").write(toFile: srv005, atomically: true, encoding: .utf8)
        let moved = try mtaguard(["apply", "--plan", file, "--yes", "--approved", try sha256(file)], backups: backups.path, playbooks: other.path)
        #expect(moved.status == 1 && moved.stderr.contains("was made by other playbooks"), "\(moved)")
        #expect(try unchanged())

        // Not a whole plan: a field gone, a truncated file, another schema.
        var doc = try json(try Data(contentsOf: URL(fileURLWithPath: file)))
        doc.removeValue(forKey: "playbooksSHA256")
        try JSONSerialization.data(withJSONObject: doc).write(to: URL(fileURLWithPath: backups.path + "/missing.json"))
        let missing = try mtaguard(["apply", "--plan", backups.path + "/missing.json", "--yes", "--approved", try sha256(backups.path + "/missing.json")], backups: backups.path)
        #expect(missing.status == 1 && missing.stderr.contains("playbooksSHA256 is missing"), "\(missing)")
        let whole = try Data(contentsOf: URL(fileURLWithPath: file))
        try whole.prefix(whole.count / 2).write(to: URL(fileURLWithPath: backups.path + "/cut.json"))
        let cut = try mtaguard(["apply", "--plan", backups.path + "/cut.json", "--yes", "--approved", try sha256(backups.path + "/cut.json")], backups: backups.path)
        #expect(cut.status == 1 && cut.stderr.contains("cut.json: is not a plan mtaguard can read"), "\(cut)")
        doc = try json(whole)
        doc["schema"] = "mtaguard.plan/1"
        try JSONSerialization.data(withJSONObject: doc).write(to: URL(fileURLWithPath: backups.path + "/v1.json"))
        let v1 = try mtaguard(["apply", "--plan", backups.path + "/v1.json", "--yes", "--approved", try sha256(backups.path + "/v1.json")], backups: backups.path)
        #expect(v1.status == 1 && v1.stderr.contains("is a mtaguard.plan/1 document"), "\(v1)")
        // A tampered blob: the new bytes no longer match their checksum.
        doc = try json(whole)
        var blobs = doc["blobs"] as! [String: String]
        for key in blobs.keys { blobs[key] = Data("tampered\n".utf8).base64EncodedString() }
        doc["blobs"] = blobs
        try JSONSerialization.data(withJSONObject: doc).write(to: URL(fileURLWithPath: backups.path + "/tampered.json"))
        let tampered = try mtaguard(["apply", "--plan", backups.path + "/tampered.json", "--yes", "--approved", try sha256(backups.path + "/tampered.json")], backups: backups.path)
        #expect(tampered.status == 1 && tampered.stderr.contains("holds no intact contents"), "\(tampered)")
        #expect(try unchanged())

        // The plan says the hosts, items and mode: the options that would change them are usage errors.
        let mixed = try mtaguard(["apply", "--plan", file, "--yes", "--approved", try sha256(file), "--item", "SRV-005"], backups: backups.path)
        #expect(mixed.status == 64 && mixed.stderr.contains("--plan applies the approved plan as it is"), "\(mixed)")
        #expect(try unchanged())
    }

    /// Over SSH: one host drifts after the plan; it is refused with the diff, the other is
    /// changed as planned, exit 3.
    @Test func aDriftedHostIsRefusedWithItsDiffAndTheOthersGoAhead() throws {
        let lab = try SSHLab.start(hosts: ["ap-one", "ap-two"])
        defer { lab.stop() }
        let backups = try TempDir("plan-ssh")
        defer { backups.remove() }
        let mainCf = try Repo.fixtureData("postfix/main.cf.debian")
        for name in ["ap-one", "ap-two"] { try PostfixDefaults.populate(lab.host(name).root + "/etc/postfix", main: mainCf) }
        let file = backups.path + "/PLAN.json"
        let fleet = ["-i", lab.inventoryPath, "--ssh-config", lab.sshConfigPath, "--connect-timeout", "60"]
        let plan = try mtaguard(["plan", "--item", "SRV-005", "--out", file] + fleet, backups: backups.path)
        #expect(plan.status == 2, "\(plan)")
        let drift = try lab.ssh("ap-two", "echo 'smtpd_banner = $myhostname ESMTP' >> /etc/postfix/main.cf")
        #expect(drift.status == 0)
        let apply = try mtaguard(["apply", "--plan", file, "--yes", "--approved", try sha256(file), "--ssh-config", lab.sshConfigPath, "--connect-timeout", "60"], backups: backups.path)
        #expect(apply.status == 3, "\(apply)")
        #expect(apply.stdout.contains("ap-two: refused: the host changed since the plan was made"), "\(apply.stdout)")
        #expect(apply.stdout.contains("+smtpd_banner = $myhostname ESMTP"), "\(apply.stdout)")
        let one = try lab.ssh("ap-one", "cat /etc/postfix/main.cf").stdout
        let two = try lab.ssh("ap-two", "cat /etc/postfix/main.cf").stdout
        #expect(one.contains("disable_vrfy_command = yes"))
        #expect(!two.contains("disable_vrfy_command") && two.hasSuffix("smtpd_banner = $myhostname ESMTP\n"))
        // Rollback of the approved run restores the host it changed.
        let runs = try mtaguard(["runs", "--format", "json", "--backups", backups.path], backups: backups.path)
        let list = try #require(try JSONSerialization.jsonObject(with: Data(runs.stdout.utf8)) as? [[String: Any]])
        let id = try #require(list.first?["id"] as? String)
        let back = try mtaguard(["rollback", id, "--ssh-config", lab.sshConfigPath, "--backups", backups.path], backups: backups.path)
        #expect(back.status == 0, "\(back)")
        #expect(try lab.ssh("ap-one", "cat /etc/postfix/main.cf").stdout == String(decoding: mainCf, as: UTF8.self))
    }

    /// Drift is more than files: a service disabled at boot since the plan was made, or a
    /// package upgraded since, makes planning again run other commands (or none), so that host
    /// is refused with the commands named and nothing runs on it; the plan's inverses would
    /// otherwise restore a state older than the one apply replaced. The other host goes ahead.
    @Test func servicesAndPackagesThatChangedSinceThePlanAreDrift() throws {
        let lab = try SSHLab.start(hosts: ["sv-one", "sv-two"])
        defer { lab.stop() }
        let backups = try TempDir("plan-services")
        defer { backups.remove() }
        let cf = try Repo.fixtureData("sendmail/generic-linux.cf")
        for name in ["sv-one", "sv-two"] {
            try Shims.install(lab, name, family: .systemd)
            try cf.write(to: URL(fileURLWithPath: lab.host(name).root + "/etc/mail/sendmail.cf"))
        }
        let file = backups.path + "/PLAN.json"
        let ssh = ["--ssh-config", lab.sshConfigPath, "--connect-timeout", "60"]
        let plan = try mtaguard(["plan", "--item", "SRV-005", "--mode", "disable", "--out", file, "-i", lab.inventoryPath] + ssh, backups: backups.path)
        #expect(plan.status == 2, "\(plan)")
        // Someone disables sendmail at boot on sv-two after the board approved the plan.
        try FileManager.default.removeItem(atPath: lab.host("sv-two").directory + "/state/enabled")
        for name in ["sv-one", "sv-two"] { try Data().write(to: URL(fileURLWithPath: lab.host(name).commandsLog)) }
        let apply = try mtaguard(["apply", "--plan", file, "--yes", "--approved", try sha256(file)] + ssh, backups: backups.path)
        #expect(apply.status == 3, "\(apply)")
        #expect(apply.stdout.contains("sv-two: refused: the host changed since the plan was made"), "\(apply)")
        #expect(apply.stdout.contains("service sendmail changed since the plan was made: running: yes; started at boot: yes → running: yes; started at boot: no"), "\(apply)")
        #expect(Shims.changes(lab, "sv-one") == ["systemctl stop sendmail", "systemctl disable sendmail"])
        #expect(Shims.changes(lab, "sv-two") == [], "a drifted host ran something")
        #expect(FileManager.default.fileExists(atPath: lab.host("sv-two").directory + "/state/running"))
    }

    @Test func aPackageUpgradedSinceThePlanIsDrift() throws {
        let lab = try UpgradeTests().makeLab()
        defer { lab.stop() }
        let backups = try TempDir("plan-package")
        defer { backups.remove() }
        let file = backups.path + "/PLAN.json"
        let ssh = ["--ssh-config", lab.sshConfigPath, "--connect-timeout", "60"]
        let plan = try mtaguard(["plan", "--item", "U-45", "--allow-upgrade", "--out", file, "-i", lab.inventoryPath] + ssh, backups: backups.path)
        #expect(plan.status == 2, "\(plan)")
        #expect(plan.stdout.contains("install --only-upgrade postfix"), "\(plan)")
        // Upgraded by someone else since: the plan's undo would install the older version again.
        let state = lab.host("pkg-host").directory + "/state/postfix-version"
        try UpgradeTests.new.write(toFile: state, atomically: true, encoding: .utf8)
        try Data().write(to: URL(fileURLWithPath: lab.host("pkg-host").commandsLog))
        let apply = try mtaguard(["apply", "--plan", file, "--yes", "--approved", try sha256(file)] + ssh, backups: backups.path)
        #expect(apply.status == 1, "\(apply)")
        #expect(apply.stdout.contains("pkg-host: refused: the host changed since the plan was made"), "\(apply)")
        #expect(apply.stdout.contains("package postfix changed since the plan was made: version 3.7.11; package postfix \(UpgradeTests.old) (dpkg); apt-cache offers \(UpgradeTests.new) → version 3.7.11; package postfix \(UpgradeTests.new) (dpkg); apt-cache offers \(UpgradeTests.new)"), "\(apply)")
        #expect(Shims.changes(lab, "pkg-host").filter { $0.hasPrefix("apt-get") } == [], "a drifted host ran apt-get")
        #expect(try String(contentsOfFile: state, encoding: .utf8) == UpgradeTests.new)
    }
}
