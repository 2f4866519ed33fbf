/// A failure a person can act on: which host, which file, which line, what went wrong, what to do.
public struct MTAGuardError: Error, Sendable, CustomStringConvertible {
    public var host: String?
    public var file: String?
    public var line: Int?
    public var column: Int?
    public var message: String
    public var hint: String?

    public init(
        host: String? = nil, file: String? = nil, line: Int? = nil, column: Int? = nil,
        _ message: String, hint: String? = nil
    ) {
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
