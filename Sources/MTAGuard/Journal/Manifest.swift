import Foundation

/// `BACKUPS/RUN-ID/manifest.json`: what a run meant to do and what it did, written before the
/// first change and rewritten (atomically) after every step, so that an interrupted run can
/// still be read and rolled back.
public struct Manifest: Codable, Sendable {
    public static let formatVersion = 1

    public var version: Int = Manifest.formatVersion
    public var id: String
    public var command: String
    public var started: Date
    public var finished: Date?
    public var outcome: Outcome
    /// For a rollback run: the run it undid.
    public var rollbackOf: String?
    public var hosts: [HostRecord]
    /// The mtaguard process that wrote it, so that a run left `running` by a process that is
    /// gone (killed, crashed, a power cut) can be told from one still going.
    public var pid: Int32? = getpid()
    /// `apply --plan`: the SHA-256 of the approved plan file the run carried out.
    public var plan: String?
    /// Who ran it: the login name when the run began (absent in journals written before).
    public var user: String? = Manifest.loginName()

    /// The login name: LOGNAME or USER, else the password entry of the real user id.
    public static func loginName() -> String? {
        let env = ProcessInfo.processInfo.environment
        for name in ["LOGNAME", "USER"] { if let v = env[name], !v.isEmpty { return v } }
        guard let pw = getpwuid(getuid()), let name = pw.pointee.pw_name else { return nil }
        return String(cString: name)
    }

    /// Left `running` by a process that no longer exists: its hosts may be part-way; rolling
    /// it back returns each to its pre-images.
    public var interrupted: Bool {
        guard outcome == .running else { return false }
        guard let pid else { return true }
        return kill(pid, 0) != 0 && errno == ESRCH
    }

    /// The outcome as `runs` shows it.
    public var state: String { interrupted ? "interrupted" : outcome.rawValue }

    public enum Outcome: String, Codable, Sendable {
        /// Written before the first change; a run still in this state was interrupted.
        case running
        case changed
        case unchanged
        case failed
        case partial
    }

    public struct HostRecord: Codable, Sendable {
        public var name: String
        public var address: HostAddress
        public var family: OSFamily
        public var outcome: HostOutcome
        public var message: String?
        public var files: [FileRecord]
        public var actions: [ActionRecord]
        /// Permission changes, carried out after the files and before the actions (none in
        /// manifests written before file-mode targets existed).
        public var modes: [ModeRecord]? = nil

        /// `modes`, empty where the manifest has none.
        public var modeChanges: [ModeRecord] {
            get { modes ?? [] }
            set { modes = newValue.isEmpty ? nil : newValue }
        }
    }

    /// A file's permission bits: from `preMode` to `postMode`; its owner is recorded, not changed.
    public struct ModeRecord: Codable, Sendable {
        public var path: String
        public var preMode: UInt32
        public var postMode: UInt32
        public var uid: UInt32
        public var gid: UInt32
        public var items: [String]
        public var state: FileState
        /// Seconds the written file's modification time was set in the past; rollback writes
        /// the pre-image the same way.
        public var backdate: Int? = nil
    }

    public enum HostOutcome: String, Codable, Sendable {
        case pending, changed, unchanged, failed
        /// The apply failed and the host was returned to its pre-image.
        case rolledBack = "rolled-back"
        /// The apply failed and so did the automatic rollback: look at this host.
        case rollbackFailed = "rollback-failed"
    }

    public struct FileRecord: Codable, Sendable {
        public var path: String
        public var preSHA256: String
        public var postSHA256: String
        public var mode: UInt32
        public var uid: UInt32
        public var gid: UInt32
        /// The pre-image, relative to the run folder.
        public var backup: String
        public var items: [String]
        public var state: FileState
        /// Seconds the written file's modification time was set in the past; rollback writes
        /// the pre-image the same way.
        public var backdate: Int? = nil
    }

    public enum FileState: String, Codable, Sendable {
        case planned, replaced, restored, failed
        /// Its step was in flight when the connection ended: pre- or post-image, to be read.
        case inDoubt = "in-doubt"
    }

    public struct ActionRecord: Codable, Sendable {
        /// The action's id within its host record (`a0`, `a1`, … in the order apply runs them;
        /// absent in manifests written before ids).
        public var id: String? = nil
        /// For a rollback's action: the id of the action of the undone run whose inverse it is.
        public var undoes: String? = nil
        public var service: String
        public var action: ServiceAction
        public var command: [String]
        public var probe: [String]?
        public var inverse: [String]?
        public var state: ActionState
        public var output: String?
    }

    public enum ActionState: String, Codable, Sendable {
        case planned, done, skipped, failed, undone
        /// It was in flight when the connection ended: it may have run.
        case inDoubt = "in-doubt"
    }
}
