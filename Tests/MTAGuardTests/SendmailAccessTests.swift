import Foundation
import Testing

@testable import MTAGuard

/// U-47 for sendmail's access map and class R (relay-domains), with the real sendmail as the
/// judge: m4 builds each cf from a .mc with FEATURE(`access_db') (and the features under test),
/// the real makemap compiles each generated map, and `sendmail -bt` runs Basic_check_rcpt with
/// `{client_addr}` (and `{client_name}`, `{client_resolve}`, the sender) an outside client
/// picks. mtaguard reads the same tree with `--root`, and must agree.
@Suite(.serialized) struct SendmailAccessTests {
    /// One relay question to sendmail: the client, its name and whether the name resolved, the
    /// sender it gives and the recipient it names.
    struct Query {
        var address = "192.0.2.1"
        var name = ""
        var resolve = ""
        var sender = "someone@b.example"
        var recipient = "probe@elsewhere.example"
    }

    /// A root with etc/mail/sendmail.cf built from a .mc, the map and class R file; `btCf` is
    /// the same cf naming the files under the root, for the real sendmail.
    struct Site {
        let dir: TempDir
        let cf: String
        let btCf: String

        /// The real sendmail's answer to each query: true where it relays.
        func sendmailRelays(_ queries: [Query]) throws -> [Bool] {
            let packages = try MTAPackages.locate()
            let sw = try dir.write("service.switch", "hosts files\naliases files\n")
            let input = queries.map {
                ".D{client_addr}\($0.address)\n.D{client_name}\($0.name)\n.D{client_resolve}\($0.resolve)\n.Df<\($0.sender)>\nBasic_check_rcpt <\($0.recipient)>\n"
            }.joined()
            let r = try runCommand(
                ["unshare", "-u", "sh", "-c", "hostname \(ExtractedMTA.hostName) && exec \"$@\"", "sh",
                 packages.sendmailBinary, "-bt", "-C", btCf, "-OServiceSwitchFile=\(sw)",
                 // The test's files sit under /tmp, which sendmail calls unsafe.
                 "-ODontBlameSendmail=MapInUnsafeDirPath,ClassFileInUnsafeDirPath"],
                stdin: input, environment: ["LD_LIBRARY_PATH": packages.sendmailLibraries])
            let answers = r.stdout.split(separator: "\n").filter { $0.hasPrefix("Basic_check_rcpt returns:") }
            #expect(answers.count == queries.count, "\(r)")
            return answers.map { !$0.contains("$# error") }
        }

        /// mtaguard's U-47 evidence for the cf (the first: a map finding names the map).
        func evidence() throws -> [String: Any] {
            try #require(try SendmailRelayTests.evidence(dir.path).first)
        }

        func remove() { dir.remove() }
    }

    static func site(
        map: String?, classR: String? = nil, features: String = "", access: String = "`hash -T<TMPF> -o /etc/mail/access'"
    ) throws -> Site {
        let packages = try MTAPackages.locate()
        let dir = try TempDir("smaccess")
        do {
            try FileManager.default.createDirectory(atPath: dir.path + "/etc/mail", withIntermediateDirectories: true)
            var lines = "FEATURE(`access_db', \(access))dnl\n" + features
            if classR != nil { lines += "define(`confCR_FILE', `-o /etc/mail/relay-domains')dnl\n" }
            let mc = try String(contentsOfFile: SendmailRelayTests.fixtures + "/generic-linux.mc", encoding: .utf8)
                .replacingOccurrences(of: "MAILER(local)dnl\n", with: lines + "MAILER(local)dnl\n")
            let mcPath = try dir.write("sendmail.mc", mc)
            let cf = try SendmailRelayTests.buildCf(mc: mcPath, cfDirectory: packages.cfDirectory, in: dir)
            let text = try String(contentsOfFile: cf, encoding: .utf8)
            let bt = try dir.write("bt.cf", text
                .replacingOccurrences(of: " /etc/mail/access", with: " " + dir.path + "/etc/mail/access")
                .replacingOccurrences(of: "-o /etc/mail/relay-domains", with: "-o " + dir.path + "/etc/mail/relay-domains"))
            if let map {
                _ = try dir.write("etc/mail/access", map)
                let made = try runCommand(
                    [packages.folder + "/sendmail/usr/libexec/sendmail/makemap", "-C", bt, "hash", dir.path + "/etc/mail/access"],
                    stdin: map, environment: ["LD_LIBRARY_PATH": packages.sendmailLibraries])
                #expect(made.status == 0, "\(made)")
            }
            if let classR { _ = try dir.write("etc/mail/relay-domains", classR) }
            return Site(dir: dir, cf: cf, btCf: bt)
        } catch {
            dir.remove()
            throw error
        }
    }

