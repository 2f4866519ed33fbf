import Foundation

/// The plan document, `mtaguard.plan/2`: what `plan --format json` prints and `plan --out FILE`
/// writes, and what `apply --plan FILE` carries out exactly. docs/plan-schema.md describes it.
///
/// Per host: the verdicts, each file's diff, checksums before and after and new bytes, the
/// modes, the service actions with their inverses, the inputs the plan was made from
/// (`PlanInputs`), and how to reach the host (the inventory's slice: its address). For the
/// whole plan: when it was made, the digests of the playbooks and the knowledge base, and the
/// options that shape apply (the mode, the SMTP verification). File contents are kept once
/// each in `blobs`, by SHA-256 (a fleet's hosts mostly share them).
public struct PlanDocument: Codable, Sendable {
    public static let schemaName = "mtaguard.plan/2"

    public var schema = PlanDocument.schemaName
    public var created: Date
    public var playbooksSHA256: String
    public var knowledgeSHA256: String?
    public var options: Options
    public var hosts: [HostEntry]
    /// Base64 file contents by their SHA-256.
    public var blobs: [String: String]

    public struct Options: Codable, Sendable, Equatable {
        public var items: [String]
        public var mode: Mode?
        public var smtpPort: UInt16?
        public var smtpHost: String?
        public var allowUpgrade: Bool
        public var forceKill: Bool
    }

    public struct HostEntry: Codable, Sendable {
        public var host: String
        public var address: HostAddress
        public var live: Bool
        public var family: OSFamily
        public var error: String?
        /// The error's kind (`MTAGuardError.Code`): unreachable, permission, unreadable-file, …
        public var errorCode: String?
        public var findings: [Finding]
        public var files: [FileEntry]
        public var modes: [ModeEntry]
        public var actions: [ResolvedAction]
        public var inputs: PlanInputs
        public var phases: Phases
    }

    public struct FileEntry: Codable, Sendable {
        public var path: String
        public var items: [String]
        public var beforeSHA256: String
        public var afterSHA256: String
        public var diff: String
        /// The file's mode, owner and group, kept when it is replaced.
        public var mode: UInt32
        public var uid: UInt32
        public var gid: UInt32
        public var validateBefore: Validation?
        public var validateAfter: Validation?
    }

    public struct ModeEntry: Codable, Sendable {
        public var path: String
        public var items: [String]
        /// Octal, as chmod writes them.
        public var from: String
        public var to: String
        public var uid: UInt32
        public var gid: UInt32
    }

    public init(plans: [HostPlan], created: Date, playbooksSHA256: String, knowledgeSHA256: String?, options: Options) {
        self.created = created
        self.playbooksSHA256 = playbooksSHA256
        self.knowledgeSHA256 = knowledgeSHA256
        self.options = options
        var blobs: [String: String] = [:]
        func keep(_ data: Data) -> String {
            let digest = data.sha256Hex
            if blobs[digest] == nil { blobs[digest] = data.base64EncodedString() }
            return digest
        }
        hosts = plans.map { plan in
            HostEntry(
                host: plan.host, address: plan.address, live: plan.isLive, family: plan.family,
                error: plan.error?.description, errorCode: plan.error?.code.rawValue, findings: plan.findings,
                files: plan.files.map {
                    FileEntry(
                        path: $0.path, items: $0.items, beforeSHA256: keep($0.before.bytes), afterSHA256: keep($0.after),
                        diff: $0.diff, mode: $0.before.mode, uid: $0.before.uid, gid: $0.before.gid,
                        validateBefore: $0.validateBefore, validateAfter: $0.validateAfter)
                },
                modes: plan.modes.map {
                    ModeEntry(
                        path: $0.change.path, items: $0.items, from: String($0.change.from, radix: 8),
                        to: String($0.change.to, radix: 8), uid: $0.uid, gid: $0.gid)
                },
                actions: plan.actions, inputs: plan.inputs, phases: plan.phases)
        }
        self.blobs = blobs
    }

