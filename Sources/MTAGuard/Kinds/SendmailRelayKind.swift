/// The `sendmail-relay` kind: whether sendmail relays for everyone (`SendmailRelay`).
/// On sendmail.cf (what sendmail runs): the check_rcpt rule set must end in the rule that
/// refuses what no relay check allowed (`R$*  $#error $@ 5.7.1 $: "550 Relaying denied"`); a
/// commented-out one is put back, as the guide says. On sendmail.mc (advisory: m4 builds the
/// cf from it): no `FEATURE(`promiscuous_relay')`, removed when there, so that the next
/// rebuild does not open relaying again.
///
///     - kind: sendmail-relay
///       mta: sendmail
///       file: /etc/mail/sendmail.cf
///       validate: { before_replace: [sendmail, -bt, -C, "{file}"], reject_output: "line [0-9]+: " }
///       after: { service: sendmail, action: restart }
///     - kind: sendmail-relay
///       mta: sendmail
///       file: /etc/mail/sendmail.mc
///       source: true
struct SendmailRelayTarget: TargetKind, Equatable {
    static let name = "sendmail-relay"
    static let keys: Set<String> = ["mta", "file", "source", "validate", "after"]

    var mta: String
    var file: String
    /// The m4 source (.mc) rather than the cf: advisory.
    var source: Bool
    var validateBefore: Validation?
    var validateAfter: Validation?
    var after: ServiceStep?

    var lens: String { source ? "Sendmail_Mc.lns" : "Sendmail_Cf.lns" }
    var fetch: Fetch { .contents(lens: lens) }
    var advisory: Bool { source }

    static func parse(_ m: [String: YAMLValue], in value: YAMLValue) throws -> SendmailRelayTarget {
        let t = try PlaybookLoader.fileTarget(m, in: value, mtas: ["sendmail"])
        return SendmailRelayTarget(
            mta: t.mta, file: t.file, source: try m["source"]?.bool() ?? false,
            validateBefore: t.before, validateAfter: t.after, after: t.step)
    }

    func judge(item: String, in context: JudgeContext) throws -> Judgement {
        guard (try context.facts.exists(file)), let tree = try context.tree(file, lens: lens, mta: mta) else {
            return Judgement(Evidence(
                mta: mta, file: file, line: nil, text: "(no such file)", status: .notApplicable, advisory: advisory,
                note: "\(file) is absent: sendmail is not configured here"))
        }
        return source ? try judgeSource(tree, item: item) : try judgeCf(tree, item: item, access: context.facts.sendmailAccess)
    }

    /// Every node of the tree in order, with its line: comments by their text.
    private func lines(_ tree: ConfigTree) throws -> [(node: String, line: SendmailRelay.Line)] {
        try tree.match("*").compactMap { node in
            let label = try tree.wrap { try tree.augeas.label(node) } ?? ""
            guard label == "#comment" || label == "@line", let text = try tree.value(node), let n = tree.line(of: node) else { return nil }
            return (node, SendmailRelay.Line(number: n, text: text, comment: label == "#comment"))
        }
    }

