import Foundation

/// A run's copy on the host it changed: `/var/lib/mtaguard/runs/RUN-ID/` holds that host's part
/// of the manifest and its pre-images, written (owner-only) in the same round trip as the
/// change, before the first file is touched, plus `steps`, the outcome of each step as it ends.
/// A control node with no journal of the run (an AWX execution node that is gone, a colleague's
/// laptop) rolls it back by reading these copies.
///
/// Layout of one run's folder on a host:
///   manifest.json   the run's manifest with this host's record only (states as planned)
///   hosts/…/files/… the pre-images, at the record's `backup` paths
///   steps           one line per finished step, "INDEX OUTCOME", then "done" when the script ended
///   undone-by       the id of a rollback run that undid this one (written as that run starts)
public struct RunCopy: Sendable, Equatable {
    public var runID: String
    /// The manifest as JSON: the run's header and this host's record.
    public var manifest: Data
    /// Pre-images by their path relative to the run folder (the record's `backup`).
    public var files: [String: Data]
    /// For a rollback run: the run it undoes.
    public var undoes: String?
    /// How many run folders the host keeps, this one included; older ones are removed.
    public var keep: Int

    public init(runID: String, manifest: Data, files: [String: Data], undoes: String?, keep: Int) {
        self.runID = runID
        self.manifest = manifest
        self.files = files
        self.undoes = undoes
        self.keep = keep
    }
}

public enum HostJournal {
    /// Where every host keeps its runs.
    public static let folder = "/var/lib/mtaguard/runs"
    /// Run folders a host keeps by default (the newest, by run id, which sorts by time).
    public static let defaultKeep = 30

    /// The copy of `manifest`'s run for the host at `position`.
    static func copy(of manifest: Manifest, position: Int, preImages: [String: Data], keep: Int) -> RunCopy {
        var mine = manifest
        mine.hosts = [manifest.hosts[position]]
        mine.pid = nil
        return RunCopy(runID: manifest.id, manifest: encode(mine), files: preImages, undoes: manifest.rollbackOf, keep: keep)
    }

