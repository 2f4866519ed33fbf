import Foundation
import Testing

@testable import MTAGuard

/// postfix's relay judgement, rule by rule (first-match order of both lists, the defaults of
/// each compatibility level, mynetworks and its style), and the smallest fix for each.
@Suite struct PostfixRelayTests {
    typealias S = PostfixRelay.Settings

    /// The table's rules are postfix 3.x's: each case is judged as on the host's postfix 3.7
    /// (`PostfixRelayDefaultsTests` covers older versions and an unknown one).
    static func on37(_ s: S) -> S {
        var s = s
        s.version = "3.7.11"
        return s
    }

    static let table: [(String, S, Bool)] = [
        // postfix's own defaults: compatibility_level 0 when main.cf does not set it (postconf -d).
        ("stock postfix 3.x: nothing set, so level 0 and smtpd's safety net refuses to run", S(), false),
        ("compatibility_level 0: no relay list, empty recipient list (safety net)", S(compatibility: "0"), false),
        ("compatibility_level 0, world mynetworks, classic recipient list", S(recipient: "permit_mynetworks, reject_unauth_destination", mynetworks: "0.0.0.0/0"), true),
        ("compatibility_level 0 with the classic recipient list", S(recipient: "permit_mynetworks, reject_unauth_destination", compatibility: "0"), false),
        ("level 3.6 defaults", S(compatibility: "3.6"), false),
        // smtpd's safety net looks no further than `permit` (smtpd_check.c has_required): a real
        // postfix 3.7 refuses to run with these (PostfixRelayDifferentialTests).
        ("permit before reject_unauth_destination: smtpd refuses to run", S(relay: "permit_mynetworks, permit, reject_unauth_destination"), false),
        ("reject_unauth_destination before permit", S(relay: "permit_mynetworks, reject_unauth_destination, permit"), false),
        ("relay list open but recipient list closes", S(relay: "permit", recipient: "reject_unauth_destination"), false),
        ("defer_unauth_destination closes too", S(relay: "defer_unauth_destination"), false),
        ("mynetworks is the world (level 3.6)", S(mynetworks: "127.0.0.0/8 0.0.0.0/0", compatibility: "3.6"), true),
        // Found by PostfixRelayDifferentialTests: a real postfix relays for 203.0.113.130 with
        // 203.0.0.0/8 in mynetworks (the default relay list permits mynetworks first).
        ("a public /8 in mynetworks (level 3.6)", S(mynetworks: "127.0.0.0/8 203.0.0.0/8", compatibility: "3.6"), true),
        ("two halves of the Internet in mynetworks (level 3.6)", S(mynetworks: "0.0.0.0/1 128.0.0.0/1", compatibility: "3.6"), true),
        ("a public /24 and loopback in mynetworks are the site's own (level 3.6)", S(mynetworks: "127.0.0.0/8 203.0.113.0/24 169.254.0.0/16", compatibility: "3.6"), false),
        ("IPv6 world (level 3.6)", S(mynetworks: "[::1]/128, [::]/0", compatibility: "3.6"), true),
        ("world, but permit_mynetworks not in the lists", S(relay: "reject_unauth_destination", mynetworks: "0.0.0.0/0"), false),
        ("class style without mynetworks (level 3.6)", S(style: "class", compatibility: "3.6"), true),
        ("class style with mynetworks set (level 3.6)", S(mynetworks: "127.0.0.0/8", style: "class", compatibility: "3.6"), false),
        ("whole private range (level 3.6)", S(mynetworks: "127.0.0.0/8 10.0.0.0/8", compatibility: "3.6"), true),
        ("empty relay list and an open recipient list: smtpd refuses to run", S(relay: "", recipient: "permit, reject"), false),
        ("permit in the relay list, and the recipient list closes after permit_mynetworks of the world",
         S(relay: "permit", recipient: "permit_mynetworks, reject_unauth_destination", mynetworks: "0.0.0.0/0", compatibility: "3.6"), true),
        // warn_if_reject makes the restriction after it only log (seen: 250 from a real postfix).
        ("warn_if_reject reject_unauth_destination does not close",
         S(relay: "permit_mynetworks, warn_if_reject reject_unauth_destination", recipient: "permit_mynetworks, reject_unauth_destination",
           mynetworks: "127.0.0.0/8 0.0.0.0/0", compatibility: "3.6"), true),
        ("warn_if_reject reject_unauth_destination is no safety net: smtpd refuses to run",
         S(relay: "warn_if_reject reject_unauth_destination", recipient: "", compatibility: "3.6"), false),
        // defer_if_permit: what would permit the RCPT after it gets 450 (seen from a real postfix).
        ("defer_if_permit before the world's permit_mynetworks closes",
         S(relay: "defer_if_permit, permit_mynetworks", mynetworks: "0.0.0.0/0", compatibility: "3.6"), false),
        // Found by PostfixRelayDifferentialTests: a private range and a table mtaguard does not
        // read ahead of the closing word was 양호; the range alone makes it 취약.
        ("a private range, and a table before the closing word that is not read",
         S(relay: "check_client_access hash:/etc/postfix/access, permit_mynetworks, defer_unauth_destination", mynetworks: "127.0.0.0/8 192.168.0.0/16", compatibility: "2"), true),
        ("a table before the closing word is not read: review, not closed", S(relay: "check_client_access hash:/etc/postfix/access, reject_unauth_destination"), false),
    ]

