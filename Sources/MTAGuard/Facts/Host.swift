import Foundation

/// What the engine learns about a host in one look: its OS, its service manager and the files
/// the items may touch.
public struct HostFacts: Sendable {
    public var family: OSFamily
    public var release: String
    public var initSystem: InitSystem
    /// Service tools the host has where that changes the command (chkconfig, update-rc.d).
    public var tools: Set<String>
    /// Per MTA (sendmail, postfix, exim): whether it runs and starts at boot, where known.
    public var services: [String: ServiceState]
    /// Every asked-for path; `nil` where the file does not exist. A folder's files are here too,
    /// by their full paths.
    public var files: [String: FileFact]
    /// Per asked-for folder: the names of the files read from it (`FactsRequest.folders`),
    /// sorted bytewise; `nil` where the folder does not exist.
    public var folders: [String: [String]?] = [:]
    /// Files asked about for their mode and owner only (programs whose permissions an item
    /// judges); `nil` where the file does not exist.
    public var metadata: [String: FileMeta?] = [:]
    /// Metadata paths that are not regular files (a link, a folder): said, never followed.
    public var metadataIssues: [String: String] = [:]
    /// False for an offline root: nothing runs there.
    public var live = true
    /// Per MTA: the version it reports, the package that owns it and the settings that matter.
    public var versions: [String: MTAVersionFact] = [:]
    /// Whose `/usr/sbin/sendmail` and `/usr/lib/sendmail` are (often postfix's or exim's).
    public var owners: [CommandOwner] = []
    /// The listening TCP sockets (`FactsRequest.listeners`); nil when not asked or offline.
    public var listening: ListenerFacts?
    /// The files a postfix main.cf names where relaying is decided (`FactsRequest.postfixTables`).
    public var postfixTables: PostfixTableFacts?
    /// The access map and class R files a sendmail.cf names (`FactsRequest.sendmailAccess`).
    public var sendmailAccess: PostfixTableFacts?
    /// What the `.include` files of `FactsRequest.eximIncludes` could not give (`EximIncludes`).
    public var eximIncludes = EximIncludeFacts()

    public init(
        family: OSFamily, release: String, initSystem: InitSystem, tools: Set<String> = [],
        services: [String: ServiceState] = [:], files: [String: FileSnapshot?]
    ) {
        self.family = family
        self.release = release
        self.initSystem = initSystem
        self.tools = tools
        self.services = services
        self.files = files.mapValues { $0.map(FileFact.present) ?? .absent }
    }
}

public enum OSFamily: String, Sendable, Codable {
    case linux, solaris, aix, hpux, unknown

    public init(uname: String) {
        switch uname.trimmingCharacters(in: .whitespacesAndNewlines) {
        case "Linux": self = .linux
        case "SunOS": self = .solaris
        case "AIX": self = .aix
        case "HP-UX": self = .hpux
        default: self = .unknown
        }
    }
}

/// One step of an apply, carried out on the host in order; the first failure stops the rest.
public enum ApplyStep: Sendable, Equatable {
    /// Replace `path` by `bytes` (temp file beside it, mode and owner kept, rename), but only if
    /// its current SHA-256 is still `expect` (the bytes the plan was made from).
    case replace(FileReplacement)
    /// Run a command; when `probe` is given and fails, the command is skipped, not failed.
    case run(argv: [String], probe: [String]?)
    /// Set a file's permission bits, but only if they are still what the plan read; never
    /// through a symbolic link.
    case chmod(ModeChange)
}

