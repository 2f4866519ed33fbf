import Foundation
import Testing

/// Bad and hostile input through the built binary: malformed playbooks and inventories, odd
/// configuration bytes, links, shell metacharacters and an unsafe backups folder. After each one:
/// a clear error (exit code per README, naming the file and line), not one byte changed in the
/// image, and no run left in the journal claiming a change. Every case is recorded in the
/// fault ledger (`make faults`).
@Suite struct HostileInputTests {
    static let debianMain = try! Repo.fixtureData("postfix/main.cf.debian")
    static let genericCF = try! Repo.fixtureData("sendmail/generic-linux.cf")
    static let fix = "disable_vrfy_command = yes\n"

    // MARK: Playbooks

    /// Each fixture under Tests/Fixtures/hostile/playbooks, alone in a playbooks folder: the
    /// error names the file and line, whatever the command, and nothing changes.
    @Test(arguments: [
        ("syntax.yaml", "syntax.yaml:4:8: invalid YAML", "did not find expected ',' or ']'"),
        ("wrong-type-list.yaml", "wrong-type-list.yaml:4:10: targets: expected a list", "mtaguard: error: "),
        ("wrong-type-path.yaml", "wrong-type-path.yaml:5:11: targets[0].file: '42' must be an absolute path", "without '..'"),
        ("unknown-key.yaml", "unknown-key.yaml:9:5: targets[0]: unknown field 'run_after'", "(known: advisory, after, check"),
        ("tab-indented.yaml", "tab-indented.yaml:4:1: invalid YAML", "this line starts with a tab"),
        ("newline-value.yaml", "newline-value.yaml:9:17: targets[0].fix.set: a value to write must be one line", "U+000A"),
        ("alias-bomb.yaml", "alias-bomb.yaml:11: expands to more than 1000000 values through aliases", "fewer aliases"),
        ("alias-key-bomb.yaml", "alias-key-bomb.yaml:11: expands to more than 1000000 values through aliases", "fewer aliases"),
    ])
    func malformedPlaybook(name: String, expected: String, also: String) throws {
        let books = try TempDir("books")
        defer { books.remove() }
        try books.write(name, try Data(contentsOf: URL(fileURLWithPath: Repo.fixture("hostile/playbooks/" + name))))
        try Hostile.refusedEverywhere("playbook \(name)", playbooks: books.path, expect: [expected, also])
    }

    /// 20 MB and bytes that are not UTF-8: refused before parsing, the file named.
    @Test func oversizedAndBinaryPlaybooks() throws {
        let books = try TempDir("books")
        defer { books.remove() }
        var big = Data("id: X-1\ntitle: t\ntargets: []\n".utf8)
        big.append(Data(repeating: UInt8(ascii: "#"), count: 20 << 20))
        try books.write("big.yaml", big)
        try Hostile.refusedEverywhere(
            "playbook 20 MB", playbooks: books.path, expect: ["big.yaml: is 20971549 bytes; a YAML document here is at most 1048576"])
        try FileManager.default.removeItem(atPath: books.path + "/big.yaml")
        try books.write("binary.yaml", Data("id: X-1\ntitle: t\u{1}\n".utf8) + Data([0xff, 0xfe, 0x00, 0x9c]) + Data("\ntargets: []\n".utf8))
        try Hostile.refusedEverywhere(
            "playbook binary bytes", playbooks: books.path, expect: ["binary.yaml:3:1: is not UTF-8 text (byte 0xff here)"])
    }

    // MARK: Inventories

    /// Each broken inventory: the error names file:line, and ssh never runs for any host.
    @Test(arguments: [
        ("unterminated-range.ini", "unterminated-range.ini:3: 'web[02:09' has '[' without a closing ']'"),
        ("bad-header.ini", "bad-header.ini:3: section header '[db' has no closing ']'"),
        ("bad-port.ini", "bad-port.ini:2: ansible_port '22;reboot' is not a port number"),
        ("user-with-space.ini", "user-with-space.ini:2: ansible_user 'root; touch canary' contains whitespace"),
        ("unterminated-quote.ini", "unterminated-quote.ini:4: unterminated \" quote"),
        ("tab-indented.yml", "tab-indented.yml:3:1: invalid YAML"),
        ("unterminated-range.yml", "unterminated-range.yml:5:9: all.children.web.hosts: 'web[01:09' has '['"),
        ("bad-port.yml", "bad-port.yml:4:21: all.hosts.web01.ansible_port: ansible_port '[22, 23]' is not a port number"),
        ("user-with-newline.yml", "user-with-newline.yml:4:21: all.hosts.web01.ansible_user"),
        ("alias-bomb.yml", "alias-bomb.yml:10: expands to more than 1000000 values through aliases"),
    ])
    func malformedInventory(name: String, expected: String) throws {
        try Hostile.inventoryRefused("inventory \(name)", file: Repo.fixture("hostile/inventories/" + name), expect: expected)
    }

