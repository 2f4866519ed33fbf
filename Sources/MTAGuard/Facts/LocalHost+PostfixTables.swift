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

    /// In an offline image (`--root`), where no postconf can be asked: the postfix version the
    /// image's own package records name, where they are text: dpkg's status file (the package
    /// `postfix`, installed), else the versioned documentation folder of rpm-based systems
    /// before RHEL 8 (`/usr/share/doc/postfix-2.6.6`). nil where neither says.
    func imagePostfixVersion() -> (version: String, source: String)? {
        guard root != nil else { return nil }
        if let real = try? resolved("/var/lib/dpkg/status"),
            let data = try? BoundedFile.read(real, limit: 64 << 20, what: "dpkg's status file")
        {
            for stanza in String(decoding: data, as: UTF8.self).components(separatedBy: "\n\n") {
                var fields: [String: String] = [:]
                for line in stanza.split(separator: "\n") where !line.hasPrefix(" ") {
                    guard let colon = line.firstIndex(of: ":") else { continue }
                    fields[String(line[..<colon])] = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
                }
                guard fields["Package"] == "postfix", fields["Status"]?.hasSuffix(" installed") == true, var v = fields["Version"] else { continue }
                if let colon = v.firstIndex(of: ":") { v = String(v[v.index(after: colon)...]) }
                if let dash = v.lastIndex(of: "-") { v = String(v[..<dash]) }
                if PostfixRelayDefaults.Level(v) != nil { return (v, "the image's dpkg status (/var/lib/dpkg/status)") }
            }
        }
        if let docs = try? resolved("/usr/share/doc"), let names = try? FileManager.default.contentsOfDirectory(atPath: docs) {
            for name in names.sorted() where name.hasPrefix("postfix-") {
                let v = String(name.dropFirst("postfix-".count))
                if v.allSatisfy({ $0.isASCII && ($0.isNumber || $0 == ".") }), PostfixRelayDefaults.Level(v) != nil {
                    return (v, "the image's documentation folder /usr/share/doc/\(name)")
                }
            }
        }
        return nil
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
