/// The `exim-log` kind: whether exim writes what an item needs to its main log, judged from
/// `log_selector` as exim reads it (macros replaced, `.ifdef` followed): each `+NAME` turns a
/// selector on and `-NAME` off, in order, `+all` and `-all` all of them, from exim's defaults
/// (off for every selector this kind is asked for). The fix adds the missing `+NAME` words at
/// the end of the option (after a macro, which exim replaces in place), or adds the option
/// before the first `begin`.
///
///     - kind: exim-log
///       mta: exim
///       file: /etc/exim4/exim4.conf
///       require: [smtp_connection, smtp_protocol_error, smtp_syntax_error]
///       validate: { before_replace: [exim4, -C, "{file}", -bV] }
///       after: { service: exim, action: reload }
///
/// With `generated_by` (Debian's update-exim4.conf, as for `exim-acl`), the sources are judged
/// as the tool assembles them and the built file as exim runs it; the words go into the source
/// that sets log_selector (Debian's `log_selector = MAIN_LOG_SELECTOR`), and the tool builds
/// the file again.
struct EximLogTarget: TargetKind, Equatable {
    static let name = "exim-log"
    static let keys: Set<String> = ["mta", "file", "require", "validate", "after", "generated_by"]
    static let lens = "Exim.lns"

    var mta: String
    var file: String
    var require: [String]
    var validateBefore: Validation?
    var validateAfter: Validation?
    var after: ServiceStep?
    var generatedBy: DebianEximSources?

    var fetch: Fetch { .contents(lens: Self.lens) }
    var alsoReads: [String] { generatedBy?.files ?? [] }
    var folders: [String] { generatedBy?.folders ?? [] }

    static func parse(_ m: [String: YAMLValue], in value: YAMLValue) throws -> EximLogTarget {
        let t = try PlaybookLoader.fileTarget(m, in: value, mtas: ["exim"])
        let list = try m.required("require", in: value)
        let names = try list.strings()
        guard !names.isEmpty else { throw list.error("require names at least one log selector") }
        if let bad = names.first(where: { $0.range(of: "^[a-z0-9_]+$", options: .regularExpression) == nil }) {
            throw list.error("'\(bad)' is not a log selector name (letters, digits, '_')")
        }
        return EximLogTarget(
            mta: t.mta, file: t.file, require: names, validateBefore: t.before, validateAfter: t.after, after: t.step,
            generatedBy: try DebianEximSources.parse(m, in: value))
    }

