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
struct EximLogTarget: TargetKind, Equatable {
    static let name = "exim-log"
    static let keys: Set<String> = ["mta", "file", "require", "validate", "after"]
    static let lens = "Exim.lns"

    var mta: String
    var file: String
    var require: [String]
    var validateBefore: Validation?
    var validateAfter: Validation?
    var after: ServiceStep?

    var fetch: Fetch { .contents(lens: Self.lens) }

    static func parse(_ m: [String: YAMLValue], in value: YAMLValue) throws -> EximLogTarget {
        let t = try PlaybookLoader.fileTarget(m, in: value, mtas: ["exim"])
        let list = try m.required("require", in: value)
        let names = try list.strings()
        guard !names.isEmpty else { throw list.error("require names at least one log selector") }
        if let bad = names.first(where: { $0.range(of: "^[a-z0-9_]+$", options: .regularExpression) == nil }) {
            throw list.error("'\(bad)' is not a log selector name (letters, digits, '_')")
        }
        return EximLogTarget(mta: t.mta, file: t.file, require: names, validateBefore: t.before, validateAfter: t.after, after: t.step)
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

    func judge(item: String, in plan: inout Planner.Build) throws -> Evidence {
        guard plan.facts.files[file] ?? nil != nil, let tree = try plan.tree(file, lens: Self.lens, mta: mta) else {
            return Evidence(
                mta: mta, file: file, line: nil, text: "(no such file)", status: .notApplicable,
                note: "\(file) is absent: exim is not configured here")
        }
        let reading = try EximConfigReading([tree])
        let setting = reading.settings["log_selector"]
        let on = Self.enabled(setting?.value ?? "", among: require)
        let missing = require.filter { !on.contains($0) }
        let shown = setting?.value.trimmingCharacters(in: .whitespaces) ?? ""
        guard !missing.isEmpty else {
            return Evidence(mta: mta, file: file, line: setting?.line, text: setting?.text ?? "", status: .pass,
                            note: "log_selector (\(shown)) logs \(require.joined(separator: ", "))")
        }
        let words = missing.map { "+" + $0 }.joined(separator: " ")
        try tree.wrap {
            if let setting, setting.treePath == tree.path {
                let raw = try tree.augeas.get(setting.node) ?? ""
                try tree.augeas.set(setting.node, raw.isEmpty ? words : raw + " " + words)
            } else if let begin = try tree.augeas.match(tree.path + "/begin").first {
                try tree.augeas.insert("log_selector", at: begin, before: true)
                try tree.augeas.set(tree.path + "/log_selector[last()]", words)
            } else {
                try tree.augeas.set(tree.path + "/log_selector[last()+1]", words)
            }
        }
        let fixed = try EximConfigReading([tree]).settings["log_selector"]
        guard Self.enabled(fixed?.value ?? "", among: require) == Set(require) else {
            throw MTAGuardError(.failed, file: file, line: setting?.line, "adding \(words) to log_selector did not turn them on",
                                hint: "nothing was changed; set log_selector by hand")
        }
        plan.changed(file, by: item)
        if let step = after, !plan.steps.contains(step) { plan.steps.append(step) }
        plan.validations[file] = (validateBefore, validateAfter)
        let what = setting == nil ? "log_selector is not set (exim's defaults)" : "log_selector (\(shown))"
        return Evidence(mta: mta, file: file, line: setting?.line, text: setting?.text ?? "(not set)", status: .fail,
                        note: "\(what) does not log \(missing.joined(separator: ", ")); fix: \(words) added")
    }
}
