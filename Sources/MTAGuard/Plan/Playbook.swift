/// One hardening item as declared in `playbooks/ID.yaml`: what to look at, how to judge it,
/// how to fix it. The engine knows nothing of a particular item beyond what this says.
public struct Playbook: Sendable {
    public var id: String
    /// Other assessments' numbers for the same item (KISA U-48, U-70, …); any selects it.
    public var aliases: [String]
    public var title: String
    public var titleEnglish: String?
    /// What the item is about in a sentence or two (`description:`), for the workbook's 상세설명;
    /// `description_en:` in English.
    public var description: String?
    public var descriptionEnglish: String?
    public var severity: Severity
    public var references: [String]
    public var appliesTo: [String]
    /// What it judges and fixes, each of a kind (`Kinds/`).
    var targets: [any TargetKind]
    /// The "service not needed" branch (`--mode disable`): what to do to each MTA it names.
    public var whenNotNeeded: [ServiceAction]
    /// A version item (U-45): the MTAs whose versions are judged against the knowledge base.
    public var versionOf: [String] = []
    /// The knowledge base, relative to the playbooks folder.
    public var knowledge: String?
    /// Network verification: the SMTP commands that must be refused (`vrfy`, `expn`).
    public var smtpRefuses: [String] = []
    /// Network verification: the 220 greeting must not tell the MTA's version (`banner: no_version`).
    public var smtpBannerHidesVersion = false
    /// A listener item (SRV-004): the TCP port whose listeners are judged, and the MTAs that
    /// may be what listens there (stopped and disabled by `--mode disable`).
    public var listensOn: UInt16?
    public var listeningMTAs: [String] = []

    /// Every MTA the item is about.
    public var mtas: [String] {
        var seen = Set<String>()
        return (targets.map(\.mta) + versionOf + listeningMTAs).filter { seen.insert($0).inserted }
    }
    /// Where the playbook was read from, for messages.
    public var source: String

    public enum Severity: String, Sendable, Equatable, Codable {
        case low, medium, high
    }

    /// The item's number in each assessment scheme that has it.
    public var schemes: [Scheme: String] = [:]

    /// The assessment schemes whose mail items mtaguard covers.
    public enum Scheme: String, Sendable, CaseIterable, Codable {
        case kisa2026 = "kisa-2026"
        case kisa2021 = "kisa-2021"
        case efinance

        /// The column heading in the item table.
        public var heading: String {
            switch self {
            case .kisa2026: "KISA 2026"
            case .kisa2021: "KISA 2021"
            case .efinance: "전자금융"
            }
        }
    }

    /// All the ids that select this item: its id, its aliases and its scheme numbers.
    public var allIDs: [String] {
        var seen = Set<String>()
        return ([id] + aliases + Scheme.allCases.compactMap { schemes[$0] }).filter { seen.insert($0.uppercased()).inserted }
    }

    public func matches(_ selector: String) -> Bool {
        allIDs.contains { $0.caseInsensitiveCompare(selector) == .orderedSame }
    }
}

/// One file of one MTA that an item judges and fixes.
public struct Target: Sendable, Equatable {
    public var mta: String
    public var file: String
    public var lens: String
    /// An advisory target does not decide the item's verdict (the MTA does not read it),
    /// but is fixed along with it: sendmail.mc, which regenerates sendmail.cf.
    public var advisory: Bool
    public var check: Check
    public var fix: Fix
    public var validateBeforeReplace: Validation?
    public var validateAfterReplace: Validation?
    public var after: ServiceStep?
}

/// How the MTA reads a setting and what value passes.
public struct Check: Sendable, Equatable {
    /// Augeas path (relative to the file's tree) of the node(s) holding the setting.
    public var node: String
    /// Child of `node` holding its value, when it is not the node's own value.
    public var valuePath: String?
    /// Child label of list items (`flag`), for settings that are lists of flags.
    public var items: String?
    /// How a list held in one value is split, when it is not split into child nodes.
    public var separators: String?
    public var pick: Pick
    /// Scalar settings: the values that pass (case-insensitive).
    public var equals: [String]
    /// Flag settings: flags that must all be present, unless any of `orAny` is.
    public var require: [String]
    public var orAny: [String]
    /// What the MTA assumes when the setting is absent, to show as evidence.
    public var defaultValue: String?
    /// Augeas path of lines that set the same thing in a form the lens keeps opaque (a define
    /// split in a way it does not parse, say): judging or fixing those would be a guess, so a
    /// match is an error that names the line.
    public var unparsed: String?
    /// The setting passes when no node matches (a start line that must be commented out).
    public var absent: Bool = false
    /// Scalar settings: passes when the value is a whole number at least this (sendmail's
    /// LogLevel ≥ 9; a limit ≥ 1, where 0 means unlimited).
    public var atLeast: Int?
    /// Scalar settings: passes when the value holds none of these (a banner without `$v`).
    public var excludes: [String] = []
    /// The setting's name in the MTA's own words (`MaxDaemonChildren`, `confPRIVACY_FLAGS`),
    /// for evidence; the playbook says it where `node` is an Augeas expression.
    public var setting: String?

