import Foundation
import Testing

@testable import MTAGuard

/// U-45 (KISA 2026) = U-30 (KISA 2021) = SRV-007: the knowledge base in playbooks/kb and the
/// judgement of mail-server versions against it.
@Suite struct VersionKnowledgeTests {
    static let kb: VersionKnowledge = {
        do { return try VersionKnowledge.default(playbooks: Repo.playbooks) } catch {
            fatalError("playbooks/kb/mail-versions.yaml: \(error)")
        }
    }()

    // MARK: Version numbers

    @Test func mailVersionParsesAndOrders() throws {
        let v = try #require(MailVersion("8.17.1.9"))
        #expect(v.components == [8, 17, 1, 9])
        #expect(v.line.number == "8.17")
        let deb = try #require(MailVersion("4.96-58+deb12u4"))
        #expect(deb.number == "4.96")
        #expect(deb.suffix == "-58+deb12u4")
        #expect(deb.description == "4.96-58+deb12u4")
        #expect(MailVersion("3.12-20260101")?.line.number == "3.12")
        #expect(MailVersion("4.96") == MailVersion("4.96.0"))
        #expect(MailVersion("4.96")! < MailVersion("4.96.2")!)
        #expect(MailVersion("3.9.14")! < MailVersion("3.10.1")!)
        #expect(MailVersion("8.17.1.9")! < MailVersion("8.18.1")!)
        for bad in ["", "x", "8", "v3.7", "4.96a", "3..7"] { #expect(MailVersion(bad) == nil, "\(bad)") }
    }

    struct DpkgCase: Sendable, CustomStringConvertible {
        var a: String, b: String, order: Int
        var description: String { "\(a) vs \(b)" }
    }

    @Test(arguments: [
        DpkgCase(a: "1.0~rc1", b: "1.0", order: -1),
        DpkgCase(a: "2:1.0", b: "1:9.9", order: 1),
        DpkgCase(a: "3.7.11-0+deb12u1", b: "3.7.11-0+deb12u2", order: -1),
        DpkgCase(a: "3.7.11-0+deb12u2", b: "3.7.11-0+deb12u1", order: 1),
        DpkgCase(a: "1.0", b: "1.0-0", order: 0),
        DpkgCase(a: "1.0", b: "1:1.0", order: -1),
        DpkgCase(a: "0:1.0", b: "1.0", order: 0),
        DpkgCase(a: "1.0~rc1~1", b: "1.0~rc1", order: -1),
        DpkgCase(a: "1.0a", b: "1.0+", order: -1),  // letters before other characters
        DpkgCase(a: "1.0", b: "1.0a", order: -1),
        DpkgCase(a: "1.09", b: "1.9", order: 0),
        DpkgCase(a: "1.10", b: "1.9", order: 1),
        DpkgCase(a: "4.96-58+deb12u4", b: "4.96-58+deb12u10", order: -1),
        DpkgCase(a: "8.17.1.9-2+deb12u2", b: "8.18.1-1", order: -1),
        DpkgCase(a: "3.7.11-0ubuntu0.1", b: "3.7.11-0+deb12u1", order: -1),  // letters before "+"
    ])
    func dpkgOrder(_ c: DpkgCase) {
        #expect(PackageVersion.dpkg(c.a, c.b) == c.order)
        #expect(PackageVersion.dpkg(c.b, c.a) == -c.order)
        #expect(PackageVersion.compare(c.a, c.b, tool: "dpkg") == c.order)
    }

    /// Every pair of a set of awkward versions, against `dpkg --compare-versions` where dpkg exists.
    @Test func dpkgOrderMatchesDpkg() throws {
        guard (try? runCommand(["dpkg", "--version"]))?.succeeded == true else { return }
        let versions = [
            "1.0", "1.0-0", "1.0-1", "1:0.9", "0:1.0", "1.0~", "1.0~~", "1.0~rc1", "1.0+b1", "1.0a", "1.0.0",
            "3.7.11-0+deb12u1", "3.7.11-0+deb12u2", "3.7.11-0ubuntu0.22.04.1", "3.7.11-0+deb12u1~bpo",
            "4.96-58+deb12u4", "4.96-15+deb12u7", "8.17.1.9-2+deb12u2", "1.2-3-4", "1.2.a-1", "1.2.A-1",
        ]
        for (i, a) in versions.enumerated() {
            for b in versions[(i + 1)...] {
                let lt = try runCommand(["dpkg", "--compare-versions", a, "lt", b]).succeeded
                let eq = try runCommand(["dpkg", "--compare-versions", a, "eq", b]).succeeded
                #expect(PackageVersion.dpkg(a, b) == (lt ? -1 : eq ? 0 : 1), "\(a) vs \(b)")
            }
        }
    }

    @Test func rpmOrder() {
        #expect(PackageVersion.rpm("3.5.9-24.el8", "3.5.9-25.el8") == -1)
        #expect(PackageVersion.rpm("2:3.5.9-1.el8", "3.9.0-1.el9") == 1)
        #expect(PackageVersion.rpm("1.0~rc1-1", "1.0-1") == -1)
        #expect(PackageVersion.rpm("1.0^git1-1", "1.0-1") == 1)
        #expect(PackageVersion.rpm("1.10-1", "1.9-1") == 1)
        #expect(PackageVersion.rpm("1.0a-1", "1.0-1") == 1)
        #expect(PackageVersion.rpm("1.0", "1.0-5") == 0)  // no release on one side: versions decide
        #expect(PackageVersion.compare("a", "b", tool: "swlist") == nil)
    }

    // MARK: Judgements

    struct Case: Sendable, CustomStringConvertible {
        var name: String
        var mta: String
        var version: String
        var package: PackageInfo? = nil
        var settings: [String: String] = [:]
        var status: Status
        /// The deciding rule contains this.
        var rule: String
        /// Some note contains each of these.
        var notes: [String] = []
        /// No note or rule contains any of these.
        var absent: [String] = []
        var description: String { name }
    }

    static let yes = ["smtpd_forbid_bare_newline": "yes"]
    static func debianPostfix(_ update: PackageUpdate) -> PackageInfo {
        PackageInfo(tool: "dpkg", name: "postfix", installed: "3.7.11-0+deb12u1", update: update)
    }
    static func apt(_ candidate: String) -> PackageUpdate { .candidate(candidate, tool: "apt-cache") }
    /// exim 4.80 from RHEL 6 (end of life upstream), whatever the package manager said.
    static func el6Exim(_ update: PackageUpdate) -> PackageInfo {
        PackageInfo(tool: "rpm", name: "exim", installed: "0:4.80-1.el6", update: update)
    }
    static func el9Exim(_ update: PackageUpdate) -> PackageInfo {
        PackageInfo(tool: "rpm", name: "exim", installed: "0:4.99.3-1.el9", update: update)
    }
    static let dnfFailed = PackageUpdate.unknown(.failed(tool: "dnf", status: 1, output: "Error: Failed to download metadata for repo 'epel'"))

    static let cases: [Case] = [
        Case(name: "sendmail 8.17.1.9 upstream", mta: "sendmail", version: "8.17.1.9", status: .fail,
             rule: "line 8.17 of sendmail is end of life",
             notes: ["CVE-2023-51765 affects 8.17.1.9", "fixed in 8.18.1", "https://ftp.sendmail.org/RELEASE_NOTES"]),
        Case(name: "sendmail 8.18.1 below latest", mta: "sendmail", version: "8.18.1", status: .fail,
             rule: "upstream: 8.18.1 < 8.18.2 (latest of line 8.18)", absent: ["CVE-2023-51765"]),
        Case(name: "sendmail 8.18.2", mta: "sendmail", version: "8.18.2", status: .pass,
             rule: "8.18.2 is the latest of line 8.18", absent: ["CVE"]),
        Case(name: "postfix 3.7.11 upstream", mta: "postfix", version: "3.7.11", settings: yes, status: .fail,
             rule: "upstream: 3.7.11 < 3.7.22 (latest of line 3.7)"),
        Case(name: "postfix 3.7.22 with the setting", mta: "postfix", version: "3.7.22", settings: yes, status: .pass,
             rule: "3.7.22 is the latest of line 3.7",
             notes: ["smtpd_forbid_bare_newline = yes mitigates CVE-2023-51764"]),
        Case(name: "postfix 3.7.22 with reject", mta: "postfix", version: "3.7.22",
             settings: ["smtpd_forbid_bare_newline": "reject"], status: .pass, rule: "latest of line 3.7"),
        Case(name: "postfix 3.7.22 without the setting (3.7 default no)", mta: "postfix", version: "3.7.22",
             status: .fail, rule: "smtpd_forbid_bare_newline is not set and its default in 3.7.22 is no",
             notes: ["CVE-2023-51764"]),
        Case(name: "postfix 3.9.14 without the setting (default yes)", mta: "postfix", version: "3.9.14",
             status: .pass, rule: "3.9.14 is the latest of line 3.9",
             notes: ["default in 3.9.14, yes, mitigates CVE-2023-51764"]),
        Case(name: "postfix 3.9.14 with explicit no", mta: "postfix", version: "3.9.14",
             settings: ["smtpd_forbid_bare_newline": "no"], status: .fail,
             rule: "smtpd_forbid_bare_newline = no leaves CVE-2023-51764 open"),
        Case(name: "postfix 3.11.6 with normalize", mta: "postfix", version: "3.11.6",
             settings: ["smtpd_forbid_bare_newline": "normalize"], status: .pass, rule: "latest of line 3.11"),
        Case(name: "postfix 3.6.14 end of life", mta: "postfix", version: "3.6.14", settings: yes, status: .fail,
             rule: "line 3.6 of postfix is end of life", notes: []),
        Case(name: "postfix 3.6.4 end of life, no setting available", mta: "postfix", version: "3.6.4",
             status: .fail, rule: "line 3.6 of postfix is end of life",
             notes: ["3.6.4 does not have smtpd_forbid_bare_newline (added to line 3.6 in 3.6.14)"]),
        Case(name: "postfix 3.12 snapshot newer than the KB", mta: "postfix", version: "3.12-20260901",
             status: .pass, rule: "line 3.12 is above every line", notes: ["newer than the knowledge base (as of 2026-11-01)"]),
        Case(name: "postfix 3.7.23 newer than the KB's latest", mta: "postfix", version: "3.7.23", settings: yes,
             status: .pass, rule: "3.7.23 is above 3.7.22", notes: ["newer than the knowledge base"]),
        Case(name: "exim 4.96", mta: "exim", version: "4.96", status: .fail, rule: "line 4.96 of exim is end of life",
             notes: ["CVE-2023-42117 affects 4.96", "fixed in 4.96.2", "CVE-2023-42119", "CVE-2025-30232", "CVE-2026-45185"],
             absent: ["21Nails", "CVE-2020-28007", "CVE-2025-26794"]),
        Case(name: "exim 4.94 has 21Nails", mta: "exim", version: "4.94", status: .fail, rule: "end of life",
             notes: ["21Nails (CVE-2020-28007", "CVE-2021-27216)", "fixed in 4.94.2"]),
        Case(name: "exim 4.98 (first CVE-2025-26794 range)", mta: "exim", version: "4.98", status: .fail,
             rule: "end of life", notes: ["CVE-2025-26794 affects 4.98", "fixed in 4.98.1"]),
        Case(name: "exim 4.99 (second CVE-2025-26794 range)", mta: "exim", version: "4.99", status: .fail,
             rule: "upstream: 4.99 < 4.99.3", notes: ["CVE-2025-26794 affects 4.99", "fixed in 4.99.1"]),
        Case(name: "exim 4.99.1", mta: "exim", version: "4.99.1", status: .fail,
             rule: "upstream: 4.99.1 < 4.99.3 (latest of line 4.99)",
             notes: ["is affected by CVE-2026-45185, CVE-2026-40684, CVE-2026-40685, CVE-2026-40686, CVE-2026-40687",
                     "CVE-2026-40684 affects 4.99.1", "fixed in 4.99.2"],
             absent: ["CVE-2025-26794"]),
        Case(name: "exim 4.99.3", mta: "exim", version: "4.99.3", status: .pass, rule: "4.99.3 is the latest of line 4.99",
             absent: ["CVE"]),
        Case(name: "debian postfix with a newer candidate", mta: "postfix", version: "3.7.11",
             package: debianPostfix(apt("3.7.11-0+deb12u2")), settings: yes, status: .fail,
             rule: "package: apt-cache policy offers postfix 3.7.11-0+deb12u2, newer than installed 3.7.11-0+deb12u1"),
        Case(name: "debian postfix, no newer candidate", mta: "postfix", version: "3.7.11",
             package: debianPostfix(apt("3.7.11-0+deb12u1")), settings: yes, status: .pass,
             rule: "package: apt-cache policy offers nothing newer for postfix than installed 3.7.11-0+deb12u1",
             notes: ["information: upstream: 3.7.11 < 3.7.22 (latest of line 3.7)", "the debian package decides"]),
        Case(name: "debian postfix, apt-cache names no candidate", mta: "postfix", version: "3.7.11",
             package: debianPostfix(.unknown(.noCandidate(tool: "apt-cache"))), settings: yes, status: .review,
             rule: "package: apt-cache policy names no candidate; the upstream number 3.7.11 falls short (upstream: 3.7.11 < 3.7.22 (latest of line 3.7))",
             notes: ["would apply: upstream: 3.7.11 < 3.7.22", "to look at: whether postfix 3.7.11-0+deb12u1 carries the fixes",
                     "apt-get changelog postfix", "make apt-cache policy work on the host and check again"],
             absent: ["offers nothing newer"]),
        Case(name: "debian postfix, apt-cache failed", mta: "postfix", version: "3.7.11",
             package: debianPostfix(.unknown(.failed(tool: "apt-cache", status: 100, output: "E: Could not open lock file"))),
             settings: yes, status: .review,
             rule: "package: apt-cache policy failed (exit 100): \"E: Could not open lock file\"; the upstream number 3.7.11 falls short"),
        Case(name: "debian postfix, apt has no lists", mta: "postfix", version: "3.7.11",
             package: debianPostfix(.unknown(.cacheEmpty(tool: "apt-cache", status: 0, output: "postfix: Installed: 3.7.11-0+deb12u1"))),
             settings: yes, status: .review, rule: "apt-cache policy could not answer from its cache (exit 0)",
             notes: ["run apt-get update on the host and check again"]),
        Case(name: "debian postfix, up to date but setting absent", mta: "postfix", version: "3.7.11",
             package: debianPostfix(apt("3.7.11-0+deb12u1")), status: .fail,
             rule: "smtpd_forbid_bare_newline is not set", notes: ["package: apt-cache policy offers nothing newer"]),
        Case(name: "debian postfix, apt failed and setting absent: the setting decides", mta: "postfix", version: "3.7.11",
             package: debianPostfix(.unknown(.noCandidate(tool: "apt-cache"))), status: .fail,
             rule: "smtpd_forbid_bare_newline is not set", notes: ["a person must decide"]),
        Case(name: "debian exim 4.96, no newer candidate", mta: "exim", version: "4.96",
             package: PackageInfo(tool: "dpkg", name: "exim4-daemon-light", installed: "4.96-15+deb12u7", update: apt("4.96-15+deb12u7")),
             status: .pass, rule: "package: apt-cache policy offers nothing newer",
             notes: ["information: CVE-2023-42117 affects 4.96", "information: upstream: line 4.96 of exim is end of life"]),
        Case(name: "rpm candidate older than installed", mta: "sendmail", version: "8.16.1",
             package: PackageInfo(tool: "rpm", name: "sendmail", installed: "8.16.1-11.el9", update: .candidate("8.16.1-10.el9", tool: "yum")),
             status: .pass, rule: "package: yum check-update offers nothing newer", notes: ["is older than installed"]),
        // RHEL: what dnf, yum and zypper said, and what decides when they could not say.
        Case(name: "el6 exim 4.80, dnf offers a newer package", mta: "exim", version: "4.80",
             package: el6Exim(.candidate("4.80-2.el6", tool: "dnf")), status: .fail,
             rule: "package: dnf check-update offers exim 4.80-2.el6, newer than installed 0:4.80-1.el6",
             notes: ["the rpm package decides", "information: upstream: line 4.80 of exim is end of life"]),
        Case(name: "el6 exim 4.80, dnf asked and nothing newer", mta: "exim", version: "4.80",
             package: el6Exim(.noneNewer(tool: "dnf")), status: .pass,
             rule: "package: dnf check-update offers nothing newer for exim than installed 0:4.80-1.el6"),
        Case(name: "el6 exim 4.80, zypper asked and nothing newer", mta: "exim", version: "4.80",
             package: el6Exim(.noneNewer(tool: "zypper")), status: .pass,
             rule: "package: zypper list-updates offers nothing newer for exim"),
        Case(name: "el6 exim 4.80, dnf failed: a person decides", mta: "exim", version: "4.80",
             package: el6Exim(dnfFailed), status: .review,
             rule: "package: dnf check-update failed (exit 1): \"Error: Failed to download metadata for repo 'epel'\"; "
                + "the upstream number 4.80 falls short (upstream: line 4.80 of exim is end of life",
             notes: ["would apply: upstream: line 4.80 of exim is end of life", "21Nails (CVE-2020-28007", "CVE-2023-42117 affects 4.80",
                     "to look at: whether exim 0:4.80-1.el6 carries the fixes for what would apply above (the vendor's security advisories; rpm -q --changelog exim)",
                     "make dnf check-update work on the host and check again"],
             absent: ["offers nothing newer", "knows no newer"]),
        Case(name: "el6 exim 4.80, no package manager", mta: "exim", version: "4.80",
             package: el6Exim(.unknown(.noTool(tools: "dnf, yum or zypper"))), status: .review,
             rule: "package: the host has no dnf, yum or zypper to ask whether a newer package exists; the upstream number 4.80 falls short"),
        Case(name: "el6 exim 4.80, yum timed out", mta: "exim", version: "4.80",
             package: el6Exim(.unknown(.timedOut(tool: "yum", seconds: 30))), status: .review,
             rule: "package: yum check-update did not answer within 30 s and was stopped; the upstream number 4.80 falls short"),
        Case(name: "el6 exim 4.80, dnf without cache", mta: "exim", version: "4.80",
             package: el6Exim(.unknown(.cacheEmpty(tool: "dnf", status: 1, output: "Error: Cache-only enabled but no cache for 'epel'"))),
             status: .review, rule: "package: dnf check-update could not answer from its cache (exit 1)",
             notes: ["run dnf makecache on the host and check again"]),
        Case(name: "el9 exim 4.99.3, dnf failed: the upstream number decides", mta: "exim", version: "4.99.3",
             package: el9Exim(dnfFailed), status: .pass,
             rule: "package: dnf check-update failed (exit 1): \"Error: Failed to download metadata for repo 'epel'\"; "
                + "judged by the upstream version: upstream: 4.99.3 is the latest of line 4.99"),
        Case(name: "rpm exim, dnf failed and the version unreadable", mta: "exim", version: "unknown",
             package: el9Exim(dnfFailed), status: .error,
             rule: "cannot read 'unknown' as a version number of exim, and dnf check-update failed (exit 1)"),
        Case(name: "unknown package tool trusts a different candidate", mta: "sendmail", version: "8.17.1",
             package: PackageInfo(tool: "swlist", name: "sendmail", installed: "B.11.31.01", update: .candidate("B.11.31.02", tool: "swlist")),
             status: .fail, rule: "package: swlist offers sendmail B.11.31.02, which differs from installed B.11.31.01"),
        Case(name: "package with an unreadable upstream number", mta: "exim", version: "",
             package: PackageInfo(tool: "dpkg", name: "exim4-base", installed: "4.96-15+deb12u7", update: apt("4.96-15+deb12u7")),
             status: .pass, rule: "package: apt-cache policy offers nothing newer", notes: ["no upstream comparison"]),
        Case(name: "unknown MTA", mta: "qmail", version: "1.03", status: .error, rule: "nothing on 'qmail'"),
        Case(name: "unreadable version", mta: "exim", version: "unknown", status: .error, rule: "cannot read 'unknown'"),
    ]

    @Test(arguments: cases)
    func judgement(_ c: Case) {
        let v = VersionJudge.judge(
            mta: c.mta, version: c.version, package: c.package, settings: c.settings, knowledge: Self.kb)
        let all = ([v.rule] + v.notes).joined(separator: "\n")
        #expect(v.status == c.status, "\(all)")
        #expect(v.rule.contains(c.rule), "rule: \(v.rule)")
        for n in c.notes { #expect(v.notes.contains { $0.contains(n) }, "missing note '\(n)' in:\n\(all)") }
        for a in c.absent { #expect(!all.contains(a), "'\(a)' should not appear in:\n\(all)") }
        #expect(!v.notes.contains(v.rule), "the rule is repeated in the notes:\n\(all)")
        if c.name == "sendmail 8.17.1.9 upstream" { #expect(v.rule.contains("maintained: 8.18.2"), "\(all)") }
    }

    // MARK: The knowledge base

    @Test func shippedFactsAreAsGiven() throws {
        let kb = Self.kb
        #expect(kb.asOf == "2026-11-01")
        let postfix = try #require(kb.mta("postfix"))
        #expect(postfix.releaseLines.map(\.latest.number) == ["3.11.6", "3.10.13", "3.9.14", "3.8.20", "3.7.22"])
        #expect(postfix.releaseLines.allSatisfy { $0.released == "2026-08-09" && !$0.endOfLife })
        #expect(postfix.endOfLifeBelow?.number == "3.7")
        let exim = try #require(kb.mta("exim"))
        #expect(exim.releaseLines.first?.latest.number == "4.99.3")
        #expect(exim.releaseLines.first?.released == "2026-05-12")
        let nails = try #require(exim.cves.first { $0.id == "21Nails" })
        #expect(nails.ids.count == 21)
        #expect(Set(nails.ids).count == 21)
        let again = try #require(exim.cves.first { $0.id == "CVE-2025-26794" })
        #expect(again.affected.count == 2)
        #expect(kb.mta("sendmail")?.releaseLines.first?.latest.number == "8.18.2")
        for mta in kb.mtas {
            for l in mta.releaseLines { #expect(l.source.hasPrefix("https://")) }
            for c in mta.cves { #expect(c.source.hasPrefix("https://"), "\(c.id)") }
        }
    }

    @Test func describeShowsEverything() {
        let text = Self.kb.describe()
        for expected in [
            "as of 2026-11-01", "sendmail", "postfix", "exim", "3.10  latest 3.10.13", "released 2026-08-09",
            "lines below 3.7: end of life", "CVE-2023-51765", "CVE-2025-26794: affected 4.98 ≤ v < 4.98.1 or 4.99 ≤ v < 4.99.1",
            "smtpd_forbid_bare_newline mitigates CVE-2023-51764", "default: yes from 3.9, no otherwise",
            "https://www.postfix.org/announcements.html", "21Nails",
        ] {
            #expect(text.contains(expected), "missing '\(expected)' in:\n\(text)")
        }
    }

    // MARK: Errors

    func loadError(_ yaml: String) throws -> MTAGuardError {
        let dir = try TempDir("kb")
        defer { dir.remove() }
        let file = try dir.write("kb/mail-versions.yaml", yaml)
        do {
            _ = try VersionKnowledge.default(playbooks: dir.path)
        } catch let error as MTAGuardError {
            #expect(error.file == file)
            return error
        }
        Issue.record("no error for:\n\(yaml)")
        return MTAGuardError("none")
    }

    static let minimal = """
        as_of: "2026-11-01"
        sources:
          vendor: https://www.postfix.org/announcements.html
        postfix:
          release_lines:
            - line: "3.7"
              latest: "3.7.22"
              end_of_life: false
              source: vendor

        """

    @Test func minimalLoads() throws {
        let kb = try VersionKnowledge.load(file: "x.yaml", text: Self.minimal)
        #expect(kb.mta("postfix")?.releaseLines.count == 1)
        #expect(kb.mta("exim") == nil)
    }

    @Test func malformedYAMLNamesFileAndLine() throws {
        let e = try loadError("as_of: \"2026-11-01\"\npostfix:\n  release_lines:\n    - line: \"3.7\"\n   latest: [\n")
        #expect(e.line != nil)
        #expect(e.description.contains("mail-versions.yaml:"), "\(e)")
        #expect(e.message.contains("invalid YAML"), "\(e)")
    }

    @Test func badFieldsNameFileLineColumnAndField() throws {
        let badVersion = try loadError(Self.minimal.replacingOccurrences(of: "\"3.7.22\"", with: "\"3.7.x\""))
        #expect(badVersion.line == 7)
        #expect(badVersion.column != nil)
        #expect(badVersion.message.contains("postfix.release_lines[0].latest"), "\(badVersion)")
        #expect(badVersion.description.contains("mail-versions.yaml:7:"), "\(badVersion)")

        let wrongLine = try loadError(Self.minimal.replacingOccurrences(of: "\"3.7.22\"", with: "\"3.8.1\""))
        #expect(wrongLine.message.contains("3.8.1 is not in line 3.7"), "\(wrongLine)")

        let unknownField = try loadError(Self.minimal.replacingOccurrences(of: "end_of_life:", with: "eol:"))
        #expect(unknownField.line == 8)
        #expect(unknownField.message.contains("unknown field 'eol'"), "\(unknownField)")

        let missing = try loadError(Self.minimal.replacingOccurrences(of: "      end_of_life: false\n", with: ""))
        #expect(missing.message.contains("missing field 'end_of_life'"), "\(missing)")

        let source = try loadError(Self.minimal.replacingOccurrences(of: "source: vendor", with: "source: elsewhere"))
        #expect(source.line == 9)
        #expect(source.message.contains("unknown source 'elsewhere'"), "\(source)")

        let date = try loadError(Self.minimal.replacingOccurrences(of: "\"2026-11-01\"", with: "November"))
        #expect(date.line == 1)
        #expect(date.message.contains("as_of: 'November' is not a date"), "\(date)")

        let duplicate = try loadError(Self.minimal + "postfix: {}\n")
        #expect(duplicate.message.contains("duplicate key 'postfix'"), "\(duplicate)")

        let cve = try loadError(Self.minimal + """
              cves:
                - id: CVE-2099-0001
                  affected: [{ from: "3.7.5", below: "3.7.9" }]
                  fixed_in: ["3.7.10"]
                  summary: test
                  source: vendor

            """)
        #expect(cve.line == 13)
        #expect(cve.message.contains("ends at 3.7.9, which `fixed_in` does not list"), "\(cve)")
    }

    @Test func missingFileSaysWhere() throws {
        let dir = try TempDir("kb")
        defer { dir.remove() }
        #expect(throws: MTAGuardError.self) { try VersionKnowledge.default(playbooks: dir.path) }
    }
}
