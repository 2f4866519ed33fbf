import Foundation

/// What the host's own postfix says its defaults are, for the parameters relaying depends on:
/// `postconf -d` run on the host (over SSH, or on this machine when it is the live host), as
/// `name = value` lines. A parameter that postfix version does not know is absent from
/// `values` (postconf only warns about it), which is how an old postfix is told apart:
/// `smtpd_relay_restrictions` came in 2.10, `compatibility_level` in 3.0.
public struct PostfixHostDefaults: Sendable, Equatable {
    /// `mail_version`.
    public var version: String?
    /// The raw default per parameter, as printed (postfix 3.6 and later print a
    /// compatibility-level expression, `${{$compatibility_level} <level {1} ? {} : {…}}`).
    public var values: [String: String] = [:]
    /// Why postconf could not be asked (not installed, failed): the version table decides.
    public var failure: String?

    public init(version: String? = nil, values: [String: String] = [:], failure: String? = nil) {
        self.version = version
        self.values = values
        self.failure = failure
    }

    /// The parameters asked for, in the order postconf is asked.
    static let names = ["mail_version", "compatibility_level", "smtpd_relay_restrictions", "smtpd_recipient_restrictions", "mynetworks_style"]
    /// A value longer than this is not a default postfix ships: the line is refused.
    static let maxValue = 2000

    /// Reads one `pfdefault` line (`name = value`); what is not one of `names` is ignored.
    mutating func read(line: String) {
        guard let eq = line.range(of: " = ") ?? line.range(of: " =") else { return }
        let name = String(line[..<eq.lowerBound])
        let value = String(line[eq.upperBound...]).trimmingCharacters(in: .whitespaces)
        guard Self.names.contains(name), value.utf8.count <= Self.maxValue,
            !value.unicodeScalars.contains(where: { $0.value < 0x20 || $0.value == 0x7F })
        else { return }
        if name == "mail_version" {
            // A version is numbers and dots, with at most a snapshot or release-candidate suffix.
            if PostfixRelayDefaults.Level(value) != nil, value.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "." || $0 == "-") }) {
                version = value
            }
        } else {
            values[name] = value
        }
    }
}

/// postfix's defaults for the relay parameters, as that postfix reads them for the file's
/// `compatibility_level`: from the host's own `postconf -d` where it answered, else from the
/// table of postfix versions below (the host's version where known, else postfix 3.0 and later).
///
/// | postfix | smtpd_relay_restrictions | smtpd_recipient_restrictions | mynetworks_style |
/// |---|---|---|---|
/// | before 2.10 | (no such parameter: ignored) | permit_mynetworks, reject_unauth_destination | subnet |
/// | 2.10, 2.11 | permit_mynetworks, permit_sasl_authenticated, defer_unauth_destination | (empty) | subnet |
/// | 3.0 and later | level < 1: (empty); else as 2.10 | (empty) | level < 2: subnet; else host |
///
/// postfix 3.0–3.5 print the new default with `-d` and apply the old one below the level
/// (COMPATIBILITY_README's safety net); 3.6 and later print the expression itself.
struct PostfixRelayDefaults: Equatable {
    /// nil: this postfix has no `smtpd_relay_restrictions` (before 2.10), so main.cf's is ignored.
    var relay: String?
    var recipient: String
    var style: String
    /// The compatibility level in force (main.cf's, else the default), where postfix has one.
    var level: String?
    /// How the defaults were established, for the evidence.
    var source: String
    /// Established for this host (its postconf -d, or its known version); false where the
    /// version is not known and these are the defaults of postfix 3.0 and later.
    var known = true

    static let relay210 = "permit_mynetworks, permit_sasl_authenticated, defer_unauth_destination"
    static let recipientBefore210 = "permit_mynetworks, reject_unauth_destination"

    /// The defaults in force for a main.cf that sets `compatibility_level` to `level` (nil: not
    /// set), on a host whose postconf answered `host` (nil: not asked, or offline) and whose
    /// postfix version is `version` where known otherwise.
    static func resolve(host: PostfixHostDefaults?, version: String?, versionSource: String? = nil, level: String?) -> PostfixRelayDefaults {
        if let host, host.failure == nil, let v = host.version.flatMap(Level.init) {
            return fromHost(host, version: v, level: level)
        }
        // Why the host's own answer is not used: postconf failed, or it named no version
        // mtaguard could read; "" where it was not asked at all.
        let why = host.map { h in
            h.failure.map { " (postconf -d could not be asked on the host: \($0))" } ?? " (postconf -d on the host named no postfix version mtaguard could read)"
        } ?? ""
        if let v = version.flatMap(Level.init) {
            var d = table(v, level: level)
            d.source = "postfix \(v)'s defaults (mtaguard's table of postfix versions\(versionSource.map { ", with the version from \($0)" } ?? "")\(why))"
            return d
        }
        var d = table(Level([3, 0]), level: level)
        d.source = "those of postfix 3.0 and later, as postfix's version is not known here\(why.isEmpty ? " (an offline image, where no postconf is asked)" : why)"
        d.known = false
        return d
    }

    /// The version table above.
    static func table(_ v: Level, level: String?) -> PostfixRelayDefaults {
        if v < Level([2, 10]) {
            return PostfixRelayDefaults(relay: nil, recipient: recipientBefore210, style: "subnet", level: nil, source: "")
        }
        if v < Level([3, 0]) {
            return PostfixRelayDefaults(relay: relay210, recipient: "", style: "subnet", level: nil, source: "")
        }
        let l = level.flatMap(Level.init) ?? Level([0])
        return PostfixRelayDefaults(
            relay: l < Level([1]) ? "" : relay210, recipient: "", style: l < Level([2]) ? "subnet" : "host",
            level: level ?? "0", source: "")
    }

