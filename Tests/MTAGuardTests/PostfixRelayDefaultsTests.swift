import Foundation
import Testing

@testable import MTAGuard

/// postfix's defaults for the relay parameters are postfix's own for the file and the host: the
/// host's `postconf -d` where it answers (evaluated for main.cf's compatibility_level), else the
/// table of postfix versions; where the version is not known at all (an offline image), a
/// verdict stands only where every version class agrees, and is 수동 확인 where they do not.
@Suite struct PostfixRelayDefaultsTests {
    typealias S = PostfixRelay.Settings
    typealias Level = PostfixRelayDefaults.Level

    /// The real postconf is the judge: for each compatibility_level, the defaults mtaguard
    /// derives from this machine's `postconf -d` (asked by the same probe the facts send, on
    /// the live local host) equal what `postconf -x -h` says is in force for a main.cf at that
    /// level.
    @Test(.enabled(if: Postconf.available, "postconf (postfix) is not installed"))
    func theHostsOwnDefaultsAreWhatPostfixRunsAtEachLevel() async throws {
        var request = FactsRequest(paths: ["/etc/postfix/main.cf"])
        request.postfixTables = "/etc/postfix/main.cf"
        let facts = try await LocalHost().facts(request)
        let host = try #require(facts.postfixTables?.defaults, "the live host's facts carry postconf -d")
        #expect(host.failure == nil, "\(host)")
        let version = try runCommand(["postconf", "-d", "-h", "mail_version"]).stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(host.version == version)
        #expect(host.values["smtpd_relay_restrictions"]?.contains("$compatibility_level") == true, "postfix 3.6 and later print the expression: \(host)")

        let dir = try TempDir("pfdefaults")
        defer { dir.remove() }
        for level in [nil, "0", "1", "2", "3.6", "3.10"] as [String?] {
            _ = try dir.write("main.cf", level.map { "compatibility_level = \($0)\n" } ?? "# no level\n")
            func inForce(_ name: String) throws -> String {
                let r = try runCommand(["postconf", "-c", dir.path, "-x", "-h", name])
                #expect(r.status == 0, "\(r)")
                return PostfixRelay.words(r.stdout.trimmingCharacters(in: .whitespacesAndNewlines)).joined(separator: ", ")
            }
            let d = PostfixRelayDefaults.resolve(host: host, version: nil, level: level)
            #expect(d.known)
            let relay = try inForce("smtpd_relay_restrictions"), recipient = try inForce("smtpd_recipient_restrictions")
            let style = try inForce("mynetworks_style")
            let at = "level \(level ?? "unset"): \(d)"
            #expect(PostfixRelay.words(d.relay ?? "nil").joined(separator: ", ") == relay, "\(at); postconf: \(relay)")
            #expect(PostfixRelay.words(d.recipient).joined(separator: ", ") == recipient, "\(at); postconf: \(recipient)")
            #expect(d.style == style, "\(at); postconf: \(style)")
            #expect(d.source.hasPrefix("postfix \(version)'s own defaults (postconf -d on the host"), "\(d.source)")
        }
    }

    @Test func versionsAndLevelsCompareAsPostfixCompares() {
        #expect(Level("3.10")! > Level("3.9")!)
        #expect(Level("3")! == Level("3.0")!)
        #expect(Level("2.11.3-RC1")! == Level("2.11.3")!)
        #expect(Level("3.9-20240101")! > Level("3.8.5")!)
        #expect(Level("") == nil && Level("x") == nil && Level("1.2.3.4.5") == nil)
        let expr = "${{$compatibility_level} <level {2} ? {subnet} : {host}}"
        #expect(PostfixRelayDefaults.evaluate(expr, level: Level("1")!) == "subnet")
        #expect(PostfixRelayDefaults.evaluate(expr, level: Level("2")!) == "host")
        #expect(PostfixRelayDefaults.evaluate(expr, level: Level("3.6")!) == "host")
        #expect(PostfixRelayDefaults.evaluate("${{$compatibility_level} >=level {3.6} ? {a} : {b}}", level: Level("3.6")!) == "a")
        #expect(PostfixRelayDefaults.evaluate("${{$compatibility_level} <=level {1} ? {a, b} : {}}", level: Level("1")!) == "a, b")
        #expect(PostfixRelayDefaults.evaluate("${{$compatibility_level} !=level {1} ? {a} : {b}}", level: Level("1")!) == "b")
        // Something else postfix might print is not guessed at.
        #expect(PostfixRelayDefaults.evaluate("$myhostname", level: Level("1")!) == nil)
        #expect(PostfixRelayDefaults.evaluate("${{$compatibility_level} <level {2} ? {$x} : {host}}", level: Level("1")!) == nil)
        #expect(PostfixRelayDefaults.evaluate("permit_mynetworks, reject_unauth_destination", level: Level("0")!) == "permit_mynetworks, reject_unauth_destination")
    }

