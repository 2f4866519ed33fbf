import Foundation
import Testing

@testable import MTAGuard

/// One case per disagreement `EximACLDifferentialTests` found between mtaguard's U-47 judgement
/// of exim and the real exim's `-bh` (the real exim was right each time), and per rule the fix
/// brought in, on the smallest ACL that shows it. The expected outcome is what `exim -bh`
/// answered for the same statements (IPv4 and IPv6 client, every HELO, sender and local part).
@Suite struct EximRelayJudgementTests {
    static func outcome(_ acl: String, main: String = "") throws -> EximRelay.Verdict.Outcome {
        let text = main + """
            domainlist local_domains = @ : localhost
            domainlist relay_to_domains = partner.example
            hostlist relay_from_hosts = 127.0.0.1
            hostlist partners = 0.0.0.0/0
            acl_smtp_rcpt = acl_check_rcpt
            begin acl
            acl_check_rcpt:

            """ + acl + "\n"
        let tree = try ConfigWorkspace().parse(text, lens: EximRelayTarget.lens, file: "/etc/exim4/exim4.conf", host: "unit", mta: "exim")
        return EximRelay.judge(try EximConfigReading([tree])).0.outcome
    }

    struct Case: Sendable, CustomStringConvertible {
        var description: String
        var acl: String
        var main = ""
        var outcome: EximRelay.Verdict.Outcome
    }

    static let cases: [Case] = [
        // "!" before a condition was dropped: the negated condition was read as written.
        Case(description: "a negated hosts and domains accept (seed 1, case 1)",
             acl: "  accept\n    !hosts = 198.51.100.0/24\n    !domains = +local_domains\n    senders = :\n  drop", outcome: .open),
        Case(description: "a negated world in a drop (seed 1, case 97)",
             acl: "  drop\n    !hosts = 0.0.0.0/0\n  require\n  accept\n    local_parts = ^.*[@%!/|]", outcome: .open),
        Case(description: "require !domains = +relay_to_domains passes for an outside domain (seed 1, case 56)",
             acl: "  require\n    hosts = *\n    !domains = +relay_to_domains\n  accept", outcome: .open),
        Case(description: "discard with !verify = recipient never fires (seed 1, case 19)",
             acl: "  discard\n    !verify = recipient\n    senders = :", outcome: .closed),
        // An IPv4 network never matches an IPv6 client, nor the reverse.
        Case(description: "a drop of IPv4 leaves IPv6 clients to the world's accept (seed 1, case 59)",
             acl: "  drop\n    hosts = 0.0.0.0/0\n  accept\n    hosts = <; 0.0.0.0/0 ; ::/0", outcome: .open),
        Case(description: "require !hosts = +partners (0.0.0.0/0) and an IPv4-only accept (seed 1, case 140)",
             acl: "  require\n    !hosts = +partners\n  accept\n    hosts = 0.0.0.0/0", outcome: .closed),
        Case(description: "::/0 alone does not open relaying for IPv4, but IPv6 clients relay",
             acl: "  accept\n    hosts = <; ::/0", outcome: .open),
        // An attacker picks an address a lookup does not list: negated, it holds for it. A lookup
        // that would let a client through if it listed it is for a person: mtaguard does not
        // read the file, which may list the whole Internet.
        Case(description: "!hosts = a lookup (seed 1, case 4 after the first fixes)",
             acl: "  accept\n    local_parts = ^.*[@%!/|]\n    !hosts = net-lsearch;/etc/exim4/relay-clients", outcome: .open),
        Case(description: "hosts = a lookup", acl: "  accept\n    hosts = net-lsearch;/etc/exim4/relay-clients", outcome: .unknown),
        Case(description: "a named host list that is a lookup", acl: "  accept\n    hosts = +lookedup",
             main: "hostlist lookedup = net-lsearch;/etc/exim4/relay-clients\n", outcome: .unknown),
        Case(description: "a lookup that only refuses", acl: "  deny\n    hosts = net-lsearch;/etc/exim4/blocked\n  accept\n    domains = +local_domains",
             outcome: .closed),
        Case(description: "a domain lookup: the outside domain is not the host's", acl: "  accept\n    domains = lsearch;/etc/exim4/relay-domains",
             outcome: .closed),
        Case(description: "!condition = a lookup of the client's address",
             acl: "  accept\n    !condition = ${lookup{$sender_host_address}lsearch{/etc/exim4/relay-clients}{yes}{no}}", outcome: .open),
        // What the client chooses is chosen once per session, for every statement.
        Case(description: "require and deny of the null sender together",
             acl: "  deny\n    senders = :\n  require\n    senders = :\n  accept\n    hosts = *", outcome: .closed),
        Case(description: "deny verify = sender: the client picks a sender that does not verify (seed 1, case 0 of an early fix)",
             acl: "  deny\n    verify = sender\n  discard", outcome: .open),
        Case(description: "deny !verify = sender: the null sender verifies",
             acl: "  deny\n    !verify = sender\n  accept\n    hosts = *", outcome: .open),
        // endpass: a failing condition after it denies (spec 44.15).
        Case(description: "accept hosts = * endpass authenticated = * denies the unauthenticated",
             acl: "  accept\n    hosts = *\n    endpass\n    authenticated = *\n  accept", outcome: .closed),
        // TLS counts only where exim offers it (an empty tls_advertise_hosts offers it to no one).
        Case(description: "require encrypted = * without TLS offered",
             acl: "  require\n    encrypted = *\n  accept\n    hosts = *", main: "tls_advertise_hosts =\n", outcome: .closed),
        Case(description: "require encrypted = * with TLS offered (exim's default)",
             acl: "  require\n    encrypted = *\n  accept\n    hosts = *", outcome: .open),
        Case(description: "a constant condition", acl: "  accept\n    condition = yes", outcome: .open),
        Case(description: "a condition mtaguard cannot evaluate, behind a require",
             acl: "  require\n    condition = ${if eq{$acl_m_x}{1}}\n  accept", outcome: .unknown),
        // An accept that may accept: refusing after it is not closed (exim relays where the
        // condition holds for everyone).
        Case(description: "an accept with a condition mtaguard cannot evaluate, then the implicit deny",
             acl: "  accept\n    !condition = ${if eq{$acl_m_relay}{yes}}", outcome: .unknown),
        Case(description: "an accept with a condition mtaguard cannot evaluate, then the world",
             acl: "  accept\n    condition = ${if eq{$acl_m_relay}{yes}}\n  accept\n    hosts = *", outcome: .open),
    ]

