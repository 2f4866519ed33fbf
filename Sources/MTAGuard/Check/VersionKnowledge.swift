import Foundation

// The knowledge base for U-45 (KISA 2026) = U-30 (KISA 2021) = SRV-007 (전자금융기반시설):
// "is the mail service the latest version?". The facts live in playbooks/kb/mail-versions.yaml;
// this file reads them, checks them, and compares version numbers.

// MARK: - Version numbers

/// An upstream mail-server version number: "8.17.1.9", "3.7.11", "4.96".
/// Only the leading dotted numbers count; anything after them ("-58+deb12u4" from a package,
/// "-20260101" from a postfix snapshot, " #2" from exim -bV) is kept in `suffix` and ignored
/// by comparison. Missing trailing components count as zero: 4.96 == 4.96.0 < 4.96.1.
public struct MailVersion: Comparable, Sendable, CustomStringConvertible {
    public var components: [Int]
    /// What followed the numbers, as written ("" when nothing did).
    public var suffix: String

    public init?(_ text: String) {
        var rest = Substring(text.trimmingCharacters(in: .whitespaces))
        var components: [Int] = []
        while true {
            let digits = rest.prefix(while: { $0.isASCII && $0.isNumber })
            guard !digits.isEmpty, digits.count <= 9, let n = Int(digits) else { return nil }
            components.append(n)
            rest = rest.dropFirst(digits.count)
            // a dot followed by a digit continues the number; anything else ends it
            guard rest.first == ".", let next = rest.dropFirst().first, next.isASCII, next.isNumber else { break }
            rest = rest.dropFirst()
        }
        // "4.96a" is not 4.96 with a suffix: a letter glued to the number is another version scheme
        if let next = rest.first, next.isLetter { return nil }
        guard components.count >= 2 else { return nil }
        self.components = components
        self.suffix = String(rest)
    }

    init(components: [Int]) {
        self.components = components
        self.suffix = ""
    }

    /// The dotted number without suffix: "4.96".
    public var number: String { components.map(String.init).joined(separator: ".") }

    /// The version as reported: number and suffix.
    public var description: String { number + suffix }

    /// The release line: the first two components ("3.7" for 3.7.11, "8.17" for 8.17.1.9).
    public var line: MailVersion { MailVersion(components: Array(components.prefix(2))) }

    public static func == (a: MailVersion, b: MailVersion) -> Bool { compare(a, b) == 0 }
    public static func < (a: MailVersion, b: MailVersion) -> Bool { compare(a, b) < 0 }

    static func compare(_ a: MailVersion, _ b: MailVersion) -> Int {
        for i in 0..<max(a.components.count, b.components.count) {
            let x = i < a.components.count ? a.components[i] : 0
            let y = i < b.components.count ? b.components[i] : 0
            if x != y { return x < y ? -1 : 1 }
        }
        return 0
    }
}

// MARK: - Package versions

/// Version ordering of the platform's package tools, to tell whether a candidate is newer than
/// what is installed.
public enum PackageVersion {
    /// Negative, zero or positive as `a` sorts before, with or after `b` for `tool`:
    /// dpkg/apt order for "dpkg", "apt", "apt-get"; rpmvercmp for "rpm", "dnf", "yum", "zypper";
    /// IPS order for Solaris 11's "pkg"; for other tools nil (their order is not known here).
    public static func compare(_ a: String, _ b: String, tool: String) -> Int? {
        switch tool.lowercased() {
        case "dpkg", "apt", "apt-get", "apt-cache", "debian", "ubuntu": dpkg(a, b)
        case "rpm", "dnf", "yum", "zypper", "rhel": rpm(a, b)
        case "pkg": ips(a, b)
        default: nil
        }
    }

