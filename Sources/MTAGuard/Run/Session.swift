import Foundation

/// What every command starts from: the playbooks chosen, the hosts targeted, the journal.
/// The command line fills this in and calls one method; everything else lives here.
public struct Session: Sendable {
    public var playbooksFolder: String
    public var backupsFolder: String
    public var items: [String]
    public var root: String?
    /// Ansible-format inventories (`-i`); none means the local host (or `--root`).
    public var inventories: [String]
    public var limit: String?
    public var forks: Int
    public var ssh: SSHTransport.Options
    /// `--become`: sudo on every host, on top of the inventory's `ansible_become`.
    public var become: Bool
    /// `--mode`; when nil, each host's `mtaguard_mode`, else harden.
    public var mode: Mode?
    public var forceKill = false
    /// `--allow-upgrade`: see `Planner.allowUpgrade`.
    public var allowUpgrade = false
    public var progress: (@Sendable (Progress) -> Void)?
    public var stopRequested: @Sendable () -> Bool = { false }

    public init(
        playbooksFolder: String? = nil, backupsFolder: String? = nil, items: [String] = [], root: String? = nil,
        inventories: [String] = [], limit: String? = nil, forks: Int = 50,
        ssh: SSHTransport.Options = SSHTransport.Options(), become: Bool = false
    ) {
        let env = ProcessInfo.processInfo.environment
        self.playbooksFolder = Resources.playbooksFolder(explicit: playbooksFolder)
        self.backupsFolder = backupsFolder ?? env["MTAGUARD_BACKUPS"].flatMap { $0.isEmpty ? nil : $0 } ?? "backups"
        self.items = items
        self.root = root
        self.inventories = inventories
        self.limit = limit
        self.forks = forks
        self.ssh = ssh
        self.become = become
    }

    public func playbooks() throws -> [Playbook] {
        try PlaybookLoader.select(PlaybookLoader.loadAll(folder: playbooksFolder), items)
    }

    /// The hosts this session works on, and the transport that reaches them (to close after).
    public func hosts() throws -> (hosts: [any Host], transport: SSHTransport?) {
        if !inventories.isEmpty {
            if root != nil { throw MTAGuardError(.invalidInput, "--root and -i exclude each other", hint: "use one or the other") }
            let selected = try Inventory.load(files: inventories).select(limit: limit)
            let transport = try SSHTransport(options: ssh)
            let hosts: [any Host] = try selected.map { h in
                var hostMode: Mode? = nil
                if let m = h.mode {
                    guard let parsed = Mode(rawValue: m) else {
                        throw MTAGuardError(.invalidInput, host: h.name, "mtaguard_mode '\(m)' is neither harden nor disable")
                    }
                    hostMode = parsed
                }
                return SSHHost(
                    name: h.name, target: target(h), transport: transport, mode: mode ?? hostMode,
                    variables: h.vars.filter { $0.key.hasPrefix("mtaguard_") })
            }
            return (hosts, transport)
        }
        if limit != nil { throw MTAGuardError(.invalidInput, "--limit needs an inventory", hint: "pass -i INVENTORY") }
        guard let root else { return ([LocalHost()], nil) }
        return ([LocalHost(name: "root:" + root, root: Self.absolute(root))], nil)
    }

    func target(_ host: InventoryHost) -> SSHTarget {
        SSHTarget(
            address: host.address, port: host.port, user: host.user, privateKeyFile: host.privateKeyFile,
            become: become || host.become)
    }

    public var journal: Journal { Journal(folder: backupsFolder) }

    /// `--kb FILE`: another version knowledge base than the playbooks' own.
    public var knowledgeFile: String?
    /// `--smtp-port`: probe each live host's SMTP port too.
    public var smtpPort: UInt16?
    /// `--smtp-host`.
    public var smtpHost: String?
    /// `--greylist-attempts`, `--greylist-delay`, `--greylist-deadline`.
    public var greylist = GreylistRetry.standard
    /// `--smtp-deadline`: the most one SMTP session may take (`SMTPProbe.defaultDeadline`).
    public var smtpDeadline = SMTPProbe.defaultDeadline
    /// `--exceptions FILE`: approved exceptions (`ExceptionList`).
    public var exceptionsFile: String?
    /// Where warnings go (an expired exception); stderr by default.
    public var warn: @Sendable (String) -> Void = { FileHandle.standardError.write(Data("mtaguard: warning: \($0)\n".utf8)) }

