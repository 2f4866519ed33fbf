import Foundation
import Testing

/// postfix's relay judgement (U-47) proved on generated main.cf files, with a real postfix as
/// the judge: for each case, `mtaguard check --item U-47 --root` on the file, and a real
/// postfix reloaded with the same file answering an SMTP client that is really outside (a
/// network namespace the suite creates; the client's address is in none of the host's own
/// networks, only in its class C network, so `mynetworks_style = class` really trusts it).
/// The client says EHLO, then tries MAIL FROM the null sender and a sender the generated
/// tables may favour, each with RCPT TO an outside domain.
///
/// What must agree: mtaguard 취약 (fail) ⇔ one of the attempts gets a 2xx to RCPT; 양호 (pass)
/// ⇔ none does. 수동 확인 (review) only where the generator put a table mtaguard documents it
/// does not decide (a regexp client table), and never where postfix relays. Where neither
/// list can refuse, smtpd refuses to run: the client gets no greeting, the maillog says why,
/// and mtaguard says 양호 naming it. A whole private range in mynetworks is 취약 by mtaguard's
/// policy although this client is refused: those cases assert that rule, not the wire.
/// Every table key is one the attacker can reach (the senders, HELO name and recipient it
/// tries) or a client network that covers it or not. For every third case mtaguard fails, `apply`
/// runs on the root, `postfix check` accepts the applied file and the real postfix then
/// refuses every attempt.
///
/// One disagreement is not fixed yet: a client table that rejects every IPv4 client
/// (`0.0.0.0/0 REJECT`) ahead of what would open is not followed, so mtaguard says 취약 where
/// postfix refuses; such cases are counted and printed, and may only err that way.
///
/// The seed is printed with every failure; replay with MTAGUARD_RELAY_DIFF_SEED=SEED (and
/// MTAGUARD_RELAY_DIFF_CASES=N for another number of cases, 150 by default).
@Suite(.serialized, .enabled(if: Postconf.available, "postconf (postfix) is not installed"))
struct PostfixRelayDifferentialTests {
    static let seed = CaseSeed.seed("MTAGUARD_RELAY_DIFF_SEED")
    static let cases = CaseSeed.cases("MTAGUARD_RELAY_DIFF_CASES", default: 150)

    struct Failure: Error, CustomStringConvertible { var description: String }

    /// A namespace joined to this machine by a veth pair: the host's end `host` (a /30, listed
    /// in inet_interfaces), and two clients, /32s routed over the pair: `client` outside the
    /// host's subnet but inside its class C network, `farClient` outside both (a client table
    /// entry that rejects one of them does not hide what any other outside client gets).
    final class Outside {
        let name: String, hostSide: String, host: String, client: String, farClient: String, linkNetwork: String

        init() throws {
            let pid = Int(getpid())
            // Addresses on this machine must not clash with an earlier run's leftovers.
            let taken = (try? runCommand(["ip", "-o", "addr"]))?.stdout ?? ""
            let k = (0..<30).map { (pid + $0) % 30 }.first { !taken.contains("203.0.113.\(4 * $0 + 1)/") } ?? pid % 30
            name = "mtg-pfdiff-\(pid)"
            hostSide = "mtgpd\(pid % 100000)a"
            host = "203.0.113.\(4 * k + 1)"
            client = "203.0.113.\(128 + k)"
            farClient = "198.18.\(k).2"
            linkNetwork = "203.0.113.\(4 * k)/30"
            let peer = "mtgpd\(pid % 100000)b"
            // Two batches for ip(8): this machine's side, then the namespace's.
            let here = """
                netns add \(name)
                link add \(hostSide) type veth peer name \(peer)
                link set \(peer) netns \(name)
                addr add \(host)/30 dev \(hostSide)
                link set \(hostSide) up
                route add \(client)/32 dev \(hostSide)
                route add \(farClient)/32 dev \(hostSide)
                """
            let there = """
                addr add \(client)/32 dev \(peer)
                addr add \(farClient)/32 dev \(peer)
                link set \(peer) up
                link set lo up
                route add \(host)/32 dev \(peer)
                """
            for (argv, batch) in [(["ip", "-batch", "-"], here), (["ip", "-n", name, "-batch", "-"], there)] {
                let r = try runCommand(argv, stdin: batch + "\n")
                guard r.status == 0 else {
                    remove()
                    throw Failure(description: "ip \(batch): \(r)")
                }
            }
        }

