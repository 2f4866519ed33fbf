import Foundation

/// Reads a setting from a parsed file the way the MTA reads it, and judges it.
struct Judge {
    let target: Target
    var check: Check { target.check }

    /// The setting as found: the nodes that count, their values, and where they are.
    struct Reading {
        var nodes: [String]
        /// Scalar settings: the value of the deciding node.
        var value: String?
        /// Flag settings: every flag in force (all nodes for `union`, the last for `last`).
        var flags: [String]
        var line: Int?
        var lineText: String?
    }

    func read(_ tree: ConfigTree) throws -> Reading {
        if let unparsed = check.unparsed, let opaque = try tree.match(unparsed).first {
            let line = tree.line(of: opaque)
            throw MTAGuardError(
                host: tree.host, file: tree.file, line: line,
                "'\(tree.sourceLine(line) ?? "")' sets \(check.name) in a form mtaguard cannot read safely",
                hint: "write it on one line, or fix it by hand; the file was left as it is")
        }
        let all = try tree.match(check.node)
        let nodes: [String]
        switch check.pick {
        case .last: nodes = all.last.map { [$0] } ?? []
        case .union: nodes = all
        }
        var flags: [String] = []
        var value: String?
        for node in nodes {
            if let items = check.items {
                for item in try tree.wrap({ try tree.augeas.match(node + "/" + items) }) {
                    if let v = try tree.value(item) { flags.append(v) }
                }
            } else {
                var v = try tree.value(check.valuePath.map { node + "/" + $0 } ?? node)
                // main.cf: the lens stores a continued value as written; read it as postfix does.
                if tree.lens == PostfixValue.lens { v = v.map(PostfixValue.read) }
                value = v
                if check.isFlags, let v { flags += Self.split(v, separators: check.separators) }
            }
        }
        let line = nodes.last.flatMap { tree.line(of: $0) }
        return Reading(nodes: nodes, value: value, flags: flags, line: line, lineText: tree.sourceLine(line))
    }

    static func split(_ value: String, separators: String?) -> [String] {
        let set = CharacterSet(charactersIn: separators ?? ", \t")
        return value.components(separatedBy: set).filter { !$0.isEmpty }
    }

    /// The flags of `wanted` that `flags` lacks, none when any of `orAny` is present.
    func missingFlags(_ flags: [String], wanted: [String]) -> [String] {
        let have = Set(flags.map { $0.lowercased() })
        if check.orAny.contains(where: { have.contains($0.lowercased()) }) { return [] }
        return wanted.filter { !have.contains($0.lowercased()) }
    }

    func passes(_ reading: Reading) -> Bool {
        if check.absent { return reading.nodes.isEmpty }
        if check.isFlags {
            if reading.nodes.isEmpty, check.defaultValue == nil { return false }
            let flags = reading.nodes.isEmpty
                ? Self.split(check.defaultValue ?? "", separators: check.separators) : reading.flags
            return missingFlags(flags, wanted: check.require).isEmpty
        }
        guard let value = reading.nodes.isEmpty ? check.defaultValue : reading.value else { return false }
        if let least = check.atLeast { return number(value).atLeast(least) }
        if !check.excludes.isEmpty { return !check.excludes.contains { value.contains($0) } }
        return check.equals.contains { $0.caseInsensitiveCompare(value) == .orderedSame }
    }

    /// A number mtaguard cannot tell (`ConfigNumber.undetermined`): a person reads it.
    func undetermined(_ reading: Reading) -> Bool {
        guard check.atLeast != nil, !reading.nodes.isEmpty, let value = reading.value else { return false }
        return number(value).undetermined
    }

    /// A value of a number check, read as the target's MTA reads it (`ConfigNumber`).
    func number(_ value: String) -> ConfigNumber {
        ConfigNumber.read(value, mta: target.mta, setting: check.node)
    }

    /// The evidence of a reading, in words an auditor reads: the setting by its own name, the
    /// value in force and where it came from (the line, or the MTA's default), and the rule.
    func evidence(_ reading: Reading, file: String) -> Evidence {
        let ok = passes(reading)
        let name = check.name
        let count = reading.nodes.count
        var note: String
        if check.absent {
            note = ok ? "no active \(name) line" : "\(name) is active, and must not be"
        } else if reading.nodes.isEmpty {
            note = "\(name) is not set"
            if let d = check.defaultValue { note += ", so \(target.mta)'s default applies: \(name) = \(d)" }
        } else if check.isFlags {
            let missing = missingFlags(reading.flags, wanted: check.require)
            let inForce = reading.flags.isEmpty ? "none" : reading.flags.joined(separator: ",")
            note = ok ? "\(name) in force: \(inForce)" : "\(name) lacks \(missing.joined(separator: ", ")) (in force: \(inForce))"
            if check.pick == .union, count > 1 { note += ", from its \(count) lines together" }
        } else {
            note = "\(name) = \(reading.value ?? "")"
            if check.pick == .last, count > 1 { note += " (the last of its \(count) settings wins)" }
            if check.atLeast != nil, let v = reading.value, case let n = number(v), !n.plain || !ok { note += "; " + n.account }
        }
        let rule = check.isFlags
            ? check.require.joined(separator: " and ") + (check.orAny.isEmpty ? "" : " or \(check.orAny.joined(separator: "/"))")
            : check.wanted
        if !check.absent { note += ok ? "; the rule: \(rule)" : "; needs \(rule)" }
        var evidence = Evidence(
            mta: target.mta, file: file, line: reading.line,
            text: reading.lineText ?? "(not set)", status: ok ? .pass : undetermined(reading) ? .review : .fail,
            advisory: target.advisory, note: note)
        evidence.setting = name
        return evidence
    }
}
