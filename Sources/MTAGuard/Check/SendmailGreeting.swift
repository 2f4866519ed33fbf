/// sendmail's SMTP greeting as sendmail 8 builds it from a sendmail.cf (main.c, readcf.c,
/// srvrsmtp.c), and whether it can tell the version:
/// 1. the last `O SmtpGreetingMessage=` line (option names are case-insensitive, and a unique
///    abbreviation counts: `O SmtpGreet=`);
/// 2. else, where the cf's version level (its last `V` line; none is level 0) is below 7, the
///    `$e` macro (`De…` or `D{e}…`, the last definition winning): the old way, from before the
///    option existed; level 7 and later cfs have it ignored;
/// 3. else sendmail's compiled default, `$j Sendmail $v ready at $b`.
/// The greeting tells the version when it uses `$v` or `$Z` (`${v}`, `$&v` alike), directly or
/// through macros the cf defines (`DX$v`, then `$X`); `$$v` is the text "$v", and a `$?v` test
/// prints nothing by itself. Measured with sendmail 8.17: a V6 cf with `De$j SMTP open for
/// business at $b.` greets "220 HOST ESMTP SMTP open for business at DATE."; the same cf at V10
/// greets with the compiled default.
struct SendmailGreeting: Equatable {
    enum Source: Equatable {
        /// The last SmtpGreetingMessage option, of `count` lines that set it.
        case option(count: Int)
        /// The `$e` macro of a cf below version level 7.
        case macro(level: Int)
        /// sendmail's own default: no option, and no `$e` or a cf at level 7 or later.
        case compiledDefault(level: Int, macroIgnored: Bool)
    }

    static let compiledDefault = "$j Sendmail $v ready at $b"
    /// The option's full name; an abbreviation must be at least this long to be unique
    /// ("Smtp" is also the start of SmtpUTF8).
    static let optionName = "SmtpGreetingMessage"
    static let shortestAbbreviation = 5

    /// The text sendmail expands (as written in the cf).
    var template: String
    var source: Source
    /// The line that decided (nil for the compiled default), and its text.
    var line: Int?
    var lineText: String?
    /// The version macros the greeting reaches, each with its way there: "$v", "$X → $v".
    var versionPaths: [String]
    /// The macros the cf defines (the last definition of each), for judging a new greeting.
    var macros: [String: String]

    var tellsVersion: Bool { !versionPaths.isEmpty }

    static func read(_ text: String) -> SendmailGreeting {
        var level = 0
        var macros: [String: String] = [:]
        var macroE: (value: String, line: Int, text: String)?
        var options: [(value: String, line: Int, text: String)] = []
        for (number, raw) in logicalLines(text) {
            guard let kind = raw.first else { continue }
            let line = stripComment(raw, level: level)
            switch kind {
            case "V":
                let digits = line.dropFirst().drop { $0 == " " || $0 == "\t" }.prefix { $0.isASCII && $0.isNumber }
                if let n = Int(digits.prefix(9)) { level = n }
            case "D":
                guard let (name, value) = macroDefinition(line.dropFirst()) else { continue }
                macros[name] = value
                if name == "e" { macroE = (value, number, raw) }
            case "O":
                guard line.hasPrefix("O "), let eq = line.firstIndex(of: "=") else { continue }
                // setoption trims the blanks before "="; a second blank after the O is part of the name.
                var name = String(line[line.index(line.startIndex, offsetBy: 2)..<eq])
                while name.hasSuffix(" ") { name.removeLast() }
                guard name.count >= shortestAbbreviation, optionName.lowercased().hasPrefix(name.lowercased()) else { continue }
                let value = String(line[line.index(after: eq)...].drop { $0 == " " })
                options.append((munch(value), number, raw))
            default:
                continue
            }
        }
        let chosen: (template: String, source: Source, line: Int?, text: String?)
        if let last = options.last {
            chosen = (last.value, .option(count: options.count), last.line, last.text)
        } else if level < 7, let e = macroE {
            chosen = (e.value, .macro(level: level), e.line, e.text)
        } else {
            chosen = (compiledDefault, .compiledDefault(level: level, macroIgnored: macroE != nil), macroE?.line, macroE?.text)
        }
        return SendmailGreeting(
            template: chosen.template, source: chosen.source, line: chosen.line, lineText: chosen.text,
            versionPaths: versionPaths(chosen.template, macros: macros), macros: macros)
    }

    /// The ways `template` reaches `$v` or `$Z` through `macros`.
    static func versionPaths(_ template: String, macros: [String: String]) -> [String] {
        var paths: [String] = []
        func walk(_ text: String, via: [String], seen: Set<String>) {
            for name in references(text) {
                let shown = name.count == 1 ? "$" + name : "${\(name)}"
                if name == "v" || name == "Z" {
                    paths.append((via + [shown]).joined(separator: " → "))
                } else if let value = macros[name], !seen.contains(name) {
                    walk(value, via: via + [shown], seen: seen.union([name]))
                }
            }
        }
        walk(template, via: [], seen: [])
        return paths
    }

