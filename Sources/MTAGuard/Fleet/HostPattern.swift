import Foundation

/// A problem with one host name, range or pattern, before the caller adds the file and line.
struct HostPatternProblem: Error, Sendable {
    var message: String
    var hint: String?
    init(_ message: String, hint: String? = nil) {
        self.message = message
        self.hint = hint
    }
}

/// Host names, Ansible host ranges (`web[01:03].example.com`) and `--limit` patterns.
enum HostPattern {
    /// Most host names one range pattern may expand to.
    static let maximumExpansion = 65_536

    // MARK: Names

    /// Why `name` cannot be a host name, or nil when it can. A host name ends up on an ssh
    /// command line, so anything that could be read as an option or split by a shell is refused.
    static func problem(hostName name: String) -> String? {
        if name.isEmpty { return "is empty" }
        if name.hasPrefix("-") { return "starts with '-' (ssh would read it as an option)" }
        for scalar in name.unicodeScalars {
            switch scalar {
            case " ", "\t", "\n", "\r", "\u{0B}", "\u{0C}":
                return "contains whitespace"
            case "/", "\\":
                return "contains '\(scalar)'"
            case "'", "\"", "`":
                return "contains a quote (\(scalar))"
            case "[", "]":
                return "contains '\(scalar)' outside a host range"
            default:
                if scalar.value < 0x20 || scalar.value == 0x7F || (0x80...0x9F).contains(scalar.value) {
                    return "contains a control character (U+\(String(format: "%04X", scalar.value)))"
                }
                if scalar.properties.isWhitespace { return "contains whitespace" }
            }
        }
        return nil
    }

    /// Group names: letters, digits, '_', '-' and '.', so that they cannot be confused with
    /// pattern syntax (`:`, `,`, `!`, `&`, `*`, `?`).
    static func problem(groupName name: String) -> String? {
        if name.isEmpty { return "is empty" }
        for ch in name where !(ch.isLetter || ch.isNumber || ch == "_" || ch == "-" || ch == ".") {
            return "contains '\(ch)' (group names are letters, digits, '_', '-' and '.')"
        }
        return nil
    }

    // MARK: host:port

    /// Splits Ansible's `name:port` (also `[ipv6]:port`); a bare IPv6 address (two or more colons)
    /// has no port. Brackets of host ranges are not taken for IPv6.
    static func splitPort(_ text: String) throws(HostPatternProblem) -> (pattern: String, port: Int?) {
        if text.hasPrefix("["), let close = text.firstIndex(of: "]") {
            let inside = text[text.index(after: text.startIndex)..<close]
            if inside.filter({ $0 == ":" }).count >= 2, inside.allSatisfy({ $0.isHexDigit || $0 == ":" || $0 == "." }) {
                let rest = text[text.index(after: close)...]
                if rest.isEmpty { return (String(inside), nil) }
                guard rest.hasPrefix(":") else {
                    throw HostPatternProblem("unexpected '\(rest)' after the IPv6 address [\(inside)]")
                }
                return (String(inside), try port(String(rest.dropFirst()), in: text))
            }
        }
        var depth = 0
        var colons: [String.Index] = []
        for i in text.indices {
            switch text[i] {
            case "[": depth += 1
            case "]": depth -= 1
            case ":" where depth == 0: colons.append(i)
            default: break
            }
        }
        guard colons.count == 1, let colon = colons.first else { return (text, nil) }
        return (String(text[..<colon]), try port(String(text[text.index(after: colon)...]), in: text))
    }

    static func port(_ text: String, in whole: String) throws(HostPatternProblem) -> Int {
        guard !text.isEmpty, text.allSatisfy(\.isASCII), text.allSatisfy(\.isNumber), let n = Int(text), (1...65535).contains(n) else {
            throw HostPatternProblem("'\(whole)': port '\(text)' is not a number from 1 to 65535",
                                     hint: "write name:port, e.g. mail1:2222")
        }
        return n
    }

    // MARK: Ranges

    private static let letters = Array("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")

    /// Expands every `[start:end]` or `[start:end:step]` in `pattern` (numbers, zero padding kept
    /// when the start is written with a leading zero; or single letters), in order.
    static func expand(_ pattern: String) throws(HostPatternProblem) -> [String] {
        guard let open = pattern.firstIndex(of: "[") else {
            if pattern.contains("]") { throw HostPatternProblem("'\(pattern)' has ']' without '['") }
            return [pattern]
        }
        guard let close = pattern[open...].firstIndex(of: "]") else {
            throw HostPatternProblem("'\(pattern)' has '[' without a closing ']'",
                                     hint: "a host range is written like web[01:03]")
        }
        let head = String(pattern[..<open])
        let body = String(pattern[pattern.index(after: open)..<close])
        let tail = String(pattern[pattern.index(after: close)...])
        let values = try rangeValues(body, in: pattern)
        let rests = try expand(tail)
        guard values.count * rests.count <= maximumExpansion else {
            throw HostPatternProblem("'\(pattern)' expands to more than \(maximumExpansion) hosts")
        }
        return values.flatMap { v in rests.map { head + v + $0 } }
    }

