import Foundation
import Yams

/// One host of an Ansible-style inventory, with the groups it belongs to and its merged variables.
public struct InventoryHost: Sendable, Equatable {
    /// The inventory name.
    public var name: String
    /// Every group the host belongs to, directly or through children, plus "all" (and
    /// "ungrouped" when it is in no other group), sorted.
    public var groups: [String]
    /// Variables merged in Ansible's order (all < parent groups < child groups < host), as text.
    public var vars: [String: String]

    public init(name: String, groups: [String] = ["all", "ungrouped"], vars: [String: String] = [:]) {
        self.name = name
        self.groups = groups
        self.vars = vars
    }

    private func value(_ keys: String...) -> String? {
        for key in keys { if let v = vars[key], !v.isEmpty { return v } }
        return nil
    }

    /// `ansible_host`, or the inventory name.
    public var address: String { value("ansible_host") ?? name }
    /// `ansible_port` (or `ansible_ssh_port`).
    public var port: Int? { value("ansible_port", "ansible_ssh_port").flatMap { Int($0) } }
    /// `ansible_user` (or `ansible_ssh_user`).
    public var user: String? { value("ansible_user", "ansible_ssh_user") }
    /// `ansible_ssh_private_key_file` (or `ansible_private_key_file`).
    public var privateKeyFile: String? { value("ansible_ssh_private_key_file", "ansible_private_key_file") }
    /// `ansible_become` is yes/true/1/on (any case).
    public var become: Bool {
        guard let v = value("ansible_become") else { return false }
        return ["yes", "true", "1", "on"].contains(v.lowercased())
    }
    /// `mtaguard_mode`.
    public var mode: String? { value("mtaguard_mode") }
    /// `mtaguard_smtp_host`: where the SMTP probe connects for this host (checked when read).
    public var smtpHost: SMTPProbeAddress? { value(SMTPProbeAddress.variable).flatMap(SMTPProbeAddress.init) }
}

/// Hosts and groups read from Ansible INI or YAML inventory files.
public struct Inventory: Sendable {
    /// In order of first appearance across the files.
    public var hosts: [InventoryHost]
    /// Group → host names (through children too), each list in host order. Always has "all"
    /// and "ungrouped".
    public var groups: [String: [String]]

    public init(hosts: [InventoryHost], groups: [String: [String]]) {
        self.hosts = hosts
        self.groups = groups
    }

    /// Reads and merges inventory files in order, as several `-i` options do in Ansible: a host
    /// or group named in two files is one, and the later file's variables win.
    public static func load(files: [String]) throws -> Inventory {
        var builder = InventoryBuilder()
        for file in files {
            let text = try read(file: file)
            try parse(file: file, text: text, into: &builder)
        }
        return builder.build()
    }

    /// One inventory given as text; `file` names it in errors and decides the format when it
    /// ends in .yml or .yaml.
    public static func parse(file: String, text: String) throws -> Inventory {
        var builder = InventoryBuilder()
        try parse(file: file, text: text, into: &builder)
        return builder.build()
    }

    static func parse(file: String, text: String, into builder: inout InventoryBuilder) throws {
        guard text.utf8.count <= YAMLValue.maximumBytes else {
            throw MTAGuardError(.invalidInput, 
                file: file, "is \(text.utf8.count) bytes; an inventory is at most \(YAMLValue.maximumBytes) bytes (1 MiB)",
                hint: "split it into several -i files")
        }
        let source = InventorySource(file: file, text: text)
        switch source.format {
        case .yaml: try InventoryYAML.parse(source, into: &builder)
        case .ini: try InventoryINI.parse(source, into: &builder)
        }
    }

