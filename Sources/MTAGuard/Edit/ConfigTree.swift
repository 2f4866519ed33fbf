import Augeas
import Foundation

/// One Augeas handle holding the parsed trees of one host's files. Lenses are loaded on first
/// use only, so a run pays for the lenses its items need and no others.
final class ConfigWorkspace {
    let augeas: Augeas
    private var count = 0

    init() throws {
        augeas = try Augeas(loadPath: [Resources.lensesFolder()], flags: [.noModuleAutoload, .enableSpan])
    }

    /// Parses `text` with `lens`; the tree lives under the returned path.
    /// A last line without its newline is normal for the MTAs but many lenses reject it: such a
    /// text is parsed with the newline added, and `render` takes it off again.
    /// A CRLF line end is read as LF, as postfix and sendmail read it, and written back as CRLF.
    /// `mta` names the program that reads the file, for the hint when the lens cannot read it.
    func parse(_ original: String, lens: String, file: String, host: String, mta: String? = nil) throws -> ConfigTree {
        count += 1
        let path = "/mtaguard/tree/f\(count)"
        let bytes = Data(original.utf8)
        guard bytes.count <= Self.maximumBytes else {
            throw MTAGuardError(.unreadableFile, 
                host: host, file: file,
                "is \(bytes.count) bytes; mtaguard edits configuration files of at most \(Self.maximumBytes) bytes",
                hint: "the file was left as it is; edit it by hand")
        }
        if let nul = bytes.firstIndex(of: 0) {
            // Augeas reads text up to a NUL only: the rest of the file would be lost.
            let (line, column) = TextPosition.lineAndColumn(of: nul, in: bytes)
            throw MTAGuardError(.unreadableFile, 
                host: host, file: file, line: line, column: column, "holds a NUL byte; mtaguard edits text files only",
                hint: "the file was left as it is; look at it by hand")
        }
        let endings = LineEndings(bytes)
        let unix = endings == .lf ? original : String(decoding: LineEndings.toLF(bytes), as: UTF8.self)
        let addedNewline = !unix.isEmpty && !unix.hasSuffix("\n")
        let text = addedNewline ? unix + "\n" : unix
        do {
            try augeas.parse(text: text, lens: lens, into: path)
        } catch let error as AugeasError {
            if error.code == .fileError {
                // The lens is mtaguard's reader, not the MTA's: a line it cannot read may well be
                // valid (this is reached from a read-only check too), so say whose limit it is.
                let name = (file as NSString).lastPathComponent
                throw MTAGuardError(
                    .unreadableFile, host: host, file: file, line: error.line, column: error.character,
                    "mtaguard's reader for \(name) (\(lens)) cannot read this line: \(error.message)"
                        + lineExcerpt(text, error.line),
                    hint: "the file was left as it is; if \(mta ?? "the program that reads it") accepts it, report it as an mtaguard bug")
            }
            throw MTAGuardError(.unreadableFile, host: host, file: file, "Augeas: \(error)")
        }
        return ConfigTree(
            workspace: self, path: path, lens: lens, text: text, addedNewline: addedNewline, endings: endings,
            file: file, host: host)
    }

    /// Largest configuration file mtaguard parses: Augeas takes seconds per MiB and more than
    /// linearly; real main.cf and sendmail.cf files are tens of KiB.
    static let maximumBytes = 1 << 20

    private func lineExcerpt(_ text: String, _ line: Int?) -> String {
        guard let line, line >= 1 else { return "" }
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false)
        guard line <= lines.count else { return "" }
        let shown = lines[line - 1].prefix(120)
        return " ['\(shown)']"
    }
}

/// A parsed configuration file: a subtree of the workspace plus the text it came from.
struct ConfigTree {
    let workspace: ConfigWorkspace
    let path: String
    let lens: String
    let text: String
    /// The original had no final newline (see `ConfigWorkspace.parse`).
    let addedNewline: Bool
    /// How the original's lines end; `text` ends them all in LF.
    let endings: LineEndings
    let file: String
    let host: String

    var augeas: Augeas { workspace.augeas }

    func wrap<T>(_ body: () throws -> T) throws -> T {
        do {
            return try body()
        } catch let error as AugeasError {
            throw MTAGuardError(.unreadableFile, host: host, file: file, "Augeas (\(lens)): \(error)")
        }
    }

