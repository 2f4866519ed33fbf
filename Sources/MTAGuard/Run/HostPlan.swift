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

/// Builds a host's plan: read its files once, judge each item through Augeas on the files as
/// read, compose the remedies of the failing ones on trees of their own, render the new bytes,
/// and resolve the service actions.
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
    /// The most one SMTP session may take (`--smtp-deadline`).
    public var smtpDeadline = SMTPProbe.defaultDeadline
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
            request.eximIncludes = Array(Set(playbooks.flatMap(\.targets).flatMap(\.eximConfigs))).sorted()
            for check in checks { check.request(&request, mode: mode) }
            request.postfixTables = playbooks.flatMap(\.targets).lazy.compactMap { ($0 as? PostfixRelayTarget)?.file }.first
            request.sendmailAccess = playbooks.flatMap(\.targets).lazy.compactMap { $0 as? SendmailRelayTarget }.first { !$0.source }?.file
            var start = ContinuousClock.now
            let facts = try await host.facts(request)
            plan.phases.facts = Phases.since(start)
            plan.inputs = PlanInputs(request: request, facts: facts, ports: playbooks.compactMap(\.listensOn))
            plan.family = facts.family
            var judging = checks.filter { type(of: $0).mode == mode }
            start = ContinuousClock.now
            for i in judging.indices { await judging[i].prepare(host) }
            plan.phases.probe = Phases.since(start)
            start = ContinuousClock.now
            let covered = exceptions[host.name] ?? [:]
            var build = Build(planner: self, host: plan.host, facts: facts, mode: mode, checks: judging, variables: host.variables)
            try build.run(&plan, excepted: covered)
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

    /// One host's planning in two steps. First every item is judged on the files as read
    /// (`JudgeContext`: parsed once, shared, never edited), so each item's verdict and evidence
    /// describe the host's own bytes. Then the remedies of the items that failed are composed,
    /// in playbook order, on trees of their own (`composed`), where a later remedy sees what an
    /// earlier one did; a remedy that undoes another's is an error naming both items.
    /// An excepted item (예외), an item in error and an item for review propose nothing.
    struct Build {
        let planner: Planner
        let host: String
        let facts: HostFacts
        let mode: Mode
        /// The item checks the mode judges, each ready for this host.
        let checks: [any ItemCheck]
        /// The host's inventory variables (`Host.variables`), for fixes that take one.
        let variables: [String: String]
        /// The files as read. Each file has an Augeas handle of its own, so files are parsed,
        /// and later rendered, on several cores at once.
        let read: TreeStore
        /// The files with the remedies composed so far.
        private(set) var composed: TreeStore
        var changedItems: [String: [String]] = [:]
        var modes: [PlannedMode] = []
        var steps: [ServiceStep] = []
        var actions: [ResolvedAction] = []
        var validations: [String: (Validation?, Validation?)] = [:]
        /// Package upgrades (`--allow-upgrade`), after any other action.
        var upgrades: [ResolvedAction] = []

        init(planner: Planner, host: String, facts: HostFacts, mode: Mode, checks: [any ItemCheck], variables: [String: String] = [:]) {
            self.planner = planner
            self.host = host
            self.facts = facts
            self.mode = mode
            self.checks = checks
            self.variables = variables
            read = TreeStore(host: host, facts: facts)
            composed = TreeStore(host: host, facts: facts)
        }

        /// What judgements read: the files as the host sent them.
        var context: JudgeContext { JudgeContext(host: host, facts: facts, mode: mode, variables: variables, trees: read) }

        /// One item's judgements, and which of them came from which target (for the check that
        /// no remedy undoes another's).
        struct Judged {
            var book: Playbook
            var judgements: [Judgement]
            /// Per judgement: the target it judged, nil for an item check's.
            var targets: [(any TargetKind)?]
        }

        mutating func run(_ plan: inout HostPlan, excepted: [String: ExceptionMark] = [:]) throws {
            parseAll()
            var judged: [Judged] = []
            for book in planner.playbooks {
                if !book.appliesTo.contains(facts.family.rawValue), facts.family != .unknown {
                    plan.findings.append(Finding(
                        host: host, item: book.id, title: book.title, status: .notApplicable,
                        evidence: [Evidence(mta: "-", file: "-", line: nil, text: "", status: .notApplicable,
                                            note: "item does not apply to \(facts.family.rawValue)")]))
                    continue
                }
                let j = try judge(book)
                let evidence = j.judgements.map(\.evidence)
                var finding = Finding(host: host, item: book.id, title: book.title, status: Finding.verdict(evidence), evidence: evidence)
                if finding.status == .fail, let mark = excepted[book.id] {
                    finding.status = .exception
                    finding.exception = mark
                }
                plan.findings.append(finding)
                // Only an item that failed (and is not excepted) is fixed; an item in error or for
                // review is left to a person, even where one of its targets has a fix.
                if ![.exception, .review].contains(finding.status), j.judgements.contains(where: { $0.remedy != nil }) {
                    judged.append(j)
                }
            }
            let fixing = judged.filter { j in plan.findings.contains { $0.item == j.book.id && $0.status != .error } }
            try compose(fixing, into: &plan)
            // A file that an item in error would change is not changed for any other item
            // either: an error on a file the fix reads leaves the whole file as it is.
            var untouchable = Set<String>()
            for j in judged where plan.findings.contains(where: { $0.item == j.book.id && $0.status == .error }) {
                var scratch = Build(planner: planner, host: host, facts: facts, mode: mode, checks: checks, variables: variables)
                for remedy in j.judgements.compactMap(\.remedy) {
                    do { try remedy.apply(&scratch) } catch { break }
                }
                untouchable.formUnion(scratch.changedItems.keys)
            }
            var toRender: [(path: String, items: [String], tree: ConfigTree, before: FileSnapshot)] = []
            // Every file read, in a stable order: the named ones, then those read from folders.
            let named = Set(planner.paths)
            for path in planner.paths + facts.files.keys.filter({ !named.contains($0) }).sorted() {
                guard let items = changedItems[path], !untouchable.contains(path), case .success(let tree)? = composed.trees[path],
                      case .present(let before)? = facts.files[path]
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
            plan.modes = modes
            plan.actions = actions + upgrades.filter { !actions.contains($0) }
        }

        /// Carries out the remedies of `judged` in order on fresh composed trees. An item whose
        /// remedy fails, or whose fix a later item's remedy undoes, gets an error row naming
        /// why (and the other item), and the composition starts again without it.
        mutating func compose(_ judged: [Judged], into plan: inout HostPlan) throws {
            var dropped = Set<String>()
            composing: while true {
                composed = TreeStore(host: host, facts: facts)
                changedItems = [:]
                modes = []
                steps = []
                actions = []
                validations = [:]
                upgrades = []
                let kept = judged.filter { !dropped.contains($0.book.id) }
                for j in kept {
                    do {
                        for remedy in j.judgements.compactMap(\.remedy) { try remedy.apply(&self) }
                    } catch {
                        let e = Self.asMTAGuardError(error)
                        fail(j.book.id, file: e.file ?? "-", line: e.line, note: e.withoutHost.description, in: &plan)
                        dropped.insert(j.book.id)
                        continue composing
                    }
                }
                // Each target fixed must pass on the composed trees as it does on its own fix.
                for j in kept {
                    if let (target, other) = try undone(j, among: kept) {
                        let note = "\(j.book.id)'s fix of \(target.file) and \(other)'s fix disagree: with both, \(j.book.id)'s check fails again; fix one of the two items by hand, or run them apart"
                        fail(j.book.id, file: target.file, line: nil, note: note, in: &plan)
                        fail(other, file: target.file, line: nil, note: note, in: &plan)
                        dropped.formUnion([j.book.id, other])
                        continue composing
                    }
                }
                return
            }
        }

        /// The first target of `j` that passes with its own remedies alone but not with every
        /// remedy composed, and the item whose remedy undoes it (composed with `j`'s alone).
        private func undone(_ j: Judged, among kept: [Judged]) throws -> (any TargetKind, String)? {
            for (judgement, target) in zip(j.judgements, j.targets) {
                guard judgement.remedy != nil, let target, judgement.evidence.status == .fail,
                      passes(target, of: j, composing: [], in: composed) == false,
                      passes(target, of: j, composing: [j]) == true
                else { continue }
                let others = kept.filter { $0.book.id != j.book.id && (changedItems[target.file] ?? []).contains($0.book.id) }
                let culprit = others.first { other in
                    let pair = kept.filter { $0.book.id == j.book.id || $0.book.id == other.book.id }
                    return passes(target, of: j, composing: pair) == false
                }
                return (target, culprit?.book.id ?? others.last?.book.id ?? "another item")
            }
            return nil
        }

        /// Whether `target` of `j` passes on `store`, or on fresh trees with the remedies of
        /// `composing` (in order) carried out; nil where those remedies fail.
        private func passes(_ target: any TargetKind, of j: Judged, composing: [Judged], in store: TreeStore? = nil) -> Bool? {
            var trees = store
            if trees == nil {
                var scratch = Build(planner: planner, host: host, facts: facts, mode: mode, checks: checks, variables: variables)
                do {
                    for remedy in composing.flatMap({ $0.judgements.compactMap(\.remedy) }) { try remedy.apply(&scratch) }
                } catch {
                    return nil
                }
                trees = scratch.composed
            }
            let context = JudgeContext(host: host, facts: facts, mode: mode, variables: variables, trees: trees!)
            return (try? target.judge(item: j.book.id, in: context).evidence.status) == .pass
        }

        /// Adds an error row to `item`'s finding (its verdict becomes 오류).
        private func fail(_ item: String, file: String, line: Int?, note: String, in plan: inout HostPlan) {
            guard let i = plan.findings.firstIndex(where: { $0.item == item }) else { return }
            plan.findings[i].evidence.append(Evidence(mta: "-", file: file, line: line, text: "", status: .error, note: note))
            plan.findings[i].status = Finding.verdict(plan.findings[i].evidence)
        }

        /// One item's judgements: its item checks (those the mode judges), then, when the MTA is
        /// kept, each target's.
        func judge(_ book: Playbook) throws -> Judged {
            var judged = Judged(book: book, judgements: [], targets: [])
            for check in checks where type(of: check).applies(to: book) {
                let j: [Judgement]
                do {
                    j = try check.judge(for: book, in: context)
                } catch let error as MTAGuardError where error.code == .permission {
                    // A file the check reads could not be read by the login: this item is 오류
                    // on that file; the host's other items are judged as usual.
                    j = [Judgement(Evidence(
                        mta: "-", file: error.file ?? "-", line: nil, text: "", status: .error, note: error.withoutHost.description))]
                }
                judged.judgements += j
                judged.targets += j.map { _ in nil }
            }
            guard mode == .harden else { return judged }
            for target in book.targets {
                do {
                    judged.judgements.append(try target.judge(item: book.id, in: context))
                } catch let error as MTAGuardError {
                    judged.judgements.append(Judgement(Evidence(
                        mta: target.mta, file: target.file, line: error.line, text: "",
                        status: .error, advisory: target.advisory, note: error.withoutHost.description)))
                }
                judged.targets.append(target)
            }
            return judged
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

        /// The composed file at `path` parsed with `lens`, for a remedy to edit (once; later
        /// calls get the same tree), or nil where the host has no such file.
        func tree(_ path: String, lens: String, mta: String?) throws -> ConfigTree? {
            try composed.tree(path, lens: lens, mta: mta)
        }

        /// Records that `item`'s fix changed the parsed `file` (rendered and diffed after every item).
        mutating func changed(_ file: String, by item: String) {
            if !(changedItems[file] ?? []).contains(item) { changedItems[file, default: []].append(item) }
        }

        /// Records a service step to take after a change, once.
        mutating func after(_ step: ServiceStep?) {
            if let step, !steps.contains(step) { steps.append(step) }
        }

        /// Records an action (a regenerated configuration), once.
        mutating func act(_ action: ResolvedAction) {
            if !actions.contains(action) { actions.append(action) }
        }

        /// Parses every present file the items and their item checks (the boot files of the
        /// "not needed" branch) read, each with the lens of the first target naming it.
        func parseAll() {
            // `mta` reads the file, for the hint when its lens cannot (none for the checks' files).
            var lenses: [(file: String, lens: String, mta: String?)] = []
            let edits = checks.flatMap { type(of: $0).files }
            let bootFiles = Set(edits.map(\.file))
            for target in planner.playbooks.flatMap(\.targets) + edits {
                guard case .contents(let lens) = target.fetch, !lenses.contains(where: { $0.file == target.file }) else { continue }
                lenses.append((target.file, lens, bootFiles.contains(target.file) ? nil : target.mta))
            }
            read.parse(lenses)
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
