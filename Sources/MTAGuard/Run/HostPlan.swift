import Foundation

/// Everything mtaguard knows and would do for one host: verdicts, new file contents, diffs,
/// and the service actions that follow. `plan` prints it; `apply` carries it out.
public struct HostPlan: Sendable {
    public var host: String
    public var address: HostAddress
    public var isLive: Bool
    public var family: OSFamily
    public var findings: [Finding]
    public var files: [PlannedFile]
    /// Permission changes (file-mode targets), after the files and before the actions.
    public var modes: [PlannedMode] = []
    public var actions: [ResolvedAction]
    /// Set when the host could not be judged at all (unreachable, unreadable file, …).
    public var error: MTAGuardError?

    /// Files to change or service actions to take (the "not needed" branch may only have these).
    public var hasChanges: Bool { !files.isEmpty || !modes.isEmpty || !actions.isEmpty }

    /// The host's own error, or else every file that could not be judged.
    public var errors: [MTAGuardError] {
        if let error { return [error] }
        return findings.flatMap(\.evidence).filter { $0.status == .error }.map { MTAGuardError(host: host, $0.note) }
    }
}

public struct PlannedFile: Sendable {
    public var path: String
    public var before: FileSnapshot
    public var after: Data
    public var diff: String
    public var items: [String]
    public var validateBefore: Validation?
    public var validateAfter: Validation?
}

/// The seeds' two branches: keep the MTA and harden it, or the mail service is not needed and
/// is stopped and kept from starting again.
public enum Mode: String, Sendable, Codable, CaseIterable {
    case harden, disable
}

/// Builds a host's plan: read its files once, judge each item through Augeas, fix the failing
/// ones in the same trees, render the new bytes, and resolve the service actions.
public struct Planner: Sendable {
    public var playbooks: [Playbook]
    /// Used for hosts that do not say (an inventory's `mtaguard_mode` does).
    public var mode: Mode
    /// Whether a stop may fall back to a signal where the platform has no graceful stop.
    public var forceKill: Bool
    /// What version items are judged against.
    public var knowledge: VersionKnowledge?
    /// `--smtp-port`: also connect to each live host's SMTP port and try the commands an item
    /// says must be refused (SRV-005's own check method).
    public var smtpPort: UInt16?
    /// `--allow-upgrade`: a version item that fails on a packaged MTA upgrades that package.
    public var allowUpgrade = false

    public init(playbooks: [Playbook], mode: Mode = .harden, forceKill: Bool = false, knowledge: VersionKnowledge? = nil) {
        self.playbooks = playbooks
        self.mode = mode
        self.forceKill = forceKill
        self.knowledge = knowledge
    }

    /// Every file any target may touch, plus the boot files of the "not needed" branch, in a
    /// stable order: all of them come back in the one facts round trip.
    public var paths: [String] {
        var seen = Set<String>()
        let targets = playbooks.flatMap(\.targets)
        let files = targets.filter { $0.fetch != .metadata }.map(\.file) + targets.flatMap(\.alsoReads)
            + [ServiceCatalog.aixRcTcpip.file, ServiceCatalog.hpuxMailservs.file]
        return files.filter { seen.insert($0).inserted }
    }

    /// Every folder whose files a target reads.
    public var folders: [String] {
        var seen = Set<String>()
        return playbooks.flatMap(\.targets).flatMap(\.folders).filter { seen.insert($0).inserted }
    }

    /// Every file whose mode and owner only a target judges.
    public var metadataPaths: [String] {
        var seen = Set<String>()
        return playbooks.flatMap(\.targets).filter { $0.fetch == .metadata }.map(\.file).filter { seen.insert($0).inserted }
    }

