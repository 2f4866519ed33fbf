import Foundation
import Testing
@testable import MTAGuard

/// CSVReport and HTMLReport: quoting and escaping, the summary counts, and the HTML rendered by
/// a real browser (headless Chromium) when one is installed.
@Suite struct ReportTests {
    // MARK: - fixtures

    static let hostile = "<script>alert(1)</script>"

    static func plan(_ host: String, findings: [Finding], files: [PlannedFile] = [], actions: [ResolvedAction] = [],
                     error: MTAGuardError? = nil) -> HostPlan {
        HostPlan(host: host, address: HostAddress(kind: .local), isLive: true, family: .linux,
                 findings: findings, files: files, actions: actions, error: error)
    }

    static func plans() -> [HostPlan] {
        let mainCF = "/etc/postfix/main.cf"
        let failing = Finding(
            host: "mail-01.example.test", item: "SRV-005", title: "SMTP EXPN/VRFY 명령어 제한", status: .fail,
            evidence: [
                Evidence(mta: "postfix", file: mainCF, line: nil, text: "(disable_vrfy_command is not set)", status: .fail,
                         note: "disable_vrfy_command defaults to no, so VRFY answers"),
                Evidence(mta: "sendmail", file: "/etc/mail/sendmail.mc", line: 12,
                         text: "define(`confPRIVACY_FLAGS', `authwarnings,novrfy')dnl", status: .pass, advisory: true,
                         note: "advisory: sendmail.cf decides"),
            ])
        let hostileFinding = Finding(
            host: "mail-02.example.test", item: "SRV-005", title: "SMTP EXPN/VRFY 명령어 제한", status: .fail,
            evidence: [
                Evidence(mta: "sendmail", file: "/etc/mail/sendmail.cf", line: 88,
                         text: "O PrivacyOptions=authwarnings \(hostile) & \"quoted\", 'single'", status: .fail,
                         note: "a, \"comma\"\nand a newline"),
            ])
        let banner = Finding(
            host: "mail-01.example.test", item: "U-45", title: "메일 서비스 버전 노출", status: .pass,
            evidence: [Evidence(mta: "postfix", file: mainCF, line: 40, text: "smtpd_banner = $myhostname ESMTP",
                                status: .pass, note: "no version in the banner")])
        let na = Finding(
            host: "mail-02.example.test", item: "U-45", title: "메일 서비스 버전 노출", status: .notApplicable,
            evidence: [Evidence(mta: "postfix", file: mainCF, line: nil, text: "(no such file)", status: .notApplicable,
                                note: "/etc/postfix/main.cf is absent")])
        let file = PlannedFile(
            path: mainCF, before: FileSnapshot(path: mainCF, bytes: Data("a\n".utf8), mode: 0o644, uid: 0, gid: 0),
            after: Data("a\ndisable_vrfy_command = yes\n".utf8), diff: "", items: ["SRV-005"],
            validateBefore: nil, validateAfter: nil)
        let reload = ResolvedAction(service: "postfix", action: .reload, command: ["postfix", "reload"], probe: nil, inverse: nil)
        return [
            plan("mail-01.example.test", findings: [failing, banner], files: [file], actions: [reload]),
            plan("mail-02.example.test", findings: [hostileFinding, na]),
            plan("down-03.example.test", findings: [
                Finding(host: "down-03.example.test", item: "SRV-005", title: "SMTP EXPN/VRFY 명령어 제한", status: .error,
                        evidence: [Evidence(mta: "-", file: "-", line: nil, text: "", status: .error, note: "ssh: connection timed out")]),
            ], error: MTAGuardError(host: "down-03.example.test", "ssh: connection timed out")),
        ]
    }

    /// Two hosts: mx-01's relay attempt was deferred on every try (수동 확인, with its main.cf
    /// passing), mx-02 passes; mx-01's SRV-005 fails.
    static let deferredTranscript = "MAIL FROM:<> RCPT TO:<probe@elsewhere.example> → 450 4.2.0 Greylisted; after 60 s → 450 4.2.0 Greylisted"
    static let deferredNote = "RCPT TO an outside domain was deferred (450) on all 2 attempts over 60 s (greylisting, or a check that failed for now): whether the MTA relays for an outside client is not established"

