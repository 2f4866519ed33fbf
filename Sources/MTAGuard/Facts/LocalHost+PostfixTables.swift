import Foundation

#if canImport(Glibc)
import Glibc
#endif

extension LocalHost {
    /// The files `mainCF` (as read in `files`) names where relaying is decided, read as the facts
    /// script reads them on a remote host (`RemoteScript.postfixTableReader`), under `--root`
    /// where there is one. A file that cannot be read is said, never an error of the host.
    func postfixTables(mainCF: String, files: [String: FileSnapshot?]) throws -> PostfixTableFacts {
        guard let snapshot = files[mainCF] ?? nil else { return PostfixTableFacts() }
        let text = String(decoding: snapshot.bytes, as: UTF8.self)
        return try readTables(PostfixTableFacts.references(mainCF: text, mainCFPath: mainCF))
    }

    /// The access map and class R files `cf` (as read in `files`) names
    /// (`SendmailAccessFacts.references`), read as `RemoteScript.sendmailAccessReader` reads them.
    func sendmailAccess(cf: String, files: [String: FileSnapshot?]) throws -> PostfixTableFacts {
        guard let snapshot = files[cf] ?? nil else { return PostfixTableFacts() }
        return try readTables(SendmailAccessFacts.references(cf: String(decoding: snapshot.bytes, as: UTF8.self)))
    }

    /// Each referenced file, bounded, and its compiled file's state; a file that cannot be read
    /// is said, never an error of the host.
    func readTables(_ references: [PostfixTableFacts.Reference]) throws -> PostfixTableFacts {
        var facts = PostfixTableFacts()
        for ref in references {
            let real: String
            do {
                real = try resolved(ref.path)
            } catch let error as MTAGuardError {
                facts.files[ref.path] = .unread(error.message)
                continue
            }
            var st = stat()
            if lstat(real, &st) == 0, (st.st_mode & S_IFMT) == S_IFREG, Int(st.st_size) > PostfixTableFacts.maxBytes {
                facts.files[ref.path] = .unread("is larger than mtaguard reads (\(st.st_size) bytes; at most \(PostfixTableFacts.maxBytes))")
                continue
            }
            do {
                facts.files[ref.path] = try LocalFiles.read(real, displayPath: ref.path).map { .read($0) } ?? .absent
            } catch let error as MTAGuardError {
                facts.files[ref.path] = .unread(error.message)
            }
            guard !ref.suffix.isEmpty else { continue }
            facts.compiled[ref.path] = Self.compiled(source: real, compiled: real + ref.suffix)
        }
        return facts
    }

    /// The compiled file's state beside its source: stale when the source was modified later.
    static func compiled(source: String, compiled: String) -> PostfixTableFacts.Compiled {
        var c = stat(), s = stat()
        guard stat(compiled, &c) == 0 else {
            return errno == ENOENT || errno == ENOTDIR ? .absent : .unknown("cannot look at it: \(LocalFiles.errnoText())")
        }
        guard stat(source, &s) == 0 else { return .unknown("cannot look at its source: \(LocalFiles.errnoText())") }
        let mode = UInt32(c.st_mode & 0o7777)
        let newer = (s.st_mtim.tv_sec, s.st_mtim.tv_nsec) > (c.st_mtim.tv_sec, c.st_mtim.tv_nsec)
        return newer ? .stale(mode: mode) : .current(mode: mode)
    }
}
