import Foundation

/// What happened to each host in an apply or a rollback, and the exit code that sums it up.
public struct RunResult: Sendable {
    public var runID: String?
    public var plans: [HostPlan]
    public var hosts: [Manifest.HostRecord]
    /// Hosts that could not be judged or planned: unreachable, unreadable, unparseable.
    public var errors: [MTAGuardError]
    public var messages: [String]

    /// 0 done or nothing to do; 1 every host failed (and nothing was changed); 3 partly done:
    /// some hosts failed or were unreachable while others are fine, or a rollback failed.
    public var exitCode: Int32 {
        let failedRecords = hosts.filter { [.failed, .rolledBack, .rollbackFailed].contains($0.outcome) }
        var bad = Set(failedRecords.map(\.name))
        for error in errors { bad.insert(error.host ?? "") }
        if bad.isEmpty { return 0 }
        if hosts.contains(where: { $0.outcome == .rollbackFailed }) { return 3 }
        let names = Set(plans.map(\.host) + hosts.map(\.name))
        return names.subtracting(bad).isEmpty ? 1 : 3
    }
}

/// Live counts for a progress line.
public struct Progress: Sendable {
    public var total: Int
    public var done = 0
    public var changed = 0
    public var failed = 0
    public var unreachable = 0
}

/// check → plan → journal → apply → (roll back a failing host); and rollback of a whole run.
/// Hosts go through their own pipeline, at most `forks` at once, with no barrier between them:
/// a slow or dead host holds up nobody.
public struct Engine: Sendable {
    public var planner: Planner
    public var journal: Journal
    public var forks: Int
    /// Reaches a journaled host again, for rollback.
    public var connect: @Sendable (String, HostAddress) throws -> any Host
    /// Told after each host finishes.
    public var progress: (@Sendable (Progress) -> Void)?
    /// Checked before a host starts: once true (Ctrl-C), no new host starts; hosts in flight
    /// finish or roll back.
    public var stopRequested: @Sendable () -> Bool = { false }
    /// Checks a host after its change (an SMTP probe); a message means it failed, and the host
    /// is rolled back like one whose validator failed.
    public var verify: (@Sendable (any Host, HostPlan) async -> String?)?

    public init(
        planner: Planner, journal: Journal, forks: Int = 50,
        connect: @escaping @Sendable (String, HostAddress) throws -> any Host
    ) {
        self.planner = planner
        self.journal = journal
        self.forks = max(1, forks)
        self.connect = connect
    }

    /// Runs `body` for every element, at most `forks` at once; results in input order.
    func eachHost<T: Sendable, R: Sendable>(_ items: [T], _ body: @escaping @Sendable (Int, T) async -> R?) async -> [R?] {
        let stopRequested = self.stopRequested
        return await boundedMap(items, limit: forks) { i, item in
            if stopRequested() { return nil }
            return await body(i, item)
        }.map { $0 ?? nil }
    }

    public func plan(_ hosts: [any Host]) async -> [HostPlan] {
        let counter = ProgressCounter(total: hosts.count, report: progress)
        let plans = await eachHost(hosts) { _, host in
            let plan = await planner.plan(host)
            await host.end()
            await counter.finished(plan)
            return plan
        }
        return zip(hosts, plans).map { host, plan in
            plan ?? HostPlan(
                host: host.name, address: host.address, isLive: host.isLive, family: .unknown, findings: [],
                files: [], actions: [], error: MTAGuardError(.interrupted, host: host.name, "not started: the run was interrupted"))
        }
    }

    // MARK: Apply