    /// What a host prints is data: only the parameters asked for, bounded, without control
    /// characters; a version that is not one is no version.
    @Test func whatTheHostPrintsIsParsedNotTrusted() {
        var facts = PostfixTableFacts()
        let m = "@@m"
        let output = [
            "\(m) pfdefaults",
            "\(m) pfdefault mail_version = 3.7.11; rm -rf /",
            "\(m) pfdefault smtpd_relay_restrictions = " + String(repeating: "permit, ", count: 400),
            "\(m) pfdefault smtpd_recipient_restrictions = permit\u{1B}[2J",
            "\(m) pfdefault mynetworks = 0.0.0.0/0",
            "\(m) pfdefault mynetworks_style = host",
            "\(m) pfdefault compatibility_level",
            "noise pfdefault mynetworks_style = class",
        ].joined(separator: "\n")
        facts.readDefaults(from: output, marker: m)
        let d = facts.defaults
        #expect(d?.failure == nil)
        #expect(d?.version == nil, "\(String(describing: d))")
        #expect(d?.values == ["mynetworks_style": "host"], "\(String(describing: d))")
        // No usable version: the table decides, and says the version is not known.
        let resolved = PostfixRelayDefaults.resolve(host: PostfixHostDefaults(version: nil, values: ["mynetworks_style": "host"]), version: nil, level: nil)
        #expect(!resolved.known)
        #expect(resolved.source.contains("postconf -d on the host named no postfix version mtaguard could read"), "\(resolved.source)")
        var failed = PostfixTableFacts()
        failed.readDefaults(from: "\(m) pfdefaults failed 1 postconf: fatal: \u{7}bell", marker: m)
        #expect(failed.defaults?.failure == "postconf -d failed: exit status 1 postconf: fatal: ?bell", "\(String(describing: failed.defaults))")
    }

