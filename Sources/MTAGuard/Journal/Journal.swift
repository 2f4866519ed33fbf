import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// The backups folder: one private folder per run, holding its manifest and the pre-image of
/// every file it changes. Folders are 0700 and files 0600: backups of mail configuration can
/// hold secrets (relay passwords, map credentials).
public struct Journal: Sendable {
    public let folder: String

    public init(folder: String) {
        self.folder = folder
    }

    /// Creates the backups folder if needed and refuses one that others could tamper with.
    public func prepare() throws {
        try LocalFiles.makePrivateFolder(folder)
        var st = stat()
        guard lstat(folder, &st) == 0 else {
            throw MTAGuardError(.journal, file: folder, "cannot read the backups folder: \(LocalFiles.errnoText())")
        }
        if (st.st_mode & S_IFMT) == S_IFLNK {
            throw MTAGuardError(.journal, file: folder, "the backups folder is a symbolic link", hint: "give the real folder with --backups")
        }
        if st.st_uid != geteuid() {
            throw MTAGuardError(.journal, file: folder, "the backups folder belongs to another user (uid \(st.st_uid))",
                                hint: "use a folder of your own with --backups")
        }
        if st.st_mode & 0o022 != 0 {
            throw MTAGuardError(.journal, file: folder, "the backups folder can be written by others (mode \(String(st.st_mode & 0o777, radix: 8)))",
                                hint: "chmod 700 it, or use another folder with --backups")
        }
    }

    /// A new run id: UTC time to the millisecond plus a random suffix, sortable by time (two
    /// runs in one second, an apply and its rollback, still sort newest first).
    public static func newRunID(now: Date = Date()) -> String {
        let f = DateFormatter()
        f.locale = Locale(identifier: "en_US_POSIX")
        f.timeZone = TimeZone(identifier: "UTC")
        f.dateFormat = "yyyyMMdd'T'HHmmss.SSS'Z'"
        let suffix = String(format: "%04x", UInt16.random(in: 0...UInt16.max))
        return "\(f.string(from: now))-\(suffix)"
    }

    public func runFolder(_ id: String) -> String { (folder as NSString).appendingPathComponent(id) }

    /// Starts a run: its folder, the pre-images and the manifest, all on disk before any change.
    public func begin(_ manifest: Manifest, preImages: [String: Data]) throws {
        try prepare()
        guard HostJournal.isRunID(manifest.id) else {
            throw MTAGuardError(.journal, "refused a run id that is not one: \(HostPath.quotedForMessage(manifest.id))")
        }
        try LocalFiles.makePrivateFolder(runFolder(manifest.id))
        try LocalFiles.ownFolder(runFolder(manifest.id))
        try store(preImages, run: manifest.id)
        try write(manifest)
    }

    /// Writes pre-images (fsynced, 0600) under the run folder.
    func store(_ preImages: [String: Data], run id: String) throws {
        let run = runFolder(id)
        for (relative, bytes) in preImages {
            guard HostJournal.isBackupPath(relative) else {
                throw MTAGuardError(.journal, file: run, "refused a pre-image outside the run's hosts folder: \(HostPath.quotedForMessage(relative))")
            }
            try LocalFiles.writePrivate(inside: run, relative, bytes)
        }
    }

    static let encoder: JSONEncoder = {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        encoder.dateEncodingStrategy = .iso8601
        return encoder
    }()

    /// Writes the whole manifest, then drops the per-host records it now holds.
    public func write(_ manifest: Manifest) throws {
        let data = try Self.encoder.encode(manifest)
        try LocalFiles.writePrivate((runFolder(manifest.id) as NSString).appendingPathComponent("manifest.json"), data)
        try? FileManager.default.removeItem(atPath: recordsFolder(manifest.id))
    }