    /// IPS's ordering (Solaris 11 pkg(7)) of `RELEASE[,BUILD][-BRANCH][:TIMESTAMP]` as `pkg list`
    /// prints it ("8.15.2-11.4.42.0.0.111.0"): the release, then the branch, each compared as
    /// dot-separated numbers; the build release and the timestamp are left out. Nil when a part
    /// is not numbers.
    public static func ips(_ a: String, _ b: String) -> Int? {
        func parts(_ v: String) -> (release: [Int], branch: [Int])? {
            let bare = v.trimmingCharacters(in: .whitespaces).split(separator: ":", maxSplits: 1).first ?? ""
            let halves = bare.split(separator: "-", maxSplits: 1, omittingEmptySubsequences: false)
            func numbers(_ s: Substring) -> [Int]? {
                guard !s.isEmpty else { return [] }
                let fields = s.split(separator: ".", omittingEmptySubsequences: false)
                let n = fields.compactMap { Int($0) }
                return n.count == fields.count ? n : nil
            }
            guard let first = halves.first, let release = numbers(first.split(separator: ",").first ?? ""),
                  !release.isEmpty, let branch = numbers(halves.count > 1 ? halves[1] : "")
            else { return nil }
            return (release, branch)
        }
        guard let x = parts(a), let y = parts(b) else { return nil }
        for (p, q) in [(x.release, y.release), (x.branch, y.branch)] where p != q {
            return p.lexicographicallyPrecedes(q) ? -1 : 1
        }
        return 0
    }

    /// dpkg's ordering (deb-version(7)): epoch, then upstream version, then Debian revision
    /// (after the last hyphen; none is the same as "0"). Each part alternates non-digit runs,
    /// compared character by character with letters before other characters and `~` before
    /// everything (even the end), and digit runs compared as numbers.
    public static func dpkg(_ a: String, _ b: String) -> Int {
        let x = debianParts(a), y = debianParts(b)
        if x.epoch != y.epoch { return x.epoch < y.epoch ? -1 : 1 }
        let upstream = verrevcmp(x.upstream, y.upstream)
        if upstream != 0 { return upstream }
        return verrevcmp(x.revision, y.revision)
    }

    static func debianParts(_ version: String) -> (epoch: Int, upstream: [UInt8], revision: [UInt8]) {
        var text = Substring(version.trimmingCharacters(in: .whitespaces))
        var epoch = 0
        if let colon = text.firstIndex(of: ":"), let e = Int(text[..<colon]) {
            epoch = e
            text = text[text.index(after: colon)...]
        }
        var revision: Substring = ""
        if let hyphen = text.lastIndex(of: "-") {
            revision = text[text.index(after: hyphen)...]
            text = text[..<hyphen]
        }
        return (epoch, Array(text.utf8), Array(revision.utf8))
    }

    /// dpkg's `order()`: digits 0 (handled apart), letters their code, `~` below everything,
    /// other characters after all letters; the end of the string is 0.
    private static func order(_ c: UInt8?) -> Int {
        guard let c else { return 0 }
        if isDigit(c) { return 0 }
        if (c >= 65 && c <= 90) || (c >= 97 && c <= 122) { return Int(c) }
        if c == UInt8(ascii: "~") { return -1 }
        return Int(c) + 256
    }

    private static func isDigit(_ c: UInt8?) -> Bool { c.map { $0 >= 48 && $0 <= 57 } ?? false }

    /// dpkg's `verrevcmp()`.
    private static func verrevcmp(_ a: [UInt8], _ b: [UInt8]) -> Int {
        var i = 0, j = 0
        func at(_ s: [UInt8], _ k: Int) -> UInt8? { k < s.count ? s[k] : nil }
        while i < a.count || j < b.count {
            var firstDiff = 0
            while (i < a.count && !isDigit(a[i])) || (j < b.count && !isDigit(b[j])) {
                let ac = order(at(a, i)), bc = order(at(b, j))
                if ac != bc { return ac < bc ? -1 : 1 }
                i += 1
                j += 1
            }
            while at(a, i) == UInt8(ascii: "0") { i += 1 }
            while at(b, j) == UInt8(ascii: "0") { j += 1 }
            while isDigit(at(a, i)) && isDigit(at(b, j)) {
                if firstDiff == 0 { firstDiff = Int(a[i]) - Int(b[j]) }
                i += 1
                j += 1
            }
            if isDigit(at(a, i)) { return 1 }
            if isDigit(at(b, j)) { return -1 }
            if firstDiff != 0 { return firstDiff < 0 ? -1 : 1 }
        }
        return 0
    }

