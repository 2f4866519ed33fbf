/// The `exim-setting` kind: a main option of exim's run time configuration, read as exim reads
/// it (macros replaced, `.ifdef` followed, the last setting in force: `EximConfigReading`),
/// judged by a setting check (`equals`, `excludes`, `at_least`, exim's `default` when it is not
/// set), and fixed where it is set, or added before the first `begin`, with exim's own check of
/// the new file and a reload.
///
///     - kind: exim-setting
///       mta: exim
///       file: /etc/exim4/exim4.conf
///       check: { node: smtp_banner, excludes: ["$version_number"], default: "… Exim $version_number …" }
///       fix: { set: "$smtp_active_hostname ESMTP $tod_full" }
///       validate: { before_replace: [exim4, -C, "{file}", -bV] }
///       after: { service: exim, action: reload }
///
/// Debian's exim4 without exim4.conf runs the file update-exim4.conf builds (`generated_by`, as
/// for `exim-acl`): the sources are judged as the tool assembles them, and the built file as
/// exim runs it now; the fix goes into the source that sets the option (or Debian's options
/// file, `conf.d/main/*_exim4-config_options`, or the template), and the tool builds the file
/// again, installing it only if `exim4 -C NEW -bV` accepts it.
struct EximSettingTarget: TargetKind, Equatable {
    static let name = "exim-setting"
    static let keys: Set<String> = ["mta", "file", "check", "fix", "validate", "after", "generated_by"]
    static let lens = "Exim.lns"

    /// The option's check and fix, as a `setting` target's (its node is the option's name).
    var setting: Target
    var generatedBy: DebianEximSources?

    var mta: String { setting.mta }
    var file: String { setting.file }
    var option: String { setting.check.node }
    var fetch: Fetch { .contents(lens: Self.lens) }
    var alsoReads: [String] { generatedBy?.files ?? [] }
    var folders: [String] { generatedBy?.folders ?? [] }
    var eximConfigs: [String] { generatedBy == nil ? [file] : [] }

    static func parse(_ m: [String: YAMLValue], in value: YAMLValue) throws -> EximSettingTarget {
        let t = try PlaybookLoader.fileTarget(m, in: value, mtas: ["exim"])
        let checkValue = try m.required("check", in: value)
        let check = try Target.parseCheck(checkValue)
        guard check.node.range(of: "^[a-z][a-z0-9_]*$", options: .regularExpression) != nil, check.valuePath == nil,
              check.items == nil, !check.isFlags
        else {
            throw checkValue.error("an exim-setting check names one main option (node: smtp_banner) and the values that pass")
        }
        let fix = try Target.parseFix(m.required("fix", in: value), check: check)
        guard case .set = fix.operation else { throw value.error("an exim-setting is fixed with 'set'") }
        return EximSettingTarget(
            setting: Target(
                mta: t.mta, file: t.file, lens: lens, advisory: false, check: check, fix: fix,
                validateBeforeReplace: t.before, validateAfterReplace: t.after, after: t.step),
            generatedBy: try DebianEximSources.parse(m, in: value))
    }

    /// What exim reads of the option in `trees`: its evidence, and whether it passes.
    private func evaluate(_ trees: [ConfigTree], target: Target, shownFile: String, includes: EximIncludeSource? = nil) throws -> Evidence {
        let config = try EximConfigReading(trees, includes: includes)
        try config.requireStartable()
        if includes != nil, let unread = config.includes.first {
            throw MTAGuardError(.invalidInput, file: shownFile, "\(option) cannot be read: the .include \(unread) may set it",
                                hint: "look at exim -bP \(option) by hand")
        }
        let found = config.settings[option]
        let reading = Judge.Reading(
            nodes: found.map { [$0.node] } ?? [], value: found?.value, flags: [], line: found?.line, lineText: found?.text)
        var evidence = Judge(target: target).evidence(reading, file: found?.file ?? shownFile)
        if found == nil { evidence.text = "(not set)" }
        if let found, found.file != shownFile { evidence.note += " (set in \(found.file), which \(shownFile) includes)" }
        for said in config.skipped { evidence.note += "; " + said }
        return evidence
    }

