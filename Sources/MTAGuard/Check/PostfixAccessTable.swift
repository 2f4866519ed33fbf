import Foundation

/// A lookup table a `check_…_access` restriction names, read as postfix reads it (access(5),
/// cidr_table(5), regexp_table(5), pcre_table(5), postmap(1)'s input format) and judged as an
/// outside client can make it answer. A sender, HELO name or recipient is what the client says,
/// so any entry that accepts opens relaying; a client address is not, so only an entry that
/// matches every client, or a whole range, does. What mtaguard could not read or evaluate is
/// for a person (수동 확인), never closed.
enum PostfixAccessTable {
    /// One `pattern action` line of a table.
    struct Entry: Equatable {
        var key: String
        var action: String
        /// Line in the table file (0: inline in main.cf).
        var line: Int
        var negated = false
    }

    /// What one restriction and its table do for an outside client trying to relay.
    enum Outcome: Equatable {
        /// Outside clients may relay through it: the sentence that says which entry.
        case opens(String)
        /// A whole private range may relay through it (a site may mean that): the sentence.
        case opensPrivate(String)
        /// It lets nothing through for an outside client: the list goes on.
        case nothing
        /// mtaguard could not read or evaluate it: why.
        case review(String)
        /// An accepting entry mtaguard cannot evaluate may let some outside clients through;
        /// the clients it does not match go on down the list: why.
        case mayOpen(String)
    }

    /// Table types mtaguard reads.
    static let textTypes: Set<String> = ["hash", "btree", "lmdb", "cdb", "dbm", "texthash", "cidr", "regexp", "pcre", "inline"]

    /// Actions that accept nothing (access(5) REJECT and OTHER ACTIONS that do not permit).
    static let notPermitting: Set<String> = [
        "REJECT", "DEFER", "DEFER_IF_REJECT", "DEFER_IF_PERMIT", "DUNNO", "DISCARD", "HOLD", "FILTER", "REDIRECT", "BCC",
        "PREPEND", "INFO", "WARN",
    ]

    /// The entries of a table of `type` whose text is `text`.
    static func entries(type: String, text: String) -> [Entry] {
        if type == "inline" {
            let body = text.trimmingCharacters(in: CharacterSet(charactersIn: "{} \t"))
            let all: [Entry] = body.split(separator: ",").compactMap { part in
                let kv = part.split(separator: "=", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
                return kv.count == 2 ? Entry(key: kv[0], action: kv[1], line: 0) : nil
            }
            // A key given twice answers with its last value (postfix 3.7: `{ a=OK, a=REJECT }`
            // rejects, PostfixRelayDifferentialTests).
            return all.enumerated().filter { n, e in !all[(n + 1)...].contains { $0.key.lowercased() == e.key.lowercased() } }.map(\.element)
        }
        var out: [Entry] = []
        var logical: [(String, Int)] = []
        for (i, raw) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let line = String(raw).replacingOccurrences(of: "\r", with: "")
            if PostfixValue.isSkipped(line) { continue }
            if let first = line.unicodeScalars.first, PostfixValue.isSpace(first), !logical.isEmpty {
                logical[logical.count - 1].0 += " " + line.trimmingCharacters(in: .whitespaces)
            } else {
                logical.append((line, i + 1))
            }
        }
        for (line, number) in logical {
            if type == "regexp" || type == "pcre" {
                var s = Substring(line.trimmingCharacters(in: .whitespaces))
                let lower = s.lowercased()
                if lower.hasPrefix("if ") || lower.hasPrefix("if!") || lower == "endif" || lower.hasPrefix("endif ") { continue }
                var negated = false
                if s.first == "!" { negated = true; s = s.dropFirst() }
                guard let delimiter = s.first else { continue }
                var j = s.index(after: s.startIndex), pattern = ""
                while j < s.endIndex, s[j] != delimiter {
                    if s[j] == "\\", s.index(after: j) < s.endIndex {
                        pattern.append(s[j]); j = s.index(after: j)
                    }
                    pattern.append(s[j]); j = s.index(after: j)
                }
                guard j < s.endIndex else { continue }
                let rest = s[s.index(after: j)...].drop { !PostfixValue.isSpace($0.unicodeScalars.first!) }
                out.append(Entry(key: pattern, action: rest.trimmingCharacters(in: .whitespaces), line: number, negated: negated))
            } else {
                let parts = line.split(maxSplits: 1, whereSeparator: { $0 == " " || $0 == "\t" })
                guard let key = parts.first else { continue }
                if type == "cidr", ["if", "endif"].contains(key.lowercased()) { continue }
                out.append(Entry(key: String(key), action: parts.count > 1 ? parts[1].trimmingCharacters(in: .whitespaces) : "", line: number))
            }
        }
        return out
    }

