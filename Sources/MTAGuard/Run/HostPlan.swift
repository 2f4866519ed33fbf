import Foundation

/// Everything mtaguard knows and would do for one host: verdicts, new file contents, diffs,
/// and the service actions that follow. `plan` prints it; `apply` carries it out.
public struct HostPlan: Sendable {
    public var host: String
    public var address: HostAddress
    public var isLive: Bool
    public var family: OSFamily
    public var findings: [Finding]
    public var files: [PlannedFile]
    /// Permission changes (file-mode targets), after the files and before the actions.
    public var modes: [PlannedMode] = []
    public var actions: [ResolvedAction]
    /// Set when the host could not be judged at all (unreachable, unreadable file, …).
    public var error: MTAGuardError?
    /// Where this host's time went, as the control node saw it.
    public var phases = Phases()
    /// What the plan was made from: each file read (its SHA-256, nil where absent), each
    /// folder's listing and each file whose mode was read. `apply --plan` reads them again and
    /// refuses a host where any differs (drift).
    public var inputs = PlanInputs()

    /// Files to change or service actions to take (the "not needed" branch may only have these).
    public var hasChanges: Bool { !files.isEmpty || !modes.isEmpty || !actions.isEmpty }

    /// The host's own error, or else every file that could not be judged.
    public var errors: [MTAGuardError] {
        if let error { return [error] }
        return findings.flatMap(\.evidence).filter { $0.status == .error }.map { MTAGuardError(host: host, $0.note) }
    }
}

/// Seconds one host spent in each phase of its pipeline, timed on the control node. The SSH
/// round trips (`facts`, `apply`) include the connection and everything the host ran in them:
/// the validators and the reload are inside `apply`.
public struct Phases: Sendable, Codable, Equatable {
    /// The facts round trip.
    public var facts = 0.0
    /// Checks that look beyond the facts (the SMTP probe).
    public var probe = 0.0
    /// Judging and planning on the control node (Augeas, the kinds).
    public var plan = 0.0
    /// The control node's journal: the host's record and pre-images, fsynced.
    public var journal = 0.0
    /// The apply round trip: the host's copy of the run, each file written, validated and
    /// renamed, the modes, the service actions.
    public var apply = 0.0
    /// Checking the change on the wire after it.
    public var verify = 0.0
    /// An automatic rollback, where one ran.
    public var undo = 0.0

    public init() {}

    static func since(_ start: ContinuousClock.Instant) -> Double {
        let d = ContinuousClock.now - start
        return Double(d.components.seconds) + Double(d.components.attoseconds) / 1e18
    }
}

public struct PlannedFile: Sendable {
    public var path: String
    public var before: FileSnapshot
    public var after: Data
    public var diff: String
    public var items: [String]
    public var validateBefore: Validation?
    public var validateAfter: Validation?

    /// Seconds its new modification time is set in the past: the larger of its validators'.
    public var backdate: Int { max(validateBefore?.backdate ?? 0, validateAfter?.backdate ?? 0) }
}

/// The seeds' two branches: keep the MTA and harden it, or the mail service is not needed and
/// is stopped and kept from starting again.
public enum Mode: String, Sendable, Codable, CaseIterable {
    case harden, disable
}

/// Builds a host's plan: read its files once, judge each item through Augeas, fix the failing
/// ones in the same trees, render the new bytes, and resolve the service actions.
public struct Planner: Sendable {
    public var playbooks: [Playbook]
    /// Used for hosts that do not say (an inventory's `mtaguard_mode` does).
    public var mode: Mode
    /// Whether a stop may fall back to a signal where the platform has no graceful stop.
    public var forceKill: Bool
    /// What version items are judged against.
    public var knowledge: VersionKnowledge?
    /// `--smtp-port`: also connect to each live host's SMTP port and try the commands an item
    /// says must be refused (SRV-005's own check method).
    public var smtpPort: UInt16?
    /// `--smtp-host`: the address the SMTP probe connects to instead of the host's own (a
    /// service address, or a network the test places outside the host's own networks).
    public var smtpHost: String?
    /// How the SMTP probe asks a deferred relay attempt again (`--greylist-*`).
    public var greylist = GreylistRetry.standard
    /// `--allow-upgrade`: a version item that fails on a packaged MTA upgrades that package.
    public var allowUpgrade = false
    /// `--exceptions`: per host name, the items (playbook ids) an approved exception covers.
    public var exceptions: [String: [String: ExceptionMark]] = [:]

