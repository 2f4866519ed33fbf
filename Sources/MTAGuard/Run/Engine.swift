import Foundation

/// What happened to each host in an apply or a rollback, and the exit code that sums it up.
public struct RunResult: Sendable {
    public var runID: String?
    public var plans: [HostPlan]
    public var hosts: [Manifest.HostRecord]
    /// Hosts that could not be judged or planned: unreachable, unreadable, unparseable.
    public var errors: [MTAGuardError]
    public var messages: [String]

    /// 0 done or nothing to do; 1 failed and nothing was changed; 3 partly done.
    public var exitCode: Int32 {
        let failed = hosts.filter { [.failed, .rolledBack, .rollbackFailed].contains($0.outcome) }
        let changed = hosts.filter { $0.outcome == .changed }
        if failed.isEmpty && errors.isEmpty { return 0 }
        if hosts.contains(where: { $0.outcome == .rollbackFailed }) { return 3 }
        return changed.isEmpty ? 1 : 3
    }
}

/// check → plan → journal → apply → (roll back a failing host); and rollback of a whole run.
public struct Engine: Sendable {
    public var planner: Planner
    public var journal: Journal
    /// Reaches a journaled host again, for rollback.
    public var connect: @Sendable (String, HostAddress) throws -> any Host

    public init(planner: Planner, journal: Journal, connect: @escaping @Sendable (String, HostAddress) throws -> any Host) {
        self.planner = planner
        self.journal = journal
        self.connect = connect
    }

    public func plan(_ hosts: [any Host]) async -> [HostPlan] {
        var plans: [HostPlan] = []
        for host in hosts { plans.append(await planner.plan(host)) }
        return plans
    }

    // MARK: Apply

    public func apply(_ plans: [HostPlan], hosts: [any Host], command: String) async throws -> RunResult {
        var result = RunResult(runID: nil, plans: plans, hosts: [], errors: plans.flatMap(\.errors), messages: [])
        let work = plans.enumerated().filter { $0.element.hasChanges && $0.element.error == nil }
        guard !work.isEmpty else { return result }

        var manifest = Manifest(
            id: Journal.newRunID(), command: command, started: Date(), finished: nil, outcome: .running,
            rollbackOf: nil, hosts: [])
        var preImages: [String: Data] = [:]
        for (index, plan) in work {
            var record = Manifest.HostRecord(
                name: plan.host, address: plan.address, family: plan.family, outcome: .pending,
                message: nil, files: [], actions: [])
            for file in plan.files {
                let backup = Journal.backupPath(index: index, host: plan.host, path: file.path)
                preImages[backup] = file.before.bytes
                record.files.append(Manifest.FileRecord(
                    path: file.path, preSHA256: file.before.sha256, postSHA256: file.after.sha256Hex,
                    mode: file.before.mode, uid: file.before.uid, gid: file.before.gid,
                    backup: backup, items: file.items, state: .planned))
            }
            record.actions = plan.actions.map {
                Manifest.ActionRecord(
                    service: $0.service, action: $0.action, command: $0.command, probe: $0.probe,
                    inverse: $0.inverse, state: .planned, output: nil)
            }
            manifest.hosts.append(record)
        }
        try journal.begin(manifest, preImages: preImages)
        let recorder = RunRecorder(journal: journal, manifest: manifest)
        result.runID = manifest.id

        for (position, (index, plan)) in work.enumerated() {
            let host = hosts[index]
            await applyHost(plan, host: host, position: position, recorder: recorder)
        }
        let final = await recorder.finish()
        result.hosts = final.hosts
        return result
    }

