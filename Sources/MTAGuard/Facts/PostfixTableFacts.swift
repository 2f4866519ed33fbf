import Foundation

/// The files a postfix main.cf names where relaying is decided, as one facts round trip read
/// them: the lookup tables of `check_*_access` restrictions (in any list, restriction classes
/// included) and mynetworks entries that are files or tables. Every file is three-valued: its
/// bytes, established absent, or why it could not be read. A table postfix answers from a
/// compiled file (`hash:` → `.db`) also carries that file's state.
public struct PostfixTableFacts: Sendable, Equatable {
    /// Per named path: what was read.
    public var files: [String: Referenced] = [:]
    /// Per source path of a compiled table: its compiled file.
    public var compiled: [String: Compiled] = [:]
    /// The host's own `postconf -d` for the relay parameters; nil where it was not asked
    /// (an offline image).
    public var defaults: PostfixHostDefaults?
    /// In an offline image: the postfix version its package records name, and which record.
    public var imageVersion: String?
    public var imageVersionSource: String?

    public init() {}

    public enum Referenced: Sendable, Equatable {
        case read(FileSnapshot)
        case absent
        /// Exists, or may: why it was not read (EACCES, too large, a link, …).
        case unread(String)
    }

    public enum Compiled: Sendable, Equatable {
        case absent
        /// Not older than its source (mode bits).
        case current(mode: UInt32)
        /// Its source was changed after it was built: postfix still answers from it.
        case stale(mode: UInt32)
        case unknown(String)
    }

    /// At most this many files are read, each at most `maxBytes`.
    static let maxFiles = 32
    static let maxBytes = 1 << 20

    /// The compiled file's suffix per table type; "" for a type read as it is.
    static let suffixes: [String: String] = [
        "hash": ".db", "btree": ".db", "lmdb": ".lmdb", "cdb": ".cdb", "dbm": ".pag",
        "cidr": "", "pcre": "", "regexp": "", "texthash": "",
    ]

    /// `path` as a host path mtaguard may name: absolute, no `.` or `..` component, no
    /// control character, bounded. Anything else is not a path to read.
    static func checkedPath(_ path: String) -> String? {
        guard path.hasPrefix("/"), path.utf8.count <= 1024,
            !path.unicodeScalars.contains(where: { $0.value < 0x20 || $0.value == 0x7F }),
            !path.split(separator: "/").contains(where: { $0 == "." || $0 == ".." })
        else { return nil }
        return path
    }

    /// One file a main.cf names: its path and, for a compiled type, the compiled file's suffix.
    struct Reference: Equatable {
        var path: String
        var suffix: String
    }

    /// The files `mainCF` names for relaying, in order, at most `maxFiles`: the table after
    /// every `check_…_access` word (`proxy:` stripped), and mynetworks entries that are files
    /// (`/path`, `$config_directory/path`) or tables. The facts script's awk reads the same.
    static func references(mainCF: String, mainCFPath: String) -> [Reference] {
        let lines = logicalLines(mainCF)
        var configDirectory = String(mainCFPath[..<(mainCFPath.lastIndex(of: "/") ?? mainCFPath.startIndex)])
        for (name, value) in lines where name == "config_directory" && value.hasPrefix("/") { configDirectory = value }
        var out: [Reference] = [], seen = Set<String>()
        for (name, value) in lines {
            var previous = ""
            for word in PostfixRelay.words(expandConfigDirectory(value, configDirectory)) {
                defer { previous = word }
                let inCheck = previous.hasPrefix("check_") && previous.hasSuffix("_access")
                guard inCheck || name == "mynetworks" else { continue }
                guard let ref = reference(word, fileAllowed: !inCheck), seen.insert(ref.path).inserted else { continue }
                out.append(ref)
            }
        }
        return Array(out.prefix(maxFiles))
    }

    static func reference(_ word: String, fileAllowed: Bool) -> Reference? {
        var w = word
        while w.hasPrefix("proxy:") { w.removeFirst(6) }
        if w.hasPrefix("/") { return fileAllowed ? checkedPath(w).map { Reference(path: $0, suffix: "") } : nil }
        guard let colon = w.firstIndex(of: ":"), let suffix = suffixes[String(w[..<colon])],
            let path = checkedPath(String(w[w.index(after: colon)...]))
        else { return nil }
        return Reference(path: path, suffix: suffix)
    }

