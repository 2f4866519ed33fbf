import Foundation
import Testing

/// SRV-006 (log level), SRV-008 (DoS limits) and SRV-170 (the greeting) are `setting` items:
/// playbooks only. The real programs judge them: sendmail's greeting on the wire, m4 building
/// sendmail.cf from the fixed sendmail.mc, and postconf's reading of main.cf.
@Suite struct MailSettingsTests {
    static let items = ["--item", "SRV-006", "--item", "SRV-008", "--item", "SRV-170"]
    static let sendmailOptions = [
        "LogLevel", "MaxDaemonChildren", "ConnectionRateThrottle", "MinFreeBlocks", "MaxHeadersLength", "MaxMessageSize",
        "SmtpGreetingMessage",
    ]

    func greeting(_ mta: ExtractedMTA) throws -> String {
        let client = try SMTPClient(port: mta.port, timeout: 20)
        defer { client.close() }
        return client.greeting.description
    }

    /// The last active `O NAME=VALUE` of each option, as sendmail reads a .cf (later lines win).
    static func options(_ cf: String) -> [String: String] {
        var found: [String: String] = [:]
        for line in cf.split(separator: "\n") where line.hasPrefix("O ") {
            let body = line.dropFirst(2)
            guard let eq = body.firstIndex(of: "=") else { continue }
            let name = String(body[..<eq]).trimmingCharacters(in: .whitespaces)
            if let known = sendmailOptions.first(where: { $0.caseInsensitiveCompare(name) == .orderedSame }) {
                found[known] = String(body[body.index(after: eq)...])
            }
        }
        return found
    }

    @Test func sendmailIsFixedInTheCfAndTheMcAsM4BuildsItAndTheGreetingHidesTheVersion() throws {
        let sm = try ExtractedMTA.sendmail()
        defer { sm.stop() }
        let backups = try TempDir("mail-settings")
        defer { backups.remove() }
        let version = try sm.packages.upstreamVersion(of: "sendmail-bin")
        let before = try greeting(sm)
        #expect(before.hasPrefix("220 ") && before.contains("Sendmail \(version)"), "\(before)")
        let mcFile = sm.root + "/etc/mail/sendmail.mc"
        let originals = try [sm.configFile, mcFile].map { try Data(contentsOf: URL(fileURLWithPath: $0)) }

        func run(_ args: [String]) throws -> CommandResult {
            let playbooks = ["check", "plan", "apply"].contains(args[0]) ? ["--playbooks", Repo.playbooks] : []
            return try sm.run([Repo.binary] + args + playbooks, environment: ["MTAGUARD_BACKUPS": backups.path])
        }
        let check = try run(["check"] + Self.items)
        #expect(check.status == 2, "\(check)")
        // cf.m4's cf: LogLevel 9 passes; the commented-out limits and the greeting fail.
        #expect(check.stdout.contains("SRV-006  양호(pass)") && check.stdout.contains("SRV-008  취약(fail)")
            && check.stdout.contains("SRV-170  취약(fail)"), "\(check)")

        // On the wire: the greeting the probe reads tells the version.
        let port = ["--smtp-port", String(sm.port)]
        let wire = try run(["check", "--item", "SRV-170"] + port)
        #expect(wire.status == 2, "\(wire)")
        #expect(wire.stdout.contains("fail  smtp 127.0.0.1:\(sm.port)  \"220 \(ExtractedMTA.hostName) ESMTP Sendmail \(version)"), "\(wire)")
        #expect(wire.stdout.contains("the greeting tells the version: Sendmail \(version)"), "\(wire)")

        // Live: the real sendmail checks the new cf (sendmail -bt -C) before it is renamed; then
        // the probe asks the greeting again (apply's verification).
        let apply = try run(["apply", "--yes"] + Self.items + port)
        #expect(apply.status == 0, "\(apply)\n\(sm.logs())")
        let after = try greeting(sm)
        #expect(after.hasPrefix("220 \(ExtractedMTA.hostName) ESMTP ") && !after.contains(version) && !after.contains("Sendmail"), "\(after)")

        // m4 builds from the fixed .mc the same options mtaguard wrote into the .cf.
        let cfDir = sm.packages.cfDirectory
        let built = try runCommand(["m4", "-D_CF_DIR_=\(cfDir)/", cfDir + "/m4/cf.m4", mcFile])
        #expect(built.status == 0, "\(built)")
        let fixed = try String(contentsOfFile: sm.configFile, encoding: .utf8)
        let fromM4 = Self.options(built.stdout), fromMtaguard = Self.options(fixed)
        #expect(fromM4.count == Self.sendmailOptions.count && fromM4 == fromMtaguard, "m4: \(fromM4)\nmtaguard: \(fromMtaguard)")
        #expect(fromMtaguard["MaxDaemonChildren"] == "40" && fromMtaguard["SmtpGreetingMessage"] == "$j $b")

