import Foundation

/// exim's `.include FILE` and `.include_if_exists FILE` lines, as readconf.c (get_config_line,
/// exim 4.96 and later) reads them: a physical line whose first non-blank characters are
/// `.include` or `.include_if_exists` followed by a blank; the name is the rest of the line less
/// blanks at both ends, and less one pair of double quotes around it; macros defined so far are
/// replaced in it first. A relative name of `.include` is taken in the folder of the file that
/// holds the line; `.include_if_exists` must name an absolute path (exim refuses to start
/// otherwise), and is skipped when the file does not exist; a `.include` file exim cannot open
/// stops exim from starting. Lines skipped by `.ifdef` are not included.
///
/// The facts round trip reads every file such a line names (whatever the conditions: the
/// judgement follows them), recursively, at most `maximumDepth` includes deep and
/// `maximumFiles` files per configuration file.
enum EximIncludes {
    static let maximumDepth = 8
    static let maximumFiles = 32
    /// Longest path taken from an include line.
    static let maximumPath = 1024

    struct Line: Equatable, Sendable {
        let ifExists: Bool
        /// The name as written (quotes taken off), macros not replaced.
        let name: String
        var directive: String { ifExists ? ".include_if_exists" : ".include" }
    }

    /// The include a physical line holds, nil when it holds none.
    static func parse(line: Substring) -> Line? {
        let text = line.drop(while: { $0 == " " || $0 == "\t" })
        for (word, ifExists) in [(".include_if_exists", true), (".include", false)] {
            guard text.hasPrefix(word) else { continue }
            let rest = text.dropFirst(word.count)
            guard let first = rest.first, first == " " || first == "\t" else { continue }
            return Line(ifExists: ifExists, name: unquoted(rest))
        }
        return nil
    }

    /// The name as exim takes it from what follows the directive (blanks and one pair of
    /// quotes off).
    static func unquoted(_ rest: Substring) -> String {
        var name = rest.drop(while: { $0 == " " || $0 == "\t" })
        while let last = name.last, last == " " || last == "\t" || last == "\r" { name = name.dropLast() }
        if name.count >= 2, name.hasPrefix("\""), name.hasSuffix("\"") { name = name.dropFirst().dropLast() }
        return String(name)
    }

    /// Every include line of `text`, whatever the conditions around it.
    static func lines(in text: String) -> [Line] {
        text.split(separator: "\n", omittingEmptySubsequences: false).compactMap { parse(line: $0) }
    }

    /// The path exim opens for `line` read in `file`, or why mtaguard does not read it.
    static func path(of line: Line, in file: String) -> Result<String, Refusal> {
        var name = line.name
        if name.isEmpty { return .failure(.init("\(line.directive) names no file")) }
        if !name.hasPrefix("/") {
            if line.ifExists {
                return .failure(.init("\(line.directive) \(name) is not an absolute path: exim refuses to start (\".include specifies a non-absolute path\")"))
            }
            let folder = file.split(separator: "/", omittingEmptySubsequences: false).dropLast().joined(separator: "/")
            name = folder + "/" + name
        }
        guard let checked = checked(name) else {
            return .failure(.init("\(line.directive) \(quoted(line.name)) names a path mtaguard does not read (a '.' or '..' part, an empty part, a control character, or longer than \(maximumPath) bytes)"))
        }
        return .success(checked)
    }

    /// `path` when it is absolute, at most `maximumPath` bytes, without NUL or other control
    /// characters and without `.`, `..` or empty parts; else nil.
    static func checked(_ path: String) -> String? {
        guard path.hasPrefix("/"), path.utf8.count <= maximumPath,
              !path.unicodeScalars.contains(where: { $0.value < 0x20 || $0.value == 0x7F })
        else { return nil }
        let parts = path.dropFirst().split(separator: "/", omittingEmptySubsequences: false)
        guard !parts.contains(where: { $0.isEmpty || $0 == "." || $0 == ".." }) else { return nil }
        return path
    }

    static func quoted(_ name: String) -> String {
        "\"" + String(name.unicodeScalars.map { $0.value < 0x20 || $0.value == 0x7F ? "?" : Character($0) }) + "\""
    }

    struct Refusal: Error, Equatable {
        let reason: String
        init(_ reason: String) { self.reason = reason }
    }

    /// Reads the include files of `configs` (already in `files`, where present) with `read`,
    /// breadth first as the facts script does, into `files`; what could not be read goes to
    /// `facts`. `read` gives nil for an absent file and throws `MTAGuardError` for one it could
    /// not read.
    static func read(
        from configs: [String], files: inout [String: FileSnapshot?], facts: inout EximIncludeFacts,
        read: (String) throws -> FileSnapshot?
    ) {
        for config in configs {
            var level = [config]
            var seen: Set<String> = [config]
            var count = 0
            for depth in 1... {
                var next: [String] = []
                for file in level {
                    guard let snapshot = files[file] ?? nil else { continue }
                    for line in lines(in: String(decoding: snapshot.bytes, as: UTF8.self)) {
                        guard case .success(let path) = path(of: line, in: file), seen.insert(path).inserted else { continue }
                        if depth > maximumDepth {
                            facts.bounded[file] = "its includes are \(maximumDepth + 1) deep (mtaguard reads at most \(maximumDepth))"
                            continue
                        }
                        count += 1
                        if count > maximumFiles {
                            facts.bounded[file] = "the configuration includes more than \(maximumFiles) files (mtaguard reads at most \(maximumFiles))"
                            continue
                        }
                        do {
                            files[path] = .some(try read(path))
                        } catch let error as MTAGuardError {
                            facts.problems[path] = error.message
                        } catch {
                            facts.problems[path] = "\(error)"
                        }
                        next.append(path)
                    }
                }
                if next.isEmpty { break }
                level = next
            }
        }
    }
}

/// What the `.include` files of `FactsRequest.eximIncludes` could not give: the included
/// files themselves are in `HostFacts.files` (nil where absent).
public struct EximIncludeFacts: Sendable, Equatable {
    /// Included files the host could not give, with why in the reader's words (permission
    /// denied on a folder, a link, not a regular file).
    public var problems: [String: String] = [:]
    /// Files whose includes were not all read because a bound was hit, with the bound.
    public var bounded: [String: String] = [:]

    public init() {}
}