    /// `$config_directory`, `${config_directory}` and `$(config_directory)` made `directory`.
    static func expandConfigDirectory(_ value: String, _ directory: String) -> String {
        var v = value
        for form in ["${config_directory}", "$(config_directory)", "$config_directory"] {
            v = v.replacingOccurrences(of: form, with: directory)
        }
        return v
    }

    /// main.cf as (name, value) per definition, in order: comment and blank lines skipped, a
    /// line that starts with whitespace continues the one before (postfix's readlline).
    static func logicalLines(_ text: String) -> [(String, String)] {
        var joined: [String] = []
        for line in text.split(separator: "\n", omittingEmptySubsequences: false) {
            if PostfixValue.isSkipped(line) { continue }
            if let first = line.unicodeScalars.first, PostfixValue.isSpace(first) {
                if !joined.isEmpty { joined[joined.count - 1] += String(line) }
            } else {
                joined.append(String(line))
            }
        }
        return joined.compactMap { line in
            guard let eq = line.firstIndex(of: "=") else { return nil }
            let name = line[..<eq].trimmingCharacters(in: .whitespaces)
            let value = line[line.index(after: eq)...].trimmingCharacters(in: .whitespacesAndNewlines)
            return (name, value)
        }
    }

    /// Reads the `pfdefaults` record from a probe's whole output (the live local host).
    mutating func readDefaults(from output: String, marker: String) {
        for line in output.split(separator: "\n") where line.hasPrefix(marker + " pfdefault") {
            let rest = line.dropFirst(marker.count + 1)
            let word = String(rest.prefix { $0 != " " })
            readDefaults(word, String(rest.dropFirst(word.count + 1)))
        }
    }

    /// Reads a `pfdefaults` or `pfdefault` line (`RemoteScript.postfixDefaultsProbe`).
    mutating func readDefaults(_ word: String, _ arg: String) {
        if word == "pfdefaults" {
            if arg == "none" {
                defaults = PostfixHostDefaults(failure: "the host has no postconf")
            } else if arg.hasPrefix("failed") {
                // The host's words, without control characters (they reach terminals and reports).
                let said = String(String.UnicodeScalarView(arg.dropFirst(7).unicodeScalars.map { $0.value < 0x20 || $0.value == 0x7F ? "?" : $0 }))
                defaults = PostfixHostDefaults(failure: "postconf -d failed: exit status " + said.trimmed(220))
            } else {
                defaults = PostfixHostDefaults()
            }
        } else if defaults != nil, defaults?.failure == nil {
            defaults?.read(line: arg)
        }
    }

    /// Reads one word of a `pfref` record (`RemoteScript.postfixTables`) about `path`.
    mutating func read(_ word: String, _ arg: String, path: String) {
        switch word {
        case "absent": files[path] = .absent
        case "link": files[path] = .unread("is a symbolic link; mtaguard does not read a table through a link")
        case "notfile": files[path] = .unread("is not a regular file")
        case "denied": files[path] = .unread("cannot tell whether it exists: permission denied (EACCES) searching the folder \(arg.trimmed(200))")
        case "linked": files[path] = .unread("cannot tell whether it exists: the folder \(arg.trimmed(200)) on the way is a link to no folder the login can search")
        case "unreadable": files[path] = .unread("exists but cannot be read by the login user: permission denied (EACCES)")
        case "readerror": files[path] = .unread("could not be read: \(arg.trimmed(200))")
        case "toolarge": files[path] = .unread("is larger than mtaguard reads (\(arg.trimmed(20)) bytes; at most \(Self.maxBytes))")
        case "compiled":
            let f = arg.split(separator: " ", maxSplits: 1).map(String.init)
            let mode = f.count > 1 ? (try? RemoteScript.parseLsLine(f[1] + " 1 0 0", host: "", path: path).mode) : nil
            switch (f.first, mode) {
            case ("absent"?, _): compiled[path] = .absent
            case ("current"?, let m?): compiled[path] = .current(mode: m)
            case ("stale"?, let m?): compiled[path] = .stale(mode: m)
            default: compiled[path] = .unknown(arg.trimmed(200))
            }
        default: break
        }
    }
}
