import Foundation

extension Engine {
    /// Undoes run `runID`: each file back to its pre-image byte for byte (with its mode and
    /// owner), then the inverse service actions in reverse order. A file that changed since the
    /// run (its bytes are neither the run's post-image nor its pre-image) is refused unless
    /// `force`. The rollback is a run of its own, with the bytes it replaces backed up first.
    public func rollback(_ runID: String, force: Bool, hosts selected: ((String) -> Bool)? = nil) async throws -> RunResult {
        var original = try journal.read(runID)
        let interrupted = original.outcome == .running
        var result = RunResult(runID: nil, plans: [], hosts: [], errors: [], messages: [])

        struct Work {
            var position: Int
            var host: any Host
            var files: [Manifest.FileRecord]
            var modes: [Manifest.ModeRecord]
            var expect: [String: ExpectedContent]
            var current: [String: FileSnapshot]
            /// The actions undone, in the order their inverses run: the one list that the
            /// rollback's record and its steps are both made from.
            var undo: [Manifest.ActionRecord] = []
        }
        var work: [Work] = []
        for (position, record) in original.hosts.enumerated() where selected?(record.name) ?? true {
            let candidates = record.files.filter { [.replaced, .planned, .inDoubt].contains($0.state) }
            let actions = record.actions.filter { Self.undoable(interrupted: interrupted).contains($0.state) }
            // A mode the run may have set: done, in doubt, or (a run cut short) planned.
            let modes = record.modeChanges.filter { ([.replaced, .inDoubt] + (interrupted ? [.planned] : [])).contains($0.state) }
            if candidates.isEmpty && actions.isEmpty && modes.isEmpty {
                result.messages.append("\(record.name): nothing of run \(runID) to undo")
                continue
            }
            do {
                let host = try connect(record.name, record.address)
                let r = try await restorable(candidates, of: record, on: host, runID: runID, force: force)
                if r.files.isEmpty && modes.isEmpty && actions.allSatisfy({ [.reload, .restart].contains($0.action) }) {
                    // Its files are their pre-images (never written, or already back): a reload
                    // would only repeat what the MTA already runs with.
                    result.messages.append("\(record.name): its files are as before run \(runID); nothing to undo")
                    await host.end()
                    continue
                }
                work.append(Work(position: position, host: host, files: r.files, modes: modes, expect: r.expect, current: r.current))
            } catch let error as MTAGuardError {
                result.errors.append(error.on(host: record.name))
            }
        }
        guard !work.isEmpty else { return result }

        var manifest = Manifest(
            id: Journal.newRunID(), command: "rollback \(runID)", started: Date(), finished: nil,
            outcome: .running, rollbackOf: runID, hosts: [])
        var preImages: [String: Data] = [:]
        for (index, w) in work.enumerated() {
            let record = original.hosts[w.position]
            var mine = Manifest.HostRecord(
                name: record.name, address: record.address, family: record.family, outcome: .pending,
                message: nil, files: [], actions: [])
            for file in w.files {
                guard let now = w.current[file.path] else { continue }
                let backup = try Journal.backupPath(index: index, host: record.name, path: file.path)
                preImages[backup] = now.bytes
                mine.files.append(Manifest.FileRecord(
                    path: file.path, preSHA256: now.sha256, postSHA256: file.preSHA256,
                    mode: now.mode, uid: now.uid, gid: now.gid, backup: backup, items: file.items, state: .planned,
                    backdate: file.backdate))
            }
            mine.modeChanges = w.modes.map {
                Manifest.ModeRecord(
                    path: $0.path, preMode: $0.postMode, postMode: $0.preMode, uid: $0.uid, gid: $0.gid, items: $0.items, state: .planned)
            }
            // The one list of what is undone, in the order it runs: the steps are made from it
            // and each result is recorded against its own entry.
            work[index].undo = Self.undoOrder(record, interrupted: interrupted)
            mine.actions = work[index].undo.enumerated().map { i, a in
                Manifest.ActionRecord(
                    id: "a\(i)", undoes: a.id, service: a.service, action: a.action, command: a.inverse ?? [], probe: a.probe,
                    inverse: a.command, state: .planned, output: nil)
            }
            manifest.hosts.append(mine)
        }
        try journal.begin(manifest, preImages: preImages)
        FailPoint.reach("rollback.begun")
        let recorder = RunRecorder(journal: journal, manifest: manifest)
        result.runID = manifest.id

        // Each host in its own task, at most `forks` at once, like an apply.
        let originalHosts = original.hosts
        let succeeded: [Int?] = await eachHost(Array(work.enumerated())) { _, item in
          await Self.ending(item.element.host) { () async -> Int? in
            let (index, w) = item
            let record = originalHosts[w.position]
            if let failure = await recorder.journalFailure {
                await recorder.update(index) { $0.outcome = .failed; $0.message = "not started: \(failure.message)" }
                return nil
            }
            let steps: [ApplyStep]
            do {
                steps = try undoSteps(
                    record, files: w.files, modes: w.modes, actions: w.undo,
                    runID: runID, expect: w.expect)
            } catch {
                await recorder.update(index) { $0.outcome = .failed; $0.message = "\(error)" }
                return nil
            }
            var results: [StepResult] = []
            var failure: String?
            do {
                let copy = w.host.keepsRuns > 0
                    ? await recorder.copy(index, preImages: w.files.compactMap { w.current[$0.path]?.bytes }, keep: w.host.keepsRuns) : nil
                results = try await w.host.apply(steps, runID: recorder.id, keep: copy)
                FailPoint.reach("rollback.applied")
                if let i = results.firstIndex(where: { $0.outcome.isFailure }) {
                    failure = Self.explain(
                        results[i].message, step: i, files: w.files.count + w.modes.count, undone: w.undo)
                }
            } catch {
                failure = "\(error)"
            }
            await recorder.update(index) { mine in
                mine.record(results)
                mine.outcome = failure == nil ? .changed : (results.contains { $0.outcome == .done } ? .rollbackFailed : .failed)
                mine.message = failure
            }
            return failure == nil ? index : nil
          }
        }
        // The run rolled back records which of its files and actions are undone.
        for index in succeeded.compactMap({ $0 }) {
            let w = work[index]
            for i in original.hosts[w.position].files.indices
            where w.files.contains(where: { $0.path == original.hosts[w.position].files[i].path }) {
                original.hosts[w.position].files[i].state = .restored
            }
            for i in original.hosts[w.position].modeChanges.indices
            where w.modes.contains(where: { $0.path == original.hosts[w.position].modeChanges[i].path }) {
                original.hosts[w.position].modes![i].state = .restored
            }
            for i in original.hosts[w.position].actions.indices
            where Self.undoable(interrupted: interrupted).contains(original.hosts[w.position].actions[i].state) {
                original.hosts[w.position].actions[i].state = .undone
            }
        }
        try journal.write(original)
        let final = await recorder.finish()
        if let failure = await recorder.journalFailure { result.errors.append(failure) }
        result.hosts = final.hosts
        return result
    }

