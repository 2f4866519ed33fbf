import Foundation

/// What a host's plan was made from, as checksums: a plan applied later is applied only where
/// every one of them still holds.
public struct PlanInputs: Sendable, Codable, Equatable {
    /// Each file the facts round trip read: its SHA-256, or nil where the host had none.
    public var files: [String: String?] = [:]
    /// Each folder read: its file names, or nil where the host had no such folder.
    public var folders: [String: [String]?] = [:]
    /// Each file whose mode, owner and group were read: "0644 0:0", or nil where absent.
    public var metadata: [String: String?] = [:]

    /// What the host's services, packages and SMTP listeners were, a sentence per fact
    /// ("service sendmail" → "running: yes; started at boot: yes"): `apply --plan` plans again
    /// and refuses a host where any differs, so that a service disabled or a package upgraded
    /// since is drift too (the plan's inverses would restore a state older than the one apply
    /// replaced, and an upgrade would install another version than the one approved). Nil in
    /// plans made before it was recorded.
    public var state: [String: String]? = nil

    public init() {}

    init(request: FactsRequest, facts: HostFacts, ports: [UInt16] = []) {
        state = Self.state(facts, ports: ports)
        // A file the login could not read has no checksum to hold: a plan made then is applied
        // only where planning again gives the same files, which it cannot while it stays unread.
        for path in Set(request.paths).union(facts.files.keys) {
            switch facts.files[path] {
            case .present(let snapshot): files[path] = .some(snapshot.sha256)
            case .absent, nil: files[path] = .some(nil)
            case .unreached: break
            }
        }
        for path in request.folders { folders[path] = .some(facts.folders[path] ?? nil) }
        for path in request.metadata { metadata[path] = .some((facts.metadata[path] ?? nil).map(Self.describe)) }
    }

    static func state(_ facts: HostFacts, ports: [UInt16]) -> [String: String] {
        func yesNo(_ b: Bool?) -> String { b.map { $0 ? "yes" : "no" } ?? "unknown" }
        var out: [String: String] = [:]
        for (mta, s) in facts.services {
            out["service \(mta)"] = "running: \(yesNo(s.running)); started at boot: \(yesNo(s.enabled))"
        }
        for (mta, v) in facts.versions {
            var words = "version \(v.version)"
            if let p = v.package {
                words += "; package \(p.name) \(p.installed) (\(p.tool))"
                switch p.update {
                case .candidate(let c, let tool): words += "; \(tool) offers \(c)"
                case .noneNewer(let tool): words += "; \(tool) offers nothing newer"
                case .unknown: words += "; no package manager said whether a newer one exists"
                }
            }
            out["package \(mta)"] = words
        }
        for port in Set(ports).sorted() {
            guard let listening = facts.listening, listening.tool != nil else { continue }
            let on = Set(listening.on(port).map(\.address)).sorted()
            out["listeners on port \(port)"] = on.isEmpty ? "none" : on.joined(separator: ", ")
        }
        return out
    }

    /// How the host's services, packages and listeners differ from when the plan was made, a
    /// sentence each (empty when the plan recorded none, or none differs).
    func stateDrift(_ now: PlanInputs) -> [String] {
        guard let was = state else { return [] }
        let is_ = now.state ?? [:]
        return Set(was.keys).union(is_.keys).sorted().compactMap { key in
            let a = was[key], b = is_[key]
            guard a != b else { return nil }
            return "\(key) changed since the plan was made: \(a ?? "not known then") → \(b ?? "not known now")"
        }
    }

    static func describe(_ meta: FileMeta) -> String { "\(String(meta.mode, radix: 8)) \(meta.uid):\(meta.gid)" }

    /// The request that reads them all again.
    var request: FactsRequest {
        FactsRequest(paths: files.keys.sorted(), metadata: metadata.keys.sorted(), folders: folders.keys.sorted())
    }

    /// How `now` differs from these inputs, a sentence per difference (empty when none).
    /// `before` gives the bytes the plan holds for a file, so that a changed one is shown as
    /// a diff from them.
    func drift(_ now: PlanInputs, facts: HostFacts, before: (String) -> Data?) -> [String] {
        var out: [String] = []
        for path in files.keys.sorted() {
            let was = files[path] ?? nil, is_ = now.files[path] ?? nil
            guard was != is_ else { continue }
            switch (was, is_) {
            case (nil, _): out.append("\(path) did not exist when the plan was made and exists now")
            case (_, nil): out.append("\(path) existed when the plan was made and is gone now")
            default:
                var line = "\(path) changed since the plan was made (sha256 \(was!.prefix(12))… → \(is_!.prefix(12))…)"
                if let old = before(path), case .present(let snapshot)? = facts.files[path], case let new = snapshot.bytes,
                    let diff = UnifiedDiff.make(path: path, old: old, new: new)
                {
                    line += ":\n" + diff
                }
                out.append(line)
            }
        }
        for path in folders.keys.sorted() where (folders[path] ?? nil) != (now.folders[path] ?? nil) {
            let was = Set((folders[path] ?? nil) ?? []), is_ = Set((now.folders[path] ?? nil) ?? [])
            let added = is_.subtracting(was).sorted(), removed = was.subtracting(is_).sorted()
            out.append("folder \(path) changed since the plan was made (added: \(added.isEmpty ? "-" : added.joined(separator: ", ")); removed: \(removed.isEmpty ? "-" : removed.joined(separator: ", ")))")
        }
        for path in metadata.keys.sorted() where (metadata[path] ?? nil) != (now.metadata[path] ?? nil) {
            out.append("\(path): mode and owner changed since the plan was made (\((metadata[path] ?? nil) ?? "absent") → \((now.metadata[path] ?? nil) ?? "absent"))")
        }
        return out
    }
}
