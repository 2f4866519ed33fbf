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
        ("permit before reject_unauth_destination", S(relay: "permit_mynetworks, permit, reject_unauth_destination"), true),
        ("reject_unauth_destination before permit", S(relay: "permit_mynetworks, reject_unauth_destination, permit"), false),
        ("relay list open but recipient list closes", S(relay: "permit", recipient: "reject_unauth_destination"), false),
        ("defer_unauth_destination closes too", S(relay: "defer_unauth_destination"), false),
        ("mynetworks is the world (level 3.6)", S(mynetworks: "127.0.0.0/8 0.0.0.0/0", compatibility: "3.6"), true),
        ("IPv6 world (level 3.6)", S(mynetworks: "[::1]/128, [::]/0", compatibility: "3.6"), true),
        ("world, but permit_mynetworks not in the lists", S(relay: "reject_unauth_destination", mynetworks: "0.0.0.0/0"), false),
        ("class style without mynetworks (level 3.6)", S(style: "class", compatibility: "3.6"), true),
        ("class style with mynetworks set (level 3.6)", S(mynetworks: "127.0.0.0/8", style: "class", compatibility: "3.6"), false),
        ("whole private range (level 3.6)", S(mynetworks: "127.0.0.0/8 10.0.0.0/8", compatibility: "3.6"), true),
        ("empty relay list and an open recipient list", S(relay: "", recipient: "permit, reject"), true),
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
                #expect(PostfixRelay.words(m).filter { !PostfixRelay.world.contains($0) }.allSatisfy(kept.contains), "\(name)")
            }
        }
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
