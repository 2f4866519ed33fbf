/// What one target of an item is: a kind of check with its fix. Each kind is one type in its
/// own file under `Kinds/`, listed in `TargetKinds.all`, the way swift-format keeps one rule
/// per file behind its `Rule` protocol: a new kind is a new file and a line in the registry,
/// and the planner, which only orchestrates, never grows a branch for it.
protocol TargetKind: Sendable {
    /// The name a playbook gives the kind (`kind: file-mode`).
    static var name: String { get }
    /// The keys a playbook entry of this kind may hold (besides `kind`); anything else is an
    /// error with its file, line and column.
    static var keys: Set<String> { get }
    /// Reads one entry of a playbook's `targets`.
    static func parse(_ entry: [String: YAMLValue], in value: YAMLValue) throws -> Self

    /// The MTA the target is about (postfix, sendmail, exim).
    var mta: String { get }
    /// The file it judges.
    var file: String { get }
    /// What the facts round trip must bring back of `file`.
    var fetch: Fetch { get }
    /// An advisory target is fixed along with its item but does not decide the verdict.
    var advisory: Bool { get }
    /// Other files the target reads, by their bytes (the kind parses them itself, through
    /// `JudgeContext.tree`), and folders whose files it reads (`FactsRequest.folders`).
    var alsoReads: [String] { get }
    var folders: [String] { get }
    /// exim configuration files whose `.include` files are read too (`FactsRequest.eximIncludes`).
    var eximConfigs: [String] { get }
    /// Judges the target on one host from the files as read, and proposes, apart, the remedy
    /// that makes it pass (an edit of a parsed file, a mode change, a service step), which the
    /// planner carries out on its composed trees after every item was judged.
    func judge(item: String, in context: JudgeContext) throws -> Judgement
}

/// How a target's file comes back from the host.
enum Fetch: Sendable, Equatable {
    /// Its bytes, parsed with this lens.
    case contents(lens: String)
    /// Its mode and owner only (a program whose permissions are judged).
    case metadata
}

extension TargetKind {
    var advisory: Bool { false }
    var alsoReads: [String] { [] }
    var folders: [String] { [] }
    var eximConfigs: [String] { [] }
}

/// Every kind a playbook may name.
enum TargetKinds {
    static let all: [any TargetKind.Type] = [
        Target.self, FileModeTarget.self, EximACLTarget.self, PostfixRelayTarget.self, SendmailRelayTarget.self,
        EximRelayTarget.self, EximLogTarget.self, EximSettingTarget.self, SendmailGreetingTarget.self,
    ]

    /// The kind an entry names (`setting` when it names none).
    static func named(_ name: String) -> (any TargetKind.Type)? {
        all.first { $0.name == name }
    }
}
