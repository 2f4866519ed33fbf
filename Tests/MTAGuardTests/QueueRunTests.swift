import Foundation
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// U-46 (= U-32 = SRV-010), 일반 사용자의 메일 서비스 실행 방지, judged and fixed, then proven
/// with the real programs: real sendmail 8.17 refuses an ordinary user's queue run after the
/// fix and allows it again after rollback; postsuper (and exiqgrep) cannot be run by an ordinary
/// login on a lab host after the fix, and can again after rollback.
@Suite struct QueueRunTests {
    static let nobody = "65534"

    /// A sendmail.cf (and its .mc) built by m4 from the unpacked sendmail-cf, with its queue in
    /// `root`, as an offline root for mtaguard.
    func sendmailRoot() throws -> (root: TempDir, packages: MTAPackages) {
        let packages = try MTAPackages.locate()
        let root = try TempDir("qrun")
        chmod(root.path, 0o755)
        try FileManager.default.createDirectory(atPath: root.path + "/spool", withIntermediateDirectories: true)
        let mc = """
            divert(0)dnl
            OSTYPE(`linux')dnl
            define(`QUEUE_DIR', `\(root.path)/spool')dnl
            define(`ALIAS_FILE', `\(root.path)/etc/mail/aliases')dnl
            MAILER(`local')dnl
            MAILER(`smtp')dnl

            """
        try root.write("etc/mail/sendmail.mc", mc, mode: 0o644)
        try root.write("etc/mail/aliases", "postmaster: root\n", mode: 0o644)
        let cf = try m4(root.path + "/etc/mail/sendmail.mc", packages)
        try root.write("etc/mail/sendmail.cf", cf, mode: 0o644)
        return (root, packages)
    }

    func m4(_ mc: String, _ packages: MTAPackages) throws -> String {
        let built = try runCommand(["m4", "-D_CF_DIR_=\(packages.cfDirectory)/", packages.cfDirectory + "/m4/cf.m4", mc])
        try #require(built.status == 0, "\(built)")
        return built.stdout
    }

    /// The real sendmail, run as `nobody`, asked to run the queue of `cf`.
    func queueRunAsNobody(_ cf: String, _ packages: MTAPackages) throws -> CommandResult {
        try runCommand([
            "timeout", "60", "unshare", "-u", "sh", "-c",
            "hostname mta.example.test && exec setpriv --reuid=\(Self.nobody) --regid=\(Self.nobody) --clear-groups \"$@\"", "sh",
            "env", "LD_LIBRARY_PATH=\(packages.sendmailLibraries)", packages.sendmailBinary, "-C", cf, "-q",
        ])
    }

    @Test func realSendmailRefusesAnOrdinaryUsersQueueRunAfterTheFix() throws {
        let (root, packages) = try sendmailRoot()
        defer { root.remove() }
        let backups = try TempDir("qrun-backups")
        defer { backups.remove() }
        let cf = root.path + "/etc/mail/sendmail.cf"
        let original = try root.read("etc/mail/sendmail.cf"), originalMC = try root.read("etc/mail/sendmail.mc")
        let refused = "You do not have permission to process the queue"

        let before = try queueRunAsNobody(cf, packages)
        #expect(before.status == 0 && !(before.stdout + before.stderr).contains(refused), "before: \(before)")

        let check = try mtaguard(["check", "--root", root.path, "--item", "SRV-010"], backups: backups.path)
        #expect(check.status == 2 && check.stdout.contains("PrivacyOptions lacks restrictqrun"), "\(check)")
        let apply = try mtaguard(["apply", "--yes", "--root", root.path, "--item", "U-32"], backups: backups.path)
        #expect(apply.status == 0, "\(apply)")
        let fixed = try String(decoding: root.read("etc/mail/sendmail.cf"), as: UTF8.self)
        #expect(fixed.contains("\nO PrivacyOptions=authwarnings,restrictqrun\n"), "\(apply)")
        let after = try queueRunAsNobody(cf, packages)
        #expect((after.stdout + after.stderr).contains(refused), "after: \(after)")
        // The .mc keeps the fix: a rebuild with m4 makes the same PrivacyOptions line.
        let rebuilt = try m4(root.path + "/etc/mail/sendmail.mc", packages)
        #expect(rebuilt.contains("\nO PrivacyOptions=authwarnings,restrictqrun\n"), "\(rebuilt.prefix(200))")

        let again = try mtaguard(["apply", "--yes", "--root", root.path, "--item", "U-46"], backups: backups.path)
        #expect(again.status == 0 && again.stdout.contains("nothing to do"), "\(again)")
        let id = try #require(apply.stdout.split(separator: "\n").first { $0.hasPrefix("run ") }.map { String($0.dropFirst(4)) })
        let rollback = try mtaguard(["rollback", id], backups: backups.path)
        #expect(rollback.status == 0, "\(rollback)")
        #expect(try root.read("etc/mail/sendmail.cf") == original)
        #expect(try root.read("etc/mail/sendmail.mc") == originalMC)
        let back = try queueRunAsNobody(cf, packages)
        #expect(back.status == 0 && !(back.stdout + back.stderr).contains(refused), "after rollback: \(back)")
    }

