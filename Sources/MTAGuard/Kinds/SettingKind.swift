import Foundation

/// The `setting` kind (the default): a setting in a configuration file, read through the
/// file's lens as the MTA reads it (`Judge`) and fixed by an Augeas edit (`Remediator`), with
/// the MTA's validator and a service step after the change.
extension Target: TargetKind {
    static let name = "setting"
    static let keys: Set<String> = ["mta", "file", "lens", "advisory", "check", "fix", "validate", "after"]

    var fetch: Fetch { .contents(lens: lens) }

    func judge(item: String, in context: JudgeContext) throws -> Judgement {
        guard (try context.facts.exists(file)), let tree = try context.tree(file, lens: lens, mta: mta) else {
            return Judgement(Evidence(
                mta: mta, file: file, line: nil, text: "(no such file)", status: .notApplicable, advisory: advisory,
                note: "\(file) is absent: \(mta) is not configured here"))
        }
        let target = try withVariable(context.variables)
        let judge = Judge(target: target)
        let found = judge.evidence(try judge.read(tree), file: file)
        guard found.status == .fail else { return Judgement(found) }
        return Judgement(found, remedy: Remedy { plan in
            guard let tree = try plan.tree(file, lens: lens, mta: mta) else { throw MTAGuardError(file: file, "is absent") }
            try Remediator(target: target).apply(to: tree)
            plan.changed(file, by: item)
            plan.after(after)
            plan.validations[file] = (validateBeforeReplace, validateAfterReplace)
        })
    }

    /// The target with the fix's value replaced by the host's inventory variable, where the
    /// playbook names one and the host has it.
    func withVariable(_ variables: [String: String]) throws -> Target {
        var target = self
        guard let name = fix.variable, let value = variables[name] else { return target }
        // The host's own value: one line of text, or the host errs with the variable named.
        if let bad = value.unicodeScalars.first(where: { $0.value < 0x20 || $0.value == 0x7F }) {
            throw MTAGuardError(
                .invalidInput, file: file,
                "the inventory variable \(name) holds U+\(String(format: "%04X", bad.value)); a value to write must be one line of text",
                hint: "nothing was changed; fix the inventory")
        }
        target.fix.operation = .set(value)
        let reading = Judge.Reading(nodes: [check.node], value: value, flags: [], line: nil, lineText: nil)
        let judge = Judge(target: target)
        guard judge.passes(reading), check.atLeast == nil || judge.number(value).plain else {
            throw MTAGuardError(
                .invalidInput, file: file, "the inventory variable \(name) is '\(value)', which does not pass: \(check.name) needs \(check.wanted)"
                    + (check.atLeast == nil ? "" : " written in plain digits; \(judge.number(value).account)"),
                hint: "nothing was changed; fix the inventory")
        }
        return target
    }

    static func parse(_ m: [String: YAMLValue], in value: YAMLValue) throws -> Target {
        let file = try PlaybookLoader.absolutePath(m, "file", in: value)
        let lens = try m.required("lens", in: value).string()
        guard lens.range(of: #"^[A-Z][A-Za-z0-9_]*\.[a-z][A-Za-z0-9_]*$"#, options: .regularExpression) != nil else {
            throw m["lens"]!.error("'\(lens)' is not a lens name such as Postfix_Main.lns")
        }
        let checkValue = try m.required("check", in: value)
        let check = try parseCheck(checkValue)
        let fix = try parseFix(m.required("fix", in: value), check: check)
        let (before, after) = try PlaybookLoader.validations(m["validate"])
        let step = try PlaybookLoader.serviceStep(m["after"])
        return Target(
            mta: try m.required("mta", in: value).oneOf(MTACatalog.names),
            file: file, lens: lens,
            advisory: try m["advisory"]?.bool() ?? false,
            check: check, fix: fix,
            validateBeforeReplace: before, validateAfterReplace: after, after: step)
    }


    static func parseCheck(_ value: YAMLValue) throws -> Check {
        let m = try value.mapping(allowed: [
            "node", "value", "items", "separators", "pick", "equals", "require", "or_any", "default", "unparsed",
            "at_least", "excludes", "setting",
        ])
        var atLeast: Int?
        if let a = m["at_least"] {
            guard let n = Int(try a.string()) else { throw a.error("'at_least' takes a whole number") }
            atLeast = n
        }
        var check = Check(
            node: try m.required("node", in: value).string(),
            valuePath: try m["value"]?.string(),
            items: try m["items"]?.string(),
            separators: try m["separators"]?.string(),
            pick: Check.Pick(rawValue: try m["pick"]?.oneOf(["last", "union"]) ?? "last")!,
            equals: try m["equals"]?.strings() ?? [],
            require: try m["require"]?.strings() ?? [],
            orAny: try m["or_any"]?.strings() ?? [],
            defaultValue: try m["default"]?.string(),
            unparsed: try m["unparsed"]?.string())
        check.atLeast = atLeast
        check.excludes = try m["excludes"]?.strings() ?? []
        check.setting = try m["setting"].map(PlaybookLoader.oneLine)
        if check.setting == nil, !Check.isPlainName(check.node) {
            throw value.error("'node' is an Augeas expression: say the setting's name as the MTA spells it in 'setting' (evidence shows it)")
        }
        let criteria = [!check.equals.isEmpty, !check.require.isEmpty, check.atLeast != nil, !check.excludes.isEmpty]
        if criteria.filter({ $0 }).count != 1 {
            throw value.error("say one of 'equals' (values that pass), 'require' (flags that must be set), 'at_least' (a smallest number) or 'excludes' (text a value must not hold)")
        }
        if check.items != nil, check.separators != nil {
            throw value.error("'items' and 'separators' exclude each other")
        }
        return check
    }

    static func parseFix(_ value: YAMLValue, check: Check) throws -> Fix {
        let m = try value.mapping(allowed: ["set", "add_flags", "initial", "create", "variable"])
        let operation: Fix.Operation
        switch (m["set"], m["add_flags"]) {
        case (let s?, nil):
            guard !check.isFlags else { throw s.error("a flag check is fixed with 'add_flags'") }
            operation = .set(try PlaybookLoader.oneLine(s))
        case (nil, let f?):
            guard check.isFlags else { throw f.error("a value check is fixed with 'set'") }
            operation = .addFlags(try PlaybookLoader.oneLineEach(f))
        default:
            throw value.error("say exactly one of 'set' or 'add_flags'")
        }
        var creation = Creation(label: check.node, value: nil, after: nil, before: nil)
        if let c = m["create"] {
            let cm = try c.mapping(allowed: ["label", "value", "after", "before"])
            creation = Creation(
                label: try cm["label"]?.string() ?? check.node,
                value: try cm["value"].map(PlaybookLoader.oneLine),
                after: try cm["after"]?.string(),
                before: try cm["before"]?.string())
        }
        guard creation.label.range(of: #"^[^/\[\]()=\s]+$"#, options: .regularExpression) != nil else {
            throw value.error("cannot create a node from '\(creation.label)': give fix.create.label")
        }
        var variable: String?
        if let v = m["variable"] {
            let name = try v.string()
            guard m["set"] != nil, name.range(of: "^mtaguard_[a-z0-9_]+$", options: .regularExpression) != nil else {
                throw v.error("'variable' names an inventory variable mtaguard_NAME (lower case) whose value replaces 'set'")
            }
            variable = name
        }
        return Fix(
            operation: operation, initial: try m["initial"].map(PlaybookLoader.oneLineEach) ?? [], create: creation,
            variable: variable)
    }
}
