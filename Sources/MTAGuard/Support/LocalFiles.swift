import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A file as read from a host: its bytes and the metadata a replacement must keep.
public struct FileSnapshot: Sendable, Equatable, Codable {
    public var path: String
    public var bytes: Data
    public var mode: UInt32
    public var uid: UInt32
    public var gid: UInt32
    public var sha256: String { bytes.sha256Hex }

    public init(path: String, bytes: Data, mode: UInt32, uid: UInt32, gid: UInt32) {
        self.path = path
        self.bytes = bytes
        self.mode = mode
        self.uid = uid
        self.gid = gid
    }
}

/// Reading and replacing files on the local file system, the way a remediation tool must:
/// no writing through links, replace by rename, keep mode and owner, fsync before rename.
enum LocalFiles {
    static func errnoText(_ code: Int32 = errno) -> String { String(cString: strerror(code)) }

    /// The mode and owners of the file at `path` (never followed through a link), or `nil`
    /// when it does not exist.
    static func meta(_ path: String, displayPath: String? = nil) throws -> FileMeta? {
        let shown = displayPath ?? path
        var st = stat()
        if lstat(path, &st) != 0 {
            if errno == ENOENT || errno == ENOTDIR { return nil }
            if errno == EACCES, let why = Unreached.find(real: path, shown: shown) { throw why.error(file: shown) }
            throw MTAGuardError(codeFor(errno), file: shown, "cannot read its mode: \(errnoText())", hint: hintFor(errno))
        }
        if (st.st_mode & S_IFMT) == S_IFLNK {
            throw MTAGuardError(.unreadableFile, file: shown, "is a symbolic link; mtaguard does not change a mode through a link")
        }
        guard (st.st_mode & S_IFMT) == S_IFREG else { throw MTAGuardError(.unreadableFile, file: shown, "is not a regular file") }
        return FileMeta(path: shown, mode: UInt32(st.st_mode & 0o7777), uid: st.st_uid, gid: st.st_gid)
    }

    /// Sets the permission bits of the regular file at `path` to `mode` if they are `expected`
    /// now; never through a link (the file is opened with O_NOFOLLOW and changed by descriptor).
    /// Returns false when its mode is no longer `expected` (drift).
    static func changeMode(_ path: String, from expected: UInt32, to mode: UInt32, displayPath: String? = nil) throws -> Bool {
        let shown = displayPath ?? path
        let fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK)
        guard fd >= 0 else {
            if errno == ELOOP { throw MTAGuardError(.unreadableFile, file: shown, "is a symbolic link; its mode was not changed") }
            throw MTAGuardError(codeFor(errno), file: shown, "cannot open it to change its mode: \(errnoText())", hint: hintFor(errno))
        }
        defer { close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0, (st.st_mode & S_IFMT) == S_IFREG else {
            throw MTAGuardError(.unreadableFile, file: shown, "is not a regular file; its mode was not changed")
        }
        guard UInt32(st.st_mode & 0o7777) == expected else { return false }
        guard fchmod(fd, mode_t(mode)) == 0 else {
            throw MTAGuardError(codeFor(errno), file: shown, "cannot change its mode: \(errnoText())", hint: hintFor(errno))
        }
        return true
    }

    /// The file at `path`, or `nil` when it does not exist.
    static func read(_ path: String, displayPath: String? = nil) throws -> FileSnapshot? {
        switch try fact(path, displayPath: displayPath) {
        case .present(let snapshot): return snapshot
        case .absent: return nil
        case .unreached(let why): throw why.error(file: displayPath ?? path)
        }
    }

