import Foundation
import Yams

/// Ansible's YAML inventory: top-level groups (usually just `all`), each a mapping with
/// `hosts` (host → its variables or nothing), `vars` and `children` (group → the same shape).
enum InventoryYAML {
    static func parse(_ source: InventorySource, into builder: inout InventoryBuilder) throws {
        do {
            let root = try YAMLValue.load(file: source.file, text: source.text, locatingDuplicateKeys: true)
            guard case .mapping = root.node else {
                throw root.error("expected a mapping of groups at the top (all:, web:, …), found \(describe(root))")
            }
            for entry in try root.entries() {
                try parseGroup(entry.key, at: entry.keyValue, body: entry.value, parent: nil, into: &builder)
            }
        } catch let error as MTAGuardError {
            throw source.noting(error)
        }
    }

    private static func describe(_ value: YAMLValue) -> String {
        switch value.node {
        case .mapping: return "a mapping"
        case .sequence: return "a list"
        case .scalar, .alias: return value.isNull ? "nothing" : "the value '\(value.scalarText ?? "")'"
        }
    }

    private static func parseGroup(
        _ name: String, at key: YAMLValue, body: YAMLValue?, parent: String?, into builder: inout InventoryBuilder
    ) throws {
        if let why = HostPattern.problem(groupName: name) {
            throw key.error("'\(name)' is not a group name: it \(why)")
        }
        builder.addGroup(name)
        if let parent, let why = builder.addChild(name, to: parent) { throw key.error(why) }
        guard let body, !body.isNull else { return }
        guard case .mapping = body.node else {
            throw body.error(
                "group '\(name)' must be a mapping with hosts:, vars: or children: (or empty), found \(describe(body))")
        }
        for entry in try body.entries() {
            let value = entry.value
            switch entry.key {
            case "hosts":
                if value.isNull { continue }
                if case .scalar = value.node {  // Ansible reads `hosts: name` as one host
                    try addHosts(try value.string(), at: value, vars: nil, group: name, into: &builder)
                    continue
                }
                guard case .mapping = value.node else {
                    throw value.error(
                        "the hosts of group '\(name)' must be a mapping of host names, found \(describe(value))")
                }
                for host in try value.entries() {
                    try addHosts(host.key, at: host.keyValue, vars: host.value, group: name, into: &builder)
                }
            case "vars":
                if value.isNull { continue }
                for (k, v) in try variables(value, of: "group '\(name)'") { builder.setGroupVar(name, k, v) }
            case "children":
                if value.isNull { continue }
                if case .scalar = value.node {
                    try parseGroup(try value.string(), at: value, body: nil, parent: name, into: &builder)
                    continue
                }
                guard case .mapping = value.node else {
                    throw value.error(
                        "the children of group '\(name)' must be a mapping of group names, found \(describe(value))")
                }
                for child in try value.entries() {
                    try parseGroup(child.key, at: child.keyValue, body: child.value, parent: name, into: &builder)
                }
            default:
                throw entry.keyValue.error(
                    "unknown key '\(entry.key)' in group '\(name)'; expected hosts, vars or children",
                    hint: "hosts are listed under 'hosts:', child groups under 'children:'")
            }
        }
    }

    private static func addHosts(
        _ key: String, at keyValue: YAMLValue, vars: YAMLValue?, group: String, into builder: inout InventoryBuilder
    ) throws {
        let (pattern, port): (String, Int?)
        let names: [String]
        do {
            (pattern, port) = try HostPattern.splitPort(key)
            names = try HostPattern.expand(pattern)
        } catch {
            throw keyValue.error(error.message, hint: error.hint)
        }
        var list: [(key: String, value: String)] = []
        if let port { list.append(("ansible_port", String(port))) }
        if let vars, !vars.isNull {
            guard case .mapping = vars.node else {
                throw vars.error("host '\(key)' takes a mapping of variables or nothing, found \(describe(vars))")
            }
            list += try variables(vars, of: "host '\(key)'")
        }
        for name in names {
            if let why = HostPattern.problem(hostName: name) {
                throw keyValue.error("invalid host name '\(name)': \(why)", hint: "it reaches an ssh command line")
            }
            builder.addHost(name, to: group, vars: list)
        }
    }

    /// A mapping of variables, every value as text; `<<` merge keys are applied.
    private static func variables(_ value: YAMLValue, of owner: String) throws -> [(key: String, value: String)] {
        guard case .mapping = value.node else {
            throw value.error("the variables of \(owner) must be a mapping (name: value), found \(describe(value))")
        }
        var merged: [(key: String, value: String)] = []
        var explicit: [(key: String, value: String)] = []
        for entry in try value.entries() {
            if entry.key == "<<" {
                let sources = (try? entry.value.sequence()) ?? [entry.value]
                for source in sources { merged += try variables(source, of: owner) }
                continue
            }
            let text = render(entry.value.node)
            if let problem = InventoryBuilder.problem(variable: entry.key, value: text) {
                throw entry.value.error(problem.message, hint: problem.hint)
            }
            explicit.append((entry.key, text))
        }
        let keys = Set(explicit.map(\.key))
        return merged.filter { !keys.contains($0.key) } + explicit
    }

    /// A variable's value as text: scalars as written (booleans as true/false, null as ""),
    /// lists and mappings as JSON.
    static func render(_ node: Node) -> String {
        switch node {
        case .scalar, .alias:
            return YAMLValue(node: node, file: "", field: "").scalarText ?? ""
        case .sequence, .mapping:
            return json(node)
        }
    }

    private static func json(_ node: Node) -> String {
        switch node {
        case .sequence(let seq):
            return "[" + seq.map(json).joined(separator: ", ") + "]"
        case .mapping(let map):
            return "{" + map.map { k, v in quoted(k.string ?? "") + ": " + json(v) }.joined(separator: ", ") + "}"
        case .scalar(let scalar):
            switch node.tagName {
            case .null: return "null"
            case .bool: return Bool.construct(from: scalar).map { $0 ? "true" : "false" } ?? quoted(scalar.string)
            case .int, .float:
                return scalar.string.range(of: #"^-?[0-9]+(\.[0-9]+)?$"#, options: .regularExpression) != nil
                    ? scalar.string : quoted(scalar.string)
            default: return quoted(scalar.string)
            }
        case .alias:
            return "null"
        }
    }

    private static func quoted(_ s: String) -> String {
        var out = "\""
        for scalar in s.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\t": out += "\\t"
            case "\r": out += "\\r"
            default:
                if scalar.value < 0x20 {
                    out += String(format: "\\u%04x", scalar.value)
                } else {
                    out.unicodeScalars.append(scalar)
                }
            }
        }
        return out + "\""
    }
}