    /// postsuper (the machine's own, seen through the lab host's /usr/sbin overlay, so that a
    /// change there never reaches this machine's file) and the real exiqgrep from the unpacked
    /// exim; a second host where exiqgrep is a symbolic link, which is never followed.
    @Test func postsuperAndExiqgrepOverSSH() throws {
        let packages = try MTAPackages.locate()
        let lab = try SSHLab.start(hosts: ["queue", "linked"], nonRootUser: true)
        defer { lab.stop() }
        let backups = try TempDir("qrun-ssh")
        defer { backups.remove() }
        let exiqgrep = packages.folder + "/exim/usr/sbin/exiqgrep"
        for name in ["queue", "linked"] {
            let sbin = lab.host(name).directory + "/overlay/usr/sbin"
            try FileManager.default.createDirectory(atPath: sbin, withIntermediateDirectories: true)
            if name == "queue" {
                let copy = try runCommand(["cp", exiqgrep, sbin + "/exiqgrep"])
                try #require(copy.status == 0, "\(copy)")
                chmod(sbin + "/exiqgrep", 0o755)
            } else {
                try FileManager.default.createSymbolicLink(atPath: sbin + "/exiqgrep", withDestinationPath: "/bin/true")
            }
        }
        var machine = stat()
        lstat("/usr/sbin/postsuper", &machine)
        func mode(_ host: String, _ path: String) throws -> String {
            let r = try lab.ssh(host, "stat -c %a \(path)")
            return r.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        }
        func run(_ args: [String]) throws -> CommandResult {
            try mtaguard(args + ["--item", "U-46", "-i", lab.inventoryPath, "--ssh-config", lab.sshConfigPath, "--connect-timeout", "60"],
                         backups: backups.path)
        }
        let ordinary = "/usr/sbin/postsuper; echo rc=$?; /usr/sbin/exiqgrep -h >/dev/null 2>&1; echo rc=$?"
        let before = try lab.ssh("queue", ordinary, user: SSHLab.nonRootUser)
        #expect(!before.stdout.contains("rc=126"), "an ordinary user runs both before the fix: \(before)")

        let check = try run(["check"])
        #expect(check.stdout.contains("o+x is set; needs chmod o-x"), "\(check)")
        #expect(check.stdout.contains("is a symbolic link"), "\(check)")

        let apply = try run(["apply", "--yes"])
        #expect(apply.status == 3, "the linked host fails, the other is changed: \(apply)")
        #expect(try mode("queue", "/usr/sbin/postsuper") == "754")
        #expect(try mode("queue", "/usr/sbin/exiqgrep") == "754")
        #expect(try mode("linked", "/usr/sbin/postsuper") == "755", "nothing is changed on the host with the link")
        var now = stat()
        lstat("/usr/sbin/postsuper", &now)
        #expect(now.st_mode == machine.st_mode, "this machine's own postsuper must not change")
        let after = try lab.ssh("queue", ordinary, user: SSHLab.nonRootUser)
        #expect(after.stdout == "rc=126\nrc=126\n", "an ordinary user may run neither after the fix: \(after)")

        let again = try run(["plan"])
        #expect(again.stdout.contains("== queue: nothing to do"), "nothing left to do on queue: \(again)")
        let id = try #require(apply.stdout.split(separator: "\n").first { $0.hasPrefix("run ") }.map { String($0.dropFirst(4)) })
        let rollback = try mtaguard(["rollback", id, "--ssh-config", lab.sshConfigPath, "--connect-timeout", "60"], backups: backups.path)
        #expect(rollback.status == 0, "\(rollback)")
        #expect(try mode("queue", "/usr/sbin/postsuper") == "755")
        #expect(try mode("queue", "/usr/sbin/exiqgrep") == "755")
        let back = try lab.ssh("queue", ordinary, user: SSHLab.nonRootUser)
        #expect(!back.stdout.contains("rc=126"), "after rollback: \(back)")
    }
}