/// What one facts round trip asks of a host.
public struct FactsRequest: Sendable, Equatable {
    /// Files wanted with their bytes, mode and owner.
    public var paths: [String]
    /// Files wanted with their mode and owner only.
    public var metadata: [String] = []
    /// Whether each MTA runs and starts at boot (asked of the service manager).
    public var probeServices = false
    /// nil: no version probe. Else the version probe runs and also reads, per MTA, the settings
    /// the version knowledge base judges (postfix parameters, exim options), by name.
    public var versions: [String: [String]]? = nil
    /// Folders whose files are wanted like `paths` (a configuration split over files, such as
    /// Debian's /etc/exim4/conf.d/main). Only names made of letters, digits, `.`, `_` and `-`
    /// that do not begin with `.` are read: the names such folders' readers take.
    public var folders: [String] = []
    /// Whether the host's listening TCP sockets are wanted (`ss -ltn`, else `netstat -an`).
    public var listeners = false
    /// A postfix main.cf whose relay tables and mynetworks files are wanted too (`PostfixTableFacts`).
    public var postfixTables: String?
    /// A sendmail.cf whose access map and class R files are wanted too (`SendmailAccessFacts`).
    public var sendmailAccess: String?
    /// exim configuration files whose `.include` / `.include_if_exists` files are read too,
    /// recursively and bounded (`EximIncludes`); they land in `HostFacts.files`.
    public var eximIncludes: [String] = []
    /// Ports whose listening sockets' processes are wanted too (`ss -ltnp`, `lsof`, `pfiles`, `rmsock`).
    public var listenerOwners: [UInt16] = []

    public init(
        paths: [String], metadata: [String] = [], probeServices: Bool = false, versions: [String: [String]]? = nil,
        folders: [String] = [], listeners: Bool = false
    ) {
        self.paths = paths
        self.metadata = metadata
        self.probeServices = probeServices
        self.versions = versions
        self.folders = folders
        self.listeners = listeners
    }

    /// Whether a folder entry's name is one `folders` reads.
    static func readsFolderEntry(_ name: String) -> Bool {
        !name.isEmpty && !name.hasPrefix(".")
            && name.utf8.allSatisfy { $0 == 0x2E || $0 == 0x5F || $0 == 0x2D || (0x30...0x39).contains($0) || (0x41...0x5A).contains($0) || (0x61...0x7A).contains($0) }
    }
}

/// A file's mode and owner, without its bytes.
public struct FileMeta: Sendable, Equatable, Codable {
    public var path: String
    public var mode: UInt32
    public var uid: UInt32
    public var gid: UInt32

    public init(path: String, mode: UInt32, uid: UInt32, gid: UInt32) {
        self.path = path
        self.mode = mode
        self.uid = uid
        self.gid = gid
    }

    /// `rwxr-x---` style, with the set-id and sticky bits as ls shows them.
    public var symbolic: String { FileMeta.symbolic(mode) }

    public static func symbolic(_ mode: UInt32) -> String {
        var s = ""
        for (shift, special, lower, upper) in [(6, UInt32(0o4000), "s", "S"), (3, 0o2000, "s", "S"), (0, 0o1000, "t", "T")] {
            let bits = (mode >> UInt32(shift)) & 7
            s += bits & 4 != 0 ? "r" : "-"
            s += bits & 2 != 0 ? "w" : "-"
            let x = bits & 1 != 0
            s += mode & special != 0 ? (x ? lower : upper) : (x ? "x" : "-")
        }
        return s
    }
}

/// One file's permission bits from `from` to `to` (the owner is left as it is).
public struct ModeChange: Sendable, Equatable, Codable {
    public var path: String
    public var from: UInt32
    public var to: UInt32

    public init(path: String, from: UInt32, to: UInt32) {
        self.path = path
        self.from = from
        self.to = to
    }
}

/// What a file must hold right before it is replaced: the bytes the plan was made from.
/// Both digests travel: SHA-256 where the host side is mtaguard itself, POSIX `cksum` where it
/// is a remote shell script.
public struct ExpectedContent: Sendable, Equatable {
    /// Empty when the file must not exist.
    public var sha256: String
    /// `cksum` output ("CRC SIZE"), or "absent".
    public var cksum: String

    public init(_ bytes: Data?) {
        sha256 = bytes?.sha256Hex ?? ""
        cksum = bytes.map(POSIXChecksum.line) ?? "absent"
    }
}

public struct FileReplacement: Sendable, Equatable {
    public var path: String
    public var expected: ExpectedContent
    public var bytes: Data
    public var mode: UInt32
    public var uid: UInt32
    public var gid: UInt32
    public var validateBefore: Validation?
    public var validateAfter: Validation?
    /// Seconds the new file's modification time is set in the past (see `Validation.backdate`).
    public var backdate: Int = 0
}