    static func reviewPlans() -> [HostPlan] {
        let mainCF = "/etc/postfix/main.cf"
        let review = Finding(
            host: "mx-01.example.test", item: "U-47", title: "스팸 메일 릴레이 제한", status: .review,
            evidence: [
                Evidence(mta: "smtp", file: "192.0.2.25:25", line: nil, text: deferredTranscript, status: .review, note: deferredNote),
                Evidence(mta: "postfix", file: mainCF, line: 31, text: "smtpd_relay_restrictions = permit_mynetworks reject_unauth_destination",
                         status: .pass, note: "relaying is closed"),
            ])
        let failing = Finding(
            host: "mx-01.example.test", item: "SRV-005", title: "SMTP EXPN/VRFY 명령어 제한", status: .fail,
            evidence: [Evidence(mta: "postfix", file: mainCF, line: nil, text: "(disable_vrfy_command is not set)", status: .fail,
                                note: "disable_vrfy_command defaults to no, so VRFY answers")])
        let passing = Finding(
            host: "mx-02.example.test", item: "U-47", title: "스팸 메일 릴레이 제한", status: .pass,
            evidence: [Evidence(mta: "smtp", file: "192.0.2.26:25", line: nil,
                                text: "MAIL FROM:<> RCPT TO:<probe@elsewhere.example> → 554 5.7.1 Relay access denied",
                                status: .pass, note: "relaying for an outside client is refused")])
        return [plan("mx-01.example.test", findings: [review, failing]), plan("mx-02.example.test", findings: [passing])]
    }

    static func run() -> Manifest {
        let started = Date(timeIntervalSince1970: 1_736_200_000)
        return Manifest(
            id: "20250107-100000-ab12", command: "apply --item SRV-005", started: started,
            finished: started.addingTimeInterval(4), outcome: .changed, rollbackOf: nil,
            hosts: [Manifest.HostRecord(
                name: "mail-01.example.test", address: HostAddress(kind: .local), family: .linux, outcome: .changed,
                message: nil,
                files: [Manifest.FileRecord(path: "/etc/postfix/main.cf", preSHA256: "aa", postSHA256: "bb", mode: 0o644,
                                            uid: 0, gid: 0, backup: "mail-01/etc/postfix/main.cf", items: ["SRV-005"],
                                            state: .replaced)],
                actions: [Manifest.ActionRecord(service: "postfix", action: .reload, command: ["postfix", "reload"],
                                                probe: nil, inverse: nil, state: .done, output: nil)])])
    }

    /// RFC 4180 reader for the tests: rows of fields; CRLF row ends; quoted fields may hold
    /// commas, doubled quotes, CR and LF.
    static func parseCSV(_ text: String) -> [[String]] {
        var rows: [[String]] = []
        var row: [String] = []
        var field = ""
        var quoted = false
        var chars = Array(text.unicodeScalars)[...]
        while let c = chars.popFirst() {
            if quoted {
                if c == "\"" {
                    if chars.first == "\"" { field.unicodeScalars.append("\""); chars.removeFirst() } else { quoted = false }
                } else {
                    field.unicodeScalars.append(c)
                }
            } else if c == "\"" && field.isEmpty {
                quoted = true
            } else if c == "," {
                row.append(field); field = ""
            } else if c == "\r" && chars.first == "\n" {
                chars.removeFirst()
                row.append(field); field = ""
                rows.append(row); row = []
            } else {
                field.unicodeScalars.append(c)
            }
        }
        if !field.isEmpty || !row.isEmpty { row.append(field); rows.append(row) }
        return rows
    }

    // MARK: - CSV

