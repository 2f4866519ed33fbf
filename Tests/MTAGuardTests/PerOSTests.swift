import Foundation
import Testing

/// One lab host per OS family, whose service commands are recording shims: the exact command
/// lines mtaguard runs, in order, in both modes and on rollback; and the bytes of AIX's
/// /etc/rc.tcpip and HP-UX's /etc/rc.config.d/mailservs before, after and after rollback.
@Suite struct PerOSTests {
    static let families: [(String, Shims.Family)] = [
        ("linux-systemd", .systemd), ("linux-sysv", .sysv), ("solaris", .solaris), ("aix", .aix), ("hpux", .hpux),
    ]
    static let sendmailCF = try! String(contentsOfFile: Repo.fixture("sendmail/generic-linux.cf"), encoding: .utf8)
    static let rcTcpip = try! Data(contentsOf: URL(fileURLWithPath: Repo.fixture("aix/rc.tcpip")))
    static let mailservs = try! Data(contentsOf: URL(fileURLWithPath: Repo.fixture("hpux/mailservs")))

    func makeLab() throws -> SSHLab {
        let lab = try SSHLab.start(hosts: Self.families.map(\.0))
        do {
            for (name, family) in Self.families {
                try Shims.install(lab, name, family: family)
                let h = lab.host(name)
                try Data(Self.sendmailCF.utf8).write(to: URL(fileURLWithPath: h.root + "/etc/mail/sendmail.cf"))
            }
            try Self.rcTcpip.write(to: URL(fileURLWithPath: lab.host("aix").directory + "/overlay/etc/rc.tcpip"))
            try Self.mailservs.write(to: URL(fileURLWithPath: lab.host("hpux").root + "/etc/rc.config.d/mailservs"))
        } catch {
            lab.stop()
            throw error
        }
        return lab
    }

    /// SRV-005 only: every lab host also sees this machine's postfix binaries, which U-45 would
    /// (rightly) judge too.
    func run(_ lab: SSHLab, _ backups: TempDir, _ args: [String]) throws -> CommandResult {
        try mtaguard(args + ["--item", "SRV-005", "-i", lab.inventoryPath, "--ssh-config", lab.sshConfigPath, "--connect-timeout", "60"], backups: backups.path)
    }

    func rollbackLast(_ lab: SSHLab, _ backups: TempDir) throws -> CommandResult {
        let runs = try mtaguard(["runs", "--format", "json", "--backups", backups.path], backups: backups.path)
        let list = try JSONSerialization.jsonObject(with: Data(runs.stdout.utf8)) as! [[String: Any]]
        let id = try #require(list.first?["id"] as? String)
        return try mtaguard(["rollback", id, "--ssh-config", lab.sshConfigPath, "--connect-timeout", "60", "--backups", backups.path], backups: backups.path)
    }

    func clearLogs(_ lab: SSHLab) {
        for (name, _) in Self.families { try? Data().write(to: URL(fileURLWithPath: lab.host(name).commandsLog)) }
    }

    @Test func hardenRestartsSendmailTheWayEachFamilyDoes() throws {
        let lab = try makeLab()
        defer { lab.stop() }
        let backups = try TempDir("peros")
        defer { backups.remove() }

        let plan = try run(lab, backups, ["plan"])
        #expect(plan.status == 2, "\(plan)")
        #expect(plan.stdout.contains("# then run: systemctl restart sendmail   (if systemctl is-active --quiet sendmail succeeds)"), "\(plan.stdout)")
        #expect(plan.stdout.contains("# then run: svcadm restart svc:/network/smtp:sendmail"))
        #expect(plan.stdout.contains("# then run: refresh -s sendmail"))
        #expect(plan.stdout.contains("# then run: /sbin/init.d/sendmail stop"))
        clearLogs(lab)

        let apply = try run(lab, backups, ["apply", "--yes"])
        #expect(apply.status == 0, "\(apply)")
        let expected: [String: [String]] = [
            "linux-systemd": ["systemctl restart sendmail"],
            "linux-sysv": ["service sendmail restart"],
            "solaris": ["svcadm restart svc:/network/smtp:sendmail"],
            "aix": ["refresh -s sendmail"],
            "hpux": ["/sbin/init.d/sendmail stop", "/sbin/init.d/sendmail start"],
        ]
        for (name, _) in Self.families {
            #expect(Shims.changes(lab, name) == expected[name], "\(name)")
            let cf = try String(contentsOfFile: lab.host(name).root + "/etc/mail/sendmail.cf", encoding: .utf8)
            #expect(cf.contains("\nO PrivacyOptions=authwarnings,noexpn,novrfy\n"), "\(name)")
        }
        // Harden touches no boot file.
        #expect(try Data(contentsOf: URL(fileURLWithPath: lab.host("aix").directory + "/overlay/etc/rc.tcpip")) == Self.rcTcpip)
        #expect(try Data(contentsOf: URL(fileURLWithPath: lab.host("hpux").root + "/etc/rc.config.d/mailservs")) == Self.mailservs)
    }

