import Foundation

/// A manifest is read back from the control node's journal and from a host's kept copy; both are
/// input. Every decode goes through `Manifest.decoded(_:)` and `HostRecord.decoded(_:)`, which
/// refuse a value that the types alone would let through: a run id that is not one, a file path
/// that is not a plain absolute path (`HostPath`), a pre-image outside the run's hosts folder,
/// a checksum that is not one, a mode beyond 07777, and more records than a run can have.
extension Manifest {
    /// The most hosts, files, mode changes and actions a manifest may name.
    static let maxHosts = 100_000
    static let maxPerHost = 1_000

    static func decoded(_ data: Data) throws -> Manifest {
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .iso8601
        let manifest = try decoder.decode(Manifest.self, from: data)
        try manifest.check()
        return manifest
    }

    func check() throws {
        guard HostJournal.isRunID(id) else { throw Self.invalid("its run id \(HostPath.quotedForMessage(id)) is not one") }
        if let undone = rollbackOf, !HostJournal.isRunID(undone) {
            throw Self.invalid("the run it rolls back, \(HostPath.quotedForMessage(undone)), is not a run id")
        }
        guard hosts.count <= Self.maxHosts else { throw Self.invalid("it names \(hosts.count) hosts, more than \(Self.maxHosts)") }
        for record in hosts { try record.check() }
    }

    static func invalid(_ what: String) -> MTAGuardError {
        MTAGuardError(.journal, "the manifest is refused: \(what)")
    }
}

extension Manifest.HostRecord {
    static func decoded(_ data: Data) throws -> Manifest.HostRecord {
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .iso8601
        let record = try decoder.decode(Manifest.HostRecord.self, from: data)
        try record.check()
        return record
    }

    func check() throws {
        let shown = HostPath.quotedForMessage(name)
        guard files.count <= Manifest.maxPerHost, modeChanges.count <= Manifest.maxPerHost, actions.count <= Manifest.maxPerHost else {
            throw Manifest.invalid("host \(shown) has more than \(Manifest.maxPerHost) files, mode changes or actions")
        }
        var seen = Set<String>()
        for file in files {
            if let problem = HostPath.problem(file.path) {
                throw Manifest.invalid("host \(shown): the file path \(HostPath.quotedForMessage(file.path)) \(problem)")
            }
            guard seen.insert(file.path).inserted else { throw Manifest.invalid("host \(shown) names \(file.path) twice") }
            guard HostJournal.isBackupPath(file.backup) else {
                throw Manifest.invalid("host \(shown) names a backup outside its run folder: \(HostPath.quotedForMessage(file.backup))")
            }
            guard Self.isSHA256(file.preSHA256), Self.isSHA256(file.postSHA256), file.mode <= 0o7777 else {
                throw Manifest.invalid("host \(shown): the record of \(file.path) holds a checksum or mode that is not one")
            }
        }
        for change in modeChanges {
            if let problem = HostPath.problem(change.path) {
                throw Manifest.invalid("host \(shown): the path \(HostPath.quotedForMessage(change.path)) \(problem)")
            }
            guard change.preMode <= 0o7777, change.postMode <= 0o7777 else {
                throw Manifest.invalid("host \(shown): the mode change of \(change.path) is not one")
            }
        }
    }

    /// 64 lowercase hex digits, or empty (a file the run created).
    static func isSHA256(_ text: String) -> Bool {
        text.isEmpty || (text.utf8.count == 64 && text.utf8.allSatisfy { (0x30...0x39).contains($0) || (0x61...0x66).contains($0) })
    }
}