    /// 20 MB, binary bytes and a NUL in INI and YAML inventories, written at test time.
    @Test func oversizedAndBinaryInventories() throws {
        let dir = try TempDir("inv")
        defer { dir.remove() }
        var big = Data("[web]\nweb01\n".utf8)
        big.append(Data(repeating: UInt8(ascii: ";"), count: 20 << 20))
        let bigINI = try dir.write("big.ini", big)
        try Hostile.inventoryRefused("inventory 20 MB ini", file: bigINI, expect: "big.ini: is 20971532 bytes; an inventory is at most 1048576 bytes")
        let bigYAML = try dir.write("big.yml", Data("all:\n  hosts:\n    web01:\n".utf8) + big)
        try Hostile.inventoryRefused("inventory 20 MB yml", file: bigYAML, expect: "big.yml: is 20971557 bytes; an inventory is at most")
        let binINI = try dir.write("bin.ini", Data("[web]\nweb01\nweb".utf8) + Data([0xc3, 0x28, 0xff]) + Data("\n".utf8))
        try Hostile.inventoryRefused("inventory binary ini", file: binINI, expect: "bin.ini:3:4: is not UTF-8 text (byte 0xc3 here)")
        let binYAML = try dir.write("bin.yml", Data("all:\n  hosts:\n    web01: {ansible_user: \"".utf8) + Data([0xff]) + Data("\"}\n".utf8))
        try Hostile.inventoryRefused("inventory binary yml", file: binYAML, expect: "bin.yml:3:28: is not UTF-8 text (byte 0xff here)")
        let nulINI = try dir.write("nul.ini", Data("[web]\nweb01\u{0}x ansible_port=22\n".utf8))
        try Hostile.inventoryRefused("inventory NUL ini", file: nulINI, expect: "nul.ini:2: invalid host name")
    }

    // MARK: Configuration bytes

    /// NUL bytes: Augeas reads text up to a NUL, so a file with one would lose everything
    /// after it. Refused with the line and column, for both MTAs, and the other file of the
    /// item is not fixed either.
    @Test(arguments: [
        ("etc/postfix/main.cf", "myhostname = a.example\nfoo = a\u{0}b\nrelayhost = x\n", "/etc/postfix/main.cf:2:8: holds a NUL byte"),
        ("etc/postfix/main.cf", "myhostname = a.example\n\u{0}relayhost = x\nmynetworks = 127.0.0.0/8\n", "/etc/postfix/main.cf:2:1: holds a NUL byte"),
        ("etc/mail/sendmail.cf", "O LogLevel=9\n#\u{0} comment\nO PrivacyOptions=authwarnings\n", "/etc/mail/sendmail.cf:2:2: holds a NUL byte"),
    ])
    func nulBytesAreRefused(path: String, text: String, expected: String) throws {
        let image = try Hostile.Image.make(Hostile.bothMTAs.merging([path: Data(text.utf8)]) { $1 })
        defer { image.remove() }
        try image.refused("config NUL in \(path)", commands: [["check"], ["plan"], ["apply", "--yes"]], expect: [expected])
    }

    /// Bytes that are not UTF-8 (a Latin-1 comment, 0xff): mtaguard cannot know the encoding,
    /// so it refuses rather than re-encode anything, naming the line and the byte.
    @Test func nonUTF8BytesAreRefused() throws {
        var latin1 = Self.genericCF
        latin1.insert(contentsOf: Data("# Gr".utf8) + Data([0xfc]) + Data("n\n".utf8), at: 0)
        let image = try Hostile.Image.make(["etc/mail/sendmail.cf": latin1, "etc/postfix/main.cf": Self.debianMain])
        defer { image.remove() }
        try image.refused("config latin-1 sendmail.cf", commands: [["check"], ["plan"], ["apply", "--yes"]],
                          expect: ["/etc/mail/sendmail.cf:1:5: is not UTF-8 text (byte 0xfc here)"])
        let image2 = try Hostile.Image.make(["etc/postfix/main.cf": Data("myhostname = a\nrelay = x\n".utf8) + Data([0xff, 0xfe]) + Data("\n".utf8)])
        defer { image2.remove() }
        try image2.refused("config 0xff main.cf", commands: [["check"], ["plan"], ["apply", "--yes"]],
                           expect: ["/etc/postfix/main.cf:3:1: is not UTF-8 text (byte 0xff here)"])
    }