    /// The selectors `value` turns on, from exim's defaults for `names` (all off).
    static func enabled(_ value: String, among names: [String]) -> Set<String> {
        var on = Set<String>()
        for word in value.split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == "\n" }) {
            guard let sign = word.first, sign == "+" || sign == "-" else { continue }
            let name = String(word.dropFirst())
            let affected = name == "all" ? Set(names) : [name]
            if sign == "+" { on.formUnion(affected) } else { on.subtract(affected) }
        }
        return on.intersection(names)
    }

    func judge(item: String, in context: JudgeContext) throws -> Judgement {
        var paths = [file]
        if let generatedBy {
            switch try generatedBy.sources(of: file, mta: mta, facts: context.facts) {
            case .settled(let evidence): return Judgement(evidence)
            case .paths(let p): paths = p
            }
        }
        guard (try context.facts.exists(paths.last ?? file)) else {
            return Judgement(Evidence(
                mta: mta, file: file, line: nil, text: "(no such file)", status: .notApplicable,
                note: "\(file) is absent: exim is not configured here"))
        }
        let trees = try paths.compactMap { try context.tree($0, lens: Self.lens, mta: mta) }
        var (evidence, missing) = try evaluate(trees, shownFile: paths.last ?? file)
        // Debian's built file as exim runs it now: older than its sources when someone edited
        // them without running the tool.
        var stale = false
        if let generatedBy {
            evidence.note += " (from \(generatedBy.describe(paths)))"
            if (try context.facts.exists(file)), let built = try context.tree(file, lens: Self.lens, mta: mta) {
                stale = try !evaluate([built], shownFile: file).missing.isEmpty
            }
        }
        guard !missing.isEmpty || stale else { return Judgement(evidence) }
        if missing.isEmpty {
            evidence.status = .fail
            evidence.note += "; but \(file) is older than its sources and does not log them: \(DebianEximSources.tool) builds it again"
        } else {
            evidence.note += "; fix: \(missing.map { "+" + $0 }.joined(separator: " ")) added"
                + (generatedBy == nil ? "" : " in the source, and \(DebianEximSources.tool) builds \(file) again")
        }
        return Judgement(evidence, remedy: Remedy { plan in
            let trees = try paths.compactMap { try plan.tree($0, lens: Self.lens, mta: mta) }
            if !missing.isEmpty {
                let home = generatedBy.flatMap { EximSettingTarget.home(for: paths, template: $0.template) } ?? file
                guard let into = trees.first(where: { $0.file == home }) else { throw MTAGuardError(file: file, "is absent") }
                try fix(trees, into: into, item: item, in: &plan)
            }
            plan.after(after)
            if generatedBy != nil {
                plan.act(DebianEximSources.build)
            } else {
                plan.validations[file] = (validateBefore, validateAfter)
            }
        })
    }

    /// log_selector as exim reads it in `trees`: the evidence, and the selectors it lacks.
    private func evaluate(_ trees: [ConfigTree], shownFile: String) throws -> (Evidence, missing: [String]) {
        let setting = try EximConfigReading(trees).settings["log_selector"]
        let on = Self.enabled(setting?.value ?? "", among: require)
        let missing = require.filter { !on.contains($0) }
        let shown = setting?.value.trimmingCharacters(in: .whitespaces) ?? ""
        guard !missing.isEmpty else {
            return (Evidence(mta: mta, file: setting?.file ?? shownFile, line: setting?.line, text: setting?.text ?? "", status: .pass,
                             note: "log_selector (\(shown)) logs \(require.joined(separator: ", "))"), [])
        }
        let what = setting == nil ? "log_selector is not set (exim's defaults)" : "log_selector (\(shown))"
        return (Evidence(mta: mta, file: setting?.file ?? shownFile, line: setting?.line, text: setting?.text ?? "(not set)", status: .fail,
                         note: "\(what) does not log \(missing.joined(separator: ", "))"), missing)
    }

    /// Adds the selectors the composed `trees` still lack to log_selector where it is set in
    /// force, else as a new log_selector in `into` (before its first `begin`, or at its end).
    private func fix(_ trees: [ConfigTree], into tree: ConfigTree, item: String, in plan: inout Planner.Build) throws {
        let setting = try EximConfigReading(trees).settings["log_selector"]
        let on = Self.enabled(setting?.value ?? "", among: require)
        let missing = require.filter { !on.contains($0) }
        guard !missing.isEmpty else { return plan.changed(setting?.file ?? tree.file, by: item) }
        let words = missing.map { "+" + $0 }.joined(separator: " ")
        if let setting, let holder = trees.first(where: { $0.path == setting.treePath && $0.file == setting.file }) {
            try holder.wrap {
                let raw = try holder.augeas.get(setting.node) ?? ""
                try holder.augeas.set(setting.node, raw.isEmpty ? words : raw + " " + words)
            }
            plan.changed(holder.file, by: item)
        } else {
            try tree.wrap {
                if let begin = try tree.augeas.match(tree.path + "/begin").first {
                    try tree.augeas.insert("log_selector", at: begin, before: true)
                    try tree.augeas.set(tree.path + "/log_selector[last()]", words)
                } else {
                    try tree.augeas.set(tree.path + "/log_selector[last()+1]", words)
                }
            }
            plan.changed(tree.file, by: item)
        }
        let fixed = try EximConfigReading(trees).settings["log_selector"]
        guard Self.enabled(fixed?.value ?? "", among: require) == Set(require) else {
            throw MTAGuardError(.failed, file: setting?.file ?? tree.file, line: setting?.line, "adding \(words) to log_selector did not turn them on",
                                hint: "nothing was changed; set log_selector by hand")
        }
    }
}
