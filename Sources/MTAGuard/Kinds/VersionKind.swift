/// The version judgement (U-45): each MTA the item names that the host has, judged against the
/// knowledge base (an upstream build) or by its distribution (a package). Patching is the
/// remedy; the note says which version fixes what, and the rule that decided. Under
/// `--allow-upgrade`, a failing packaged MTA's upgrade joins the plan's upgrades.
///
///     version:
///       mtas: [sendmail, postfix, exim]
///       knowledge: kb/mail-versions.yaml
struct VersionCheck: ItemCheck {
    static let mode = Mode.harden

    static func applies(to book: Playbook) -> Bool { !book.versionOf.isEmpty }

    let knowledge: VersionKnowledge?
    let allowUpgrade: Bool

    init(planner: Planner) {
        knowledge = planner.knowledge
        allowUpgrade = planner.allowUpgrade
    }

    /// The version probe, which also reads the settings the knowledge base's rules judge.
    func request(_ request: inout FactsRequest, mode: Mode) {
        request.versions = Dictionary(knowledge?.mtas.map { ($0.name, $0.settings.map(\.parameter)) } ?? [], uniquingKeysWith: +)
    }

    func judge(for book: Playbook, in context: JudgeContext) -> [Judgement] {
        guard let knowledge else {
            return [Judgement(Evidence(mta: "-", file: book.knowledge ?? "-", line: nil, text: "", status: .error,
                                       note: "no version knowledge base loaded"))]
        }
        let facts = context.facts
        let found = book.versionOf.compactMap { mta in facts.versions[mta].map { (mta, $0) } }
        guard !found.isEmpty else {
            let why = facts.live ? "no \(book.versionOf.joined(separator: ", ")) found on the host" : "an offline root runs no MTA to ask its version"
            return ([Evidence(mta: "-", file: "-", line: nil, text: "", status: .notApplicable, note: why)] + wrappers(book, facts))
                .map { Judgement($0) }
        }
        var judgements: [Judgement] = []
        for (mta, fact) in found {
            let verdict = VersionJudge.judge(
                mta: mta, version: fact.version, package: fact.package, settings: fact.settings, knowledge: knowledge)
            var text = "\(mta) \(fact.version)"
            if let p = fact.package { text += " (\(p.tool) \(p.name) \(p.installed))" }
            var notes = [verdict.rule] + verdict.notes
            var upgrading: Remedy?
            if verdict.status == .fail {
                // The package tool's upgrade, where it has a newer package.
                let upgrade = fact.package.flatMap { p in
                    VersionJudge.packageDecision(p).newer ? ServiceCatalog.upgrade(mta, package: p, facts: facts) : nil
                }
                if allowUpgrade, let upgrade {
                    upgrading = Remedy { plan in if !plan.upgrades.contains(upgrade) { plan.upgrades.append(upgrade) } }
                }
                if let remedy = remedy(mta, fact.package, upgrade: upgrade) { notes.append(remedy) }
            }
            let note = notes.joined(separator: "; ") + " [knowledge base as of \(knowledge.asOf)]"
            judgements.append(Judgement(
                Evidence(mta: mta, file: fact.source, line: nil, text: text, status: verdict.status, note: note), remedy: upgrading))
        }
        return judgements + wrappers(book, facts).map { Judgement($0) }
    }

    /// What patches a failing MTA: its package's upgrade where the package tool has a newer
    /// one (carried out under `--allow-upgrade`), else the maintained release to build.
    private func remedy(_ mta: String, _ package: PackageInfo?, upgrade: ResolvedAction?) -> String? {
        guard let package, VersionJudge.packageDecision(package).newer else {
            guard let line = knowledge?.mtas.first(where: { $0.name == mta })?.releaseLines
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
        return allowUpgrade
            ? "upgrade: \(how) (--allow-upgrade; rollback reinstalls \(package.installed))"
            : "to patch: \(how) (mtaguard apply --allow-upgrade does it, journaled), or stop it with --mode disable"
    }

    /// `/usr/sbin/sendmail` and `/usr/lib/sendmail` where another MTA owns them: shown, so
    /// that nobody takes postfix's or exim's wrapper for sendmail; they decide nothing.
    private func wrappers(_ book: Playbook, _ facts: HostFacts) -> [Evidence] {
        guard book.versionOf.contains("sendmail") else { return [] }
        return facts.owners.filter { $0.mta != "sendmail" }.map { owner in
            Evidence(
                mta: "sendmail", file: owner.path, line: nil,
                text: "\(owner.path) → \(owner.mta) (\(owner.evidence.joined(separator: ", ")))", status: .notApplicable,
                note: "\(owner.path) is \(owner.mta)'s sendmail-compatible command, not sendmail; no sendmail version is claimed for it")
        }
    }
}