    private static func rangeValues(_ body: String, in pattern: String) throws(HostPatternProblem) -> [String] {
        let hint = "a host range is [start:end] or [start:end:step], e.g. web[01:10] or db-[a:f]"
        let parts = body.split(separator: ":", omittingEmptySubsequences: false).map(String.init)
        guard parts.count == 2 || parts.count == 3 else {
            throw HostPatternProblem("'\(pattern)': '[\(body)]' is not a host range", hint: hint)
        }
        let start = parts[0].isEmpty ? "0" : parts[0]
        let end = parts[1]
        guard !end.isEmpty else { throw HostPatternProblem("'\(pattern)': the range [\(body)] has no end", hint: hint) }
        var step = 1
        if parts.count == 3 {
            guard let s = Int(parts[2]), s > 0 else {
                throw HostPatternProblem("'\(pattern)': the range step '\(parts[2])' is not a positive number", hint: hint)
            }
            step = s
        }
        let isDigits = { (s: String) in s.allSatisfy { $0.isASCII && $0.isNumber } }
        if isDigits(start) && isDigits(end) {
            guard let from = Int(start), let to = Int(end) else {
                throw HostPatternProblem("'\(pattern)': the range [\(body)] is too large")
            }
            guard from <= to else {
                throw HostPatternProblem("'\(pattern)': the range starts at \(start), after its end \(end)", hint: hint)
            }
            guard (to - from) / step < maximumExpansion else {
                throw HostPatternProblem("'\(pattern)' expands to more than \(maximumExpansion) hosts")
            }
            let width = start.count > 1 && start.hasPrefix("0") ? start.count : 0
            if width > 0, end.count != width {
                throw HostPatternProblem(
                    "'\(pattern)': a zero-padded range needs start and end of the same width ('\(start)' and '\(end)')",
                    hint: "write e.g. [01:10]")
            }
            return stride(from: from, through: to, by: step).map { n in
                let s = String(n)
                return s.count < width ? String(repeating: "0", count: width - s.count) + s : s
            }
        }
        if start.count == 1, end.count == 1, let i = letters.firstIndex(of: Character(start)),
            let j = letters.firstIndex(of: Character(end))
        {
            guard i <= j else {
                throw HostPatternProblem("'\(pattern)': the range starts at \(start), after its end \(end)", hint: hint)
            }
            return stride(from: i, through: j, by: step).map { String(letters[$0]) }
        }
        throw HostPatternProblem("'\(pattern)': the range [\(body)] is neither numbers nor single letters", hint: hint)
    }

    // MARK: Limit patterns

    /// The items of a `--limit` value: split on ',' and, outside brackets and IPv6 addresses, on ':'.
    static func split(limit: String) -> [String] {
        var items: [String] = []
        for piece in limit.split(separator: ",", omittingEmptySubsequences: false) {
            let piece = piece.trimmingCharacters(in: .whitespaces)
            let bare = piece.drop { $0 == "!" || $0 == "&" }
            if bare.filter({ $0 == ":" }).count >= 2, bare.allSatisfy({ $0.isHexDigit || $0 == ":" || $0 == "." }) {
                items.append(piece)  // an IPv6 address
                continue
            }
            var current = ""
            var depth = 0
            for ch in piece {
                if ch == "[" { depth += 1 }
                if ch == "]" { depth -= 1 }
                if ch == ":" && depth == 0 {
                    items.append(current)
                    current = ""
                } else {
                    current.append(ch)
                }
            }
            items.append(current)
        }
        return items.map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
    }

    static func isGlob(_ pattern: String) -> Bool { pattern.contains("*") || pattern.contains("?") }

    /// Shell-style match with `*` (any run, also empty) and `?` (one character); case-sensitive.
    static func glob(_ pattern: String, matches name: String) -> Bool {
        let p = Array(pattern), s = Array(name)
        var pi = 0, si = 0
        var star = -1, mark = 0
        while si < s.count {
            if pi < p.count, p[pi] == "*" {
                star = pi
                mark = si
                pi += 1
            } else if pi < p.count, p[pi] == "?" || p[pi] == s[si] {
                pi += 1
                si += 1
            } else if star >= 0 {
                pi = star + 1
                mark += 1
                si = mark
            } else {
                return false
            }
        }
        while pi < p.count, p[pi] == "*" { pi += 1 }
        return pi == p.count
    }
}