    public func plan(_ host: any Host) async -> HostPlan {
        var plan = HostPlan(
            host: host.name, address: host.address, isLive: host.isLive, family: .unknown,
            findings: [], files: [], actions: [], error: nil)
        do {
            let mode = host.mode ?? mode
            // Whether each MTA runs and starts at boot matters to the "not needed" branch only;
            // asking costs every host a few MTA status commands.
            // The knowledge base names the settings its rules judge: the probe reads those.
            let versions: [String: [String]]? = playbooks.contains { !$0.versionOf.isEmpty }
                ? Dictionary(knowledge?.mtas.map { ($0.name, $0.settings.map(\.parameter)) } ?? [], uniquingKeysWith: +) : nil
            let facts = try await host.facts(FactsRequest(
                paths: paths, metadata: metadataPaths, probeServices: mode == .disable, versions: versions, folders: folders))
            plan.family = facts.family
            var build = try Build(planner: self, host: plan.host, facts: facts, mode: mode)
            build.variables = host.variables
            if let port = smtpPort, host.isLive, playbooks.contains(where: { !$0.smtpRefuses.isEmpty }) {
                let address = host.address.ssh?.address ?? "127.0.0.1"
                build.smtp = await Task.detached { Result { try SMTPProbe.probe(host: address, port: port, timeout: 10) }
                    .mapError { $0 as? MTAGuardError ?? MTAGuardError("\($0)") } }.value
                build.smtpPlace = address.contains(":") ? "[\(address)]:\(port)" : "\(address):\(port)"
            }
            try build.run(&plan)
        } catch let error as MTAGuardError {
            plan.error = error.on(host: host.name)
            plan.files = []
            plan.actions = []
            plan.findings = playbooks.map {
                Finding(host: host.name, item: $0.id, title: $0.title, status: .error, evidence: [
                    Evidence(mta: "-", file: error.file ?? "-", line: error.line, text: "", status: .error, note: error.withoutHost.description)
                ])
            }
        } catch {
            plan.error = MTAGuardError(host: host.name, "\(error)")
        }
        return plan
    }

    /// One host's planning: each file parsed once, even when several items or targets read it.
    struct Build {
        let planner: Planner
        let host: String
        let facts: HostFacts
        let mode: Mode
        /// Parsed files, or why a file could not be parsed. Each file has an Augeas handle of its
        /// own, so files are parsed, and later rendered, on several cores at once.
        var trees: [String: Result<ConfigTree, MTAGuardError>] = [:]
        var changedItems: [String: [String]] = [:]
        var modes: [PlannedMode] = []
        var steps: [ServiceStep] = []
        var actions: [ResolvedAction] = []
        var validations: [String: (Validation?, Validation?)] = [:]
        var smtp: Result<SMTPProbeResult, MTAGuardError>?
        var smtpPlace = ""
        /// The host's inventory variables (`Host.variables`), for fixes that take one.
        var variables: [String: String] = [:]
        /// Package upgrades (`--allow-upgrade`), after any other action.
        var upgrades: [ResolvedAction] = []

        init(planner: Planner, host: String, facts: HostFacts, mode: Mode) throws {
            self.planner = planner
            self.host = host
            self.facts = facts
            self.mode = mode
        }

