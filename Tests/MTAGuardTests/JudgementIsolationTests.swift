import Foundation
import Testing

@testable import MTAGuard

/// Judging changes nothing: every item is judged on the files as the host sent them, and the
/// remedies are composed afterwards. Every pair of shipped items, on files that several of them
/// read and fail, gives each item exactly the evidence it has when it runs alone; the composed
/// plan fixes both; and two remedies that undo each other are an error naming both items.
@Suite struct JudgementIsolationTests {
    /// Roots whose shared files fail several items at once.
    static func roots() throws -> [(String, [String: Data])] {
        let generic = try Repo.fixtureData("sendmail/generic-linux.cf")
        let privacy = Data(String(decoding: generic, as: UTF8.self)
            .replacingOccurrences(of: "O PrivacyOptions=authwarnings\n", with: "O PrivacyOptions=authwarnings,restrictqrun\n").utf8)
        let exim = """
            primary_hostname = mail.example
            acl_smtp_vrfy = accept
            acl_smtp_expn = accept
            acl_smtp_rcpt = acl_check_rcpt
            smtp_banner = $smtp_active_hostname ESMTP Exim $version_number $tod_full
            log_selector = +smtp_connection
            begin acl
            acl_check_rcpt:
              accept hosts = *
            begin routers
            begin transports

            """
        return [
            ("sendmail generic", ["/etc/mail/sendmail.cf": generic, "/etc/mail/sendmail.mc": try Repo.fixtureData("sendmail/generic-linux.mc")]),
            ("sendmail restrictqrun", ["/etc/mail/sendmail.cf": privacy]),
            ("postfix debian", ["/etc/postfix/main.cf": try Repo.fixtureData("postfix/main.cf.debian")]),
            ("exim", ["/etc/exim4/exim4.conf": Data(exim.utf8)]),
        ]
    }

    static func plan(_ files: [String: Data], items: [String], books: [Playbook]? = nil) async throws -> HostPlan {
        let dir = try TempDir("isolation")
        defer { dir.remove() }
        for (path, bytes) in files { try dir.write(String(path.dropFirst()), bytes) }
        let all = try books ?? PlaybookLoader.loadAll(folder: Repo.playbooks)
        return await Planner(playbooks: try PlaybookLoader.select(all, items)).plan(LocalHost(root: dir.path))
    }