    /// A CRLF main.cf: postfix reads CRLF as LF (postconf agrees below), so mtaguard judges
    /// it the same way and edits it keeping CRLF, the new line included; every other byte stays.
    @Test func crlfMainCfIsEditedInCRLF() throws {
        let crlf = Hostile.crlf(Self.debianMain)
        let image = try Hostile.Image.make(["etc/postfix/main.cf": crlf])
        defer { image.remove() }
        try image.editRoundTrip("config CRLF main.cf", path: "etc/postfix/main.cf", expected: crlf + Data("disable_vrfy_command = yes\r\n".utf8))
        // Already fixed in CRLF: postfix says yes, and so does mtaguard.
        let fixed = crlf + Data("disable_vrfy_command = yes\r\n".utf8)
        let image2 = try Hostile.Image.make(["etc/postfix/main.cf": fixed])
        defer { image2.remove() }
        if let postconf = Hostile.postconf(image2.root.path + "/etc/postfix", "disable_vrfy_command") {
            #expect(postconf == "yes")
        }
        let check = try image2.run(["check", "--item", "SRV-005"])
        #expect(check.status == 0, "\(check)")
        let plan = try image2.run(["plan", "--item", "SRV-005"])
        #expect(plan.status == 0 && plan.stdout.contains("nothing to do"), "\(plan)")
        image2.record("config CRLF main.cf already fixed")
    }

    /// A CRLF sendmail.cf: sendmail reads CRLF as LF too (its fgetfolded); the flags are added
    /// on their own line, which keeps its CRLF.
    @Test func crlfSendmailCfIsEditedInCRLF() throws {
        let crlf = Hostile.crlf(Self.genericCF)
        let image = try Hostile.Image.make(["etc/mail/sendmail.cf": crlf])
        defer { image.remove() }
        let expected = Hostile.replacing("O PrivacyOptions=authwarnings\r\n", with: "O PrivacyOptions=authwarnings,noexpn,novrfy\r\n", in: crlf)
        try image.editRoundTrip("config CRLF sendmail.cf", path: "etc/mail/sendmail.cf", expected: expected)
    }

    /// A file mixing CRLF and LF is read as the MTAs read it (either ending), so one that passes
    /// passes; one that needs a change is refused: nothing says which ending a changed line takes.
    @Test func mixedLineEndingsAreNotRewritten() throws {
        let mixed = "myhostname = a.example\r\nrelayhost = x\r\nmynetworks = 127.0.0.0/8\ndisable_vrfy_command = %@\r\n"
        let passing = try Hostile.Image.make(["etc/postfix/main.cf": Data(mixed.replacingOccurrences(of: "%@", with: "yes").utf8)])
        defer { passing.remove() }
        let check = try passing.run(["check", "--item", "SRV-005"])
        #expect(check.status == 0, "\(check)")
        #expect(check.stdout.contains("/etc/postfix/main.cf:4  \"disable_vrfy_command = yes\""), "\(check)")
        passing.record("config mixed CRLF/LF main.cf that passes")
        let image = try Hostile.Image.make(["etc/postfix/main.cf": Data(mixed.replacingOccurrences(of: "%@", with: "no").utf8)])
        defer { image.remove() }
        try image.refused("config mixed CRLF/LF main.cf", commands: [["check"], ["plan"], ["apply", "--yes"]],
                          expect: ["/etc/postfix/main.cf:3: mixes line endings (line 1 ends in CRLF, line 3 in LF)"])
    }

    /// A 10 MB main.cf would take Augeas many minutes: refused at once, with its size.
    @Test func tenMegabyteMainCfIsRefused() throws {
        var big = Self.debianMain
        let pad = Data(("# " + String(repeating: "x", count: 98) + "\n").utf8)
        while big.count < 10 << 20 { big.append(pad) }
        let image = try Hostile.Image.make(["etc/postfix/main.cf": big])
        defer { image.remove() }
        try image.refused("config 10 MB main.cf", commands: [["check"], ["plan"], ["apply", "--yes"]],
                          expect: ["/etc/postfix/main.cf: is \(big.count) bytes; mtaguard reads configuration files of at most 1048576 bytes, so its bytes were not sent and it is not judged"])
    }

    /// No final newline: the edit appends after the last line, or changes the last line in place
    /// and leaves it without a newline, as the file was.
    @Test func missingFinalNewline() throws {
        let bare = Self.debianMain.dropLast()
        let image = try Hostile.Image.make(["etc/postfix/main.cf": Data(bare)])
        defer { image.remove() }
        try image.editRoundTrip("config main.cf without final newline", path: "etc/postfix/main.cf",
                                expected: Data(bare) + Data("\n".utf8) + Data(Self.fix.utf8))
        let last = Self.debianMain + Data("disable_vrfy_command = no".utf8)
        let image2 = try Hostile.Image.make(["etc/postfix/main.cf": last])
        defer { image2.remove() }
        try image2.editRoundTrip("config main.cf last line changed, no newline", path: "etc/postfix/main.cf",
                                 expected: Self.debianMain + Data("disable_vrfy_command = yes".utf8))
        let cf = Self.genericCF.dropLast()
        let image3 = try Hostile.Image.make(["etc/mail/sendmail.cf": Data(cf)])
        defer { image3.remove() }
        try image3.editRoundTrip(
            "config sendmail.cf without final newline", path: "etc/mail/sendmail.cf",
            expected: Hostile.replacing("O PrivacyOptions=authwarnings\n", with: "O PrivacyOptions=authwarnings,noexpn,novrfy\n", in: Data(cf)))
    }