    /// RPM's ordering of `[epoch:]version[-release]`: epoch, then rpmvercmp of version, then
    /// of release when both have one.
    public static func rpm(_ a: String, _ b: String) -> Int {
        func parts(_ s: String) -> (Int, String, String?) {
            var text = Substring(s.trimmingCharacters(in: .whitespaces))
            var epoch = 0
            if let colon = text.firstIndex(of: ":"), let e = Int(text[..<colon]) {
                epoch = e
                text = text[text.index(after: colon)...]
            }
            if let hyphen = text.lastIndex(of: "-") {
                return (epoch, String(text[..<hyphen]), String(text[text.index(after: hyphen)...]))
            }
            return (epoch, String(text), nil)
        }
        let x = parts(a), y = parts(b)
        if x.0 != y.0 { return x.0 < y.0 ? -1 : 1 }
        let v = rpmvercmp(x.1, y.1)
        if v != 0 { return v }
        if let r1 = x.2, let r2 = y.2 { return rpmvercmp(r1, r2) }
        return 0
    }

    /// rpm's `rpmvercmp()`: alphanumeric segments, numbers above letters, `~` before everything,
    /// `^` after the end but before anything else.
    static func rpmvercmp(_ a: String, _ b: String) -> Int {
        if a == b { return 0 }
        let s = Array(a.utf8), t = Array(b.utf8)
        var i = 0, j = 0
        func alnum(_ c: UInt8) -> Bool { isDigit(c) || (c >= 65 && c <= 90) || (c >= 97 && c <= 122) }
        let tilde = UInt8(ascii: "~"), caret = UInt8(ascii: "^")
        while i < s.count || j < t.count {
            while i < s.count, !alnum(s[i]), s[i] != tilde, s[i] != caret { i += 1 }
            while j < t.count, !alnum(t[j]), t[j] != tilde, t[j] != caret { j += 1 }
            let si = i < s.count ? s[i] : nil, tj = j < t.count ? t[j] : nil
            if si == tilde || tj == tilde {
                if si != tilde { return 1 }
                if tj != tilde { return -1 }
                i += 1
                j += 1
                continue
            }
            if si == caret || tj == caret {
                if si == nil { return -1 }
                if tj == nil { return 1 }
                if si != caret { return 1 }
                if tj != caret { return -1 }
                i += 1
                j += 1
                continue
            }
            guard si != nil, tj != nil else { break }
            let numeric = isDigit(si)
            func segment(_ u: [UInt8], _ k: inout Int) -> ArraySlice<UInt8> {
                let start = k
                while k < u.count, numeric ? isDigit(u[k]) : (alnum(u[k]) && !isDigit(u[k])) { k += 1 }
                return u[start..<k]
            }
            var x = segment(s, &i), y = segment(t, &j)
            if y.isEmpty { return numeric ? 1 : -1 }
            if numeric {
                x = x.drop(while: { $0 == 48 })
                y = y.drop(while: { $0 == 48 })
                if x.count != y.count { return x.count < y.count ? -1 : 1 }
            }
            if x != y { return x.lexicographicallyPrecedes(y) ? -1 : 1 }
        }
        let aLeft = i < s.count, bLeft = j < t.count
        if !aLeft && !bLeft { return 0 }
        return aLeft ? 1 : -1
    }
}

// MARK: - Knowledge

/// The mail-service version knowledge base: per MTA its maintained release lines, known CVEs
/// with the versions they affect, and settings that mitigate a CVE without a new version.
public struct VersionKnowledge: Sendable {
    /// The date the facts were last checked (YYYY-MM-DD).
    public var asOf: String
    /// The file it was read from.
    public var file: String
    /// Named links, in file order.
    public var sources: [Source]
    /// Per MTA, in file order (sendmail, postfix, exim).
    public var mtas: [MTA]

    public struct Source: Sendable, Equatable {
        public var name: String
        public var url: String
    }

    public struct MTA: Sendable {
        public var name: String
        /// Release lines older than this are end of life even when not listed.
        public var endOfLifeBelow: MailVersion?
        public var releaseLines: [ReleaseLine]
        public var cves: [CVE]
        public var settings: [SettingRule]

        public func releaseLine(of version: MailVersion) -> ReleaseLine? {
            releaseLines.first { $0.line == version.line }
        }
    }