    static func read(file: String) throws -> String {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: file, isDirectory: &isDirectory) else {
            throw MTAGuardError(.invalidInput, file: file, "no such inventory file", hint: "check the -i path")
        }
        guard !isDirectory.boolValue else {
            throw MTAGuardError(.invalidInput, file: file, "is a folder; give inventory files (INI or YAML) with -i")
        }
        let data = try BoundedFile.read(file, limit: YAMLValue.maximumBytes, what: "an inventory", hint: "split it into several -i files")
        guard let text = String(data: data, encoding: .utf8) else {
            throw TextPosition.notUTF8(file: file, bytes: data, what: "an inventory must be")
        }
        return text
    }

    // MARK: --limit

    /// The hosts `limit` selects, in inventory order; all hosts for nil or empty. Ansible's
    /// patterns: `all`/`*`, host and group names, `*`/`?` globs, lists joined by `:` or `,`,
    /// `&pattern` to intersect and `!pattern` to exclude (unions first, then intersections,
    /// then exclusions).
    public func select(limit: String?) throws -> [InventoryHost] {
        guard let limit, !limit.trimmingCharacters(in: .whitespaces).isEmpty else { return hosts }
        let items = HostPattern.split(limit: limit)
        guard !items.isEmpty else {
            throw MTAGuardError(.invalidInput, "--limit '\(limit)' names no host or group", hint: "e.g. --limit 'web:&prod:!web03'")
        }
        var unions: [String] = [], intersections: [String] = [], exclusions: [String] = []
        for item in items {
            let (kind, pattern) = (item.first!, String(item.dropFirst()).trimmingCharacters(in: .whitespaces))
            switch kind {
            case "!", "&":
                guard !pattern.isEmpty else {
                    throw MTAGuardError(.invalidInput, "--limit: '\(kind)' must be followed by a host or group pattern")
                }
                if kind == "!" { exclusions.append(pattern) } else { intersections.append(pattern) }
            default:
                unions.append(item)
            }
        }
        if unions.isEmpty { unions = ["all"] }
        var selected: Set<String> = []
        for pattern in unions { selected.formUnion(try match(pattern, required: true)) }
        for pattern in intersections { selected.formIntersection(try match(pattern, required: true)) }
        for pattern in exclusions { selected.subtract(try match(pattern, required: false)) }
        return hosts.filter { selected.contains($0.name) }
    }

    private func match(_ pattern: String, required: Bool) throws -> Set<String> {
        if pattern.hasPrefix("~") {
            throw MTAGuardError(.invalidInput, "--limit '\(pattern)': regular-expression patterns (~) are not supported",
                                hint: "use * and ? globs")
        }
        if pattern.hasPrefix("@") {
            throw MTAGuardError(.invalidInput, "--limit '\(pattern)': reading a limit from a file (@) is not supported")
        }
        if pattern.contains("[") || pattern.contains("]") {
            throw MTAGuardError(.invalidInput, "--limit '\(pattern)': subscripts and ranges ([...]) are not supported in patterns",
                                hint: "use * and ? globs, or list the hosts")
        }
        if pattern == "all" || pattern == "*" { return Set(hosts.map(\.name)) }
        var result: Set<String> = []
        var groupExists = false
        if HostPattern.isGlob(pattern) {
            for (group, members) in groups where HostPattern.glob(pattern, matches: group) {
                result.formUnion(members)
            }
            for host in hosts where HostPattern.glob(pattern, matches: host.name) { result.insert(host.name) }
        } else {
            if let members = groups[pattern] {
                groupExists = true
                result.formUnion(members)
            }
            if hosts.contains(where: { $0.name == pattern }) { result.insert(pattern) }
        }
        if required && result.isEmpty {
            if groupExists {
                throw MTAGuardError(.invalidInput, "--limit pattern '\(pattern)' matches no host: the group '\(pattern)' is empty")
            }
            let known = groups.keys.sorted().prefix(30).joined(separator: ", ")
            throw MTAGuardError(.invalidInput, "--limit pattern '\(pattern)' matches no host or group in the inventory",
                                hint: "groups: \(known)")
        }
        return result
    }
}

// MARK: - Format

enum InventoryFormat: String, Sendable {
    case ini = "INI"
    case yaml = "YAML"
}

/// One inventory text with its format decided, for errors that name the file and the format.
struct InventorySource {
    let file: String
    let text: String
    let format: InventoryFormat
    let reason: String

