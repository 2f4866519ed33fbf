import Foundation

/// The `file-mode` kind: a program's permission bits, judged from its mode and fixed by
/// clearing the bits that must not be set (`chmod o-x`). Only the mode and owner cross the
/// network, not the program. The change is journaled with the previous mode and owner, undone
/// by rollback, and never made through a symbolic link.
///
///     - kind: file-mode
///       mta: postfix
///       file: /usr/sbin/postsuper
///       forbid: o+x          # bits that must be clear: who (u, g, o, a) + what (r, w, x)
struct FileModeTarget: TargetKind, Equatable {
    static let name = "file-mode"
    static let keys: Set<String> = ["mta", "file", "forbid"]

    var mta: String
    var file: String
    /// The bits that must be clear.
    var forbidden: UInt32
    /// As the playbook wrote it, for evidence.
    var forbidSpelling: String

    var fetch: Fetch { .metadata }

    static func parse(_ m: [String: YAMLValue], in value: YAMLValue) throws -> FileModeTarget {
        let spelling = try m.required("forbid", in: value).string()
        guard let bits = Self.bits(spelling) else {
            throw m["forbid"]!.error("'\(spelling)' is not a permission such as o+x, go+w or o+rwx")
        }
        return FileModeTarget(
            mta: try m.required("mta", in: value).oneOf(MTACatalog.names),
            file: try PlaybookLoader.absolutePath(m, "file", in: value), forbidden: bits, forbidSpelling: spelling)
    }

    /// `o+x` → 0o001, `go+w` → 0o022, `a+x` → 0o111; comma-separated clauses add up.
    static func bits(_ spelling: String) -> UInt32? {
        let who: [Character: UInt32] = ["u": 0o700, "g": 0o070, "o": 0o007, "a": 0o777]
        let what: [Character: UInt32] = ["r": 0o444, "w": 0o222, "x": 0o111]
        /// The letters of `part` looked up in `table` and added up; nil for an unknown letter.
        func sum(_ part: Substring, _ table: [Character: UInt32]) -> UInt32? {
            guard !part.isEmpty else { return nil }
            var total: UInt32 = 0
            for c in part {
                guard let v = table[c] else { return nil }
                total |= v
            }
            return total
        }
        var mask: UInt32 = 0
        for clause in spelling.split(separator: ",") {
            let parts = clause.split(separator: "+", maxSplits: 1, omittingEmptySubsequences: false)
            guard parts.count == 2, let w = sum(parts[0], who), let p = sum(parts[1], what) else { return nil }
            mask |= w & p
        }
        return mask == 0 ? nil : mask
    }

    func judge(item: String, in context: JudgeContext) throws -> Judgement {
        if let issue = context.facts.metadataIssues[file] {
            throw MTAGuardError(.unreadableFile, file: file, issue)
        }
        guard let meta = context.facts.metadata[file] ?? nil else {
            return Judgement(Evidence(
                mta: mta, file: file, line: nil, text: "(no such file)", status: .notApplicable,
                note: "\(file) is absent: \(mta) is not installed here"))
        }
        let text = "\(meta.symbolic) \(meta.uid):\(meta.gid) \(file)"
        let set = meta.mode & forbidden
        guard set != 0 else {
            return Judgement(Evidence(mta: mta, file: file, line: nil, text: text, status: .pass, note: "\(forbidSpelling) is not set"))
        }
        let wanted = meta.mode & ~forbidden
        let change = PlannedMode(change: ModeChange(path: file, from: meta.mode, to: wanted), uid: meta.uid, gid: meta.gid, items: [item])
        return Judgement(
            Evidence(
                mta: mta, file: file, line: nil, text: text, status: .fail,
                note: "\(forbidSpelling) is set; needs chmod \(forbidSpelling.replacingOccurrences(of: "+", with: "-")) (mode \(String(meta.mode, radix: 8)) → \(String(wanted, radix: 8)))"),
            remedy: Remedy { $0.add(change) })
    }
}

/// A mode change in a host's plan, with the owner it was read with (for the journal).
public struct PlannedMode: Sendable, Equatable, Codable {
    public var change: ModeChange
    public var uid: UInt32
    public var gid: UInt32
    public var items: [String]
}