    /// The host's `postconf -d`, each value evaluated for the level; 3.0–3.5's plain values get
    /// the safety net's old defaults below level 1 and 2, as those versions run them.
    static func fromHost(_ host: PostfixHostDefaults, version v: Level, level: String?) -> PostfixRelayDefaults {
        let hasLevel = host.values["compatibility_level"] != nil
        let effective = level ?? host.values["compatibility_level"] ?? "0"
        let l = Level(effective) ?? Level([0])
        var unread: [String] = []
        func value(_ name: String, _ fallback: String?) -> String? {
            guard let raw = host.values[name] else { return nil }
            if let evaluated = evaluate(raw, level: l) { return evaluated }
            unread.append(name)
            return fallback
        }
        let safetyNet = hasLevel && !(host.values["smtpd_relay_restrictions"] ?? "").contains("$compatibility_level")
        let tableDefaults = table(v, level: hasLevel ? effective : nil)
        var relay = value("smtpd_relay_restrictions", tableDefaults.relay)
        var style = value("mynetworks_style", tableDefaults.style) ?? "subnet"
        if safetyNet && v < Level([3, 6]) {
            // postfix 3.0–3.5: -d shows the new default; below the level the old one runs.
            if l < Level([1]) && relay != nil { relay = "" }
            if l < Level([2]) && !(host.values["mynetworks_style"] ?? "").contains("$compatibility_level") { style = "subnet" }
        }
        let recipient = value("smtpd_recipient_restrictions", tableDefaults.recipient) ?? tableDefaults.recipient
        var source = "postfix \(v)'s own defaults (postconf -d on the host"
        source += hasLevel ? ", at compatibility_level \(effective)\(level == nil ? ", its default" : ""))" : ")"
        if !unread.isEmpty { source += "; mtaguard could not evaluate its default of \(unread.joined(separator: ", ")), so its table's is used" }
        return PostfixRelayDefaults(relay: relay, recipient: recipient, style: style.lowercased(), level: hasLevel ? effective : nil, source: source)
    }

    /// A default as postfix 3.6 and later print it: plain text, or
    /// `${{$compatibility_level} OP {N} ? {A} : {B}}` with OP one of `<level`, `<=level`,
    /// `>level`, `>=level`, `==level`, `!=level`; nil when it is some other expression.
    static func evaluate(_ raw: String, level: Level) -> String? {
        let v = raw.trimmingCharacters(in: .whitespaces)
        guard v.contains("$") else { return v }
        let prefix = "${{$compatibility_level}"
        guard v.hasPrefix(prefix), v.hasSuffix("}") else { return nil }
        var rest = Substring(v.dropFirst(prefix.count).dropLast())
        func skipSpace() { while rest.first == " " { rest.removeFirst() } }
        func braced() -> String? {
            skipSpace()
            guard rest.first == "{" else { return nil }
            var depth = 0, out = ""
            while let c = rest.first {
                rest.removeFirst()
                if c == "{" { depth += 1; if depth == 1 { continue } }
                if c == "}" { depth -= 1; if depth == 0 { return out } }
                out.append(c)
            }
            return nil
        }
        skipSpace()
        let ops = ["<=level", ">=level", "==level", "!=level", "<level", ">level"]
        guard let op = ops.first(where: { rest.hasPrefix($0) }) else { return nil }
        rest = rest.dropFirst(op.count)
        guard let n = braced().flatMap(Level.init) else { return nil }
        skipSpace()
        guard rest.first == "?" else { return nil }
        rest.removeFirst()
        guard let yes = braced() else { return nil }
        skipSpace()
        guard rest.first == ":" else { return nil }
        rest.removeFirst()
        guard let no = braced() else { return nil }
        skipSpace()
        guard rest.isEmpty, !yes.contains("$"), !no.contains("$") else { return nil }
        let holds: Bool
        switch op {
        case "<level": holds = level < n
        case "<=level": holds = !(n < level)
        case ">level": holds = n < level
        case ">=level": holds = !(level < n)
        case "==level": holds = level == n
        default: holds = level != n
        }
        return (holds ? yes : no).trimmingCharacters(in: .whitespaces)
    }

    /// A postfix version or compatibility level: numbers separated by dots, compared number by
    /// number (`3.10` after `3.9`), missing numbers read as 0 (`3` is `3.0`).
    struct Level: Comparable, CustomStringConvertible {
        var parts: [Int]
        init(_ parts: [Int]) { self.parts = parts }
        init?(_ text: String) {
            // mail_version may carry a suffix (3.9-20240101, 2.11.3-RC1): its numbers count.
            let numbers = text.prefix { $0.isASCII && ($0.isNumber || $0 == ".") }
            let parts = numbers.split(separator: ".", omittingEmptySubsequences: false).map { Int($0) }
            guard !numbers.isEmpty, parts.count <= 4, parts.allSatisfy({ $0 != nil && $0! < 100_000 }) else { return nil }
            self.parts = parts.map { $0! }
        }
        static func < (a: Level, b: Level) -> Bool {
            for i in 0..<max(a.parts.count, b.parts.count) {
                let x = i < a.parts.count ? a.parts[i] : 0, y = i < b.parts.count ? b.parts[i] : 0
                if x != y { return x < y }
            }
            return false
        }
        static func == (a: Level, b: Level) -> Bool { !(a < b) && !(b < a) }
        var description: String { parts.map(String.init).joined(separator: ".") }
    }
}