    // MARK: Links

    /// main.cf as a link, to a file elsewhere in the image and to one outside it; /etc/postfix
    /// and /etc/mail as links to folders outside and inside it. Refused; never written through.
    @Test func symbolicLinksAreRefused() throws {
        let outside = try TempDir("outside")
        defer { outside.remove() }
        try outside.write("main.cf", Self.debianMain)
        try outside.write("postfix/main.cf", Self.debianMain)
        try outside.write("mail/sendmail.cf", Self.genericCF)
        let outsideBefore = Hostile.snapshot(outside.path)

        let cases: [(name: String, setUp: (TempDir) throws -> Void, expect: String)] = [
            ("main.cf links inside the image", { root in
                try root.write("srv/postfix/main.cf", Self.debianMain)
                try FileManager.default.createSymbolicLink(atPath: root.path + "/etc/postfix/main.cf", withDestinationPath: "../../srv/postfix/main.cf")
            }, "/etc/postfix/main.cf: is a symbolic link; mtaguard does not edit through links"),
            ("main.cf links outside the image", { root in
                try FileManager.default.createSymbolicLink(atPath: root.path + "/etc/postfix/main.cf", withDestinationPath: outside.path + "/main.cf")
            }, "/etc/postfix/main.cf: is a symbolic link"),
            ("/etc/postfix links outside the image", { root in
                try FileManager.default.removeItem(atPath: root.path + "/etc/postfix")
                try FileManager.default.createSymbolicLink(atPath: root.path + "/etc/postfix", withDestinationPath: outside.path + "/postfix")
            }, "/etc/postfix/main.cf: the folder /etc/postfix is a symbolic link (to \(outside.path)/postfix) in the --root image"),
            ("/etc/mail links inside the image", { root in
                try root.write("srv/mail/sendmail.cf", Self.genericCF)
                try FileManager.default.createSymbolicLink(atPath: root.path + "/etc/mail", withDestinationPath: "../srv/mail")
            }, "/etc/mail/sendmail.cf: the folder /etc/mail is a symbolic link (to ../srv/mail)"),
        ]
        for c in cases {
            let image = try Hostile.Image.make([:])
            defer { image.remove() }
            try FileManager.default.createDirectory(atPath: image.root.path + "/etc/postfix", withIntermediateDirectories: true)
            try c.setUp(image.root)
            try image.refused("link: \(c.name)", commands: [["check"], ["plan"], ["apply", "--yes"]], expect: [c.expect])
            #expect(Hostile.snapshot(outside.path) == outsideBefore, "\(c.name)")
        }
    }

    /// Rollback meets a link where the run left a file: it refuses and writes nothing through it.
    @Test func rollbackDoesNotWriteThroughALink() throws {
        let outside = try TempDir("outside")
        defer { outside.remove() }
        let image = try Hostile.Image.make(["etc/postfix/main.cf": Self.debianMain])
        defer { image.remove() }
        let apply = try image.run(["apply", "--yes"])
        #expect(apply.status == 0, "\(apply)")
        let runID = try #require(try image.runs().first?["id"] as? String)
        let post = try image.root.read("etc/postfix/main.cf")
        try outside.write("postfix/main.cf", post)
        let main = image.root.path + "/etc/postfix/main.cf"
        try FileManager.default.removeItem(atPath: main)
        try FileManager.default.createSymbolicLink(atPath: main, withDestinationPath: outside.path + "/postfix/main.cf")
        let outsideBefore = Hostile.snapshot(outside.path)
        let rollback = try image.run(["rollback", runID, "--force"])
        #expect(rollback.status == 1, "\(rollback)")
        #expect((rollback.stdout + rollback.stderr).contains("/etc/postfix/main.cf"), "\(rollback)")
        #expect((rollback.stdout + rollback.stderr).contains("symbolic link"), "\(rollback)")
        // The link folder variant: /etc/postfix itself a link out of the image.
        try FileManager.default.removeItem(atPath: image.root.path + "/etc/postfix")
        try FileManager.default.createSymbolicLink(atPath: image.root.path + "/etc/postfix", withDestinationPath: outside.path + "/postfix")
        let before2 = Hostile.snapshot(image.root.path)
        let rollback2 = try image.run(["rollback", runID, "--force"])
        #expect(rollback2.status == 1, "\(rollback2)")
        #expect((rollback2.stdout + rollback2.stderr).contains("the folder /etc/postfix is a symbolic link"), "\(rollback2)")
        let after = Hostile.snapshot(image.root.path), outsideAfter = Hostile.snapshot(outside.path)
        #expect(after == before2 && outsideAfter == outsideBefore)
        let lost = Hostile.bytesLost(outsideBefore, outsideAfter) + Hostile.bytesLost(before2, after)
        FaultLedger.record(.input, "link: rollback through a link", hosts: 1, survived: lost == 0 ? 1 : 0, bytesLost: lost)
    }

