import Foundation

/// The files a sendmail.cf names where relaying is decided, as the same facts round trip reads
/// them: the text source of the access map its `Kaccess` line declares (the map's file without
/// the compiled suffix, makemap's convention: `hash /etc/mail/access` is answered from
/// `/etc/mail/access.db` and built from `/etc/mail/access`) with the compiled file's state, and
/// the files an `FR` line loads into class R (relay-domains). Read into `PostfixTableFacts`,
/// whose three-valued files and compiled states are the same facts.
enum SendmailAccessFacts {
    /// At most this many files are read (the map and class R files), each at most
    /// `PostfixTableFacts.maxBytes`.
    static let maxFiles = 8

    /// The compiled file's suffix per map class sendmail answers from a file; "" for a class
    /// that reads the text itself. Any other class (ldap, nis, sequence, …) is not read.
    static let suffixes: [String: String] = ["hash": ".db", "btree": ".db", "implicit": ".db", "cdb": ".cdb", "dbm": ".pag", "text": ""]

    /// A `K` line of the cf: the map's name, its class, and the file it names (nil: none, or not
    /// a checked absolute path), with the line's number and text.
    struct MapLine: Equatable {
        var name: String
        var mapClass: String
        var file: String?
        /// Options that change how entries are read (`-k`, `-v`, `-z`, `-f`): not judged.
        var columns: Bool
        var line: Int
        var text: String
    }

    /// An `F` line loading class R from a file (`FR-o /etc/mail/relay-domains`).
    struct ClassFile: Equatable {
        /// A checked absolute path; nil for a program (`FR|cmd`) or a path mtaguard does not read.
        var file: String?
        /// A scanf pattern after the file: sendmail takes only what it matches.
        var pattern: Bool
        /// `-o`: a file that is not there is no error (the class stays empty).
        var optional: Bool
        var line: Int
        var text: String
    }

    /// The cf's active lines (comments dropped) with their numbers.
    static func lines(_ cf: String) -> [(number: Int, text: String)] {
        cf.split(separator: "\n", omittingEmptySubsequences: false).enumerated().compactMap { i, raw in
            let text = String(raw).replacingOccurrences(of: "\r", with: "")
            return text.hasPrefix("#") || text.isEmpty ? nil : (i + 1, text)
        }
    }

    static func words(_ s: Substring) -> [Substring] {
        s.split(whereSeparator: { $0 == " " || $0 == "\t" })
    }

    /// The `Kaccess` line (the last one: a later definition replaces an earlier one).
    static func accessMap(_ lines: [(number: Int, text: String)]) -> MapLine? {
        var found: MapLine?
        for (number, text) in lines where text.hasPrefix("K") {
            let w = words(text.dropFirst())
            guard w.count >= 2, w[0] == "access" else { continue }
            var file: String?, columns = false
            for word in w.dropFirst(2) {
                if word.hasPrefix("-") {
                    if let c = word.dropFirst().first, "kvzf".contains(c) { columns = true }
                    continue
                }
                file = PostfixTableFacts.checkedPath(String(word))
                break
            }
            found = MapLine(name: "access", mapClass: String(w[1]).lowercased(), file: file, columns: columns, line: number, text: text)
        }
        return found
    }

    /// The `FR` / `F{R}` lines.
    static func classFiles(_ lines: [(number: Int, text: String)]) -> [ClassFile] {
        lines.compactMap { number, text in
            var rest = Substring(text)
            guard rest.hasPrefix("F") else { return nil }
            rest = rest.dropFirst()
            if rest.hasPrefix("{R}") { rest = rest.dropFirst(3) } else if rest.hasPrefix("R") { rest = rest.dropFirst() } else { return nil }
            var w = words(rest), optional = false
            while let first = w.first, first.hasPrefix("-") {
                if first.dropFirst().first == "o" { optional = true }
                // `-o` may be glued to the file: `FR-o/etc/mail/relay-domains`.
                let glued = first.dropFirst(2)
                w.removeFirst()
                if !glued.isEmpty { w.insert(glued, at: 0); break }
            }
            guard let path = w.first else { return nil }
            let program = path.hasPrefix("|")
            return ClassFile(
                file: program ? nil : PostfixTableFacts.checkedPath(String(path)), pattern: w.count > 1, optional: optional, line: number, text: text)
        }
    }

    /// The class R entries the cf itself holds (`CRexample.com`, `C{R}a b`).
    static func classEntries(_ lines: [(number: Int, text: String)]) -> [(entry: String, line: Int)] {
        lines.flatMap { number, text -> [(entry: String, line: Int)] in
            var rest = Substring(text)
            guard rest.hasPrefix("C") else { return [] }
            rest = rest.dropFirst()
            if rest.hasPrefix("{R}") { rest = rest.dropFirst(3) } else if rest.hasPrefix("R") { rest = rest.dropFirst() } else { return [] }
            return words(rest).map { (String($0), number) }
        }
    }

    /// The text source and compiled suffix of a map of `mapClass` at `file`: sendmail appends
    /// the suffix unless the name already ends in it.
    static func source(mapClass: String, file: String) -> PostfixTableFacts.Reference? {
        guard let suffix = suffixes[mapClass] else { return nil }
        if !suffix.isEmpty, file.hasSuffix(suffix), file.count > suffix.count + 1 {
            return PostfixTableFacts.Reference(path: String(file.dropLast(suffix.count)), suffix: suffix)
        }
        return PostfixTableFacts.Reference(path: file, suffix: suffix)
    }

    /// The files the cf names, in order, at most `maxFiles`: the access map's source, then the
    /// class R files. The facts script's awk (`RemoteScript.sendmailAccessReader`) picks the same.
    static func references(cf: String) -> [PostfixTableFacts.Reference] {
        let active = lines(cf)
        var out: [PostfixTableFacts.Reference] = []
        if let map = accessMap(active), let file = map.file, let ref = source(mapClass: map.mapClass, file: file) {
            out.append(ref)
        }
        for f in classFiles(active) {
            guard let file = f.file, !out.contains(where: { $0.path == file }) else { continue }
            out.append(PostfixTableFacts.Reference(path: file, suffix: ""))
        }
        return Array(out.prefix(maxFiles))
    }
}