    @Test func csvHasBOMAndQuotesPerRFC4180() throws {
        let csv = CSVReport.render(Self.plans(), language: .ko)
        #expect(csv.hasPrefix("\u{FEFF}"))
        #expect(Array(csv.utf8.prefix(3)) == [0xEF, 0xBB, 0xBF])
        #expect(csv.hasSuffix("\r\n"))
        let rows = Self.parseCSV(String(csv.dropFirst()))
        #expect(rows.first == ["호스트", "항목", "항목명", "결과", "MTA", "파일", "줄", "근거", "비고", "설정 항목"])
        #expect(rows.allSatisfy { $0.count == 10 }, "\(rows)")
        // one row per host × item × evidence: 2 + 1 + 1 + 1 + 1 (the error host's item)
        #expect(rows.count == 1 + 6, "\(rows)")

        let hostile = try #require(rows.first { $0[0] == "mail-02.example.test" && $0[1] == "SRV-005" })
        #expect(hostile[3] == "취약")
        #expect(hostile[5] == "/etc/mail/sendmail.cf")
        #expect(hostile[6] == "88")
        #expect(hostile[7] == "O PrivacyOptions=authwarnings \(Self.hostile) & \"quoted\", 'single'")
        #expect(hostile[8] == "a, \"comma\"\nand a newline")
        // and in the raw text: quoted, quotes doubled, the newline kept inside the quotes
        #expect(csv.contains(#","a, ""comma""\#nand a newline",\#r\#n"#), "the note, then the empty setting")
        #expect(csv.contains(#""O PrivacyOptions=authwarnings <script>alert(1)</script> & ""quoted"", 'single'""#))

        // The advisory file's row keeps the item's verdict and says what its own is.
        let advisory = try #require(rows.first { $0[5] == "/etc/mail/sendmail.mc" })
        #expect(advisory[3] == "취약")
        #expect(advisory[6] == "12")
        #expect(advisory[8].hasPrefix("[이 파일: 양호, 참고용] "))
        let absentLine = try #require(rows.first { $0[0] == "mail-01.example.test" && $0[4] == "postfix" && $0[1] == "SRV-005" })
        #expect(absentLine[6] == "")

        #expect(rows.contains { $0[0] == "mail-02.example.test" && $0[3] == "해당 없음" })
        #expect(rows.contains { $0[0] == "down-03.example.test" && $0[3] == "오류" && $0[8] == "ssh: connection timed out" })
    }

    @Test func csvInEnglish() {
        let rows = Self.parseCSV(String(CSVReport.render(Self.plans(), language: .en).dropFirst()))
        #expect(rows.first == ["Host", "Item", "Title", "Status", "MTA", "File", "Line", "Evidence", "Note", "Setting"])
        #expect(Set(rows.dropFirst().map { $0[3] }) == ["Fail", "Pass", "N/A", "Error"])
    }

    @Test func csvFieldsAndFormulas() {
        #expect(CSVReport.field("plain") == "plain")
        #expect(CSVReport.field("") == "")
        #expect(CSVReport.field("a,b") == "\"a,b\"")
        #expect(CSVReport.field("say \"hi\"") == "\"say \"\"hi\"\"\"")
        #expect(CSVReport.field("two\nlines") == "\"two\nlines\"")
        #expect(CSVReport.field("crlf\r\nline") == "\"crlf\r\nline\"")
        #expect(CSVReport.field("양호") == "양호")
        // A spreadsheet must not run what a host wrote.
        #expect(CSVReport.field("=HYPERLINK(\"http://x.test\",\"y\")") == "\"'=HYPERLINK(\"\"http://x.test\"\",\"\"y\"\")\"")
        #expect(CSVReport.field("+1") == "'+1")
        #expect(CSVReport.field("@SUM(A1)") == "'@SUM(A1)")
        #expect(CSVReport.field("-2+3") == "'-2+3")
        #expect(CSVReport.field("-") == "-")
    }

    @Test func csvHostWithoutFindings() {
        let plan = Self.plan("lost.example.test", findings: [], error: MTAGuardError(host: "lost.example.test", "unreachable"))
        let rows = Self.parseCSV(String(CSVReport.render([plan], language: .ko).dropFirst()))
        #expect(rows.count == 2)
        #expect(rows[1][0] == "lost.example.test" && rows[1][1] == "-" && rows[1][3] == "오류" && rows[1][8] == "unreachable")
    }

    // MARK: - language

    @Test func languageFromEnvironment() {
        #expect(ReportLanguage.fromEnvironment(["LANG": "ko_KR.UTF-8"]) == .ko)
        #expect(ReportLanguage.fromEnvironment(["LC_ALL": "ko_KR.eucKR"]) == .ko)
        #expect(ReportLanguage.fromEnvironment(["LC_MESSAGES": "ko", "LANG": "C.UTF-8"]) == .ko)
        #expect(ReportLanguage.fromEnvironment(["LANG": "en_US.UTF-8"]) == .en)
        #expect(ReportLanguage.fromEnvironment([:]) == .en)
        // POSIX order: LC_ALL over LC_MESSAGES over LANG; an empty one does not count.
        #expect(ReportLanguage.fromEnvironment(["LC_ALL": "C", "LANG": "ko_KR.UTF-8"]) == .en)
        #expect(ReportLanguage.fromEnvironment(["LC_ALL": "", "LANG": "ko_KR.UTF-8"]) == .ko)
        #expect(ReportLanguage.fromEnvironment(["LC_MESSAGES": "en_US.UTF-8", "LANG": "ko_KR.UTF-8"]) == .en)
    }

    // MARK: - HTML

