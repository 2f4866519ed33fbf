import Foundation

/// What every command starts from: the playbooks chosen, the hosts targeted, the journal.
/// The command line fills this in and calls one method; everything else lives here.
public struct Session: Sendable {
    public var playbooksFolder: String
    public var backupsFolder: String
    public var items: [String]
    public var root: String?

    public init(playbooksFolder: String? = nil, backupsFolder: String? = nil, items: [String] = [], root: String? = nil) {
        let env = ProcessInfo.processInfo.environment
        self.playbooksFolder = playbooksFolder ?? "playbooks"
        self.backupsFolder = backupsFolder ?? env["MTAGUARD_BACKUPS"].flatMap { $0.isEmpty ? nil : $0 } ?? "backups"
        self.items = items
        self.root = root
    }

    public func playbooks() throws -> [Playbook] {
        try PlaybookLoader.select(PlaybookLoader.loadAll(folder: playbooksFolder), items)
    }

    public func hosts() -> [any Host] {
        guard let root else { return [LocalHost()] }
        return [LocalHost(name: "root:" + root, root: Self.absolute(root))]
    }

    public var journal: Journal { Journal(folder: backupsFolder) }

    /// An engine for the selected playbooks; `rollback` needs none (the journal says it all).
    public func engine(loadPlaybooks: Bool = true) throws -> Engine {
        Engine(planner: Planner(playbooks: loadPlaybooks ? try playbooks() : []), journal: journal) { name, address in
            switch address.kind {
            case .local: LocalHost(name: name)
            case .root: LocalHost(name: name, root: address.root)
            }
        }
    }

    /// Judges and plans every host; `check` and `plan` print parts of the same result.
    public func plan() async throws -> [HostPlan] {
        let engine = try engine()
        return await engine.plan(hosts())
    }

    public func apply(command: String) async throws -> RunResult {
        let engine = try engine()
        let hosts = hosts()
        let plans = await engine.plan(hosts)
        return try await engine.apply(plans, hosts: hosts, command: command)
    }

    public func apply(_ plans: [HostPlan], command: String) async throws -> RunResult {
        try await engine().apply(plans, hosts: hosts(), command: command)
    }

    public func rollback(_ runID: String, force: Bool) async throws -> RunResult {
        try await engine(loadPlaybooks: false).rollback(runID, force: force)
    }

    static func absolute(_ path: String) -> String {
        if path.hasPrefix("/") { return path }
        return (FileManager.default.currentDirectoryPath as NSString).appendingPathComponent(path)
    }

    // MARK: Exit codes

    /// `check`: 0 every item passes or does not apply, 2 a finding, 1 an error.
    public static func checkExitCode(_ plans: [HostPlan]) -> Int32 {
        let statuses = plans.flatMap { $0.findings.map(\.status) }
        if plans.contains(where: { $0.error != nil }) || statuses.contains(.error) { return 1 }
        return statuses.contains(.fail) ? 2 : 0
    }

    /// `plan`: 0 nothing to do, 2 changes pending, 1 an error.
    public static func planExitCode(_ plans: [HostPlan]) -> Int32 {
        if plans.contains(where: { $0.error != nil }) || plans.contains(where: { $0.findings.contains { $0.status == .error } }) {
            return 1
        }
        return plans.contains(where: \.hasChanges) ? 2 : 0
    }
}
