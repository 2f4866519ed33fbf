import Foundation

/// Ansible's INI inventory: hosts before any section are ungrouped; `[group]` host lines
/// (`name key=value key2="quoted value"`), `[group:vars]` key=value lines, `[group:children]`
/// group names; `#` and `;` comments. Values are data: quotes group words, nothing else is
/// interpreted.
enum InventoryINI {
    private enum Section { case hosts, vars, children }

    private struct Pending {
        var line: Int
        var message: String
        var hint: String
    }

    static func parse(_ source: InventorySource, into builder: inout InventoryBuilder) throws {
        var group = "ungrouped"
        var section = Section.hosts
        var header = ""
        var declared = Set(builder.groups.keys)
        var pending: [String: Pending] = [:]  // groups used before (or without) being declared
        var sectionKeys: Set<String> = []

        let text = source.text.hasPrefix("\u{FEFF}") ? String(source.text.dropFirst()) : source.text
        var lines = text.split(omittingEmptySubsequences: false) { $0 == "\n" || $0 == "\r\n" }
        if lines.last == "" { lines.removeLast() }
        for (index, raw) in lines.enumerated() {
            let number = index + 1
            func fail(_ message: String, hint: String? = nil) -> MTAGuardError {
                source.error(line: number, message, hint: hint)
            }
            var line = Substring(raw)
            if line.hasSuffix("\r") { line = line.dropLast() }
            line = line.drop { $0 == " " || $0 == "\t" }
            while let last = line.last, last == " " || last == "\t" { line = line.dropLast() }
            if line.isEmpty || line.hasPrefix("#") || line.hasPrefix(";") { continue }

            if line.hasPrefix("["), !isBracketedIPv6(line) {
                let (name, kind) = try parseHeader(line, fail: fail)
                group = name
                header = String(line.prefix { $0 != "]" }) + "]"
                sectionKeys = []
                switch kind {
                case "", "hosts": section = .hosts
                case "vars": section = .vars
                case "children": section = .children
                default:
                    throw fail("unknown section type ':\(kind)' in \(header)",
                               hint: "expected [\(name)], [\(name):vars] or [\(name):children]")
                }
                builder.addGroup(name)
                if section == .vars {
                    if !declared.contains(name), pending[name] == nil {
                        pending[name] = Pending(
                            line: number, message: "\(header) sets variables of group '\(name)', which is never defined",
                            hint: "define it with [\(name)] or [\(name):children], or list it under a parent's :children")
                    }
                } else {
                    declared.insert(name)
                }
                continue
            }

            switch section {
            case .hosts:
                let tokens = try tokenize(line, fail: fail)
                guard let first = tokens.first else { continue }
                let (pattern, port): (String, Int?)
                do { (pattern, port) = try HostPattern.splitPort(first) } catch { throw fail(error.message, hint: error.hint) }
                let names: [String]
                do { names = try HostPattern.expand(pattern) } catch { throw fail(error.message, hint: error.hint) }
                var vars: [(key: String, value: String)] = []
                if let port { vars.append(("ansible_port", String(port))) }
                var seen: Set<String> = []
                for token in tokens.dropFirst() {
                    guard let eq = token.firstIndex(of: "=") else {
                        throw fail("expected key=value after the host name, found '\(token)'",
                                   hint: "quote values that contain spaces: key=\"two words\"")
                    }
                    let key = String(token[..<eq]), value = String(token[token.index(after: eq)...])
                    try checkKey(key, fail: fail)
                    guard seen.insert(key).inserted else {
                        throw fail("variable '\(key)' is set twice on this line", hint: "keep one key=value")
                    }
                    if let problem = InventoryBuilder.problem(variable: key, value: value) {
                        throw fail(problem.message, hint: problem.hint)
                    }
                    vars.append((key, value))
                }
                for name in names {
                    if let why = HostPattern.problem(hostName: name) {
                        throw fail("invalid host name '\(name)': \(why)",
                                   hint: "a host line is: name [key=value ...]; it reaches an ssh command line")
                    }
                    builder.addHost(name, to: group, vars: vars)
                }

            case .vars:
                guard let eq = line.firstIndex(of: "=") else {
                    throw fail("expected key=value in \(header), found '\(line)'")
                }
                let key = line[..<eq].trimmingCharacters(in: .whitespaces)
                try checkKey(key, fail: fail)
                let value = try parseValue(line[line.index(after: eq)...], fail: fail)
                guard sectionKeys.insert(key).inserted else {
                    throw fail("variable '\(key)' is set twice in \(header)", hint: "keep one key=value")
                }
                if let problem = InventoryBuilder.problem(variable: key, value: value) {
                    throw fail(problem.message, hint: problem.hint)
                }
                builder.setGroupVar(group, key, value)

            case .children:
                var name = line
                if let comment = name.range(of: #"\s[#;]"#, options: .regularExpression) {
                    name = name[..<comment.lowerBound]
                }
                let child = name.trimmingCharacters(in: .whitespaces)
                if let why = HostPattern.problem(groupName: child) {
                    throw fail("'\(child)' in \(header) is not a group name: \(why)",
                               hint: "list one child group per line; hosts go in [\(group)]")
                }
                if let why = builder.addChild(child, to: group) { throw fail(why) }
                if !declared.contains(child), pending[child] == nil {
                    pending[child] = Pending(
                        line: number, message: "\(header) names group '\(child)', which is never defined",
                        hint: "define it with [\(child)] or [\(child):children]")
                }
            }
        }
        if let first = pending.filter({ !declared.contains($0.key) }).values.min(by: { $0.line < $1.line }) {
            throw source.error(line: first.line, first.message, hint: first.hint)
        }
    }

