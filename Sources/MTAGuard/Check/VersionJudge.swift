import Foundation

/// The distribution package a mail server's binary belongs to, as the platform's package tool
/// reports it.
public struct PackageInfo: Sendable, Equatable {
    /// The package tool: "dpkg" (Debian, Ubuntu), "rpm" (RHEL, SUSE), or another.
    public var tool: String
    public var name: String
    /// The installed package version, as the tool writes it ("3.7.11-0+deb12u1").
    public var installed: String
    /// What the host's package manager said of a newer package: a candidate, nothing newer,
    /// or could not tell (and why).
    public var update: PackageUpdate
    /// The version the package manager offers, where it offered one.
    public var candidate: String? { update.candidate }

    public init(tool: String, name: String, installed: String, update: PackageUpdate) {
        self.tool = tool
        self.name = name
        self.installed = installed
        self.update = update
    }
}

/// The answer to U-45 / U-30 / SRV-007 for one mail server.
public struct VersionVerdict: Sendable, Equatable {
    public var status: Status
    /// The rule that decided, in words: "upstream: 3.7.11 < 3.7.22 (latest of line 3.7)".
    public var rule: String
    /// Everything else worth knowing: CVEs that apply with their fixed versions, end of life,
    /// the setting rule, other shortfalls; for a package, the upstream comparison as information.
    public var notes: [String]

    public init(status: Status, rule: String, notes: [String] = []) {
        self.status = status
        self.rule = rule
        self.notes = notes
    }
}

