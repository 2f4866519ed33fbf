/// A path on a host as mtaguard accepts it from anything outside the control node (a host's
/// kept copy of a run, a plan file, a manifest): absolute, no empty, `.` or `..` part, no NUL
/// or other control character, at most `maxBytes` bytes and `maxPart` bytes a part. Such a
/// path joined under a folder of the control node stays inside it.
public enum HostPath {
    public static let maxBytes = 1024
    public static let maxPart = 255

    /// Why `path` is not one, or nil when it is.
    public static func problem(_ path: String) -> String? {
        let bytes = Array(path.utf8)
        guard bytes.first == UInt8(ascii: "/") else { return "is not an absolute path" }
        guard bytes.count <= maxBytes else { return "is longer than \(maxBytes) bytes" }
        guard !bytes.contains(where: { $0 < 0x20 || $0 == 0x7F }) else { return "holds a control character" }
        for part in path.utf8.split(separator: UInt8(ascii: "/"), omittingEmptySubsequences: false).dropFirst() {
            if part.isEmpty { return "has an empty part (//, or a trailing /)" }
            if part.elementsEqual(".".utf8) || part.elementsEqual("..".utf8) { return "has a '.' or '..' part" }
            if part.count > maxPart { return "has a part longer than \(maxPart) bytes" }
        }
        return nil
    }

    /// `path` if it is one; else an error that names it, quoted so that it cannot forge a line.
    public static func checked(_ path: String, what: String = "path", host: String? = nil, file: String? = nil) throws -> String {
        guard let problem = problem(path) else { return path }
        throw MTAGuardError(.invalidInput, host: host, file: file, "the \(what) \(quotedForMessage(path)) \(problem)")
    }

    /// A value shown in a message: at most 200 characters, control characters escaped.
    static func quotedForMessage(_ value: String) -> String {
        var out = ""
        for scalar in value.unicodeScalars.prefix(200) {
            out += scalar.value < 0x20 || scalar.value == 0x7F ? "\\u{\(String(scalar.value, radix: 16))}" : String(scalar)
        }
        return "'" + out + (value.unicodeScalars.count > 200 ? "…" : "") + "'"
    }
}
