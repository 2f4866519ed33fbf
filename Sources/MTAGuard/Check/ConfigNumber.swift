/// A whole number in a configuration file, read as the MTA that owns the file reads it: a check
/// that compares a number (`at_least`) judges the number the MTA would use, never Swift's idea of
/// one. `Int(" 40")` trimmed with `.whitespaces` is 40, but sendmail's `atoi` stops at the
/// no-break space and reads 0 (no limit), postfix stops with "bad numerical configuration", and
/// exim stops with "integer expected".
///
/// - sendmail (readcf.c, setoption): `atoi(val)` for int options (MaxDaemonChildren,
///   ConnectionRateThrottle, MaxHeadersLength, MaxRecipientsPerMessage, …), `atol(val)` for
///   MaxMessageSize and MinFreeBlocks. glibc's `atoi` is `(int) strtol(s, NULL, 10)`: leading
///   ASCII isspace, an optional sign, decimal digits up to the first non-digit; anything else is
///   ignored, nothing is an error. strtol saturates at LONG_MAX; the cast to int then keeps the
///   low 32 bits, so '4294967336' is 40 on 64-bit Linux but INT_MAX on a 32-bit build: such a
///   value is not established and never passes.
/// - postfix (mail_conf_int.c, mail_conf_long.c): `strtol(value, &end, 10)` on the whole value
///   (already trimmed of ASCII whitespace); an empty value, any character left over, or a value
///   out of range of the parameter's C type is fatal ("bad numerical configuration").
/// - exim (readconf.c, opt_int): `strtol(value, &end, 0)` (so `0x14` and `024` are 20), then one
///   K, M or G (either case) multiplies by 1024, 1024² or 1024³; the result must fit an int;
///   after it only whitespace may follow ("extra characters follow integer value"); no digits at
///   all is "integer expected".
struct ConfigNumber: Sendable, Equatable {
    /// The number the MTA uses, or nil when it refuses the text.
    var value: Int?
    /// False when the MTA's reading depends on the platform it was built for (a sendmail value
    /// beyond the range of its C type): mtaguard cannot say which number a host uses.
    var portable: Bool
    /// How the MTA reads the text, in a sentence: "sendmail reads ' 40' as 0 (atoi stops at
    /// U+00A0 NO-BREAK SPACE): no limit".
    var account: String
    /// The text is the number written plainly (decimal digits only): what mtaguard writes.
    var plain: Bool
    /// mtaguard cannot tell the number (a postfix value that names another parameter): a
    /// person must read it (수동 확인), and nothing is changed.
    var undetermined = false

    /// `text`, the value of `setting` (an option name, an Augeas path naming it, or an m4 define)
    /// in a file of `mta`.
    static func read(_ text: String, mta: String, setting: String) -> ConfigNumber {
        let bytes = Array(text.utf8)
        let plain = !bytes.isEmpty && bytes.count <= 18 && bytes.allSatisfy { $0 >= 0x30 && $0 <= 0x39 }
            && (bytes.count == 1 || bytes[0] != 0x30)
        var reading: ConfigNumber
        switch mta {
        case "postfix": reading = postfix(bytes, text: text, setting: setting)
        case "exim": reading = exim(bytes, text: text)
        default: reading = sendmail(bytes, text: text, setting: setting)
        }
        reading.plain = plain
        return reading
    }

    /// Whether the number passes a check for at least `least`.
    func atLeast(_ least: Int) -> Bool {
        guard let value, portable else { return false }
        return value >= least
    }

    // MARK: - sendmail

    /// sendmail's options read with `atol` rather than `atoi`.
    static let sendmailLongOptions = ["maxmessagesize", "minfreeblocks"]

    static func sendmailUsesAtol(_ setting: String) -> Bool {
        let letters = String(setting.lowercased().unicodeScalars.filter { ("a"..."z").contains($0) })
        return sendmailLongOptions.contains { letters.contains($0) }
    }