    func match(_ relative: String) throws -> [String] {
        try wrap { try augeas.match(path + "/" + relative) }
    }

    func value(_ node: String) throws -> String? {
        try wrap { try augeas.get(node) }
    }

    /// 1-based line of the node in the original text, when Augeas knows it.
    func line(of node: String) -> Int? {
        guard let span = try? augeas.span(node), span.nodeRange.lowerBound <= text.utf8.count else { return nil }
        let prefix = text.utf8.prefix(span.nodeRange.lowerBound)
        return prefix.reduce(1) { $1 == UInt8(ascii: "\n") ? $0 + 1 : $0 }
    }

    /// The whole line a node sits on, as written.
    func sourceLine(_ number: Int?) -> String? {
        guard let number, number >= 1 else { return nil }
        var current = 1
        var start = text.utf8.startIndex
        for i in text.utf8.indices {
            if text.utf8[i] == UInt8(ascii: "\n") {
                if current == number { return String(text[start..<i]) }
                current += 1
                start = text.utf8.index(after: i)
            }
        }
        return current == number ? String(text[start...]) : nil
    }

    /// The tree as text. When the original lacked a final newline and its last line is still
    /// last, the newline is taken off again; after a line appended at the end it stays. Lines end
    /// as the original's did (CRLF for a CRLF file); a file that mixes both is not rewritten,
    /// since nothing says which ending a new line takes.
    func render(restoringLineEndings: Bool = true) throws -> String {
        var out = try wrap { try augeas.render(lens: lens, from: path) }
        if addedNewline, out.hasSuffix("\n") {
            let body = text.dropLast()
            let lastStart = body.lastIndex(of: "\n").map { body.index(after: $0) } ?? body.startIndex
            let earlier = text[..<lastStart], lastLine = body[lastStart...]
            // The last line is still last, as it was or edited in place: it keeps having no newline.
            let stillLast = out.hasSuffix("\n" + lastLine + "\n") || out == lastLine + "\n"
            let editedInPlace = out.hasPrefix(earlier) && !out.dropFirst(earlier.count).dropLast().contains("\n")
            if stillLast || editedInPlace { out = String(out.dropLast()) }
        }
        guard restoringLineEndings else { return out }
        switch endings {
        case .lf:
            return out
        case .crlf:
            return String(decoding: LineEndings.toCRLF(Data(out.utf8)), as: UTF8.self)
        case .mixed(let crlfLine, let lfLine):
            throw MTAGuardError(.unreadableFile, 
                host: host, file: file, line: lfLine,
                "mixes line endings (line \(crlfLine) ends in CRLF, line \(lfLine) in LF); mtaguard will not guess which a changed line takes",
                hint: "nothing was changed; convert the file to one kind (dos2unix or unix2dos) and run again")
        }
    }
}

/// How a file's lines end. postfix and sendmail both read CRLF as LF.
enum LineEndings: Equatable {
    case lf, crlf
    /// The first line ending in each kind.
    case mixed(crlfLine: Int, lfLine: Int)

    init(_ bytes: Data) {
        var line = 1
        var firstCRLF: Int?, firstLF: Int?
        var previous: UInt8 = 0
        for byte in bytes {
            if byte == 0x0A {
                if previous == 0x0D { firstCRLF = firstCRLF ?? line } else { firstLF = firstLF ?? line }
                if let c = firstCRLF, let l = firstLF {
                    self = .mixed(crlfLine: c, lfLine: l)
                    return
                }
                line += 1
            }
            previous = byte
        }
        self = firstCRLF != nil ? .crlf : .lf
    }

    static func toLF(_ bytes: Data) -> Data {
        var out = Data(capacity: bytes.count)
        var pendingCR = false
        for byte in bytes {
            if pendingCR, byte != 0x0A { out.append(0x0D) }
            pendingCR = byte == 0x0D
            if !pendingCR { out.append(byte) }
        }
        if pendingCR { out.append(0x0D) }
        return out
    }

    static func toCRLF(_ bytes: Data) -> Data {
        var out = Data(capacity: bytes.count + bytes.count / 16)
        for byte in bytes {
            if byte == 0x0A { out.append(0x0D) }
            out.append(byte)
        }
        return out
    }
}