    /// Plans (unless `plans` are given, from a plan already shown) and applies each host in its
    /// own pipeline. Each host's pre-images and record reach the journal before its first write.
    /// `planDigest` is the approved plan's SHA-256, kept in the run's manifest.
    public func apply(
        _ hosts: [any Host], plans given: [HostPlan]? = nil, command: String, planDigest: String? = nil
    ) async throws -> RunResult {
        try journal.prepare()
        var manifest = Manifest(
            id: Journal.newRunID(), command: command, started: Date(), finished: nil, outcome: .running,
            rollbackOf: nil, hosts: [])
        manifest.plan = planDigest
        try journal.begin(manifest, preImages: [:])
        FailPoint.reach("apply.begun")
        let recorder = RunRecorder(journal: journal, manifest: manifest)
        let counter = ProgressCounter(total: hosts.count, report: progress)

        let plans: [HostPlan?] = await eachHost(hosts) { index, host in
            // One session carries the host's planning, apply and checks; it ends with them.
            await Self.ending(host) { await self.applyPipeline(index, host, given: given, recorder: recorder, counter: counter) }
        }
        return try await finishApply(hosts: hosts, plans: plans, recorder: recorder)
    }

    /// Runs `body`, then ends `host`'s session.
    static func ending<R>(_ host: any Host, _ body: () async throws -> R) async rethrows -> R {
        do {
            let r = try await body()
            await host.end()
            return r
        } catch {
            await host.end()
            throw error
        }
    }

    private func applyPipeline(_ index: Int, _ host: any Host, given: [HostPlan]?, recorder: RunRecorder, counter: ProgressCounter) async -> HostPlan {
        var plan: HostPlan
        if let failure = await recorder.journalFailure {
            let plan = HostPlan(
                host: host.name, address: host.address, isLive: host.isLive, family: .unknown, findings: [],
                files: [], actions: [], error: MTAGuardError(.journal, host: host.name, "not started: \(failure.message)"))
            await counter.finished(plan)
            return plan
        }
        if let given { plan = given[index] } else { plan = await planner.plan(host) }
        if plan.hasChanges && plan.error == nil {
            do {
                let start = ContinuousClock.now
                let position = try await recorder.add(try record(plan, index: index), preImages: try preImages(plan, index: index))
                plan.phases.journal = Phases.since(start)
                FailPoint.reach("apply.journaled")
                await applyHost(plan, host: host, position: position, recorder: recorder, phases: &plan.phases)
                await counter.finished(await recorder.host(position))
            } catch {
                var failed = plan
                failed.error = MTAGuardError(.journal, host: host.name, "cannot journal the change, so nothing was changed: \(error)")
                await counter.finished(failed)
                return failed
            }
        } else {
            await counter.finished(plan)
        }
        return plan
    }

    private func finishApply(hosts: [any Host], plans: [HostPlan?], recorder: RunRecorder) async throws -> RunResult {
        var result = RunResult(runID: nil, plans: [], hosts: [], errors: [], messages: [])
        for (host, plan) in zip(hosts, plans) {
            if let plan {
                result.plans.append(plan)
                result.errors += plan.errors
            } else {
                result.messages.append("\(host.name): not started: the run was interrupted")
            }
        }
        let final = await recorder.finish()
        if let failure = await recorder.journalFailure { result.errors.append(failure) }
        result.hosts = final.hosts.filter { $0.outcome != .unchanged }
        if result.hosts.isEmpty {
            // Nothing was to be done anywhere: no run to keep.
            try? FileManager.default.removeItem(atPath: journal.runFolder(final.id))
        } else {
            result.runID = final.id
        }
        return result
    }

    func record(_ plan: HostPlan, index: Int) throws -> Manifest.HostRecord {
        try Manifest.HostRecord(
            name: plan.host, address: plan.address, family: plan.family, outcome: .pending, message: nil,
            files: plan.files.map { file in
                Manifest.FileRecord(
                    path: file.path, preSHA256: file.before.sha256, postSHA256: file.after.sha256Hex,
                    mode: file.before.mode, uid: file.before.uid, gid: file.before.gid,
                    backup: try Journal.backupPath(index: index, host: plan.host, path: file.path),
                    items: file.items, state: .planned, backdate: file.backdate == 0 ? nil : file.backdate)
            },
            actions: plan.actions.enumerated().map { i, a in
                Manifest.ActionRecord(
                    id: "a\(i)", service: a.service, action: a.action, command: a.command, probe: a.probe,
                    inverse: a.inverse, state: .planned, output: nil)
            },
            modes: plan.modes.isEmpty ? nil : plan.modes.map {
                Manifest.ModeRecord(
                    path: $0.change.path, preMode: $0.change.from, postMode: $0.change.to, uid: $0.uid, gid: $0.gid,
                    items: $0.items, state: .planned)
            })
    }