    private func judgeCf(_ tree: ConfigTree, item: String, access facts: PostfixTableFacts?) throws -> Judgement {
        let nodes = try lines(tree)
        switch SendmailRelay.judge(nodes.map(\.line)) {
        case .closed(let line, let text):
            let sender = SendmailRelay.senderRelay(nodes.map(\.line))
            if let sender, case .localSender = sender { return judgeSenderRelay(sender) }
            let active = nodes.map(\.line).filter { !$0.comment }.map { (number: $0.number, text: $0.text) }
            let access = SendmailAccessMap.judge(cf: active, cfFile: file, facts: facts, mailFrom: sender != nil)
            if let judged = judgeAccess(access, mappedSender: sender) { return judged }
            let limited = access.limited.isEmpty ? "" : "; " + access.limited.joined(separator: "; ")
            return Judgement(Evidence(
                mta: mta, file: file, line: line, text: text, status: .pass,
                note: "relaying is closed: the check_rcpt rules refuse every recipient no relay check allowed" + limited))
        case .commentedOut(let line, let text):
            return Judgement(
                Evidence(
                    mta: mta, file: file, line: line, text: text, status: .fail,
                    note: "relaying is open: the rule that refuses what no relay check allowed is commented out; fix: uncomment it"),
                remedy: Remedy { plan in try uncomment(in: &plan, item: item) })
        case .noDenyRule(let ruleset, let line, let promiscuous):
            let why = promiscuous ? "built with FEATURE(`promiscuous_relay')" : "edited by hand"
            return Judgement(Evidence(
                mta: mta, file: file, line: line, text: "S\(ruleset)", status: .fail,
                note: "relaying is open: the \(ruleset) rule set has no rule that refuses other recipients (\(why)); "
                    + "not fixed in the cf: remove the feature from the .mc, rebuild sendmail.cf from it with m4 and restart sendmail"))
        case .noRuleset:
            return Judgement(Evidence(
                mta: mta, file: file, line: nil, text: "(no check_rcpt rule set)", status: .fail,
                note: "relaying is open: a sendmail.cf without check_rcpt is sendmail's before 8.9, which relays for everyone; "
                    + "upgrade sendmail (U-45) and build its cf from a .mc"))
        }
    }

    /// What the access map and class R open (`SendmailAccessMap`), though the deny rule is in
    /// place; nil when they let no outside client relay. Never fixed: mtaguard does not edit the map.
    private func judgeAccess(_ access: SendmailAccessMap.Judged, mappedSender: SendmailRelay.SenderRelay?) -> Judgement? {
        let manual = "not fixed automatically: mtaguard never edits the access map or class R; remove or narrow the entry, rebuild the map with makemap and restart sendmail"
        let more = { (n: Int) in n > 1 ? " (and \(n - 1) more such entr\(n > 2 ? "ies" : "y"))" : "" }
        if let o = access.opens.first {
            return Judgement(Evidence(
                mta: mta, file: o.file, line: o.line, text: o.text, status: .fail,
                note: "relaying is open: \(o.note)\(more(access.opens.count)); \(manual)"))
        }
        if let o = access.opensPrivate.first {
            return Judgement(Evidence(
                mta: mta, file: o.file, line: o.line, text: o.text, status: .fail,
                note: "relaying is open to a whole private range: \(o.note)\(more(access.opensPrivate.count)); \(manual)"))
        }
        guard !access.review.isEmpty else { return nil }
        if let mappedSender { return judgeSenderRelay(mappedSender, unread: access.review.joined(separator: "; ")) }
        return Judgement(Evidence(
            mta: mta, file: file, line: nil, text: "(access map / class R)", status: .review,
            note: "the check_rcpt rules refuse what no relay check allowed, but whether the access map or class R lets outside clients relay could not be established: "
                + access.review.joined(separator: "; ")))
    }

    /// Relaying that the client's own sender opens, though the deny rule is in place.
    private func judgeSenderRelay(_ sender: SendmailRelay.SenderRelay, unread: String = "") -> Judgement {
        let rebuild = "not fixed in the cf: remove the feature from the .mc (mtaguard does, where the .mc is a target), rebuild sendmail.cf from it with m4 and restart sendmail"
        switch sender {
        case .localSender(let line, let text):
            return Judgement(Evidence(
                mta: mta, file: file, line: line, text: text, status: .fail,
                note: "relaying is open: this rule (FEATURE(`relay_local_from')) relays for any client whose MAIL FROM is at one of this host's names (class w), "
                    + "and the sender is the client's to choose; \(rebuild)"))
        case .mappedSender(let line, let text):
            return Judgement(Evidence(
                mta: mta, file: file, line: line, text: text, status: .review,
                note: "relaying is open to any client that gives a sender the access map says RELAY for (FEATURE(`relay_mail_from')): the sender is the client's to choose; "
                    + "the map could not be read: \(unread); look at its From: entries with RELAY (makemap -u hash /etc/mail/access), and remove the feature unless it has none"))
        }
    }