/// Judges a mail server's version against the knowledge base.
///
/// 1. A distribution package whose package manager answered is judged by its distribution,
///    which backports fixes without changing the upstream number: 취약 when the manager offers
///    a newer package (apt-cache policy's candidate, a dnf/yum check-update or zypper
///    list-updates line, Solaris pkg list -u), else 양호 (it was asked and offers nothing
///    newer); the upstream comparison and CVEs are notes, for information.
/// 2. A package whose manager could not tell (none on the host, it failed, timed out, had no
///    cache, named no candidate) is judged by its upstream number, and the rule says first what
///    was asked and why it did not answer: 양호 only when the upstream number is itself the
///    latest of a maintained line with no known CVE; where the upstream number falls short, the
///    distribution may still have backported the fixes, which nothing could ask: 수동 확인
///    (review) with the installed package, the shortfalls and CVEs that would apply, and what to
///    look at. An unreadable version number then decides nothing: 오류.
/// 3. AIX's lslpp, HP-UX's swlist and Solaris 10's pkginfo know only what is installed, never
///    whether anything newer exists: for their packages, as for an upstream build, the
///    knowledge base decides: 취약 when the release line is end of life, the version is below
///    its line's latest release, or a known CVE's range covers it. A line newer than every known
///    line passes with a note that the knowledge base is older.
/// 4. postfix, built either way: 취약 also when the setting that mitigates CVE-2023-51764
///    (SMTP smuggling), smtpd_forbid_bare_newline, is not in force: set to yes, normalize or
///    reject, or unset where the version's default is yes (3.9 and later). An established
///    shortfall of the setting outranks 수동 확인.
public enum VersionJudge {
    public static func judge(
        mta: String, version: String, package: PackageInfo?, settings: [String: String],
        knowledge: VersionKnowledge
    ) -> VersionVerdict {
        guard let known = knowledge.mta(mta) else {
            let names = knowledge.mtas.map(\.name).joined(separator: ", ")
            return VersionVerdict(
                status: .error, rule: "the knowledge base (as of \(knowledge.asOf)) has nothing on '\(mta)' (known: \(names))")
        }
        let parsed = MailVersion(version)
        if parsed == nil && package == nil {
            return VersionVerdict(
                status: .error, rule: "cannot read '\(version)' as a version number of \(known.name)")
        }
        let upstream = parsed.map { assess($0, known, knowledge) } ?? Assessment()
        let setting = parsed.map { v in
            known.settings.map { assess($0, version: v, settings: settings, packaged: package != nil, knowledge) }
        } ?? []
        let settingProblems = setting.compactMap(\.problem)
        let settingNotes = setting.map(\.note)

        if let package, case .unknown(let doubt) = package.update, !upstreamDecides(package) {
            return undecided(
                known, version: version, parsed: parsed, package: package, doubt: doubt, upstream: upstream,
                settingProblems: settingProblems, settingNotes: settingNotes)
        }
        guard let package, !upstreamDecides(package) else {
            // Rule 2 (and 3): the knowledge base decides, for an upstream build or a package
            // whose tool cannot tell whether a newer one exists (the rule says so first).
            var lead = "", vendor: [String] = []
            if let package, let blind = candidateBlind[package.tool.lowercased()] {
                guard parsed != nil else {
                    return VersionVerdict(
                        status: .error,
                        rule: "cannot read '\(version)' as a version number of \(known.name), and \(blind.platform)'s \(package.tool) knows no candidate for \(package.name): nothing decides")
                }
                lead = packageDecision(package).rule + ": "
                vendor = ["information: \(blind.platform) ships fixes as \(blind.fixes), which may keep \(known.name)'s own version number; the vendor's advisories say which fix covers what"]
            }
            let problems = upstream.problems + settingProblems
            guard let first = problems.first else {
                return VersionVerdict(
                    status: .pass, rule: lead + upstream.standing,
                    notes: upstream.cveNotes + upstream.info + settingNotes + vendor)
            }
            let rest = Array(problems.dropFirst())
            return VersionVerdict(
                status: .fail, rule: lead + first,
                notes: rest + upstream.cveNotes + upstream.info + settingNotes + vendor)
        }

        // Rule 1 (and 3): the distribution decides; upstream facts are information.
        var notes: [String] = []
        if parsed == nil {
            notes.append("information: cannot read '\(version)' as a version number of \(known.name); no upstream comparison")
        }
        if !upstream.problems.isEmpty {
            notes.append(
                "information: the \(packageLabel(package.tool)) package decides; distributions backport fixes without changing the upstream number, so the upstream comparison below does not")
        }
        notes += upstream.problems.map { "information: \($0)" }
        notes += upstream.cveNotes.map { "information: \($0)" }
        notes += upstream.info.map { "information: \($0)" }
        notes += settingNotes

        let decision = packageDecision(package)
        if let extra = decision.note { notes.append(extra) }
        if decision.newer {
            return VersionVerdict(status: .fail, rule: decision.rule, notes: settingProblems + notes)
        }
        if let first = settingProblems.first {
            notes = [decision.rule] + settingProblems.dropFirst() + notes
            return VersionVerdict(status: .fail, rule: first, notes: notes)
        }
        return VersionVerdict(status: .pass, rule: decision.rule, notes: notes)
    }

    // MARK: Package rule

    /// The name a package tool's rules use: "debian" for the dpkg family, "rpm" for the rpm
    /// family, the tool's own name for the rest (pkg, pkginfo, lslpp, swlist).
    static func packageLabel(_ tool: String) -> String {
        switch tool.lowercased() {
        case "dpkg", "apt", "apt-get", "apt-cache", "debian", "ubuntu": "debian"
        case "rpm", "dnf", "yum", "zypper", "rhel": "rpm"
        default: tool
        }
    }

    /// Package tools that list what is installed but cannot tell whether the vendor has a newer
    /// package, with their platform and the form that platform's fixes take.
    static let candidateBlind: [String: (platform: String, fixes: String)] = [
        "lslpp": ("AIX", "service packs and interim fixes (instfix -i, emgr -l)"),
        "swlist": ("HP-UX", "patches (swlist -l patch)"),
        "pkginfo": ("Solaris 10", "patches (showrev -p)"),
    ]

    /// True when `p` comes from such a tool and names no candidate: the package cannot say
    /// whether it is current, so the upstream comparison decides.
    static func upstreamDecides(_ p: PackageInfo) -> Bool {
        candidateBlind[p.tool.lowercased()] != nil && (p.candidate ?? "").trimmingCharacters(in: .whitespaces).isEmpty
    }

