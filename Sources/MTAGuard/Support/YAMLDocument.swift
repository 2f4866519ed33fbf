import CYaml
import Foundation
import Yams

/// A YAML node with the file it came from, for reading declarative input with errors that
/// name the file, line, column and field ("playbooks/srv-005.yaml:12:5: targets[0].lens: …").
struct YAMLValue {
    let node: Node
    let file: String
    let field: String

    /// Largest document accepted; anything bigger is not a playbook or inventory.
    static let maximumBytes = 1 << 20

    static func load(file: String, text: String) throws -> YAMLValue {
        try load(file: file, text: text, locatingDuplicateKeys: false)
    }

    /// As `load(file:text:)`; with `locatingDuplicateKeys` a duplicated mapping key is reported
    /// at the line and column of its first occurrence ("file:3:5: duplicate key 'h1' …").
    static func load(file: String, text: String, locatingDuplicateKeys: Bool) throws -> YAMLValue {
        guard text.utf8.count <= maximumBytes else {
            throw MTAGuardError(.invalidInput, 
                file: file, "is \(text.utf8.count) bytes; a YAML document here is at most \(maximumBytes) bytes")
        }
        do {
            try refuseAliasExpansion(text, file: file)
            guard let node = try Yams.compose(yaml: text) else {
                throw MTAGuardError(.invalidInput, file: file, line: 1, "is empty")
            }
            return YAMLValue(node: node, file: file, field: "")
        } catch let error as YamlError {
            switch error {
            case .scanner(let context, let problem, let mark, _),
                .parser(let context, let problem, let mark, _),
                .composer(let context, let problem, let mark, _):
                let message = [context?.description, problem]
                    .compactMap { $0?.trimmingCharacters(in: .whitespacesAndNewlines) }.joined(separator: ": ")
                let lines = text.unicodeScalars.split(separator: "\n", maxSplits: mark.line, omittingEmptySubsequences: false)
                let tabbed = mark.line >= 1 && mark.line <= lines.count && lines[mark.line - 1].first == "\t"
                throw MTAGuardError(.invalidInput, 
                    file: file, line: mark.line, column: mark.column, "invalid YAML: \(message)",
                    hint: tabbed ? "this line starts with a tab; YAML indents with spaces only" : nil)
            case .duplicatedKeysInMapping(let duplicates, let context) where locatingDuplicateKeys:
                let keys = duplicates.sorted().map { "'\($0)'" }.joined(separator: ", ")
                throw MTAGuardError(.invalidInput, 
                    file: file, line: context.mark.line, column: context.mark.column,
                    "duplicate key \(keys) in this mapping (first occurrence here); each key may appear once")
            case .reader(let problem, _, _, _):
                throw MTAGuardError(.invalidInput, file: file, "cannot be read as YAML: \(problem)")
            default:
                throw MTAGuardError(.invalidInput, file: file, "invalid YAML: \(error)")
            }
        }
    }

    static func load(file: String) throws -> YAMLValue {
        let data = try BoundedFile.read(file, limit: maximumBytes, what: "a YAML document here")
        guard let text = String(data: data, encoding: .utf8) else {
            throw TextPosition.notUTF8(file: file, bytes: data, what: "a YAML document must be")
        }
        return try load(file: file, text: text)
    }

    /// Most values a document may hold once its aliases are expanded. Without aliases a 1 MiB
    /// document holds far fewer; aliases of aliases ("billion laughs") would hold billions, and
    /// composing it (duplicate keys are found by hashing each key, aliases and all) or walking it
    /// would never finish.
    static let maximumExpandedValues = 1_000_000

    /// Counts the values of `text` with every alias expanded, from libyaml's events, before
    /// anything composes it. A syntax error is left to the composer, which reports it.
    private static func refuseAliasExpansion(_ text: String, file: String) throws {
        var parser = yaml_parser_t()
        guard !text.isEmpty, yaml_parser_initialize(&parser) == 1 else { return }
        defer { yaml_parser_delete(&parser) }
        var bytes = Array(text.utf8)
        try bytes.withUnsafeMutableBufferPointer { buffer in
            yaml_parser_set_input_string(&parser, buffer.baseAddress, buffer.count)
            var sizes: [String: Int] = [:]
            var open: [(count: Int, anchor: String?)] = []
            var event = yaml_event_t()
            func name(_ pointer: UnsafeMutablePointer<yaml_char_t>?) -> String? {
                pointer.map { String(cString: $0) }
            }
            func finished(_ size: Int, anchor: String?, line: Int) throws {
                if let anchor { sizes[anchor] = size }
                let total = open.isEmpty ? size : open[open.count - 1].count + size
                guard total <= maximumExpandedValues else {
                    throw MTAGuardError(.invalidInput, 
                        file: file, line: line,
                        "expands to more than \(maximumExpandedValues) values through aliases (*name); mtaguard refuses it",
                        hint: "write the values out, or use fewer aliases of aliases")
                }
                if !open.isEmpty { open[open.count - 1].count = total }
            }
            while yaml_parser_parse(&parser, &event) == 1 {
                defer { yaml_event_delete(&event) }
                let line = Int(event.start_mark.line) + 1
                switch event.type {
                case YAML_SCALAR_EVENT:
                    try finished(1, anchor: name(event.data.scalar.anchor), line: line)
                case YAML_ALIAS_EVENT:
                    try finished(name(event.data.alias.anchor).flatMap { sizes[$0] } ?? 1, anchor: nil, line: line)
                case YAML_SEQUENCE_START_EVENT:
                    open.append((1, name(event.data.sequence_start.anchor)))
                case YAML_MAPPING_START_EVENT:
                    open.append((1, name(event.data.mapping_start.anchor)))
                case YAML_SEQUENCE_END_EVENT, YAML_MAPPING_END_EVENT:
                    guard let done = open.popLast() else { return }
                    try finished(done.count, anchor: done.anchor, line: line)
                case YAML_STREAM_END_EVENT:
                    return
                default:
                    break
                }
            }
        }
    }

