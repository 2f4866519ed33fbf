import Foundation

/// Whether exim relays for everyone: its RCPT ACL run, as exim runs it, for a client outside
/// the host's networks that has not authenticated, asking for a recipient in an outside domain
/// (one that exists). Named host and domain lists are followed (`+relay_from_hosts`), macros
/// replaced, `.ifdef` followed (`EximConfigReading`). The client is an attacker: what it sends
/// is its own to choose (the sender, and so `verify = sender` with the null sender, `senders`;
/// the HELO name and its own DNS, `verify = helo`, `verify = reverse_host_lookup`; the local
/// part of the recipient, `local_parts`), so such a condition opens an accept and a require
/// and never closes a deny. Conditions that depend on more than that (`condition`, `dnslists`,
/// lookups, TLS) are unknown: an accept or a deny with one is passed (it accepts or refuses
/// some attempts, not the relay as such), and an open accept behind a `require` with one is
/// not claimed open.
enum EximRelay {
    /// `attacker`: the client makes it true or false as it pleases.
    enum Truth: Equatable { case yes, no, unknown, attacker }

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

    /// Items that stand for every address.
    static func isWorldHost(_ item: String) -> Bool {
        ["*", "0.0.0.0/0", "0/0", "::/0", "::0/0", "0.0.0.0/0.0.0.0"].contains(item)
    }

    /// Whether `list` matches an outside client (`hosts`) or an outside domain (`domains`),
    /// first match deciding; no match is a match when the last item is negative (spec 10.21).
    static func matches(_ list: String, kind: String, lists: [String: EximConfigReading.NamedList], depth: Int = 0) -> Truth {
        let all = items(list).items
        for raw in all {
            var item = raw
            var negated = false
            while item.hasPrefix("!") {
                negated.toggle()
                item = String(item.dropFirst()).trimmingCharacters(in: .whitespaces)
            }
            let hit: Truth
            if item.hasPrefix("+") {
                let name = String(item.dropFirst())
                guard depth < 8, let named = lists[kind + "list " + name] else { return .unknown }
                hit = matches(named.setting.value, kind: kind, lists: lists, depth: depth + 1)
            } else if item.contains("$") || item.hasPrefix("/") || item.contains(";") || item.hasPrefix("^") || item.hasPrefix("net") && item.contains("-") {
                hit = .unknown
            } else if kind == "host" {
                hit = isWorldHost(item) ? .yes : .no
            } else {
                hit = item == "*" ? .yes : .no
            }
            switch hit {
            case .yes: return negated ? .no : .yes
            case .unknown, .attacker: return .unknown
            case .no: continue
            }
        }
        return all.last?.hasPrefix("!") == true ? .yes : .no
    }

    /// One condition, for the outside, unauthenticated client and the outside recipient.
    static func truth(_ name: String, _ value: String, lists: [String: EximConfigReading.NamedList]) -> Truth {
        switch name {
        case "hosts": return matches(value, kind: "host", lists: lists)
        case "domains": return matches(value, kind: "domain", lists: lists)
        case "authenticated": return .no
        case "verify":
            // A real recipient verifies; the sender (the null sender verifies), the HELO name and
            // the client's reverse DNS are the client's own.
            let what = value.trimmingCharacters(in: .whitespaces).lowercased()
            if what.hasPrefix("recipient") { return .yes }
            return ["sender", "helo", "reverse_host_lookup"].contains(where: { what.hasPrefix($0) }) ? .attacker : .unknown
        case "senders", "local_parts":
            return .attacker
        default: return .unknown
        }
    }

    /// A statement's conditions together: false when one is false; else unknown when one is;
    /// else the attacker's when one is.
    static func truth(of statement: EximConfigReading.Statement, lists: [String: EximConfigReading.NamedList]) -> Truth {
        var result = Truth.yes
        for v in statement.values where !EximConfigReading.modifiers.contains(v.name) && !v.name.hasPrefix("#") {
            let negated = v.value.hasPrefix("!") && v.name != "hosts" && v.name != "domains"
            var t = truth(v.name, negated ? String(v.value.dropFirst()) : v.value, lists: lists)
            if negated { t = t == .yes ? .no : t == .no ? .yes : t }
            if t == .no { return .no }
            if t == .unknown { result = .unknown }
            if t == .attacker, result == .yes { result = .attacker }
        }
        return result
    }

    /// The conditions of `statement` the client satisfies at will, for a reason.
    static func chosen(_ statement: EximConfigReading.Statement, lists: [String: EximConfigReading.NamedList]) -> [String] {
        statement.values.filter { v in
            !EximConfigReading.modifiers.contains(v.name) && !v.name.hasPrefix("#")
                && truth(v.name, v.value.hasPrefix("!") ? String(v.value.dropFirst()) : v.value, lists: lists) == .attacker
        }.map { "\($0.name) = \($0.value.trimmingCharacters(in: .whitespaces))" }
    }

    static func judge(_ reading: EximConfigReading) -> (Verdict, EximConfigReading.Statement?) {
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
        var uncertain: EximConfigReading.Statement?
        /// The requires the client got through with conditions of its own choosing.
        var passed: [EximConfigReading.Statement] = []
        for s in statements {
            let t = truth(of: s, lists: reading.lists)
            let at = s.line.map { " (\(s.file):\($0))" } ?? ""
            switch s.verb {
            case "accept", "discard":
                if t == .yes || t == .attacker {
                    if let u = uncertain {
                        return (Verdict(outcome: .unknown, file: s.file, line: s.line, text: s.text,
                                        reason: "ACL \(name) accepts an outside recipient from any client\(at), unless the statement at line \(u.line ?? 0) (which depends on more than the client and the domain) refuses it first"), s)
                    }
                    let by = (passed + [s]).flatMap { chosen($0, lists: reading.lists) }
                    let own = by.isEmpty ? "" : " (the client satisfies \(by.joined(separator: ", ")) as it pleases: the null sender verifies, and the sender, HELO name and local part are its own)"
                    return (Verdict(outcome: .open, file: s.file, line: s.line, text: s.text,
                                    reason: "ACL \(name) accepts a recipient in any domain from any client\(at)\(own): an open relay"), s)
                }
            case "deny", "drop", "defer":
                // One that depends on more than the client, the domain and authentication (the
                // local part, the recipient count, a DNS list) refuses some attempts, not the
                // relay: it is passed, as exim passes it for an ordinary recipient.
                if t == .yes {
                    return (Verdict(outcome: .closed, file: s.file, line: s.line, text: s.text,
                                    reason: "ACL \(name) refuses an outside recipient from an outside client\(at)"), nil)
                }
            case "require":
                if t == .no {
                    return (Verdict(outcome: .closed, file: s.file, line: s.line, text: s.text,
                                    reason: "ACL \(name) requires a local or relay domain\(at): relaying for outside clients is refused"), nil)
                }
                if t == .unknown && uncertain == nil { uncertain = s }
                if t == .attacker { passed.append(s) }
            default:
                continue
            }
        }
        return (Verdict(outcome: .closed, file: setting.file, line: setting.line, text: setting.text,
                        reason: "ACL \(name) ends without accepting an outside recipient: exim's implicit deny refuses it"), nil)
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
