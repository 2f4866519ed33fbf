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
    public var actions: [ResolvedAction]
    /// Set when the host could not be judged at all (unreachable, unreadable file, …).
    public var error: MTAGuardError?

    public var hasChanges: Bool { !files.isEmpty }

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

/// Builds a host's plan: read its files once, judge each item through Augeas, fix the failing
/// ones in the same trees, render the new bytes, and resolve the service actions.
public struct Planner: Sendable {
    public var playbooks: [Playbook]

    public init(playbooks: [Playbook]) {
        self.playbooks = playbooks
    }

    /// Every file any target may touch, in a stable order.
    public var paths: [String] {
        var seen = Set<String>()
        return playbooks.flatMap(\.targets).map(\.file).filter { seen.insert($0).inserted }
    }

    public func plan(_ host: any Host) async -> HostPlan {
        var plan = HostPlan(
            host: host.name, address: host.address, isLive: host.isLive, family: .unknown,
            findings: [], files: [], actions: [], error: nil)
        do {
            let facts = try await host.facts(paths: paths)
            plan.family = facts.family
            try build(&plan, facts: facts)
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

    /// Parses each file once, even when several items or targets look at it.
    private func build(_ plan: inout HostPlan, facts: HostFacts) throws {
        let workspace = try ConfigWorkspace()
        var trees: [String: ConfigTree] = [:]
        var changedItems: [String: [String]] = [:]
        var steps: [ServiceStep] = []
        var validations: [String: (Validation?, Validation?)] = [:]

        for book in playbooks {
            var evidence: [Evidence] = []
            if !book.appliesTo.contains(facts.family.rawValue), facts.family != .unknown {
                plan.findings.append(Finding(
                    host: plan.host, item: book.id, title: book.title, status: .notApplicable,
                    evidence: [Evidence(mta: "-", file: "-", line: nil, text: "", status: .notApplicable,
                                        note: "item does not apply to \(facts.family.rawValue)")]))
                continue
            }
            for target in book.targets {
                guard let snapshot = facts.files[target.file] ?? nil else {
                    evidence.append(Evidence(
                        mta: target.mta, file: target.file, line: nil, text: "(no such file)",
                        status: .notApplicable, advisory: target.advisory,
                        note: "\(target.file) is absent: \(target.mta) is not configured here"))
                    continue
                }
                do {
                    let tree = try trees[target.file] ?? parse(snapshot, target: target, host: plan.host, workspace: workspace)
                    trees[target.file] = tree
                    guard tree.lens == target.lens else {
                        throw MTAGuardError(
                            file: book.source,
                            "\(target.file) is read with \(tree.lens) by another item and \(target.lens) here")
                    }
                    let judge = Judge(target: target)
                    let found = judge.evidence(try judge.read(tree), file: target.file)
                    evidence.append(found)
                    if found.status == .fail {
                        try Remediator(target: target).apply(to: tree)
                        changedItems[target.file, default: []].append(book.id)
                        if let step = target.after, !steps.contains(step) { steps.append(step) }
                        validations[target.file] = (target.validateBeforeReplace, target.validateAfterReplace)
                    }
                } catch let error as MTAGuardError {
                    evidence.append(Evidence(
                        mta: target.mta, file: target.file, line: error.line, text: "",
                        status: .error, advisory: target.advisory, note: error.withoutHost.description))
                }
            }
            plan.findings.append(Finding(
                host: plan.host, item: book.id, title: book.title, status: Finding.verdict(evidence),
                evidence: evidence))
        }

        for path in paths {
            guard let items = changedItems[path], let tree = trees[path], let before = facts.files[path] ?? nil,
                // An item whose file errored is not fixed, even if another target of it was.
                !plan.findings.contains(where: { items.contains($0.item) && $0.status == .error })
            else { continue }
            let after = Data(try tree.render().utf8)
            guard after != before.bytes, let diff = UnifiedDiff.make(path: path, old: before.bytes, new: after) else {
                continue
            }
            let (vb, va) = validations[path] ?? (nil, nil)
            plan.files.append(PlannedFile(
                path: path, before: before, after: after, diff: diff, items: items,
                validateBefore: vb, validateAfter: va))
        }
        if !plan.files.isEmpty {
            plan.actions = try steps.map { try ServiceResolver.resolve($0, facts: facts) }
        }
    }

    private func parse(_ snapshot: FileSnapshot, target: Target, host: String, workspace: ConfigWorkspace) throws -> ConfigTree {
        guard let text = String(data: snapshot.bytes, encoding: .utf8) else {
            throw MTAGuardError(
                host: host, file: target.file, "is not UTF-8 text; mtaguard edits text files only",
                hint: "nothing was changed; look at the file by hand")
        }
        return try workspace.parse(text, lens: target.lens, file: target.file, host: host)
    }
}
