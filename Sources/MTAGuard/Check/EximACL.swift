/// Whether exim answers VRFY and EXPN, judged from its run time configuration as parsed by
/// Exim.lns (KISA U-48 / SRV-005), the way exim decides it (spec 44.12–44.18):
/// `acl_smtp_vrfy` / `acl_smtp_expn` unset → deny (exim's default); `= accept` / `= deny` → that
/// inline ACL; an ACL name → the named ACL in `begin acl`, whose statements run in order until
/// one decides (an implicit deny at the end). Macros in the option's value are expanded from the
/// definitions read before it; `.ifdef`/`.ifndef`/`.elifdef`/`.else`/`.endif` are followed as
/// exim follows them (a condition holds when a macro defined so far occurs in its text).
///
/// Not judged (`.unknown`, with the reason): values that need string expansion (`$`), ACLs read
/// from a file (`/…`), macros not defined in the given files (e.g. `-D` on the command line),
/// `.include`d files, and conditions on exim's builtin `_…` macros.

/// The SMTP commands this judges.
public enum EximSMTPCommand: String, CaseIterable, Sendable {
    case vrfy, expn
    var option: String { "acl_smtp_" + rawValue }
}

/// What exim does with one command, and the line that decides it.
public struct EximVerdict: Equatable, Sendable {
    public enum Outcome: String, Sendable {
        /// Every client gets an answer.
        case allowed
        /// An `accept` with conditions (hosts = …, authenticated = …): some clients get an
        /// answer. Counted as allowed (취약).
        case allowedForSome
        case denied
        /// The configuration can not be judged from these files; `reason` says why.
        case unknown
    }

    public let command: EximSMTPCommand
    public let outcome: Outcome
    /// The file and 1-based line that decided, when a line did (nil: exim's default).
    public let file: String?
    public let line: Int?
    /// That line as written.
    public let text: String?
    public let reason: String

    /// true when exim answers the command for at least some clients, false when it refuses it,
    /// nil when it can not be judged.
    public var allows: Bool? {
        switch outcome {
        case .allowed, .allowedForSome: return true
        case .denied: return false
        case .unknown: return nil
        }
    }
}

enum EximACL {
    /// Judges `command` over `trees`, the configuration's files in the order exim reads them (one
    /// tree for a single file; for Debian's split layout the conf.d files in update-exim4.conf's
    /// order), each parsed with `Exim.lns`.
    static func judge(_ command: EximSMTPCommand, in trees: [ConfigTree], includes: EximIncludeSource? = nil) throws -> EximVerdict {
        let config = try EximConfigReading(trees, includes: includes)
        try config.requireStartable()
        return try config.judge(command)
    }

    /// Comments out (`#` before the option, through a rename to `#acl_smtp_…`) every active
    /// `acl_smtp_vrfy` / `acl_smtp_expn` line that lets the command through, until exim's
    /// default (deny) decides. Returns the trees it changed. Throws, changing nothing it can undo,
    /// when the command is allowed by something else than such a line, or when the edit would
    /// change more than the line (its value continues over lines, odd spacing around "=").
    @discardableResult
    static func commentOut(_ commands: [EximSMTPCommand], in trees: [ConfigTree], includes: EximIncludeSource? = nil) throws -> [ConfigTree] {
        var changed: [String: ConfigTree] = [:]
        var read = trees
        for command in commands {
            for _ in 0..<16 {
                let config = try EximConfigReading(trees, includes: includes)
                let verdict = try config.judge(command)
                guard verdict.allows == true else { break }
                read += config.included.filter { t in !read.contains { $0.file == t.file } }
                guard let setting = config.settings[command.option], let tree = config.tree(for: setting, in: trees)
                else {
                    throw MTAGuardError(
                        host: trees.first?.host ?? "", file: verdict.file ?? "",
                        "exim answers \(command.rawValue.uppercased()) but no \(command.option) line lets it through: \(verdict.reason)",
                        hint: "nothing was changed; edit the ACL by hand")
                }
                try rename(setting, in: tree, command: command)
                changed[tree.file] = tree
            }
            let after = try EximConfigReading(trees, includes: includes).judge(command)
            if after.allows == true {
                throw MTAGuardError(
                    host: trees.first?.host ?? "", file: after.file ?? "",
                    "commenting out \(command.option) did not make exim refuse \(command.rawValue.uppercased()): \(after.reason)",
                    hint: "edit the configuration by hand")
            }
        }
        return read.filter { changed[$0.file] != nil }
    }