        mutating func run(_ plan: inout HostPlan) throws {
            parseAll()
            for book in planner.playbooks {
                if !book.appliesTo.contains(facts.family.rawValue), facts.family != .unknown {
                    plan.findings.append(Finding(
                        host: host, item: book.id, title: book.title, status: .notApplicable,
                        evidence: [Evidence(mta: "-", file: "-", line: nil, text: "", status: .notApplicable,
                                            note: "item does not apply to \(facts.family.rawValue)")]))
                    continue
                }
                let evidence = mode == .harden ? try harden(book) : try disable(book)
                plan.findings.append(Finding(
                    host: host, item: book.id, title: book.title, status: Finding.verdict(evidence), evidence: evidence))
            }
            var toRender: [(path: String, items: [String], tree: ConfigTree, before: FileSnapshot)] = []
            // Every file read, in a stable order: the named ones, then those read from folders.
            let named = Set(planner.paths)
            for path in planner.paths + facts.files.keys.filter({ !named.contains($0) }).sorted() {
                guard let items = changedItems[path], case .success(let tree)? = trees[path], let before = facts.files[path] ?? nil,
                    // An item whose file errored is not fixed, even if another target of it was.
                    !plan.findings.contains(where: { items.contains($0.item) && $0.status == .error })
                else { continue }
                toRender.append((path, items, tree, before))
            }
            let rendered = Self.concurrently(toRender.map(\.tree)) { try $0.render() }
            for ((path, items, _, before), result) in zip(toRender, rendered) {
                let after = Data(try result.get().utf8)
                guard after != before.bytes, let diff = UnifiedDiff.make(path: path, old: before.bytes, new: after) else {
                    continue
                }
                let (vb, va) = validations[path] ?? (nil, nil)
                plan.files.append(PlannedFile(
                    path: path, before: before, after: after, diff: diff, items: items,
                    validateBefore: vb, validateAfter: va))
            }
            // A kind's own action (a regenerated configuration) is followed by the reload too.
            if !plan.files.isEmpty || !actions.isEmpty {
                for step in steps {
                    for a in try ServiceCatalog.resolve(step, facts: facts) where !actions.contains(a) { actions.append(a) }
                }
            }
            plan.modes = modes.filter { mode in
                !plan.findings.contains { mode.items.contains($0.item) && $0.status == .error }
            }
            plan.actions = actions + upgrades.filter { !actions.contains($0) }
        }

        /// Keep the MTA: judge each target and fix the ones that fail; judge each MTA's version.
        mutating func harden(_ book: Playbook) throws -> [Evidence] {
            var evidence: [Evidence] = versions(book) + probeEvidence(book)
            for target in book.targets {
                do {
                    evidence.append(try target.judge(item: book.id, in: &self))
                } catch let error as MTAGuardError {
                    evidence.append(Evidence(
                        mta: target.mta, file: target.file, line: error.line, text: "",
                        status: .error, advisory: target.advisory, note: error.withoutHost.description))
                }
            }
            return evidence
        }

        /// What the MTA answered on the network, for the commands the item says it must refuse.
        func probeEvidence(_ book: Playbook) -> [Evidence] {
            guard !book.smtpRefuses.isEmpty, let smtp else { return [] }
            switch smtp {
            case .failure(let error):
                return [Evidence(mta: "smtp", file: smtpPlace, line: nil, text: "", status: .error, note: error.withoutHost.description)]
            case .success(let r):
                return book.smtpRefuses.map { command in
                    let reply = command == "vrfy" ? r.vrfy : r.expn
                    let refused = command == "vrfy" ? r.vrfyRefused : r.expnRefused
                    let asked = command == "vrfy" ? r.vrfyAsked : r.expnAsked
                    return Evidence(
                        mta: "smtp", file: smtpPlace, line: nil,
                        text: "\(command.uppercased()) \(asked) → \(reply.code) \(reply.text)", status: refused ? .pass : .fail,
                        note: refused ? "\(command.uppercased()) is refused" : "\(command.uppercased()) answers; it must be refused")
                }
            }
        }

