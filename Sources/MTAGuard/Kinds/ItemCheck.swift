/// A check that belongs to a whole item rather than to one of its targets: the version
/// judgement (U-45), the SMTP refusal probe, the "service not needed" branch. As with the
/// target kinds, each is one type in its own file under `Kinds/`, listed in `ItemChecks.all`:
/// the planner asks the checks its items have what they need of a host (facts, files, a
/// probe), runs those its mode judges, and names none of them.
///
/// One value serves one host: what it learns in `prepare` (the SMTP port's answer) serves
/// every item that has the check.
protocol ItemCheck: Sendable {
    /// The mode whose runs judge it: `harden` (the MTA is kept; the item's targets follow its
    /// evidence) or `disable` (the mail service is not needed).
    static var mode: Mode { get }
    /// Files it may read besides the targets' own, such as boot files: fetched in the one facts
    /// round trip whatever the mode, parsed with their lens in runs of `mode`.
    static var files: [any TargetKind] { get }
    /// Whether `book` has this check.
    static func applies(to book: Playbook) -> Bool

    /// The check for one host's run of `planner`; made only when one of its items has it.
    init(planner: Planner)
    /// Adds what the check needs to the facts round trip of a run in `mode`. Asked in every
    /// mode: what one check asks for, another may read (the version probe tells the "not
    /// needed" branch that an MTA is installed).
    func request(_ request: inout FactsRequest, mode: Mode)
    /// Learns what the facts do not tell, before any item is judged (the SMTP probe); only in
    /// runs of its mode.
    mutating func prepare(_ host: any Host) async
    /// Its judgements for one item that has it, shown before the targets': evidence from the
    /// facts as read, each with the remedy it proposes (an edit of a parsed file, an action, an
    /// upgrade), which the planner carries out after every item was judged.
    func judge(for book: Playbook, in context: JudgeContext) throws -> [Judgement]
}

/// An item check that only reads and never proposes a fix (the listener, the SMTP probe).
protocol ReadingItemCheck: ItemCheck {
    func evidence(for book: Playbook, in context: JudgeContext) -> [Evidence]
}

extension ReadingItemCheck {
    func judge(for book: Playbook, in context: JudgeContext) -> [Judgement] {
        evidence(for: book, in: context).map { Judgement($0) }
    }
}

extension ItemCheck {
    static var files: [any TargetKind] { [] }
    func request(_ request: inout FactsRequest, mode: Mode) {}
    mutating func prepare(_ host: any Host) async {}
}

/// Every item check, in the order an item's evidence shows them.
enum ItemChecks {
    static let all: [any ItemCheck.Type] = [
        VersionCheck.self, ListenerCheck.self, SMTPRefusalCheck.self, ServiceDisableCheck.self, ListenerDisableCheck.self,
    ]

    /// One check of each kind some item of `planner` has, for one host.
    static func of(_ planner: Planner) -> [any ItemCheck] {
        all.filter { kind in planner.playbooks.contains { kind.applies(to: $0) } }.map { $0.init(planner: planner) }
    }

    /// The files every check may read, in registry order.
    static var files: [any TargetKind] { all.flatMap { $0.files } }
}
