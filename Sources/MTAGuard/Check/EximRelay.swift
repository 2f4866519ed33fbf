import Foundation

/// Whether exim relays for everyone: its RCPT ACL run, as exim runs it, for a client outside
/// the host's networks that has not authenticated, asking for a recipient in an outside domain
/// (one that exists and that the configuration does not name). Named host and domain lists are
/// followed (`+relay_from_hosts`), macros replaced, `.ifdef` followed (`EximConfigReading`),
/// `!` before a condition inverts it. The client is an attacker: what it sends is its own to
/// choose (`EximRelayEnvelope`: its address family, the sender, the null sender included, and
/// so `verify = sender` and `senders`; the HELO name and its own DNS, `verify = helo`,
/// `verify = reverse_host_lookup`; TLS where exim offers it, `encrypted`; the local part of the
/// recipient, `local_parts`): the ACL is run once for each choice, and relaying is open when
/// one of them is accepted. Conditions that depend on more than that (`condition` other than a
/// constant or a lookup of the client's address, `dnslists`, `acl`) are unknown: a deny with
/// one is passed (it refuses some attempts, not the relay as such); an accept with one may
/// accept, so what refuses after it does not make relaying closed, and an open accept behind a
/// `require` with one is not claimed open: both are for a person to decide.
enum EximRelay {
    enum Truth: Equatable { case yes, no, unknown }

    struct Verdict: Equatable {
        enum Outcome: String, Equatable { case closed, open, unknown }
        var outcome: Outcome
        var file: String?
        var line: Int?
        var text: String?
        var reason: String
    }