        /// Removes the namespace (with the peer) and the host's end (with its route). Idempotent.
        func remove() {
            _ = try? runCommand(["ip", "link", "del", hostSide])
            _ = try? runCommand(["ip", "netns", "del", name])
        }
    }

    /// One SMTP session from each client address (comma-separated) inside the namespace
    /// (python3's sockets, run there): the greeting, and only if it holds `tag`, the commands'
    /// replies. Prints a JSON list. A smtpd that refuses to run leaves the connection silent:
    /// 1 s, then the maillog says why.
    static let clientScript = #"""
        import json, socket, sys
        host, port, tag, sources = sys.argv[1:5]
        def session(src):
          out = {"greeting": [], "replies": []}
          try:
            s = socket.create_connection((host, int(port)), timeout=1, source_address=(src, 0))
            f = s.makefile("rb")
            def reply():
                lines = []
                while True:
                    line = f.readline()
                    if not line:
                        raise EOFError("the connection was closed")
                    line = line.decode("utf-8", "replace").rstrip("\r\n")
                    lines.append(line)
                    if len(line) < 4 or line[3] != "-":
                        return lines
            out["greeting"] = reply()
            if tag in " ".join(out["greeting"]):
                for command in sys.argv[5:]:
                    s.sendall(command.encode() + b"\r\n")
                    out["replies"].append(reply())
            s.sendall(b"QUIT\r\n")
            s.close()
          except Exception as e:
            out["error"] = "%s: %s" % (type(e).__name__, e)
          return out
        print(json.dumps([session(src) for src in sources.split(",")]))
        """#

    /// The attempts: the attacker's HELO, three senders (the null sender, and two at a domain
    /// the tables may favour), each with two recipients at an outside domain. Every key the
    /// generator puts in a sender, HELO or recipient table is one of these or covers one.
    static let attempt = ["EHLO attacker.example"] + ["<>", "<x@favoured.example>", "<y@favoured.example>"].flatMap {
        ["MAIL FROM:\($0)", "RCPT TO:<x@elsewhere.example>", "RCPT TO:<y@elsewhere.example>", "RSET"]
    }

    /// What postfix answered one case.
    enum Wire: Equatable {
        /// Each RCPT: the client, the MAIL FROM and RCPT TO, and the reply's last line.
        case answered([String])
        /// smtpd refused to run (the maillog's fatal line).
        case refusesToRun(String)

        var relays: Bool {
            guard case .answered(let rcpt) = self else { return false }
            return rcpt.contains { $0.components(separatedBy: " → ").last?.hasPrefix("2") == true }
        }
    }

    /// main.cf's own lines with the definitions of `names` (and their continuation lines) left out.
    static func without(_ names: Set<String>, _ text: String) -> String {
        var out: [Substring] = [], skipping = false
        for line in text.split(separator: "\n", omittingEmptySubsequences: false) {
            if let c = line.first, c == " " || c == "\t" {
                if !skipping { out.append(line) }
                continue
            }
            let name = line.split(separator: "=", maxSplits: 1).first.map { $0.trimmingCharacters(in: .whitespaces) } ?? ""
            skipping = !line.hasPrefix("#") && line.contains("=") && names.contains(name)
            if !skipping { out.append(line) }
        }
        return out.joined(separator: "\n")
    }

    static let generatedNames: Set<String> = [
        "compatibility_level", "smtpd_relay_restrictions", "smtpd_recipient_restrictions", "mynetworks", "mynetworks_style",
        "smtpd_banner",
    ]

    @Test func mtaguardJudgesRelayingAsARealPostfixDoes() throws {
        let pf = try PostfixInstance.start()
        defer { pf.stop() }
        let net = try Outside()
        defer { net.remove() }
        let scratch = try Scratch.make("pfdiff")
        defer { scratch.remove() }
        let root = scratch.path + "/root", backups = scratch.path + "/backups"
        try FileManager.default.createDirectory(atPath: root + "/etc/postfix", withIntermediateDirectories: true)
        // The image names the postfix that judges it (its dpkg status), as an installed system's
        // does: mtaguard's defaults are then that version's, not every version class's.
        try FileManager.default.createDirectory(atPath: root + "/var/lib/dpkg", withIntermediateDirectories: true)
        let version = try runCommand(["postconf", "-d", "-h", "mail_version"]).stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        try "Package: postfix\nStatus: install ok installed\nVersion: \(version)-1\n".write(toFile: root + "/var/lib/dpkg/status", atomically: true, encoding: .utf8)
        let port = String(pf.port)

        // The instance also listens on the host's end of the pair; smtpd does no DNS (the
        // client has no name), and a smtpd that refuses to run is started again within a second.
        let master = pf.configDirectory + "/master.cf"
        try (try String(contentsOfFile: master, encoding: .utf8) + "\(net.host):\(port) inet n - n - - smtpd\n")
            .write(toFile: master, atomically: true, encoding: .utf8)
        let stock = try String(contentsOfFile: pf.configDirectory + "/main.cf", encoding: .utf8)
        let base = Self.without(Self.generatedNames.union(["inet_interfaces", "smtpd_peername_lookup", "service_throttle_time"]), stock)
            + "\ninet_interfaces = 127.0.0.1, \(net.host)\nsmtpd_peername_lookup = no\nservice_throttle_time = 1s\n"
        try base.write(toFile: pf.configDirectory + "/main.cf", atomically: true, encoding: .utf8)
        // inet_interfaces changes only with a restart.
        let stopped = try pf.run(["postfix", "stop"])
        try #require(stopped.status == 0, "\(stopped)\n\(pf.logTail())")
        let restarted = try pf.run(["postfix", "start"])
        try #require(restarted.status == 0, "\(restarted)\n\(pf.logTail())")

        let fatal = "specify at least one working instance of"
        func fatalCount() -> Int { pf.logTail(maxBytes: 1 << 24).components(separatedBy: fatal).count - 1 }

        /// The case's main.cf (and tables) in the instance, reloaded; what smtpd tagged `tag` answers.
        func wire(_ text: String, tables: [String: String], tag: String) throws -> Wire {
            for (file, body) in tables { try body.write(toFile: pf.configDirectory + "/" + file, atomically: true, encoding: .utf8) }
            try text.write(toFile: pf.configDirectory + "/main.cf", atomically: true, encoding: .utf8)
            // postfix waits until a main.cf changed this second is older (about 1.5 s a
            // command); the banner proves which file the answering smtpd read.
            try FileManager.default.setAttributes([.modificationDate: Date(timeIntervalSinceNow: -5)],
                                                  ofItemAtPath: pf.configDirectory + "/main.cf")
            let fatalsBefore = fatalCount()
            // What `postfix reload` does after its checks: SIGHUP to the master (a third of a
            // second less per case).
            guard let master = pf.masterPID(), kill(master, SIGHUP) == 0 else {
                throw Failure(description: "no postfix master to reload: \(pf.logTail())")
            }
            let deadline = monotonicNow() + 30
            var last = ""
            let clients = [net.client, net.farClient]
            let rcptAt = Self.attempt.indices.filter { Self.attempt[$0].hasPrefix("RCPT") }
            while monotonicNow() < deadline {
                let r = try runCommand(["ip", "netns", "exec", net.name, "/usr/bin/python3", "-c", Self.clientScript,
                                        net.host, port, tag, clients.joined(separator: ",")] + Self.attempt)
                last = r.stdout + r.stderr
                let sessions = (try? JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [[String: Any]]) ?? []
                let greeting = sessions.map { ($0["greeting"] as? [String] ?? []).joined(separator: " ") }.joined(separator: " ")
                let replies = sessions.map { $0["replies"] as? [[String]] ?? [] }
                if sessions.count == clients.count, replies.allSatisfy({ $0.count == Self.attempt.count }) {
                    return .answered(zip(clients, replies).flatMap { from, r in
                        rcptAt.map { "\(from) \(Self.attempt[($0 - 1) / 4 * 4 + 1]) \(Self.attempt[$0]) → " + (r[$0].last ?? "") }
                    })
                }
                if !greeting.contains(tag), fatalCount() > fatalsBefore {
                    let line = pf.logTail().split(separator: "\n").last { $0.contains(fatal) } ?? ""
                    return .refusesToRun(String(line))
                }
                usleep(100_000)
            }
            throw Failure(description: "no smtpd with \(tag)'s settings answered within 30 s: \(last)\n\(pf.logTail())")
        }

        /// mtaguard's postfix row for `text` (and `tables`) under the root.
        func judged(_ text: String, tables: [String: String]) throws -> (status: String, note: String) {
            for file in (try? FileManager.default.contentsOfDirectory(atPath: root + "/etc/postfix")) ?? [] {
                try FileManager.default.removeItem(atPath: root + "/etc/postfix/" + file)
            }
            for (file, body) in tables { try body.write(toFile: root + "/etc/postfix/" + file, atomically: true, encoding: .utf8) }
            try text.write(toFile: root + "/etc/postfix/main.cf", atomically: true, encoding: .utf8)
            let r = try mtaguard(["check", "--item", "U-47", "--root", root, "--format", "json"], backups: backups)
            guard [0, 2].contains(r.status) else { throw Failure(description: "mtaguard check: \(r)") }
            let rows = try checkEvidence(r.stdout).filter { $0["mta"] as? String == "postfix" }
            guard rows.count == 1 else { throw Failure(description: "not one postfix row: \(r.stdout)") }
            return (rows[0]["status"] as? String ?? "", rows[0]["note"] as? String ?? "")
        }

        let started = monotonicNow()
        var tally: [String: Int] = [:]
        var disagreements: [String] = []
        for index in 0..<Self.cases {
            var rng = SplitMix64(seed: Self.seed, stream: UInt64(index))
            let c = RelayCase.make(&rng, link: net.linkNetwork)
            let tag = "case-\(index)-\(Self.seed)"
            let text = base + c.mainCf + "smtpd_banner = $myhostname ESMTP \(tag)\n"
            let replay = "case \(index), seed \(Self.seed) (replay: MTAGUARD_RELAY_DIFF_SEED=\(Self.seed) MTAGUARD_RELAY_DIFF_CASES=\(index + 1)):\n\(c.mainCf)\(c.tables)"
            let answer = try wire(text, tables: c.tables, tag: tag)
            let verdict = try judged(text, tables: c.tables)
            let said = "mtaguard \(verdict.status) (\(verdict.note)); postfix \(answer)"

            if !c.privateRanges.isEmpty {
                // mtaguard's policy: a whole private range is wider than the host's own networks.
                tally["policy: private range", default: 0] += 1
                #expect(verdict.status == "fail", "a whole private range must be 취약: \(said)\n\(replay)")
                #expect(verdict.note.contains("private range"), "\(said)\n\(replay)")
                continue
            }
            if case .refusesToRun(let line) = answer {
                tally["smtpd refuses to run", default: 0] += 1
                #expect(line.contains("smtpd_relay_restrictions or smtpd_recipient_restrictions"), "\(line)")
                #expect(verdict.status == "pass" && verdict.note.contains("smtpd refuses to run"), "\(said)\n\(replay)")
                continue
            }
            tally["postfix \(answer.relays ? "relays" : "refuses"), mtaguard \(verdict.status)", default: 0] += 1
            switch verdict.status {
            case "review":
                #expect(c.undecidable && !answer.relays, "수동 확인 where the generator put nothing undecided, or where postfix relays: \(said)\n\(replay)")
            case "fail" where !answer.relays && c.rejectsEveryIPv4Client:
                // Not yet judged as postfix does: a client table that rejects every IPv4 client
                // (0.0.0.0/0 REJECT) ahead of what opens. mtaguard errs on the safe side (취약);
                // counted and printed, never 양호.
                tally["known: 0.0.0.0/0 REJECT ahead, mtaguard fail, postfix refuses", default: 0] += 1
                disagreements.append("(known) \(said)\n\(replay)")
            case "fail", "pass":
                if (verdict.status == "fail") != answer.relays { disagreements.append("\(said)\n\(replay)") }
                #expect((verdict.status == "fail") == answer.relays, "\(said)\n\(replay)")
            default:
                Issue.record("unexpected status: \(said)\n\(replay)")
            }

            // The fix for a sample of failing cases: postfix check accepts it, and postfix refuses.
            guard verdict.status == "fail", index % 3 == 0 else { continue }
            tally["applied", default: 0] += 1
            let apply = try mtaguard(["apply", "--yes", "--item", "U-47", "--root", root], backups: backups)
            #expect(apply.status == 0, "apply: \(apply)\n\(replay)")
            let applied = try String(contentsOfFile: root + "/etc/postfix/main.cf", encoding: .utf8)
            #expect(applied != text, "apply changed nothing: \(apply)\n\(replay)")
            let fixedTag = tag + "-applied"
            let fixedText = applied.replacingOccurrences(of: "ESMTP \(tag)\n", with: "ESMTP \(fixedTag)\n")
            try fixedText.write(toFile: pf.configDirectory + "/main.cf", atomically: true, encoding: .utf8)
            try FileManager.default.setAttributes([.modificationDate: Date(timeIntervalSinceNow: -5)],
                                                  ofItemAtPath: pf.configDirectory + "/main.cf")
            let check = try pf.run(["postfix", "check"])
            #expect(check.status == 0, "postfix check refused the applied main.cf: \(check)\n\(applied)\n\(replay)")
            let after = try wire(fixedText, tables: c.tables, tag: fixedTag)
            #expect(!after.relays, "postfix still relays after apply: \(after)\n\(applied)\n\(replay)")
            if case .refusesToRun = after { Issue.record("the applied main.cf leaves smtpd unable to run: \(applied)\n\(replay)") }
        }
        print("PostfixRelayDifferentialTests seed \(Self.seed), \(Self.cases) cases in \(Int(monotonicNow() - started)) s: "
              + tally.sorted { $0.key < $1.key }.map { "\($0.key): \($0.value)" }.joined(separator: ", "))
        for d in disagreements { print("DISAGREEMENT " + d) }
        if Self.cases >= 100 {
            // The generator reaches every outcome.
            for outcome in ["postfix relays, mtaguard fail", "postfix refuses, mtaguard pass", "smtpd refuses to run", "policy: private range"] {
                #expect(tally[outcome, default: 0] > 0, "no case gave '\(outcome)': \(tally)")
            }
        }
    }
}

/// One generated case: main.cf's relay settings (as a site writes them) and the tables they name.
struct RelayCase {
    var mainCf = ""
    var tables: [String: String] = [:]
    /// The whole private ranges its mynetworks trusts.
    var privateRanges: [String] = []
    /// It holds a table mtaguard documents it does not decide (a regexp client table).
    var undecidable = false
    /// A client table entry rejects every IPv4 client (`0.0.0.0/0 REJECT`), which mtaguard does
    /// not yet follow to what comes after it.
    var rejectsEveryIPv4Client = false

    static func pick<T>(_ rng: inout SplitMix64, _ choices: [T]) -> T { choices[Int(rng.next() % UInt64(choices.count))] }

    static let actions = ["OK", "REJECT", "DUNNO", "RELAY", "4711", "450", "550"]

    /// An inline table of 1–3 entries with keys from `keys`.
    static func inline(_ rng: inout SplitMix64, _ keys: [String]) -> String {
        let n = 1 + Int(rng.next() % 3)
        return "inline:{ " + (0..<n).map { _ in "\(pick(&rng, keys))=\(pick(&rng, actions))" }.joined(separator: ", ") + " }"
    }

    /// `link`: the host's end of the pair's /30, which does not hold the client (203.0.113.128 and up).
    static func make(_ rng: inout SplitMix64, link: String) -> RelayCase {
        var c = RelayCase()
        func restriction(_ rng: inout SplitMix64) -> String {
            switch rng.next() % 22 {
            case 0, 1, 2: return "permit_mynetworks"
            case 3: return "permit_sasl_authenticated"
            case 4, 5: return "reject_unauth_destination"
            case 6: return "defer_unauth_destination"
            case 7: return "permit_auth_destination"
            case 8: return "permit"
            case 9: return "reject"
            case 10: return "defer"
            case 11: return "defer_if_permit"
            case 12: return "reject_non_fqdn_recipient"
            case 13: return "reject_unauth_pipelining"
            case 14: return "warn_if_reject reject_unauth_destination"
            case 15: return "check_sender_access " + inline(&rng, ["<>", "favoured.example", "x@favoured.example"])
            case 16: return "check_helo_access " + inline(&rng, ["attacker.example"])
            case 17: return "check_recipient_access " + inline(&rng, ["elsewhere.example", "x@elsewhere.example"])
            case 18: return "check_client_access " + inline(&rng, ["203", "192.0.2", "198.51.100.7", "203.0"])
            case 19, 20:
                // A cidr table: entries that match the client (wide ones) or not.
                var lines: [String] = []
                for _ in 0..<(1 + Int(rng.next() % 3)) {
                    let key = pick(&rng, ["0.0.0.0/0", "203.0.0.0/8", "192.0.2.0/24", "198.51.100.0/24"])
                    let action = pick(&rng, actions + ["REJECT no relaying for you"])
                    if key == "0.0.0.0/0", action.hasPrefix("REJECT") { c.rejectsEveryIPv4Client = true }
                    lines.append("\(key) \(action)")
                }
                c.tables["client.cidr"] = "# client networks\n" + lines.joined(separator: "\n") + "\n"
                return "check_client_access cidr:/etc/postfix/client.cidr"
            default:
                // Patterns mtaguard does not decide (names, or some outside addresses), none of
                // which matches this client.
                c.undecidable = true
                c.tables["client.regexp"] = pick(&rng, ["/\\.example$/ OK\n", "/^192\\.0\\.2\\./ OK\n", "/^198\\.51\\.100\\./ RELAY\n"])
                return "check_client_access regexp:/etc/postfix/client.regexp"
            }
        }
        func list(_ rng: inout SplitMix64) -> String {
            var items = (0...(rng.next() % 5)).map { _ in restriction(&rng) }
            // Half the lists get a word that refuses somewhere (else most cases would be ones
            // where smtpd refuses to run).
            if rng.next() % 2 == 0 {
                items.insert(pick(&rng, ["reject_unauth_destination", "defer_unauth_destination", "reject", "defer"]),
                             at: Int(rng.next() % UInt64(items.count + 1)))
            }
            var out = items[0]
            for item in items.dropFirst() { out += pick(&rng, [", ", " ", ",\n    ", "\n\t", " ,  "]) + item }
            return out
        }
        func setting(_ name: String, _ value: String) { c.mainCf += value.isEmpty ? "\(name) =\n" : "\(name) = \(value)\n" }

        let level = pick(&rng, [nil, "0", "1", "2", "3.6"])
        if let level { setting("compatibility_level", level) }
        for name in ["smtpd_relay_restrictions", "smtpd_recipient_restrictions"] {
            switch rng.next() % 8 {
            case 0, 1: break
            case 2: setting(name, "")
            default: setting(name, list(&rng))
            }
        }
        let networks: [String?] = [
            nil, nil, "127.0.0.0/8 [::1]/128", "127.0.0.0/8, \(link)", "127.0.0.0/8 0.0.0.0/0", "0.0.0.0/0",
            "127.0.0.0/8 203.0.0.0/8", "0.0.0.0/1 128.0.0.0/1", "10.0.0.0/8", "127.0.0.0/8 192.168.0.0/16",
        ]
        if let m = pick(&rng, networks) {
            setting("mynetworks", m)
            c.privateRanges += ["10.0.0.0/8", "192.168.0.0/16"].filter(m.contains)
        }
        if let style = pick(&rng, [nil, nil, "host", "subnet", "class"]) { setting("mynetworks_style", style) }
        return c
    }
}
