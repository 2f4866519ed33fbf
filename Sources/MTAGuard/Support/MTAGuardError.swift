/// A failure a person can act on: which host, which file, which line, what went wrong, what to do.
/// Its `code` says what kind of failure it is, for the engine, the reports and the exit code to
/// switch on (as swift-subprocess's `SubprocessError.Code`); the text is for people only.
public struct MTAGuardError: Error, Sendable, CustomStringConvertible {
    /// The kinds of failure that a caller treats differently.
    public enum Code: String, Sendable, Codable, CaseIterable {
        /// The host could not be reached (SSH could not connect or log in, or timed out).
        case unreachable
        /// The login may not read or write what it must (use --become or root).
        case permission
        /// A file on the host is not something mtaguard reads: a link, not a regular file,
        /// too large, binary, mixed line endings, or a construct its reader cannot read.
        case unreadableFile = "unreadable-file"
        /// A playbook, inventory, knowledge base or option given by the user is malformed.
        case invalidInput = "invalid-input"
        /// A file changed since it was read (drift).
        case drift
        /// Another run holds the host's lock, or a stale lock is there.
        case locked
        /// The journal could not be written or read: nothing is changed without it.
        case journal
        /// The host did not answer as the scripts expect (a broken or foreign shell).
        case hostProtocol = "host-protocol"
        /// The run was interrupted before this host started.
        case interrupted
        /// A step on the host failed (validator, command, write).
        case failed
    }

    public var code: Code
    public var host: String?
    public var file: String?
    public var line: Int?
    public var column: Int?
    public var message: String
    public var hint: String?

    /// A failed step (`.failed`); other kinds say their code.
    public init(
        host: String? = nil, file: String? = nil, line: Int? = nil, column: Int? = nil,
        _ message: String, hint: String? = nil
    ) {
        self.init(.failed, host: host, file: file, line: line, column: column, message, hint: hint)
    }

    public init(
        _ code: Code, host: String? = nil, file: String? = nil, line: Int? = nil, column: Int? = nil,
        _ message: String, hint: String? = nil
    ) {
        self.code = code
        self.host = host
        self.file = file
        self.line = line
        self.column = column
        self.message = message
        self.hint = hint
    }

    public var description: String {
        var place: [String] = []
        if let host { place.append(host) }
        if let file {
            var f = file
            if let line { f += ":\(line)" }
            if let line, let column, line > 0 { f += ":\(column)" }
            place.append(f)
        }
        var text = place.isEmpty ? message : place.joined(separator: ": ") + ": " + message
        if let hint { text += " (\(hint))" }
        return text
    }

    /// The same error told without its host, where the host is said already.
    var withoutHost: MTAGuardError {
        var copy = self
        copy.host = nil
        return copy
    }

    func on(host: String) -> MTAGuardError {
        var copy = self
        if copy.host == nil { copy.host = host }
        return copy
    }
}