    static func encode(_ manifest: Manifest) -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        encoder.dateEncodingStrategy = .iso8601
        return (try? encoder.encode(manifest)) ?? Data()
    }

    static func decode(_ data: Data) throws -> Manifest { try Manifest.decoded(data) }

    /// A run id as the journal names runs: nothing else may reach a path.
    public static func isRunID(_ id: String) -> Bool {
        !id.hasPrefix(".") && id.range(of: #"^[A-Za-z0-9._-]+$"#, options: .regularExpression) != nil
    }

    /// A pre-image's place in a run folder: `hosts/NAME/files/…`, with no `.` or `..` part.
    static func isBackupPath(_ path: String) -> Bool {
        let parts = path.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count >= 4, parts[0] == "hosts", parts[2] == "files" else { return false }
        return parts.allSatisfy { !$0.isEmpty && $0 != "." && $0 != ".." }
    }

    /// What one host's copy says of run `id`.
    public struct Found: Sendable {
        public var manifest: Manifest
        public var record: Manifest.HostRecord
        public var preImages: [String: Data]
    }

    /// Reads run `id` from `host`'s own copy: nil where the host has none. The record is taken
    /// as this host's whatever name it gives, and the address is the inventory's, never the
    /// copy's: a host's files cannot send a rollback elsewhere.
    public static func read(_ id: String, from host: any Host) async throws -> Found? {
        guard isRunID(id) else { throw MTAGuardError(.journal, "'\(id)' is not a run id", hint: "see mtaguard runs") }
        let run = folder + "/" + id
        let first = [run + "/manifest.json", run + "/steps", run + "/undone-by"]
        let facts = try await host.facts(paths: first, probeServices: false, probeVersions: false)
        guard let manifestFile = try facts.file(first[0]) else { return nil }
        var manifest: Manifest
        do {
            manifest = try decode(manifestFile.bytes)
        } catch let error as MTAGuardError {
            throw MTAGuardError(.journal, host: host.name, file: first[0], "the host's copy of the run is refused: \(error.message)")
        } catch {
            throw MTAGuardError(.journal, host: host.name, file: first[0], "the host's copy of the run cannot be read: \(error)")
        }
        guard manifest.id == id, var record = manifest.hosts.first else {
            throw MTAGuardError(.journal, host: host.name, file: first[0], "the host's copy is not of run \(id)")
        }
        // A copy speaks for its own host only: one record, whatever name it gives (the name and
        // the address are the inventory's).
        guard manifest.hosts.count == 1 else {
            throw MTAGuardError(.journal, host: host.name, file: first[0], "the host's copy holds \(manifest.hosts.count) host records, not its own one")
        }
        record.name = host.name
        record.address = host.address

        // The steps that ended, in order, and whether the script ran to its end.
        let stepsText = try facts.file(first[1]).map { String(decoding: $0.bytes, as: UTF8.self) } ?? ""
        let (results, finished) = parseSteps(stepsText)
        record.record(results)
        let failed = results.contains { $0.outcome.isFailure }
        let interrupted = !finished && !failed
        if interrupted {
            record.outcome = .pending
        } else if failed {
            record.outcome = .failed
            record.message = "failed on the host (the host's copy keeps no message)"
        } else {
            record.outcome = results.allSatisfy { $0.outcome == .skipped } ? .unchanged : .changed
        }

        // Pre-images, and the rollback that undid the run if one did.
        var second = record.files.map { run + "/" + $0.backup }
        let undoneBy = try facts.file(first[2]).map { String(decoding: $0.bytes, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines) }
        let undoer = undoneBy.flatMap { isRunID($0) ? folder + "/" + $0 + "/steps" : nil }
        if let undoer { second.append(undoer) }
        var preImages: [String: Data] = [:]
        if !second.isEmpty {
            let more = try await host.facts(paths: second, probeServices: false, probeVersions: false)
            for file in record.files {
                guard let bytes = try more.file(run + "/" + file.backup)?.bytes else {
                    throw MTAGuardError(.journal, host: host.name, file: run + "/" + file.backup, "the host's copy of the run has lost this pre-image")
                }
                preImages[file.backup] = bytes
            }
            if let undoer, let steps = try more.file(undoer) {
                let (undone, done) = parseSteps(String(decoding: steps.bytes, as: UTF8.self))
                if done && !undone.contains(where: { $0.outcome.isFailure }) {
                    record.markUndone()
                    record.message = "rolled back by run \(undoneBy ?? "")"
                }
            }
        }
        manifest.hosts = [record]
        // The copy was written before the first step, so it always says `running`: its steps
        // say how the run ended on this host.
        manifest.outcome = interrupted ? .running : failed ? .failed : .changed
        return Found(manifest: manifest, record: record, preImages: preImages)
    }

    /// `steps` as written by the apply script: "INDEX OUTCOME" per finished step, "done" last.
    static func parseSteps(_ text: String) -> (results: [StepResult], finished: Bool) {
        var results: [StepResult] = []
        var finished = false
        for line in text.split(whereSeparator: \.isNewline) {
            let words = line.split(separator: " ")
            if words == ["done"] { finished = true; continue }
            guard words.count == 2, Int(words[0]) == results.count, let outcome = StepResult.Outcome(rawValue: String(words[1])) else {
                continue
            }
            results.append(StepResult(outcome))
        }
        return (results, finished)
    }

    /// Run `id` as the hosts keep it, put into `journal` so that it rolls back like a run made
    /// here. Hosts without a copy are named in the messages; none with one is an error.
    public static func importRun(_ id: String, hosts: [any Host], into journal: Journal, forks: Int) async throws -> (manifest: Manifest, messages: [String], errors: [MTAGuardError]) {
        let found: [Result<Found?, MTAGuardError>?] = await boundedMap(hosts, limit: forks) { _, host in
            // Its session ends here; the rollback that follows is a part of its own.
            await Engine.ending(host) {
                do { return .success(try await read(id, from: host)) } catch let e as MTAGuardError {
                    return .failure(e.on(host: host.name))
                } catch {
                    return .failure(MTAGuardError(.journal, host: host.name, "\(error)"))
                }
            }
        }
        var messages: [String] = []
        var errors: [MTAGuardError] = []
        var copies: [Found] = []
        for (host, r) in zip(hosts, found) {
            switch r ?? .success(nil) {
            case .success(let f?): copies.append(f)
            case .success(nil): messages.append("\(host.name): keeps no copy of run \(id)")
            case .failure(let e): errors.append(e)
            }
        }
        guard let first = copies.first else {
            if let error = errors.first, errors.count == hosts.count { throw error }
            throw MTAGuardError(
                .journal, "no such run: not in \(journal.folder), nor kept by any host of the inventory",
                hint: "see mtaguard runs, or check the inventory and --limit")
        }
        var manifest = first.manifest
        manifest.pid = nil
        manifest.hosts = []
        var preImages: [String: Data] = [:]
        for (index, copy) in copies.enumerated() {
            // Each host's backups under its own position here, whatever they were called there.
            var record = copy.record
            for i in record.files.indices {
                let local = try Journal.backupPath(index: index, host: record.name, path: record.files[i].path)
                preImages[local] = copy.preImages[record.files[i].backup]
                record.files[i].backup = local
            }
            manifest.hosts.append(record)
            if copy.manifest.outcome == .running { manifest.outcome = .running }
        }
        if manifest.outcome != .running {
            let outcomes = manifest.hosts.map(\.outcome)
            manifest.outcome = outcomes.allSatisfy { $0 == .changed } ? .changed
                : outcomes.allSatisfy { $0 == .failed } ? .failed : .partial
        }
        try journal.begin(manifest, preImages: preImages)
        messages.append("run \(id) read from the copies kept by \(copies.count) host\(copies.count == 1 ? "" : "s")")
        return (manifest, messages, errors)
    }
}

extension Manifest.HostRecord {
    /// Marks what a finished rollback put back.
    mutating func markUndone() {
        for i in files.indices where [.replaced, .inDoubt, .planned].contains(files[i].state) { files[i].state = .restored }
        for i in modeChanges.indices where [.replaced, .inDoubt, .planned].contains(modeChanges[i].state) { modes![i].state = .restored }
        for i in actions.indices where [.done, .inDoubt, .failed, .planned].contains(actions[i].state) { actions[i].state = .undone }
    }
}
