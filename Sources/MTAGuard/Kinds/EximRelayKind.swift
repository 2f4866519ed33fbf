/// The `exim-relay` kind: whether exim relays for everyone (`EximRelay`), judged by running its
/// RCPT ACL for an outside, unauthenticated client and an outside domain, and closed with the
/// smallest edit an admin would make: the items that stand for everyone (`*`, `0.0.0.0/0`,
/// `::/0`) taken out of the list that let the client or the domain through — the accept's own
/// `hosts =`, the named list it names (`hostlist relay_from_hosts`, `domainlist
/// relay_to_domains`) or the macro that list is made of. Nothing else is removed. A list left
/// empty of hosts becomes the local host (`127.0.0.1`, `::1`); of domains, no domain.
///
///     - kind: exim-relay
///       mta: exim
///       file: /etc/exim4/exim4.conf
///       validate: { before_replace: [exim4, -C, "{file}", -bV] }
///       after: { service: exim, action: reload }
///
/// Debian's exim4 without exim4.conf runs the file update-exim4.conf builds (`generated_by`):
/// that built file is judged, as exim reads it. The relay networks and domains there come from
/// debconf's `dc_relay_nets` and `dc_relay_domains` in update-exim4.conf.conf (the tool writes
/// them into `MAIN_RELAY_NETS` and `MAIN_RELAY_TO_DOMAINS`): where the world is there, it is
/// taken out of that setting (Shellvars lens) and the tool builds the file again; the world
/// anywhere else in conf.d is said and left to the admin.
struct EximRelayTarget: TargetKind, Equatable {
    static let name = "exim-relay"
    static let keys: Set<String> = ["mta", "file", "validate", "after", "generated_by"]
    static let lens = "Exim.lns"

    var mta: String
    var file: String
    var validateBefore: Validation?
    var validateAfter: Validation?
    var after: ServiceStep?
    /// The file is built by Debian's update-exim4.conf.
    var generatedBy: DebianEximSources?

    var fetch: Fetch { .contents(lens: Self.lens) }
    var alsoReads: [String] { generatedBy.map { [$0.settings, $0.override] } ?? [] }

    static let settingsLens = "Shellvars.lns"

    static func parse(_ m: [String: YAMLValue], in value: YAMLValue) throws -> EximRelayTarget {
        let t = try PlaybookLoader.fileTarget(m, in: value, mtas: ["exim"])
        return EximRelayTarget(
            mta: t.mta, file: t.file, validateBefore: t.before, validateAfter: t.after, after: t.step,
            generatedBy: try DebianEximSources.parse(m, in: value))
    }

    func judge(item: String, in plan: inout Planner.Build) throws -> Evidence {
        if let generatedBy { return try judgeGenerated(generatedBy, item: item, in: &plan) }
        guard plan.facts.files[file] ?? nil != nil, let tree = try plan.tree(file, lens: Self.lens, mta: mta) else {
            return Evidence(
                mta: mta, file: file, line: nil, text: "(no such file)", status: .notApplicable,
                note: "\(file) is absent: exim is not configured here")
        }
        let (verdict, deciding) = EximRelay.judge(try EximConfigReading([tree]))
        switch verdict.outcome {
        case .closed:
            return Evidence(mta: mta, file: file, line: verdict.line, text: verdict.text ?? "(exim's default)", status: .pass,
                            note: "relaying is closed: " + verdict.reason)
        case .unknown:
            throw MTAGuardError(.unreadableFile, file: verdict.file ?? file, line: verdict.line, "relaying cannot be judged: \(verdict.reason)",
                                hint: "nothing was changed; judge the RCPT ACL by hand")
        case .open:
            break
        }
        var said: [String] = []
        var undo: [(node: String, value: String?)] = []
        if let statement = deciding {
            for v in statement.values where v.name == "hosts" || v.name == "domains" {
                let kind = v.name == "hosts" ? "host" : "domain"
                guard EximRelay.truth(v.name, v.value, lists: try EximConfigReading([tree]).lists) == .yes else { continue }
                said += try neutralize(node: v.node, kind: kind, in: tree, what: "\(v.name) of the accept at line \(statement.line ?? 0)", undo: &undo)
                if EximRelay.judge(try EximConfigReading([tree])).0.outcome != .open { break }
            }
        }
        guard EximRelay.judge(try EximConfigReading([tree])).0.outcome != .open else {
            // Nothing an edit of a list closes (an accept without conditions, verify = recipient
            // alone): the edits made on the way are undone, and it is left to the admin.
            try tree.wrap { for u in undo.reversed() { try tree.augeas.set(u.node, u.value) } }
            return Evidence(mta: mta, file: file, line: verdict.line, text: verdict.text ?? "", status: .fail,
                            note: "relaying is open: " + verdict.reason + "; no list of that accept holds the world to take out: "
                                + "not fixed, restrict the statement by hand")
        }
        plan.changed(file, by: item)
        if let step = self.after, !plan.steps.contains(step) { plan.steps.append(step) }
        plan.validations[file] = (validateBefore, validateAfter)
        return Evidence(mta: mta, file: file, line: verdict.line, text: verdict.text ?? "", status: .fail,
                        note: "relaying is open: " + verdict.reason + "; fix: " + said.joined(separator: "; "))
    }

