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
    /// (they have no `targets`, `version` or `listening`, such as a knowledge base) are skipped.
    public static func loadAll(folder: String) throws -> [Playbook] {
        let names: [String]
        do {
            names = try FileManager.default.contentsOfDirectory(atPath: folder)
        } catch {
            throw MTAGuardError(.invalidInput, file: folder, "cannot list the playbooks folder", hint: "pass --playbooks DIR or set MTAGUARD_PLAYBOOKS; without either, mtaguard looks in \(Resources.playbooksSearched)")
        }
        var books: [Playbook] = []
        var seen: [String: String] = [:]
        for name in names.sorted() where name.hasSuffix(".yaml") || name.hasSuffix(".yml") {
            let path = (folder as NSString).appendingPathComponent(name)
            let value = try YAMLValue.load(file: path)
            guard case .mapping(let m) = value.node, m.keys.contains(where: { ["targets", "version", "listening"].contains($0.string) }) else {
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
            "id", "aliases", "schemes", "title", "title_en", "description", "description_en", "severity", "references", "applies_to", "targets", "when_not_needed",
            "version", "verify", "listening",
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
            versionOf = try vm.required("mtas", in: v).sequence().map { try $0.oneOf(MTACatalog.names) }
            knowledge = try vm.required("knowledge", in: v).string()
        }
        var smtpRefuses: [String] = []
        var bannerHidesVersion = false
        if let v = top["verify"] {
            let vm = try v.mapping(allowed: ["smtp"])
            let sm = try vm.required("smtp", in: v).mapping(allowed: ["vrfy", "expn", "relay", "banner"])
            if let banner = sm["banner"] { bannerHidesVersion = try banner.oneOf(["no_version"]) == "no_version" }
            for (command, value) in sm.sorted(by: { $0.key < $1.key }) where command != "banner" {
                guard try value.oneOf(["refused", "allowed"]) == "refused" else { continue }
                smtpRefuses.append(command)
            }
        }
        var listensOn: UInt16?
        var listeningMTAs: [String] = []
        if let v = top["listening"] {
            let lm = try v.mapping(allowed: ["port", "mtas"])
            let portValue = try lm.required("port", in: v)
            guard let port = UInt16(try portValue.string()), port != 0 else {
                throw portValue.error("'\(try portValue.string())' is not a TCP port (1-65535)")
            }
            listensOn = port
            listeningMTAs = try lm.required("mtas", in: v).sequence().map { try $0.oneOf(MTACatalog.names) }
        }
        let targets = try top["targets"]?.sequence().map(parseTarget) ?? []
        guard !targets.isEmpty || !versionOf.isEmpty || listensOn != nil else {
            throw root.error("an item needs targets (files to judge), version (MTAs whose version to judge) or listening (a port and the MTAs that may listen on it)")
        }
        var whenNotNeeded: [ServiceAction] = [.stop, .disable]
        if let w = top["when_not_needed"] {
            let wm = try w.mapping(allowed: ["actions"])
            whenNotNeeded = try (wm.required("actions", in: w).sequence()).map {
                ServiceAction(rawValue: try $0.oneOf(ServiceAction.playbookCases.map(\.rawValue)))!
            }
        }
        var schemes: [Playbook.Scheme: String] = [:]
        if let s = top["schemes"] {
            for (key, value) in try s.mapping(allowed: Set(Playbook.Scheme.allCases.map(\.rawValue))) {
                schemes[Playbook.Scheme(rawValue: key)!] = try value.string()
            }
        }
        var book = Playbook(
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
        book.schemes = schemes
        book.description = try top["description"]?.string()
        book.descriptionEnglish = try top["description_en"]?.string()
        book.listensOn = listensOn
        book.smtpBannerHidesVersion = bannerHidesVersion
        book.listeningMTAs = listeningMTAs
        return book
    }

    /// One entry of `targets`, read by the kind it names (`setting` when it names none).
    private static func parseTarget(_ value: YAMLValue) throws -> any TargetKind {
        let entry = try value.mapping()
        let name = try entry["kind"]?.string() ?? Target.name
        guard let kind = TargetKinds.named(name) else {
            throw entry["kind"]!.error("unknown kind '\(name)' (known: \(TargetKinds.all.map { $0.name }.joined(separator: ", ")))")
        }
        let checked = try value.mapping(allowed: kind.keys.union(["kind"]))
        return try kind.parse(checked, in: value)
    }

    /// The keys every kind that judges one MTA's file reads the same way: `mta` (one of
    /// `mtas`), `file`, `validate` and `after`.
    static func fileTarget(
        _ m: [String: YAMLValue], in value: YAMLValue, mtas: [String]
    ) throws -> (mta: String, file: String, before: Validation?, after: Validation?, step: ServiceStep?) {
        let (before, after) = try validations(m["validate"])
        return (try m.required("mta", in: value).oneOf(mtas), try absolutePath(m, "file", in: value),
                before, after, try serviceStep(m["after"]))
    }

    /// An entry's `validate`: the commands that check a new file before and after it replaces
    /// the old one.
    static func validations(_ value: YAMLValue?) throws -> (before: Validation?, after: Validation?) {
        guard let v = value else { return (nil, nil) }
        let vm = try v.mapping(allowed: ["before_replace", "after_replace", "reject_output", "staged_with", "backdate_seconds"])
        let reject = try vm["reject_output"]?.string()
        if let reject, (try? NSRegularExpression(pattern: reject)) == nil {
            throw vm["reject_output"]!.error("'\(reject)' is not a valid regular expression")
        }
        var staged: [String] = []
        if let w = vm["staged_with"] {
            staged = try w.strings()
            if let bad = staged.first(where: { $0.isEmpty || $0 == "." || $0 == ".." || $0.contains("/") }) {
                throw w.error("'\(bad)' is not a file name in the target's folder")
            }
        }
        var backdate = 0
        if let b = vm["backdate_seconds"] {
            guard let n = Int(try b.string()), (1...59).contains(n) else { throw b.error("'backdate_seconds' takes a whole number from 1 to 59") }
            backdate = n
        }
        let before = try vm["before_replace"].map {
            Validation(argv: try command($0), rejectOutput: reject, stagedWith: staged, backdate: backdate)
        }
        let after = try vm["after_replace"].map {
            Validation(argv: try command($0), rejectOutput: reject, stagedWith: staged, backdate: backdate)
        }
        if let a = after, a.stages {
            throw vm["after_replace"]!.error("'{dir}' is a staging folder for before_replace; after the replace the file is in its own folder")
        }
        if !staged.isEmpty, before?.stages != true {
            throw vm["staged_with"]!.error("'staged_with' needs a before_replace command that reads '{dir}'")
        }
        return (before, after)
    }

    /// An entry's `after`: the service step that follows a change of its file.
    static func serviceStep(_ value: YAMLValue?) throws -> ServiceStep? {
        guard let a = value else { return nil }
        let am = try a.mapping(allowed: ["service", "action"])
        let action = try am.required("action", in: a).oneOf(ServiceAction.playbookCases.map(\.rawValue))
        return ServiceStep(service: try am.required("service", in: a).string(), action: ServiceAction(rawValue: action)!)
    }

    /// A command line from a playbook: a program name and its arguments.
    static func command(_ value: YAMLValue) throws -> [String] {
        let argv = try value.strings()
        guard let first = argv.first, !first.isEmpty else { throw value.error("a command needs a program name") }
        return argv
    }

    /// An entry's file: an absolute path without `..`.
    static func absolutePath(_ m: [String: YAMLValue], _ key: String, in value: YAMLValue) throws -> String {
        let file = try m.required(key, in: value).string()
        guard file.hasPrefix("/"), !file.contains("/../"), !file.hasSuffix("/..") else {
            throw m[key]!.error("'\(file)' must be an absolute path without '..'")
        }
        return file
    }

    /// A value the fix writes into a file: one line of printable text, so that it cannot add
    /// lines of its own to the configuration.
    static func oneLine(_ value: YAMLValue) throws -> String {
        let text = try value.string()
        if let bad = text.unicodeScalars.first(where: { $0.value < 0x20 || $0.value == 0x7F }) {
            throw value.error("a value to write must be one line of text; this one holds U+\(String(format: "%04X", bad.value))")
        }
        return text
    }

    static func oneLineEach(_ value: YAMLValue) throws -> [String] {
        if case .scalar = value.node { return [try oneLine(value)] }
        return try value.sequence().map(oneLine)
    }
}
