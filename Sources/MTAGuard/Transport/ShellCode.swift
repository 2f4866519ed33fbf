/// POSIX `sh` text in which no value can become code or an option, by construction: the
/// literal parts of a `ShellCode` string are the script's own text, and every interpolated
/// `String` becomes one single-quoted word. Whole pieces of code nest with `\(code: other)`.
///
///     let step: ShellCode = "mv -f \(temp) \(target) 2>&1"    // temp, target: two quoted words
///
/// Every script mtaguard sends to a host is built from these (`RemoteScript`), so that
/// `shellcheck -s sh` sees the text as it runs and a hostile path, argument or message is data
/// in success and failure branches alike.
public struct ShellCode: Sendable, Equatable, ExpressibleByStringInterpolation, CustomStringConvertible {
    public private(set) var text: String

    public init(stringLiteral literal: String) { text = literal }

    public init(stringInterpolation: StringInterpolation) { text = stringInterpolation.text }

    public var description: String { text }

    public static func + (a: ShellCode, b: ShellCode) -> ShellCode {
        var c = a
        c.text += b.text
        return c
    }

    public static func += (a: inout ShellCode, b: ShellCode) { a.text += b.text }

    /// Pieces joined by `separator` (itself code).
    public static func joined(_ pieces: [ShellCode], separator: ShellCode = "") -> ShellCode {
        var c: ShellCode = ""
        for (i, p) in pieces.enumerated() {
            if i > 0 { c += separator }
            c += p
        }
        return c
    }

    public struct StringInterpolation: StringInterpolationProtocol {
        var text = ""

        public init(literalCapacity: Int, interpolationCount: Int) {
            text.reserveCapacity(literalCapacity + interpolationCount * 16)
        }

        public mutating func appendLiteral(_ literal: String) { text += literal }

        /// A value: always exactly one single-quoted shell word.
        public mutating func appendInterpolation(_ value: String) { text += shellQuote(value) }

        /// A number, as digits.
        public mutating func appendInterpolation<I: BinaryInteger>(_ value: I) { text += String(value) }

        /// An argument vector: one quoted word per element.
        public mutating func appendInterpolation(words: [String]) { text += shellWords(words) }

        /// Code built elsewhere from the same rules.
        public mutating func appendInterpolation(code: ShellCode) { text += code.text }
    }
}

/// A command line as a person would type it, quoted for a POSIX shell where needed.
public func shellWords(_ argv: [String]) -> String {
    argv.map(shellQuote).joined(separator: " ")
}

/// Quotes `word` for a POSIX shell: single quotes, with embedded ones as '\''. A word that
/// begins with `-` is still quoted as data, but the caller decides whether a command takes it
/// as an option: scripts put values after `--` or in a position that is never an option.
public func shellQuote(_ word: String) -> String {
    if !word.isEmpty, word.allSatisfy({ $0.isLetter || $0.isNumber || "-_./=:,+@%".contains($0) }),
        word.unicodeScalars.allSatisfy(\.isASCII)
    {
        return word
    }
    return "'" + word.replacingOccurrences(of: "'", with: "'\\''") + "'"
}