    static func packageDecision(_ p: PackageInfo) -> (newer: Bool, rule: String, note: String?) {
        if upstreamDecides(p), let blind = candidateBlind[p.tool.lowercased()] {
            return (false, "package: \(p.tool) reports \(p.name) \(p.installed) and knows no candidate on \(blind.platform), so the upstream comparison decides", nil)
        }
        switch p.update {
        case .unknown(let doubt):
            return (false, "package: \(doubt)", nil)
        case .noneNewer(let tool):
            return (false, "package: \(PackageUpdate.asked(tool)) offers nothing newer for \(p.name) than installed \(p.installed)", nil)
        case .candidate(let offered, let tool):
            let asked = PackageUpdate.asked(tool)
            let none = "package: \(asked) offers nothing newer for \(p.name) than installed \(p.installed)"
            let candidate = offered.trimmingCharacters(in: .whitespaces)
            guard !candidate.isEmpty, candidate != p.installed else { return (false, none, nil) }
            guard let order = PackageVersion.compare(candidate, p.installed, tool: p.tool) else {
                // A tool whose ordering is not known here: it offered something else, so trust it.
                return (true, "package: \(asked) offers \(p.name) \(candidate), which differs from installed \(p.installed)", nil)
            }
            if order > 0 {
                return (true, "package: \(asked) offers \(p.name) \(candidate), newer than installed \(p.installed)", nil)
            }
            if order == 0 { return (false, none, nil) }
            return (false, none, "package: \(asked)'s candidate \(candidate) is older than installed \(p.installed) (pinned or downgraded?)")
        }
    }

    /// Rule 2: a package whose manager could not tell whether anything newer exists.
    static func undecided(
        _ known: VersionKnowledge.MTA, version: String, parsed: MailVersion?, package p: PackageInfo,
        doubt: PackageUpdate.Doubt, upstream: Assessment, settingProblems: [String], settingNotes: [String]
    ) -> VersionVerdict {
        guard let parsed else {
            return VersionVerdict(
                status: .error,
                rule: "cannot read '\(version)' as a version number of \(known.name), and \(doubt): nothing decides")
        }
        let asked = "package: \(doubt)"
        guard let shortfall = upstream.problems.first else {
            let rule = "\(asked); judged by the upstream version: \(upstream.standing)"
            let notes = upstream.cveNotes + upstream.info + settingNotes
            guard let first = settingProblems.first else { return VersionVerdict(status: .pass, rule: rule, notes: notes) }
            return VersionVerdict(status: .fail, rule: first, notes: [rule] + settingProblems.dropFirst() + notes)
        }
        let review = "\(asked); the upstream number \(parsed.number) falls short (\(shortfall)), but \(p.name) \(p.installed) "
            + "is a distribution package whose backported fixes nothing could ask for: a person must decide"
        let look = "to look at: whether \(p.name) \(p.installed) carries the fixes for what would apply above "
            + "(the vendor's security advisories; \(changelog(p))), or \(doubt.remedy)"
        let notes = upstream.problems.map { "would apply: \($0)" } + upstream.cveNotes + upstream.info + settingNotes + [look]
        guard let first = settingProblems.first else { return VersionVerdict(status: .review, rule: review, notes: notes) }
        return VersionVerdict(status: .fail, rule: first, notes: [review] + settingProblems.dropFirst() + notes)
    }

    /// Where a package's own history of fixes is read.
    static func changelog(_ p: PackageInfo) -> String {
        switch packageLabel(p.tool) {
        case "rpm": "rpm -q --changelog \(p.name)"
        case "debian": "apt-get changelog \(p.name), or /usr/share/doc/\(p.name)/changelog.Debian.gz"
        default: "the package's change log"
        }
    }

    // MARK: Upstream rule

    struct Assessment {
        /// Shortfalls, each a rule that would fail the item.
        var problems: [String] = []
        /// Why it passes, when nothing fails it.
        var standing = ""
        /// CVEs that apply, with their fixed versions.
        var cveNotes: [String] = []
        var info: [String] = []
    }