    /// What evidence calls the setting: its name, never an Augeas expression.
    public var name: String { setting ?? node }

    /// Whether `node` is a plain name, which evidence may show as it is.
    static func isPlainName(_ node: String) -> Bool {
        node.range(of: "^[A-Za-z_][A-Za-z0-9_.-]*$", options: .regularExpression) != nil
    }

    public enum Pick: String, Sendable, Equatable {
        /// The last definition wins (postfix main.cf, m4 define).
        case last
        /// Every definition adds to the setting (sendmail's PrivacyOptions lines).
        case union
    }

    public var isFlags: Bool { !require.isEmpty }

    /// What a passing value is, in words, for evidence.
    var wanted: String {
        if let atLeast { return "a whole number of at least \(atLeast)" }
        if !excludes.isEmpty { return "a value without \(excludes.joined(separator: " or "))" }
        return equals.joined(separator: " or ")
    }

    public init(
        node: String, valuePath: String?, items: String?, separators: String?, pick: Pick, equals: [String],
        require: [String], orAny: [String], defaultValue: String?, unparsed: String?, absent: Bool = false
    ) {
        self.node = node
        self.valuePath = valuePath
        self.items = items
        self.separators = separators
        self.pick = pick
        self.equals = equals
        self.require = require
        self.orAny = orAny
        self.defaultValue = defaultValue
        self.unparsed = unparsed
        self.absent = absent
    }
}

/// How to change the setting so that it passes.
public struct Fix: Sendable, Equatable {
    public enum Operation: Sendable, Equatable {
        /// Set the value (of the picked node).
        case set(String)
        /// Add the flags that are missing to the picked node.
        case addFlags([String])
        /// Relabel every matching node (`start` → `#start` comments a line out).
        case rename(String)
    }
    public var operation: Operation
    /// When the setting is absent: the flags it starts from (the MTA's own default).
    public var initial: [String]
    public var create: Creation
    /// The inventory variable whose value, where a host has it, is set instead of `set`'s.
    public var variable: String?
}

/// Where and how a missing setting node is created.
public struct Creation: Sendable, Equatable {
    public var label: String
    public var value: String?
    /// Augeas paths; the first that matches decides the position. None: end of file.
    public var after: String?
    public var before: String?
}

/// A command that checks a file; `{file}` in its arguments is the file to check, and `{dir}`
/// a staging folder beside it holding the new file under its own name and copies of
/// `stagedWith` (so that an MTA reads the new configuration before it goes live).
public struct Validation: Sendable, Equatable, Codable {
    public var argv: [String]
    /// Output that means failure even when the exit status is 0 (a regular expression).
    public var rejectOutput: String?
    /// Files of the target's folder copied into `{dir}` beside the new file.
    public var stagedWith: [String] = []
    /// The new file's modification time is set this many seconds in the past before the
    /// check, and kept when it is installed: postfix re-reads a file younger than 2 s until it
    /// is older, so a fresh main.cf would make the check and the reload wait.
    public var backdate: Int = 0

    /// Whether the command reads a staging folder.
    public var stages: Bool { argv.contains { $0.contains("{dir}") } }
}

/// A service action to run after the target's file changed.
public struct ServiceStep: Sendable, Equatable, Hashable, Codable {
    public var service: String
    public var action: ServiceAction
}

public enum ServiceAction: String, Sendable, Equatable, Hashable, Codable, CaseIterable {
    case stop, start, disable, enable, reload, restart
    /// Only from `--allow-upgrade`, never from a playbook: the MTA's package, upgraded with
    /// the platform's tool; its inverse reinstalls the version it replaced.
    case upgrade
    /// Only from a kind, never from a playbook's service step: a configuration built from its
    /// sources by the platform's own tool (Debian's update-exim4.conf) after they changed. Its
    /// inverse builds it again, right after a rollback restored the sources.
    case regenerate

    /// The actions a playbook's `after` and `when_not_needed` may name.
    static var playbookCases: [ServiceAction] { allCases.filter { $0 != .upgrade && $0 != .regenerate } }
}
