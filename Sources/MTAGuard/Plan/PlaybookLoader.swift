import Foundation

/// Reads and validates playbooks; every error names the file, line, column and field.
public enum PlaybookLoader {
    public static func load(file: String) throws -> Playbook {
        try parse(YAMLValue.load(file: file))
    }

    public static func load(file: String, text: String) throws -> Playbook {
        try parse(YAMLValue.load(file: file, text: text))
    }

    /// Every `*.yaml` playbook in `folder`, sorted by id. Data files that are not playbooks
    /// (they have no `targets`, such as a knowledge base) are skipped.
    public static func loadAll(folder: String) throws -> [Playbook] {
        let names: [String]
        do {
            names = try FileManager.default.contentsOfDirectory(atPath: folder)
        } catch {
            throw MTAGuardError(.invalidInput, file: folder, "cannot list the playbooks folder", hint: "pass --playbooks DIR")
        }
        var books: [Playbook] = []
        var seen: [String: String] = [:]
        for name in names.sorted() where name.hasSuffix(".yaml") || name.hasSuffix(".yml") {
            let path = (folder as NSString).appendingPathComponent(name)
            let value = try YAMLValue.load(file: path)
            guard case .mapping(let m) = value.node, m.keys.contains(where: { $0.string == "targets" || $0.string == "version" }) else {
                continue
            }
            let book = try parse(value)
            for id in book.allIDs {
                if let other = seen[id.uppercased()] {
                    throw MTAGuardError(.invalidInput, file: path, "item id \(id) is also declared in \(other)")
                }
                seen[id.uppercased()] = path
            }
            books.append(book)
        }
        return books.sorted { $0.id < $1.id }
    }

    /// The playbooks `selectors` name (ids or aliases); all of them when `selectors` is empty.
    public static func select(_ books: [Playbook], _ selectors: [String]) throws -> [Playbook] {
        guard !selectors.isEmpty else { return books }
        return try selectors.map { selector in
            guard let book = books.first(where: { $0.matches(selector) }) else {
                let known = books.flatMap(\.allIDs).joined(separator: ", ")
                throw MTAGuardError(.invalidInput, "unknown item '\(selector)'", hint: "known items: \(known)")
            }
            return book
        }
    }

    static func parse(_ root: YAMLValue) throws -> Playbook {
        let top = try root.mapping(allowed: [
            "id", "aliases", "title", "title_en", "severity", "references", "applies_to", "targets", "when_not_needed",
            "version", "verify",
        ])
        let id = try top.required("id", in: root).string()
        guard id.range(of: #"^[A-Za-z0-9][A-Za-z0-9._-]*$"#, options: .regularExpression) != nil else {
            throw top["id"]!.error("'\(id)' is not an item id (letters, digits, '-', '.', '_')")
        }
        let severityValue = try top["severity"]?.oneOf(["low", "medium", "high"]) ?? "medium"
        let families = ["linux", "solaris", "aix", "hpux"]
        let appliesTo = try top["applies_to"]?.strings() ?? families
        for (i, family) in appliesTo.enumerated() where !families.contains(family) {
            let list = try top["applies_to"]!.sequence()
            throw list.indices.contains(i) ? list[i].error("unknown OS family '\(family)' (known: \(families.joined(separator: ", ")))")
                : top["applies_to"]!.error("unknown OS family '\(family)'")
        }
        var versionOf: [String] = []
        var knowledge: String?
        if let v = top["version"] {
            let vm = try v.mapping(allowed: ["mtas", "knowledge"])
            versionOf = try vm.required("mtas", in: v).sequence().map { try $0.oneOf(["postfix", "sendmail", "exim"]) }
            knowledge = try vm.required("knowledge", in: v).string()
        }
        var smtpRefuses: [String] = []
        if let v = top["verify"] {
            let vm = try v.mapping(allowed: ["smtp"])
            let sm = try vm.required("smtp", in: v).mapping(allowed: ["vrfy", "expn"])
            for (command, value) in sm.sorted(by: { $0.key < $1.key }) {
                guard try value.oneOf(["refused", "allowed"]) == "refused" else { continue }
                smtpRefuses.append(command)
            }
        }
        let targets = try top["targets"]?.sequence().map(parseTarget) ?? []
        guard !targets.isEmpty || !versionOf.isEmpty else {
            throw root.error("an item needs targets (files to judge) or version (MTAs whose version to judge)")
        }
        var whenNotNeeded: [ServiceAction] = [.stop, .disable]
        if let w = top["when_not_needed"] {
            let wm = try w.mapping(allowed: ["actions"])
            whenNotNeeded = try (wm.required("actions", in: w).sequence()).map {
                ServiceAction(rawValue: try $0.oneOf(ServiceAction.allCases.map(\.rawValue)))!
            }
        }
        return Playbook(
            id: id,
            aliases: try top["aliases"]?.strings() ?? [],
            title: try top.required("title", in: root).string(),
            titleEnglish: try top["title_en"]?.string(),
            severity: Playbook.Severity(rawValue: severityValue)!,
            references: try top["references"]?.strings() ?? [],
            appliesTo: appliesTo,
            targets: targets,
            whenNotNeeded: whenNotNeeded,
            versionOf: versionOf,
            knowledge: knowledge,
            smtpRefuses: smtpRefuses,
            source: root.file)
    }