    @Test func htmlEscapesEverythingAndIsSelfContained() {
        var plans = Self.plans()
        plans[0].host = "mail-01 & <b>co</b>"
        let html = HTMLReport.render(plans, runs: [Self.run()], language: .ko, generated: Date(timeIntervalSince1970: 1_736_200_100))
        #expect(html.hasPrefix("<!DOCTYPE html>\n<html lang=\"ko\">"))
        #expect(html.contains("<meta charset=\"utf-8\">"))
        #expect(html.contains("<title>메일 서버 보안 점검 보고서 (mtaguard)</title>"))
        #expect(html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"))
        #expect(!html.contains(Self.hostile))
        #expect(!html.lowercased().contains("<script"))
        #expect(html.contains("&amp; &quot;quoted&quot;, &#39;single&#39;"))
        #expect(html.contains("mail-01 &amp; &lt;b&gt;co&lt;/b&gt;"))
        #expect(!html.contains("<b>co</b>"))
        // offline: nothing fetched from anywhere; the only links are the contents' in-page anchors
        for marker in ["src=", "<link", "url(", "@import", "http://", "https://", "<iframe", "<img", "<image", "xlink:"] {
            #expect(!html.lowercased().contains(marker), "\(marker)")
        }
        let links = html.lowercased().components(separatedBy: "href=").dropFirst()
        #expect(links.count == 5)
        #expect(links.allSatisfy { $0.hasPrefix("\"#") }, "\(links.map { $0.prefix(20) })")
        #expect(html.contains("<style>"))
    }

    @Test func htmlSummaryDetailsAndRuns() throws {
        let html = HTMLReport.render(Self.plans(), runs: [Self.run()], language: .ko, generated: Date(timeIntervalSince1970: 1_736_200_100))
        // Per item: SRV-005 is 취약 on two hosts, 오류 on one; U-45 양호 on one, 해당 없음 on one; no 예외.
        // Columns as an auditor reads them: 양호, 취약, 수동 확인, 해당 없음, 오류, 예외.
        #expect(html.contains("<th class=\"status-pass\">양호</th><th class=\"status-fail\">취약</th><th class=\"status-review\">수동 확인</th><th class=\"status-not-applicable\">해당 없음</th><th class=\"status-error\">오류</th><th class=\"status-exception\">예외</th>"))
        #expect(html.contains("<tr><td>SRV-005</td><td>SMTP EXPN/VRFY 명령어 제한</td><td class=\"count zero\">0</td><td class=\"count status-fail\">2</td><td class=\"count zero\">0</td><td class=\"count zero\">0</td><td class=\"count status-error\">1</td><td class=\"count zero\">0</td></tr>"))
        #expect(html.contains("<tr><td>U-45</td><td>메일 서비스 버전 노출</td><td class=\"count status-pass\">1</td><td class=\"count zero\">0</td><td class=\"count zero\">0</td><td class=\"count status-not-applicable\">1</td><td class=\"count zero\">0</td><td class=\"count zero\">0</td></tr>"))
        // Per host: overall worst status, with the error host's message.
        #expect(html.contains("<tr><td>mail-01.example.test</td><td class=\"status status-fail\">취약</td>"))
        #expect(html.contains("<tr><td>down-03.example.test</td><td class=\"status status-error\">오류</td>"))
        #expect(html.contains("<td>ssh: connection timed out</td></tr>"))
        // Details: status classes, file:line, the planned change and the reload.
        #expect(html.contains("<td class=\"status status-pass\">양호</td>"))
        #expect(html.contains("<td class=\"status status-not-applicable\">해당 없음</td>"))
        #expect(html.contains("/etc/mail/sendmail.cf:88"))
        #expect(html.contains("수정 예정: /etc/postfix/main.cf<br>이후 실행: postfix reload"))
        #expect(html.contains("[양호, 참고용]"))
        #expect(html.contains("수동 확인 필요"))
        // What changed.
        #expect(html.contains("<h2>변경 내역</h2>"))
        #expect(html.contains("20250107-100000-ab12"))
        #expect(html.contains("apply --item SRV-005"))
        #expect(html.contains("<code>/etc/postfix/main.cf</code> (SRV-005; replaced)"))
        #expect(html.contains("<code>postfix reload</code> (done)"))
        #expect(html.contains("outcome-changed"))
    }

    // MARK: - 수동 확인 (review)