    func judge(item: String, in context: JudgeContext) throws -> Judgement {
        let target = try setting.withVariable(context.variables)
        guard let generatedBy else {
            guard (try context.facts.exists(file)), let tree = try context.tree(file, lens: Self.lens, mta: mta) else {
                return Judgement(Evidence(
                    mta: mta, file: file, line: nil, text: "(no such file)", status: .notApplicable,
                    note: "\(file) is absent: exim is not configured here"))
            }
            let evidence = try evaluate([tree], target: target, shownFile: file, includes: EximIncludeSource(context))
            guard evidence.status == .fail else { return Judgement(evidence) }
            return Judgement(evidence, remedy: Remedy { plan in
                guard let tree = try plan.tree(file, lens: Self.lens, mta: mta) else { throw MTAGuardError(file: file, "is absent") }
                try fix([tree], target: target, into: tree, item: item, plan: &plan, includes: EximIncludeSource(plan))
                plan.validations[file] = (target.validateBeforeReplace, target.validateAfterReplace)
                for read in try EximConfigReading([tree], includes: EximIncludeSource(plan)).included where plan.changedItems[read.file] != nil {
                    plan.validateIncluded(read.file, main: file, with: target.validateBeforeReplace)
                }
            })
        }
        return try judgeGenerated(generatedBy, target: target, item: item, in: context)
    }

    /// Debian's built configuration: judged from its sources as update-exim4.conf assembles
    /// them, and from the built file as exim reads it now.
    private func judgeGenerated(_ sources: DebianEximSources, target: Target, item: String, in context: JudgeContext) throws -> Judgement {
        let facts = context.facts
        if case .settled(let evidence) = try sources.sources(of: file, mta: mta, facts: facts) { return Judgement(evidence) }
        guard let (paths, trees) = try sources.read(file, mta: mta, lens: Self.lens, in: context) else { throw MTAGuardError(file: file, "has no sources") }
        var evidence = try evaluate(trees, target: target, shownFile: file)
        evidence.note += " (from \(sources.describe(paths)))"
        // The built file as exim runs it now: older than its sources when someone edited them
        // without running the tool.
        var stale = false
        if (try facts.exists(file)), let built = try context.tree(file, lens: Self.lens, mta: mta) {
            stale = try evaluate([built], target: target, shownFile: file).status == .fail
        }
        let sourcesFail = evidence.status == .fail
        guard sourcesFail || stale else { return Judgement(evidence) }
        if sourcesFail {
            evidence.note += "; fix: \(option) = \(target.fixValue) in the source, and \(DebianEximSources.tool) builds \(file) again"
        } else {
            evidence.status = .fail
            evidence.note += "; but \(file) is older than its sources and still fails: \(DebianEximSources.tool) builds it again"
        }
        return Judgement(evidence, remedy: Remedy { plan in
            if sourcesFail {
                let trees = try paths.compactMap { try plan.tree($0, lens: Self.lens, mta: mta) }
                guard let home = Self.home(for: paths, template: sources.template), let into = trees.first(where: { $0.file == home }) else {
                    throw MTAGuardError(file: file, "no source of \(file) takes main options", hint: "nothing was changed; set \(option) by hand")
                }
                try fix(trees, target: target, into: into, item: item, plan: &plan)
            }
            plan.after(target.after)
            plan.act(DebianEximSources.build)
        })
    }

    /// The source a new main option goes into: Debian's options file of conf.d/main, else the
    /// last file of conf.d/main, else the template.
    static func home(for paths: [String], template: String) -> String? {
        if paths.contains(template) { return template }
        let main = paths.filter { $0.contains("/conf.d/main/") }
        return main.first { $0.hasSuffix("_exim4-config_options") } ?? main.last
    }

    /// Sets the option in the composed `trees` where it is set in force, else adds it to `into`
    /// (before its first `begin`, or at its end), and checks that exim now reads a passing value.
    private func fix(
        _ trees: [ConfigTree], target: Target, into: ConfigTree, item: String, plan: inout Planner.Build, includes: EximIncludeSource? = nil
    ) throws {
        let reading = try EximConfigReading(trees, includes: includes)
        let found = reading.settings[option]
        let value = target.fixValue
        if try evaluate(trees, target: target, shownFile: file, includes: includes).status != .pass {
            if let found, let tree = reading.tree(for: found, in: trees) {
                try tree.wrap { try tree.augeas.set(found.node, value) }
                plan.changed(tree.file, by: item)
            } else {
                try into.wrap {
                    if let begin = try into.augeas.match(into.path + "/begin").first {
                        try into.augeas.insert(option, at: begin, before: true)
                        try into.augeas.set(into.path + "/" + option + "[last()]", value)
                    } else {
                        try into.augeas.set(into.path + "/" + option + "[last()+1]", value)
                    }
                }
                plan.changed(into.file, by: item)
            }
            guard try evaluate(trees, target: target, shownFile: file, includes: includes).status == .pass else {
                throw MTAGuardError(.failed, file: found?.file ?? into.file, line: found?.line,
                                    "setting \(option) = \(value) did not make exim read a passing value",
                                    hint: "nothing was changed; set \(option) by hand")
            }
        } else {
            for tree in trees { plan.changed(tree.file, by: item) }
        }
        plan.after(target.after)
    }
}

extension Target {
    /// The value a `set` fix writes.
    var fixValue: String {
        if case .set(let value) = fix.operation { return value }
        return ""
    }
}