    /// Whether `action` accepts: true (OK, all digits, or restrictions that permit), false, or
    /// nil with why where mtaguard cannot tell. `list` judges a restriction list or class name.
    static func permits(_ action: String, isClass: (String) -> Bool, list: (String) -> PostfixRelay.ListDecision) -> Result<Bool, Why> {
        let first = action.split(whereSeparator: { $0 == " " || $0 == "\t" }).first.map(String.init) ?? ""
        let upper = first.uppercased()
        // RELAY: postfix 3.7 accepts with it (RCPT TO an outside domain → 250, PostfixTableTests),
        // though access(5) does not list it.
        if upper == "OK" || upper == "RELAY" || (!action.isEmpty && action.allSatisfy(\.isNumber)) { return .success(true) }
        if notPermitting.contains(upper) { return .success(false) }
        if first.count == 3, let c = first.first, c == "4" || c == "5", first.allSatisfy(\.isNumber) { return .success(false) }
        let lower = first.lowercased()
        guard isClass(first) || restrictionPrefixes.contains(where: { lower.hasPrefix($0) }) else {
            return .failure(Why(text: "'\(first)' is neither an access(5) action nor a restriction mtaguard knows"))
        }
        switch list(action) {
        case .opens: return .success(true)
        case .closes, .undecided: return .success(false)
        case .depends(let why): return .failure(Why(text: why))
        }
    }

    struct Why: Error, Equatable { var text: String }

    /// How the restrictions an action may name begin (smtpd_check.c's restriction names).
    static let restrictionPrefixes = ["permit", "reject", "defer", "check_", "warn_if_reject", "sleep"]

    /// Who chooses what `restriction` looks up: the client for everything but its own address.
    static func clientChooses(_ restriction: String) -> Bool {
        restriction.lowercased() != "check_client_access"
    }

    /// What an outside client may be: the samples a client-address pattern is tried on.
    static let outsideSamples = ["192.0.2.1", "198.51.100.7", "203.0.113.250", "2001:db8::1"]

    /// How wide the client keys an entry matches are, for `check_client_access`.
    enum Reach { case nobody, everyone, wide, privateRange, unknown(String) }

    static func reach(of entry: Entry, type: String) -> Reach {
        switch type {
        case "regexp", "pcre":
            guard let re = try? NSRegularExpression(pattern: entry.key, options: type == "regexp" ? [.caseInsensitive] : []) else {
                return .unknown("a pattern mtaguard cannot evaluate")
            }
            let hits = outsideSamples.map { (re.firstMatch(in: $0, range: NSRange($0.startIndex..., in: $0)) != nil) != entry.negated }
            if hits.allSatisfy({ $0 }) { return .everyone }
            if hits.allSatisfy({ !$0 }) { return .unknown("a pattern that may match some outside clients' names or addresses") }
            return .unknown("a pattern that matches some outside addresses")
        case "cidr":
            return network(entry.key)
        default:
            let key = entry.key.lowercased()
            if key == "unknown" { return .everyone }
            let octets = key.split(separator: ".", omittingEmptySubsequences: false)
            if !octets.isEmpty, octets.count <= 4, octets.allSatisfy({ !$0.isEmpty && $0.allSatisfy(\.isNumber) }) {
                return network(octets.joined(separator: ".") + String(repeating: ".0", count: 4 - octets.count) + "/\(octets.count * 8)")
            }
            return .nobody
        }
    }

    /// How wide a CIDR network (`a.b.c.d/n`, `[v6]/n`, an address) is.
    static func network(_ text: String) -> Reach {
        let parts = text.split(separator: "/", maxSplits: 1)
        let bits = parts.count > 1 ? Int(parts[1]) : nil
        let address = parts.first.map(String.init) ?? ""
        if address.contains(":") {
            guard let bits else { return .nobody }
            if bits == 0 { return .everyone }
            return bits <= 7 ? .wide : (address.lowercased().hasPrefix("fc") || address.lowercased().hasPrefix("fd")) && bits <= 8 ? .privateRange : .nobody
        }
        let o = address.split(separator: ".").compactMap { UInt32($0) }
        guard o.count == 4, o.allSatisfy({ $0 < 256 }) else { return .nobody }
        let n = bits ?? 32
        if n == 0 { return .everyone }
        guard n <= 16 else { return .nobody }
        let value = o[0] << 24 | o[1] << 16 | o[2] << 8 | o[3]
        let privates: [(UInt32, Int)] = [(10 << 24, 8), (172 << 24 | 16 << 16, 12), (192 << 24 | 168 << 16, 16)]
        for (net, len) in privates where n >= len {
            let mask = UInt32.max << UInt32(32 - len)
            if value & mask == net { return .privateRange }
        }
        return .wide
    }