    private static func sendmail(_ bytes: [UInt8], text: String, setting: String) -> ConfigNumber {
        let long = sendmailUsesAtol(setting)
        let function = long ? "atol" : "atoi"
        let parsed = CNumber.strtol(bytes, base: 10)
        var value = parsed.value
        var portable = !parsed.overflowed
        if !long {
            // (int) of a long: the low 32 bits, as two's complement.
            let truncated = Int(Int32(truncatingIfNeeded: value))
            if truncated != value { portable = false }
            value = truncated
        }
        var account = "sendmail reads '\(text)' as \(value)"
        if !parsed.digits {
            let first = bytes.firstIndex { !CNumber.isSpace($0) } ?? bytes.count
            account += first < bytes.count ? " (\(function)\(stop(bytes, at: first)) before any digit)" : " (\(function) finds no digits)"
        } else if !portable {
            account += " on 64-bit Linux, but the number is beyond the range of \(long ? "long" : "int") on some platforms"
                + " (\(function) overflows), so what a host reads depends on its build"
        } else if parsed.end < bytes.count {
            account += " (\(function)\(stop(bytes, at: parsed.end)))"
        }
        if value <= 0 { account += ": no limit" }
        return ConfigNumber(value: value, portable: portable, account: account, plain: false)
    }

    // MARK: - postfix

    /// main.cf parameters postfix reads as a C long (mail_conf_long); the others are ints.
    static let postfixLongParameters: Set<String> = [
        "message_size_limit", "mailbox_size_limit", "virtual_mailbox_limit", "queue_minfree", "bounce_size_limit",
    ]

    private static func postfix(_ bytes: [UInt8], text: String, setting: String) -> ConfigNumber {
        let name = setting.split(separator: "/").last.map(String.init) ?? setting
        let long = postfixLongParameters.contains(name)
        let bad = "postfix refuses '\(text)' as \(name): fatal: bad numerical configuration"
        if bytes.contains(0x24) {
            return ConfigNumber(
                value: nil, portable: true,
                account: "postfix expands the $ in '\(text)' before reading a number; mtaguard does not: read it with postconf -x",
                plain: false, undetermined: true)
        }
        let parsed = CNumber.strtol(bytes, base: 10)
        guard !bytes.isEmpty else { return ConfigNumber(value: nil, portable: true, account: bad + " (the value is empty)", plain: false) }
        guard parsed.end == bytes.count else {
            return ConfigNumber(value: nil, portable: true, account: bad + " (strtol\(stop(bytes, at: parsed.end)))", plain: false)
        }
        guard !parsed.overflowed, long || Int(Int32(truncatingIfNeeded: parsed.value)) == parsed.value else {
            return ConfigNumber(value: nil, portable: true, account: bad + " (out of range of a C \(long ? "long" : "int"))", plain: false)
        }
        var account = "postfix reads '\(text)' as \(parsed.value)"
        if parsed.value <= 0 { account += parsed.value == 0 ? ": no limit" : ": below any limit" }
        return ConfigNumber(value: parsed.value, portable: true, account: account, plain: false)
    }

    // MARK: - exim

    private static func exim(_ bytes: [UInt8], text: String) -> ConfigNumber {
        func refused(_ why: String) -> ConfigNumber {
            ConfigNumber(value: nil, portable: true, account: "exim refuses '\(text)': \(why)", plain: false)
        }
        let parsed = CNumber.strtol(bytes, base: 0)
        guard parsed.digits else { return refused("integer expected") }
        var value = parsed.value
        var overflow = parsed.overflowed
        var end = parsed.end
        var suffix = ""
        if !overflow, end < bytes.count {
            let shifts: [UInt8: Int] = [0x6B: 10, 0x4B: 10, 0x6D: 20, 0x4D: 20, 0x67: 30, 0x47: 30]
            if let shift = shifts[bytes[end]] {
                let factor = 1 << shift
                if value > Int(Int32.max) / factor || value < Int(Int32.min) / factor { overflow = true } else { value *= factor }
                suffix = " (\(Character(Unicode.Scalar(bytes[end]))) multiplies by \(factor))"
                end += 1
            }
        }
        if overflow || value > Int(Int32.max) || value < Int(Int32.min) {
            return refused("absolute value of integer is too large (overflow)")
        }
        while end < bytes.count, CNumber.isSpace(bytes[end]) { end += 1 }
        guard end == bytes.count else { return refused("extra characters follow integer value\(stop(bytes, at: end))") }
        var account = "exim reads '\(text)' as \(value)\(suffix)"
        if value <= 0 { account += ": no limit" }
        return ConfigNumber(value: value, portable: true, account: account, plain: false)
    }

