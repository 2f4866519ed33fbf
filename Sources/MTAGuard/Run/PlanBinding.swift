import Foundation

/// What binds an approved plan to what runs (issue 26): the file's SHA-256 must be the one the
/// change board approved, and, per host, planning again from the host's current files with the
/// plan's own playbooks and knowledge base must give exactly the plan's changes. An edited
/// blob, mode, validator or action, or an address not planned, then never runs, even under a
/// digest recomputed by whoever edited the file.
enum PlanBinding {
    /// A SHA-256 as `plan --out` prints it: 64 hex digits (either case).
    static func isDigest(_ text: String) -> Bool {
        text.utf8.count == 64 && text.utf8.allSatisfy { (0x30...0x39).contains($0) || (0x61...0x66).contains($0) || (0x41...0x46).contains($0) }
    }

    /// Nil when the file's digest is the approved one; else the refusal.
    static func refusal(file: String, digest: String, approved: String?) -> MTAGuardError? {
        guard let approved else { return nil }
        guard isDigest(approved) else {
            return MTAGuardError(.invalidInput, "--approved \(HostPath.quotedForMessage(approved)) is not a SHA-256 (64 hex digits)")
        }
        guard approved.lowercased() == digest else {
            return MTAGuardError(
                .invalidInput, file: file,
                "its sha256 is \(digest), not the approved \(approved.lowercased()): the file is not the plan the change board approved; nothing was read or changed",
                hint: "apply the approved file, or make and approve a new plan")
        }
        return nil
    }

    static let actionsDiffer = "service and package commands: "

    /// The differences between the approved plan of a host and the plan made again now, in
    /// words; empty when they are the same changes.
    static func differences(approved: HostPlan, now: HostPlan) -> [String] {
        var out: [String] = []
        let a = Dictionary(approved.files.map { ($0.path, $0) }, uniquingKeysWith: { x, _ in x })
        let b = Dictionary(now.files.map { ($0.path, $0) }, uniquingKeysWith: { x, _ in x })
        for path in Set(a.keys).union(b.keys).sorted() {
            switch (a[path], b[path]) {
            case (let x?, let y?):
                if x.after != y.after { out.append("\(path): the approved new bytes (sha256 \(x.after.sha256Hex.prefix(12))…) are not what planning gives now (\(y.after.sha256Hex.prefix(12))…)") }
                if x.before.mode != y.before.mode || x.before.uid != y.before.uid || x.before.gid != y.before.gid {
                    out.append("\(path): the approved mode and owner are not the file's")
                }
                if x.validateBefore != y.validateBefore || x.validateAfter != y.validateAfter {
                    out.append("\(path): the approved validation is not the playbooks'")
                }
            case (_?, nil): out.append("\(path): the plan changes it, planning now does not")
            case (nil, _?): out.append("\(path): planning now changes it, the plan does not")
            default: break
            }
        }
        let modes = { (p: HostPlan) in p.modes.map { "\($0.change.path) \(String($0.change.from, radix: 8))→\(String($0.change.to, radix: 8))" } }
        if modes(approved) != modes(now) {
            out.append("permissions: the plan sets [\(modes(approved).joined(separator: ", "))], planning now [\(modes(now).joined(separator: ", "))]")
        }
        let actions = { (p: HostPlan) in p.actions.map { shellWords($0.command) + ($0.inverse.map { " (undo: " + shellWords($0) + ")" } ?? "") } }
        if actions(approved) != actions(now) {
            out.append(actionsDiffer + "the plan runs [\(actions(approved).joined(separator: "; "))], planning now [\(actions(now).joined(separator: "; "))]")
        }
        return out
    }
}