    /// What `restriction TABLE` does for an outside client; `list` judges a restriction list
    /// (a table's restriction action, or a restriction class's name).
    static func judge(
        _ restriction: String, _ table: String, facts: PostfixTableFacts?, isClass: (String) -> Bool = { _ in false },
        list: (String) -> PostfixRelay.ListDecision
    ) -> Outcome {
        var spec = table
        while spec.hasPrefix("proxy:") { spec.removeFirst(6) }
        let named = "\(restriction) \(table)"
        guard let colon = spec.firstIndex(of: ":") else { return .review("\(named): not a table postfix can open") }
        let type = String(spec[..<colon]).lowercased()
        let place = String(spec[spec.index(after: colon)...])
        guard textTypes.contains(type) else {
            return .review("\(named): mtaguard cannot read \(type): tables (what it answers an outside client decides; postmap -q ADDRESS \(table))")
        }
        let text: String
        if type == "inline" {
            text = place
        } else {
            guard let facts else { return .review("\(named), which mtaguard does not read") }
            switch facts.files[place] {
            case nil: return .review("\(named) was not read (mtaguard reads at most \(PostfixTableFacts.maxFiles) tables, by absolute path)")
            case .absent?: return .review("\(named): \(place) does not exist (postfix answers with a configuration error)")
            case .unread(let why)?: return .review("\(named): \(place) \(why)")
            case .read(let snapshot)?: text = String(decoding: snapshot.bytes, as: UTF8.self)
            }
            if let suffix = PostfixTableFacts.suffixes[type], !suffix.isEmpty {
                switch facts.compiled[place] {
                case .current?: break
                case .stale?:
                    return .review("\(named): \(place) was changed after \(place)\(suffix) was built, and postfix answers from \(place)\(suffix) (run postmap \(type):\(place))")
                case .absent?: return .review("\(named): \(place)\(suffix), which postfix answers from, does not exist (run postmap \(type):\(place))")
                case .unknown(let why)?: return .review("\(named): cannot tell whether \(place)\(suffix) is current: \(why)")
                case nil: return .review("\(named): \(place)\(suffix), which postfix answers from, was not looked at")
                }
            }
        }
        let at = { (e: Entry) in e.line > 0 ? " at line \(e.line)" : " in main.cf" }
        let shown = { (e: Entry) in "'\(e.negated ? "!" : "")\(type == "regexp" || type == "pcre" ? "/\(e.key)/" : e.key) \(e.action)'" }
        var privateHit: String?, uncertain: String?
        let all = entries(type: type, text: text)
        for (n, entry) in all.enumerated() {
            // cidr tables answer with the first entry that matches: one inside an earlier
            // entry's network is never reached.
            if type == "cidr", all[..<n].contains(where: { covers($0.key, entry.key) }) { continue }
            let accepts: Bool
            switch permits(entry.action, isClass: isClass, list: list) {
            case .success(let yes): accepts = yes
            case .failure(let why): return .review("\(named): \(shown(entry))\(at(entry)): \(why.text)")
            }
            guard accepts else { continue }
            if clientChooses(restriction) {
                return .opens("\(named): \(shown(entry))\(at(entry)) lets any client that \(who(restriction)) relay")
            }
            switch reach(of: entry, type: type) {
            case .nobody: continue
            case .everyone: return .opens("\(named): \(shown(entry))\(at(entry)) matches every client, so every client may relay")
            case .wide: return .opens("\(named): \(shown(entry))\(at(entry)) lets every client in a whole /16 or wider relay")
            case .privateRange:
                privateHit = privateHit ?? "\(named): \(shown(entry))\(at(entry)) lets a whole private range relay"
            case .unknown(let what):
                uncertain = uncertain
                    ?? "\(named): \(shown(entry))\(at(entry)) is \(what); whether it lets outside clients relay is for a person (postmap -q ADDRESS \(table))"
            }
        }
        if let uncertain { return .mayOpen(uncertain) }
        return privateHit.map(Outcome.opensPrivate) ?? .nothing
    }

    /// Whether the IPv4 network `outer` (`a.b.c.d/n` or an address) holds all of `inner`.
    static func covers(_ outer: String, _ inner: String) -> Bool {
        func parse(_ text: String) -> (UInt32, Int)? {
            let parts = text.split(separator: "/", maxSplits: 1)
            let o = parts.first.map { $0.split(separator: ".", omittingEmptySubsequences: false).compactMap { UInt32($0) } } ?? []
            let bits = parts.count > 1 ? Int(parts[1]) : 32
            guard o.count == 4, o.allSatisfy({ $0 < 256 }), let bits, (0...32).contains(bits) else { return nil }
            return (o[0] << 24 | o[1] << 16 | o[2] << 8 | o[3], bits)
        }
        guard let (a, n) = parse(outer), let (b, m) = parse(inner), n <= m else { return false }
        let mask: UInt32 = n == 0 ? 0 : UInt32.max << UInt32(32 - n)
        return a & mask == b & mask
    }

    /// Who gets relaying through an accepting entry of a table `restriction` looks in.
    static func who(_ restriction: String) -> String {
        let r = restriction.lowercased()
        if r.hasPrefix("check_sender") { return "claims such a sender" }
        if r.hasPrefix("check_helo") { return "says such a HELO name" }
        if r.hasPrefix("check_recipient") { return "names such a recipient" }
        return "chooses what it looks up (its host name's DNS records)"
    }
}
