import Foundation

/// sendmail's access map and class R (relay-domains), read as makemap and the cf's rules read
/// them (cf/m4/proto.m4, 8.10 to 8.17) and judged as an outside client can make them answer.
/// Relay_ok relays for a client whose address is in class R (`R$=R $*`) or whose address
/// prefix the map says RELAY for (ruleset A: `Connect:a.b.c.d`, then `a.b.c.d`, then the same
/// one octet shorter, down to one octet; the first key found answers), with
/// FEATURE(`relay_mail_from') for a sender the map says `From:… RELAY` for, and for a client
/// whose reverse DNS name, confirmed by a forward lookup (`{client_resolve}` OK), is in class R or
/// under a `Connect:`/untagged domain key with RELAY. Rcpt_ok relays to a recipient domain in
/// class R or under a `To:`/untagged domain key with RELAY. Only what an outside client picks
/// opens relaying to the world: its sender, a recipient in a whole top-level domain, an address
/// in a wide range, a host name in a whole top-level domain. What mtaguard could not read is
/// for a person (수동 확인), never closed.
enum SendmailAccessMap {
    /// One `key value` line of a makemap source (keys folded to lower case, as makemap does).
    struct Entry: Equatable {
        var key: String
        var value: String
        var line: Int

        var shown: String { "'\(key) \(value)'" }
        /// Whether the value is RELAY (rule tokens compare without case).
        var relays: Bool { value.trimmingCharacters(in: .whitespaces).caseInsensitiveCompare("RELAY") == .orderedSame }
    }

