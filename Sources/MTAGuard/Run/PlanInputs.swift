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

    public init() {}

    init(request: FactsRequest, facts: HostFacts) {
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
