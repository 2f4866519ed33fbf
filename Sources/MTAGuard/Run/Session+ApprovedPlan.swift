import Foundation

/// The change board's flow: `plan --out PLAN.json` writes the plan the board approves (by its
/// SHA-256); `apply --plan PLAN.json` carries out exactly that plan and nothing else.
extension Session {
    /// The options a plan was made with that shape its apply.
    var planOptions: PlanDocument.Options {
        PlanDocument.Options(
            items: items, mode: mode, smtpPort: smtpPort, smtpHost: smtpHost, allowUpgrade: allowUpgrade, forceKill: forceKill)
    }

    /// The document of these plans, with the digests of the playbooks and knowledge base in use.
    public func planDocument(_ plans: [HostPlan], created: Date = Date()) throws -> PlanDocument {
        PlanDocument(
            plans: plans, created: created, playbooksSHA256: try PlanDocument.folderDigest(playbooksFolder),
            knowledgeSHA256: try knowledgeDigest(), options: planOptions)
    }

    func knowledgeDigest() throws -> String? {
        guard let path = knowledgePath(try playbooks()) else { return nil }
        return try BoundedFile.read(path, limit: YAMLValue.maximumBytes, what: "a version knowledge base").sha256Hex
    }

    /// Applies the plan in `file` as it was approved. Refused as a whole (nothing is touched):
    /// a file that is not a whole plan, a plan older than `maxAge` seconds or made in the
    /// future, one made by other playbooks or another knowledge base. Refused per host: a host
    /// whose inputs changed since (drift), with what changed; the other hosts go ahead. The
    /// run's journal records the plan's SHA-256.
    /// With `approved`, the file's SHA-256 must be that one (the digest `plan --out` printed,
    /// which the change board records), checked on the very bytes applied, before any host is read.
    public func applyPlan(file: String, maxAge: TimeInterval, command: String, approved: String? = nil, now: Date = Date()) async throws -> RunResult {
        let data = try BoundedFile.read(file, limit: BoundedFile.planBytes, what: "a plan file")
        let digest = data.sha256Hex
        if let refusal = PlanBinding.refusal(file: file, digest: digest, approved: approved) { throw refusal }
        let doc = try PlanDocument.decode(data, file: file)
        let age = now.timeIntervalSince(doc.created)
        if age > maxAge {
            throw MTAGuardError(.invalidInput, file: file,
                "was made \(Self.duration(age)) ago, at \(ISO8601DateFormatter().string(from: doc.created)); plans older than \(Self.duration(maxAge)) are refused",
                hint: "make and approve a new plan, or pass a longer --max-age")
        }
        if age < -300 {
            throw MTAGuardError(.invalidInput, file: file, "says it was made at \(ISO8601DateFormatter().string(from: doc.created)), in the future; check this machine's clock")
        }
        var session = self
        session.mode = doc.options.mode
        session.items = doc.options.items
        session.smtpPort = doc.options.smtpPort
        session.smtpHost = doc.options.smtpHost
        session.allowUpgrade = doc.options.allowUpgrade
        session.forceKill = doc.options.forceKill
        let books = try PlanDocument.folderDigest(playbooksFolder)
        guard books == doc.playbooksSHA256 else {
            throw MTAGuardError(.invalidInput, file: file,
                "was made by other playbooks (sha256 \(doc.playbooksSHA256.prefix(12))…) than those in \(playbooksFolder) (\(books.prefix(12))…)",
                hint: "apply it with the playbooks it was made by (--playbooks), or make and approve a new plan")
        }
        let kb = try session.knowledgeDigest()
        guard kb == doc.knowledgeSHA256 else {
            throw MTAGuardError(.invalidInput, file: file,
                "was made with another version knowledge base (sha256 \(doc.knowledgeSHA256.map { $0.prefix(12) + "…" } ?? "none")) than this one (\(kb.map { $0.prefix(12) + "…" } ?? "none"))",
                hint: "apply it with the same --kb, or make and approve a new plan")
        }
        let needsSSH = doc.hosts.contains { $0.address.kind == .ssh }
        let transport = needsSSH ? try SSHTransport(options: ssh) : nil
        defer { transport?.close(doc.hosts.compactMap(\.address.ssh)) }
        let engine = try session.engine(transport: transport)
        let hosts = try doc.hosts.map { try engine.connect($0.host, $0.address) }
        // Each host is read again; one whose inputs differ from the plan's is refused.
        let plans: [HostPlan] = try await withThrowingTaskGroup(of: (Int, HostPlan).self) { group in
            var next = 0
            var out = [HostPlan?](repeating: nil, count: hosts.count)
            func start(_ i: Int) {
                group.addTask { (i, try await Engine.ending(hosts[i]) { try await Self.approved(doc, i, on: hosts[i], planner: engine.planner) }) }
            }
            while next < min(engine.forks, hosts.count) { start(next); next += 1 }
            while let (i, plan) = try await group.next() {
                out[i] = plan
                if next < hosts.count { start(next); next += 1 }
            }
            return out.map { $0! }
        }
        var result = try await engine.apply(hosts, plans: plans, command: command, planDigest: digest)
        result.messages.insert("plan \(file) sha256 \(digest)", at: 0)
        return result
    }