    func preImages(_ plan: HostPlan, index: Int) throws -> [String: Data] {
        Dictionary(uniqueKeysWithValues: try plan.files.map {
            (try Journal.backupPath(index: index, host: plan.host, path: $0.path), $0.before.bytes)
        })
    }

    private func applyHost(_ plan: HostPlan, host: any Host, position: Int, recorder: RunRecorder, phases: inout Phases) async {
        var steps: [ApplyStep] = plan.files.map {
            .replace(FileReplacement(
                path: $0.path, expected: ExpectedContent($0.before.bytes), bytes: $0.after,
                mode: $0.before.mode, uid: $0.before.uid, gid: $0.before.gid,
                validateBefore: $0.validateBefore, validateAfter: $0.validateAfter, backdate: $0.backdate))
        }
        steps += plan.modes.map { .chmod($0.change) }
        steps += plan.actions.map { .run(argv: $0.command, probe: $0.probe) }
        let results: [StepResult]
        do {
            let copy = host.keepsRuns > 0
                ? await recorder.copy(position, preImages: plan.files.map(\.before.bytes), keep: host.keepsRuns) : nil
            let start = ContinuousClock.now
            results = try await host.apply(steps, runID: recorder.id, keep: copy)
            phases.apply = Phases.since(start)
            FailPoint.reach("apply.applied")
        } catch {
            await recorder.update(position) { $0.outcome = .failed; $0.message = "\(error)" }
            return
        }
        var failure: String?
        await recorder.update(position) { record in
            failure = record.record(results)
            if failure == nil {
                // Every step skipped (their probes said there was nothing to do): unchanged.
                record.outcome = results.allSatisfy({ $0.outcome == .skipped }) ? .unchanged : .changed
            }
        }
        if let i = results.firstIndex(where: { $0.outcome == .drifted }), i < plan.files.count {
            // Show what changed under us, so that the rerun's plan is no surprise.
            failure = (failure ?? "") + "\n" + (await driftDiff(plan.files[i], on: host))
                + "\nreview that change; a new run plans from what is there now"
        }
        let verifyStart = ContinuousClock.now
        var problem: String?
        if failure == nil, let verify, await recorder.host(position).outcome == .changed {
            problem = await verify(host, plan)
        }
        phases.verify = Phases.since(verifyStart)
        if let problem {
            failure = "verification failed: \(problem)"
            await recorder.update(position) { $0.outcome = .failed; $0.message = failure }
        }
        guard let failure else { return }
        // Return the host to its pre-image: files byte for byte, then undo what ran. The files
        // are read again first: one whose step was in flight when a connection ended may hold
        // either image.
        FailPoint.reach("apply.undo")
        let undoStart = ContinuousClock.now
        defer { phases.undo = Phases.since(undoStart) }
        let record = await recorder.host(position)
        var rollbackError: String?
        do {
            let touched = record.files.filter { $0.state == .replaced || $0.state == .inDoubt }
            let restore = try await restorable(touched, of: record, on: host, runID: recorder.id, force: false)
            let undo = try undoSteps(
                record, files: restore.files, modes: record.modeChanges.filter { [.replaced, .inDoubt].contains($0.state) },
                actions: Self.undoOrder(record, interrupted: false), runID: recorder.id, expect: restore.expect)
            if undo.isEmpty {
                // Nothing was written and nothing ran: the host is as it was.
                await recorder.update(position) { $0.outcome = .failed; $0.message = failure + "; nothing was changed" }
                return
            }
            let r = try await host.apply(undo, runID: recorder.id)
            if let bad = r.first(where: { $0.outcome.isFailure }) { rollbackError = bad.message }
        } catch {
            rollbackError = "\(error)"
        }
        await recorder.update(position) { record in
            if rollbackError == nil {
                for i in record.files.indices where [.replaced, .inDoubt].contains(record.files[i].state) {
                    record.files[i].state = .restored
                }
                for i in record.modeChanges.indices where [.replaced, .inDoubt].contains(record.modeChanges[i].state) {
                    record.modes![i].state = .restored
                }
                for i in record.actions.indices where [.done, .inDoubt, .failed].contains(record.actions[i].state) {
                    record.actions[i].state = .undone
                }
                record.outcome = .rolledBack
                record.message = failure + "; the host was rolled back"
            } else {
                record.outcome = .rollbackFailed
                record.message = failure + "; rolling back failed too: " + (rollbackError ?? "")
            }
        }
    }