    private static func rename(_ setting: EximConfigReading.Setting, in tree: ConfigTree, command: EximSMTPCommand) throws {
        let before = try tree.render(restoringLineEndings: false)
        let value = try tree.value(setting.node) ?? ""
        guard !value.contains("\n") else {
            throw MTAGuardError(
                host: tree.host, file: tree.file, line: setting.line,
                "\(command.option) continues over several lines; commenting out its first line would leave the rest active",
                hint: "nothing was changed; comment the lines out by hand")
        }
        _ = try tree.wrap { try tree.augeas.rename(setting.node, to: "#" + command.option) }
        let old = before.split(separator: "\n", omittingEmptySubsequences: false)
        let new = try tree.render(restoringLineEndings: false).split(separator: "\n", omittingEmptySubsequences: false)
        let diffs = zip(old, new).enumerated().filter { $0.element.0 != $0.element.1 }
        let line = setting.line.map { $0 - 1 }
        guard old.count == new.count, diffs.count == 1, let d = diffs.first, line == nil || d.offset == line,
              d.element.1 == indentation(of: d.element.0) + "#" + d.element.0.drop(while: { $0 == " " || $0 == "\t" })
        else {
            _ = try? tree.wrap { try tree.augeas.rename(tree.path + "/#" + command.option + "[last()]", to: command.option) }
            throw MTAGuardError(
                host: tree.host, file: tree.file, line: setting.line,
                "commenting out \(command.option) through the lens would change more than a leading \"#\" (spacing around \"=\")",
                hint: "nothing was changed; put a # in front of the line by hand")
        }
    }

    private static func indentation(of line: Substring) -> Substring {
        line.prefix(while: { $0 == " " || $0 == "\t" })
    }
}

/// The configuration as exim reads it, as far as VRFY/EXPN need: macros, active main options,
/// ACL definitions.
struct EximConfigReading {
    struct Setting {
        let treePath: String
        let node: String
        let file: String
        let line: Int?
        let text: String?
        let value: String
    }
    struct Statement {
        let verb: String
        let conditions: [String]
        let file: String
        let line: Int?
        let text: String?
        /// Each condition and modifier with its value (macros replaced) and its node; `negated`:
        /// written `!name = value` (exim inverts the condition's result).
        var values: [(name: String, value: String, node: String, negated: Bool)] = []
        var treePath = ""
    }
    /// A named list (`hostlist relay_from_hosts = …`): `node` holds its value.
    struct NamedList {
        let kind: String
        let name: String
        let setting: Setting
    }

    private(set) var macros: [(name: String, value: String)] = []
    /// Where each macro's value in force was defined.
    private(set) var macroSettings: [String: Setting] = [:]
    private(set) var settings: [String: Setting] = [:]
    private(set) var acls: [String: [Statement]] = [:]
    /// Named lists by `KIND NAME` (`hostlist relay_from_hosts`), the first definition of each.
    private(set) var lists: [String: NamedList] = [:]
    /// `.include` lines not followed (no `source`, or a name mtaguard did not fetch).
    private(set) var includes: [String] = []
    private(set) var builtinConditions: [String] = []
    /// Where the files `.include` lines name come from; nil: they are not followed.
    let source: EximIncludeSource?
    /// The included files read, in the order exim reads them.
    private(set) var included: [ConfigTree] = []
    /// What was said of include lines that read nothing (a missing `.include_if_exists`).
    private(set) var skipped: [String] = []
    /// Main options set twice, with the first two places: exim refuses to start (readconf.c,
    /// "option set for the second time"; no main option may be repeated).
    private(set) var repeated: [String: (first: Setting, second: Setting)] = [:]
    /// Per ACL: the include line inside it (its statements are not judged).
    private(set) var aclIncludes: [String: String] = [:]