    /// The knowledge base the version items of `books` are judged against, if any is.
    func knowledgePath(_ books: [Playbook]) -> String? {
        guard let book = books.first(where: { !$0.versionOf.isEmpty }) else { return nil }
        return knowledgeFile ?? (playbooksFolder as NSString).appendingPathComponent(book.knowledge ?? "kb/mail-versions.yaml")
    }

    func planner(loadPlaybooks: Bool) throws -> Planner {
        let books = loadPlaybooks ? try playbooks() : []
        // The playbooks' files are read through mtaguard's lenses: a tree without them fails
        // here, once, before any host is read (not once per item and host).
        if loadPlaybooks { _ = try Resources.lensesFolder() }
        var knowledge: VersionKnowledge?
        if let file = knowledgePath(books) {
            knowledge = try VersionKnowledge.load(file: file)
        }
        var planner = Planner(playbooks: books, mode: mode ?? .harden, forceKill: forceKill, knowledge: knowledge)
        planner.smtpPort = smtpPort
        planner.smtpHost = smtpHost
        planner.greylist = greylist
        planner.smtpDeadline = smtpDeadline
        planner.allowUpgrade = allowUpgrade
        return planner
    }

    /// An engine for the selected playbooks; `rollback` needs none (the journal says it all).
    func engine(loadPlaybooks: Bool = true, transport: SSHTransport? = nil) throws -> Engine {
        let bound = ResourceLimits.bound(forks: forks)
        if let reason = bound.reason {
            FileHandle.standardError.write(Data("mtaguard: --forks \(forks) lowered to \(bound.forks): \(reason)\n".utf8))
        }
        var engine = Engine(
            planner: try planner(loadPlaybooks: loadPlaybooks),
            journal: journal, forks: bound.forks
        ) { name, address in
            switch address.kind {
            case .local: return LocalHost(name: name)
            case .root: return LocalHost(name: name, root: address.root)
            case .ssh:
                guard let transport, var target = address.ssh else {
                    throw MTAGuardError(.journal, host: name, "the journal has no SSH address for this host")
                }
                if become { target.become = true }
                return SSHHost(name: name, target: target, transport: transport)
            }
        }
        let smtp = smtpPort.flatMap { SMTPRefusalCheck.verification(engine.planner.playbooks, port: $0, address: smtpHost, deadline: smtpDeadline) }
        engine.verify = UpgradeVerification.both(smtp, allowUpgrade ? UpgradeVerification.verification() : nil)
        engine.progress = progress
        engine.stopRequested = stopRequested
        return engine
    }

    /// Judges and plans every host; `check` and `plan` print parts of the same result.
    public func plan() async throws -> [HostPlan] {
        let (hosts, transport) = try hosts()
        defer { transport?.close(hosts.compactMap { ($0 as? SSHHost)?.target }) }
        return try await engine(hosts: hosts, transport: transport).plan(hosts)
    }

    /// The engine for `hosts`, with the exceptions that cover them.
    func engine(hosts: [any Host], transport: SSHTransport?) throws -> Engine {
        var engine = try engine(transport: transport)
        engine.planner.exceptions = try exceptions(hosts: hosts, playbooks: engine.planner.playbooks)
        return engine
    }

    /// `--exceptions`: which items are excepted on which host; an expired entry is a warning.
    func exceptions(hosts: [any Host], playbooks: [Playbook]) throws -> [String: [String: ExceptionMark]] {
        guard let exceptionsFile else { return [:] }
        let list = try ExceptionList.load(file: exceptionsFile)
        // Patterns speak of the inventory's hosts and groups; without one, of the host judged.
        let inventory = inventories.isEmpty
            ? Inventory(hosts: hosts.map { InventoryHost(name: $0.name) }, groups: ["all": hosts.map(\.name)])
            : try Inventory.load(files: inventories)
        let known = try PlaybookLoader.loadAll(folder: playbooksFolder)
        let (covered, warnings) = try list.resolve(hosts: inventory, playbooks: playbooks, known: known)
        for w in warnings { warn(w) }
        return covered
    }