    // MARK: Hostile values

    /// Inventory values that pass validation but hold `$()`, backticks, `;`, `|`, `&`, quotes
    /// and blanks reach ssh as single literal arguments (a recording ssh on PATH shows them);
    /// no canary appears, and no run claims a change.
    @Test(arguments: ["hostile-values.ini", "hostile-values.yml"])
    func inventoryValuesReachSSHLiterally(name: String) throws {
        let file = Repo.fixture("hostile/inventories/" + name)
        let yaml = name.hasSuffix(".yml")
        let ssh = try Hostile.RecordingSSH()
        defer { ssh.remove() }
        let cwd = try TempDir("cwd")
        defer { cwd.remove() }
        let backups = try TempDir("backups")
        defer { backups.remove() }
        for command in [["plan"], ["apply", "--yes"]] {
            let r = try Hostile.run(command + ["-i", file], backups: backups.path, path: ssh.folder, cwd: cwd.path)
            #expect(r.status == 1, "\(r)")
            #expect(r.stdout.contains("unreachable") || r.stderr.contains("unreachable"), "\(r)")
        }
        let calls = ssh.calls().filter { !$0.contains("-O") }
        #expect(calls.count == 4, "\(calls)")
        let web = try #require(calls.first { $0.contains("-l") })
        #expect(Array(web.suffix(2)) == ["h;touch${IFS}canary-host", "exec /bin/sh -s"], "\(web)")
        #expect(web[web.firstIndex(of: "-l")! + 1] == "root$(touch${IFS}canary-user)", "\(web)")
        let db = try #require(calls.first { $0.contains("-i") })
        let key = yaml ? "/keys/`touch canary-key` it's \"$(touch canary-key2)\"; x" : "/keys/`touch canary-key` it's $(touch canary-key2); x"
        #expect(db[db.firstIndex(of: "-i")! + 1] == key, "\(db)")
        #expect(Array(db.suffix(2)) == ["db01", "exec /bin/sh -s"], "\(db)")
        let canaries = try FileManager.default.contentsOfDirectory(atPath: cwd.path)
        #expect(canaries.isEmpty, "\(canaries)")
        let runs = try Hostile.runs(backups.path)
        #expect(runs.allSatisfy { !Hostile.claimsChange($0) }, "\(runs)")
        FaultLedger.record(.input, "values: \(name) through ssh", hosts: 1, survived: canaries.isEmpty && runs.isEmpty ? 1 : 0)
    }

    /// `--root` and the backups folder with spaces, quotes, `$()`, backticks, `;` and a newline
    /// in their names: apply and rollback work on them as plain paths, and no canary appears.
    @Test func hostilePathsAreJustPaths() throws {
        let parent = try TempDir("paths")
        defer { parent.remove() }
        let canary = parent.path + "/canary"
        let odd = "a b'c\"d $(touch \(canary)) `touch \(canary)`;touch \(canary)\nline"
        let root = parent.path + "/root " + odd, backups = parent.path + "/backups " + odd
        try FileManager.default.createDirectory(atPath: root + "/etc/postfix", withIntermediateDirectories: true)
        try Self.debianMain.write(to: URL(fileURLWithPath: root + "/etc/postfix/main.cf"))
        let apply = try Hostile.run(["apply", "--root", root, "--yes", "--item", "SRV-005"], backups: backups, cwd: parent.path)
        #expect(apply.status == 0, "\(apply)")
        let main = URL(fileURLWithPath: root + "/etc/postfix/main.cf")
        #expect(try Data(contentsOf: main) == Self.debianMain + Data(Self.fix.utf8))
        let runID = try #require(try Hostile.runs(backups).first?["id"] as? String)
        let rollback = try Hostile.run(["rollback", runID], backups: backups, cwd: parent.path)
        #expect(rollback.status == 0, "\(rollback)")
        let restored = try Data(contentsOf: main)
        #expect(restored == Self.debianMain)
        #expect(!FileManager.default.fileExists(atPath: canary))
        let lost = FaultLedger.bytesLost(expected: Self.debianMain, actual: restored)
        FaultLedger.record(.input, "values: hostile --root and backups paths", hosts: 1,
                           survived: lost == 0 && !FileManager.default.fileExists(atPath: canary) ? 1 : 0, bytesLost: lost)
    }