        let again = try run(["check"] + Self.items + port)
        #expect(again.status == 0, "\(again)")
        #expect(again.stdout.contains("pass  smtp 127.0.0.1:\(sm.port)  \"220 \(ExtractedMTA.hostName) ESMTP "), "\(again)")
        #expect(again.stdout.contains("the greeting tells no version"), "\(again)")
        let twice = try run(["apply", "--yes"] + Self.items)
        #expect(twice.status == 0 && twice.stdout.contains("nothing to do"), "\(twice)")

        let id = try #require(apply.stdout.split(separator: "\n").first { $0.hasPrefix("run ") }.map { String($0.dropFirst(4)) })
        let rollback = try run(["rollback", id])
        #expect(rollback.status == 0, "\(rollback)")
        #expect(try [sm.configFile, mcFile].map { try Data(contentsOf: URL(fileURLWithPath: $0)) } == originals)
        #expect(try greeting(sm).contains("Sendmail \(version)"))
        #expect(try run(["check", "--item", "SRV-170"] + port).stdout.contains("the greeting tells the version: Sendmail \(version)"))
    }

    /// exim's default banner tells its version; the fixed file passes the real exim's own check
    /// (`-C FILE -bV`) and is what the next session greets with.
    @Test func eximGreetsWithoutItsVersionAfterApply() throws {
        let exim = try ExtractedMTA.exim()
        defer { exim.stop() }
        let backups = try TempDir("exim-banner")
        defer { backups.remove() }
        let version = try exim.packages.upstreamVersion(of: "exim4-daemon-light")
        let original = try Data(contentsOf: URL(fileURLWithPath: exim.configFile))
        #expect(try greeting(exim).contains("Exim \(version)"))
        // Live, as on a host: the test's /etc laid over the machine's, so /etc/exim4/exim4.conf is
        // the test's; the validator (exim4 -C FILE -bV) is the real exim.
        func run(_ args: [String]) throws -> CommandResult {
            let playbooks = ["check", "plan", "apply"].contains(args[0]) ? ["--playbooks", Repo.playbooks] : []
            return try exim.run([Repo.binary] + args + playbooks, environment: ["MTAGUARD_BACKUPS": backups.path], layingEtc: true)
        }
        let port = ["--smtp-port", String(exim.port)]
        let check = try run(["check"] + Self.items + port)
        #expect(check.status == 2 && check.stdout.contains("SRV-170  취약(fail)") && check.stdout.contains("SRV-008  양호(pass)"), "\(check)")
        #expect(check.stdout.contains("the greeting tells the version: Exim \(version)"), "\(check)")
        let apply = try run(["apply", "--yes", "--item", "SRV-170"] + port)
        #expect(apply.status == 0, "\(apply)\n\(exim.logs())")
        let after = try greeting(exim)
        #expect(after.hasPrefix("220 \(ExtractedMTA.hostName) ESMTP ") && !after.contains(version) && !after.contains("Exim"), "\(after)")
        let wire = try run(["check", "--item", "SRV-170"] + port)
        #expect(wire.status == 0 && wire.stdout.contains("the greeting tells no version"), "\(wire)")
        let id = try #require(apply.stdout.split(separator: "\n").first { $0.hasPrefix("run ") }.map { String($0.dropFirst(4)) })
        #expect(try run(["rollback", id]).status == 0)
        #expect(try Data(contentsOf: URL(fileURLWithPath: exim.configFile)) == original)
        #expect(try greeting(exim).contains("Exim \(version)"))
        #expect(try run(["check", "--item", "SRV-170"] + port).stdout.contains("the greeting tells the version: Exim \(version)"))
    }

    /// mtaguard's verdict on each postfix limit and the banner, over many main.cf variants,
    /// equals the rule applied to postconf's own reading (defaults included).
    @Test func postfixVerdictsFollowPostconf() throws {
        let params = [
            "message_size_limit", "header_size_limit", "default_process_limit", "local_destination_concurrency_limit",
            "smtpd_recipient_limit", "smtpd_client_connection_rate_limit",
        ]
        let seed = CaseSeed.seed("MTAGUARD_SETTINGS_SEED")
        var rng = SplitMix64(seed: seed, stream: 1)
        let backups = try TempDir("postfix-settings")
        defer { backups.remove() }
        for case_ in 0..<CaseSeed.cases("MTAGUARD_SETTINGS_CASES", default: 24) {
            var main = "# case \(case_)\nmyhostname = mail.example.test\n"
            for p in params {
                switch rng.next() % 5 {
                case 0: break
                case 1: main += "\(p) = 0\n"
                case 2: main += "\(p) = \(1 + rng.next() % 5000)\n"
                case 3: main += "#\(p) = 0\n\(p) = 0\n\(p) =\n    \(1 + rng.next() % 9)\n"
                default: main += "\(p) = 7\n\(p) = 0\n"
                }
            }
            switch rng.next() % 4 {
            case 0: break
            case 1: main += "smtpd_banner = $myhostname ESMTP $mail_name ($mail_version)\n"
            case 2: main += "smtpd_banner = $myhostname ESMTP\n"
            default: main += "smtpd_banner = ${myhostname} ESMTP\n    ${mail_version}\n"
            }
            let root = try TempDir("postfix-settings-root")
            defer { root.remove() }
            try FileManager.default.createDirectory(atPath: root.path + "/etc/postfix", withIntermediateDirectories: true)
            try Data(main.utf8).write(to: URL(fileURLWithPath: root.path + "/etc/postfix/main.cf"))
            let r = try mtaguard(["check", "--root", root.path, "--item", "SRV-008", "--item", "SRV-170", "--format", "json"], backups: backups.path)
            let evidence = try checkEvidence(r.stdout).filter { $0["mta"] as? String == "postfix" }
            let postconf = try Postconf.run(mainCf: main, [["-h"] + params + ["smtpd_banner"]])[0]
            #expect(postconf.status == 0, "\(postconf)")
            let values = postconf.stdout.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
            var expected: [String] = []
            for (i, _) in params.enumerated() { expected.append((Int(values[i]) ?? 0) >= 1 ? "pass" : "fail") }
            expected.append(values[params.count].contains("mail_version") ? "fail" : "pass")
            #expect(evidence.map { $0["status"] as? String ?? "" } == expected, "seed \(seed) case \(case_):\n\(main)\npostconf: \(values)\n\(r.stdout)")
        }
    }

    /// A site's own limit comes from the inventory (per host or group); a value that would not
    /// pass is refused with the variable named, and that host is left as it was.
    @Test func inventoryVariablesSetTheValueOverSSH() throws {
        let lab = try SSHLab.start(hosts: ["busy", "wrong"])
        defer { lab.stop() }
        let backups = try TempDir("settings-vars")
        defer { backups.remove() }
        let minimal = Data("myhostname = mail.example.test\ncompatibility_level = 3.6\n".utf8)
        for name in ["busy", "wrong"] { try PostfixDefaults.populate(lab.host(name).root + "/etc/postfix", main: minimal) }
        let wrongBefore = try Data(contentsOf: URL(fileURLWithPath: lab.host("wrong").root + "/etc/postfix/main.cf"))
        let variable = "mtaguard_postfix_smtpd_client_connection_rate_limit"
        var inventory = try String(contentsOfFile: lab.inventoryPath, encoding: .utf8)
        inventory = inventory.split(separator: "\n", omittingEmptySubsequences: false).map { line in
            line.hasPrefix("busy ") ? line + " \(variable)=30" : line.hasPrefix("wrong ") ? line + " \(variable)=0" : String(line)
        }.joined(separator: "\n")
        let file = backups.path + "/inventory.ini"
        try Data(inventory.utf8).write(to: URL(fileURLWithPath: file))

        let apply = try mtaguard(
            ["apply", "--yes", "--item", "SRV-008", "-i", file, "--ssh-config", lab.sshConfigPath, "--connect-timeout", "60"],
            backups: backups.path)
        #expect(apply.status != 0, "\(apply)")
        let busy = try String(contentsOfFile: lab.host("busy").root + "/etc/postfix/main.cf", encoding: .utf8)
        #expect(busy.hasSuffix("\nsmtpd_client_connection_rate_limit = 30\n"), "\(busy)\n\(apply)")
        #expect(apply.stdout.contains("the inventory variable \(variable) is '0', which does not pass"), "\(apply)")
        #expect(try Data(contentsOf: URL(fileURLWithPath: lab.host("wrong").root + "/etc/postfix/main.cf")) == wrongBefore)
    }
}