    /// Plans and applies; `confirm` sees the plans first and may refuse (no change is made then).
    public func apply(command: String, confirm: (([HostPlan]) throws -> Bool)? = nil) async throws -> RunResult {
        let (hosts, transport) = try hosts()
        defer { transport?.close(hosts.compactMap { ($0 as? SSHHost)?.target }) }
        let engine = try engine(hosts: hosts, transport: transport)
        if let confirm {
            let plans = await engine.plan(hosts)
            guard plans.contains(where: \.hasChanges) else {
                return try await engine.apply(hosts, plans: plans, command: command)
            }
            guard try confirm(plans) else {
                return RunResult(runID: nil, plans: plans, hosts: [], errors: [], messages: ["nothing changed"])
            }
            return try await engine.apply(hosts, plans: plans, command: command)
        }
        return try await engine.apply(hosts, command: command)
    }

    /// Rolls back run `runID` from the journal here; where this control node has none of it and
    /// an inventory is given, from the copies the inventory's hosts keep (`HostJournal`).
    public func rollback(_ runID: String, force: Bool) async throws -> RunResult {
        var found: [String] = []
        var unread: [MTAGuardError] = []
        if !journal.has(runID) && !inventories.isEmpty && HostJournal.isRunID(runID) {
            let (hosts, transport) = try hosts()
            defer { transport?.close(hosts.compactMap { ($0 as? SSHHost)?.target }) }
            let imported = try await HostJournal.importRun(runID, hosts: hosts, into: journal, forks: forks)
            found = imported.messages
            unread = imported.errors
        }
        var result = try await rollbackJournaled(runID, force: force)
        result.messages = found + result.messages
        result.errors = unread + result.errors
        return result
    }

    func rollbackJournaled(_ runID: String, force: Bool) async throws -> RunResult {
        let manifest = try journal.read(runID)
        let selected: Set<String>? = try limit.map { limit in
            // With an inventory, --limit speaks of its groups too; without, of the run's hosts.
            let inventory = inventories.isEmpty
                ? Inventory(hosts: manifest.hosts.map { InventoryHost(name: $0.name) }, groups: ["all": manifest.hosts.map(\.name)])
                : try Inventory.load(files: inventories)
            return Set(try inventory.select(limit: limit).map(\.name))
        }
        let needsSSH = manifest.hosts.contains { $0.address.kind == .ssh }
        let transport = needsSSH ? try SSHTransport(options: ssh) : nil
        defer { transport?.close(manifest.hosts.compactMap(\.address.ssh)) }
        return try await engine(loadPlaybooks: false, transport: transport)
            .rollback(runID, force: force, hosts: selected.map { set in { set.contains($0) } })
    }

    static func absolute(_ path: String) -> String {
        if path.hasPrefix("/") { return path }
        return (FileManager.default.currentDirectoryPath as NSString).appendingPathComponent(path)
    }

    // MARK: Exit codes

    /// `check`: 0 every item passes or does not apply, 2 a finding (취약) or an item a person
    /// must decide (수동 확인: not established, so never 0), 1 an error, 3 some hosts could not
    /// be reached (the others were judged).
    public static func checkExitCode(_ plans: [HostPlan]) -> Int32 {
        let statuses = plans.flatMap { $0.findings.map(\.status) }
        let broken = plans.filter { $0.error != nil }
        if !broken.isEmpty && broken.count < plans.count { return 3 }
        if !broken.isEmpty || statuses.contains(.error) { return 1 }
        return statuses.contains(.fail) || statuses.contains(.review) ? 2 : 0
    }

    /// `check`'s line for the items a person must decide, or nil when there are none:
    /// "3 items need a person's review (수동 확인): web1 U-47, web2 U-47, web2 SRV-005".
    public static func reviewNotice(_ plans: [HostPlan]) -> String? {
        let open = plans.flatMap { plan in plan.findings.filter { $0.status == .review }.map { "\(plan.host) \($0.item)" } }
        guard !open.isEmpty else { return nil }
        let count = open.count == 1 ? "1 item needs" : "\(open.count) items need"
        return "\(count) a person's review (\(Status.review.korean)): \(open.joined(separator: ", "))"
    }

    /// `plan`: 0 nothing to do, 2 changes pending, 1 an error, 3 some hosts could not be reached.
    public static func planExitCode(_ plans: [HostPlan]) -> Int32 {
        let broken = plans.filter { $0.error != nil }
        if !broken.isEmpty && broken.count < plans.count { return 3 }
        if !broken.isEmpty || plans.contains(where: { $0.findings.contains { $0.status == .error } }) {
            return 1
        }
        return plans.contains(where: \.hasChanges) ? 2 : 0
    }
}