    init(file: String, text: String) {
        self.file = file
        self.text = text
        let lower = file.lowercased()
        if lower.hasSuffix(".yml") || lower.hasSuffix(".yaml") {
            (format, reason) = (.yaml, "the file name ends in .yml/.yaml")
        } else if Self.looksLikeYAMLGroups(text) {
            (format, reason) = (.yaml, "its top level is a YAML mapping of groups")
        } else {
            (format, reason) = (.ini, "it is not named .yml/.yaml and is not a YAML mapping of groups")
        }
    }

    /// YAML when the text parses as a non-empty mapping whose keys could be group names and
    /// whose values are empty or mappings (`all:`, `web: {hosts: …}`).
    static func looksLikeYAMLGroups(_ text: String) -> Bool {
        guard let root = try? Yams.compose(yaml: text), case .mapping(let mapping) = root, !mapping.isEmpty else {
            return false
        }
        return mapping.allSatisfy { key, value in
            guard case .scalar(let k) = key, HostPattern.problem(groupName: k.string) == nil else { return false }
            switch value {
            case .mapping: return true
            case .scalar: return value.tagName == .null
            default: return false
            }
        }
    }

    var formatNote: String { "read as an Ansible \(format.rawValue) inventory because \(reason)" }

    func error(line: Int?, column: Int? = nil, _ message: String, hint: String? = nil) -> MTAGuardError {
        MTAGuardError(.invalidInput, file: file, line: line, column: column, message,
                      hint: [hint, formatNote].compactMap { $0 }.joined(separator: "; "))
    }

    /// Adds the format to an error made elsewhere (by the YAML reader).
    func noting(_ error: MTAGuardError) -> MTAGuardError {
        var copy = error
        copy.hint = [error.hint, formatNote].compactMap { $0 }.joined(separator: "; ")
        return copy
    }
}

// MARK: - Building

/// Hosts, groups and variables as the files declare them; `build()` resolves membership
/// through children and merges variables in Ansible's precedence.
struct InventoryBuilder {
    struct Group {
        var hosts: [String] = []
        var hostSet: Set<String> = []
        var children: [String] = []
        var parents: [String] = []
        var vars: [String: String] = [:]
    }

    private(set) var hostOrder: [String] = []
    private(set) var hostVars: [String: [String: String]] = [:]
    private(set) var groups: [String: Group] = ["all": Group(), "ungrouped": Group()]

    mutating func addGroup(_ name: String) {
        if groups[name] == nil { groups[name] = Group() }
    }

    mutating func addHost(_ name: String, to group: String, vars: [(key: String, value: String)]) {
        addGroup(group)
        if hostVars[name] == nil {
            hostOrder.append(name)
            hostVars[name] = [:]
        }
        if groups[group]!.hostSet.insert(name).inserted { groups[group]!.hosts.append(name) }
        for (key, value) in vars { hostVars[name]![key] = value }
    }

    mutating func setGroupVar(_ group: String, _ key: String, _ value: String) {
        addGroup(group)
        groups[group]!.vars[key] = value
    }

    /// Makes `child` a child of `parent`; the message says why not (a loop, or `all` as a child).
    mutating func addChild(_ child: String, to parent: String) -> String? {
        if child == parent { return "group '\(child)' cannot be a child of itself" }
        if child == "all" { return "'all' contains every group and cannot be a child of '\(parent)'" }
        addGroup(child)
        addGroup(parent)
        if groups[parent]!.children.contains(child) { return nil }
        if let path = path(from: child, to: parent) {
            let loop = ([parent] + path).joined(separator: " → ")
            return "making '\(child)' a child of '\(parent)' creates a cycle: \(loop)"
        }
        groups[parent]!.children.append(child)
        groups[child]!.parents.append(parent)
        return nil
    }