    private static func parseTarget(_ value: YAMLValue) throws -> Target {
        let m = try value.mapping(allowed: [
            "mta", "file", "lens", "advisory", "check", "fix", "validate", "after",
        ])
        let file = try m.required("file", in: value).string()
        guard file.hasPrefix("/"), !file.contains("/../"), !file.hasSuffix("/..") else {
            throw m["file"]!.error("'\(file)' must be an absolute path without '..'")
        }
        let lens = try m.required("lens", in: value).string()
        guard lens.range(of: #"^[A-Z][A-Za-z0-9_]*\.[a-z][A-Za-z0-9_]*$"#, options: .regularExpression) != nil else {
            throw m["lens"]!.error("'\(lens)' is not a lens name such as Postfix_Main.lns")
        }
        let checkValue = try m.required("check", in: value)
        let check = try parseCheck(checkValue)
        let fix = try parseFix(m.required("fix", in: value), check: check)
        var before: Validation? = nil
        var after: Validation? = nil
        if let v = m["validate"] {
            let vm = try v.mapping(allowed: ["before_replace", "after_replace", "reject_output"])
            let reject = try vm["reject_output"]?.string()
            if let reject, (try? NSRegularExpression(pattern: reject)) == nil {
                throw vm["reject_output"]!.error("'\(reject)' is not a valid regular expression")
            }
            if let b = vm["before_replace"] { before = Validation(argv: try command(b), rejectOutput: reject) }
            if let a = vm["after_replace"] { after = Validation(argv: try command(a), rejectOutput: reject) }
        }
        var step: ServiceStep? = nil
        if let a = m["after"] {
            let am = try a.mapping(allowed: ["service", "action"])
            let action = try am.required("action", in: a).oneOf(ServiceAction.allCases.map(\.rawValue))
            step = ServiceStep(
                service: try am.required("service", in: a).string(), action: ServiceAction(rawValue: action)!)
        }
        return Target(
            mta: try m.required("mta", in: value).oneOf(["postfix", "sendmail", "exim"]),
            file: file, lens: lens,
            advisory: try m["advisory"]?.bool() ?? false,
            check: check, fix: fix,
            validateBeforeReplace: before, validateAfterReplace: after, after: step)
    }

    private static func command(_ value: YAMLValue) throws -> [String] {
        let argv = try value.strings()
        guard let first = argv.first, !first.isEmpty else { throw value.error("a command needs a program name") }
        return argv
    }

    private static func parseCheck(_ value: YAMLValue) throws -> Check {
        let m = try value.mapping(allowed: [
            "node", "value", "items", "separators", "pick", "equals", "require", "or_any", "default", "unparsed",
        ])
        let check = Check(
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
        if check.equals.isEmpty == check.require.isEmpty {
            throw value.error("say either 'equals' (a value that passes) or 'require' (flags that must be set)")
        }
        if check.items != nil, check.separators != nil {
            throw value.error("'items' and 'separators' exclude each other")
        }
        return check
    }

    private static func parseFix(_ value: YAMLValue, check: Check) throws -> Fix {
        let m = try value.mapping(allowed: ["set", "add_flags", "initial", "create"])
        let operation: Fix.Operation
        switch (m["set"], m["add_flags"]) {
        case (let s?, nil):
            guard !check.isFlags else { throw s.error("a flag check is fixed with 'add_flags'") }
            operation = .set(try oneLine(s))
        case (nil, let f?):
            guard check.isFlags else { throw f.error("a value check is fixed with 'set'") }
            operation = .addFlags(try oneLineEach(f))
        default:
            throw value.error("say exactly one of 'set' or 'add_flags'")
        }
        var creation = Creation(label: check.node, value: nil, after: nil, before: nil)
        if let c = m["create"] {
            let cm = try c.mapping(allowed: ["label", "value", "after", "before"])
            creation = Creation(
                label: try cm["label"]?.string() ?? check.node,
                value: try cm["value"].map(oneLine),
                after: try cm["after"]?.string(),
                before: try cm["before"]?.string())
        }
        guard creation.label.range(of: #"^[^/\[\]()=\s]+$"#, options: .regularExpression) != nil else {
            throw value.error("cannot create a node from '\(creation.label)': give fix.create.label")
        }
        return Fix(operation: operation, initial: try m["initial"].map(oneLineEach) ?? [], create: creation)
    }

    /// A value the fix writes into a file: one line of printable text, so that it cannot add
    /// lines of its own to the configuration.
    private static func oneLine(_ value: YAMLValue) throws -> String {
        let text = try value.string()
        if let bad = text.unicodeScalars.first(where: { $0.value < 0x20 || $0.value == 0x7F }) {
            throw value.error("a value to write must be one line of text; this one holds U+\(String(format: "%04X", bad.value))")
        }
        return text
    }

    private static func oneLineEach(_ value: YAMLValue) throws -> [String] {
        if case .scalar = value.node { return [try oneLine(value)] }
        return try value.sequence().map(oneLine)
    }
}