    /// Puts the commented-out deny rule of the composed cf back.
    private func uncomment(in plan: inout Planner.Build, item: String) throws {
        guard let tree = try plan.tree(file, lens: lens, mta: mta) else { throw MTAGuardError(file: file, "is absent") }
        let nodes = try lines(tree)
        plan.changed(file, by: item)
        guard case .commentedOut(let line, let text) = SendmailRelay.judge(nodes.map(\.line)) else { return }
        guard let node = nodes.first(where: { $0.line.number == line && $0.line.comment })?.node else {
            throw MTAGuardError(.failed, file: file, line: line, "the commented-out rule was not found again")
        }
        try tree.wrap {
            // The value first: after the rename the node's path changes.
            try tree.augeas.set(node, String(text.dropFirst()))
            _ = try tree.augeas.rename(node, to: "@line")
        }
        guard case .closed = SendmailRelay.judge(try lines(tree).map(\.line)) else {
            throw MTAGuardError(.failed, file: file, line: line, "putting back the deny rule did not close relaying", hint: "nothing was changed")
        }
        plan.after(after)
        plan.validations[file] = (validateBefore, validateAfter)
    }

    private func judgeSource(_ tree: ConfigTree, item: String) throws -> Judgement {
        let open = try openingFeatures(tree)
        if let first = open.first {
            let name = SendmailRelay.isPromiscuousFeature(first.line.text) ? "promiscuous_relay" : "relay_local_from"
            let whom = name == "promiscuous_relay" ? "everyone" : "any client whose MAIL FROM is at one of this host's names (the sender is the client's to choose)"
            return Judgement(
                Evidence(
                    mta: mta, file: file, line: first.line.number, text: first.line.text, status: .fail, advisory: true,
                    note: "FEATURE(`\(name)') builds a cf that relays for \(whom); fix: "
                        + (open.count > 1 ? "these \(open.count) lines are" : "the line is") + " removed, so the next m4 rebuild denies relaying"),
                remedy: Remedy { plan in
                    guard let tree = try plan.tree(file, lens: lens, mta: mta) else { throw MTAGuardError(file: file, "is absent") }
                    let open = try openingFeatures(tree)
                    try tree.wrap { for entry in open.reversed() { _ = try tree.augeas.remove(entry.node) } }
                    plan.changed(file, by: item)
                })
        }
        if let mapped = try lines(tree).first(where: { !$0.line.comment && SendmailRelay.senderFeature($0.line.text) == "relay_mail_from" }) {
            return Judgement(Evidence(
                mta: mta, file: file, line: mapped.line.number, text: mapped.line.text, status: .review, advisory: true,
                note: "FEATURE(`relay_mail_from') builds a cf that relays for any client giving a sender the access map says RELAY for "
                    + "(the sender is the client's to choose); the map's entries are judged on the cf (sendmail.cf), whose Kaccess line names it: look there"))
        }
        return Judgement(Evidence(
            mta: mta, file: file, line: nil, text: "(no FEATURE(`promiscuous_relay'), FEATURE(`relay_local_from') or FEATURE(`relay_mail_from'))",
            status: .pass, advisory: true, note: "m4 builds a cf that denies relaying by default"))
    }

    /// The active lines of a .mc whose FEATURE opens relaying to outside clients:
    /// `promiscuous_relay`, and `relay_local_from` (sendmail's own m4 warns it makes an open relay).
    private func openingFeatures(_ tree: ConfigTree) throws -> [(node: String, line: SendmailRelay.Line)] {
        try lines(tree).filter {
            !$0.line.comment && (SendmailRelay.isPromiscuousFeature($0.line.text) || SendmailRelay.senderFeature($0.line.text) == "relay_local_from")
        }
    }
}
