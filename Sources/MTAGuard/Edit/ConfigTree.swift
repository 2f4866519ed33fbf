import Augeas
import Foundation

/// The lenses mtaguard ships (sendmail.cf, sendmail.mc, …), found beside the binary's resources;
/// `MTAGUARD_LENSES` points elsewhere for development.
public enum Lenses {
    public static var folder: String {
        if let env = ProcessInfo.processInfo.environment["MTAGUARD_LENSES"], !env.isEmpty { return env }
        return Bundle.module.path(forResource: "lenses", ofType: nil) ?? "lenses"
    }
}

/// One Augeas handle holding the parsed trees of one host's files. Lenses are loaded on first
/// use only, so a run pays for the lenses its items need and no others.
final class ConfigWorkspace {
    let augeas: Augeas
    private var count = 0

    init() throws {
        augeas = try Augeas(loadPath: [Lenses.folder], flags: [.noModuleAutoload, .enableSpan])
    }

    /// Parses `text` with `lens`; the tree lives under the returned path.
    /// A last line without its newline is normal for the MTAs but many lenses reject it: such a
    /// text is parsed with the newline added, and `render` takes it off again.
    func parse(_ original: String, lens: String, file: String, host: String) throws -> ConfigTree {
        count += 1
        let path = "/mtaguard/tree/f\(count)"
        let addedNewline = !original.isEmpty && !original.hasSuffix("\n")
        let text = addedNewline ? original + "\n" : original
        do {
            try augeas.parse(text: text, lens: lens, into: path)
        } catch let error as AugeasError {
            if error.code == .fileError {
                throw MTAGuardError(
                    host: host, file: file, line: error.line, column: error.character,
                    "\(lens) cannot parse this line: \(error.message)" + lineExcerpt(text, error.line),
                    hint: "fix the line by hand; nothing was changed")
            }
            throw MTAGuardError(host: host, file: file, "Augeas: \(error)")
        }
        return ConfigTree(
            workspace: self, path: path, lens: lens, text: text, addedNewline: addedNewline, file: file, host: host)
    }

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
    let file: String
    let host: String

    var augeas: Augeas { workspace.augeas }

    func wrap<T>(_ body: () throws -> T) throws -> T {
        do {
            return try body()
        } catch let error as AugeasError {
            throw MTAGuardError(host: host, file: file, "Augeas (\(lens)): \(error)")
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
    /// last, the newline is taken off again; after a line appended at the end it stays.
    func render() throws -> String {
        let out = try wrap { try augeas.render(lens: lens, from: path) }
        guard addedNewline, out.hasSuffix("\n") else { return out }
        let lastLine = text.dropLast().split(separator: "\n", omittingEmptySubsequences: false).last ?? ""
        return out.hasSuffix("\n" + lastLine + "\n") || out == lastLine + "\n" ? String(out.dropLast()) : out
    }
}
