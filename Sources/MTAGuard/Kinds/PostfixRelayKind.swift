/// The `postfix-relay` kind: whether postfix relays for outside clients, judged from main.cf as
/// postfix decides RCPT TO (`PostfixRelay`), and closed with the smallest edit an admin would
/// make: the world taken out of mynetworks, `reject_unauth_destination` put where the relay
/// list needs it. Networks a site configured on purpose (whole private ranges) stay, and the
/// finding says so. The tables and mynetworks files main.cf names come with the facts
/// (`FactsRequest.postfixTables`, `PostfixAccessTable`); a table is never edited.
///
///     - kind: postfix-relay
///       mta: postfix
///       file: /etc/postfix/main.cf
///       validate: { after_replace: [postfix, check] }
///       after: { service: postfix, action: reload }
struct PostfixRelayTarget: TargetKind, Equatable {
    static let name = "postfix-relay"
    static let keys: Set<String> = ["mta", "file", "validate", "after"]
    static let lens = PostfixValue.lens

    var mta: String
    var file: String
    var validateBefore: Validation?
    var validateAfter: Validation?
    var after: ServiceStep?

    var fetch: Fetch { .contents(lens: Self.lens) }

    static func parse(_ m: [String: YAMLValue], in value: YAMLValue) throws -> PostfixRelayTarget {
        let t = try PlaybookLoader.fileTarget(m, in: value, mtas: ["postfix"])
        return PostfixRelayTarget(mta: t.mta, file: t.file, validateBefore: t.before, validateAfter: t.after, after: t.step)
    }

    /// The relay parameters main.cf sets, and the line of each.
    static func read(_ tree: ConfigTree, tables: PostfixTableFacts? = nil, version: String? = nil) throws -> (PostfixRelay.Settings, [String: Int]) {
        var values: [String: String] = [:], lines: [String: Int] = [:]
        for name in PostfixRelay.Settings.names {
            guard let node = try tree.match(name).last else { continue }
            values[name] = PostfixValue.read(try tree.value(node) ?? "")
            lines[name] = tree.line(of: node)
        }
        var s = PostfixRelay.Settings(
            relay: values["smtpd_relay_restrictions"], recipient: values["smtpd_recipient_restrictions"],
            mynetworks: values["mynetworks"], style: values["mynetworks_style"], compatibility: values["compatibility_level"])
        for name in ["smtpd_restriction_classes", "config_directory"] {
            guard let node = try tree.match(name).last else { continue }
            let value = PostfixValue.read(try tree.value(node) ?? "")
            if name == "config_directory" { s.configDirectory = value; continue }
            for c in PostfixRelay.words(value) where !c.contains(":") {
                if let body = try tree.match(c).last { s.classes[c] = PostfixValue.read(try tree.value(body) ?? "") }
            }
        }
        s.tables = tables
        s.version = version ?? tables?.imageVersion
        s.versionSource = version != nil ? "the host's postfix, asked for U-45" : tables?.imageVersionSource
        return (s, lines)
    }

    func judge(item: String, in context: JudgeContext) throws -> Judgement {
        guard (try context.facts.exists(file)), let tree = try context.tree(file, lens: Self.lens, mta: mta) else {
            return Judgement(Evidence(
                mta: mta, file: file, line: nil, text: "(no such file)", status: .notApplicable,
                note: "\(file) is absent: postfix is not configured here"))
        }
        let (settings, lines) = try Self.read(tree, tables: context.facts.postfixTables, version: context.facts.versions["postfix"]?.version)
        let verdict = try PostfixRelay.judge(settings)
        // The line that decides: the relay list where main.cf sets it, else mynetworks.
        let line = lines["smtpd_relay_restrictions"] ?? lines["mynetworks"] ?? lines["smtpd_recipient_restrictions"]
        let text = tree.sourceLine(line) ?? "(postfix's defaults)"
        if verdict.review {
            return Judgement(Evidence(mta: mta, file: file, line: line, text: text, status: .review, note: "relaying cannot be decided from main.cf: " + verdict.note))
        }
        guard verdict.open else {
            return Judgement(Evidence(mta: mta, file: file, line: line, text: text, status: .pass, note: "relaying is closed: " + verdict.note))
        }
        let (changes, said) = try PostfixRelay.fix(settings)
        let evidence = Evidence(
            mta: mta, file: file, line: line, text: text, status: .fail,
            note: "relaying is open: " + verdict.note + (said.isEmpty ? "" : "; fix: " + said.joined(separator: "; ")))
        guard !changes.isEmpty else { return Judgement(evidence) }
        return Judgement(evidence, remedy: Remedy { plan in try fix(in: &plan, item: item) })
    }

    /// Closes relaying in the composed main.cf, from what it says now.
    private func fix(in plan: inout Planner.Build, item: String) throws {
        guard let tree = try plan.tree(file, lens: Self.lens, mta: mta) else { throw MTAGuardError(file: file, "is absent") }
        let (settings, _) = try Self.read(tree, tables: plan.facts.postfixTables, version: plan.facts.versions["postfix"]?.version)
        guard try PostfixRelay.judge(settings).open else { return plan.changed(file, by: item) }
        let (changes, _) = try PostfixRelay.fix(settings)
        if !changes.isEmpty {
            try tree.wrap {
                for (name, value) in changes {
                    if let node = try tree.match(name).last {
                        try tree.augeas.set(node, value)
                    } else {
                        try tree.augeas.set(tree.path + "/" + name + "[last()+1]", value)
                    }
                }
            }
            let (fixedSettings, _) = try Self.read(tree, tables: plan.facts.postfixTables, version: plan.facts.versions["postfix"]?.version)
            let fixed = try PostfixRelay.judge(fixedSettings)
            if fixed.open && fixed.privateNetworks.isEmpty {
                throw MTAGuardError(.failed, file: file, "closing the relay did not close it: \(fixed.note)", hint: "nothing was changed; report this main.cf")
            }
            plan.changed(file, by: item)
            plan.after(after)
            plan.validations[file] = (validateBefore, validateAfter)
        }
    }
}