        /// A version item: each MTA the host has, judged against the knowledge base (an upstream
        /// build) or by its distribution (a package). Patching is the remedy; the note says which
        /// version fixes what, and the rule that decided.
        /// Under `--allow-upgrade`, a failing packaged MTA's upgrade joins `upgrades`.
        mutating func versions(_ book: Playbook) -> [Evidence] {
            guard !book.versionOf.isEmpty else { return [] }
            guard let knowledge = planner.knowledge else {
                return [Evidence(mta: "-", file: book.knowledge ?? "-", line: nil, text: "", status: .error,
                                 note: "no version knowledge base loaded")]
            }
            let found = book.versionOf.compactMap { mta in facts.versions[mta].map { (mta, $0) } }
            guard !found.isEmpty else {
                let why = facts.live ? "no \(book.versionOf.joined(separator: ", ")) found on the host" : "an offline root runs no MTA to ask its version"
                return [Evidence(mta: "-", file: "-", line: nil, text: "", status: .notApplicable, note: why)] + wrappers(book)
            }
            var evidence: [Evidence] = []
            for (mta, fact) in found {
                let verdict = VersionJudge.judge(
                    mta: mta, version: fact.version, package: fact.package, settings: fact.settings, knowledge: knowledge)
                var text = "\(mta) \(fact.version)"
                if let p = fact.package { text += " (\(p.tool) \(p.name) \(p.installed))" }
                var notes = [verdict.rule] + verdict.notes
                if verdict.status == .fail {
                    // The package tool's upgrade, where it has a newer package.
                    let upgrade = fact.package.flatMap { p in
                        VersionJudge.packageDecision(p).newer ? ServiceCatalog.upgrade(mta, package: p, facts: facts) : nil
                    }
                    if planner.allowUpgrade, let upgrade, !upgrades.contains(upgrade) { upgrades.append(upgrade) }
                    if let remedy = remedy(mta, fact.package, upgrade: upgrade) { notes.append(remedy) }
                }
                let note = notes.joined(separator: "; ") + " [knowledge base as of \(knowledge.asOf)]"
                evidence.append(Evidence(mta: mta, file: fact.source, line: nil, text: text, status: verdict.status, note: note))
            }
            return evidence + wrappers(book)
        }

        /// What patches a failing MTA: its package's upgrade where the package tool has a newer
        /// one (carried out under `--allow-upgrade`), else the maintained release to build.
        func remedy(_ mta: String, _ package: PackageInfo?, upgrade: ResolvedAction?) -> String? {
            guard let package, VersionJudge.packageDecision(package).newer else {
                guard let line = planner.knowledge?.mtas.first(where: { $0.name == mta })?.releaseLines
                    .filter({ !$0.endOfLife }).max(by: { $0.latest < $1.latest })
                else { return nil }
                // A vendor package whose tool knows no candidate: the vendor's fixes come first.
                let vendor = package.flatMap { p in
                    VersionJudge.candidateBlind[p.tool.lowercased()].map { "apply \($0.platform)'s fixes for \(p.name), or " }
                } ?? ""
                return "to patch: \(vendor)install \(mta) \(line.latest) or a later maintained release (\(line.source)), or stop it with --mode disable"
            }
            guard let upgrade else {
                return "to patch: upgrade the \(package.name) package to \(package.candidate ?? "its newest version") with the platform's package tool, or stop it with --mode disable"
            }
            let how = shellWords(upgrade.command)
            return planner.allowUpgrade
                ? "upgrade: \(how) (--allow-upgrade; rollback reinstalls \(package.installed))"
                : "to patch: \(how) (mtaguard apply --allow-upgrade does it, journaled), or stop it with --mode disable"
        }

        /// `/usr/sbin/sendmail` and `/usr/lib/sendmail` where another MTA owns them: shown, so
        /// that nobody takes postfix's or exim's wrapper for sendmail; they decide nothing.
        func wrappers(_ book: Playbook) -> [Evidence] {
            guard book.versionOf.contains("sendmail") else { return [] }
            return facts.owners.filter { $0.mta != "sendmail" }.map { owner in
                Evidence(
                    mta: "sendmail", file: owner.path, line: nil,
                    text: "\(owner.path) → \(owner.mta) (\(owner.evidence.joined(separator: ", ")))", status: .notApplicable,
                    note: "\(owner.path) is \(owner.mta)'s sendmail-compatible command, not sendmail; no sendmail version is claimed for it")
            }
        }

        /// Records a mode change; a second item asking for the same one joins it.
        mutating func add(_ mode: PlannedMode) {
            if let i = modes.firstIndex(where: { $0.change.path == mode.change.path }) {
                modes[i].change.to &= mode.change.to
                modes[i].items += mode.items.filter { !modes[i].items.contains($0) }
            } else {
                modes.append(mode)
            }
        }