    public struct ReleaseLine: Sendable {
        public var line: MailVersion
        public var latest: MailVersion
        public var released: String?
        public var endOfLife: Bool
        /// The link (resolved from `sources`).
        public var source: String
    }

    /// One advisory: a CVE, or a named group of CVEs ("21Nails") sharing the affected ranges.
    public struct CVE: Sendable {
        public var id: String
        /// For a group: the CVEs it covers; empty for a single CVE.
        public var ids: [String]
        /// Versions affected: the union of the ranges. A fix that regressed and was fixed again
        /// is two ranges (CVE-2025-26794: 4.98 ≤ v < 4.98.1 and 4.99 ≤ v < 4.99.1).
        public var affected: [VersionRange]
        public var fixedIn: [MailVersion]
        public var summary: String
        public var source: String

        public func affects(_ version: MailVersion) -> Bool { affected.contains { $0.contains(version) } }

        /// The fix for `version`: the end of the range that covers it.
        public func fix(for version: MailVersion) -> MailVersion? {
            affected.first { $0.contains(version) }?.below
        }
    }

    /// `from` ≤ version < `below`; a missing bound is open.
    public struct VersionRange: Sendable, CustomStringConvertible {
        public var from: MailVersion?
        public var below: MailVersion?

        public func contains(_ v: MailVersion) -> Bool {
            if let from, v < from { return false }
            if let below, !(v < below) { return false }
            return true
        }

        public var description: String {
            switch (from, below) {
            case let (f?, b?): "\(f.number) ≤ v < \(b.number)"
            case let (f?, nil): "v ≥ \(f.number)"
            case let (nil, b?): "v < \(b.number)"
            case (nil, nil): "all versions"
            }
        }
    }

    /// A parameter whose value decides whether a CVE applies (postfix smtpd_forbid_bare_newline
    /// for CVE-2023-51764).
    public struct SettingRule: Sendable {
        public var parameter: String
        public var mitigates: String
        public var summary: String
        /// Values that mitigate, lower case.
        public var mitigatingValues: [String]
        /// Per line, the first version that has the parameter; lines after the last entry's
        /// line have it from their first release.
        public var availableFrom: [MailVersion]
        /// The value in force when unset: the first entry whose `from` the version reaches.
        public var defaults: [(from: MailVersion?, value: String)]
        public var source: String

        public func isAvailable(in version: MailVersion) -> Bool {
            if let same = availableFrom.first(where: { $0.line == version.line }) { return !(version < same) }
            guard let newest = availableFrom.map(\.line).max() else { return false }
            return version.line > newest
        }

        public func defaultValue(for version: MailVersion) -> String? {
            defaults.first { entry in entry.from.map { !(version < $0) } ?? true }?.value
        }

        public func mitigates(value: String) -> Bool {
            mitigatingValues.contains(value.trimmingCharacters(in: .whitespaces).lowercased())
        }
    }

    public func mta(_ name: String) -> MTA? { mtas.first { $0.name == name.lowercased() } }

    /// The link for a source name, or the text itself when it is a URL.
    public func url(ofSource name: String) -> String {
        sources.first { $0.name == name }?.url ?? name
    }

    /// The knowledge base a playbooks folder ships: `folder`/kb/mail-versions.yaml.
    public static func `default`(playbooks folder: String) throws -> VersionKnowledge {
        try load(file: (folder as NSString).appendingPathComponent("kb/mail-versions.yaml"))
    }

    public static func load(file: String) throws -> VersionKnowledge {
        let data = try BoundedFile.read(file, limit: YAMLValue.maximumBytes, what: "a version knowledge base",
                                        hint: "the version knowledge base for U-45 is kb/mail-versions.yaml in the playbooks folder")
        guard let text = String(data: data, encoding: .utf8) else { throw MTAGuardError(.invalidInput, file: file, "is not UTF-8 text") }
        return try load(file: file, text: text)
    }

    /// As `load(file:)`, from text already read; `file` names it in errors.
    public static func load(file: String, text: String) throws -> VersionKnowledge {
        try parse(YAMLValue.load(file: file, text: text, locatingDuplicateKeys: true))
    }

    static var mtaNames: [String] { MTACatalog.names }