    /// A list's items, as exim splits it (spec 6.21): `:` unless it starts with `<X`, `::` a
    /// literal colon in a colon list; blanks around items go; empty items are dropped.
    static func items(_ list: String) -> (separator: Character, items: [String]) {
        var text = Substring(list.trimmingCharacters(in: .whitespaces))
        var sep: Character = ":"
        if text.hasPrefix("<"), text.count >= 2 {
            let c = text[text.index(after: text.startIndex)]
            if !c.isWhitespace && !c.isLetter && !c.isNumber {
                sep = c
                text = text.dropFirst(2)
            }
        }
        var out: [String] = [], current = ""
        var i = text.startIndex
        while i < text.endIndex {
            let c = text[i]
            let next = text.index(after: i)
            if c == sep {
                if next < text.endIndex, text[next] == sep {
                    current.append(c)
                    i = text.index(after: next)
                    continue
                }
                out.append(current)
                current = ""
            } else {
                current.append(c)
            }
            i = next
        }
        out.append(current)
        return (sep, out.map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty })
    }

    /// A list item without its leading `!`s, and whether they negate it.
    static func unnegated(_ raw: String) -> (item: String, negated: Bool) {
        var item = raw
        var negated = false
        while item.hasPrefix("!") {
            negated.toggle()
            item = String(item.dropFirst()).trimmingCharacters(in: .whitespaces)
        }
        return (item, negated)
    }

    /// Items that stand for every address (of one family or both).
    static func isWorldHost(_ item: String) -> Bool {
        item == "*" || ipv4World.contains(item) || ipv6World.contains(item)
    }
    static let ipv4World: Set<String> = ["0.0.0.0/0", "0/0", "0.0.0.0/0.0.0.0"]
    static let ipv6World: Set<String> = ["::/0", "::0/0"]

    /// Whether `list` matches an outside client (`hosts`) of `family` (either family: nil) or an
    /// outside domain (`domains`), first match deciding; no match is a match when the last item
    /// is negative (spec 10.21). An IPv4 network never matches an IPv6 client, nor the reverse.
    static func matches(
        _ list: String, kind: String, lists: [String: EximConfigReading.NamedList], family: EximRelayEnvelope.Family? = nil, depth: Int = 0,
        listed: Bool = false
    ) -> Truth {
        let all = items(list).items
        for raw in all {
            let (item, negated) = EximRelay.unnegated(raw)
            let hit: Truth
            if item.hasPrefix("+") {
                let name = String(item.dropFirst())
                guard depth < 8, let named = lists[kind + "list " + name] else { return .unknown }
                hit = matches(named.setting.value, kind: kind, lists: lists, family: family, depth: depth + 1, listed: listed)
            } else if isClientLookup(item) || item.contains(";") && !item.contains("$") {
                // A lookup lists the hosts or domains an admin trusts: not the attacker's
                // address, nor the outside domain it picks (as a literal address is not), unless
                // the file lists everyone, which `judge` asks too (`listed`).
                hit = listed ? .yes : .no
            } else if item.contains("$") || item.hasPrefix("/") || item.hasPrefix("^") || item.hasPrefix("net") && item.contains("-") {
                hit = .unknown
            } else if kind == "host" {
                switch family {
                case nil: hit = isWorldHost(item) ? .yes : .no
                case .ipv4: hit = item == "*" || ipv4World.contains(item) ? .yes : .no
                case .ipv6: hit = item == "*" || ipv6World.contains(item) ? .yes : .no
                }
            } else {
                hit = item == "*" ? .yes : .no
            }
            switch hit {
            case .yes: return negated ? .no : .yes
            case .unknown: return .unknown
            case .no: continue
            }
        }
        return all.last?.hasPrefix("!") == true ? .yes : .no
    }

    /// `${lookup{$sender_host_address}TYPE{FILE}…}`: a lookup of the client's address (or name)
    /// in a file; the attacker's address is not in it.
    static func isClientLookup(_ text: String) -> Bool {
        lookupOfClient.firstMatch(in: text, range: NSRange(text.startIndex..., in: text)) != nil
    }
    /// The lookup's strings: `{FOUND}{NOT FOUND}` (group 2, 4), either may be missing.
    nonisolated(unsafe) static let lookupOfClient = try! NSRegularExpression(
        pattern: #"^\$\{lookup\{\$sender_host_(?:address|name)\}[a-z0-9*-]+\{[^{}$]*\}(\{([^{}]*)\}(\{([^{}]*)\})?)?\}$"#)

    /// The string a lookup of the client's address expands to for an attacker, who is not in
    /// the file: the not-found string, else empty; nil for any other text.
    static func clientLookupMisses(_ text: String) -> String? {
        let t = text.trimmingCharacters(in: .whitespaces)
        guard let m = lookupOfClient.firstMatch(in: t, range: NSRange(t.startIndex..., in: t)) else { return nil }
        guard let r = Range(m.range(at: 4), in: t) else { return "" }
        return String(t[r])
    }

    /// The string a lookup of the client's address expands to for a client the file lists: the
    /// found string, else the value found, which mtaguard does not know (nil).
    static func clientLookupFinds(_ text: String) -> String? {
        let t = text.trimmingCharacters(in: .whitespaces)
        guard let m = lookupOfClient.firstMatch(in: t, range: NSRange(t.startIndex..., in: t)), let r = Range(m.range(at: 2), in: t) else { return nil }
        return String(t[r])
    }

    /// Whether exim offers STARTTLS to a client of `family`: `tls_advertise_hosts` is `*` unless
    /// set, and exim 4.93 and later make a certificate of their own when none is configured.
    static func tlsOffered(_ reading: EximConfigReading, family: EximRelayEnvelope.Family) -> Truth {
        guard let setting = reading.settings["tls_advertise_hosts"] else { return .yes }
        return matches(setting.value, kind: "host", lists: reading.lists, family: family)
    }

    /// One condition (not negated), for the outside, unauthenticated client's `envelope` and the
    /// outside recipient.
    static func truth(_ name: String, _ value: String, reading: EximConfigReading, envelope e: EximRelayEnvelope) -> Truth {
        let lists = reading.lists
        switch name {
        case "hosts": return matches(value, kind: "host", lists: lists, family: e.family, listed: e.listed)
        // A domain lookup lists the domains the host takes mail for: the outside domain an
        // attacker picks is not one of them, even where a file lists many.
        case "domains": return matches(value, kind: "domain", lists: lists)
        case "authenticated": return .no
        case "encrypted":
            if tlsOffered(reading, family: e.family) == .unknown { return .unknown }
            return e.tls ? (value.trimmingCharacters(in: .whitespaces) == "*" ? .yes : .unknown) : .no
        case "verify":
            // A real recipient verifies; the sender verifies or not as the client picks it (the
            // null sender always does); the HELO name and the reverse DNS are the client's own.
            let what = value.trimmingCharacters(in: .whitespaces).lowercased()
            if what.hasPrefix("recipient") { return .yes }
            if what.hasPrefix("sender") { return e.sender == EximRelayEnvelope.unverifiable ? .no : .yes }
            if what.hasPrefix("helo") || what.hasPrefix("reverse_host_lookup") { return e.dnsVerifies ? .yes : .no }
            return .unknown
        case "senders": return EximRelayEnvelope.matches(value, kind: "address", subject: e.sender, lists: lists)
        case "local_parts": return EximRelayEnvelope.matches(value, kind: "localpart", subject: e.localPart, lists: lists)
        case "condition":
            // exim's condition: "yes", "true" or a non-zero number hold; "no", "false", "0" or
            // empty do not (spec 44.26); anything to expand is not evaluated.
            let v = ((e.listed ? clientLookupFinds(value) : clientLookupMisses(value)) ?? value).trimmingCharacters(in: .whitespaces).lowercased()
            if ["yes", "true"].contains(v) || Int(v).map({ $0 != 0 }) == true { return .yes }
            if ["no", "false", ""].contains(v) || Int(v) == 0 { return .no }
            return .unknown
        default: return .unknown
        }
    }

    /// Conditions together, in order: false when one is false; else unknown when one is.
    static func truth(
        of values: ArraySlice<(name: String, value: String, node: String, negated: Bool)>, reading: EximConfigReading, envelope: EximRelayEnvelope
    ) -> Truth {
        var result = Truth.yes
        for v in values where !EximConfigReading.modifiers.contains(v.name) && !v.name.hasPrefix("#") {
            var t = truth(v.name, v.value, reading: reading, envelope: envelope)
            if v.negated { t = t == .yes ? .no : t == .no ? .yes : t }
            if t == .no { return .no }
            if t == .unknown { result = .unknown }
        }
        return result
    }

    /// The conditions of `statements` that depend on what the client chooses, for a reason.
    static func chosen(_ statements: [EximConfigReading.Statement]) -> [String] {
        statements.flatMap { s in
            s.values.filter { v in
                ["senders", "local_parts", "encrypted"].contains(v.name)
                    || v.name == "verify" && !v.value.trimmingCharacters(in: .whitespaces).lowercased().hasPrefix("recipient")
                    || v.name == "hosts" && (matches(v.value, kind: "host", lists: [:], family: .ipv4) != matches(v.value, kind: "host", lists: [:], family: .ipv6))
            }.map { "\($0.negated ? "!" : "")\($0.name) = \($0.value.trimmingCharacters(in: .whitespaces))" }
        }
    }

    /// How one run of the ACL ends for one envelope.
    enum Run {
        /// Accepted by the statement, after the requires the client passed.
        case accepted(EximConfigReading.Statement, passed: [EximConfigReading.Statement])
        /// Refused by the statement (nil: the implicit deny at the end).
        case refused(EximConfigReading.Statement?)
        /// Accepted by the statement unless the uncertain one (unknown to mtaguard) stops it.
        case uncertain(EximConfigReading.Statement, behind: EximConfigReading.Statement)
    }

    /// The ACL run as exim runs it for `envelope`.
    static func run(_ statements: [EximConfigReading.Statement], reading: EximConfigReading, envelope: EximRelayEnvelope) -> Run {
        var uncertain: EximConfigReading.Statement?
        var passed: [EximConfigReading.Statement] = []
        /// An accept whose conditions mtaguard cannot evaluate, passed over.
        var unknownAccept: EximConfigReading.Statement?
        func refusal(_ s: EximConfigReading.Statement?) -> Run {
            unknownAccept.map { .uncertain($0, behind: $0) } ?? .refused(s)
        }
        for s in statements {
            switch s.verb {
            case "accept", "discard":
                // Conditions after endpass that fail deny (spec 44.15), once those before it held.
                let split = s.values.firstIndex { $0.name == "endpass" } ?? s.values.endIndex
                let before = truth(of: s.values[..<split], reading: reading, envelope: envelope)
                let after = truth(of: s.values[split...], reading: reading, envelope: envelope)
                // An unknown accept may accept: what refuses after it is not the verdict. With
                // endpass it may deny instead, as a require may.
                if before == .unknown && after != .no && unknownAccept == nil { unknownAccept = s }
                if before == .unknown && split != s.values.endIndex && after != .yes && uncertain == nil { uncertain = s }
                guard before == .yes else { continue }
                if after == .no { return refusal(s) }
                if after == .unknown { return .uncertain(s, behind: uncertain ?? s) }
                if let u = uncertain { return .uncertain(s, behind: u) }
                return .accepted(s, passed: passed)
            case "deny", "drop", "defer":
                // One that depends on more than the client, the domain and authentication (a DNS
                // list, a lookup) refuses some attempts, not the relay: it is passed, as exim
                // passes it for an ordinary recipient.
                if truth(of: s.values[...], reading: reading, envelope: envelope) == .yes { return refusal(s) }
            case "require":
                switch truth(of: s.values[...], reading: reading, envelope: envelope) {
                case .no: return refusal(s)
                case .unknown: if uncertain == nil { uncertain = s }
                case .yes: passed.append(s)
                }
            default:
                continue
            }
        }
        return refusal(nil)
    }

    /// The verdict for an outside client that the ACL's lookups do not list; where that is
    /// "closed" but a client they listed would be let through, mtaguard cannot tell (it does not
    /// read the lookup's file, which may list the whole Internet): 수동 확인, naming the lookup.
    static func judge(_ reading: EximConfigReading) -> (Verdict, EximConfigReading.Statement?) {
        let unlisted = judge(reading, listed: false)
        guard unlisted.0.outcome == .closed else { return unlisted }
        let listed = judge(reading, listed: true)
        guard listed.0.outcome != .closed else { return unlisted }
        var v = listed.0
        v.outcome = .unknown
        v.reason = "relaying is closed for a client that the ACL's lookups do not list (\(unlisted.0.reason)); but "
            + listed.0.reason.replacingOccurrences(of: "ACL ", with: "the ACL ", options: .anchored)
            + " if a lookup it makes lists that client, and mtaguard does not read lookup files: a person must check that none lists outside networks"
        return (v, listed.1)
    }

    static func judge(_ reading: EximConfigReading, listed: Bool) -> (Verdict, EximConfigReading.Statement?) {
        guard let setting = reading.settings["acl_smtp_rcpt"] else {
            if !reading.includes.isEmpty {
                return (Verdict(outcome: .unknown, reason: "acl_smtp_rcpt is not set in these files, but .include lines may set it"), nil)
            }
            return (Verdict(outcome: .closed, reason: "acl_smtp_rcpt is not set: exim refuses every RCPT over SMTP"), nil)
        }
        let name = setting.value.trimmingCharacters(in: .whitespaces)
        if let inside = reading.aclIncludes[name] {
            return (Verdict(outcome: .unknown, file: setting.file, line: setting.line, text: setting.text,
                            reason: "ACL \(name) includes a file among its statements (\(inside)); statements included inside an ACL are not judged"), nil)
        }
        guard !name.contains("$"), !name.contains(" "), let statements = reading.acls[name] else {
            return (Verdict(outcome: .unknown, file: setting.file, line: setting.line, text: setting.text,
                            reason: "acl_smtp_rcpt = \(name) is not an ACL of these files"), nil)
        }
        func at(_ s: EximConfigReading.Statement) -> String { s.line.map { " (\(s.file):\($0))" } ?? "" }
        var uncertain: (EximConfigReading.Statement, EximConfigReading.Statement, EximRelayEnvelope)?
        var refusals: [EximConfigReading.Statement?] = []
        for var envelope in EximRelayEnvelope.all(for: statements, reading: reading) {
            envelope.listed = listed
            switch run(statements, reading: reading, envelope: envelope) {
            case .accepted(let s, let passed):
                let by = chosen(passed + [s])
                let own = by.isEmpty ? "" : " (it depends on \(by.joined(separator: ", ")), which the client satisfies as it pleases: the null sender verifies, and the sender, HELO name, local part, TLS and address family are its own)"
                return (Verdict(outcome: .open, file: s.file, line: s.line, text: s.text,
                                reason: "ACL \(name) accepts a recipient in any domain from any client\(at(s)), for one \(envelope)\(own): an open relay"), s)
            case .uncertain(let s, let behind):
                if uncertain == nil { uncertain = (s, behind, envelope) }
            case .refused(let s):
                if !refusals.contains(where: { $0?.line == s?.line && $0?.file == s?.file }) { refusals.append(s) }
            }
        }
        if let (s, u, envelope) = uncertain, s.line == u.line, s.file == u.file {
            return (Verdict(outcome: .unknown, file: s.file, line: s.line, text: s.text,
                            reason: "ACL \(name) accepts an outside recipient\(at(s)) for one \(envelope) if that statement's conditions hold, and they depend on more than the client and the domain"), s)
        }
        if let (s, u, envelope) = uncertain {
            return (Verdict(outcome: .unknown, file: s.file, line: s.line, text: s.text,
                            reason: "ACL \(name) accepts an outside recipient\(at(s)) for one \(envelope), unless the statement at line \(u.line ?? 0) (which depends on more than the client and the domain) refuses it first"), s)
        }
        let explicit = refusals.compactMap { $0 }
        guard let first = explicit.first else {
            return (Verdict(outcome: .closed, file: setting.file, line: setting.line, text: setting.text,
                            reason: "ACL \(name) ends without accepting an outside recipient: exim's implicit deny refuses it"), nil)
        }
        let places = explicit.map { "\($0.verb)\(at($0))" } + (refusals.contains { $0 == nil } ? ["the implicit deny at its end"] : [])
        return (Verdict(outcome: .closed, file: first.file, line: first.line, text: first.text,
                        reason: "ACL \(name) refuses an outside recipient from an outside client, whatever address family, HELO, TLS, sender and local part it chooses: \(places.joined(separator: ", "))"), nil)
    }

    /// `list` without the items that stand for everyone (`*` for a domain list); nil when it
    /// has none. The separator stays as written.
    static func withoutWorld(_ list: String, kind: String) -> String? {
        let (sep, all) = items(list)
        func world(_ item: String) -> Bool { kind == "host" ? isWorldHost(item) : item == "*" }
        guard all.contains(where: world) else { return nil }
        let kept = all.filter { !world($0) }.map { sep == ":" ? $0.replacingOccurrences(of: ":", with: "::") : $0 }
        let prefix = sep == ":" ? "" : "<\(sep) "
        return prefix + kept.joined(separator: " \(sep) ")
    }
}
