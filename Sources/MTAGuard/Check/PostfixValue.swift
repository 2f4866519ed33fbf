/// A main.cf value as postfix reads it, from the text mtaguard's Postfix_Main.lns stores.
///
/// The lens stores a continued value as ONE string, from its first to its last non-blank
/// character, with the newlines, the leading blanks of continuation lines and the comment and
/// blank lines between them as written (an Augeas node holds a single store). postfix
/// (util/readlline.c, util/split_nameval.c) skips empty, whitespace-only and "#" lines, joins
/// the remaining physical lines with nothing between them (the newline goes, a continuation
/// line's leading whitespace stays) and trims whitespace at both ends of the value. Measured
/// with postfix 3.7: `bar = { a ⏎  b }` is "{ a   b }" to postfix (its "unused parameter"
/// warning shows the raw value); `postconf -h` prints values with every whitespace run made one
/// space (postconf_print.c), so compare with it through `normalizedWhitespace`.
enum PostfixValue {
    /// The lens that stores values this way.
    static let lens = "Postfix_Main.lns"

    /// postfix's value for the stored text `stored`.
    static func read(_ stored: String) -> String {
        let lines = stored.split(separator: "\n", omittingEmptySubsequences: false)
        // The first line is the value's own start ("name = #x" has the value "#x"); every later
        // line follows a newline, so postfix skips it when it is blank or a comment.
        var joined = String(lines.first ?? "")
        for line in lines.dropFirst() where !isSkipped(line) { joined += line }
        return trimmed(joined)
    }

    /// An empty, whitespace-only or comment line, to postfix.
    static func isSkipped<S: StringProtocol>(_ line: S) -> Bool {
        guard let first = line.unicodeScalars.first(where: { !isSpace($0) }) else { return true }
        return first == "#"
    }

    /// `value` with each run of whitespace made one space and none at either end, as
    /// `postconf -h` prints a value.
    static func normalizedWhitespace(_ value: String) -> String {
        value.unicodeScalars.split(whereSeparator: isSpace).map { String(String.UnicodeScalarView($0)) }
            .joined(separator: " ")
    }

    /// C's isspace in the C locale, which postfix's ISSPACE is.
    static func isSpace(_ c: Unicode.Scalar) -> Bool {
        c == " " || c == "\t" || c == "\n" || c == "\r" || c == "\u{0B}" || c == "\u{0C}"
    }

    private static func trimmed(_ text: String) -> String {
        let scalars = text.unicodeScalars
        guard let start = scalars.firstIndex(where: { !isSpace($0) }),
            let end = scalars.lastIndex(where: { !isSpace($0) })
        else { return "" }
        return String(scalars[start...end])
    }
}