    public init(playbooks: [Playbook], mode: Mode = .harden, forceKill: Bool = false, knowledge: VersionKnowledge? = nil) {
        self.playbooks = playbooks
        self.mode = mode
        self.forceKill = forceKill
        self.knowledge = knowledge
    }

    /// Every file any target may touch, plus those the item checks may read (the boot files
    /// of the "not needed" branch), in a stable order: all of them come back in the one facts
    /// round trip.
    public var paths: [String] {
        var seen = Set<String>()
        let targets = playbooks.flatMap(\.targets)
        let files = (targets + ItemChecks.files).filter { $0.fetch != .metadata }.map(\.file) + targets.flatMap(\.alsoReads)
        return files.filter { seen.insert($0).inserted }
    }

    /// Every folder whose files a target reads.
    public var folders: [String] {
        var seen = Set<String>()
        return playbooks.flatMap(\.targets).flatMap(\.folders).filter { seen.insert($0).inserted }
    }

    /// Every file whose mode and owner only a target judges.
    public var metadataPaths: [String] {
        var seen = Set<String>()
        return playbooks.flatMap(\.targets).filter { $0.fetch == .metadata }.map(\.file).filter { seen.insert($0).inserted }
    }

    public func plan(_ host: any Host) async -> HostPlan {
        var plan = HostPlan(
            host: host.name, address: host.address, isLive: host.isLive, family: .unknown,
            findings: [], files: [], actions: [], error: nil)
        do {
            let mode = host.mode ?? mode
            // The item checks the items have say what the facts round trip brings back; those
            // the mode judges then learn what the facts do not tell (the SMTP probe).
            let checks = ItemChecks.of(self)
            var request = FactsRequest(paths: paths, metadata: metadataPaths, folders: folders)
            for check in checks { check.request(&request, mode: mode) }
            var start = ContinuousClock.now
            let facts = try await host.facts(request)
            plan.phases.facts = Phases.since(start)
            plan.inputs = PlanInputs(request: request, facts: facts)
            plan.family = facts.family
            var judging = checks.filter { type(of: $0).mode == mode }
            start = ContinuousClock.now
            for i in judging.indices { await judging[i].prepare(host) }
            plan.phases.probe = Phases.since(start)
            start = ContinuousClock.now
            let covered = exceptions[host.name] ?? [:]
            var fixing = self
            fixing.playbooks = playbooks.filter { covered[$0.id] == nil }
            var build = try Build(planner: fixing, host: plan.host, facts: facts, mode: mode, checks: judging)
            build.variables = host.variables
            try build.run(&plan)
            if !covered.isEmpty { try judgeExcepted(covered, facts: facts, mode: mode, checks: judging, host: host, into: &plan) }
            plan.phases.plan = Phases.since(start)
        } catch let error as MTAGuardError {
            plan.error = error.on(host: host.name)
            plan.files = []
            plan.actions = []
            plan.findings = playbooks.map {
                Finding(host: host.name, item: $0.id, title: $0.title, status: .error, evidence: [
                    Evidence(mta: "-", file: error.file ?? "-", line: error.line, text: "", status: .error, note: error.withoutHost.description)
                ])
            }
        } catch {
            plan.error = MTAGuardError(host: host.name, "\(error)")
        }
        return plan
    }

    /// The items an exception covers on this host are judged on their own trees, so that nothing
    /// they would fix reaches the plan: their findings join the plan's in playbook order, a 취약
    /// one as 예외 with the exception's reason; their files, modes and actions are dropped.
    func judgeExcepted(
        _ covered: [String: ExceptionMark], facts: HostFacts, mode: Mode, checks: [any ItemCheck], host: any Host,
        into plan: inout HostPlan
    ) throws {
        var judging = self
        judging.playbooks = playbooks.filter { covered[$0.id] != nil }
        var scratch = HostPlan(
            host: plan.host, address: plan.address, isLive: plan.isLive, family: plan.family,
            findings: [], files: [], actions: [], error: nil)
        var build = try Build(planner: judging, host: plan.host, facts: facts, mode: mode, checks: checks)
        build.variables = host.variables
        try build.run(&scratch)
        var byItem = Dictionary(plan.findings.map { ($0.item, $0) }, uniquingKeysWith: { a, _ in a })
        for var f in scratch.findings {
            if f.status == .fail, let mark = covered[f.item] {
                f.status = .exception
                f.exception = mark
            }
            byItem[f.item] = f
        }
        plan.findings = playbooks.compactMap { byItem[$0.id] }
    }