    /// The entries of a makemap source, first one per key (makemap keeps the first of a
    /// duplicate key; a text map answers from the first line).
    static func entries(_ text: String) -> [Entry] {
        var out: [Entry] = [], seen = Set<String>()
        for (i, raw) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let line = raw.replacingOccurrences(of: "\r", with: "")
            guard !line.hasPrefix("#") else { continue }
            let parts = line.split(maxSplits: 1, whereSeparator: { $0 == " " || $0 == "\t" })
            guard parts.count == 2, let first = line.first, first != " " && first != "\t" else { continue }
            let key = parts[0].lowercased()
            let value = parts[1].trimmingCharacters(in: .whitespaces)
            guard !value.isEmpty, seen.insert(key).inserted else { continue }
            out.append(Entry(key: key, value: value, line: i + 1))
        }
        return out
    }

    /// The key's tag (`connect`, `from`, `to`, …) and the rest; no tag for an untagged key
    /// (an `IPv6:` address is untagged).
    static func tag(_ key: String) -> (tag: String?, rest: String) {
        guard let colon = key.firstIndex(of: ":"), key[..<colon] != "ipv6" else { return (nil, key) }
        return (String(key[..<colon]), String(key[key.index(after: colon)...]))
    }

    /// The octets of a dotted IPv4 prefix (`192.0.2`), nil for anything else.
    static func ipv4Prefix(_ s: String) -> [UInt32]? {
        let parts = s.split(separator: ".", omittingEmptySubsequences: false)
        guard (1...4).contains(parts.count) else { return nil }
        let octets = parts.compactMap { p in p.count <= 3 && p.allSatisfy(\.isNumber) ? UInt32(p) : nil }
        return octets.count == parts.count && octets.allSatisfy({ $0 < 256 }) ? octets : nil
    }

    /// The entry ruleset A answers for a client `address` (dotted IPv4): the tagged key, then
    /// the untagged one, for the whole address and then each shorter prefix.
    static func answer(for address: String, in entries: [Entry]) -> Entry? {
        var parts = address.split(separator: ".").map(String.init)
        while !parts.isEmpty {
            let key = parts.joined(separator: ".")
            if let e = entries.first(where: { $0.key == "connect:" + key }) ?? entries.first(where: { $0.key == key }) { return e }
            parts.removeLast()
        }
        return nil
    }

    /// How much of the Internet an address prefix (a key's or a class R entry's) covers, as
    /// `PostfixAccessTable.network` judges a client network: loopback is nobody outside.
    static func reach(ipv4 octets: [UInt32]) -> PostfixAccessTable.Reach {
        if octets.first == 127 || octets.first == 0 { return .nobody }
        let padded = octets + Array(repeating: 0, count: 4 - octets.count)
        return PostfixAccessTable.network(padded.map(String.init).joined(separator: ".") + "/\(octets.count * 8)")
    }

    /// An IPv6 prefix key (`ipv6:2001:db8`): a prefix of one or two groups (/32 or wider) is a
    /// wide range (a private one under fc00::/7), nil for anything that is not one.
    static func reach(ipv6 rest: String) -> PostfixAccessTable.Reach? {
        guard rest.hasPrefix("ipv6:") else { return nil }
        let groups = rest.dropFirst(5).split(separator: ":", omittingEmptySubsequences: false)
        guard !groups.isEmpty, groups.allSatisfy({ $0.count <= 4 && $0.allSatisfy(\.isHexDigit) }) else { return nil }
        if rest.contains("::") || groups.count > 2 { return .nobody }
        return groups[0].hasPrefix("fc") || groups[0].hasPrefix("fd") ? .privateRange : .wide
    }

    /// Host names no outside client can be confirmed as (a forward lookup answers locally).
    static let localNames: Set<String> = ["localhost", "localdomain", "local", "localhost.localdomain"]

    /// A domain key that names a whole top-level domain (one label), which anyone can register
    /// a name in.
    static func wholeTopLevel(_ domain: String) -> Bool {
        let d = domain.hasPrefix(".") ? String(domain.dropFirst()) : domain
        return !d.isEmpty && !d.contains(".") && !localNames.contains(d) && ipv4Prefix(d) == nil
    }

    /// What the map and class R let an outside client do.
    struct Judged: Equatable {
        /// Relaying open to outside clients: the sentence, the file, its line and text.
        var opens: [(file: String, line: Int, text: String, note: String)] = []
        /// A whole private range may relay.
        var opensPrivate: [(file: String, line: Int, text: String, note: String)] = []
        /// What mtaguard could not read or evaluate.
        var review: [String] = []
        /// RELAY entries that do not open relaying to the world, each said.
        var limited: [String] = []

        static func == (a: Judged, b: Judged) -> Bool {
            a.opens.map(\.note) == b.opens.map(\.note) && a.opensPrivate.map(\.note) == b.opensPrivate.map(\.note)
                && a.review == b.review && a.limited == b.limited
        }
    }

    /// A witness: an address under `octets` that ruleset A answers with `entry` (so not a more
    /// specific key's), tried on a few candidates; nil when none is found.
    static func witness(under octets: [UInt32], entry: Entry, in entries: [Entry]) -> String? {
        let fills: [[UInt32]] = [[1, 2, 3], [77, 5, 9], [203, 113, 250], [254, 254, 254]]
        for fill in fills {
            let address = (octets + fill.prefix(4 - octets.count)).map(String.init).joined(separator: ".")
            if answer(for: address, in: entries) == entry { return address }
        }
        return nil
    }

    /// Judges `entries` of the map at `file` (nil: no map) and class R (`classR`: entries with
    /// where each came from). `mailFrom`: the cf relays for a sender the map says RELAY for.
    static func judge(entries: [Entry], file: String?, classR: [(entry: String, file: String, line: Int)], mailFrom: Bool) -> Judged {
        var j = Judged()
        for e in entries where e.relays {
            guard let file else { break }
            let at = "\(file) line \(e.line): \(e.shown)"
            let (tag, rest) = tag(e.key)
            switch tag {
            case "from"?:
                if mailFrom {
                    j.opens.append((file, e.line, e.shown, "\(at): with FEATURE(`relay_mail_from') every client that gives MAIL FROM:<\(rest)> relays, and the sender is the client's to choose"))
                } else {
                    j.limited.append("\(at) does not open relaying (without FEATURE(`relay_mail_from') sendmail reads From: keys only for the sender's own checks)")
                }
            case "to"?:
                toKey(rest, at: at, file: file, entry: e, into: &j)
            case nil, "connect"?:
                if let octets = ipv4Prefix(rest) {
                    addressKey(octets, at: at, file: file, line: e.line, text: e.shown, witness: witness(under: octets, entry: e, in: entries), into: &j)
                } else if let wide = reach(ipv6: rest) {
                    rangeKey(wide, at: at, file: file, line: e.line, text: e.shown, into: &j)
                } else {
                    nameKey(rest, at: at, file: file, line: e.line, text: e.shown, into: &j)
                    if tag == nil { toKey(rest, at: at, file: file, entry: e, into: &j) }
                }
            default:
                continue
            }
        }
        for r in classR {
            let at = "\(r.file) line \(r.line): '\(r.entry)' in class R"
            if let octets = ipv4Prefix(r.entry.lowercased()) {
                addressKey(octets, at: at, file: r.file, line: r.line, text: r.entry, witness: octets.count == 4 ? r.entry : nil, into: &j)
            } else {
                nameKey(r.entry.lowercased(), at: at, file: r.file, line: r.line, text: r.entry, into: &j)
                let entry = Entry(key: r.entry.lowercased(), value: "RELAY", line: r.line)
                toKey(r.entry.lowercased(), at: at, file: r.file, entry: entry, into: &j)
            }
        }
        return j
    }

    static func addressKey(_ octets: [UInt32], at: String, file: String, line: Int, text: String, witness: String?, into j: inout Judged) {
        let width = "/\(octets.count * 8)"
        let example = witness.map { " (an outside client at \($0) relays)" } ?? ""
        switch reach(ipv4: octets) {
        case .everyone, .wide:
            j.opens.append((file, line, text, "\(at) lets every client in the \(width) network \(octets.map(String.init).joined(separator: ".")) relay, a whole public range\(example)"))
        case .privateRange:
            j.opensPrivate.append((file, line, text, "\(at) lets a whole private range (\(width)) relay\(example)"))
        default:
            j.limited.append("\(at) lets only the clients of that \(width == "/32" ? "one address" : width + " network") relay")
        }
    }

    static func rangeKey(_ reach: PostfixAccessTable.Reach, at: String, file: String, line: Int, text: String, into j: inout Judged) {
        switch reach {
        case .everyone, .wide: j.opens.append((file, line, text, "\(at) lets every client in a whole IPv6 range (/32 or wider) relay"))
        case .privateRange: j.opensPrivate.append((file, line, text, "\(at) lets a whole private IPv6 range relay"))
        default: j.limited.append("\(at) lets only the clients of a small IPv6 network relay")
        }
    }

    static func nameKey(_ name: String, at: String, file: String, line: Int, text: String, into j: inout Judged) {
        if wholeTopLevel(name) {
            j.opens.append((file, line, text, "\(at) lets every client whose address's reverse DNS name is in the top-level domain '\(name)' relay: anyone who registers a domain there can give the address such a name and confirm it"))
        } else {
            j.limited.append("\(at) lets a client relay only where its address's reverse DNS name is \(name) or under it and a forward lookup of that name gives the address back (sendmail refuses a FORGED name, {client_resolve})")
        }
    }

    static func toKey(_ domain: String, at: String, file: String, entry: Entry, into j: inout Judged) {
        if wholeTopLevel(domain) {
            j.opens.append((file, entry.line, entry.shown, "\(at) lets every client relay to any domain in the top-level domain '\(domain)'"))
        } else if ipv4Prefix(domain) == nil {
            j.limited.append("\(at) lets clients relay to \(domain) and its subdomains only (a backup MX or gateway for it), not to other recipients")
        }
    }
}