    /// A small deterministic generator (xorshift), so that a failure names a map to rerun.
    struct Generator {
        var state: UInt64
        mutating func next(_ n: Int) -> Int {
            state ^= state << 13; state ^= state >> 7; state ^= state << 17
            return Int(state % UInt64(n))
        }
        mutating func pick<T>(_ a: [T]) -> T { a[next(a.count)] }
    }

    static let firstOctets: [UInt32] = [8, 45, 98, 151, 203, 10, 172, 192, 127]
    static let actions = ["RELAY", "relay", "OK", "REJECT", "DISCARD", "SKIP", "550 5.7.1 go away", "ERROR:5.7.1:no", "RELAY extra"]

    /// An address key of 1 to 4 octets under one of `firstOctets` (172.16-31 and 192.168 for
    /// the private ones), tagged `Connect:` or not.
    static func addressKey(_ g: inout Generator) -> (key: String, octets: [UInt32]) {
        let first = g.pick(firstOctets)
        var octets = [first]
        let second: UInt32 = first == 172 ? UInt32(16 + g.next(16)) : first == 192 ? 168 : UInt32(g.next(3) * 50 + 1)
        for fill in [second, UInt32(g.next(3) * 100 + 2), UInt32(g.next(3) * 7 + 9)].prefix(g.next(4)) { octets.append(fill) }
        let tag = g.pick(["Connect:", "", "connect:"])
        return (tag + octets.map(String.init).joined(separator: "."), octets)
    }

