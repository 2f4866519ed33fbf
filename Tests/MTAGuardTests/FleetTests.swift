import Foundation
import Testing

/// The built binary against a fleet of real sshd fake hosts (Tests/lab/lab.sh): inventory,
/// one facts round trip and one apply round trip per host, partial failures, rollback.
@Suite struct FleetTests {
    static let debianMain = try! String(contentsOfFile: Repo.fixture("postfix/main.cf.debian"), encoding: .utf8)
    static let genericCF = try! String(contentsOfFile: Repo.fixture("sendmail/generic-linux.cf"), encoding: .utf8)
        .replacingOccurrences(of: "O PrivacyOptions=authwarnings\n", with: "O PrivacyOptions=authwarnings,restrictqrun\n")

    /// Writes a file on a fake host; a main.cf comes with the package's master.cf and support
    /// files (`PostfixDefaults`), so that `postfix check` judges it for real.
    func write(_ lab: SSHLab, _ host: String, _ path: String, _ text: String) throws {
        let full = lab.host(host).root + path
        if path == "/etc/postfix/main.cf" {
            try PostfixDefaults.populate(lab.host(host).root + "/etc/postfix")
        }
        try FileManager.default.createDirectory(
            atPath: (full as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        try Data(text.utf8).write(to: URL(fileURLWithPath: full))
    }

    func read(_ lab: SSHLab, _ host: String, _ path: String) throws -> String {
        try String(contentsOfFile: lab.host(host).root + path, encoding: .utf8)
    }

    func run(_ lab: SSHLab, _ backups: TempDir, _ args: [String]) throws -> CommandResult {
        try mtaguard(args + ["--item", "SRV-005", "--item", "U-45", "-i", lab.inventoryPath, "--ssh-config", lab.sshConfigPath, "--connect-timeout", "60"], backups: backups.path)
    }

    /// Counts the sessions a host's sshd opened, from its log (read with grep: sshd appends to it
    /// from several processes), waiting up to 3 s for the count to reach `expected`.
    func sessions(_ lab: SSHLab, _ host: String, expected: Int) -> Int {
        let deadline = Date().addingTimeInterval(3)
        while true {
            let grep = try? runCommand(["grep", "-c", "Starting session:", lab.host(host).sshdLog])
            let n = Int((grep?.stdout ?? "").trimmingCharacters(in: .whitespacesAndNewlines)) ?? 0
            if n >= expected || Date() > deadline { return n }
            usleep(50_000)
        }
    }

    @Test func checkPlanApplyApplyAgainRollbackAcrossSixHosts() throws {
        let lab = try SSHLab.start(
            hosts: ["pf-vuln", "pf-vuln2", "pf-ok", "sm-vuln", "sm-goaway", "pf-broken"], unreachable: ["dead"])
        defer { lab.stop() }
        let backups = try TempDir("fleet-backups")
        defer { backups.remove() }
        let main = "/etc/postfix/main.cf", cf = "/etc/mail/sendmail.cf"
        try write(lab, "pf-vuln", main, Self.debianMain)
        try write(lab, "pf-vuln2", main, Self.debianMain)
        try write(lab, "pf-ok", main, Self.debianMain + "disable_vrfy_command = yes\n")
        try write(lab, "sm-vuln", cf, Self.genericCF)
        try write(lab, "sm-goaway", cf, "O PrivacyOptions=goaway\n")
        try write(lab, "pf-broken", main, "myhostname = x.example\nthis line cannot be parsed\n")
        chmod(lab.host("pf-vuln").root + main, 0o640)
        chown(lab.host("pf-vuln").root + main, 0, 7)
        // This machine's /usr/sbin/sendmail is postfix's; sm-vuln gets a recording stand-in
        // that accepts every configuration, to see that mtaguard validates the new file.
        let shim = lab.host("sm-vuln").shims + "/sendmail"
        try Data("#!/bin/sh\necho \"sendmail $*\" >> \(lab.host("sm-vuln").commandsLog)\nexit 0\n".utf8)
            .write(to: URL(fileURLWithPath: shim))
        chmod(shim, 0o755)

        let check = try run(lab, backups, ["check", "--format", "json"])
        #expect(check.status == 3, "\(check)")
        let doc = try JSONSerialization.jsonObject(with: Data(check.stdout.utf8)) as! [String: Any]
        var verdicts: [String: String] = [:]
        for host in doc["hosts"] as! [[String: Any]] {
            let findings = host["findings"] as! [[String: Any]]
            verdicts[host["host"] as! String] = host["error"] != nil && findings.isEmpty
                ? "unreachable" : findings.first?["status"] as? String
        }
        #expect(verdicts == [
            "pf-vuln": "fail", "pf-vuln2": "fail", "pf-ok": "pass", "sm-vuln": "fail", "sm-goaway": "pass",
            "pf-broken": "error", "dead": "error",
        ])

        let before = try ["pf-ok", "sm-goaway", "pf-broken"].map { try read(lab, $0, $0.hasPrefix("sm") ? cf : main) }
        let plan = try run(lab, backups, ["plan"])
        #expect(plan.status == 3, "\(plan)")
        #expect(plan.stdout.contains("== 2 hosts: pf-vuln, pf-vuln2: 1 file to change\n"), "\(plan.stdout)")
        #expect(plan.stdout.contains("== sm-vuln: 1 file to change\n"))
        #expect(plan.stdout.contains("+O PrivacyOptions=authwarnings,restrictqrun,noexpn,novrfy"))
        #expect(plan.stdout.contains("== pf-broken: error:"))
        #expect(plan.stdout.contains("/etc/postfix/main.cf:2"))
        #expect(plan.stdout.contains("== dead: error: unreachable"), "\(plan.stdout)")
        #expect(plan.stdout.contains("2 hosts: pf-ok, sm-goaway: nothing to do"))
        #expect(try read(lab, "pf-vuln", main) == Self.debianMain)

        let apply = try run(lab, backups, ["apply", "--yes"])
        #expect(apply.status == 3, "\(apply)")
        #expect(try read(lab, "pf-vuln", main) == Self.debianMain + "disable_vrfy_command = yes\n")
        #expect(try read(lab, "pf-vuln2", main) == Self.debianMain + "disable_vrfy_command = yes\n")
        #expect(try read(lab, "sm-vuln", cf) == Self.genericCF.replacingOccurrences(
            of: "O PrivacyOptions=authwarnings,restrictqrun\n", with: "O PrivacyOptions=authwarnings,restrictqrun,noexpn,novrfy\n"))
        #expect(try ["pf-ok", "sm-goaway", "pf-broken"].map { try read(lab, $0, $0.hasPrefix("sm") ? cf : main) } == before)
        // The version probe asks the sendmail it finds on PATH for its version (-d0.1); the first
        // other call is the validation of the new file, before it replaced the old one.
        let validated = try String(contentsOfFile: lab.host("sm-vuln").commandsLog, encoding: .utf8)
            .split(separator: "\n").filter { $0 != "sendmail -d0.1 -bt" }
        #expect(validated.first?.hasPrefix("sendmail -bt -C /etc/mail/.sendmail.cf.mtaguard-") == true, "\(validated)")
        var st = stat()
        lstat(lab.host("pf-vuln").root + main, &st)
        #expect(st.st_mode & 0o7777 == 0o640 && st.st_uid == 0 && st.st_gid == 7)
        // The recap: one row per host.
        for row in ["pf-vuln    changed", "pf-ok      unchanged", "pf-broken  failed", "dead       unreachable"] {
            #expect(apply.stdout.contains(row), "\(row)\n\(apply.stdout)")
        }

        let again = try run(lab, backups, ["apply", "--yes", "--limit", "all:!pf-broken:!dead"])
        #expect(again.status == 0, "\(again)")
        #expect(again.stdout.contains("nothing to do"))

        let runs = try mtaguard(["runs", "--format", "json", "--backups", backups.path], backups: backups.path)
        let list = try JSONSerialization.jsonObject(with: Data(runs.stdout.utf8)) as! [[String: Any]]
        #expect(list.count == 1)
        let runID = try #require(list.first?["id"] as? String)
        #expect(Set(list.first?["hosts"] as? [String] ?? []) == ["pf-vuln", "pf-vuln2", "sm-vuln"])

        let rollback = try mtaguard(
            ["rollback", runID, "--ssh-config", lab.sshConfigPath, "--connect-timeout", "60", "--backups", backups.path], backups: backups.path)
        #expect(rollback.status == 0, "\(rollback)")
        #expect(try read(lab, "pf-vuln", main) == Self.debianMain)
        #expect(try read(lab, "pf-vuln2", main) == Self.debianMain)
        #expect(try read(lab, "sm-vuln", cf) == Self.genericCF)
        lstat(lab.host("pf-vuln").root + main, &st)
        #expect(st.st_mode & 0o7777 == 0o640 && st.st_uid == 0 && st.st_gid == 7)
    }

    @Test func aHeldLockRefusesAndAStaleOneIsBrokenOnlyWhenAsked() throws {
        let lab = try SSHLab.start(hosts: ["h1"])
        defer { lab.stop() }
        let backups = try TempDir("fleet-backups")
        defer { backups.remove() }
        try write(lab, "h1", "/etc/postfix/main.cf", Self.debianMain)
        let lock = lab.host("h1").directory + "/run/mtaguard.lock"
        try FileManager.default.createDirectory(atPath: lock, withIntermediateDirectories: true)
        // Held by a live process (this test's), as another run in flight would hold it.
        try Data("run R1 from admin1 pid \(getpid())\n".utf8).write(to: URL(fileURLWithPath: lock + "/owner"))
        let held = try run(lab, backups, ["apply", "--yes"])
        #expect(held.status == 1, "\(held)")
        #expect(held.stdout.contains("another mtaguard run holds this host's lock (run R1 from admin1 pid \(getpid()))"), "\(held)")
        #expect(try read(lab, "h1", "/etc/postfix/main.cf") == Self.debianMain)
        // Left by a run whose process is gone: stale, said so, and broken only with the flag.
        try Data("run R0 from admin1 pid 2147483646\n".utf8).write(to: URL(fileURLWithPath: lock + "/owner"))
        let stale = try run(lab, backups, ["apply", "--yes"])
        #expect(stale.status == 1, "\(stale)")
        #expect(stale.stdout.contains("lock is stale: run R0 from admin1 pid 2147483646"), "\(stale)")
        #expect(stale.stdout.contains("--break-stale-lock"))
        #expect(try read(lab, "h1", "/etc/postfix/main.cf") == Self.debianMain)
        let lockLost = FaultLedger.bytesLost(expected: Data(Self.debianMain.utf8), actual: Data(try read(lab, "h1", "/etc/postfix/main.cf").utf8))
        FaultLedger.record(.fault, "host lock held by another run, then stale", hosts: 1, survived: lockLost == 0 ? 1 : 0, bytesLost: lockLost)
        let broken = try run(lab, backups, ["apply", "--yes", "--break-stale-lock"])
        #expect(broken.status == 0, "\(broken)")
        #expect(try read(lab, "h1", "/etc/postfix/main.cf") == Self.debianMain + "disable_vrfy_command = yes\n")
        #expect(!FileManager.default.fileExists(atPath: lock))
    }

    @Test func hostKeyMismatchIsRefused() throws {
        let lab = try SSHLab.start(hosts: ["good", "spoofed"])
        defer { lab.stop() }
        let backups = try TempDir("fleet-backups")
        defer { backups.remove() }
        for h in ["good", "spoofed"] { try write(lab, h, "/etc/postfix/main.cf", Self.debianMain) }
        // Replace spoofed's key in known_hosts with a key of another host.
        let port = lab.host("spoofed").port, other = lab.host("good").port
        let known = try String(contentsOfFile: lab.knownHostsPath, encoding: .utf8)
        let goodKey = try #require(known.split(separator: "\n").first { $0.hasPrefix("[127.0.0.1]:\(other) ") })
        let forged = known.split(separator: "\n").map { line in
            line.hasPrefix("[127.0.0.1]:\(port) ") ? goodKey.replacingOccurrences(of: ":\(other) ", with: ":\(port) ") : String(line)
        }.joined(separator: "\n") + "\n"
        try Data(forged.utf8).write(to: URL(fileURLWithPath: lab.knownHostsPath))
        let apply = try run(lab, backups, ["apply", "--yes"])
        #expect(apply.status == 3, "\(apply)")
        #expect(apply.stdout.contains("spoofed: unreachable"), "\(apply)")
        #expect(apply.stdout.contains("known_hosts"), "\(apply)")
        #expect(try read(lab, "spoofed", "/etc/postfix/main.cf") == Self.debianMain)
        #expect(try read(lab, "good", "/etc/postfix/main.cf") == Self.debianMain + "disable_vrfy_command = yes\n")
    }

    @Test func nonRootLoginWithBecome() throws {
        let lab = try SSHLab.start(hosts: ["h1"], nonRootUser: true)
        defer { lab.stop() }
        let backups = try TempDir("fleet-backups")
        defer { backups.remove() }
        try write(lab, "h1", "/etc/postfix/main.cf", Self.debianMain)
        chmod(lab.host("h1").root + "/etc/postfix/main.cf", 0o600)
        let inventory = try String(contentsOfFile: lab.inventoryPath, encoding: .utf8)
            .replacingOccurrences(of: "ansible_user=root", with: "ansible_user=\(SSHLab.nonRootUser)")
        let inv = try TempDir("inv")
        defer { inv.remove() }
        let path = try inv.write("hosts.ini", inventory)
        let without = try mtaguard(["check", "-i", path, "--ssh-config", lab.sshConfigPath, "--connect-timeout", "60"], backups: backups.path)
        #expect(without.status == 1, "\(without)")
        #expect(without.stdout.contains("cannot be read by the login user"), "\(without)")
        let apply = try mtaguard(["apply", "--yes", "--become", "--item", "SRV-005", "-i", path, "--ssh-config", lab.sshConfigPath, "--connect-timeout", "60"], backups: backups.path)
        #expect(apply.status == 0, "\(apply)")
        #expect(try read(lab, "h1", "/etc/postfix/main.cf") == Self.debianMain + "disable_vrfy_command = yes\n")
    }
}
