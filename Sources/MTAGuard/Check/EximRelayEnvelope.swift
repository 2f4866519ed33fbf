import Foundation

/// What an outside client chooses when it tries to relay through exim: its address family,
/// whether its HELO name and reverse DNS verify (its own DNS, or its address as a literal),
/// TLS where exim offers it, the envelope sender (the null sender included) and the recipient's
/// local part. `EximRelay` runs the RCPT ACL once per choice, so conditions the client
/// controls are judged together as exim judges them in one session: a `require senders = :`
/// and a `deny senders = :` cannot both be passed, a `!hosts = <; ::/0` is passed from IPv4.
struct EximRelayEnvelope: Equatable, CustomStringConvertible {
    enum Family: String { case ipv4 = "IPv4", ipv6 = "IPv6" }
    var family: Family
    /// Its HELO name and its reverse DNS verify (`verify = helo`, `reverse_host_lookup`).
    var dnsVerifies: Bool
    var tls: Bool
    /// "" is the null sender.
    var sender: String
    var localPart: String
    /// Whether the lookups the ACL makes (`net-lsearch;FILE`, `${lookup{$sender_host_address}…}`)
    /// list this client. mtaguard does not read those files: an attacker is taken not to be
    /// listed (its address is its own to choose), and a verdict of "closed" is checked again
    /// with it listed (`EximRelay.judge`), since a file may list the whole Internet.
    var listed = false

    var description: String {
        "from an \(family.rawValue) address, HELO \(dnsVerifies ? "its own address (it verifies)" : "a name that does not verify")"
            + (tls ? ", after STARTTLS" : "") + ", MAIL FROM:<\(sender)>, RCPT TO:<\(localPart)@an outside domain>"
    }

    /// A sender at a domain that does not exist: `verify = sender` fails for it, and for no
    /// other sender the client picks (the null sender verifies, a sender at a domain that
    /// routes verifies without a callout).
    static let unverifiable = "someone@nowhere.invalid"

    /// Local parts an attacker tries: a plain one, a common one, and one with each character
    /// relay rules look for.
    static let localParts = ["probe", "postmaster", "a%b", "a@b", "a!b", "a/b", "a|b", ".a"]

    /// Every choice worth trying against `statements`: the plain ones above, plus a sender and a
    /// local part that each `senders` and `local_parts` list names (`*@dom` → `someone@dom`).
    static func all(for statements: [EximConfigReading.Statement], reading: EximConfigReading) -> [EximRelayEnvelope] {
        let local = reading.settings["primary_hostname"]?.value.trimmingCharacters(in: .whitespaces) ?? "localhost"
        var senders = ["", "postmaster@" + (local.isEmpty || local.contains("$") ? "localhost" : local), "someone@outside.example", unverifiable]
        var localParts = Self.localParts
        for s in statements {
            for v in s.values {
                for item in EximRelay.items(v.value).items {
                    let plain = item.drop(while: { $0 == "!" || $0 == " " })
                    guard !plain.contains("$"), !plain.contains(";"), !plain.hasPrefix("^"), !plain.hasPrefix("+") else { continue }
                    if v.name == "senders", plain.contains("@") {
                        let witness = plain.hasPrefix("*@") ? "someone" + plain.dropFirst() : String(plain)
                        if !witness.contains("*"), !senders.contains(witness) { senders.append(witness) }
                    } else if v.name == "local_parts", !plain.contains("*"), !localParts.contains(String(plain)) {
                        localParts.append(String(plain))
                    }
                }
            }
        }
        var out: [EximRelayEnvelope] = []
        for family in [Family.ipv4, .ipv6] {
            for dns in [true, false] {
                for tls in EximRelay.tlsOffered(reading, family: family) == .yes ? [false, true] : [false] {
                    for sender in senders {
                        for lp in localParts {
                            out.append(EximRelayEnvelope(family: family, dnsVerifies: dns, tls: tls, sender: sender, localPart: lp))
                        }
                    }
                }
            }
        }
        return out
    }

    /// Whether an address list (`senders`) or a local part list (`local_parts`) matches
    /// `subject`, first match deciding, as exim matches them (spec 10.19–10.21): an empty item
    /// matches the null sender, `*@domain` any local part at the domain, an address itself,
    /// `^…` a regular expression; a named list is followed. Lookups, expansions and patterns
    /// it does not model are unknown.
    static func matches(_ list: String, kind: String, subject: String, lists: [String: EximConfigReading.NamedList], depth: Int = 0) -> EximRelay.Truth {
        let trimmed = list.trimmingCharacters(in: .whitespaces)
        var all = EximRelay.items(list).items
        // "senders = :" is one empty item: the null sender.
        if kind == "address", trimmed == ":" || trimmed.hasPrefix(": ") || trimmed.contains(": :") {
            all.insert("", at: 0)
        }
        for raw in all {
            let (item, negated) = EximRelay.unnegated(raw)
            let hit: EximRelay.Truth
            if item.hasPrefix("+") {
                let name = String(item.dropFirst())
                guard depth < 8, let named = lists[(kind == "address" ? "addresslist " : "localpartlist ") + name] else { return .unknown }
                hit = matches(named.setting.value, kind: kind, subject: subject, lists: lists, depth: depth + 1)
            } else if item.contains("$") || item.hasPrefix("/") || item.contains(";") {
                hit = .unknown
            } else if item.hasPrefix("^") {
                guard let re = try? NSRegularExpression(pattern: item) else { return .unknown }
                hit = re.firstMatch(in: subject, range: NSRange(subject.startIndex..., in: subject)) != nil ? .yes : .no
            } else if kind == "address" {
                if item.isEmpty {
                    hit = subject.isEmpty ? .yes : .no
                } else if item.hasPrefix("*@") {
                    hit = !subject.isEmpty && subject.lowercased().hasSuffix(item.dropFirst().lowercased()) ? .yes : .no
                } else if item.contains("@") && !item.contains("*") {
                    hit = item.lowercased() == subject.lowercased() ? .yes : .no
                } else {
                    return .unknown
                }
            } else {
                guard !item.contains("*") else { return .unknown }
                hit = item == subject ? .yes : .no
            }
            switch hit {
            case .yes: return negated ? .no : .yes
            case .unknown: return .unknown
            case .no: continue
            }
        }
        return all.last?.hasPrefix("!") == true ? .yes : .no
    }
}