    static func assess(_ v: MailVersion, _ mta: VersionKnowledge.MTA, _ kb: VersionKnowledge) -> Assessment {
        var a = Assessment()
        let maintained = mta.releaseLines.filter { !$0.endOfLife }.sorted { $0.line > $1.line }
        let upgrade = maintained.isEmpty ? "" : "; maintained: " + maintained.map(\.latest.number).joined(separator: ", ")
        let newerThanKB = "newer than the knowledge base (as of \(kb.asOf))"
        if let line = mta.releaseLine(of: v) {
            if line.endOfLife {
                a.problems.append(
                    "upstream: line \(line.line.number) of \(mta.name) is end of life (last release \(line.latest.number)\(upgrade))")
            }
            if v < line.latest {
                a.problems.append("upstream: \(v.number) < \(line.latest.number) (latest of line \(line.line.number))")
            } else if v == line.latest {
                a.standing = "upstream: \(v.number) is the latest of line \(line.line.number)"
            } else {
                a.standing = "upstream: \(v.number) is above \(line.latest.number), the latest of line \(line.line.number) known"
                a.info.append("\(v.number) is \(newerThanKB), which knows \(line.latest.number) as the latest of line \(line.line.number)")
            }
        } else if let newest = mta.releaseLines.map(\.line).max(), v.line > newest {
            a.standing = "upstream: line \(v.line.number) is above every line the knowledge base knows (newest \(newest.number))"
            a.info.append("\(v.number) is \(newerThanKB)")
        } else if let eol = mta.endOfLifeBelow, v.line < eol {
            a.problems.append(
                "upstream: line \(v.line.number) of \(mta.name) is end of life (lines below \(eol.number) are no longer maintained\(upgrade))")
        } else {
            a.problems.append(
                "upstream: line \(v.line.number) of \(mta.name) is not in the knowledge base (as of \(kb.asOf)); it cannot be shown to be maintained")
        }
        var applying: [String] = []
        for cve in mta.cves where cve.affects(v) {
            applying.append(cve.id)
            let group = cve.ids.isEmpty ? "" : " (\(cve.ids.joined(separator: ", ")))"
            let fix = cve.fix(for: v).map { "fixed in \($0.number)" } ?? "no fixed version known"
            a.cveNotes.append("\(cve.id)\(group) affects \(v.number): \(cve.summary); \(fix) [\(cve.source)]")
        }
        if !applying.isEmpty {
            a.problems.append("upstream: \(v.number) is affected by \(applying.joined(separator: ", "))")
        }
        return a
    }

    // MARK: Setting rule

    static func assess(
        _ rule: VersionKnowledge.SettingRule, version v: MailVersion, settings: [String: String], packaged: Bool,
        _ kb: VersionKnowledge
    ) -> (problem: String?, note: String) {
        let name = rule.parameter
        let cve = "\(rule.mitigates) (\(rule.summary)) [\(rule.source)]"
        let open = "\(cve): not mitigated"
        let values = rule.mitigatingValues.joined(separator: ", ")
        let explicit = settings[name]?.trimmingCharacters(in: .whitespaces)
        // A distribution may have backported the parameter to an older upstream number; an
        // upstream build has it only from the versions the knowledge base lists.
        let available = packaged || rule.isAvailable(in: v)
        let since = rule.availableFrom.first { $0.line == v.line }.map { " (added to line \(v.line.number) in \($0.number))" } ?? ""
        guard available else {
            return ("setting: \(v.number) does not have \(name)\(since), so \(rule.mitigates) cannot be mitigated; upgrade", open)
        }
        if let explicit, !explicit.isEmpty {
            if rule.mitigates(value: explicit) {
                return (nil, "setting: \(name) = \(explicit) mitigates \(cve)")
            }
            return ("setting: \(name) = \(explicit) leaves \(rule.mitigates) open; set it to one of \(values)", open)
        }
        let fallback = rule.defaultValue(for: v)
        if let fallback, rule.mitigates(value: fallback) {
            return (nil, "setting: \(name) is not set; its default in \(v.number), \(fallback), mitigates \(cve)")
        }
        let shown = fallback.map { "its default in \(v.number) is \($0)" } ?? "it has no default in \(v.number)"
        return ("setting: \(name) is not set and \(shown), which leaves \(rule.mitigates) open; set it to yes", open)
    }
}
