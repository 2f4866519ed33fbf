/// The `sendmail-greeting` kind: whether sendmail's SMTP greeting tells its version, judged
/// from the greeting as sendmail builds it (`SendmailGreeting`): the last SmtpGreetingMessage
/// option, else the `$e` macro of a cf below version level 7, else sendmail's compiled
/// default. A setting check sees only the option, and so misjudged an old cf whose `De` line
/// greets without a version. The fix sets the (last) SmtpGreetingMessage line, or adds one,
/// to `fix.set`, which must itself tell no version.
///
///     - kind: sendmail-greeting
///       mta: sendmail
///       file: /etc/mail/sendmail.cf
///       fix: { set: "$j $b" }
///       validate: { before_replace: [sendmail, -bt, -C, "{file}"], reject_output: "line [0-9]+: " }
///       after: { service: sendmail, action: restart }
struct SendmailGreetingTarget: TargetKind, Equatable {
    static let name = "sendmail-greeting"
    static let keys: Set<String> = ["mta", "file", "fix", "validate", "after"]

    var mta: String
    var file: String
    /// The greeting the fix writes.
    var greeting: String
    var validateBefore: Validation?
    var validateAfter: Validation?
    var after: ServiceStep?

    var fetch: Fetch { .contents(lens: SettingLine.lens) }

    static func parse(_ m: [String: YAMLValue], in value: YAMLValue) throws -> SendmailGreetingTarget {
        let t = try PlaybookLoader.fileTarget(m, in: value, mtas: ["sendmail"])
        let fix = try m.required("fix", in: value)
        let set = try fix.mapping(allowed: ["set"]).required("set", in: fix)
        let greeting = try PlaybookLoader.oneLine(set)
        let paths = SendmailGreeting.versionPaths(greeting, macros: [:])
        guard paths.isEmpty else { throw set.error("'\(greeting)' tells the version (\(paths.joined(separator: ", "))): not a fix") }
        return SendmailGreetingTarget(
            mta: t.mta, file: t.file, greeting: greeting, validateBefore: t.before, validateAfter: t.after, after: t.step)
    }

    func judge(item: String, in context: JudgeContext) throws -> Judgement {
        guard (try context.facts.exists(file)), let tree = try context.tree(file, lens: SettingLine.lens, mta: mta) else {
            return Judgement(Evidence(
                mta: mta, file: file, line: nil, text: "(no such file)", status: .notApplicable,
                note: "\(file) is absent: sendmail is not configured here"))
        }
        let found = SendmailGreeting.read(try tree.render())
        var evidence = Evidence(mta: mta, file: file, line: found.line, text: found.lineText ?? "(not set)", status: .pass, note: found.account)
        evidence.setting = SendmailGreeting.optionName
        guard found.tellsVersion else { return Judgement(evidence) }
        evidence.status = .fail
        let mine = SendmailGreeting.versionPaths(greeting, macros: found.macros)
        guard mine.isEmpty else {
            evidence.note += "; not fixed: this cf's own macros make '\(greeting)' tell it too (\(mine.joined(separator: ", "))): edit the cf by hand"
            return Judgement(evidence)
        }
        evidence.note += "; fix: O SmtpGreetingMessage=\(greeting)"
        return Judgement(evidence, remedy: Remedy { plan in
            guard let tree = try plan.tree(file, lens: SettingLine.lens, mta: mta) else { throw MTAGuardError(file: file, "is absent") }
            plan.changed(file, by: item)
            guard SendmailGreeting.read(try tree.render()).tellsVersion else { return }
            try Remediator(target: SettingLine.target(self)).apply(to: tree)
            guard !SendmailGreeting.read(try tree.render()).tellsVersion else {
                throw MTAGuardError(.failed, file: file, "setting SmtpGreetingMessage to '\(greeting)' did not make the greeting tell no version",
                                    hint: "nothing was changed; edit the cf by hand")
            }
            plan.after(after)
            plan.validations[file] = (validateBefore, validateAfter)
        })
    }

    /// The SmtpGreetingMessage line as a setting, for the edit: any spelling sendmail takes
    /// for the option (case-insensitive, or a unique abbreviation), the last one set.
    enum SettingLine {
        static let lens = "Sendmail_Cf.lns"

        static func target(_ kind: SendmailGreetingTarget) -> Target {
            let name = SendmailGreeting.optionName.lowercased()
            // smtpg(r(e(…)?)?)?: every abbreviation of at least the shortest unique length.
            let head = String(name.prefix(SendmailGreeting.shortestAbbreviation))
            let tail = name.dropFirst(SendmailGreeting.shortestAbbreviation).reduce("") { $0 + "(" + String($1) } + String(repeating: ")?", count: name.count - head.count)
            var check = Check(
                node: "*[label() =~ regexp('\(head)\(tail)', 'i')]", valuePath: nil, items: nil, separators: nil, pick: .last,
                equals: [kind.greeting], require: [], orAny: [], defaultValue: nil, unparsed: nil)
            check.setting = SendmailGreeting.optionName
            return Target(
                mta: kind.mta, file: kind.file, lens: lens, advisory: false, check: check,
                fix: Fix(
                    operation: .set(kind.greeting), initial: [],
                    create: Creation(label: SendmailGreeting.optionName, value: nil, after: "*[label() != '#comment' and label() != '@line']", before: nil),
                    variable: nil),
                validateBeforeReplace: kind.validateBefore, validateAfterReplace: kind.validateAfter, after: kind.after)
        }
    }
}