    /// A playbook whose `set` value and target path hold shell metacharacters: the value is
    /// written literally into a file of that literal name; no canary appears; rollback restores.
    @Test func playbookValuesAreWrittenLiterally() throws {
        let canaryDir = try TempDir("canary")
        defer { canaryDir.remove() }
        let canary = canaryDir.path + "/canary"
        let value = "$(touch \(canary)) `touch \(canary)`; touch \(canary) | x & y \"q\" 'q'"
        let file = "/etc/postfix/main $(touch${IFS}canary);`touch canary` x.cf"
        let yamlValue = value.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"")
        let yamlFile = file.replacingOccurrences(of: "\"", with: "\\\"")
        let books = try TempDir("books")
        defer { books.remove() }
        try books.write("x-1.yaml", """
            id: X-1
            title: hostile values
            targets:
              - mta: postfix
                file: "\(yamlFile)"
                lens: Postfix_Main.lns
                check: { node: mtaguard_test_value, equals: ["\(yamlValue)"] }
                fix: { set: "\(yamlValue)" }
                validate: { after_replace: [sh, -c, "touch \(canary)", "{file}"] }
            """)
        let image = try Hostile.Image.make([String(file.dropFirst()): Self.debianMain])
        defer { image.remove() }
        let plan = try image.run(["plan"], playbooks: books.path, cwd: canaryDir.path)
        #expect(plan.status == 2, "\(plan)")
        #expect(plan.stdout.contains("+mtaguard_test_value = \(value)\n"), "\(plan)")
        let apply = try image.run(["apply", "--yes"], playbooks: books.path, cwd: canaryDir.path)
        #expect(apply.status == 0, "\(apply)")
        let written = try image.root.read(String(file.dropFirst()))
        #expect(written == Self.debianMain + Data("mtaguard_test_value = \(value)\n".utf8))
        let runID = try #require(try image.runs().first?["id"] as? String)
        let rollback = try image.run(["rollback", runID], cwd: canaryDir.path)
        #expect(rollback.status == 0, "\(rollback)")
        let restored = try image.root.read(String(file.dropFirst()))
        #expect(restored == Self.debianMain)
        let touched = !(try FileManager.default.contentsOfDirectory(atPath: canaryDir.path)).isEmpty
        #expect(!touched, "an offline root runs no validator and no shell")
        let lost = FaultLedger.bytesLost(expected: Self.debianMain, actual: restored)
        FaultLedger.record(.input, "values: playbook set value and path", hosts: 1, survived: lost == 0 && !touched ? 1 : 0, bytesLost: lost)
    }

    // MARK: Backups folder

    /// A backups folder others can write (0777, no sticky bit), one owned by another user, and a
    /// link: apply is refused before any change, and so is a rollback read from a folder that
    /// became writable by others after the run.
    @Test func unsafeBackupsFolderIsRefused() throws {
        let cases: [(name: String, setUp: (String) throws -> Void, expect: String)] = [
            ("mode 0777", { chmod($0, 0o777) }, "the backups folder can be written by others (mode 777)"),
            ("owned by uid 65534", { chown($0, 65534, 65534) }, "the backups folder belongs to another user (uid 65534)"),
            ("a symbolic link", { path in
                try FileManager.default.moveItem(atPath: path, toPath: path + ".real")
                try FileManager.default.createSymbolicLink(atPath: path, withDestinationPath: path + ".real")
            }, "the backups folder is a symbolic link"),
        ]
        for c in cases {
            let image = try Hostile.Image.make(Hostile.bothMTAs)
            defer { image.remove(); try? FileManager.default.removeItem(atPath: image.backups.path + ".real") }
            try c.setUp(image.backups.path)
            try image.refused("backups \(c.name)", commands: [["apply", "--yes"]], expect: [c.expect], backupsMayBeUnreadable: true)
            let left = (try? FileManager.default.contentsOfDirectory(atPath: image.backups.path)) ?? []
            #expect(left.isEmpty, "\(c.name): \(left)")
        }
        let image = try Hostile.Image.make(Hostile.bothMTAs)
        defer { image.remove() }
        let apply = try image.run(["apply", "--yes"])
        #expect(apply.status == 0, "\(apply)")
        let runID = try #require(try image.runs().first?["id"] as? String)
        chmod(image.backups.path, 0o777)
        try image.refused("backups 0777 at rollback", commands: [["rollback", runID]],
                          expect: ["the backups folder can be written by others (mode 777)"], backupsMayBeUnreadable: true)
    }
}

/// Images, runs and checks shared by the hostile-input tests.
private enum Hostile {
    static let bothMTAs: [String: Data] = [
        "etc/postfix/main.cf": HostileInputTests.debianMain,
        "etc/mail/sendmail.cf": HostileInputTests.genericCF,
    ]

    /// An offline root and its private backups folder.
    struct Image {
        let root: TempDir
        let backups: TempDir

        static func make(_ files: [String: Data]) throws -> Image {
            let root = try TempDir("hostile-root")
            for (path, data) in files { try root.write(path, data) }
            return Image(root: root, backups: try TempDir("hostile-backups"))
        }

        func remove() {
            chmod(backups.path, 0o700)
            chown(backups.path, 0, 0)
            root.remove()
            backups.remove()
        }

        func run(_ args: [String], playbooks: String = Repo.playbooks, cwd: String? = nil) throws -> CommandResult {
            let rootArgs = ["check", "plan", "apply"].contains(args.first ?? "") ? ["--root", root.path] : []
            return try Hostile.run(args + rootArgs, backups: backups.path, playbooks: playbooks, cwd: cwd)
        }