    /// exim's conditional state (readconf.c, cstate): 0 reading, 1 skipping to .else/.endif,
    /// 2 skipping to .endif.
    private var state = 0
    private var stack: [Int] = []

    /// Reads `trees` in order; with `source`, each `.include` file is read where its line
    /// is, as exim splices it (`EximIncludes`).
    init(_ trees: [ConfigTree], includes source: EximIncludeSource? = nil) throws {
        self.source = source
        for tree in trees {
            var section = "main"
            try read(tree, section: &section, depth: 0)
        }
    }

    /// Throws the 오류 of a configuration exim refuses to start: a main option set twice.
    func requireStartable(host: String = "") throws {
        guard let name = repeated.keys.sorted().first, let (first, second) = repeated[name] else { return }
        func at(_ s: Setting) -> String { "\(s.file)\(s.line.map { ":\($0)" } ?? "")" }
        throw MTAGuardError(
            .invalidInput, host: host.isEmpty ? nil : host, file: second.file, line: second.line,
            "\(name) is set at \(at(first)) and again at \(at(second)): exim refuses to start (\"\(name)\" option set for the second time)",
            hint: "nothing was changed; keep one of the two lines")
    }

    /// The trees read, the given ones and the included ones.
    func tree(for setting: Setting, in trees: [ConfigTree]) -> ConfigTree? {
        (trees + included).first { $0.path == setting.treePath && $0.file == setting.file }
    }

    private mutating func read(_ tree: ConfigTree, section: inout String, depth: Int) throws {
            for node in try tree.match("*") {
                let label = try tree.wrap { try tree.augeas.label(node) } ?? ""
                switch label {
                case "begin":
                    if state == 0 { section = (try tree.value(node) ?? "").lowercased() }
                case "acl":
                    try readACL(node, in: tree)
                case "instance":
                    for item in try tree.wrap({ try tree.augeas.match(node + "/*") }) {
                        try directive(item, label: try tree.wrap { try tree.augeas.label(item) } ?? "", in: tree)
                    }
                case "@include" where source != nil, "@include_if_exists" where source != nil:
                    if state == 0 { try follow(node, ifExists: label == "@include_if_exists", in: tree, section: &section, depth: depth) }
                default:
                    if try directive(node, label: label, in: tree) { continue }
                    guard state == 0 else { continue }
                    if label.first?.isUppercase == true {
                        try define(label, node: node, in: tree)
                    } else if section == "main", ["hostlist", "domainlist", "addresslist", "localpartlist"].contains(label) {
                        let name = try tree.value(node) ?? ""
                        guard let valueNode = try tree.wrap({ try tree.augeas.match(node + "/value") }).first,
                              lists[label + " " + name] == nil else { continue }
                        let line = tree.line(of: node)
                        lists[label + " " + name] = NamedList(kind: label, name: name, setting: Setting(
                            treePath: tree.path, node: valueNode, file: tree.file, line: line, text: tree.sourceLine(line),
                            value: expand(Self.logical(try tree.value(valueNode) ?? ""))))
                    } else if section == "main", label.first.map({ $0.isLetter && $0.isLowercase }) == true {
                        let line = tree.line(of: node)
                        let raw = try tree.value(node) ?? ""
                        let setting = Setting(
                            treePath: tree.path, node: node, file: tree.file, line: line, text: tree.sourceLine(line),
                            value: expand(Self.logical(raw)))
                        if let first = settings[label], repeated[label] == nil { repeated[label] = (first, setting) }
                        settings[label] = setting
                    }
                }
            }
    }