    var line: Int? { node.mark?.line }
    var column: Int? { node.mark?.column }

    func error(_ message: String) -> MTAGuardError {
        let prefix = field.isEmpty ? "" : field + ": "
        return MTAGuardError(.invalidInput, file: file, line: line, column: column, prefix + message)
    }

    func error(_ message: String, hint: String?) -> MTAGuardError {
        var e = error(message)
        e.hint = hint
        return e
    }

    private func child(_ node: Node, _ name: String) -> YAMLValue {
        YAMLValue(node: node, file: file, field: field.isEmpty ? name : field + "." + name)
    }

    // MARK: Shapes

    /// The entries of a mapping, checked against the keys allowed here; duplicates are refused.
    func mapping(allowed: Set<String>? = nil) throws -> [String: YAMLValue] {
        guard case .mapping(let mapping) = node else { throw error("expected a mapping (key: value)") }
        var result: [String: YAMLValue] = [:]
        for (key, value) in mapping {
            guard case .scalar(let scalar) = key else {
                throw YAMLValue(node: key, file: file, field: field).error("keys must be plain words")
            }
            let name = scalar.string
            if let allowed, !allowed.contains(name) {
                let known = allowed.sorted().joined(separator: ", ")
                throw YAMLValue(node: key, file: file, field: field)
                    .error("unknown field '\(name)' (known: \(known))")
            }
            if result[name] != nil {
                throw YAMLValue(node: key, file: file, field: field).error("field '\(name)' appears twice")
            }
            result[name] = child(value, name)
        }
        return result
    }

    /// The entries of a mapping in document order, each key with its own position.
    func entries() throws -> [(key: String, keyValue: YAMLValue, value: YAMLValue)] {
        guard case .mapping(let mapping) = node else { throw error("expected a mapping (key: value)") }
        var seen: Set<String> = []
        return try mapping.map { key, value in
            let keyValue = YAMLValue(node: key, file: file, field: field)
            guard case .scalar(let scalar) = key else { throw keyValue.error("keys must be plain words") }
            let name = scalar.string
            guard seen.insert(name).inserted else { throw keyValue.error("field '\(name)' appears twice") }
            return (name, keyValue, child(value, name))
        }
    }

    /// True for an empty value, `~` or `null` (unquoted).
    var isNull: Bool {
        if case .scalar = node { return node.tagName == .null }
        return false
    }

    /// A scalar of any type as text: unquoted booleans (yes/no/on/off/true/false) read as
    /// "true"/"false", null as "", numbers and strings as written. Nil for lists and mappings.
    var scalarText: String? {
        guard case .scalar(let scalar) = node else { return nil }
        switch node.tagName {
        case .null: return ""
        case .bool: return Bool.construct(from: scalar).map { $0 ? "true" : "false" } ?? scalar.string
        default: return scalar.string
        }
    }

    func sequence() throws -> [YAMLValue] {
        guard case .sequence(let seq) = node else { throw error("expected a list") }
        return seq.enumerated().map { i, n in
            YAMLValue(node: n, file: file, field: "\(field)[\(i)]")
        }
    }

    func string() throws -> String {
        guard case .scalar(let scalar) = node else { throw error("expected a single value") }
        return scalar.string
    }

    /// A string, or a list of strings; a single value is a list of one.
    func strings() throws -> [String] {
        if case .scalar = node { return [try string()] }
        return try sequence().map { try $0.string() }
    }

    func bool() throws -> Bool {
        switch try string().lowercased() {
        case "true", "yes", "on": return true
        case "false", "no", "off": return false
        default: throw error("expected true or false")
        }
    }

    func oneOf(_ values: [String]) throws -> String {
        let s = try string()
        guard values.contains(s) else { throw error("'\(s)' is not one of: \(values.joined(separator: ", "))") }
        return s
    }
}

extension Dictionary where Key == String, Value == YAMLValue {
    func required(_ key: String, in parent: YAMLValue) throws -> YAMLValue {
        guard let value = self[key] else { throw parent.error("missing field '\(key)'") }
        return value
    }
}

extension Node {
    /// The resolved tag (`Tag.Name.null`, `.bool`, `.int`, `.str`, …).
    var tagName: Tag.Name { Tag.Name(rawValue: tag.rawValue) }
}