    /// While a run goes on, each host's record is its own file, `records/POSITION.json`,
    /// rewritten (atomically, fsynced) on every step of that host only: a step costs the same
    /// with ten hosts or ten thousand. `read` lays them over the manifest's hosts; `write` (at
    /// the end of the run) folds them in.
    func recordsFolder(_ id: String) -> String { (runFolder(id) as NSString).appendingPathComponent("records") }

    func write(_ record: Manifest.HostRecord, position: Int, run id: String) throws {
        let folder = recordsFolder(id)
        if position == 0 || !FileManager.default.fileExists(atPath: folder) { try LocalFiles.makePrivateFolder(folder) }
        try LocalFiles.writePrivate((folder as NSString).appendingPathComponent("\(position).json"), try Self.encoder.encode(record))
    }

    /// The per-host records of a run still going (or cut short), by position.
    func records(_ id: String) throws -> [Int: Manifest.HostRecord] {
        let folder = recordsFolder(id)
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: folder) else { return [:] }
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .iso8601
        var records: [Int: Manifest.HostRecord] = [:]
        for name in names where name.hasSuffix(".json") {
            guard let position = Int(name.dropLast(5)), position >= 0 else { continue }
            let data = try BoundedFile.read((folder as NSString).appendingPathComponent(name), limit: BoundedFile.manifestBytes,
                                            what: "a host record", code: .journal)
            do {
                records[position] = try Manifest.HostRecord.decoded(data)
            } catch {
                throw MTAGuardError(.journal, file: folder + "/" + name, "the host record cannot be read: \(error)")
            }
        }
        return records
    }

    /// Whether run `id` is journaled here.
    public func has(_ id: String) -> Bool {
        HostJournal.isRunID(id) && FileManager.default.fileExists(atPath: (runFolder(id) as NSString).appendingPathComponent("manifest.json"))
    }

    public func read(_ id: String) throws -> Manifest {
        guard HostJournal.isRunID(id) else {
            throw MTAGuardError(.journal, "'\(id)' is not a run id", hint: "see mtaguard runs")
        }
        let path = (runFolder(id) as NSString).appendingPathComponent("manifest.json")
        guard FileManager.default.fileExists(atPath: path) else {
            throw MTAGuardError(.journal, file: path, "no such run", hint: "see mtaguard runs")
        }
        let data = try BoundedFile.read(path, limit: BoundedFile.manifestBytes, what: "a run's manifest", code: .journal)
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .iso8601
        var manifest: Manifest
        do {
            manifest = try Manifest.decoded(data)
        } catch {
            throw MTAGuardError(.journal, file: path, "the manifest cannot be read: \(error)")
        }
        for (position, record) in try records(id).sorted(by: { $0.key < $1.key }) {
            if position < manifest.hosts.count {
                manifest.hosts[position] = record
            } else if position == manifest.hosts.count {
                manifest.hosts.append(record)
            }
        }
        return manifest
    }

    public func backup(_ id: String, _ relative: String) throws -> Data {
        let path = (runFolder(id) as NSString).appendingPathComponent(relative)
        guard FileManager.default.fileExists(atPath: path) else {
            throw MTAGuardError(.journal, file: path, "the backup is missing")
        }
        return try BoundedFile.read(path, limit: BoundedFile.backupBytes, what: "a backup", code: .journal)
    }

    /// Every run, newest first. Folders without a readable manifest are skipped.
    public func runs() throws -> [Manifest] {
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: folder) else { return [] }
        return names.sorted(by: >).compactMap { try? read($0) }
    }

    /// Where a host's pre-image of `path` is kept inside the run folder.
    /// The host's position keeps two names that sanitize alike apart.
    /// `path` is a host path (`HostPath`); the result has no `.` or `..` part.
    static func backupPath(index: Int, host: String, path: String) throws -> String {
        _ = try HostPath.checked(path, host: host)
        let safeHost = host.map { $0.isASCII && ($0.isLetter || $0.isNumber || "._-".contains($0)) ? $0 : "_" }
        return "hosts/\(index)-\(String(safeHost))/files" + path
    }
}