    /// Reads the file an include line names where the line is (exim splices it there), or
    /// throws the 오류 exim's own start would meet: a `.include` file that is missing, a file
    /// the host could not give, a bound hit. A missing `.include_if_exists` file is skipped
    /// and said; a name that holds a macro whose file was not fetched is left unread
    /// (`includes`: the judgement says it).
    private mutating func follow(_ node: String, ifExists: Bool, in tree: ConfigTree, section: inout String, depth: Int) throws {
        guard let source else { return }
        let raw = try tree.value(node) ?? ""
        let lineNumber = tree.line(of: node)
        let line = EximIncludes.Line(ifExists: ifExists, name: EximIncludes.unquoted(Substring(expand(raw))))
        let at = "\(line.directive) at \(tree.file)\(lineNumber.map { ":\($0)" } ?? "")"
        let path: String
        switch EximIncludes.path(of: line, in: tree.file) {
        case .failure(let refusal):
            throw MTAGuardError(.invalidInput, host: tree.host, file: tree.file, line: lineNumber, refusal.reason,
                                hint: "nothing was read from it; judge the included file by hand")
        case .success(let p): path = p
        }
        let facts = source.facts
        if depth >= EximIncludes.maximumDepth {
            throw MTAGuardError(.invalidInput, host: tree.host, file: tree.file, line: lineNumber,
                                "\(at) includes \(path) more than \(EximIncludes.maximumDepth) includes deep (mtaguard reads at most \(EximIncludes.maximumDepth); a file that includes itself never ends)",
                                hint: "nothing was judged from it; look at the include chain by hand")
        }
        if let problem = facts.eximIncludes.problems[path] {
            throw MTAGuardError(.permission, host: tree.host, file: path, "included by \(at): \(problem)",
                                hint: "use --become, or log in as a user that may read it: exim reads it when it starts")
        }
        guard facts.files[path] != nil else {
            if let bound = facts.eximIncludes.bounded[tree.file] {
                throw MTAGuardError(.invalidInput, host: tree.host, file: tree.file, line: lineNumber,
                                    "\(at) names \(path), which was not read: \(bound)", hint: "judge the included files by hand")
            }
            includes.append("\(raw) (\(path), named through a macro, was not read)")
            return
        }
        // Unreadable: the fact's own error (errno, folder) is thrown here.
        guard try facts.exists(path), let included = try source.store.tree(path, lens: source.lens, mta: source.mta) else {
            if ifExists {
                skipped.append("\(at) names \(path), which does not exist: exim skips it")
                return
            }
            throw MTAGuardError(.unreadableFile, host: tree.host, file: path,
                                "does not exist, and \(at) includes it: exim refuses to start (\"failed to open included configuration file\")",
                                hint: "create the file or take the .include line out; nothing was changed")
        }
        if !self.included.contains(where: { $0.file == included.file }) { self.included.append(included) }
        try read(included, section: &section, depth: depth + 1)
    }

    /// The value without its continuations (spec 6.2): backslash, newline, comment lines and the
    /// leading blanks of the next line go.
    static func logical(_ raw: String) -> String {
        var out = ""
        var lines = raw.split(separator: "\n", omittingEmptySubsequences: false)[...]
        guard var current = lines.popFirst() else { return "" }
        while let next = lines.popFirst() {
            var head = Substring(String(current).trimmingTrailing(in: " \t"))
            if head.hasSuffix("\\") { head = head.dropLast() }
            out += head
            current = next.drop(while: { $0 == " " || $0 == "\t" })
            while current.hasPrefix("#"), let more = lines.popFirst() { current = more.drop(while: { $0 == " " || $0 == "\t" }) }
        }
        return out + current
    }

    /// Replaces each macro defined so far, in definition order (readconf.c, get_config_line).
    func expand(_ text: String) -> String {
        var s = text
        for m in macros where s.contains(m.name) { s = s.replacingOccurrences(of: m.name, with: m.value) }
        return s
    }