    public func encoded() -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        encoder.dateEncodingStrategy = .iso8601
        return ((try? encoder.encode(self)) ?? Data("{}".utf8)) + Data("\n".utf8)
    }

    /// Reads a plan file; anything that is not a whole `mtaguard.plan/2` document is refused.
    public static func decode(_ data: Data, file: String) throws -> PlanDocument {
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .iso8601
        if let head = try? JSONSerialization.jsonObject(with: data) as? [String: Any], let schema = head["schema"] as? String,
            schema != schemaName
        {
            throw MTAGuardError(.invalidInput, file: file, "is a \(schema) document; apply --plan takes \(schemaName)",
                                hint: "make the plan again with this mtaguard: mtaguard plan --out FILE")
        }
        do {
            return try decoder.decode(PlanDocument.self, from: data)
        } catch let DecodingError.keyNotFound(key, context) {
            throw MTAGuardError(.invalidInput, file: file, "is not a whole plan: \(path(context.codingPath + [key])) is missing")
        } catch let DecodingError.typeMismatch(_, context), let DecodingError.valueNotFound(_, context),
            let DecodingError.dataCorrupted(context)
        {
            throw MTAGuardError(.invalidInput, file: file, "is not a plan mtaguard can read: \(path(context.codingPath)): \(context.debugDescription)")
        }
    }

    static func path(_ keys: [any CodingKey]) -> String {
        keys.map { $0.intValue.map { "[\($0)]" } ?? "." + $0.stringValue }.joined().trimmingCharacters(in: ["."])
    }

    func blob(_ digest: String, host: String, path: String) throws -> Data {
        guard let text = blobs[digest], let data = Data(base64Encoded: text), data.sha256Hex == digest else {
            throw MTAGuardError(.invalidInput, host: host, file: path, "the plan holds no intact contents for sha256 \(digest)")
        }
        return data
    }

    /// Host `i`'s plan as made, its files' bytes before as `now` holds them (they are the same
    /// bytes: drift was refused before).
    func hostPlan(_ i: Int) throws -> HostPlan {
        let h = hosts[i]
        var plan = HostPlan(
            host: h.host, address: h.address, isLive: h.live, family: h.family, findings: h.findings, files: [],
            actions: h.actions, error: nil)
        plan.inputs = h.inputs
        plan.files = try h.files.map { f in
            PlannedFile(
                path: f.path,
                before: FileSnapshot(path: f.path, bytes: try blob(f.beforeSHA256, host: h.host, path: f.path), mode: f.mode, uid: f.uid, gid: f.gid),
                after: try blob(f.afterSHA256, host: h.host, path: f.path), diff: f.diff, items: f.items,
                validateBefore: f.validateBefore, validateAfter: f.validateAfter)
        }
        plan.modes = try h.modes.map { m in
            guard let from = UInt32(m.from, radix: 8), let to = UInt32(m.to, radix: 8) else {
                throw MTAGuardError(.invalidInput, host: h.host, file: m.path, "the plan's mode change \(m.from) → \(m.to) is not octal")
            }
            return PlannedMode(change: ModeChange(path: m.path, from: from, to: to), uid: m.uid, gid: m.gid, items: m.items)
        }
        return plan
    }

    /// SHA-256 of a folder's files (their relative paths and bytes, in sorted order): which
    /// playbooks made a plan.
    public static func folderDigest(_ folder: String) throws -> String {
        let base = URL(fileURLWithPath: folder).standardizedFileURL.path
        guard let walker = FileManager.default.enumerator(atPath: base) else {
            throw MTAGuardError(.invalidInput, file: folder, "cannot list the playbooks folder")
        }
        var paths: [String] = []
        for case let relative as String in walker {
            var isDir: ObjCBool = false
            if FileManager.default.fileExists(atPath: base + "/" + relative, isDirectory: &isDir), !isDir.boolValue { paths.append(relative) }
        }
        var all = Data()
        for relative in paths.sorted() {
            let bytes = try BoundedFile.read(base + "/" + relative, limit: BoundedFile.backupBytes, what: "a file of a playbooks folder")
            all += Data("\(relative)\0\(bytes.count)\0".utf8) + bytes
        }
        return all.sha256Hex
    }
}

/// Writing a plan file: it holds the configuration of every host, so it is readable by its
/// owner only (0600), and it appears whole or not at all (written beside, then renamed).
public enum PlanFile {
    public static func write(_ data: Data, to path: String) throws {
        let temp = path + ".tmp-\(getpid())"
        let fd = open(temp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        guard fd >= 0 else {
            throw MTAGuardError(.invalidInput, file: path, "cannot be written: \(String(cString: strerror(errno)))")
        }
        var ok = fchmod(fd, 0o600) == 0
        data.withUnsafeBytes { buffer in
            var offset = 0
            while ok && offset < buffer.count {
                let n = Foundation.write(fd, buffer.baseAddress! + offset, buffer.count - offset)
                if n <= 0 { ok = false } else { offset += n }
            }
        }
        ok = ok && fsync(fd) == 0
        let err = errno
        close(fd)
        guard ok, rename(temp, path) == 0 else {
            let reason = String(cString: strerror(ok ? errno : err))
            unlink(temp)
            throw MTAGuardError(.invalidInput, file: path, "cannot be written: \(reason)")
        }
    }
}
