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
    var eximConfigs: [String] { generatedBy == nil ? [file] : [] }

    static let settingsLens = "Shellvars.lns"

    static func parse(_ m: [String: YAMLValue], in value: YAMLValue) throws -> EximRelayTarget {
        let t = try PlaybookLoader.fileTarget(m, in: value, mtas: ["exim"])
        return EximRelayTarget(
            mta: t.mta, file: t.file, validateBefore: t.before, validateAfter: t.after, after: t.step,
            generatedBy: try DebianEximSources.parse(m, in: value))
    }

    func judge(item: String, in context: JudgeContext) throws -> Judgement {
        if let generatedBy { return try judgeGenerated(generatedBy, item: item, in: context) }
        guard let snapshot = try context.facts.file(file), let tree = try context.tree(file, lens: Self.lens, mta: mta) else {
            return Judgement(Evidence(
                mta: mta, file: file, line: nil, text: "(no such file)", status: .notApplicable,
                note: "\(file) is absent: exim is not configured here"))
        }
        let reading = try EximConfigReading([tree], includes: EximIncludeSource(context))
        try reading.requireStartable()
        var (verdict, _) = EximRelay.judge(reading)
        if verdict.outcome == .open, let at = verdict.file, at != file {
            verdict.outcome = .unknown
            verdict.reason += "; the statement is in \(at), which \(file) includes: mtaguard does not fix it there, restrict it by hand"
        }
        switch verdict.outcome {
        case .closed:
            return Judgement(Evidence(mta: mta, file: file, line: verdict.line, text: verdict.text ?? "(exim's default)", status: .pass,
                                      note: "relaying is closed: " + verdict.reason))
        case .unknown:
            return Judgement(review(verdict))
        case .open:
            break
        }
        // What the fix would do, tried on a copy of its own: the files as read stay as read.
        let scratch = try TreeStore.parse(snapshot, path: file, lens: Self.lens, mta: mta, host: context.host)
        guard let said = try close(scratch) else {
            return Judgement(open(verdict, "no list of that accept holds the world to take out: not fixed, restrict the statement by hand"))
        }
        return Judgement(
            open(verdict, "fix: " + said.joined(separator: "; ")),
            remedy: Remedy { plan in
                guard let tree = try plan.tree(file, lens: Self.lens, mta: mta) else { throw MTAGuardError(file: file, "is absent") }
                plan.changed(file, by: item)
                guard try close(tree) != nil else {
                    throw MTAGuardError(.failed, file: file, "closing the relay did not close it", hint: "nothing was changed; restrict the RCPT ACL by hand")
                }
                plan.after(after)
                plan.validations[file] = (validateBefore, validateAfter)
            })
    }

    /// 취약: relaying is open, for `verdict`'s reason; `then` says what the fix does.
    private func open(_ verdict: EximRelay.Verdict, _ then: String) -> Evidence {
        Evidence(mta: mta, file: file, line: verdict.line, text: verdict.text ?? "", status: .fail,
                 note: "relaying is open: " + verdict.reason + "; " + then)
    }

    /// 수동 확인: the RCPT ACL depends on more than an outside client can choose and mtaguard
    /// reads (a lookup, a DNS list, a run-time expansion, an included file): a person decides.
    private func review(_ verdict: EximRelay.Verdict) -> Evidence {
        Evidence(
            mta: mta, file: verdict.file ?? file, line: verdict.line, text: verdict.text ?? "", status: .review,
            note: "relaying cannot be decided from the configuration: \(verdict.reason); look at the RCPT ACL (acl_smtp_rcpt) by hand, "
                + "or try it from an outside address (exim -bh 192.0.2.1, or check --smtp-port from outside the host's networks)")
    }

    /// Takes the world out of the lists that let the deciding accept through in `tree`, until
    /// relaying is closed; what it changed, in words. Nil, with the tree as it was, where no
    /// edit of a list closes it (an accept without conditions, verify = recipient alone).
    private func close(_ tree: ConfigTree) throws -> [String]? {
        let (verdict, deciding) = EximRelay.judge(try EximConfigReading([tree]))
        guard verdict.outcome == .open else { return [] }
        var said: [String] = []
        var undo: [(node: String, value: String?)] = []
        if let statement = deciding {
            for v in statement.values where v.name == "hosts" || v.name == "domains" {
                let kind = v.name == "hosts" ? "host" : "domain"
                guard !v.negated, EximRelay.matches(v.value, kind: kind, lists: try EximConfigReading([tree]).lists) == .yes else { continue }
                said += try neutralize(node: v.node, kind: kind, in: tree, what: "\(v.name) of the accept at line \(statement.line ?? 0)", undo: &undo)
                if EximRelay.judge(try EximConfigReading([tree])).0.outcome != .open { break }
            }
        }
        guard EximRelay.judge(try EximConfigReading([tree])).0.outcome != .open else {
            try tree.wrap { for u in undo.reversed() { try tree.augeas.set(u.node, u.value) } }
            return nil
        }
        return said
    }

    /// The built file judged as exim runs it; the world fixed in debconf's setting.
    private func judgeGenerated(_ sources: DebianEximSources, item: String, in context: JudgeContext) throws -> Judgement {
        let facts = context.facts
        if let unused = try sources.unused(file, mta: mta, facts: facts) { return Judgement(unused) }
        guard (try facts.exists(file)), let built = try context.tree(file, lens: Self.lens, mta: mta) else {
            return Judgement(Evidence(
                mta: mta, file: file, line: nil, text: "(no such file)", status: .notApplicable,
                note: "\(file) is absent: exim is not configured this way"))
        }
        let reading = try EximConfigReading([built])
        let (verdict, _) = EximRelay.judge(reading)
        switch verdict.outcome {
        case .closed:
            return Judgement(Evidence(mta: mta, file: file, line: verdict.line, text: verdict.text ?? "(exim's default)", status: .pass,
                                      note: "relaying is closed: " + verdict.reason))
        case .unknown:
            return Judgement(review(verdict))
        case .open:
            break
        }
        // What the fix would do, tried on a copy of debconf's settings: the files as read stay as read.
        var said: [String] = []
        if let snapshot = try facts.file(sources.settings) {
            let scratch = try TreeStore.parse(snapshot, path: sources.settings, lens: Self.settingsLens, mta: mta, host: context.host)
            said = try takeOutWorld(reading, sources: sources, settings: scratch)
        }
        guard !said.isEmpty else {
            return Judgement(open(verdict, "the world is not in dc_relay_nets or dc_relay_domains: not fixed, restrict that statement in its conf.d source by hand"))
        }
        return Judgement(
            open(verdict, "fix: " + said.joined(separator: "; ")),
            remedy: Remedy { plan in
                guard let settings = try plan.tree(sources.settings, lens: Self.settingsLens, mta: mta) else {
                    throw MTAGuardError(file: sources.settings, "is absent")
                }
                _ = try takeOutWorld(reading, sources: sources, settings: settings)
                plan.changed(sources.settings, by: item)
                plan.after(after)
                plan.act(DebianEximSources.build)
            })
    }

    /// Takes the world out of debconf's relay settings in `settings` where the built file's
    /// macros have it; what it changed, in words.
    private func takeOutWorld(_ reading: EximConfigReading, sources: DebianEximSources, settings: ConfigTree) throws -> [String] {
        // Which debconf setting holds the world: MAIN_RELAY_NETS is dc_relay_nets, and so on.
        let fields = [("MAIN_RELAY_NETS", "dc_relay_nets", "host"), ("MAIN_RELAY_TO_DOMAINS", "dc_relay_domains", "domain")]
        var said: [String] = []
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
            said.append("\(field)=\(raw) → '\(kept)' in \(sources.settings) (line \(settings.line(of: node) ?? 0)), and \(DebianEximSources.tool) builds \(file) again")
        }
        return said
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