    /// The version table: what each postfix runs where main.cf does not set a parameter.
    @Test func theTableOfPostfixVersions() {
        let old = PostfixRelayDefaults.resolve(host: nil, version: "2.6.6", level: nil)
        #expect(old.relay == nil && old.recipient == PostfixRelayDefaults.recipientBefore210 && old.style == "subnet" && old.known)
        let v210 = PostfixRelayDefaults.resolve(host: nil, version: "2.10.1", level: "2")
        #expect(v210.relay == PostfixRelayDefaults.relay210 && v210.recipient == "" && v210.style == "subnet")
        let v34 = PostfixRelayDefaults.resolve(host: nil, version: "3.4.13", level: nil)
        #expect(v34.relay == "" && v34.style == "subnet" && v34.source.contains("mtaguard's table"))
        let v34l2 = PostfixRelayDefaults.resolve(host: nil, version: "3.4.13", level: "2")
        #expect(v34l2.relay == PostfixRelayDefaults.relay210 && v34l2.style == "host")
        // postfix 3.0–3.5 print the new default with -d; below the level the old one runs.
        let printed = PostfixHostDefaults(version: "3.4.13", values: [
            "compatibility_level": "0", "smtpd_relay_restrictions": PostfixRelayDefaults.relay210, "smtpd_recipient_restrictions": "", "mynetworks_style": "host",
        ])
        let atZero = PostfixRelayDefaults.resolve(host: printed, version: nil, level: nil)
        #expect(atZero.relay == "" && atZero.style == "subnet" && atZero.source.contains("postconf -d on the host"), "\(atZero)")
        let atTwo = PostfixRelayDefaults.resolve(host: printed, version: nil, level: "2")
        #expect(atTwo.relay == PostfixRelayDefaults.relay210 && atTwo.style == "host")
        // postconf -d of a postfix before 2.10 does not know smtpd_relay_restrictions.
        let rhel6 = PostfixHostDefaults(version: "2.6.6", values: [
            "smtpd_recipient_restrictions": "permit_mynetworks, reject_unauth_destination", "mynetworks_style": "subnet",
        ])
        let fromHost = PostfixRelayDefaults.resolve(host: rhel6, version: nil, level: nil)
        #expect(fromHost.relay == nil && fromHost.recipient == "permit_mynetworks, reject_unauth_destination" && fromHost.level == nil)
        // A postconf that failed is said, and the table decides.
        let failed = PostfixRelayDefaults.resolve(host: PostfixHostDefaults(failure: "postconf -d failed: exit status 1"), version: nil, level: nil)
        #expect(!failed.known && failed.source.contains("postconf -d failed"), "\(failed.source)")
    }

    /// A main.cf that closes relaying only in smtpd_relay_restrictions is open on a postfix
    /// before 2.10, which has no such parameter; where the version is not known, it is for a
    /// person; where every version class agrees, the verdict stands.
    @Test func theVersionDecidesWhereMainCfReliesOnANewerParameter() throws {
        // The recipient list lets a client through that claims the sender a table accepts.
        let settings = S(relay: "permit_mynetworks, reject_unauth_destination", recipient: "permit_mynetworks, check_sender_access inline:{ attacker.example=OK }, reject_unauth_destination")
        var old = settings
        old.version = "2.6.6"
        let v = try PostfixRelay.judge(old)
        #expect(v.open && !v.review, "\(v.note)")
        #expect(v.note.contains("this postfix has no smtpd_relay_restrictions (it came in postfix 2.10), so main.cf's is ignored"), "\(v.note)")
        let (changes, said) = try PostfixRelay.fix(old)
        #expect(changes.map(\.0) == ["smtpd_recipient_restrictions"], "\(changes)")
        #expect(changes.first?.1 == "permit_mynetworks, reject_unauth_destination, check_sender_access, inline:{ attacker.example=OK }, reject_unauth_destination", "\(changes)")
        #expect(said.contains { $0.contains("this postfix has no smtpd_relay_restrictions") })
        var fixed = old
        fixed.recipient = changes.first?.1
        #expect(try !PostfixRelay.judge(fixed).open)

        var new = settings
        new.version = "3.7.11"
        #expect(try !PostfixRelay.judge(new).open)

        let unknown = try PostfixRelay.judge(settings)
        #expect(unknown.review && !unknown.open, "\(unknown.note)")
        #expect(unknown.note.hasPrefix("it depends on postfix's version: postfix before 2.10: relaying is open; postfix 2.10 and 2.11: relaying is closed; postfix 3.0 and later: relaying is closed"), "\(unknown.note)")
        #expect(unknown.note.hasSuffix("postfix's version is not known here (an offline image, where no postconf is asked), and postconf mail_version on the host says which applies"), "\(unknown.note)")
        // Open on postfix 3.0 and later but not before 2.10: 취약, and the note says so.
        let newerOpen = try PostfixRelay.judge(S(relay: "check_sender_access inline:{ attacker.example=OK }, reject_unauth_destination", recipient: "permit_mynetworks"))
        #expect(newerOpen.open && !newerOpen.review, "\(newerOpen.note)")
        #expect(newerOpen.note.contains("postfix before 2.10: relaying is closed; postfix 2.10 and 2.11: relaying is open; postfix 3.0 and later: relaying is open"), "\(newerOpen.note)")

        // Debian's stock main.cf closes relaying on every postfix: the verdict stands.
        let stock = try PostfixRelay.judge(S(relay: "permit_mynetworks permit_sasl_authenticated defer_unauth_destination", compatibility: "3.6"))
        #expect(!stock.open && !stock.review, "\(stock.note)")
        #expect(stock.note.contains("the verdict is the same for postfix before 2.10, 2.10 and 2.11, and 3.0 and later"), "\(stock.note)")

        // Open on every postfix with the version unknown: the fix closes both lists, so that
        // whichever postfix reads the file refuses.
        let world = S(relay: "check_sender_access inline:{ attacker.example=OK }, reject_unauth_destination", recipient: "permit_mynetworks, check_sender_access inline:{ attacker.example=OK }, reject_unauth_destination")
        let open = try PostfixRelay.judge(world)
        #expect(open.open && !open.review, "\(open.note)")
        let (worldChanges, _) = try PostfixRelay.fix(world)
        var closed = world
        for (name, value) in worldChanges {
            if name == "smtpd_relay_restrictions" { closed.relay = value } else if name == "smtpd_recipient_restrictions" { closed.recipient = value }
        }
        #expect(Set(worldChanges.map(\.0)) == ["smtpd_relay_restrictions", "smtpd_recipient_restrictions"], "\(worldChanges)")
        let after = try PostfixRelay.judge(closed)
        #expect(!after.open && !after.review, "\(after.note)")
    }