public struct StepResult: Sendable, Equatable, Codable {
    public enum Outcome: String, Sendable, Codable {
        case done, skipped, failed
        /// The step failed after the file was renamed into place (a validator rejected it).
        case failedAfterReplace = "failed-after-replace"
        /// The connection ended while the step ran: it may or may not have taken effect.
        /// Whoever undoes it reads the host first.
        case inDoubt = "in-doubt"
        /// The file is not what the plan read (someone changed it since): nothing was written.
        case drifted

        /// The step did not end well: the run stops at it.
        public var isFailure: Bool { self != .done && self != .skipped }
    }
    public var outcome: Outcome
    public var message: String

    public init(_ outcome: Outcome, _ message: String = "") {
        self.outcome = outcome
        self.message = message
    }
}

/// Where the engine reads facts from and carries out steps: this machine, an offline root,
/// or (later) a host over SSH.
public protocol Host: Sendable {
    var name: String { get }
    /// Whether validators and service actions run: false for an offline root.
    var isLive: Bool { get }
    /// How the journal records this host so that a rollback can reach it again.
    var address: HostAddress { get }
    /// The branch this host takes when it says (an inventory's `mtaguard_mode`).
    var mode: Mode? { get }
    /// The inventory's `mtaguard_*` variables for this host (its groups' and its own): values a
    /// playbook's fix takes instead of its default (`fix: {set: "100", variable: NAME}`).
    var variables: [String: String] { get }
    /// Reads what `request` asks in one look: files, their modes, the service manager, versions.
    func facts(_ request: FactsRequest) async throws -> HostFacts
    /// Carries out `steps` in order, stopping at the first failure; one result per step tried.
    /// `runID` names the run to anyone who finds the host's lock taken.
    func apply(_ steps: [ApplyStep], runID: String) async throws -> [StepResult]
    /// The same, keeping `copy` (the run's manifest and pre-images) on the host first, in the
    /// same round trip, where the host keeps copies of its runs (over SSH); the others ignore it.
    func apply(_ steps: [ApplyStep], runID: String, keep copy: RunCopy?) async throws -> [StepResult]
    /// How many runs the host keeps copies of (`HostJournal`); 0: none.
    var keepsRuns: Int { get }
    /// This host's part of the run is over (its SSH session ends); a later call starts again.
    func end() async
}

extension Host {
    public func end() async {}
}

/// What a host says of one MTA's version.
public struct MTAVersionFact: Sendable, Equatable {
    public var version: String
    /// The command that answered (sendmail's binary path, postconf, exim).
    public var source: String
    public var package: PackageInfo?
    public var settings: [String: String] = [:]
}

/// Which MTA a sendmail-compatible command belongs to: postfix and exim install their own
/// `/usr/sbin/sendmail`, which is not sendmail and has no sendmail version.
public struct CommandOwner: Sendable, Equatable {
    public var path: String
    /// postfix, sendmail, exim, or the name of the package that provides the command.
    public var mta: String
    /// What told, e.g. `link:/usr/sbin/exim4`, `answer:-d0.1`, `dpkg:postfix`, `rpm:postfix`.
    public var evidence: [String]

    public init(path: String, mta: String, evidence: [String]) {
        self.path = path
        self.mta = mta
        self.evidence = evidence
    }
}

extension Host {
    public var mode: Mode? { nil }
    public var keepsRuns: Int { 0 }
    public func apply(_ steps: [ApplyStep], runID: String, keep copy: RunCopy?) async throws -> [StepResult] {
        try await apply(steps, runID: runID)
    }
    public var variables: [String: String] { [:] }

    public func facts(paths: [String], probeServices: Bool, probeVersions: Bool) async throws -> HostFacts {
        try await facts(FactsRequest(paths: paths, probeServices: probeServices, versions: probeVersions ? [:] : nil))
    }
}

public struct HostAddress: Sendable, Codable, Equatable {
    public enum Kind: String, Sendable, Codable { case local, root, ssh }
    public var kind: Kind
    public var root: String?
    public var ssh: SSHTarget?

    public init(kind: Kind, root: String? = nil, ssh: SSHTarget? = nil) {
        self.kind = kind
        self.root = root
        self.ssh = ssh
    }
}