    /// The macros a text prints: `$x`, `$&x`, `${name}`, `$&{name}`; not `$$` (a dollar sign)
    /// or a `$?x` test.
    static func references(_ text: String) -> [String] {
        var names: [String] = []
        var chars = Array(text)[...]
        while let dollar = chars.firstIndex(of: "$") {
            chars = chars[(dollar + 1)...]
            guard var next = chars.first else { break }
            if next == "$" || next == "?" {
                // "$$" is a dollar sign; "$?x" only tests x.
                chars = chars.dropFirst(next == "?" && chars.dropFirst().first != "{" ? 2 : 1)
                continue
            }
            if next == "&" {
                chars = chars.dropFirst()
                guard let after = chars.first else { break }
                next = after
            }
            if next == "{" {
                guard let close = chars.firstIndex(of: "}") else { break }
                let name = String(chars[(chars.startIndex + 1)..<close])
                if !name.isEmpty { names.append(name) }
                chars = chars[(close + 1)...]
            } else {
                if next.isLetter || next.isNumber { names.append(String(next)) }
                chars = chars.dropFirst()
            }
        }
        return names
    }

    /// Lines as readcf sees them: a line led by a space or tab continues the one before
    /// (fgetfolded); each logical line with the number of its first physical line.
    static func logicalLines(_ text: String) -> [(Int, String)] {
        var lines: [(Int, String)] = []
        for (i, physical) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            var line = String(physical)
            if line.hasSuffix("\r") { line.removeLast() }
            if let first = line.first, first == " " || first == "\t", !lines.isEmpty {
                lines[lines.count - 1].1 += "\n" + line
            } else if !line.isEmpty, !line.hasPrefix("#") {
                lines.append((i + 1, line))
            }
        }
        return lines
    }

    /// From level 3 on, readcf drops a "#" that is not "$#" or "\#" and what follows, with the
    /// blanks before it; trailing white space goes too.
    static func stripComment(_ line: String, level: Int) -> String {
        var out = Array(line)
        if level >= 3 {
            var i = 1
            while i < out.count {
                if out[i] == "#", out[i - 1] != "$", out[i - 1] != "\\" {
                    var start = i
                    while start > 1, out[start - 1] == " " || out[start - 1] == "\t" { start -= 1 }
                    out.removeSubrange(start...)
                    break
                }
                i += 1
            }
        }
        while let last = out.last, last.isWhitespace { out.removeLast() }
        return String(out)
    }

    /// `x VALUE` or `{name}VALUE` after the D: the macro's name and its value as munchstring
    /// leaves it.
    static func macroDefinition(_ rest: Substring) -> (String, String)? {
        guard let first = rest.first else { return nil }
        if first == "{" {
            guard let close = rest.firstIndex(of: "}") else { return nil }
            let name = String(rest[rest.index(after: rest.startIndex)..<close])
            return name.isEmpty ? nil : (name, munch(String(rest[rest.index(after: close)...])))
        }
        return (String(first), munch(String(rest.dropFirst())))
    }

    /// readcf's munchstring: a backslash keeps the next character (\n, \r, \f, \b as controls),
    /// double quotes are dropped.
    static func munch(_ value: String) -> String {
        var out = ""
        var escaped = false
        for c in value {
            if escaped {
                escaped = false
                switch c {
                case "n": out.append("\n")
                case "r": out.append("\r")
                case "f": out.append("\u{0C}")
                case "b": out.append("\u{08}")
                default: out.append(c)
                }
            } else if c == "\\" {
                escaped = true
            } else if c != "\"" {
                out.append(c)
            }
        }
        return out
    }

    /// The judgement in a sentence: which of the three decided, the greeting, and the rule.
    var account: String {
        let said: String
        switch source {
        case .option(let count):
            said = "sendmail greets with SmtpGreetingMessage '\(template)'" + (count > 1 ? " (the last of \(count) lines that set it)" : "")
        case .macro(let level):
            said = "no SmtpGreetingMessage, and this cf is version level \(level) (below 7), so sendmail greets with the $e macro '\(template)'"
        case .compiledDefault(let level, let ignored):
            said = "no SmtpGreetingMessage" + (ignored
                ? ", and this cf is version level \(level) (7 or later), so sendmail ignores its $e macro"
                : level < 7 ? " and no $e macro" : "")
                + ": sendmail greets with its compiled default '\(template)'"
        }
        return tellsVersion
            ? said + ", which tells the version (" + versionPaths.joined(separator: ", ") + "); needs a greeting without $v and $Z"
            : said + ", which holds no $v or $Z, directly or through a macro"
    }
}
