import Foundation

/// Where in a file's bytes something is, as a person counts it: 1-based line and column.
enum TextPosition {
    /// Line and column (in bytes) of byte `offset`.
    static func lineAndColumn(of offset: Int, in bytes: Data) -> (line: Int, column: Int) {
        var line = 1, lineStart = 0
        for (i, byte) in bytes.prefix(offset).enumerated() where byte == 0x0A {
            line += 1
            lineStart = i + 1
        }
        return (line, offset - lineStart + 1)
    }

    /// Offset of the first byte that is not part of valid UTF-8, or nil when all of it is.
    static func firstInvalidUTF8(_ bytes: Data) -> Int? {
        var parser = Unicode.UTF8.ForwardParser()
        var iterator = bytes.makeIterator()
        var offset = 0
        while true {
            switch parser.parseScalar(from: &iterator) {
            case .valid(let scalar): offset += scalar.count
            case .emptyInput: return nil
            case .error: return offset
            }
        }
    }

    /// "is not UTF-8 text", at the first byte that is not.
    static func notUTF8(file: String, bytes: Data, host: String? = nil, what: String, hint: String? = nil) -> MTAGuardError {
        let offset = firstInvalidUTF8(bytes) ?? 0
        let (line, column) = lineAndColumn(of: offset, in: bytes)
        let byte = offset < bytes.count ? String(format: "0x%02x", bytes[bytes.startIndex + offset]) : "end of file"
        return MTAGuardError(.invalidInput, 
            host: host, file: file, line: line, column: column,
            "is not UTF-8 text (byte \(byte) here); \(what)", hint: hint)
    }
}