    /// One host's planning: each file parsed once, even when several items or targets read it.
    struct Build {
        let planner: Planner
        let host: String
        let facts: HostFacts
        let mode: Mode
        /// The item checks the mode judges, each ready for this host.
        let checks: [any ItemCheck]
        /// Parsed files, or why a file could not be parsed. Each file has an Augeas handle of its
        /// own, so files are parsed, and later rendered, on several cores at once.
        var trees: [String: Result<ConfigTree, MTAGuardError>] = [:]
        var changedItems: [String: [String]] = [:]
        var modes: [PlannedMode] = []
        var steps: [ServiceStep] = []
        var actions: [ResolvedAction] = []
        var validations: [String: (Validation?, Validation?)] = [:]
        /// The host's inventory variables (`Host.variables`), for fixes that take one.
        var variables: [String: String] = [:]
        /// Package upgrades (`--allow-upgrade`), after any other action.
        var upgrades: [ResolvedAction] = []

        init(planner: Planner, host: String, facts: HostFacts, mode: Mode, checks: [any ItemCheck]) throws {
            self.planner = planner
            self.host = host
            self.facts = facts
            self.mode = mode
            self.checks = checks
        }

        mutating func run(_ plan: inout HostPlan) throws {
            parseAll()
            for book in planner.playbooks {
                if !book.appliesTo.contains(facts.family.rawValue), facts.family != .unknown {
                    plan.findings.append(Finding(
                        host: host, item: book.id, title: book.title, status: .notApplicable,
                        evidence: [Evidence(mta: "-", file: "-", line: nil, text: "", status: .notApplicable,
                                            note: "item does not apply to \(facts.family.rawValue)")]))
                    continue
                }
                let evidence = try judge(book)
                plan.findings.append(Finding(
                    host: host, item: book.id, title: book.title, status: Finding.verdict(evidence), evidence: evidence))
            }
            var toRender: [(path: String, items: [String], tree: ConfigTree, before: FileSnapshot)] = []
            // Every file read, in a stable order: the named ones, then those read from folders.
            let named = Set(planner.paths)
            for path in planner.paths + facts.files.keys.filter({ !named.contains($0) }).sorted() {
                guard let items = changedItems[path], case .success(let tree)? = trees[path], let before = facts.files[path] ?? nil,
                    // An item whose file errored, or that a person must decide, is not fixed.
                    !plan.findings.contains(where: { items.contains($0.item) && $0.status.withholdsRemedy })
                else { continue }
                toRender.append((path, items, tree, before))
            }
            let rendered = Self.concurrently(toRender.map(\.tree)) { try $0.render() }
            for ((path, items, _, before), result) in zip(toRender, rendered) {
                let after = Data(try result.get().utf8)
                guard after != before.bytes, let diff = UnifiedDiff.make(path: path, old: before.bytes, new: after) else {
                    continue
                }
                let (vb, va) = validations[path] ?? (nil, nil)
                plan.files.append(PlannedFile(
                    path: path, before: before, after: after, diff: diff, items: items,
                    validateBefore: vb, validateAfter: va))
            }
            // A kind's own action (a regenerated configuration) is followed by the reload too.
            if !plan.files.isEmpty || !actions.isEmpty {
                for step in steps {
                    for a in try ServiceCatalog.resolve(step, facts: facts) where !actions.contains(a) { actions.append(a) }
                }
            }
            plan.modes = modes.filter { mode in
                !plan.findings.contains { mode.items.contains($0.item) && $0.status.withholdsRemedy }
            }
            plan.actions = actions + upgrades.filter { !actions.contains($0) }
        }

        /// One item's evidence: its item checks (those the mode judges), then, when the MTA is
        /// kept, each target, fixed when it fails.
        mutating func judge(_ book: Playbook) throws -> [Evidence] {
            var evidence: [Evidence] = []
            for check in checks where type(of: check).applies(to: book) {
                evidence += try check.evidence(for: book, in: &self)
            }
            guard mode == .harden else { return evidence }
            for target in book.targets {
                do {
                    evidence.append(try target.judge(item: book.id, in: &self))
                } catch let error as MTAGuardError {
                    evidence.append(Evidence(
                        mta: target.mta, file: target.file, line: error.line, text: "",
                        status: .error, advisory: target.advisory, note: error.withoutHost.description))
                }
            }
            return evidence
        }

        /// Records a mode change; a second item asking for the same one joins it.
        mutating func add(_ mode: PlannedMode) {
            if let i = modes.firstIndex(where: { $0.change.path == mode.change.path }) {
                modes[i].change.to &= mode.change.to
                modes[i].items += mode.items.filter { !modes[i].items.contains($0) }
            } else {
                modes.append(mode)
            }
        }