    /// Over real SSH: the host's own postconf answers, and a postfix before 2.10 (RHEL 6's
    /// 2.6.6, which cannot run here: a shim answers `postconf -d` as it does, unknown
    /// parameters warned about on stderr) makes the same main.cf 취약, fixed in
    /// smtpd_recipient_restrictions; with the machine's postfix 3.7 it is 양호, naming
    /// postconf -d on the host; with --root (no version) it is 수동 확인.
    @Test(.enabled(if: Postconf.available, "postconf (postfix) is not installed"))
    func overSSHTheHostsPostfixSaysWhichDefaultsApply() throws {
        let lab = try SSHLab.start(hosts: ["pfold", "pfnew"])
        defer { lab.stop() }
        let backups = try TempDir("pfdefaults-b")
        defer { backups.remove() }
        let mainCf = "mynetworks = 127.0.0.0/8\nsmtpd_relay_restrictions = permit_mynetworks, reject_unauth_destination\nsmtpd_recipient_restrictions = permit_mynetworks, check_sender_access hash:/etc/postfix/sender_access, reject_unauth_destination\n"
        /// main.cf and the sender table it names (compiled by the real postmap) in `folder`.
        func write(_ folder: String) throws {
            try Data(mainCf.utf8).write(to: URL(fileURLWithPath: folder + "/main.cf"))
            try Data("gmail.com OK\n".utf8).write(to: URL(fileURLWithPath: folder + "/sender_access"))
            let made = try runCommand(["postmap", "hash:" + folder + "/sender_access"])
            #expect(made.status == 0, "\(made)")
        }
        for name in ["pfold", "pfnew"] {
            try write(lab.host(name).root + "/etc/postfix")
        }
        let shim = lab.host("pfold").shims + "/postconf"
        let log = lab.host("pfold").commandsLog
        try Data("""
            #!/bin/sh
            echo "postconf $*" >> \(log)
            [ "$1" = -d ] || exit 1
            shift
            for p in "$@"; do
              case $p in
                mail_version) echo "mail_version = 2.6.6";;
                smtpd_recipient_restrictions) echo "smtpd_recipient_restrictions = permit_mynetworks, reject_unauth_destination";;
                mynetworks_style) echo "mynetworks_style = subnet";;
                *) echo "postconf: warning: $p: unknown parameter" >&2;;
              esac
            done

            """.utf8).write(to: URL(fileURLWithPath: shim))
        chmod(shim, 0o755)

        let check = try mtaguard(["check", "--item", "U-47", "-i", lab.inventoryPath, "--ssh-config", lab.sshConfigPath,
                                  "--connect-timeout", "60", "--format", "json"], backups: backups.path)
        #expect(check.status == 2, "\(check)")
        let report = try #require(try JSONSerialization.jsonObject(with: Data(check.stdout.utf8)) as? [String: Any])
        var notes: [String: (String, String)] = [:]
        for host in report["hosts"] as? [[String: Any]] ?? [] {
            let finding = (host["findings"] as? [[String: Any]] ?? []).first { $0["item"] as? String == "U-47" }
            let row = (finding?["evidence"] as? [[String: Any]] ?? []).first { $0["file"] as? String == "/etc/postfix/main.cf" }
            notes[host["host"] as? String ?? ""] = (row?["status"] as? String ?? "", row?["note"] as? String ?? "")
        }
        let old = try #require(notes["pfold"], "\(notes)"), new = try #require(notes["pfnew"], "\(notes)")
        #expect(old.0 == "fail", "\(old)")
        #expect(old.1.contains("this postfix has no smtpd_relay_restrictions (it came in postfix 2.10), so main.cf's is ignored"), "\(old)")
        #expect(old.1.contains("defaults: postfix 2.6.6's own defaults (postconf -d on the host)"), "\(old)")
        #expect(old.1.contains("fix: smtpd_recipient_restrictions = permit_mynetworks, reject_unauth_destination, check_sender_access, hash:/etc/postfix/sender_access, reject_unauth_destination"), "\(old)")
        let version = try runCommand(["postconf", "-d", "-h", "mail_version"]).stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(new.0 == "pass", "\(new)")
        #expect(!new.1.contains("defaults:"), "every parameter is set: no default decides, \(new)")
        let recorded = try String(contentsOfFile: log, encoding: .utf8)
        #expect(recorded.contains("postconf -d mail_version compatibility_level smtpd_relay_restrictions smtpd_recipient_restrictions mynetworks_style"), "\(recorded)")

        // Without smtpd_recipient_restrictions, the default decides and is named as the host's.
        try Data("mynetworks = 127.0.0.0/8\n".utf8).write(to: URL(fileURLWithPath: lab.host("pfnew").root + "/etc/postfix/main.cf"))
        let again = try mtaguard(["check", "--item", "U-47", "-i", lab.inventoryPath, "--ssh-config", lab.sshConfigPath, "--limit", "pfnew",
                                  "--connect-timeout", "60", "--format", "json"], backups: backups.path)
        let row = try #require(try checkEvidence(again.stdout).first { $0["file"] as? String == "/etc/postfix/main.cf" }, "\(again)")
        #expect((row["note"] as? String ?? "").contains("defaults: postfix \(version)'s own defaults (postconf -d on the host, at compatibility_level 0, its default)"), "\(row)")

        // The plan for the old host changes smtpd_recipient_restrictions, the list it reads.
        let plan = try mtaguard(["plan", "--item", "U-47", "-i", lab.inventoryPath, "--ssh-config", lab.sshConfigPath, "--limit", "pfold",
                                 "--connect-timeout", "60"], backups: backups.path)
        #expect(plan.stdout.contains("+smtpd_recipient_restrictions = permit_mynetworks, reject_unauth_destination, check_sender_access, hash:/etc/postfix/sender_access, reject_unauth_destination"), "\(plan)")
        #expect(!plan.stdout.contains("+smtpd_relay_restrictions"), "\(plan)")

        // A postconf that fails (here: it cannot read its configuration) is said, and with no
        // version known the classes disagree: 수동 확인, never 양호.
        try Data("#!/bin/sh\necho 'postconf: fatal: open /etc/postfix/main.cf: Permission denied' >&2\nexit 1\n".utf8).write(to: URL(fileURLWithPath: shim))
        let failing = try mtaguard(["check", "--item", "U-47", "-i", lab.inventoryPath, "--ssh-config", lab.sshConfigPath, "--limit", "pfold",
                                    "--connect-timeout", "60", "--format", "json"], backups: backups.path)
        let failed = try #require(try checkEvidence(failing.stdout).first { $0["file"] as? String == "/etc/postfix/main.cf" }, "\(failing)")
        #expect(failed["status"] as? String == "review", "\(failed)")
        #expect((failed["note"] as? String ?? "").contains("postconf -d could not be asked on the host: postconf -d failed: exit status 1 postconf: fatal: open /etc/postfix/main.cf: Permission denied"), "\(failed)")

        // Offline, the version is not known and the versions disagree: 수동 확인.
        let image = try TempDir("pfdefaults-root")
        defer { image.remove() }
        try FileManager.default.createDirectory(atPath: image.path + "/etc/postfix", withIntermediateDirectories: true)
        try write(image.path + "/etc/postfix")
        let offline = try mtaguard(["check", "--item", "U-47", "--root", image.path, "--format", "json"], backups: backups.path)
        let offlineRow = try #require(try checkEvidence(offline.stdout).first { $0["file"] as? String == "/etc/postfix/main.cf" }, "\(offline)")
        #expect(offlineRow["status"] as? String == "review", "\(offlineRow)")
        #expect((offlineRow["note"] as? String ?? "").contains("postfix before 2.10: relaying is open"), "\(offlineRow)")
    }

