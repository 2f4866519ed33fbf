import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// This machine (`root == nil`: live, services are managed) or a file tree mounted somewhere
/// (`--root DIR`: an image, chroot or container file system; files only, no commands run).
public struct LocalHost: Host {
    public let name: String
    public let root: String?

    public init(name: String? = nil, root: String? = nil) {
        self.root = root.map { $0.hasSuffix("/") && $0.count > 1 ? String($0.dropLast()) : $0 }
        self.name = name ?? root.map { "root:\($0)" } ?? "localhost"
    }

    public var isLive: Bool { root == nil }
    public var address: HostAddress { HostAddress(kind: root == nil ? .local : .root, root: root) }

    func real(_ path: String) -> String { (root ?? "") + path }

    /// `real(path)`, refusing a folder on the way that is a symbolic link inside an offline
    /// root: followed from here, an absolute link leads out of the image onto this machine.
    func resolved(_ path: String) throws -> String {
        guard let root else { return path }
        var folder = root
        for component in path.split(separator: "/").dropLast() {
            folder += "/" + component
            var st = stat()
            guard lstat(folder, &st) == 0 else { break }
            if (st.st_mode & S_IFMT) == S_IFLNK {
                let shown = String(folder.dropFirst(root.count))
                let target = (try? FileManager.default.destinationOfSymbolicLink(atPath: folder)) ?? "?"
                throw MTAGuardError(
                    host: name, file: path,
                    "the folder \(shown) is a symbolic link (to \(target)) in the --root image; mtaguard does not follow links",
                    hint: "the image was left as it is; replace the link by the folder it points to inside the image")
            }
        }
        return real(path)
    }

    public func facts(_ request: FactsRequest) async throws -> HostFacts {
        let paths = request.paths, metadata = request.metadata
        if let root {
            var isDir: ObjCBool = false
            guard FileManager.default.fileExists(atPath: root, isDirectory: &isDir), isDir.boolValue else {
                throw MTAGuardError(host: name, file: root, "the --root folder does not exist")
            }
        }
        var files: [String: FileSnapshot?] = [:]
        var unreached: [String: Unreached] = [:]
        /// A file the login could not read is a fact of that file (the items that read it say so).
        func read(_ path: String) throws {
            switch try LocalFiles.fact(resolved(path), displayPath: path) {
            case .present(let snapshot): files[path] = snapshot
            case .absent: files[path] = .some(nil)
            case .unreached(let why): unreached[path] = why
            }
        }
        for path in paths { try read(path) }
        var folders: [String: [String]?] = [:]
        for folder in request.folders {
            let names = try listing(folder)
            folders[folder] = names
            for name in names ?? [] {
                let path = (folder.hasSuffix("/") ? folder : folder + "/") + name
                try read(path)
            }
        }
        var includes = EximIncludeFacts()
        EximIncludes.read(from: request.eximIncludes, files: &files, facts: &includes) { try LocalFiles.read(resolved($0), displayPath: $0) }
        var metas: [String: FileMeta?] = [:]
        var issues: [String: String] = [:]
        for path in metadata {
            do {
                metas[path] = try LocalFiles.meta(resolved(path), displayPath: path)
            } catch let error as MTAGuardError where error.code == .unreadableFile {
                issues[path] = error.message
            }
        }
        let (family, release) = identify()
        var tables = try request.postfixTables.map { try postfixTables(mainCF: $0, files: files) }
        if tables != nil, let (version, source) = imagePostfixVersion() {
            tables?.imageVersion = version
            tables?.imageVersionSource = source
        }
        let access = try request.sendmailAccess.map { try sendmailAccess(cf: $0, files: files) }
        guard root == nil else {
            // An offline image has no running services to ask.
            let initSystem: InitSystem = switch family {
            case .aix: .src
            case .hpux: .hpuxRC
            case .solaris: .smf
            default: .unknown
            }
            var facts = HostFacts(family: family, release: release, initSystem: initSystem, files: files)
            for (path, why) in unreached { facts.files[path] = .unreached(why) }
            facts.folders = folders
            facts.metadata = metas
            facts.metadataIssues = issues
            facts.postfixTables = tables
            facts.sendmailAccess = access
            facts.eximIncludes = includes
            facts.live = false
            return facts
        }
        let script = RemoteScript()
        var probe = script.services(probe: request.probeServices, versions: request.versions, listeners: request.listeners, owners: request.listenerOwners)
        if request.postfixTables != nil { probe += RemoteScript.script(RemoteScript.postfixDefaultsProbe + "mtg_pfdefaults\n") }
        ScriptRecorder.record(probe)
        let out = try ProcessRunner.run(["sh", "-s"], stdin: Data(probe.text.utf8))
        let services = RemoteScript.Services(output: out.stdout, marker: script.marker)
        var facts = HostFacts(
            family: family, release: release, initSystem: services.initSystem, tools: services.tools,
            services: services.states, files: files)
        for (path, why) in unreached { facts.files[path] = .unreached(why) }
        let versions = try RemoteScript.Versions(output: out.stdout, marker: script.marker, host: name)
        facts.folders = folders
        facts.metadata = metas
        facts.metadataIssues = issues
        facts.eximIncludes = includes
        facts.versions = versions.facts
        facts.owners = versions.owners
        facts.listening = RemoteScript.Listeners(output: out.stdout, marker: script.marker).facts
        facts.postfixTables = tables
        facts.postfixTables?.readDefaults(from: out.stdout, marker: script.marker)
        facts.sendmailAccess = access
        return facts
    }