extension SendmailAccessMap {
    /// Judges what the cf's active `lines` declare (the `Kaccess` map, `FR` files, `CR`
    /// entries) with the files the facts round trip read (`facts`: nil when not read).
    static func judge(cf lines: [(number: Int, text: String)], cfFile: String, facts: PostfixTableFacts?, mailFrom: Bool) -> Judged {
        var review: [String] = []
        var mapEntries: [Entry] = [], mapFile: String?
        if let map = SendmailAccessFacts.accessMap(lines) {
            let named = "the access map (\(cfFile) line \(map.line): '\(map.text)')"
            if let file = map.file, let ref = SendmailAccessFacts.source(mapClass: map.mapClass, file: file) {
                if map.columns && map.mapClass == "text" {
                    review.append("\(named): a text map with column options (-k, -v, -z) is not read by mtaguard; what it answers an outside client decides (sendmail -bt: /map access KEY)")
                } else {
                    switch read(ref, named: named, facts: facts) {
                    case .success(let text): (mapEntries, mapFile) = (entries(text), ref.path)
                    case .failure(let why): review.append(why.text)
                    }
                }
            } else if SendmailAccessFacts.suffixes[map.mapClass] == nil {
                review.append("\(named): mtaguard cannot read \(map.mapClass) maps; what it answers an outside client decides whether relaying is open (sendmail -bt: /map access Connect:ADDRESS)")
            } else {
                review.append("\(named) names no file mtaguard reads (an absolute path without . or .. components)")
            }
        }
        var classR: [(entry: String, file: String, line: Int)] = SendmailAccessFacts.classEntries(lines).map { ($0.entry, cfFile, $0.line) }
        for f in SendmailAccessFacts.classFiles(lines) {
            let named = "class R (\(cfFile) line \(f.line): '\(f.text)')"
            guard let file = f.file else {
                review.append("\(named): a program or a path mtaguard does not read fills it; the hosts it lists relay")
                continue
            }
            if f.pattern {
                review.append("\(named): sendmail takes from \(file) what the scanf pattern matches, which mtaguard does not evaluate; the hosts it lists relay")
                continue
            }
            if case .absent? = facts?.files[file], f.optional { continue }
            switch read(PostfixTableFacts.Reference(path: file, suffix: ""), named: named, facts: facts) {
            case .success(let text):
                // The first word of each line, as sendmail 8.17's fileclass takes it (seen: a
                // second word on a line is not in the class).
                for (i, raw) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() where !raw.hasPrefix("#") {
                    guard let first = SendmailAccessFacts.words(raw.replacingOccurrences(of: "\r", with: "")[...]).first else { continue }
                    classR.append((String(first), file, i + 1))
                }
            case .failure(let why): review.append(why.text)
            }
        }
        var j = judge(entries: mapEntries, file: mapFile, classR: classR, mailFrom: mailFrom)
        j.review = review + j.review
        return j
    }