    private mutating func define(_ name: String, node: String, in tree: ConfigTree) throws {
        let value = expand(Self.logical(try tree.value(node) ?? ""))
        let redefine = try !tree.wrap { try tree.augeas.match(node + "/redefine") }.isEmpty
        let line = tree.line(of: node)
        let setting = Setting(treePath: tree.path, node: node, file: tree.file, line: line, text: tree.sourceLine(line), value: value)
        if let i = macros.firstIndex(where: { $0.name == name }) {
            if redefine {
                macros[i].value = value
                macroSettings[name] = setting
            }
        } else {
            macros.append((name, value))
            macroSettings[name] = setting
        }
    }

    /// Follows a dot directive (readconf.c, cond_list / next_cstate); false when `label` is none.
    @discardableResult
    private mutating func directive(_ node: String, label: String, in tree: ConfigTree) throws -> Bool {
        let table: [String: (found: Int, notFound: Int, push: Int)] = [
            "@ifdef": (0, 1, 1), "@ifndef": (1, 0, 1), "@elifdef": (2, 3, 0), "@elifndef": (3, 2, 0),
            "@else": (2, 2, 0), "@endif": (0, 0, -1),
        ]
        let next = [[0, 1, 2, 2], [2, 2, 0, 1], [2, 2, 2, 2]]
        if label == "@include" || label == "@include_if_exists" {
            if state == 0 { includes.append(try tree.value(node) ?? "") }
            return true
        }
        guard let row = table[label] else { return false }
        let text = try tree.value(node) ?? ""
        let words = text.split(whereSeparator: { !$0.isLetter && !$0.isNumber && $0 != "_" })
        if words.contains(where: { $0.hasPrefix("_") }) {
            builtinConditions.append(text)
        }
        let found = macros.contains { text.contains($0.name) } || text.hasPrefix("_")
        switch row.push {
        case 1:
            stack.append(state)
            state = next[state][found ? row.found : row.notFound]
        case -1:
            state = stack.popLast() ?? 0
        default:
            state = next[state][found ? row.found : row.notFound]
        }
        return true
    }

    private mutating func readACL(_ node: String, in tree: ConfigTree) throws {
        let active = state == 0
        var statements: [Statement] = []
        for item in try tree.wrap({ try tree.augeas.match(node + "/*") }) {
            let label = try tree.wrap { try tree.augeas.label(item) } ?? ""
            if label.hasPrefix("@include"), state == 0, active, let name = try tree.value(node), aclIncludes[name] == nil {
                let line = tree.line(of: item)
                aclIncludes[name] = ".\(label.dropFirst()) \(try tree.value(item) ?? "") at \(tree.file)\(line.map { ":\($0)" } ?? "")"
            }
            if try directive(item, label: label, in: tree) { continue }
            guard state == 0, Self.verbs.contains(label) else { continue }
            let children = try tree.wrap { try tree.augeas.match(item + "/*") }
            let conditions = try children.compactMap { child in try tree.wrap { try tree.augeas.label(child) } }
            let line = tree.line(of: item)
            var statement = Statement(verb: label, conditions: conditions, file: tree.file, line: line, text: tree.sourceLine(line))
            statement.treePath = tree.path
            for (child, name) in zip(children, conditions) {
                let negated = try !tree.wrap { try tree.augeas.match(child + "/not") }.isEmpty
                statement.values.append((name, expand(Self.logical(try tree.value(child) ?? "")), child, negated))
            }
            statements.append(statement)
        }
        if active, let name = try tree.value(node), acls[name] == nil { acls[name] = statements }
    }

    static let verbs: Set<String> = ["accept", "defer", "deny", "discard", "drop", "require", "warn"]
    /// Modifiers: they never make a statement conditional (spec 44.21).
    static let modifiers: Set<String> = [
        "message", "log_message", "logwrite", "control", "set", "add_header", "remove_header", "delay",
        "udpsend", "queue", "continue", "debug", "log_reject_target", "endpass",
    ]

