import Foundation
import Testing

@testable import MTAGuard

/// postfix's relay judgement, rule by rule (first-match order of both lists, the defaults of
/// each compatibility level, mynetworks and its style), and the smallest fix for each.
@Suite struct PostfixRelayTests {
    typealias S = PostfixRelay.Settings

    static let table: [(String, S, Bool)] = [
        ("stock postfix 3.x (defaults)", S(), false),
        ("compatibility_level 0: no relay list, empty recipient list", S(compatibility: "0"), true),
        ("compatibility_level 0 with the classic recipient list", S(recipient: "permit_mynetworks, reject_unauth_destination", compatibility: "0"), false),
        ("permit before reject_unauth_destination", S(relay: "permit_mynetworks, permit, reject_unauth_destination"), true),
        ("reject_unauth_destination before permit", S(relay: "permit_mynetworks, reject_unauth_destination, permit"), false),
        ("relay list open but recipient list closes", S(relay: "permit", recipient: "reject_unauth_destination"), false),
        ("defer_unauth_destination closes too", S(relay: "defer_unauth_destination"), false),
        ("mynetworks is the world", S(mynetworks: "127.0.0.0/8 0.0.0.0/0"), true),
        ("IPv6 world", S(mynetworks: "[::1]/128, [::]/0"), true),
        ("world, but permit_mynetworks not in the lists", S(relay: "reject_unauth_destination", mynetworks: "0.0.0.0/0"), false),
        ("class style without mynetworks", S(style: "class"), true),
        ("class style with mynetworks set", S(mynetworks: "127.0.0.0/8", style: "class"), false),
        ("whole private range", S(mynetworks: "127.0.0.0/8 10.0.0.0/8"), true),
        ("empty relay list and an open recipient list", S(relay: "", recipient: "permit"), true),
        ("a table is not read (said)", S(relay: "check_client_access hash:/etc/postfix/access, reject_unauth_destination"), false),
    ]

    @Test(arguments: 0..<table.count) func judgement(_ i: Int) throws {
        let (name, settings, open) = Self.table[i]
        let verdict = try PostfixRelay.judge(settings)
        #expect(verdict.open == open, "\(name): \(verdict.note)")
        if open && verdict.privateNetworks.isEmpty {
            // The fix closes it, and only what opened relaying to the world changes.
            let (changes, _) = try PostfixRelay.fix(settings)
            var fixed = settings
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
        let p = try PostfixRelay.judge(S(mynetworks: "10.0.0.0/8"))
        #expect(p.open && p.note.contains("whole private ranges (10.0.0.0/8)"))
        let (changes, said) = try PostfixRelay.fix(S(mynetworks: "10.0.0.0/8"))
        #expect(changes.isEmpty && said.contains { $0.contains("left for the site to decide") }, "\(changes) \(said)")
    }
}