    /// What `read` finds, with the login's "could not tell" as an answer rather than an error.
    static func fact(_ path: String, displayPath: String? = nil) throws -> FileFact {
        let shown = displayPath ?? path
        var st = stat()
        if lstat(path, &st) != 0 {
            if errno == ENOENT || errno == ENOTDIR { return .absent }
            if errno == EACCES, let why = Unreached.find(real: path, shown: shown) { return .unreached(why) }
            throw MTAGuardError(codeFor(errno), file: shown, "cannot read: \(errnoText())", hint: hintFor(errno))
        }
        if (st.st_mode & S_IFMT) == S_IFLNK {
            throw MTAGuardError(
                .unreadableFile, file: shown, "is a symbolic link; mtaguard does not edit through links",
                hint: "point the item at the link's target, or replace the link by the file")
        }
        guard (st.st_mode & S_IFMT) == S_IFREG else {
            throw MTAGuardError(.unreadableFile, file: shown, "is not a regular file")
        }
        // Larger than mtaguard reads: not read at all, as the facts script sends no bytes of it.
        if st.st_size > FactsLimits.fileBytes { return .unreached(.tooLarge(bytes: UInt64(st.st_size))) }
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else {
            if errno == EACCES { return .unreached(.unreadable) }
            throw MTAGuardError(codeFor(errno), file: shown, "cannot read: \(errnoText())", hint: hintFor(errno))
        }
        defer { close(fd) }
        var data = Data()
        var buffer = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = buffer.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
            if n < 0 {
                if errno == EINTR { continue }
                throw MTAGuardError(file: shown, "cannot read: \(errnoText())")
            }
            if n == 0 { break }
            data.append(contentsOf: buffer[0..<n])
            // It grew since lstat: stop at the bound all the same.
            if data.count > FactsLimits.fileBytes { return .unreached(.tooLarge(bytes: UInt64(data.count))) }
        }
        return .present(FileSnapshot(
            path: shown, bytes: data, mode: UInt32(st.st_mode & 0o7777), uid: st.st_uid, gid: st.st_gid))
    }

    /// Replaces `path` with `bytes`: a temporary file in the same folder with the given mode and
    /// owner, fsynced, optionally checked by `validate` (which gets the temporary path), then
    /// renamed over the target and the folder fsynced. The target is never half-written.
    static func replace(
        _ path: String, with bytes: Data, mode: UInt32, uid: UInt32, gid: UInt32,
        displayPath: String? = nil, backdate: Int = 0, validate: ((String) throws -> Void)? = nil
    ) throws {
        let shown = displayPath ?? path
        let folder = (path as NSString).deletingLastPathComponent
        let base = (path as NSString).lastPathComponent
        var template = Array("\(folder)/.\(base).mtaguard-XXXXXX".utf8CString)
        let fd = template.withUnsafeMutableBufferPointer { mkstemp($0.baseAddress!) }
        guard fd >= 0 else {
            throw MTAGuardError(
                file: shown, "cannot create a temporary file beside it: \(errnoText())", hint: hintFor(errno))
        }
        let tempPath = String(decoding: template.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        var renamed = false
        defer {
            if !renamed { unlink(tempPath) }
        }
        do {
            defer { close(fd) }
            try bytes.withUnsafeBytes { raw in
                var offset = 0
                while offset < raw.count {
                    let n = write(fd, raw.baseAddress! + offset, raw.count - offset)
                    if n < 0 {
                        if errno == EINTR { continue }
                        throw MTAGuardError(codeFor(errno), file: shown, "cannot write the new file: \(errnoText())", hint: hintFor(errno))
                    }
                    offset += n
                }
            }
            if fchown(fd, uid, gid) != 0, geteuid() == 0 {
                throw MTAGuardError(file: shown, "cannot keep its owner: \(errnoText())")
            }
            if fchmod(fd, mode_t(mode)) != 0 {
                throw MTAGuardError(file: shown, "cannot keep its mode: \(errnoText())")
            }
            if backdate > 0 {
                // Best effort, as on a remote host: postfix then only waits for the file to cool down.
                var times = [timespec(tv_sec: time(nil) - backdate, tv_nsec: 0), timespec(tv_sec: time(nil) - backdate, tv_nsec: 0)]
                _ = futimens(fd, &times)
            }
            if fsync(fd) != 0 {
                throw MTAGuardError(file: shown, "cannot flush the new file: \(errnoText())", hint: hintFor(errno))
            }
        }
        try validate?(tempPath)
        if rename(tempPath, path) != 0 {
            throw MTAGuardError(codeFor(errno), file: shown, "cannot replace the file: \(errnoText())", hint: hintFor(errno))
        }
        renamed = true
        syncFolder(folder)
    }

    static func syncFolder(_ folder: String) {
        let dfd = open(folder, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if dfd >= 0 {
            fsync(dfd)
            close(dfd)
        }
    }

    /// Writes a private file (0600) atomically; used for journals and backups.
    static func writePrivate(_ path: String, _ bytes: Data) throws {
        try replace(path, with: bytes, mode: 0o600, uid: geteuid(), gid: getegid())
    }

    /// Writes a private file at `relative` inside `root` (a run folder), creating the folders
    /// on the way (0700). `relative` comes from input (a host's copy of a run, a plan): every
    /// part must be a plain name, and every folder on the way, `root` included, must be a real
    /// folder of this user, not a symbolic link, so the write cannot land outside `root`.
    static func writePrivate(inside root: String, _ relative: String, _ bytes: Data) throws {
        let parts = relative.split(separator: "/", omittingEmptySubsequences: false).map(String.init)
        guard !parts.isEmpty, parts.allSatisfy({ !$0.isEmpty && $0 != "." && $0 != ".." && !$0.utf8.contains(0) }) else {
            throw MTAGuardError(.journal, file: root, "refused to write \(HostPath.quotedForMessage(relative)): not a plain path inside the run folder")
        }
        var folder = root
        try ownFolder(folder)
        for part in parts.dropLast() {
            folder += "/" + part
            if mkdir(folder, 0o700) != 0 && errno != EEXIST {
                throw MTAGuardError(.journal, file: folder, "cannot create the folder: \(errnoText())", hint: hintFor(errno))
            }
            try ownFolder(folder)
        }
        try writePrivate(folder + "/" + parts[parts.count - 1], bytes)
    }

    /// `path` is a folder of this user's, not a symbolic link, and no one else may write in it.
    static func ownFolder(_ path: String) throws {
        var st = stat()
        guard lstat(path, &st) == 0 else { throw MTAGuardError(.journal, file: path, "cannot read the folder: \(errnoText())") }
        guard (st.st_mode & S_IFMT) == S_IFDIR else {
            throw MTAGuardError(.journal, file: path, (st.st_mode & S_IFMT) == S_IFLNK ? "is a symbolic link, not a folder: refused" : "is not a folder")
        }
        guard st.st_uid == geteuid(), st.st_mode & 0o022 == 0 else {
            throw MTAGuardError(.journal, file: path, "belongs to another user or may be written by others: refused")
        }
    }

    /// Creates a private folder (0700) and its parents.
    static func makePrivateFolder(_ path: String) throws {
        var isDir: ObjCBool = false
        if FileManager.default.fileExists(atPath: path, isDirectory: &isDir) {
            guard isDir.boolValue else { throw MTAGuardError(file: path, "exists and is not a folder") }
            return
        }
        do {
            try FileManager.default.createDirectory(
                atPath: path, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        } catch {
            throw MTAGuardError(file: path, "cannot create the folder: \(error.localizedDescription)")
        }
        chmod(path, 0o700)
    }

    /// The kind of failure an errno is: the login's rights, or a step that failed.
    static func codeFor(_ code: Int32) -> MTAGuardError.Code {
        code == EACCES || code == EPERM ? .permission : .failed
    }

    static func hintFor(_ code: Int32) -> String? {
        switch code {
        case EACCES, EPERM: return "run as root or as the file's owner"
        case EROFS: return "the file system is read-only; remount it read-write or use --root on a writable copy"
        case ENOSPC, EDQUOT: return "the file system is full; free space and run again"
        default: return nil
        }
    }
}