    /// The names `FactsRequest.folders` reads in `folder` (files and links, which reading then
    /// refuses), sorted bytewise; nil when it does not exist. A folder that is a link is refused.
    private func listing(_ folder: String) throws -> [String]? {
        let path = try resolved(folder + "/.")
        let dir = String(path.dropLast(2))
        var st = stat()
        if lstat(dir, &st) != 0 {
            if errno == ENOENT || errno == ENOTDIR { return nil }
            if errno == EACCES, let why = Unreached.find(real: dir, shown: folder) { throw why.error(host: name, file: folder) }
            throw MTAGuardError(LocalFiles.codeFor(errno), host: name, file: folder, "cannot read the folder: \(LocalFiles.errnoText())")
        }
        if (st.st_mode & S_IFMT) == S_IFLNK {
            throw MTAGuardError(.unreadableFile, host: name, file: folder, "is a symbolic link; mtaguard does not read a folder through a link")
        }
        guard (st.st_mode & S_IFMT) == S_IFDIR else { return nil }
        if let why = Unreached.listing(dir, shown: folder) { throw why.error(host: name, file: folder) }
        let names = try FileManager.default.contentsOfDirectory(atPath: dir).filter { entry in
            guard FactsRequest.readsFolderEntry(entry) else { return false }
            var est = stat()
            return lstat(dir + "/" + entry, &est) == 0 && [S_IFREG, S_IFLNK].contains(est.st_mode & S_IFMT)
        }
        return names.sorted { Array($0.utf8).lexicographicallyPrecedes(Array($1.utf8)) }
    }

    /// The live kernel's name; for an offline root, the family its files suggest.
    private func identify() -> (OSFamily, String) {
        guard let root else {
            var u = utsname()
            uname(&u)
            let sys = withUnsafeBytes(of: u.sysname) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
            let rel = withUnsafeBytes(of: u.release) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
            return (OSFamily(uname: sys), rel)
        }
        let fm = FileManager.default
        if fm.fileExists(atPath: root + "/etc/rc.tcpip") { return (.aix, "") }
        if fm.fileExists(atPath: root + "/etc/rc.config.d") { return (.hpux, "") }
        if fm.fileExists(atPath: root + "/var/svc") || fm.fileExists(atPath: root + "/lib/svc") { return (.solaris, "") }
        return (.linux, "")
    }

    public func apply(_ steps: [ApplyStep], runID: String) async throws -> [StepResult] {
        var results: [StepResult] = []
        for step in steps {
            let result = perform(step)
            results.append(result)
            FailPoint.reach("host.step")
            if result.outcome.isFailure { break }
        }
        return results
    }

    private func perform(_ step: ApplyStep) -> StepResult {
        switch step {
        case .replace(let r):
            return replace(r)
        case .chmod(let c):
            return chmod(c)
        case .run(let argv, let probe):
            guard isLive else { return StepResult(.skipped, "offline root: commands do not run") }
            if let probe {
                let p = try? ProcessRunner.run(probe)
                if p?.status != 0 {
                    return StepResult(.skipped, "\(shellWords(probe)) says the service is not running")
                }
            }
            do {
                let out = try ProcessRunner.run(argv)
                guard out.status == 0 else {
                    return StepResult(.failed, "\(shellWords(argv)) exited \(out.status): \(out.combined.trimmed(400))")
                }
                return StepResult(.done, out.combined.trimmed(400))
            } catch {
                return StepResult(.failed, "\(error)")
            }
        }
    }

