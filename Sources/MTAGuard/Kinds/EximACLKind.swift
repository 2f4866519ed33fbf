/// The `exim-acl` kind: whether exim answers SMTP commands (VRFY, EXPN), judged from its run
/// time configuration the way exim decides it (`EximACL`: `acl_smtp_vrfy` / `acl_smtp_expn`
/// unset means deny, `= accept` allows, a named ACL is followed to its first deciding
/// statement), and fixed by commenting out the line that lets a command through, as the guide
/// says, with exim's own check of the new file and a reload.
///
///     - kind: exim-acl
///       mta: exim
///       file: /etc/exim4/exim4.conf
///       refuse: [vrfy, expn]
///       validate: { before_replace: [exim4, -C, "{file}", -bV] }
///       after: { service: exim, action: reload }
struct EximACLTarget: TargetKind, Equatable {
    static let name = "exim-acl"
    static let keys: Set<String> = ["mta", "file", "refuse", "validate", "after"]
    static let lens = "Exim.lns"

    var mta: String
    var file: String
    var refuse: [EximSMTPCommand]
    var validateBefore: Validation?
    var validateAfter: Validation?
    var after: ServiceStep?

    var fetch: Fetch { .contents(lens: Self.lens) }

    static func parse(_ m: [String: YAMLValue], in value: YAMLValue) throws -> EximACLTarget {
        let refuse = try m.required("refuse", in: value).sequence().map {
            EximSMTPCommand(rawValue: try $0.oneOf(EximSMTPCommand.allCases.map(\.rawValue)))!
        }
        let (before, after) = try PlaybookLoader.validations(m["validate"])
        return EximACLTarget(
            mta: try m.required("mta", in: value).oneOf(["exim"]),
            file: try PlaybookLoader.absolutePath(m, "file", in: value), refuse: refuse,
            validateBefore: before, validateAfter: after, after: try PlaybookLoader.serviceStep(m["after"]))
    }

    func judge(item: String, in plan: inout Planner.Build) throws -> Evidence {
        guard plan.facts.files[file] ?? nil != nil, let parsed = plan.trees[file] else {
            return Evidence(
                mta: mta, file: file, line: nil, text: "(no such file)", status: .notApplicable,
                note: "\(file) is absent: exim is not configured here")
        }
        let tree = try parsed.get()
        let verdicts = try refuse.map { try EximACL.judge($0, in: [tree]) }
        if let unknown = verdicts.first(where: { $0.allows == nil }) {
            throw MTAGuardError(.unreadableFile, file: file, line: unknown.line, "\(unknown.command.rawValue.uppercased()): \(unknown.reason)")
        }
        let allowed = verdicts.filter { $0.allows == true }
        let deciding = allowed.first ?? verdicts.first
        let note = verdicts.map { "\($0.command.rawValue.uppercased()) \($0.allows == true ? "answered" : "refused"): \($0.reason)" }
            .joined(separator: "; ")
        guard !allowed.isEmpty else {
            return Evidence(mta: mta, file: file, line: deciding?.line, text: deciding?.text ?? "(exim's default)", status: .pass, note: note)
        }
        try EximACL.commentOut(allowed.map(\.command), in: [tree])
        if !(plan.changedItems[file] ?? []).contains(item) { plan.changedItems[file, default: []].append(item) }
        if let step = after, !plan.steps.contains(step) { plan.steps.append(step) }
        plan.validations[file] = (validateBefore, validateAfter)
        return Evidence(
            mta: mta, file: file, line: deciding?.line, text: deciding?.text ?? "", status: .fail,
            note: note + "; the line that lets it through is commented out")
    }
}