    @Test func reviewInTextJSONAndCSV() throws {
        let plans = Self.reviewPlans()
        let text = TextReport.findings(plans)
        #expect(text.contains("mx-01.example.test  U-47  수동 확인(review)  스팸 메일 릴레이 제한\n"), "\(text)")
        #expect(text.contains("    review smtp 192.0.2.25:25  \"\(Self.deferredTranscript)\"\n          \(Self.deferredNote)\n"), "\(text)")

        let json = try JSONSerialization.jsonObject(with: Data(JSONReport.findings(plans).utf8)) as! [String: Any]
        let hosts = json["hosts"] as! [[String: Any]]
        let findings = hosts[0]["findings"] as! [[String: Any]]
        #expect(findings[0]["status"] as? String == "review")
        #expect((findings[0]["evidence"] as! [[String: Any]])[0]["text"] as? String == Self.deferredTranscript)

        let ko = Self.parseCSV(CSVReport.render(plans, language: .ko))
        let row = try #require(ko.first { $0.count > 3 && $0[0] == "mx-01.example.test" && $0[1] == "U-47" })
        #expect(row[3] == "수동 확인", "\(row)")
        #expect(row.contains(Self.deferredTranscript), "\(row)")
        let en = Self.parseCSV(CSVReport.render(plans, language: .en))
        #expect(en.contains { $0.count > 3 && $0[1] == "U-47" && $0[3] == "Review" }, "\(en)")
        // The passing main.cf line under a 수동 확인 item says it is 양호 only for itself.
        #expect(ko.contains { $0.count > 3 && $0[1] == "U-47" && $0.joined().contains("이 파일: 양호") }, "\(ko)")
    }

    @Test func reviewInHTMLWithWhatToLookAt() throws {
        let html = HTMLReport.render(Self.reviewPlans(), runs: [], language: .ko, generated: Date(timeIntervalSince1970: 1_736_200_100))
        // Per item: U-47 양호 on one host, 수동 확인 on the other, in the third column.
        #expect(html.contains("<tr><td>U-47</td><td>스팸 메일 릴레이 제한</td><td class=\"count status-pass\">1</td><td class=\"count zero\">0</td><td class=\"count status-review\">1</td><td class=\"count zero\">0</td><td class=\"count zero\">0</td><td class=\"count zero\">0</td></tr>"), "\(html)")
        // Per host: mx-01 is 취약 overall (취약 outranks 수동 확인), with one of each counted.
        #expect(html.contains("<tr><td>mx-01.example.test</td><td class=\"status status-fail\">취약</td><td class=\"count zero\">0</td><td class=\"count status-fail\">1</td><td class=\"count status-review\">1</td>"))
        // Details: the status, and what the person is to look at, in the action column.
        #expect(html.contains("<td class=\"status status-review\">수동 확인</td>"))
        #expect(html.contains("<td>수동 확인 필요<br>확인 대상: smtp 192.0.2.25:25: \(Self.deferredNote)</td>"), "\(html)")
        #expect(html.contains(".status-review { background: #f3e5f5; color: #6a1b9a; }"))
        // The chart's bar and legend.
        let chart = try #require(html.components(separatedBy: "data-item=\"U-47\">").dropFirst().first?.components(separatedBy: "</g>").first)
        #expect(chart.contains("<rect class=\"status-review\"") && chart.contains("fill=\"#6a1b9a\""), "\(chart)")
        #expect(chart.contains("<title>U-47 수동 확인: 1</title>"), "\(chart)")

        let en = HTMLReport.render(Self.reviewPlans(), runs: [], language: .en, generated: Date())
        #expect(en.contains("<td class=\"status status-review\">Review</td>"))
        #expect(en.contains("<td>check by hand<br>look at: smtp 192.0.2.25:25: \(Self.deferredNote)</td>"))
        #expect(en.contains("<th class=\"status-fail\">Fail</th><th class=\"status-review\">Review</th>"))
    }

    @Test func checkExitCodeAndNoticeForReview() {
        let plans = Self.reviewPlans()
        #expect(Session.checkExitCode(plans) == 2)
        var reviewOnly = plans
        reviewOnly[0].findings.removeAll { $0.status == .fail }
        #expect(Session.checkExitCode(reviewOnly) == 2, "수동 확인 is not established: never exit 0")
        #expect(Session.reviewNotice(reviewOnly) == "1 item needs a person's review (수동 확인): mx-01.example.test U-47")
        var passing = reviewOnly
        passing[0].findings.removeAll()
        #expect(Session.checkExitCode(passing) == 0)
        #expect(Session.reviewNotice(passing) == nil)
        var two = reviewOnly
        two[1].findings[0].status = .review
        #expect(Session.reviewNotice(two) == "2 items need a person's review (수동 확인): mx-01.example.test U-47, mx-02.example.test U-47")
        // An error still wins: exit 1.
        two[1].findings[0].status = .error
        #expect(Session.checkExitCode(two) == 1)
        #expect(Status.review.withholdsRemedy && Status.error.withholdsRemedy && !Status.fail.withholdsRemedy)
    }