    private func applyHost(_ plan: HostPlan, host: any Host, position: Int, recorder: RunRecorder) async {
        var steps: [ApplyStep] = plan.files.map {
            .replace(FileReplacement(
                path: $0.path, expectSHA256: $0.before.sha256, bytes: $0.after,
                mode: $0.before.mode, uid: $0.before.uid, gid: $0.before.gid,
                validateBefore: $0.validateBefore, validateAfter: $0.validateAfter))
        }
        steps += plan.actions.map { .run(argv: $0.command, probe: $0.probe) }
        let results: [StepResult]
        do {
            results = try await host.apply(steps)
        } catch {
            await recorder.update(position) { $0.outcome = .failed; $0.message = "\(error)" }
            return
        }
        var failure: String?
        await recorder.update(position) { record in
            for (i, r) in results.enumerated() {
                if i < record.files.count {
                    switch r.outcome {
                    case .done: record.files[i].state = .replaced
                    case .skipped: record.files[i].state = .planned
                    case .failedAfterReplace: record.files[i].state = .replaced; failure = r.message
                    case .failed: record.files[i].state = .failed; failure = r.message
                    }
                } else {
                    let a = i - record.files.count
                    record.actions[a].output = r.message.isEmpty ? nil : r.message
                    switch r.outcome {
                    case .done: record.actions[a].state = .done
                    case .skipped: record.actions[a].state = .skipped
                    case .failed, .failedAfterReplace: record.actions[a].state = .failed; failure = r.message
                    }
                }
            }
            if failure == nil { record.outcome = .changed }
        }
        guard let failure else { return }
        // Return the host to its pre-image: files byte for byte, then undo what ran.
        let record = await recorder.host(position)
        var rollbackError: String?
        do {
            let undo = try undoSteps(record, files: record.files.filter { $0.state == .replaced }, runID: recorder.id)
            let r = try await host.apply(undo)
            if let bad = r.first(where: { $0.outcome == .failed || $0.outcome == .failedAfterReplace }) {
                rollbackError = bad.message
            }
        } catch {
            rollbackError = "\(error)"
        }
        await recorder.update(position) { record in
            if rollbackError == nil {
                for i in record.files.indices where record.files[i].state == .replaced { record.files[i].state = .restored }
                for i in record.actions.indices where record.actions[i].state == .done { record.actions[i].state = .undone }
                record.outcome = .rolledBack
                record.message = failure + "; the host was rolled back"
            } else {
                record.outcome = .rollbackFailed
                record.message = failure + "; rolling back failed too: " + (rollbackError ?? "")
            }
        }
    }

    /// Steps that put `files` back to their pre-images (kept in run `runID`) and run the
    /// inverses of the actions that ran, in reverse order. `expect` gives the SHA-256 each file
    /// must have now; by default its post-image.
    func undoSteps(
        _ record: Manifest.HostRecord, files: [Manifest.FileRecord], runID: String, expect: [String: String] = [:]
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
                path: file.path, expectSHA256: expect[file.path] ?? file.postSHA256,
                bytes: bytes, mode: file.mode, uid: file.uid, gid: file.gid,
                validateBefore: nil, validateAfter: nil)))
        }
        for action in record.actions.reversed() where action.state == .done || action.state == .planned {
            guard let inverse = action.inverse else { continue }
            let needsProbe = action.state == .planned || [.reload, .restart].contains(action.action)
            steps.append(.run(argv: inverse, probe: needsProbe ? action.probe : nil))
        }
        return steps
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

    func update(_ position: Int, _ change: (inout Manifest.HostRecord) -> Void) {
        change(&manifest.hosts[position])
        try? journal.write(manifest)
    }

    func host(_ position: Int) -> Manifest.HostRecord { manifest.hosts[position] }


    func finish() -> Manifest {
        let outcomes = manifest.hosts.map(\.outcome)
        if outcomes.allSatisfy({ $0 == .changed }) {
            manifest.outcome = .changed
        } else if outcomes.allSatisfy({ $0 == .failed || $0 == .rolledBack }) {
            manifest.outcome = .failed
        } else {
            manifest.outcome = .partial
        }
        manifest.finished = Date()
        try? journal.write(manifest)
        return manifest
    }
}