        /// The file at `path` parsed with `lens` (once; later calls get the same tree), or nil
        /// where the host has no such file.
        mutating func tree(_ path: String, lens: String, mta: String?) throws -> ConfigTree? {
            if let parsed = trees[path] {
                let tree = try parsed.get()
                guard tree.lens == lens else {
                    throw MTAGuardError(.invalidInput, file: path, "is read with \(tree.lens) by another item and \(lens) here")
                }
                return tree
            }
            guard let snapshot = facts.files[path] ?? nil else { return nil }
            let host = self.host
            let result = Result { try Self.parse(snapshot, path: path, lens: lens, mta: mta, host: host) }.mapError(Self.asMTAGuardError)
            trees[path] = result
            return try result.get()
        }

        /// Judges one target on its (cached) tree; fixes it in the tree when it fails.
        mutating func judgeAndFix(_ target: Target, item: String, fix: Bool) throws -> Evidence {
            guard let parsed = trees[target.file] else {
                throw MTAGuardError(file: target.file, "is absent")
            }
            let tree = try parsed.get()
            guard tree.lens == target.lens else {
                throw MTAGuardError(.invalidInput, file: target.file, "is read with \(tree.lens) by another item and \(target.lens) here")
            }
            let judge = Judge(target: target)
            let found = judge.evidence(try judge.read(tree), file: target.file)
            if found.status == .fail && fix {
                try Remediator(target: target).apply(to: tree)
                if !(changedItems[target.file] ?? []).contains(item) { changedItems[target.file, default: []].append(item) }
            }
            return found
        }

        /// Parses every present file the items (and, for the "not needed" branch, the boot files)
        /// read, each with the lens of the first target naming it.
        mutating func parseAll() {
            // `mta` reads the file, for the hint when its lens cannot (none for the boot files).
            var lenses: [(file: String, lens: String, mta: String?)] = []
            var edits: [any TargetKind] = []
            if mode == .disable {
                edits = [ServiceCatalog.aixRcTcpip, ServiceCatalog.hpuxMailservs]
            }
            let bootFiles = Set(edits.map(\.file))
            for target in planner.playbooks.flatMap(\.targets) + edits {
                guard case .contents(let lens) = target.fetch, facts.files[target.file] ?? nil != nil,
                    !lenses.contains(where: { $0.file == target.file })
                else { continue }
                lenses.append((target.file, lens, bootFiles.contains(target.file) ? nil : target.mta))
            }
            let host = self.host, facts = self.facts
            let results = Self.concurrently(lenses) { item -> ConfigTree in
                try Self.parse((facts.files[item.file] ?? nil)!, path: item.file, lens: item.lens, mta: item.mta, host: host)
            }
            for (item, result) in zip(lenses, results) { trees[item.file] = result }
        }

        /// A file's bytes parsed with `lens`; text files only.
        static func parse(_ snapshot: FileSnapshot, path: String, lens: String, mta: String?, host: String) throws -> ConfigTree {
            guard let text = String(data: snapshot.bytes, encoding: .utf8) else {
                throw TextPosition.notUTF8(
                    file: path, bytes: snapshot.bytes, host: host, what: "mtaguard edits text files only",
                    hint: "the file was left as it is; look at it by hand")
            }
            return try ConfigWorkspace().parse(text, lens: lens, file: path, host: host, mta: mta)
        }

        /// Runs `body` on every element on as many threads as there are cores; results in order.
        static func concurrently<T, R>(_ items: [T], _ body: (T) throws -> R) -> [Result<R, MTAGuardError>] {
            guard items.count > 1 else {
                return items.map { item in Result { try body(item) }.mapError(Self.asMTAGuardError) }
            }
            let box = ResultBox<R>(count: items.count)
            items.withUnsafeBufferPointer { buffer in
                nonisolated(unsafe) let buffer = buffer
                withoutActuallyEscaping(body) { body in
                    nonisolated(unsafe) let body = body
                    DispatchQueue.concurrentPerform(iterations: buffer.count) { i in
                        box.set(i, Result { try body(buffer[i]) }.mapError(Self.asMTAGuardError))
                    }
                }
            }
            return box.results.map { $0! }
        }