    @Test(arguments: cases)
    func judgedAsEximJudgesIt(_ c: Case) throws {
        #expect(try Self.outcome(c.acl, main: c.main) == c.outcome, "\(c.acl)")
    }

    @Test func sendersAndLocalPartsMatchAsEximMatchesThem() {
        #expect(EximRelayEnvelope.matches(":", kind: "address", subject: "", lists: [:]) == .yes)
        #expect(EximRelayEnvelope.matches(":", kind: "address", subject: "a@b.example", lists: [:]) == .no)
        #expect(EximRelayEnvelope.matches("*@somewhere.example", kind: "address", subject: "someone@somewhere.example", lists: [:]) == .yes)
        #expect(EximRelayEnvelope.matches("*@somewhere.example", kind: "address", subject: "", lists: [:]) == .no)
        #expect(EximRelayEnvelope.matches("^[.] : ^.*[@%!/|]", kind: "localpart", subject: "a%b", lists: [:]) == .yes)
        #expect(EximRelayEnvelope.matches("^[.] : ^.*[@%!/|]", kind: "localpart", subject: "probe", lists: [:]) == .no)
        #expect(EximRelayEnvelope.matches("!postmaster", kind: "localpart", subject: "probe", lists: [:]) == .yes)
        #expect(EximRelayEnvelope.matches("lsearch;/etc/senders", kind: "address", subject: "", lists: [:]) == .unknown)
    }
}
