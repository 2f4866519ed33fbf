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
        guard text.utf8.count <= maximumBytes else {
            throw MTAGuardError(
                file: file, "is \(text.utf8.count) bytes; a YAML document here is at most \(maximumBytes) bytes")
        }
        do {
            guard let node = try Yams.compose(yaml: text) else {
                throw MTAGuardError(file: file, line: 1, "is empty")
            }
            return YAMLValue(node: node, file: file, field: "")
        } catch let error as YamlError {
            switch error {
            case .scanner(let context, let problem, let mark, _),
                .parser(let context, let problem, let mark, _),
                .composer(let context, let problem, let mark, _):
                let text = [context?.description, problem].compactMap { $0 }.joined(separator: ": ")
                throw MTAGuardError(file: file, line: mark.line, column: mark.column, "invalid YAML: \(text)")
            case .reader(let problem, _, _, _):
                throw MTAGuardError(file: file, "cannot be read as YAML: \(problem)")
            default:
                throw MTAGuardError(file: file, "invalid YAML: \(error)")
            }
        }
    }

    static func load(file: String) throws -> YAMLValue {
        guard let data = FileManager.default.contents(atPath: file) else {
            throw MTAGuardError(file: file, "cannot be read")
        }
        guard let text = String(data: data, encoding: .utf8) else {
            throw MTAGuardError(file: file, "is not UTF-8 text")
        }
        return try load(file: file, text: text)
    }

    var line: Int? { node.mark?.line }
    var column: Int? { node.mark?.column }

    func error(_ message: String) -> MTAGuardError {
        let prefix = field.isEmpty ? "" : field + ": "
        return MTAGuardError(file: file, line: line, column: column, prefix + message)
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
