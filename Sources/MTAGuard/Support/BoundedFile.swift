import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Reading a file the control node is given (an inventory, a playbook, an exceptions file, a
/// knowledge base, a plan, a journal's manifest or backup): a regular file of at most `limit`
/// bytes, or an error that names the file, its size and the bound. Never more than `limit`
/// bytes are read, whatever the file claims or grows to while it is read, and a FIFO, device
/// or socket (`--plan /dev/zero`, a named pipe nobody writes to) is refused before a byte is
/// read, instead of filling memory or waiting forever.
#if canImport(Glibc)
private let systemRead = Glibc.read
#else
private let systemRead = Darwin.read
#endif

enum BoundedFile {
    /// The most a plan file may hold: every host's files (each at most
    /// `FactsLimits.fileBytes`, stored once by content) in base64, and their findings.
    static let planBytes = 256 << 20
    /// A journal's manifest or host record: at most `Manifest.maxHosts` hosts of
    /// `Manifest.maxPerHost` entries, in practice far less.
    static let manifestBytes = 64 << 20
    /// A pre-image kept in a journal: a file mtaguard edits is at most
    /// `ConfigTree.maximumBytes`; a folder or a rebuilt file is kept whole, so allow more.
    static let backupBytes = 16 << 20

    static func read(_ path: String, limit: Int, what: String, code: MTAGuardError.Code = .invalidInput, hint: String? = nil) throws -> Data {
        let fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY)
        guard fd >= 0 else {
            let e = errno
            throw MTAGuardError(code, file: path, e == ENOENT ? "no such file" : "cannot be read: \(LocalFiles.errnoText(e))", hint: hint)
        }
        defer { close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0 else {
            throw MTAGuardError(code, file: path, "cannot be read: \(LocalFiles.errnoText())", hint: hint)
        }
        switch st.st_mode & S_IFMT {
        case S_IFREG: break
        case S_IFDIR: throw MTAGuardError(code, file: path, "is a folder, not \(what)", hint: hint)
        default: throw MTAGuardError(code, file: path, "is not a regular file (a device, pipe or socket), so it is not read as \(what)", hint: hint)
        }
        if Int(st.st_size) > limit { throw tooLarge(path, Int(st.st_size), limit, what, code, hint) }
        // Blocking reads from here on: a regular file never blocks, but O_NONBLOCK is for the open only.
        _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK)
        var data = Data()
        var buffer = [UInt8](repeating: 0, count: 1 << 16)
        while true {
            let n = buffer.withUnsafeMutableBytes { systemRead(fd, $0.baseAddress, $0.count) }
            if n < 0 {
                if errno == EINTR { continue }
                throw MTAGuardError(code, file: path, "cannot be read: \(LocalFiles.errnoText())", hint: hint)
            }
            if n == 0 { break }
            data.append(contentsOf: buffer[0..<n])
            // The file grew while it was read: stop at the bound.
            if data.count > limit { throw tooLarge(path, data.count, limit, what, code, hint, grew: true) }
        }
        return data
    }

    private static func tooLarge(_ path: String, _ size: Int, _ limit: Int, _ what: String, _ code: MTAGuardError.Code, _ hint: String?, grew: Bool = false) -> MTAGuardError {
        MTAGuardError(code, file: path,
            "is \(grew ? "more than " : "")\(size) bytes; \(what) is at most \(limit) bytes (\(limit >> 20) MiB), so it is not read",
            hint: hint)
    }
}