    private static func isBracketedIPv6(_ line: Substring) -> Bool {
        guard let close = line.firstIndex(of: "]") else { return false }
        let inside = line[line.index(after: line.startIndex)..<close]
        return inside.filter { $0 == ":" }.count >= 2
            && inside.allSatisfy { $0.isHexDigit || $0 == ":" || $0 == "." }
    }

    private static func parseHeader(
        _ line: Substring, fail: (String, String?) -> MTAGuardError
    ) throws -> (name: String, kind: String) {
        let hint = "a section header is [group], [group:vars] or [group:children]"
        guard let close = line.firstIndex(of: "]") else { throw fail("section header '\(line)' has no closing ']'", hint) }
        let after = line[line.index(after: close)...].trimmingCharacters(in: .whitespaces)
        guard after.isEmpty || after.hasPrefix("#") || after.hasPrefix(";") else {
            throw fail("unexpected '\(after)' after the section header", hint)
        }
        let inside = line[line.index(after: line.startIndex)..<close]
        let parts = inside.split(separator: ":", maxSplits: 1, omittingEmptySubsequences: false)
        let name = String(parts[0])
        if let why = HostPattern.problem(groupName: name) {
            throw fail("[\(inside)]: the group name '\(name)' \(why)", hint)
        }
        return (name, parts.count > 1 ? String(parts[1]) : "")
    }

    private static func checkKey(_ key: String, fail: (String, String?) -> MTAGuardError) throws {
        guard let first = key.first, first.isLetter || first == "_",
            key.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "_" }), key.allSatisfy(\.isASCII)
        else {
            throw fail("'\(key)' is not a variable name in key=value",
                       "variable names are letters, digits and '_', not starting with a digit")
        }
    }

    /// Splits a host line into words: whitespace separates, single or double quotes group
    /// (and are removed), `#` at the start of a word begins a comment. Nothing else is special.
    private static func tokenize(_ line: Substring, fail: (String, String?) -> MTAGuardError) throws -> [String] {
        var tokens: [String] = []
        var current = ""
        var inWord = false
        var i = line.startIndex
        while i < line.endIndex {
            let ch = line[i]
            if ch == "\"" || ch == "'" {
                guard let close = line[line.index(after: i)...].firstIndex(of: ch) else {
                    throw fail("unterminated \(ch) quote", "close the quote; the other kind of quote may appear inside")
                }
                current += line[line.index(after: i)..<close]
                inWord = true
                i = line.index(after: close)
                continue
            }
            if ch == " " || ch == "\t" {
                if inWord { tokens.append(current) }
                current = ""
                inWord = false
            } else if ch == "#" && !inWord {
                break
            } else {
                current.append(ch)
                inWord = true
            }
            i = line.index(after: i)
        }
        if inWord { tokens.append(current) }
        return tokens
    }

    /// The value of a `[group:vars]` line: the rest of the line, or a quoted string; a `#`
    /// after whitespace starts a comment.
    private static func parseValue(_ rest: Substring, fail: (String, String?) -> MTAGuardError) throws -> String {
        let text = rest.drop { $0 == " " || $0 == "\t" }
        if let quote = text.first, quote == "\"" || quote == "'" {
            guard let close = text.dropFirst().firstIndex(of: quote) else {
                throw fail("unterminated \(quote) quote", "close the quote; the other kind of quote may appear inside")
            }
            let after = text[text.index(after: close)...].trimmingCharacters(in: .whitespaces)
            guard after.isEmpty || after.hasPrefix("#") else {
                throw fail("unexpected '\(after)' after the quoted value", "quote the whole value")
            }
            return String(text[text.index(after: text.startIndex)..<close])
        }
        var value = text
        if let comment = value.range(of: #"[ \t]#"#, options: .regularExpression) {
            value = value[..<comment.lowerBound]
        }
        return value.trimmingCharacters(in: .whitespaces)
    }
}