    /// A lookup mtaguard does not read, ahead of the word that closes: 수동 확인, never 양호 —
    /// at level 0 in the recipient list too, where the default relay list no longer closes first.
    @Test func aTableAheadOfTheClosingWordIsForAPerson() throws {
        for s in [S(relay: "check_client_access hash:/etc/postfix/access, reject_unauth_destination"),
                  S(recipient: "check_client_access hash:/etc/postfix/access, reject_unauth_destination"),
                  S(recipient: "permit_mynetworks, check_sender_access hash:/etc/postfix/senders, reject_unauth_destination", compatibility: "0")] {
            let v = try PostfixRelay.judge(Self.on37(s))
            #expect(v.review && !v.open, "\(s): \(v.note)")
            #expect(v.note.contains("which mtaguard does not read"), "\(v.note)")
        }
        // The default relay list at level 1 and later closes before the recipient list's table.
        #expect(try !PostfixRelay.judge(Self.on37(S(recipient: "check_client_access hash:/etc/postfix/access, reject_unauth_destination", compatibility: "3.6"))).review)
    }

    @Test(arguments: 0..<table.count) func judgement(_ i: Int) throws {
        let (name, settings, open) = Self.table[i]
        let verdict = try PostfixRelay.judge(Self.on37(settings))
        #expect(verdict.open == open, "\(name): \(verdict.note)")
        if open && verdict.privateNetworks.isEmpty {
            // The fix closes it, and only what opened relaying to the world changes.
            let (changes, _) = try PostfixRelay.fix(Self.on37(settings))
            var fixed = Self.on37(settings)
            for (param, value) in changes {
                switch param {
                case "mynetworks": fixed.mynetworks = value
                case "mynetworks_style": fixed.style = value
                case "smtpd_relay_restrictions": fixed.relay = value
                default: Issue.record("unexpected change \(param)")
                }
            }
            #expect(try !PostfixRelay.judge(fixed).open, "\(name): \(changes)")
            if let m = settings.mynetworks {
                let kept = PostfixRelay.words(fixed.mynetworks ?? "")
                let wide = try PostfixRelay.judge(settings).worldNetworks
                #expect(PostfixRelay.words(m).filter { !wide.contains($0) }.allSatisfy(kept.contains), "\(name)")
            }
        }
    }