    /// The chain of children from `start` down to `goal`, both included, if there is one.
    private func path(from start: String, to goal: String) -> [String]? {
        var seen: Set<String> = []
        func walk(_ g: String) -> [String]? {
            if g == goal { return [g] }
            guard seen.insert(g).inserted else { return nil }
            for c in groups[g]?.children ?? [] {
                if let rest = walk(c) { return [g] + rest }
            }
            return nil
        }
        return walk(start)
    }

    /// Whether a variable Ansible (and mtaguard) acts on has a usable value; nil when it does.
    static func problem(variable key: String, value: String) -> (message: String, hint: String?)? {
        let connection = [
            "ansible_host", "ansible_port", "ansible_ssh_port", "ansible_user", "ansible_ssh_user",
            "ansible_ssh_private_key_file", "ansible_private_key_file", "ansible_become", "mtaguard_mode",
            SMTPProbeAddress.variable,
        ]
        guard connection.contains(key) else { return nil }
        if value.contains("{{") || value.contains("{%") {
            return ("\(key): Jinja templates are not supported ('\(value)')", "write the value itself")
        }
        switch key {
        case "ansible_port", "ansible_ssh_port":
            guard let n = Int(value), (1...65535).contains(n), value.allSatisfy(\.isNumber) else {
                return ("\(key) '\(value)' is not a port number (1 to 65535)", nil)
            }
        case "ansible_host", "ansible_user", "ansible_ssh_user":
            if let why = HostPattern.problem(hostName: value) {
                return ("\(key) '\(value)' \(why)", "it is passed to ssh")
            }
        case "ansible_ssh_private_key_file", "ansible_private_key_file":
            if value.isEmpty || value.hasPrefix("-") || value.unicodeScalars.contains(where: { $0.value < 0x20 || $0.value == 0x7F }) {
                return ("\(key) '\(value)' is not a usable file path", nil)
            }
        case SMTPProbeAddress.variable:
            if let why = SMTPProbeAddress.problem(value) {
                return ("\(key) '\(value)' \(why)", "write the address the SMTP probe connects to, such as 192.0.2.25, 2001:db8::25 or mx1.example.com")
            }
        case "ansible_become":
            guard ["yes", "no", "true", "false", "1", "0", "on", "off"].contains(value.lowercased()) else {
                return ("\(key) '\(value)' is not a yes/no value", "write yes or no")
            }
        default:
            break
        }
        return nil
    }

    func build() -> Inventory {
        var ancestorMemo: [String: Set<String>] = [:]
        func ancestors(_ g: String) -> Set<String> {
            if let known = ancestorMemo[g] { return known }
            var result: Set<String> = []
            for p in groups[g]?.parents ?? [] {
                result.insert(p)
                result.formUnion(ancestors(p))
            }
            ancestorMemo[g] = result
            return result
        }
        var depthMemo: [String: Int] = [:]
        func depth(_ g: String) -> Int {
            if g == "all" { return 0 }
            if let known = depthMemo[g] { return known }
            let d = 1 + (groups[g]?.parents.filter { $0 != "all" }.map(depth).max() ?? 0)
            depthMemo[g] = d
            return d
        }

        var direct: [String: [String]] = [:]
        for (name, group) in groups {
            for host in group.hosts { direct[host, default: []].append(name) }
        }
        var members: [String: [String]] = Dictionary(uniqueKeysWithValues: groups.keys.map { ($0, []) })
        var hosts: [InventoryHost] = []
        for name in hostOrder {
            var set: Set<String> = []
            for g in direct[name] ?? [] {
                set.insert(g)
                set.formUnion(ancestors(g))
            }
            set.remove("all")
            set.remove("ungrouped")
            if set.isEmpty { set.insert("ungrouped") }
            set.insert("all")
            var vars: [String: String] = [:]
            let ordered = set.sorted { (depth($0), $0) < (depth($1), $1) }
            for g in ordered { vars.merge(groups[g]!.vars) { _, new in new } }
            vars.merge(hostVars[name] ?? [:]) { _, new in new }
            for g in set { members[g]!.append(name) }
            hosts.append(InventoryHost(name: name, groups: set.sorted(), vars: vars))
        }
        return Inventory(hosts: hosts, groups: members)
    }
}