    @Test func htmlInEnglishWithoutRuns() {
        let html = HTMLReport.render(Self.plans(), runs: [], language: .en, generated: Date())
        #expect(html.contains("<html lang=\"en\">"))
        #expect(html.contains("<td class=\"status status-fail\">Fail</td>"))
        #expect(html.contains("No runs are included in this report."))
        #expect(html.contains("<h2>What changed</h2>"))
    }

    @Test func htmlRendersInHeadlessChromium() throws {
        guard let chromium = ["/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/bin/google-chrome"]
            .first(where: { FileManager.default.isExecutableFile(atPath: $0) })
        else {
            try Test.cancel("chromium is not installed (apt-get install -y chromium): cannot check the HTML in a browser")
        }
        let dir = try TempDir("html-report")
        defer { dir.remove() }
        let html = HTMLReport.render(Self.plans(), runs: [Self.run()], language: .ko, generated: Date())
        let path = try dir.write("report.html", Data(html.utf8))
        let r = try runCommand(
            ["timeout", "120", chromium, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
             "--disable-dev-shm-usage", "--user-data-dir=\(dir.path)/profile", "--dump-dom", "file://\(path)"],
            environment: ["HOME": dir.path])
        guard r.status == 0, r.stdout.contains("<html") else {
            try Test.cancel("chromium could not run here (\(chromium), status \(r.status)): \(r.stderr.suffix(600))")
        }
        let dom = r.stdout
        #expect(dom.contains("<html lang=\"ko\">"))
        for host in ["mail-01.example.test", "mail-02.example.test", "down-03.example.test"] {
            #expect(dom.contains("<td>\(host)</td>"), "\(host)")
        }
        #expect(dom.contains("<td class=\"status status-fail\">취약</td>"))
        #expect(dom.contains("<td class=\"status status-error\">오류</td>"))
        // The parser built the tables: tbody rows of the details table (one per host × item).
        let details = try #require(dom.range(of: "<section id=\"details\">").map { dom[$0.lowerBound...] })
        let table = details[..<(details.range(of: "</table>")?.upperBound ?? details.endIndex)]
        #expect(table.components(separatedBy: "<tr>").count - 1 == 1 + 5, "\(table)")
        // The hostile evidence stayed text: no script element in the DOM.
        #expect(!dom.contains("<script"))
        #expect(dom.contains("&lt;script&gt;alert(1)&lt;/script&gt;"))
    }

    /// The text report folds the rows of files that are not on the host into one line per item
    /// (which MTAs, which files); --verbose shows each, and JSON keeps them all.
    @Test func absentFilesFoldIntoOneLine() throws {
        func absent(_ mta: String, _ file: String) -> Evidence {
            Evidence(mta: mta, file: file, line: nil, text: "(no such file)", status: .notApplicable, note: "\(file) is absent: \(mta) is not configured here")
        }
        let finding = Finding(
            host: "h", item: "SRV-008", title: "DoS", status: .fail,
            evidence: [
                Evidence(mta: "postfix", file: "/etc/postfix/main.cf", line: 3, text: "smtpd_client_connection_rate_limit = 0", status: .fail, note: "needs at least 1"),
                absent("sendmail", "/etc/mail/sendmail.cf"), absent("sendmail", "/etc/mail/sendmail.mc"), absent("exim", "/etc/exim4/exim4.conf"),
            ])
        let plans = [Self.plan("h", findings: [finding])]
        let text = TextReport.findings(plans)
        #expect(text.contains("    n/a   sendmail, exim: not configured here\n          no /etc/mail/sendmail.cf, /etc/mail/sendmail.mc, /etc/exim4/exim4.conf (--verbose shows each)\n"), "\(text)")
        #expect(!text.contains("(no such file)"))
        #expect(text.contains("fail  postfix /etc/postfix/main.cf:3"))
        let verbose = TextReport.findings(plans, verbose: true)
        #expect(verbose.components(separatedBy: "(no such file)").count == 4, "\(verbose)")
        #expect(JSONReport.findings(plans).components(separatedBy: "(no such file)").count == 4)
    }
}