    struct Unread: Error { var text: String }

    /// The text of `ref`, or why it cannot be judged: not read, absent, unreadable, or a compiled
    /// file sendmail answers from that is missing or older than its source.
    static func read(_ ref: PostfixTableFacts.Reference, named: String, facts: PostfixTableFacts?) -> Result<String, Unread> {
        let place = ref.path
        guard let facts else { return .failure(Unread(text: "\(named) was not read")) }
        let text: String
        switch facts.files[place] {
        case nil: return .failure(Unread(text: "\(named): \(place) was not read (mtaguard reads at most \(SendmailAccessFacts.maxFiles) files, by absolute path)"))
        case .absent? where ref.suffix.isEmpty:
            return .failure(Unread(text: "\(named): \(place) does not exist, and the line does not make it optional (-o): sendmail says it cannot open it"))
        case .absent?:
            return .failure(Unread(text: "\(named): its source \(place) does not exist, so what sendmail answers from \(place)\(ref.suffix) cannot be read (makemap -u to see it; keep the source beside it)"))
        case .unread(let why)?: return .failure(Unread(text: "\(named): \(place) \(why)"))
        case .read(let snapshot)?: text = String(decoding: snapshot.bytes, as: UTF8.self)
        }
        guard !ref.suffix.isEmpty else { return .success(text) }
        let compiled = place + ref.suffix
        switch facts.compiled[place] {
        case .current?: return .success(text)
        case .stale?:
            return .failure(Unread(text: "\(named): \(place) was changed after \(compiled) was built, and sendmail answers from \(compiled) (run makemap on \(place), or look at makemap -u)"))
        case .absent?: return .failure(Unread(text: "\(named): \(compiled), which sendmail answers from, does not exist (build it with makemap from \(place))"))
        case .unknown(let why)?: return .failure(Unread(text: "\(named): cannot tell whether \(compiled) is current: \(why)"))
        case nil: return .failure(Unread(text: "\(named): \(compiled), which sendmail answers from, was not looked at"))
        }
    }
}