    static func parse(_ root: YAMLValue) throws -> VersionKnowledge {
        let top = try root.mapping(allowed: Set(["as_of", "sources"] + mtaNames))
        let asOf = try date(top.required("as_of", in: root))

        var sources: [Source] = []
        if let list = top["sources"] {
            for (name, _, value) in try list.entries() {
                let url = try value.string()
                guard url.hasPrefix("https://") || url.hasPrefix("http://") else {
                    throw value.error("'\(url)' is not a link (expected https://…)")
                }
                sources.append(Source(name: name, url: url))
            }
        }
        func source(_ value: YAMLValue) throws -> String {
            let s = try value.string()
            if s.hasPrefix("https://") || s.hasPrefix("http://") { return s }
            guard let found = sources.first(where: { $0.name == s }) else {
                let known = sources.map(\.name).joined(separator: ", ")
                throw value.error("unknown source '\(s)' (name one of `sources`: \(known), or give a https:// link)")
            }
            return found.url
        }

        var mtas: [MTA] = []
        for (name, _, value) in try root.entries() where mtaNames.contains(name) {
            let m = try value.mapping(allowed: ["end_of_life_below", "release_lines", "cves", "settings"])
            var mta = MTA(
                name: name, endOfLifeBelow: try m["end_of_life_below"].map(version),
                releaseLines: [], cves: [], settings: [])
            for item in try m.required("release_lines", in: value).sequence() {
                let f = try item.mapping(allowed: ["line", "latest", "released", "end_of_life", "source"])
                let lineValue = try f.required("line", in: item)
                let line = try version(lineValue)
                guard line.components.count == 2 else {
                    throw lineValue.error("a release line is two numbers, such as \"3.7\"")
                }
                let latestValue = try f.required("latest", in: item)
                let latest = try version(latestValue)
                guard latest.line == line else {
                    throw latestValue.error("\(latest.number) is not in line \(line.number)")
                }
                if mta.releaseLines.contains(where: { $0.line == line }) {
                    throw lineValue.error("line \(line.number) is listed twice")
                }
                mta.releaseLines.append(ReleaseLine(
                    line: line, latest: latest, released: try f["released"].map(date),
                    endOfLife: try f.required("end_of_life", in: item).bool(),
                    source: try source(f.required("source", in: item))))
            }
            if let cves = m["cves"] {
                for item in try cves.sequence() {
                    let f = try item.mapping(allowed: ["id", "ids", "affected", "fixed_in", "summary", "source"])
                    var ranges: [VersionRange] = []
                    let affected = try f.required("affected", in: item)
                    for r in try affected.sequence() {
                        let rf = try r.mapping(allowed: ["from", "below"])
                        let range = VersionRange(from: try rf["from"].map(version), below: try rf["below"].map(version))
                        if range.from == nil && range.below == nil {
                            throw r.error("a range needs `from`, `below` or both")
                        }
                        if let from = range.from, let below = range.below, !(from < below) {
                            throw r.error("empty range: \(from.number) is not below \(below.number)")
                        }
                        ranges.append(range)
                    }
                    if ranges.isEmpty { throw affected.error("list at least one affected range") }
                    let fixedValue = try f.required("fixed_in", in: item)
                    let fixedIn = try fixedValue.strings().map { text -> MailVersion in
                        guard let v = MailVersion(text) else { throw fixedValue.error("'\(text)' is not a version number") }
                        return v
                    }
                    for range in ranges {
                        if let below = range.below, !fixedIn.contains(below) {
                            throw fixedValue.error(
                                "the range \(range) ends at \(below.number), which `fixed_in` does not list")
                        }
                    }
                    let idValue = try f.required("id", in: item)
                    mta.cves.append(CVE(
                        id: try idValue.string(), ids: try f["ids"]?.strings() ?? [], affected: ranges,
                        fixedIn: fixedIn, summary: try f.required("summary", in: item).string(),
                        source: try source(f.required("source", in: item))))
                }
            }
            if let settings = m["settings"] {
                for item in try settings.sequence() {
                    let f = try item.mapping(allowed: [
                        "parameter", "mitigates", "summary", "mitigating_values", "available_from", "defaults", "source",
                    ])
                    let availableValue = try f.required("available_from", in: item)
                    let available = try availableValue.sequence().map(version)
                    var defaults: [(from: MailVersion?, value: String)] = []
                    for d in try f.required("defaults", in: item).sequence() {
                        let df = try d.mapping(allowed: ["from", "value"])
                        defaults.append((try df["from"].map(version), try df.required("value", in: d).string().lowercased()))
                    }
                    mta.settings.append(SettingRule(
                        parameter: try f.required("parameter", in: item).string(),
                        mitigates: try f.required("mitigates", in: item).string(),
                        summary: try f.required("summary", in: item).string(),
                        mitigatingValues: try f.required("mitigating_values", in: item).strings().map { $0.lowercased() },
                        availableFrom: available, defaults: defaults,
                        source: try source(f.required("source", in: item))))
                }
            }
            mtas.append(mta)
        }
        if mtas.isEmpty { throw root.error("no MTA listed (expected \(mtaNames.joined(separator: ", ")))") }
        return VersionKnowledge(asOf: asOf, file: root.file, sources: sources, mtas: mtas)
    }