    /// Generated maps (address keys of each length, tagged and not, every kind of action, From:
    /// and To: keys) with generated features (relay_mail_from, access_db's `skip`): sendmail's
    /// answer for an outside address and for one inside every address key is what mtaguard's
    /// reading of the map (ruleset A: tag then untagged, longest prefix first, first line per
    /// key) says; mtaguard's verdict is 취약 exactly where sendmail relays for an address in a
    /// whole public or private range (the evidence names one, and sendmail relays for it), or
    /// for the sender the attacker picks, and 양호 where only single hosts and small networks
    /// relay.
    @Test func generatedMapsAgreeWithSendmail() throws {
        var g = Generator(state: 0x5eed_cafe_f00d_0001)
        var verdicts: [String: Int] = [:]
        for round in 0..<14 {
            var map = "# generated map \(round)\n\n"
            var keys: [[UInt32]] = [], seen = Set<String>()
            for _ in 0..<(3 + g.next(4)) {
                let (key, octets) = Self.addressKey(&g)
                // makemap refuses a duplicate key.
                guard seen.insert(key.lowercased()).inserted else { continue }
                keys.append(octets)
                map += "\(key)\t\(g.pick(Self.actions))\n"
            }
            map += "From:evil@x.example\t\(g.pick(["RELAY", "OK"]))\nTo:partner.example\tRELAY\nGreetPause:localhost\t0\n"
            let mailFrom = g.next(2) == 0
            let skip = g.next(2) == 0
            let site = try Self.site(
                map: map, features: mailFrom ? "FEATURE(`relay_mail_from')dnl\n" : "",
                access: "`hash -T<TMPF> -o /etc/mail/access'" + (skip ? ", `skip'" : ""))
            defer { site.remove() }
            let label = "map \(round) (relay_mail_from \(mailFrom), skip \(skip)):\n\(map)"

            let entries = SendmailAccessMap.entries(map)
            let samples = ["192.0.2.1"] + keys.map { ($0 + [1, 2, 3]).prefix(4).map(String.init).joined(separator: ".") }
            let evidence = try site.evidence()
            let note = evidence["note"] as? String ?? ""
            let witness = note.range(of: #"an outside client at ([0-9.]+) relays"#, options: .regularExpression)
                .map { String(note[$0].split(separator: " ")[4]) }
            let queries = samples.map { Query(address: $0) } + [Query(sender: "evil@x.example")] + (witness.map { [Query(address: $0)] } ?? [])
            let relays = try site.sendmailRelays(queries)
            guard relays.count == queries.count else { continue }
            for (i, sample) in samples.enumerated() {
                let decided = SendmailAccessMap.answer(for: sample, in: entries)
                #expect((decided?.relays ?? false) == relays[i], "\(sample): sendmail relays=\(relays[i]), mtaguard's lookup \(String(describing: decided)); \(label)")
            }
            let status = evidence["status"] as? String ?? ""
            verdicts[status, default: 0] += 1
            let senderRelays = relays[samples.count]
            switch status {
            case "fail":
                if let witness {
                    #expect(relays.last == true, "sendmail does not relay for the witness \(witness): \(note)\n\(label)")
                } else {
                    #expect(note.contains("MAIL FROM:<evil@x.example>") && senderRelays, "\(note)\n\(label)")
                }
            case "pass":
                #expect(!senderRelays || relays[0], "sendmail relays for the sender the client chose: \(label)")
                for (i, sample) in samples.enumerated() where relays[i] {
                    let key = try #require(SendmailAccessMap.answer(for: sample, in: entries))
                    let octets = try #require(SendmailAccessMap.ipv4Prefix(SendmailAccessMap.tag(key.key).rest))
                    #expect(SendmailAccessMap.reach(ipv4: octets).isSmall, "\(sample) relays through \(key.shown), yet 양호: \(note)\n\(label)")
                }
            default:
                Issue.record("\(status): \(note)\n\(label)")
            }
        }
        #expect(verdicts["fail", default: 0] > 0 && verdicts["pass", default: 0] > 0, "\(verdicts)")
    }

    /// Host-name keys, recipient keys, sender keys and class R entries, each where sendmail
    /// relays for exactly whom mtaguard says.
    @Test(arguments: [
        // A client's name: relays only when its reverse DNS name is confirmed (FORGED is refused).
        ("Connect:partner.example\tRELAY\n", nil, "", "pass", "forward lookup",
         [(Query(name: "mx.partner.example", resolve: "OK"), true), (Query(name: "mx.partner.example", resolve: "FORGED"), false), (Query(), false)]),
        ("connect:com\tRELAY\n", nil, "", "fail", "top-level domain 'com'", [(Query(name: "mx.attacker.com", resolve: "OK"), true)]),
        ("partner.example\tRELAY\n", nil, "", "pass", "partner.example and its subdomains only",
         [(Query(recipient: "probe@partner.example"), true), (Query(), false)]),
        ("To:partner.example\tRELAY\n", nil, "", "pass", "partner.example and its subdomains only",
         [(Query(recipient: "probe@mx.partner.example"), true), (Query(), false)]),
        ("To:org\tRELAY\n", nil, "", "fail", "any domain in the top-level domain 'org'", [(Query(recipient: "probe@elsewhere.org"), true)]),
        ("From:evil@x.example\tRELAY\n", nil, "", "pass", "does not open relaying", [(Query(sender: "evil@x.example"), false)]),
        ("From:evil@x.example\tRELAY\n", nil, "FEATURE(`relay_mail_from')dnl\n", "fail", "MAIL FROM:<evil@x.example>",
         [(Query(sender: "evil@x.example"), true), (Query(), false)]),
        ("Connect:127.0.0.1\tRELAY\nConnect:localhost\tRELAY\n", "10.1\n", "", "fail", "whole private range",
         [(Query(address: "10.1.77.5"), true), (Query(), false)]),
        (nil, "# relay for\n192.0.2.7\npartner.example 198.51.100\n", "", "pass", "one address",
         [(Query(address: "192.0.2.7"), true), (Query(address: "198.51.100.7"), false), (Query(), false), (Query(recipient: "probe@partner.example"), true)]),
        (nil, "net\n", "", "fail", "top-level domain 'net'", [(Query(recipient: "probe@elsewhere.net"), true)]),
        // IPv6 prefixes: ruleset A strips a group at a time ("::1" first).
        ("Connect:IPv6:2001:db8\tRELAY\n", nil, "", "fail", "whole IPv6 range", [(Query(address: "IPv6:2001:db8::1"), true), (Query(), false)]),
        ("Connect:IPv6:2001:db8:1:2:3\tRELAY\n", nil, "", "pass", "small IPv6 network",
         [(Query(address: "IPv6:2001:db8:1:2:3::1"), true), (Query(address: "IPv6:2001:db8::1"), false)]),
    ] as [(String?, String?, String, String, String, [(Query, Bool)])])
    func namesRecipientsSendersAndClassR(map: String?, classR: String?, features: String, status: String, phrase: String, queries: [(Query, Bool)]) throws {
        let site = try Self.site(map: map ?? "", classR: classR, features: features)
        defer { site.remove() }
        let relays = try site.sendmailRelays(queries.map(\.0))
        #expect(relays == queries.map(\.1), "sendmail: \(relays)")
        let evidence = try site.evidence()
        #expect(evidence["status"] as? String == status, "\(evidence)")
        #expect((evidence["note"] as? String ?? "").contains(phrase), "\(evidence)")
        if status == "fail" {
            let note = evidence["note"] as? String ?? ""
            #expect(note.contains("mtaguard never edits the access map"), "\(note)")
            #expect(evidence["file"] as? String == (map == nil || classR != nil ? "/etc/mail/relay-domains" : "/etc/mail/access"), "\(evidence)")
        }
    }

    /// A map mtaguard cannot establish is for a person, never 양호: its source changed after the
    /// compiled map, the compiled map missing, a class mtaguard does not read, a sequence, a
    /// class R file read through a scanf pattern. The map says Connect:8 RELAY (open) in each.
    @Test(arguments: ["stale", "no .db", "ldap", "sequence", "pattern", "no source"])
    func whatCannotBeEstablishedIsForAPerson(case name: String) throws {
        let site = try Self.site(map: "Connect:192.0.2.7\tRELAY\n", classR: name == "pattern" ? "192.0.2.7\n" : nil)
        defer { site.remove() }
        let access = site.dir.path + "/etc/mail/access"
        var cf = try String(contentsOfFile: site.cf, encoding: .utf8)
        switch name {
        case "stale":
            try Data("Connect:8\tRELAY\n".utf8).write(to: URL(fileURLWithPath: access))
            _ = try runCommand(["touch", "-d", "2020-01-01", access + ".db"])
        case "no .db": try FileManager.default.removeItem(atPath: access + ".db")
        case "no source": try FileManager.default.removeItem(atPath: access)
        case "ldap": cf = cf.replacingOccurrences(of: "Kaccess hash -T<TMPF> -o /etc/mail/access", with: "Kaccess ldap -T<TMPF> -1 -v sendmailMTAMapValue")
        case "sequence": cf = cf.replacingOccurrences(of: "Kaccess hash -T<TMPF> -o /etc/mail/access", with: "Kaccess sequence local remote")
        default: cf = cf.replacingOccurrences(of: "FR-o /etc/mail/relay-domains\n", with: "FR-o /etc/mail/relay-domains %[0-9.]\n")
        }
        try Data(cf.utf8).write(to: URL(fileURLWithPath: site.cf))
        let evidence = try site.evidence()
        #expect(evidence["status"] as? String == "review", "\(name): \(evidence)")
        let note = evidence["note"] as? String ?? ""
        let expected = [
            "stale": "/etc/mail/access was changed after /etc/mail/access.db was built",
            "no .db": "/etc/mail/access.db, which sendmail answers from, does not exist",
            "no source": "its source /etc/mail/access does not exist",
            "ldap": "mtaguard cannot read ldap maps", "sequence": "mtaguard cannot read sequence maps",
            "pattern": "scanf pattern",
        ][name] ?? "?"
        #expect(note.contains(expected), "\(name): \(note)")
    }

    /// The cf's lines and a map's text as sendmail and makemap read them, one case per thing
    /// the real sendmail taught: class R takes only the first word of a file's line (a second
    /// word relayed nothing); `relay` relays like `RELAY`, `RELAY extra` does not; the longest
    /// prefix answers, tagged before untagged; makemap keeps a key's first line.
    @Test func cfAndMapAreReadAsSendmailReadsThem() {
        let lines = SendmailAccessFacts.lines(
            "# Kaccess hash /commented\nK access btree -o -T<TMPF> /etc/mail/access.db\nFR-o/etc/mail/relay-domains\n"
                + "F{R} /etc/mail/more %[0-9.]\nFR|/bin/cat x\nCRpartner.example 192.0.2\n")
        let map = SendmailAccessFacts.accessMap(lines)
        #expect(map?.mapClass == "btree" && map?.file == "/etc/mail/access.db" && map?.line == 2)
        #expect(SendmailAccessFacts.source(mapClass: "btree", file: "/etc/mail/access.db") == .init(path: "/etc/mail/access", suffix: ".db"))
        #expect(SendmailAccessFacts.source(mapClass: "ldap", file: "/x") == nil)
        let files = SendmailAccessFacts.classFiles(lines)
        #expect(files.map(\.file) == ["/etc/mail/relay-domains", "/etc/mail/more", nil])
        #expect(files.prefix(2).map(\.pattern) == [false, true])
        #expect(files.map(\.optional) == [true, false, false])
        #expect(SendmailAccessFacts.classEntries(lines).map(\.entry) == ["partner.example", "192.0.2"])

        let entries = SendmailAccessMap.entries(
            "Connect:203.0.113 relay\nConnect:203.0.113.9 REJECT\n203.0.113.9 RELAY\n198 RELAY extra\nconnect:203.0.113 OK\n # indented\n")
        #expect(entries.map(\.key) == ["connect:203.0.113", "connect:203.0.113.9", "203.0.113.9", "198"])
        #expect(SendmailAccessMap.answer(for: "203.0.113.9", in: entries)?.value == "REJECT")
        #expect(SendmailAccessMap.answer(for: "203.0.113.7", in: entries)?.relays == true)
        #expect(SendmailAccessMap.answer(for: "198.51.100.7", in: entries)?.relays == false)

        var facts = PostfixTableFacts()
        facts.files["/etc/mail/relay-domains"] = .read(
            FileSnapshot(path: "/etc/mail/relay-domains", bytes: Data("partner.example 8\n#9\n".utf8), mode: 0o644, uid: 0, gid: 0))
        let judged = SendmailAccessMap.judge(
            cf: SendmailAccessFacts.lines("FR-o /etc/mail/relay-domains\n"), cfFile: "/etc/mail/sendmail.cf", facts: facts, mailFrom: false)
        #expect(judged.opens.isEmpty && judged.review.isEmpty, "the second word, 8, is not in class R: \(judged.opens.map(\.note))")
        #expect(judged.limited.count == 2, "\(judged.limited)")
        // A class R file that is not there: nothing where -o makes it optional, else for a person.
        facts.files["/etc/mail/relay-domains"] = .absent
        for (line, review) in [("FR-o /etc/mail/relay-domains\n", false), ("FR/etc/mail/relay-domains\n", true)] {
            let j = SendmailAccessMap.judge(cf: SendmailAccessFacts.lines(line), cfFile: "/etc/mail/sendmail.cf", facts: facts, mailFrom: false)
            #expect(j.review.contains { $0.contains("/etc/mail/relay-domains does not exist") } == review, "\(line): \(j.review)")
        }
    }

    /// The facts script reads the map and class R files the cf names, as the Swift reader
    /// names them for `--root`; hostile names (`$(…)`, quotes, `..`) are data, never run; a
    /// compiled map older than its source is stale; a map the login cannot read is said.
    @Test func theFactsScriptReadsTheMapAndHostileNamesAreData() throws {
        let dir = try TempDir("smaccess-script")
        defer { dir.remove() }
        let pwned = dir.path + "/pwned"
        let cf = try dir.write("etc/sendmail.cf", """
            # Kaccess hash /commented/out
            V10/Berkeley
            FR-o \(dir.path)/etc/relay-domains
            FR\(dir.path)/it's
            F{R}-o \(dir.path)/etc/../etc/relay-domains
            FR|/bin/echo relayed
            FR-o\(dir.path)/x$(touch${IFS}\(pwned))
            Kaccess hash -T<TMPF> -o \(dir.path)/private/access.db

            """, mode: 0o644)
        try dir.write("etc/relay-domains", "10.1\n", mode: 0o644)
        try dir.write("it's", "partner.example\n", mode: 0o644)
        try dir.write("private/access", "Connect:8 RELAY\n", mode: 0o600)
        try dir.write("private/access.db", "x", mode: 0o644)
        _ = try runCommand(["touch", "-d", "2020-01-01", dir.path + "/private/access.db"])
        for d in [dir.path, dir.path + "/etc", dir.path + "/private"] { chmod(d, 0o755) }

        let script = RemoteScript()
        var request = FactsRequest(paths: [cf])
        request.sendmailAccess = cf
        let text = script.facts(request)
        ScriptRecorder.record(text)
        let swift = SendmailAccessFacts.references(cf: try String(contentsOfFile: cf, encoding: .utf8))
        #expect(swift.map(\.path) == [dir.path + "/private/access", dir.path + "/etc/relay-domains", dir.path + "/it's", dir.path + "/x$(touch${IFS}\(pwned))"])
        #expect(swift.first?.suffix == ".db")
        for user in ["root", "nobody"] {
            let run = try runCommand(["runuser", "-u", user, "--", "sh", "-s"], stdin: text.text)
            let facts = try script.parseFacts(run.stdout, paths: [cf], host: "t")
            #expect(!FileManager.default.fileExists(atPath: pwned), "a map name ran as code")
            let t = try #require(facts.sendmailAccess, "\(run)")
            #expect(Set(t.files.keys) == Set(swift.map(\.path)), "awk \(t.files.keys.sorted()) swift \(swift.map(\.path))")
            if case .read(let s)? = t.files[dir.path + "/etc/relay-domains"] { #expect(s.bytes == Data("10.1\n".utf8)) } else { Issue.record("\(user): \(t.files)") }
            if case .stale? = t.compiled[dir.path + "/private/access"] {} else { Issue.record("\(user): not stale: \(t.compiled)") }
            if user == "nobody" {
                guard case .unread(let why)? = t.files[dir.path + "/private/access"] else { Issue.record("nobody: \(t.files)"); continue }
                #expect(why.contains("EACCES"), "\(why)")
            }
        }
    }
}

/// U-47 over real SSH on a lab host and with `--root` on the same tree: a map that lets a whole
/// /8 relay is 취약 naming the map, key and line for root; the same map unreadable to a
/// non-root login is 수동 확인 naming it, never 양호.
@Suite(.serialized) struct SendmailAccessOverSSHTests {
    @Test func aWideKeyOpensRelayingAndAnUnreadableMapIsForAPerson() throws {
        let site = try SendmailAccessTests.site(map: "# access\nConnect:127.0.0.1\tRELAY\nConnect:8\tRELAY\n")
        defer { site.remove() }
        let bench = try UnreachedFileTests.Bench.start("smaccess", loginPrefix: "smaccess-")
        defer { bench.stop() }
        let host = bench.lab.host("smaccess")
        let folders = [host.root + "/etc/mail", bench.image + "/etc/mail"]
        for folder in folders {
            for f in ["sendmail.cf", "access", "access.db"] {
                try FileManager.default.copyItem(atPath: site.dir.path + "/etc/mail/" + f, toPath: folder + "/" + f)
                chmod(folder + "/" + f, 0o644)
            }
            // The copy is as new as its source: the compiled map stays current.
            _ = try runCommand(["touch", "-d", "2020-01-01", folder + "/access"])
        }
        let a = try UnreachedFileTests.agreedFindings(bench, "U-47", asRoot: true)
        #expect(a.count == 1 && a[0].hasPrefix("U-47 fail "), "\(a)")
        #expect(a.first?.contains("/etc/mail/access line 3: 'connect:8 RELAY' lets every client in the /8 network 8 relay") == true, "\(a)")

        for folder in folders { chmod(folder + "/access", 0o600) }
        let c = try UnreachedFileTests.agreedFindings(bench, "U-47")
        #expect(c.count == 1 && c[0].hasPrefix("U-47 review "), "\(c)")
        #expect(c.first?.contains("/etc/mail/access exists but cannot be read by the login user: permission denied (EACCES)") == true, "\(c)")
    }
}

extension PostfixAccessTable.Reach {
    /// A single host or small network (or nobody outside).
    var isSmall: Bool {
        if case .nobody = self { return true }
        return false
    }
}