    func judge(_ command: EximSMTPCommand) throws -> EximVerdict {
        let name = command.rawValue.uppercased()
        func verdict(_ outcome: EximVerdict.Outcome, _ setting: Setting?, _ reason: String) -> EximVerdict {
            EximVerdict(command: command, outcome: outcome, file: setting?.file, line: setting?.line, text: setting?.text, reason: reason)
        }
        guard let setting = settings[command.option] else {
            let extra = includes.isEmpty ? "" : " (.include files not read: \(includes.joined(separator: ", ")))"
            if !includes.isEmpty {
                return verdict(.unknown, nil, "\(command.option) is not set in these files, but \(includes.count) .include line(s) may set it\(extra)")
            }
            return verdict(.denied, nil, "\(command.option) is not set: exim refuses \(name) by default")
        }
        let value = setting.value.trimmingCharacters(in: .whitespaces)
        if value.contains("$") {
            return verdict(.unknown, setting, "\(command.option) = \(value) needs string expansion at run time")
        }
        if value.hasPrefix("/") {
            return verdict(.unknown, setting, "\(command.option) names an ACL file (\(value)), which is not read")
        }
        if value.isEmpty {
            return verdict(.unknown, setting, "\(command.option) is empty")
        }
        if let undefined = value.split(separator: " ").first(where: { $0.first?.isUppercase == true && $0.allSatisfy { $0.isLetter || $0.isNumber || $0 == "_" } }) {
            return verdict(.unknown, setting, "\(command.option) = \(value): macro \(undefined) is not defined in these files")
        }
        if let inside = aclIncludes[value] {
            return verdict(.unknown, setting, "ACL \(value) includes a file among its statements (\(inside)); statements included inside an ACL are not judged")
        }
        if !value.contains(where: { $0 == " " || $0 == "\t" || $0 == "\n" }), let statements = acls[value] {
            return decide(command, statements, setting: setting, via: "ACL \(value)")
        }
        // An inline ACL (spec 44.12): "accept", "deny", "accept hosts = …"
        let words = value.split(whereSeparator: { $0 == " " || $0 == "\t" })
        guard let verb = words.first.map(String.init), Self.verbs.contains(verb) else {
            return verdict(.unknown, setting, "\(command.option) = \(value) is neither a known ACL nor an inline one")
        }
        let rest = words.dropFirst().first.map { String($0.split(separator: "=").first ?? $0) }
        let inline = Statement(
            verb: verb, conditions: rest.map { [$0] } ?? [], file: setting.file, line: setting.line, text: setting.text)
        return decide(command, [inline], setting: setting, via: "inline ACL \"\(value)\"")
    }

    /// Runs the statements the way exim does for the clients a verdict must cover.
    private func decide(_ command: EximSMTPCommand, _ statements: [Statement], setting: Setting, via: String) -> EximVerdict {
        let name = command.rawValue.uppercased()
        var someDenied = false
        for s in statements {
            let conditional = s.conditions.contains { !Self.modifiers.contains($0) && !$0.hasPrefix("#") }
            let at = s.line.map { " (\(s.file):\($0))" } ?? ""
            switch s.verb {
            case "accept", "discard":
                let outcome: EximVerdict.Outcome = conditional || someDenied ? .allowedForSome : .allowed
                let why = conditional
                    ? "\(via): its first deciding statement is an accept with conditions\(at): some clients get \(name) answered"
                    : "\(via) accepts\(at)" + (someDenied ? " after a conditional deny: some clients get \(name) answered" : ": exim answers \(name)")
                return EximVerdict(command: command, outcome: outcome, file: s.file, line: s.line, text: s.text, reason: why)
            case "deny", "drop", "defer":
                if !conditional {
                    return EximVerdict(
                        command: command, outcome: .denied, file: s.file, line: s.line, text: s.text,
                        reason: "\(via) \(s.verb == "defer" ? "defers" : "denies")\(at): exim refuses \(name)")
                }
                someDenied = true
            default:
                continue  // warn never decides; require only ever denies
            }
        }
        return EximVerdict(
            command: command, outcome: .denied, file: setting.file, line: setting.line, text: setting.text,
            reason: "\(via) ends without accepting: exim's implicit deny refuses \(name)")
    }
}