    /// The built file judged as exim runs it; the world fixed in debconf's setting.
    private func judgeGenerated(_ sources: DebianEximSources, item: String, in plan: inout Planner.Build) throws -> Evidence {
        let facts = plan.facts
        if let unused = sources.unused(file, mta: mta, facts: facts) { return unused }
        guard facts.files[file] ?? nil != nil, let built = try plan.tree(file, lens: Self.lens, mta: mta) else {
            return Evidence(
                mta: mta, file: file, line: nil, text: "(no such file)", status: .notApplicable,
                note: "\(file) is absent: exim is not configured this way")
        }
        let reading = try EximConfigReading([built])
        let (verdict, _) = EximRelay.judge(reading)
        switch verdict.outcome {
        case .closed:
            return Evidence(mta: mta, file: file, line: verdict.line, text: verdict.text ?? "(exim's default)", status: .pass,
                            note: "relaying is closed: " + verdict.reason)
        case .unknown:
            throw MTAGuardError(.unreadableFile, file: file, line: verdict.line, "relaying cannot be judged: \(verdict.reason)",
                                hint: "nothing was changed; judge the RCPT ACL by hand")
        case .open:
            break
        }
        // Which debconf setting holds the world: MAIN_RELAY_NETS is dc_relay_nets, and so on.
        let fields = [("MAIN_RELAY_NETS", "dc_relay_nets", "host"), ("MAIN_RELAY_TO_DOMAINS", "dc_relay_domains", "domain")]
        var said: [String] = []
        if facts.files[sources.settings] ?? nil != nil, let settings = try plan.tree(sources.settings, lens: Self.settingsLens, mta: mta) {
            for (macro, field, kind) in fields {
                guard let value = reading.macroSettings[macro]?.value, EximRelay.withoutWorld(value, kind: kind) != nil,
                      let node = try settings.match(field).last else { continue }
                let raw = try settings.value(node) ?? ""
                var text = raw
                for q in ["'", "\""] where text.count >= 2 && text.hasPrefix(q) && text.hasSuffix(q) { text = String(text.dropFirst().dropLast()) }
                // debconf's lists are separated by ";" (update-exim4.conf turns them into ":").
                guard let stripped = EximRelay.withoutWorld("<; " + text, kind: kind) else { continue }
                let kept = EximRelay.items(stripped).items.joined(separator: " ; ")
                try settings.wrap { try settings.augeas.set(node, "'\(kept)'") }
                plan.changed(sources.settings, by: item)
                said.append("\(field)=\(raw) → '\(kept)' in \(sources.settings) (line \(settings.line(of: node) ?? 0)), and \(DebianEximSources.tool) builds \(file) again")
            }
        }
        guard !said.isEmpty else {
            return Evidence(mta: mta, file: file, line: verdict.line, text: verdict.text ?? "", status: .fail,
                            note: "relaying is open: " + verdict.reason + "; the world is not in dc_relay_nets or dc_relay_domains: "
                                + "not fixed, restrict that statement in its conf.d source by hand")
        }
        if let step = after, !plan.steps.contains(step) { plan.steps.append(step) }
        let build = ResolvedAction(
            service: mta, action: .regenerate, command: [DebianEximSources.tool], probe: nil, inverse: [DebianEximSources.tool])
        if !plan.actions.contains(build) { plan.actions.append(build) }
        return Evidence(mta: mta, file: file, line: verdict.line, text: verdict.text ?? "", status: .fail,
                        note: "relaying is open: " + verdict.reason + "; fix: " + said.joined(separator: "; "))
    }

    /// Takes the world out of the list at `node` and of the named lists and macros it is made
    /// of; says what changed.
    private func neutralize(
        node: String, kind: String, in tree: ConfigTree, what: String, undo: inout [(node: String, value: String?)], depth: Int = 0
    ) throws -> [String] {
        guard depth < 8 else { return [] }
        let reading = try EximConfigReading([tree])
        let original = try tree.value(node)
        let raw = EximConfigReading.logical(original ?? "")
        var said: [String] = []
        if let stripped = EximRelay.withoutWorld(raw, kind: kind) {
            let value = Self.filled(stripped, kind: kind)
            undo.append((node, original))
            try tree.wrap { try tree.augeas.set(node, value) }
            said.append("\(what): '\(raw)' → '\(value)'")
        }
        for item in EximRelay.items(raw).items {
            let name = item.hasPrefix("!") ? String(item.dropFirst()) : item
            if name.hasPrefix("+"), let list = reading.lists[kind + "list " + name.dropFirst()] {
                said += try neutralize(node: list.setting.node, kind: kind, in: tree, what: "\(kind)list \(list.name) (line \(list.setting.line ?? 0))", undo: &undo, depth: depth + 1)
            } else if let macro = reading.macroSettings[name], EximRelay.withoutWorld(macro.value, kind: kind) != nil {
                said += try neutralize(node: macro.node, kind: kind, in: tree, what: "macro \(name) (line \(macro.line ?? 0))", undo: &undo, depth: depth + 1)
            }
        }
        return said
    }

    /// A list emptied of the world: the local host for hosts, no domain for domains.
    static func filled(_ list: String, kind: String) -> String {
        let (sep, items) = EximRelay.items(list)
        guard items.isEmpty else { return list }
        guard kind == "host" else { return ":" }
        return sep == ":" ? "127.0.0.1 : ::::1" : "<\(sep) 127.0.0.1 \(sep) ::1"
    }
}