    /// The difference between what the plan read and what `file` holds now.
    func driftDiff(_ file: PlannedFile, on host: any Host) async -> String {
        guard let facts = try? await host.facts(paths: [file.path], probeServices: false, probeVersions: false) else {
            return "(the file could not be read again to show the change)"
        }
        let now = (try? facts.file(file.path))?.bytes ?? Data()
        return UnifiedDiff.make(path: file.path, old: file.before.bytes, new: now) ?? "(no difference in the bytes)"
    }

    /// Action states whose inverse a rollback runs (guarded by `undoGuard`).
    /// A failed action is among them: a failed reload or restart may have left the service
    /// down or on the new file, and a failed stop may have stopped it. A planned one is only
    /// where the run was cut short: a finished run stops at its first failure, so what it left
    /// planned never ran.
    static func undoable(interrupted: Bool) -> Set<Manifest.ActionState> {
        interrupted ? [.done, .planned, .inDoubt, .failed] : [.done, .inDoubt, .failed]
    }

    /// When an inverse runs. A reload or restart is undone (by another) only where the service
    /// runs. A stop, start, disable or enable that is known done is undone outright; one that
    /// may not have happened (a run cut short) only if it took effect: its probe, which said
    /// "there is work to do", no longer says so.
    static func undoGuard(_ action: Manifest.ActionRecord) -> [String]? {
        if [.reload, .restart].contains(action.action) { return action.probe }
        if action.state == .done { return nil }
        return action.probe.map { ["sh", "-c", "! " + shellWords($0)] }
    }

    /// Steps that put `files` back to their pre-images (kept in run `runID`) and run the
    /// inverses of the actions that ran, in reverse order. `expect` gives what each file must
    /// hold now (its post-image, or what drifted there when forced).
    /// The steps that undo `files`, `modes` and `actions` (the list `undoOrder` gives, which the
    /// caller also records: one list, so that each result lands on its own action).
    func undoSteps(
        _ record: Manifest.HostRecord, files: [Manifest.FileRecord], modes: [Manifest.ModeRecord],
        actions: [Manifest.ActionRecord], runID: String, expect: [String: ExpectedContent]
    ) throws -> [ApplyStep] {
        var steps: [ApplyStep] = []
        for file in files {
            let bytes = try journal.backup(runID, file.backup)
            guard bytes.sha256Hex == file.preSHA256 else {
                throw MTAGuardError(
                    host: record.name, file: file.path,
                    "the backup \(file.backup) of run \(runID) does not match its recorded SHA-256",
                    hint: "the backup was altered; restore by hand")
            }
            steps.append(.replace(FileReplacement(
                path: file.path, expected: expect[file.path] ?? ExpectedContent(nil),
                bytes: bytes, mode: file.mode, uid: file.uid, gid: file.gid,
                validateBefore: nil, validateAfter: nil, backdate: file.backdate ?? 0)))
        }
        // A mode goes back only from the mode the run set: the step itself skips one that is
        // back already and refuses one that changed since (drift).
        for mode in modes {
            steps.append(.chmod(ModeChange(path: mode.path, from: mode.postMode, to: mode.preMode)))
        }
        for action in actions {
            guard let inverse = action.inverse else {
                throw MTAGuardError(host: record.name, "the action \(action.id ?? action.service) of run \(runID) has no inverse to run")
            }
            steps.append(.run(argv: inverse, probe: Self.undoGuard(action)))
        }
        return steps
    }