    // MARK: - words

    /// " stops at U+00A0 NO-BREAK SPACE": the character where reading stopped, named.
    private static func stop(_ bytes: [UInt8], at index: Int) -> String {
        guard index < bytes.count else { return "" }
        let rest = String(decoding: bytes[index...], as: UTF8.self)
        guard let scalar = rest.unicodeScalars.first else { return "" }
        if scalar.value >= 0x21 && scalar.value < 0x7F { return " stops at '\(Character(scalar))'" }
        let name = scalar.properties.name ?? scalar.properties.nameAlias ?? "a control character"
        return " stops at U+\(String(scalar.value, radix: 16, uppercase: true).leftPadded(to: 4)) \(name)"
    }
}

/// C's number reading in the C locale, byte for byte.
enum CNumber {
    /// C's isspace in the C locale: space, \t, \n, \v, \f, \r.
    static func isSpace(_ b: UInt8) -> Bool { b == 0x20 || (b >= 0x09 && b <= 0x0D) }

    struct Parsed: Equatable {
        /// The value, saturated at the range of a 64-bit long as glibc's strtol does.
        var value: Int
        var overflowed: Bool
        /// Whether any digit was read (else strtol's end is the start).
        var digits: Bool
        /// Where reading stopped (strtol's end pointer), or 0 with no digits.
        var end: Int
    }

    /// glibc's strtol: leading isspace, a sign, then digits of `base` (10; or 0: a `0x` prefix
    /// is hexadecimal, a leading 0 octal).
    static func strtol(_ bytes: [UInt8], base: Int) -> Parsed {
        var i = 0
        while i < bytes.count, isSpace(bytes[i]) { i += 1 }
        var negative = false
        if i < bytes.count, bytes[i] == 0x2B || bytes[i] == 0x2D {
            negative = bytes[i] == 0x2D
            i += 1
        }
        var radix = base
        if base == 0 {
            if i + 1 < bytes.count, bytes[i] == 0x30, bytes[i + 1] | 0x20 == 0x78, i + 2 < bytes.count, digit(bytes[i + 2], 16) != nil {
                radix = 16
                i += 2
            } else if i < bytes.count, bytes[i] == 0x30 {
                radix = 8
            } else {
                radix = 10
            }
        }
        let start = i
        var magnitude: UInt64 = 0
        var overflowed = false
        while i < bytes.count, let d = digit(bytes[i], radix) {
            let (m, o1) = magnitude.multipliedReportingOverflow(by: UInt64(radix))
            let (s, o2) = m.addingReportingOverflow(UInt64(d))
            if o1 || o2 { overflowed = true } else { magnitude = s }
            i += 1
        }
        guard i > start else { return Parsed(value: 0, overflowed: false, digits: false, end: 0) }
        let limit = negative ? UInt64(Int64.max) + 1 : UInt64(Int64.max)
        if overflowed || magnitude > limit {
            return Parsed(value: negative ? Int.min : Int.max, overflowed: true, digits: true, end: i)
        }
        let value = negative ? (magnitude == limit ? Int.min : -Int(magnitude)) : Int(magnitude)
        return Parsed(value: value, overflowed: false, digits: true, end: i)
    }

    private static func digit(_ b: UInt8, _ radix: Int) -> Int? {
        let d: Int
        switch b {
        case 0x30...0x39: d = Int(b - 0x30)
        case 0x61...0x7A: d = Int(b - 0x61) + 10
        case 0x41...0x5A: d = Int(b - 0x41) + 10
        default: return nil
        }
        return d < radix ? d : nil
    }
}

extension String {
    fileprivate func leftPadded(to width: Int) -> String {
        count >= width ? self : String(repeating: "0", count: width - count) + self
    }
}
