/// What the host established about one file the items may read: its bytes, that it is not
/// there (ENOENT, every folder on the way searched), or that the login could not tell, and
/// why. The third answer is a fact of that file, not of the host: the items that read the file
/// are 오류 naming it, the others are judged as usual. There is no optional to unwrap: a
/// reader asks `HostFacts.file(_:)`, which throws for a file it could not read, so no kind can
/// take "could not read" for "absent".
public enum FileFact: Sendable, Equatable {
    case present(FileSnapshot)
    case absent
    case unreached(Unreached)
}

extension HostFacts {
    /// The file at `path` as read: its snapshot, or nil where the host established that it is
    /// not there (or it was not asked for). Throws the error that names the file, the errno,
    /// the folder and what to do where the login could not read it.
    public func file(_ path: String) throws -> FileSnapshot? {
        switch files[path] {
        case .present(let snapshot): return snapshot
        case .absent, nil: return nil
        case .unreached(let why): throw why.error(file: path)
        }
    }

    /// Whether the file is known to be there; throws as `file(_:)` where it could not be read.
    public func exists(_ path: String) throws -> Bool { try file(path) != nil }

    /// The files the login could not read, with why, by path.
    public var unreachedFiles: [String: Unreached] {
        files.compactMapValues { if case .unreached(let why) = $0 { return why } else { return nil } }
    }
}