        func runs() throws -> [[String: Any]] { try Hostile.runs(backups.path) }

        /// Every command exits 1 and says each of `expect`; no byte of the image changes, and no
        /// run is left. Recorded once in the fault ledger.
        func refused(_ name: String, commands: [[String]], expect: [String], playbooks: String = Repo.playbooks,
                     backupsMayBeUnreadable: Bool = false) throws {
            let before = snapshot(root.path)
            var ok = true
            for command in commands {
                let r = try run(command, playbooks: playbooks)
                let out = r.stdout + r.stderr
                ok = ok && r.status == 1 && expect.allSatisfy(out.contains)
                #expect(r.status == 1, "\(name): \(command): \(r)")
                for e in expect { #expect(out.contains(e), "\(name): \(command): wanted '\(e)' in \(r)") }
            }
            let after = snapshot(root.path)
            #expect(after == before, "\(name): the image changed")
            let claims = backupsMayBeUnreadable ? [] : try runs()
            #expect(claims.isEmpty, "\(name): runs left: \(claims)")
            let lost = bytesLost(before, after)
            FaultLedger.record(.input, name, hosts: 1, survived: ok && lost == 0 && claims.isEmpty ? 1 : 0, bytesLost: lost)
        }

        /// `plan` writes nothing, `apply` turns the file at `path` into `expected` (and nothing
        /// else changes), `check` then passes, a second `apply` changes nothing, and `rollback`
        /// gives back the original bytes.
        func editRoundTrip(_ name: String, path: String, expected: Data) throws {
            let before = snapshot(root.path)
            let original = try root.read(path)
            let plan = try run(["plan", "--item", "SRV-005"])
            #expect(plan.status == 2, "\(name): \(plan)")
            #expect(snapshot(root.path) == before, "\(name): plan wrote")
            #expect(try runs().isEmpty)
            let apply = try run(["apply", "--item", "SRV-005", "--yes"])
            #expect(apply.status == 0, "\(name): \(apply)")
            let applied = try root.read(path)
            #expect(applied == expected, "\(name): after apply:\n\(String(decoding: applied.suffix(300), as: UTF8.self).debugDescription)")
            var others = snapshot(root.path)
            others[path] = before[path]
            #expect(others == before, "\(name): another file changed")
            let check = try run(["check", "--item", "SRV-005"])
            #expect(check.status == 0, "\(name): \(check)")
            let again = try run(["apply", "--item", "SRV-005", "--yes"])
            #expect(again.status == 0 && again.stdout.contains("nothing to do"), "\(name): \(again)")
            #expect(try root.read(path) == applied)
            let runID = try #require(try runs().first?["id"] as? String)
            let rollback = try run(["rollback", runID])
            #expect(rollback.status == 0, "\(name): \(rollback)")
            let restored = try root.read(path)
            #expect(restored == original, "\(name): rollback")
            let lost = FaultLedger.bytesLost(expected: expected, actual: applied)
                + FaultLedger.bytesLost(expected: original, actual: restored)
            FaultLedger.record(.input, name, hosts: 1, survived: lost == 0 ? 1 : 0, bytesLost: lost)
        }

        /// For a case whose assertions were made by hand.
        func record(_ name: String) {
            FaultLedger.record(.input, name, hosts: 1, survived: 1)
        }
    }