    private func chmod(_ c: ModeChange) -> StepResult {
        do {
            let path = try resolved(c.path)
            guard let now = try LocalFiles.meta(path, displayPath: c.path) else {
                return StepResult(.drifted, "\(c.path) is gone since it was read; nothing changed")
            }
            if now.mode == c.to { return StepResult(.skipped, "already as wanted") }
            guard try LocalFiles.changeMode(path, from: c.from, to: c.to, displayPath: c.path) else {
                return StepResult(
                    .drifted, "\(c.path) changed mode since it was read (\(now.symbolic), expected \(FileMeta.symbolic(c.from))); nothing changed")
            }
            return StepResult(.done, "mode \(String(c.to, radix: 8))")
        } catch {
            return StepResult(.failed, "\(error)")
        }
    }

    private func replace(_ r: FileReplacement) -> StepResult {
        let path: String
        do {
            path = try resolved(r.path)
        } catch {
            return StepResult(.failed, "\(error)")
        }
        do {
            let current = try LocalFiles.read(path, displayPath: r.path)
            let currentSHA = current?.sha256 ?? ""
            guard currentSHA == r.expected.sha256 else {
                return StepResult(
                    .drifted,
                    "\(r.path) changed since it was read (SHA-256 \(currentSHA.prefix(12)), expected \(r.expected.sha256.prefix(12))); nothing written")
            }
            if r.bytes == current?.bytes { return StepResult(.skipped, "already as wanted") }
            try LocalFiles.replace(
                path, with: r.bytes, mode: r.mode, uid: r.uid, gid: r.gid, displayPath: r.path, backdate: r.backdate,
                validate: isLive ? r.validateBefore.map { v in { temp in try validate(v, file: temp, shown: r.path, target: path) } } : nil)
        } catch {
            return StepResult(.failed, "\(error)")
        }
        if isLive, let v = r.validateAfter {
            do {
                try validate(v, file: path, shown: r.path)
            } catch {
                return StepResult(.failedAfterReplace, "\(error)")
            }
        }
        return StepResult(.done, "replaced")
    }

    /// `{dir}`: a staging folder beside the target with the new file (hard-linked) under the
    /// target's name and copies of `stagedWith`, removed after the check.
    private func validate(_ v: Validation, file: String, shown: String, target: String? = nil) throws {
        var file = file
        var dir: String?
        defer { if let dir { try? FileManager.default.removeItem(atPath: dir) } }
        if v.stages, let target {
            let folder = (target as NSString).deletingLastPathComponent
            let base = (target as NSString).lastPathComponent
            var template = Array("\(folder)/.mtaguard-XXXXXX".utf8CString)
            guard template.withUnsafeMutableBufferPointer({ mkdtemp($0.baseAddress!) }) != nil else {
                throw MTAGuardError(host: name, file: shown, "cannot create a staging folder beside it: \(LocalFiles.errnoText())")
            }
            let made = String(decoding: template.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
            dir = made
            guard link(file, made + "/" + base) == 0 else {
                throw MTAGuardError(host: name, file: shown, "cannot stage the new file: \(LocalFiles.errnoText())")
            }
            for other in v.stagedWith where other != base && FileManager.default.fileExists(atPath: folder + "/" + other) {
                let copy = try ProcessRunner.run(["cp", "-p", folder + "/" + other, made + "/" + other])
                guard copy.status == 0 else {
                    throw MTAGuardError(host: name, file: shown, "cannot stage \(other): \(copy.combined.trimmed(200))")
                }
            }
            file = made + "/" + base
        }
        let argv = v.argv.map {
            $0.replacingOccurrences(of: "{file}", with: file).replacingOccurrences(of: "{dir}", with: dir ?? "")
        }
        let out = try ProcessRunner.run(argv)
        var rejected = out.status != 0
        if let pattern = v.rejectOutput, out.combined.range(of: pattern, options: .regularExpression) != nil {
            rejected = true
        }
        if rejected {
            throw MTAGuardError(
                host: name, file: shown,
                "the MTA's validator rejected the new file: \(shellWords(argv)) exited \(out.status): \(out.combined.trimmed(400))",
                hint: "the original file was kept")
        }
    }
}

extension String {
    func trimmed(_ limit: Int) -> String {
        let t = trimmingCharacters(in: .whitespacesAndNewlines)
        return t.count > limit ? String(t.prefix(limit)) + "…" : t
    }
}