    /// Reads `candidates` on `host` and keeps the files to put back: one at its pre-image needs
    /// nothing (never written, or already back); one at its post-image is restored; anything
    /// else changed since run `runID` and is refused, with the diff, unless `force`. Also gives
    /// what each kept file holds now, which its restore must find there.
    func restorable(
        _ candidates: [Manifest.FileRecord], of record: Manifest.HostRecord, on host: any Host, runID: String, force: Bool
    ) async throws -> (files: [Manifest.FileRecord], expect: [String: ExpectedContent], current: [String: FileSnapshot]) {
        guard !candidates.isEmpty else { return ([], [:], [:]) }
        let facts = try await host.facts(paths: candidates.map(\.path), probeServices: false, probeVersions: false)
        var files: [Manifest.FileRecord] = []
        var expect: [String: ExpectedContent] = [:]
        var current: [String: FileSnapshot] = [:]
        for file in candidates {
            let now = try facts.file(file.path)
            let sha = now?.sha256 ?? ""
            if sha == file.preSHA256 { continue }
            if sha != file.postSHA256 && !force {
                let diff = now.flatMap { n in
                    (try? journal.backup(runID, file.backup)).flatMap { pre in
                        UnifiedDiff.make(path: file.path, old: pre, new: n.bytes)
                    }
                } ?? ""
                throw MTAGuardError(
                    .drift, host: record.name, file: file.path,
                    "changed since run \(runID) wrote it (drift); not rolled back\n" + diff,
                    hint: "check the change above; --force restores the backup anyway")
            }
            expect[file.path] = ExpectedContent(now?.bytes)
            if let now { current[file.path] = now }
            files.append(file)
        }
        return (files, expect, current)
    }

    /// A failed undo step, said plainly where it is a package that cannot go back.
    static func explain(_ message: String, step: Int, files: Int, undone: [Manifest.ActionRecord]) -> String {
        guard step >= files, step - files < undone.count, undone[step - files].action == .upgrade,
            let target = undone[step - files].inverse?.last
        else { return message }
        let package = target.replacingOccurrences(of: "=", with: " ").replacingOccurrences(of: "@", with: " ")
        return "cannot reinstall \(package), the version before the upgrade: \(message)\n"
            + "the package tool no longer offers it; reinstall it by hand from a saved package, or keep the upgrade"
    }
}
