/// A failure reported by Augeas, with its own code and, for file and text errors,
/// where in the input it happened.
public struct AugeasError: Error, Sendable, Equatable, CustomStringConvertible {
    /// `aug_errcode_t`, plus `fileError` for failures Augeas records under `/augeas//error`.
    public enum Code: Int, Sendable {
        case none = 0
        case noMemory
        case internalError
        case badPath
        case noMatch
        case multipleMatches
        case lensSyntax
        case noLens
        case multipleTransforms
        case noSpan
        case moveIntoDescendant
        case commandRun
        case badArgument
        case badLabel
        case copyIntoDescendant
        case fileAccess
        case fileError = 1000
    }

    public var code: Code
    public var message: String
    public var minor: String?
    public var details: String?
    /// The file, relative to the Augeas root, when the error is about one.
    public var file: String?
    /// 1-based line and column of a parse failure.
    public var line: Int?
    public var character: Int?
    /// 0-based byte offset of a parse failure.
    public var position: Int?

    public init(
        code: Code, message: String, minor: String? = nil, details: String? = nil,
        file: String? = nil, line: Int? = nil, character: Int? = nil, position: Int? = nil
    ) {
        self.code = code
        self.message = message
        self.minor = minor
        self.details = details
        self.file = file
        self.line = line
        self.character = character
        self.position = position
    }

    public var description: String {
        var where_ = ""
        if let file { where_ += file }
        if let line { where_ += (where_.isEmpty ? "line " : ":") + "\(line)" }
        if let character { where_ += ":\(character)" }
        var text = where_.isEmpty ? "" : where_ + ": "
        text += message
        if let minor, minor != message, !minor.isEmpty { text += " (\(minor))" }
        if code != .fileError, let details, !details.isEmpty { text += ": \(details)" }
        return text
    }
}