    /// Offline, the image's own package records name postfix's version where they are text:
    /// dpkg's status file, or the versioned documentation folder of RHEL 7 and before.
    @Test func anOfflineImageNamesItsPostfixVersion() throws {
        let mainCf = "smtpd_relay_restrictions = permit_mynetworks, reject_unauth_destination\nsmtpd_recipient_restrictions = permit_mynetworks, check_sender_access inline:{ attacker.example=OK }, reject_unauth_destination\n"
        let backups = try TempDir("pfimage-b")
        defer { backups.remove() }
        func judged(_ extra: [String: String], folders: [String] = []) throws -> [String: Any] {
            let image = try TempDir("pfimage")
            defer { image.remove() }
            for folder in ["etc/postfix", "var/lib/dpkg"] + folders {
                try FileManager.default.createDirectory(atPath: image.path + "/" + folder, withIntermediateDirectories: true)
            }
            _ = try image.write("etc/postfix/main.cf", mainCf)
            for (path, text) in extra { _ = try image.write(path, text) }
            let r = try mtaguard(["check", "--item", "U-47", "--root", image.path, "--format", "json"], backups: backups.path)
            return try #require(try checkEvidence(r.stdout).first { $0["file"] as? String == "/etc/postfix/main.cf" }, "\(r)")
        }
        let status = """
            Package: postfix-doc
            Status: install ok installed
            Version: 2.5.0-1

            Package: postfix
            Status: install ok installed
            Priority: optional
            Version: 3.7.11-0+deb12u1
            Description: High-performance mail transport agent
             Postfix is Wietse Venema's mail server.

            """
        let debian = try judged(["var/lib/dpkg/status": status])
        #expect(debian["status"] as? String == "pass", "\(debian)")
        // Every parameter is set: no default decides, but the version does (the relay list counts).
        let removed = try judged(["var/lib/dpkg/status": status.replacingOccurrences(of: "Status: install ok installed\nPriority", with: "Status: deinstall ok config-files\nPriority")])
        #expect(removed["status"] as? String == "review", "a removed package names no version: \(removed)")
        let rhel6 = try judged([:], folders: ["usr/share/doc/postfix-2.6.6", "usr/share/doc/postfix-perl-scripts"])
        #expect(rhel6["status"] as? String == "fail", "\(rhel6)")
        let note = rhel6["note"] as? String ?? ""
        #expect(note.contains("this postfix has no smtpd_relay_restrictions"), "\(note)")
        #expect(note.contains("defaults: postfix 2.6.6's defaults (mtaguard's table of postfix versions, with the version from the image's documentation folder /usr/share/doc/postfix-2.6.6)"), "\(note)")
    }
}