    @Test func disableStopsAndKeepsSendmailOffThenRollbackUndoesIt() throws {
        let lab = try makeLab()
        defer { lab.stop() }
        let backups = try TempDir("peros")
        defer { backups.remove() }

        let check = try run(lab, backups, ["check", "--mode", "disable"])
        #expect(check.status == 2, "\(check)")
        let plan = try run(lab, backups, ["plan", "--mode", "disable"])
        #expect(plan.status == 2, "\(plan)")
        #expect(plan.stdout.contains("-start /usr/lib/sendmail \"$src_running\" \"-bd -q${qpi}\"\n+#start /usr/lib/sendmail \"$src_running\" \"-bd -q${qpi}\"\n"), "\(plan.stdout)")
        #expect(plan.stdout.contains("-SENDMAIL_SERVER=1\n+SENDMAIL_SERVER=0\n"))
        clearLogs(lab)

        let apply = try run(lab, backups, ["apply", "--yes", "--mode", "disable"])
        #expect(apply.status == 0, "\(apply)")
        let expected: [String: [String]] = [
            "linux-systemd": ["systemctl stop sendmail", "systemctl disable sendmail"],
            "linux-sysv": ["service sendmail stop", "update-rc.d sendmail disable"],
            "solaris": ["svcadm disable svc:/network/smtp:sendmail"],
            "aix": ["stopsrc -s sendmail"],
            "hpux": ["/sbin/init.d/sendmail stop"],
        ]
        for (name, _) in Self.families {
            #expect(Shims.changes(lab, name) == expected[name], "\(name)")
            // The "not needed" branch leaves sendmail.cf alone.
            #expect(try String(contentsOfFile: lab.host(name).root + "/etc/mail/sendmail.cf", encoding: .utf8) == Self.sendmailCF)
        }
        let rc = try String(contentsOfFile: lab.host("aix").directory + "/overlay/etc/rc.tcpip", encoding: .utf8)
        let original = String(decoding: Self.rcTcpip, as: UTF8.self)
        #expect(rc == original.replacingOccurrences(
            of: "\nstart /usr/lib/sendmail \"$src_running\" \"-bd -q${qpi}\"\n",
            with: "\n#start /usr/lib/sendmail \"$src_running\" \"-bd -q${qpi}\"\n"))
        let ms = try String(contentsOfFile: lab.host("hpux").root + "/etc/rc.config.d/mailservs", encoding: .utf8)
        #expect(ms == String(decoding: Self.mailservs, as: UTF8.self).replacingOccurrences(of: "SENDMAIL_SERVER=1\n", with: "SENDMAIL_SERVER=0\n"))

        // Every family now judges sendmail as not needed and off; a second apply does nothing.
        #expect(try run(lab, backups, ["check", "--mode", "disable"]).status == 0)
        clearLogs(lab)
        let again = try run(lab, backups, ["apply", "--yes", "--mode", "disable"])
        #expect(again.status == 0, "\(again)")
        #expect(again.stdout.contains("nothing to do"), "\(again)")
        for (name, _) in Self.families { #expect(Shims.changes(lab, name).isEmpty, "\(name)") }

        let rollback = try rollbackLast(lab, backups)
        #expect(rollback.status == 0, "\(rollback)")
        let undone: [String: [String]] = [
            "linux-systemd": ["systemctl enable sendmail", "systemctl start sendmail"],
            "linux-sysv": ["update-rc.d sendmail enable", "service sendmail start"],
            "solaris": ["svcadm enable svc:/network/smtp:sendmail"],
            "aix": ["startsrc -s sendmail -a -bd -q30m"],
            "hpux": ["/sbin/init.d/sendmail start"],
        ]
        for (name, _) in Self.families { #expect(Shims.changes(lab, name) == undone[name], "\(name)") }
        #expect(try Data(contentsOf: URL(fileURLWithPath: lab.host("aix").directory + "/overlay/etc/rc.tcpip")) == Self.rcTcpip)
        #expect(try Data(contentsOf: URL(fileURLWithPath: lab.host("hpux").root + "/etc/rc.config.d/mailservs")) == Self.mailservs)
    }

    @Test func inventoryModeChoosesTheBranchPerHost() throws {
        let lab = try makeLab()
        defer { lab.stop() }
        let backups = try TempDir("peros")
        defer { backups.remove() }
        let inv = try TempDir("inv")
        defer { inv.remove() }
        let text = try String(contentsOfFile: lab.inventoryPath, encoding: .utf8)
        let path = try inv.write("hosts.ini", "[aixhosts]\n" + text.split(separator: "\n").filter { $0.hasPrefix("aix ") }.joined(separator: "\n")
            + "\n[aixhosts:vars]\nmtaguard_mode=disable\n[linux]\n" + text.split(separator: "\n").filter { $0.hasPrefix("linux-systemd ") }.joined(separator: "\n") + "\n")
        let apply = try mtaguard(["apply", "--yes", "-i", path, "--ssh-config", lab.sshConfigPath, "--connect-timeout", "60"], backups: backups.path)
        #expect(apply.status == 0, "\(apply)")
        #expect(Shims.changes(lab, "aix").contains("stopsrc -s sendmail"))
        #expect(Shims.changes(lab, "linux-systemd").contains("systemctl restart sendmail"))
    }
}