    @Test func everyPairOfItemsSeesTheFilesAsRead() async throws {
        let books = try PlaybookLoader.loadAll(folder: Repo.playbooks)
        let ids = books.map(\.id)
        for (name, files) in try Self.roots() {
            var alone: [String: Finding] = [:]
            for id in ids {
                let plan = try await Self.plan(files, items: [id], books: books)
                #expect(plan.error == nil, "\(name) \(id): \(String(describing: plan.error))")
                alone[id] = plan.findings.first
            }
            // The root fails some item: the pairs below compose real remedies.
            #expect(alone.values.contains { $0.status == .fail }, "\(name)")
            for (i, a) in ids.enumerated() {
                for b in ids[(i + 1)...] {
                    let plan = try await Self.plan(files, items: [a, b], books: books)
                    for finding in plan.findings {
                        // The host's name is its temporary root's; everything else is equal.
                        let solo = alone[finding.item]
                        #expect(finding.status == solo?.status && finding.evidence == solo?.evidence,
                                "\(name): \(finding.item) with \(a)+\(b): \(finding.evidence.map(\.note)) alone: \(solo?.evidence.map(\.note) ?? [])")
                    }
                    // Both items' fixes are in the composed plan: each changed file names them.
                    for f in plan.findings where f.status == .fail {
                        let solo = try await Self.plan(files, items: [f.item], books: books)
                        for file in solo.files {
                            #expect(plan.files.contains { $0.path == file.path && $0.items.contains(f.item) }, "\(name): \(f.item) \(file.path) with \(a)+\(b)")
                        }
                    }
                }
            }
        }
    }

    /// The case that was seen: SRV-005's fix (noexpn, novrfy) showed up in U-46's evidence.
    @Test func srv005sFixIsNotInU46sEvidence() async throws {
        let files = try Self.roots()[1].1
        let plan = try await Self.plan(files, items: ["SRV-005", "U-46"])
        let u46 = try #require(plan.findings.first { $0.item == "U-46" })
        let cf = try #require(u46.evidence.first { $0.file == "/etc/mail/sendmail.cf" })
        #expect(cf.text == "O PrivacyOptions=authwarnings,restrictqrun")
        #expect(!cf.note.contains("noexpn") && !cf.note.contains("novrfy"), "\(cf.note)")
        // The composed file holds both fixes, on one line.
        let after = String(decoding: try #require(plan.files.first { $0.path == "/etc/mail/sendmail.cf" }).after, as: UTF8.self)
        let line = try #require(after.split(separator: "\n").first { $0.hasPrefix("O PrivacyOptions=") })
        #expect(line == "O PrivacyOptions=authwarnings,restrictqrun,noexpn,novrfy", "\(line)")
        #expect(u46.status == .pass)
        #expect(try #require(plan.files.first).items == ["SRV-005"])
    }

    static func bannerItem(_ id: String, _ value: String) -> String {
        """
        id: \(id)
        schemes: { kisa-2026: \(id) }
        title: 배너 \(value)
        severity: low
        targets:
          - mta: postfix
            file: /etc/postfix/main.cf
            lens: Postfix_Main.lns
            check: { node: smtpd_banner, pick: last, equals: ["\(value)"] }
            fix: { set: "\(value)" }

        """
    }

    /// Two items whose fixes set one parameter to different values: neither is fixed, both are
    /// 오류 naming the other, and main.cf is not in the plan, not even for a third item that
    /// agrees with both (a file an item in error would change is left as it is).
    @Test func remediesThatUndoEachOtherAreAnErrorNamingBoth() async throws {
        let a = try PlaybookLoader.load(file: "x-a.yaml", text: Self.bannerItem("X-A", "$myhostname ESMTP A"))
        let b = try PlaybookLoader.load(file: "x-b.yaml", text: Self.bannerItem("X-B", "$myhostname ESMTP B"))
        let shipped = try PlaybookLoader.loadAll(folder: Repo.playbooks)
        let files = ["/etc/postfix/main.cf": Data("myhostname = mail.example\n".utf8)]
        let plan = try await Self.plan(files, items: ["X-A", "X-B", "SRV-005"], books: [a, b] + shipped)
        for id in ["X-A", "X-B"] {
            let f = try #require(plan.findings.first { $0.item == id })
            #expect(f.status == .error, "\(f)")
            #expect(f.evidence.contains { $0.status == .error && $0.note.contains("X-A") && $0.note.contains("X-B") && $0.note.contains("disagree") }, "\(f)")
            // The row as judged on the file is still there, first.
            #expect(f.evidence.first?.status == .fail)
        }
        // A file an item in error would change is left as it is for every item.
        #expect(plan.files.isEmpty, "\(plan.files.map(\.path))")
        #expect(plan.findings.first { $0.item == "SRV-005" }?.status == .fail)
        // Each alone is fixed.
        let alone = try await Self.plan(files, items: ["X-B"], books: [a, b])
        #expect(alone.findings[0].status == .fail)
        #expect(String(decoding: try #require(alone.files.first).after, as: UTF8.self) == "myhostname = mail.example\nsmtpd_banner = $myhostname ESMTP B\n")
    }

    /// An excepted item is judged like the others, and proposes nothing; another item's fix of
    /// the same file is still planned, and neither sees the other.
    @Test func anExceptedItemIsJudgedAndNotFixed() async throws {
        let files = try Self.roots()[0].1.filter { $0.key.hasSuffix(".cf") }
        let dir = try TempDir("isolation-exception")
        defer { dir.remove() }
        for (path, bytes) in files { try dir.write(String(path.dropFirst()), bytes) }
        let books = try PlaybookLoader.select(try PlaybookLoader.loadAll(folder: Repo.playbooks), ["SRV-005", "U-46"])
        var planner = Planner(playbooks: books)
        let host = LocalHost(root: dir.path)
        planner.exceptions = [host.name: ["SRV-005": ExceptionMark(reason: "r", approvedBy: "a", until: "2099-01-01", source: "e.yaml:1", covers: .fail)]]
        let plan = await planner.plan(host)
        #expect(plan.findings.map(\.status) == [.exception, .fail])
        let u46 = try #require(plan.findings.last?.evidence.first)
        #expect(u46.text == "O PrivacyOptions=authwarnings" && !u46.note.contains("noexpn"), "\(u46)")
        let after = String(decoding: try #require(plan.files.first).after, as: UTF8.self)
        #expect(after.split(separator: "\n").filter { $0.hasPrefix("O PrivacyOptions=") } == ["O PrivacyOptions=authwarnings,restrictqrun"])
        #expect(try #require(plan.files.first).items == ["U-46"])
    }
}
