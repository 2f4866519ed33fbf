import Foundation

/// What an approved exception says about the finding it covers: why the item stays as it is,
/// who approved it, until when, and where that was written.
public struct ExceptionMark: Sendable, Codable, Equatable {
    public var reason: String
    public var approvedBy: String
    /// The last day the exception holds (YYYY-MM-DD, inclusive).
    public var until: String
    /// "exceptions.yaml:12", the entry's place.
    public var source: String
    /// The verdict the exception covers (취약).
    public var covers: Status
}

/// One entry of an exceptions file (예외 처리 목록).
public struct ExceptionEntry: Sendable, Equatable {
    /// A host pattern as `--limit` takes it (names, groups, globs, `:` `,` `!` `&`).
    public var host: String
    /// Any id of the item (SRV-009, U-47, U-31).
    public var item: String
    public var reason: String
    public var approvedBy: String
    public var until: String
    public var file: String
    public var line: Int

    var source: String { "\(file):\(line)" }
}

/// `--exceptions FILE`: a YAML list of `{host, item, reason, approved_by, until}`. A 취약
/// finding an entry covers is reported as 예외 with the reason, and `apply` leaves its item
/// alone on that host; an entry past its `until` day is a warning and the finding counts again.
public struct ExceptionList: Sendable {
    public var entries: [ExceptionEntry]

    public init(entries: [ExceptionEntry]) { self.entries = entries }

    static let fields: Set<String> = ["host", "item", "reason", "approved_by", "until"]

    public static func load(file: String) throws -> ExceptionList {
        let data = try BoundedFile.read(file, limit: YAMLValue.maximumBytes, what: "an exceptions file")
        guard let text = String(data: data, encoding: .utf8) else {
            throw TextPosition.notUTF8(file: file, bytes: data, what: "an exceptions file must be")
        }
        return try parse(file: file, text: text)
    }

    public static func parse(file: String, text: String) throws -> ExceptionList {
        let doc = try YAMLValue.load(file: file, text: text, locatingDuplicateKeys: true)
        if doc.isNull { return ExceptionList(entries: []) }
        guard case .sequence = doc.node else {
            throw doc.error("expected a list of exceptions (- host: …, item: …, reason: …, approved_by: …, until: YYYY-MM-DD)")
        }
        var entries: [ExceptionEntry] = []
        for value in try doc.sequence() {
            let map = try value.mapping(allowed: fields)
            func text(_ key: String) throws -> String {
                let v = try map.required(key, in: value)
                guard let s = v.scalarText?.trimmingCharacters(in: .whitespaces), !s.isEmpty else {
                    throw v.error("must be a non-empty text")
                }
                return s
            }
            let host = try text("host")
            if HostPattern.split(limit: host).isEmpty { throw map["host"]!.error("'\(host)' names no host or group") }
            let untilValue = try map.required("until", in: value)
            let until = try text("until")
            guard day(until) != nil else {
                throw untilValue.error("'\(until)' is not a date written YYYY-MM-DD (e.g. 2026-12-31)")
            }
            entries.append(ExceptionEntry(
                host: host, item: try text("item"), reason: try text("reason"), approvedBy: try text("approved_by"),
                until: until, file: file, line: value.line ?? 1))
        }
        return ExceptionList(entries: entries)
    }

    /// 2026-12-31 as a calendar day, or nil when it is not one.
    static func day(_ text: String) -> DateComponents? {
        let parts = text.split(separator: "-", omittingEmptySubsequences: false)
        guard parts.count == 3, parts[0].count == 4, parts[1].count == 2, parts[2].count == 2,
            let y = Int(parts[0]), let m = Int(parts[1]), let d = Int(parts[2])
        else { return nil }
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC")!
        let c = DateComponents(year: y, month: m, day: d)
        guard let date = calendar.date(from: c), calendar.dateComponents([.year, .month, .day], from: date) == c else { return nil }
        return c
    }

    /// Whether the entry still holds on `today` (its `until` day included), in the local time zone.
    static func holds(_ entry: ExceptionEntry, today: Date) -> Bool {
        guard let until = day(entry.until) else { return false }
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone.current
        let now = calendar.dateComponents([.year, .month, .day], from: today)
        return [now.year!, now.month!, now.day!].lexicographicallyPrecedes([until.year!, until.month!, until.day!])
            || [now.year!, now.month!, now.day!] == [until.year!, until.month!, until.day!]
    }

    /// The exceptions in force per host name and item id, and the warnings: expired entries,
    /// and patterns that name no host of the inventory. An item id no playbook has is an error
    /// at the entry's line (a typo must not leave a finding counted as excepted or not silently).
    public func resolve(
        hosts inventory: Inventory, playbooks: [Playbook], known: [Playbook], today: Date = Date()
    ) throws -> (covered: [String: [String: ExceptionMark]], warnings: [String]) {
        var covered: [String: [String: ExceptionMark]] = [:]
        var warnings: [String] = []
        for entry in entries {
            guard let book = known.first(where: { $0.matches(entry.item) }) else {
                throw MTAGuardError(.invalidInput, file: entry.file, line: entry.line,
                    "item '\(entry.item)' is no item of the playbooks", hint: "mtaguard items lists every id")
            }
            guard Self.holds(entry, today: today) else {
                warnings.append("\(entry.source): the exception for \(entry.host) \(entry.item) ended on \(entry.until) (approved by \(entry.approvedBy)); the finding counts again")
                continue
            }
            guard playbooks.contains(where: { $0.id == book.id }) else { continue }
            var names: [String]
            do {
                // A host judged without an inventory (the local host, `--root DIR`) is also
                // matched by its own name, as a glob: `root:/images/*`.
                let literal = inventory.hosts.map(\.name).filter { HostPattern.glob(entry.host, matches: $0) }
                names = literal.isEmpty ? try inventory.select(limit: entry.host).map(\.name) : literal
            } catch let error as MTAGuardError {
                warnings.append("\(entry.source): host '\(entry.host)' matches no host here (\(error.message)); the exception is not used")
                continue
            }
            let mark = ExceptionMark(reason: entry.reason, approvedBy: entry.approvedBy, until: entry.until, source: entry.source, covers: .fail)
            for name in names where covered[name]?[book.id] == nil { covered[name, default: [:]][book.id] = mark }
        }
        return (covered, warnings)
    }
}