    /// Runs the binary with a private backups folder, under a 2 GB address-space limit and a
    /// generous time limit: an alias bomb or a huge file must fail fast, not eat the machine.
    static func run(_ args: [String], backups: String, playbooks: String = Repo.playbooks, path: String? = nil,
                    cwd: String? = nil) throws -> CommandResult {
        var argv = args
        if ["check", "plan", "apply"].contains(args.first ?? "") { argv += ["--playbooks", playbooks] }
        var env = ["MTAGUARD_BACKUPS": backups]
        if let path { env["PATH"] = path + ":" + (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin") }
        return try runCommand(
            ["timeout", "300", "sh", "-c", "ulimit -v 2000000 && exec \"$0\" \"$@\"", Repo.binary] + argv,
            environment: env, currentDirectory: cwd)
    }

    static func runs(_ backups: String) throws -> [[String: Any]] {
        let r = try runCommand([Repo.binary, "runs", "--format", "json", "--backups", backups])
        guard r.status == 0 else { return [["unreadable": r.description]] }
        return (try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [[String: Any]]) ?? []
    }

    static func claimsChange(_ run: [String: Any]) -> Bool {
        ["changed", "partial", "running"].contains(run["outcome"] as? String ?? "")
    }

    /// An inventory that must be refused before any host: exit 1 with `expect`, for check,
    /// plan and apply, and ssh never runs.
    static func inventoryRefused(_ name: String, file: String, expect: String) throws {
        let ssh = try RecordingSSH()
        defer { ssh.remove() }
        let backups = try TempDir("backups")
        defer { backups.remove() }
        var ok = true
        for command in [["check"], ["plan"], ["apply", "--yes"]] {
            let r = try run(command + ["-i", file], backups: backups.path, path: ssh.folder, cwd: ssh.folder)
            ok = ok && r.status == 1 && r.stderr.contains(expect)
            #expect(r.status == 1, "\(name): \(r)")
            #expect(r.stderr.contains(expect), "\(name): wanted '\(expect)' in \(r)")
        }
        let calls = ssh.calls()
        #expect(calls.isEmpty, "\(name): ssh ran: \(calls)")
        let claims = try runs(backups.path)
        #expect(claims.isEmpty)
        let leftovers = try FileManager.default.contentsOfDirectory(atPath: ssh.folder).filter { $0 != "ssh" && $0 != "calls" }
        #expect(leftovers.isEmpty, "\(name): \(leftovers)")
        FaultLedger.record(.input, name, hosts: 1, survived: ok && calls.isEmpty && claims.isEmpty && leftovers.isEmpty ? 1 : 0)
    }

    /// Playbook folders that must be refused: exit 1 with `expect` for check, plan and apply on
    /// an image with both MTAs, which stays as it was.
    static func refusedEverywhere(_ name: String, playbooks: String, expect: [String]) throws {
        let image = try Image.make(bothMTAs)
        defer { image.remove() }
        try image.refused(name, commands: [["check"], ["plan"], ["apply", "--yes"]], expect: expect, playbooks: playbooks)
    }

    /// An `ssh` stand-in first on PATH: records each argument vector in a file of its own
    /// (hosts run in parallel; fields split by 0x01) and fails as an unreachable host does.
    struct RecordingSSH {
        let dir: TempDir
        var folder: String { dir.path }

        init() throws {
            dir = try TempDir("ssh")
            try FileManager.default.createDirectory(atPath: dir.path + "/calls", withIntermediateDirectories: true)
            let script = """
                #!/bin/sh
                f=$(mktemp '\(dir.path)/calls/call.XXXXXX') || exit 99
                for a; do printf '%s\\001' "$a"; done > "$f"
                echo "ssh: connect to host x port 22: Connection refused" >&2
                exit 255

                """
            try dir.write("ssh", script, mode: 0o755)
        }

        /// The calls so far (and forgets them).
        func calls() -> [[String]] {
            let names = (try? FileManager.default.contentsOfDirectory(atPath: dir.path + "/calls")) ?? []
            return names.sorted().compactMap { name in
                let path = dir.path + "/calls/" + name
                defer { try? FileManager.default.removeItem(atPath: path) }
                guard let data = FileManager.default.contents(atPath: path) else { return nil }
                return String(decoding: data, as: UTF8.self).split(separator: "\u{1}", omittingEmptySubsequences: false)
                    .dropLast().map(String.init)
            }
        }

        func remove() { dir.remove() }
    }

    /// Every entry under `path`: file bytes, "-> target" for links, "" for folders.
    static func snapshot(_ path: String) -> [String: Data] {
        var out: [String: Data] = [:]
        guard let walker = FileManager.default.enumerator(atPath: path) else { return out }
        while let relative = walker.nextObject() as? String {
            let full = path + "/" + relative
            var st = stat()
            guard lstat(full, &st) == 0 else { continue }
            switch st.st_mode & S_IFMT {
            case S_IFLNK:
                out[relative] = Data(("-> " + ((try? FileManager.default.destinationOfSymbolicLink(atPath: full)) ?? "?")).utf8)
            case S_IFREG:
                out[relative] = FileManager.default.contents(atPath: full) ?? Data("unreadable".utf8)
            default:
                out[relative + "/"] = Data(String(st.st_mode & 0o7777, radix: 8).utf8)
            }
        }
        return out
    }

    static func bytesLost(_ before: [String: Data], _ after: [String: Data]) -> Int {
        Set(before.keys).union(after.keys).reduce(0) {
            $0 + FaultLedger.bytesLost(expected: before[$1] ?? Data(), actual: after[$1] ?? Data())
        }
    }

    static func crlf(_ data: Data) -> Data {
        Data(String(decoding: data, as: UTF8.self).replacingOccurrences(of: "\n", with: "\r\n").utf8)
    }

    static func replacing(_ old: String, with new: String, in data: Data) -> Data {
        let text = String(decoding: data, as: UTF8.self)
        precondition(text.components(separatedBy: old).count == 2, "'\(old)' must occur once")
        return Data(text.replacingOccurrences(of: old, with: new).utf8)
    }

    /// What postfix itself reads for `name` from the main.cf in `folder`, when postconf is here.
    static func postconf(_ folder: String, _ name: String) -> String? {
        guard let r = try? runCommand(["postconf", "-c", folder, "-h", name]), r.status == 0 else { return nil }
        return r.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
    }
}