        static func asMTAGuardError(_ error: any Error) -> MTAGuardError {
            error as? MTAGuardError ?? MTAGuardError("\(error)")
        }

        /// The mail service is not needed: for each MTA the item names that is on the host,
        /// stop it and keep it from starting again, the way its platform does that.
        mutating func disable(_ book: Playbook) throws -> [Evidence] {
            var evidence: [Evidence] = []
            var seen = Set<String>()
            for mta in book.mtas where seen.insert(mta).inserted {
                let configFiles = book.targets.filter { $0.mta == mta }.map(\.file)
                let configured = configFiles.contains { facts.files[$0] ?? nil != nil || facts.metadata[$0] ?? nil != nil }
                    || facts.versions[mta] != nil
                let state = facts.services[mta]
                do {
                    let r = try ServiceCatalog.resolve(book.whenNotNeeded, mta: mta, facts: facts, forceKill: planner.forceKill)
                    // Present: configured here, running, known to start at boot, or named by a
                    // boot file (AIX rc.tcpip, HP-UX mailservs).
                    let bootFile = r.edits.contains { facts.files[$0.file] ?? nil != nil }
                    guard configured || state?.running == true || state?.enabled == true || bootFile else {
                        evidence.append(Evidence(
                            mta: mta, file: "-", line: nil, text: "", status: .notApplicable,
                            note: "\(mta) is neither installed as a service nor configured here"))
                        continue
                    }
                    // A service manager that does not know the MTA neither runs it nor starts it.
                    let managed = [InitSystem.systemd, .sysv, .smf].contains(facts.initSystem)
                    var bootOff = state?.enabled == false || (state == nil && managed)
                    for edit in r.edits {
                        guard facts.files[edit.file] ?? nil != nil else {
                            evidence.append(Evidence(
                                mta: mta, file: edit.file, line: nil, text: "(no such file)", status: .notApplicable,
                                note: "\(edit.file) is absent: nothing there starts \(mta) at boot"))
                            bootOff = true
                            continue
                        }
                        let found = try judgeAndFix(edit, item: book.id, fix: true)
                        evidence.append(Evidence(
                            mta: mta, file: edit.file, line: found.line, text: found.text, status: found.status,
                            note: found.status == .pass ? "\(mta) does not start at boot" : "starts \(mta) at boot; mode disable turns it off"))
                        bootOff = bootOff || found.status == .pass
                    }
                    // An offline image runs nothing; a managed host's manager would know.
                    let running = state?.running ?? ((state == nil && managed) || !facts.live ? false : nil)
                    let done = running == false && bootOff && r.caveat == nil
                    var note = "service not needed (mode disable): "
                    note += done ? "\(mta) is stopped and does not start at boot"
                        : "\(mta) is \(describe(running, "running", "stopped")), \(describe(state?.enabled, "starts at boot", "does not start at boot")); it will be stopped and disabled"
                    if let caveat = r.caveat { note += "; \(caveat)" }
                    evidence.append(Evidence(
                        mta: mta, file: state?.unit ?? "-", line: nil, text: "", status: done ? .pass : .fail, note: note))
                    if !done {
                        for c in r.commands where !actions.contains(c) { actions.append(c) }
                    }
                } catch let error as MTAGuardError {
                    evidence.append(Evidence(mta: mta, file: "-", line: nil, text: "", status: .error, note: error.withoutHost.description))
                }
            }
            return evidence
        }

        private func describe(_ value: Bool?, _ yes: String, _ no: String) -> String {
            switch value {
            case true?: yes
            case false?: no
            case nil: "\(yes.split(separator: " ").first.map(String.init) ?? yes) unknown"
            }
        }
    }
}

/// Results written by several threads, each to its own slot.
final class ResultBox<R>: @unchecked Sendable {
    private let lock = NSLock()
    private(set) var results: [Result<R, MTAGuardError>?]

    init(count: Int) { results = Array(repeating: nil, count: count) }

    func set(_ i: Int, _ r: Result<R, MTAGuardError>) { lock.withLock { results[i] = r } }
}