    /// Host `i` of the plan, ready to apply; or, where the host cannot be read or has drifted,
    /// the plan with that error (nothing is applied to it).
    static func approved(_ doc: PlanDocument, _ i: Int, on host: any Host, planner: Planner) async throws -> HostPlan {
        let entry = doc.hosts[i]
        var plan = try doc.hostPlan(i)
        if let error = entry.error {
            plan.error = MTAGuardError(.invalidInput, host: entry.host, "the plan could not be made for this host: \(error)")
            plan.files = []
            plan.modes = []
            plan.actions = []
            return plan
        }
        guard plan.hasChanges else { return plan }
        do {
            let facts = try await host.facts(entry.inputs.request)
            let now = PlanInputs(request: entry.inputs.request, facts: facts)
            let before = Dictionary(plan.files.map { ($0.path, $0.before.bytes) }, uniquingKeysWith: { a, _ in a })
            let drift = entry.inputs.drift(now, facts: facts, before: { before[$0] })
            if !drift.isEmpty {
                plan.error = MTAGuardError(.drift, host: entry.host,
                    "refused: the host changed since the plan was made, so the approved plan no longer describes it:\n" + drift.joined(separator: "\n"),
                    hint: "make and approve a new plan for this host")
            } else {
                // The plan file is input: what runs is what planning gives now, from these
                // files and the plan's own playbooks, and it must be the plan's, exactly.
                let again = await planner.plan(host)
                let moved = again.error == nil ? entry.inputs.stateDrift(again.inputs) : []
                let differences = again.error.map { ["planning again failed: \($0)"] } ?? PlanBinding.differences(approved: plan, now: again)
                if !moved.isEmpty {
                    plan.error = MTAGuardError(.drift, host: entry.host,
                        "refused: the host changed since the plan was made, so the approved plan no longer describes it:\n" + moved.joined(separator: "\n"),
                        hint: "make and approve a new plan for this host")
                } else if !differences.isEmpty {
                    // The files were compared above: what differs only in service or package
                    // commands is, on an honest plan file, a host whose services, packages or
                    // listeners changed since the plan was made.
                    let onlyActions = differences.allSatisfy { $0.hasPrefix(PlanBinding.actionsDiffer) }
                    plan.error = onlyActions
                        ? MTAGuardError(.drift, host: entry.host,
                            "refused: the host's services, packages or listeners changed since the plan was made (or the plan file was edited), so planning again runs other commands:\n" + differences.joined(separator: "\n"),
                            hint: "make and approve a new plan for this host")
                        : MTAGuardError(.invalidInput, host: entry.host,
                            "refused: the plan's changes are not what its playbooks make of this host's files:\n" + differences.joined(separator: "\n"),
                            hint: "the plan file was edited after it was made; make and approve a new plan")
                }
            }
        } catch let error as MTAGuardError {
            plan.error = error.on(host: entry.host)
        }
        if plan.error != nil {
            plan.files = []
            plan.modes = []
            plan.actions = []
        }
        return plan
    }

    /// "7d", "36h", "90m", "600s" or a number of seconds.
    public static func parseDuration(_ text: String) -> TimeInterval? {
        let units: [Character: Double] = ["s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604_800]
        if let unit = text.last, let factor = units[unit], let n = Double(text.dropLast()), n >= 0 { return n * factor }
        if let n = Double(text), n >= 0 { return n }
        return nil
    }

    static func duration(_ seconds: TimeInterval) -> String {
        let s = Int(seconds.rounded())
        if s >= 86400 && s % 3600 == 0 { return s % 86400 == 0 ? "\(s / 86400)d" : "\(s / 3600)h" }
        if s >= 86400 { return "\(s / 86400)d \((s % 86400) / 3600)h" }
        if s >= 3600 { return "\(s / 3600)h \((s % 3600) / 60)m" }
        if s >= 60 { return "\(s / 60)m" }
        return "\(s)s"
    }
}