    private static func version(_ value: YAMLValue) throws -> MailVersion {
        let text = try value.string()
        guard let v = MailVersion(text), v.suffix.isEmpty else {
            throw value.error("'\(text)' is not a version number (such as \"3.7.22\"; quote it)")
        }
        return v
    }

    private static func date(_ value: YAMLValue) throws -> String {
        let text = try value.string()
        let parts = text.split(separator: "-", omittingEmptySubsequences: false)
        guard parts.count == 3, parts[0].count == 4, parts[1].count == 2, parts[2].count == 2,
              parts.allSatisfy({ $0.allSatisfy { $0.isASCII && $0.isNumber } })
        else { throw value.error("'\(text)' is not a date (YYYY-MM-DD)") }
        return text
    }

    // MARK: Description

    /// The knowledge base as text, for `mtaguard kb show`.
    public func describe() -> String {
        var out = "Mail-service version knowledge base (U-45 / U-30 / SRV-007), as of \(asOf)\n"
        out += "file: \(file)\n"
        for mta in mtas {
            out += "\n\(mta.name)\n  release lines:\n"
            for l in mta.releaseLines.sorted(by: { $0.line > $1.line }) {
                var row = "    \(l.line.number.padding(toLength: 6, withPad: " ", startingAt: 0))"
                row += "latest \(l.latest.number.padding(toLength: 9, withPad: " ", startingAt: 0))"
                row += l.released.map { "released \($0)  " } ?? "released (not recorded)  "
                row += l.endOfLife ? "END OF LIFE" : "maintained"
                out += row + "  [\(l.source)]\n"
            }
            if let eol = mta.endOfLifeBelow {
                out += "    lines below \(eol.number): end of life\n"
            }
            out += "  CVEs:\n"
            if mta.cves.isEmpty { out += "    (none fixed by version alone)\n" }
            for c in mta.cves {
                let ranges = c.affected.map(\.description).joined(separator: " or ")
                out += "    \(c.id): affected \(ranges); fixed in \(c.fixedIn.map(\.number).joined(separator: ", "))\n"
                if !c.ids.isEmpty { out += "      covers \(c.ids.joined(separator: ", "))\n" }
                out += "      \(c.summary)  [\(c.source)]\n"
            }
            if !mta.settings.isEmpty {
                out += "  settings:\n"
                for s in mta.settings {
                    out += "    \(s.parameter) mitigates \(s.mitigates) when \(s.mitigatingValues.joined(separator: " / "))\n"
                    out += "      \(s.summary)\n"
                    out += "      available from \(s.availableFrom.map(\.number).joined(separator: ", "))\n"
                    let defaults = s.defaults.map { d in
                        d.from.map { "\(d.value) from \($0.number)" } ?? "\(d.value) otherwise"
                    }
                    out += "      default: \(defaults.joined(separator: ", "))  [\(s.source)]\n"
                }
            }
        }
        if !sources.isEmpty {
            out += "\nsources:\n"
            let width = sources.map(\.name.count).max() ?? 0
            for s in sources { out += "  \(s.name.padding(toLength: width, withPad: " ", startingAt: 0))  \(s.url)\n" }
        }
        return out
    }
}