    /// Tables answer as a real postfix 3.7 answered in PostfixRelayDifferentialTests.
    @Test func tablesAnswerAsPostfixDoes() throws {
        func facts(_ files: [String: String]) -> PostfixTableFacts {
            var f = PostfixTableFacts()
            for (path, text) in files { f.files[path] = .read(FileSnapshot(path: path, bytes: Data(text.utf8), mode: 0o644, uid: 0, gid: 0)) }
            return f
        }
        // An inline key given twice answers with its last value ("554 Helo command rejected").
        let twice = try PostfixRelay.judge(S(
            relay: "check_helo_access inline:{ attacker.example=OK, attacker.example=REJECT }, reject_unauth_destination", compatibility: "3.6"))
        #expect(!twice.open && !twice.review, "\(twice.note)")
        let last = try PostfixRelay.judge(S(
            relay: "check_helo_access inline:{ attacker.example=REJECT, attacker.example=OK }, reject_unauth_destination", compatibility: "3.6"))
        #expect(last.open && last.note.contains("'attacker.example OK'"), "\(last.note)")
        // A cidr entry inside an earlier entry's network is never reached; one only partly
        // covered still lets the rest of its network through.
        let cidr = "check_client_access cidr:/etc/postfix/client.cidr, reject_unauth_destination"
        let shadowed = try PostfixRelay.judge(S(relay: cidr, compatibility: "3.6", tables: facts(
            ["/etc/postfix/client.cidr": "203.0.0.0/8 REJECT no\n203.0.0.0/8 RELAY\n203.0.113.0/16 OK\n"])))
        #expect(!shadowed.open && !shadowed.review, "\(shadowed.note)")
        let partly = try PostfixRelay.judge(S(relay: cidr, compatibility: "3.6", tables: facts(
            ["/etc/postfix/client.cidr": "203.0.0.0/16 REJECT\n203.0.0.0/8 RELAY\n"])))
        #expect(partly.open && partly.note.contains("'203.0.0.0/8 RELAY' at line 2"), "\(partly.note)")
        // A client pattern mtaguard cannot evaluate lets the clients it does not match go on:
        // what opens after it opens for certain (250 from postfix); a closing word after it
        // leaves it for a person.
        let regexp = ["/etc/postfix/client.regexp": "/^198\\.51\\.100\\./ RELAY\n"]
        let opens = try PostfixRelay.judge(S(relay: "check_client_access regexp:/etc/postfix/client.regexp, permit_mynetworks, reject_unauth_destination",
                                             mynetworks: "0.0.0.0/1 128.0.0.0/1", compatibility: "3.6", tables: facts(regexp)))
        #expect(opens.open && !opens.review, "\(opens.note)")
        let person = try PostfixRelay.judge(S(relay: "check_client_access regexp:/etc/postfix/client.regexp, reject_unauth_destination",
                                              compatibility: "3.6", tables: facts(regexp)))
        // ... and where the list ends after it, every client goes on to the next list, which
        // decides (a null sender table that says OK: 250 from postfix).
        let next = try PostfixRelay.judge(S(relay: "check_client_access regexp:/etc/postfix/client.regexp, permit_auth_destination",
                                            recipient: "check_sender_access inline:{ <>=4711 }, reject_unauth_destination",
                                            compatibility: "3.6", tables: facts(regexp)))
        #expect(next.open && !next.review, "\(next.note)")
        #expect(person.review && !person.open && person.note.contains("'/^198\\.51\\.100\\./ RELAY' at line 1"), "\(person.note)")
    }

    @Test func unreadTablesAndExpansionsAreSaid() throws {
        let v = try PostfixRelay.judge(S(relay: "check_client_access hash:/etc/postfix/access, reject_unauth_destination"))
        #expect(v.note.contains("not read: check_client_access hash:/etc/postfix/access"))
        #expect(throws: MTAGuardError.self) { try PostfixRelay.judge(S(mynetworks: "$mynetworks_extra")) }
        let p = try PostfixRelay.judge(S(mynetworks: "10.0.0.0/8", compatibility: "3.6"))
        #expect(p.open && p.note.contains("whole private ranges (10.0.0.0/8)"))
        let (changes, said) = try PostfixRelay.fix(S(mynetworks: "10.0.0.0/8", compatibility: "3.6"))
        #expect(changes.isEmpty && said.contains { $0.contains("left for the site to decide") }, "\(changes) \(said)")
    }
}