        /// The file at `path` parsed with `lens` (once; later calls get the same tree), or nil
        /// where the host has no such file.
        mutating func tree(_ path: String, lens: String, mta: String?) throws -> ConfigTree? {
            if let parsed = trees[path] {
                let tree = try parsed.get()
                guard tree.lens == lens else {
                    throw MTAGuardError(.invalidInput, file: path, "is read with \(tree.lens) by another item and \(lens) here")
                }
                return tree
            }
            guard let snapshot = facts.files[path] ?? nil else { return nil }
            let host = self.host
            let result = Result { try Self.parse(snapshot, path: path, lens: lens, mta: mta, host: host) }.mapError(Self.asMTAGuardError)
            trees[path] = result
            return try result.get()
        }

        /// Records that `item`'s fix changed the parsed `file` (rendered and diffed after every item).
        mutating func changed(_ file: String, by item: String) {
            if !(changedItems[file] ?? []).contains(item) { changedItems[file, default: []].append(item) }
        }

        /// Judges one target on its (cached) tree; fixes it in the tree when it fails.
        mutating func judgeAndFix(_ target: Target, item: String, fix: Bool) throws -> Evidence {
            guard let tree = try tree(target.file, lens: target.lens, mta: target.mta) else {
                throw MTAGuardError(file: target.file, "is absent")
            }
            let judge = Judge(target: target)
            let found = judge.evidence(try judge.read(tree), file: target.file)
            if found.status == .fail && fix {
                try Remediator(target: target).apply(to: tree)
                changed(target.file, by: item)
            }
            return found
        }

        /// Parses every present file the items and their item checks (the boot files of the
        /// "not needed" branch) read, each with the lens of the first target naming it.
        mutating func parseAll() {
            // `mta` reads the file, for the hint when its lens cannot (none for the checks' files).
            var lenses: [(file: String, lens: String, mta: String?)] = []
            let edits = checks.flatMap { type(of: $0).files }
            let bootFiles = Set(edits.map(\.file))
            for target in planner.playbooks.flatMap(\.targets) + edits {
                guard case .contents(let lens) = target.fetch, facts.files[target.file] ?? nil != nil,
                    !lenses.contains(where: { $0.file == target.file })
                else { continue }
                lenses.append((target.file, lens, bootFiles.contains(target.file) ? nil : target.mta))
            }
            let host = self.host, facts = self.facts
            let results = Self.concurrently(lenses) { item -> ConfigTree in
                try Self.parse((facts.files[item.file] ?? nil)!, path: item.file, lens: item.lens, mta: item.mta, host: host)
            }
            for (item, result) in zip(lenses, results) { trees[item.file] = result }
        }

        /// A file's bytes parsed with `lens`; text files only.
        static func parse(_ snapshot: FileSnapshot, path: String, lens: String, mta: String?, host: String) throws -> ConfigTree {
            guard let text = String(data: snapshot.bytes, encoding: .utf8) else {
                throw TextPosition.notUTF8(
                    file: path, bytes: snapshot.bytes, host: host, what: "mtaguard edits text files only",
                    hint: "the file was left as it is; look at it by hand")
            }
            return try ConfigWorkspace().parse(text, lens: lens, file: path, host: host, mta: mta)
        }

        /// Runs `body` on every element on as many threads as there are cores; results in order.
        static func concurrently<T, R>(_ items: [T], _ body: (T) throws -> R) -> [Result<R, MTAGuardError>] {
            guard items.count > 1 else {
                return items.map { item in Result { try body(item) }.mapError(Self.asMTAGuardError) }
            }
            let box = ResultBox<R>(count: items.count)
            items.withUnsafeBufferPointer { buffer in
                nonisolated(unsafe) let buffer = buffer
                withoutActuallyEscaping(body) { body in
                    nonisolated(unsafe) let body = body
                    DispatchQueue.concurrentPerform(iterations: buffer.count) { i in
                        box.set(i, Result { try body(buffer[i]) }.mapError(Self.asMTAGuardError))
                    }
                }
            }
            return box.results.map { $0! }
        }

        static func asMTAGuardError(_ error: any Error) -> MTAGuardError {
            error as? MTAGuardError ?? MTAGuardError("\(error)")
        }
    }
}

/// Results written by several threads, each to its own slot.
final class ResultBox<R>: @unchecked Sendable {
    private let lock = NSLock()
    private(set) var results: [Result<R, MTAGuardError>?]

    init(count: Int) { results = Array(repeating: nil, count: count) }

    func set(_ i: Int, _ r: Result<R, MTAGuardError>) { lock.withLock { results[i] = r } }
}