    /// The actions whose inverses a rollback runs, in the order it runs them: last done first,
    /// except that a configuration regenerated from restored sources is rebuilt right after
    /// them, before any reload or restart reads it. A build that failed installed nothing (the
    /// tool installs only a file its MTA accepts), so there is nothing to build back.
    static func undoOrder(_ record: Manifest.HostRecord, interrupted: Bool) -> [Manifest.ActionRecord] {
        let ran = record.actions.reversed().filter { undoable(interrupted: interrupted).contains($0.state) && $0.inverse != nil }
        return ran.filter { $0.action == .regenerate && $0.state != .failed } + ran.filter { $0.action != .regenerate }
    }
}

/// Owns a run's manifest while hosts work on it, and writes it after every change.
actor RunRecorder {
    let journal: Journal
    nonisolated let id: String
    var manifest: Manifest

    init(journal: Journal, manifest: Manifest) {
        self.journal = journal
        self.id = manifest.id
        self.manifest = manifest
    }

    /// The first write of the journal that failed (a full disk, a folder gone): the run then
    /// starts no more hosts, says why, and exits with a failure; what was journaled before
    /// stays, and rollback works from it.
    private(set) var journalFailure: MTAGuardError?

    func update(_ position: Int, _ change: (inout Manifest.HostRecord) -> Void) {
        change(&manifest.hosts[position])
        do {
            try journal.write(manifest.hosts[position], position: position, run: id)
        } catch {
            failed("the outcome of host \(manifest.hosts[position].name)", error)
        }
    }

    private func failed(_ what: String, _ error: any Error) {
        guard journalFailure == nil else { return }
        journalFailure = MTAGuardError(
            .journal, file: journal.runFolder(id),
            "cannot write \(what) to the run's journal (\(error)); no further host is started",
            hint: "free space in \(journal.folder), then see mtaguard runs and mtaguard rollback \(id)")
    }

    func host(_ position: Int) -> Manifest.HostRecord { manifest.hosts[position] }

    /// The host at `position`'s copy of the run, as it stands now.
    /// `preImages` are its files' pre-images in the record's order.
    func copy(_ position: Int, preImages: [Data], keep: Int) -> RunCopy {
        let files = manifest.hosts[position].files
        let named = Dictionary(zip(files.map(\.backup), preImages), uniquingKeysWith: { a, _ in a })
        return HostJournal.copy(of: manifest, position: position, preImages: named, keep: keep)
    }

    /// Adds a host: its pre-images first, then the manifest that names them. Returns its position.
    func add(_ record: Manifest.HostRecord, preImages: [String: Data]) throws -> Int {
        try journal.store(preImages, run: id)
        try journal.write(record, position: manifest.hosts.count, run: id)
        manifest.hosts.append(record)
        return manifest.hosts.count - 1
    }


    func finish() -> Manifest {
        let outcomes = manifest.hosts.map(\.outcome)
        if outcomes.isEmpty {
            manifest.outcome = .unchanged
        } else if outcomes.allSatisfy({ $0 == .changed }) {
            manifest.outcome = .changed
        } else if outcomes.allSatisfy({ $0 == .failed || $0 == .rolledBack }) {
            manifest.outcome = .failed
        } else {
            manifest.outcome = .partial
        }
        manifest.finished = Date()
        do { try journal.write(manifest) } catch { failed("the run's end", error) }
        return manifest
    }
}

/// Counts finished hosts for the progress line.
actor ProgressCounter {
    var progress: Progress
    let report: (@Sendable (Progress) -> Void)?

    init(total: Int, report: (@Sendable (Progress) -> Void)?) {
        progress = Progress(total: total)
        self.report = report
    }

    func finished(_ plan: HostPlan) {
        progress.done += 1
        if let error = plan.error {
            if error.code == .unreachable { progress.unreachable += 1 } else { progress.failed += 1 }
        } else if plan.findings.contains(where: { $0.status == .error }) {
            progress.failed += 1
        }
        report?(progress)
    }

    func finished(_ record: Manifest.HostRecord) {
        progress.done += 1
        switch record.outcome {
        case .changed: progress.changed += 1
        case .failed, .rolledBack, .rollbackFailed: progress.failed += 1
        default: break
        }
        report?(progress)
    }
}
