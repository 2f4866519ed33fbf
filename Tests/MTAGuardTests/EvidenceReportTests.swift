import Foundation
import Testing
@testable import MTAGuard

/// Evidence as an auditor reads it in every format: the setting in the MTA's own words, the
/// value, where it came from and the rule; rows of files that are not on the host folded into
/// one line per item in text, HTML and PDF (every row with --verbose, and always in JSON, CSV
/// and the workbook); and the printed PDF laid out page by page.
@Suite(.serialized) struct EvidenceReportTests {
    static let longValue = "smtpd_banner = " + String(repeating: "메일 서버 관리자 안내문 long banner text ", count: 60)
    static let formula = "=cmd|' /C calc'!A0"

    /// A fleet with 취약, 양호, 해당 없음 (folded absent files only), 수동 확인 and 오류 rows,
    /// folded absent rows beside real ones, Korean, hostile and very long text.
    static func fleet() -> [HostPlan] {
        func row(_ mta: String, _ file: String, _ line: Int?, _ setting: String?, _ text: String, _ status: Status,
                 _ note: String, advisory: Bool = false) -> Evidence {
            var e = Evidence(mta: mta, file: file, line: line, text: text, status: status, advisory: advisory, note: note)
            e.setting = setting
            return e
        }
        func absent(_ mta: String, _ file: String) -> Evidence {
            row(mta, file, nil, nil, "(no such file)", .notApplicable, "\(file) is not on the host")
        }
        let mainCF = "/etc/postfix/main.cf", sendmailCF = "/etc/mail/sendmail.cf", exim = "/etc/exim4/exim4.conf"
        let one = "fleet-01.example.test", two = "fleet-02.example.test", three = "fleet-03.example.test"
        return [
            ReportTests.plan(one, findings: [
                Finding(host: one, item: "SRV-005", title: "SMTP 서비스의 expn/vrfy 명령어 실행 제한", status: .fail, evidence: [
                    row("postfix", mainCF, 12, "disable_vrfy_command", "disable_vrfy_command = no", .fail,
                        "the value in force is no; needs yes"),
                    absent("sendmail", sendmailCF), absent("exim", exim),
                ]),
                Finding(host: one, item: "U-45", title: "메일 서비스 버전 점검", status: .pass, evidence: [
                    row("postfix", mainCF, 40, "smtpd_banner", longValue, .pass, "no version in the banner; the rule: no version number"),
                ]),
            ]),
            ReportTests.plan(two, findings: [
                Finding(host: two, item: "SRV-005", title: "SMTP 서비스의 expn/vrfy 명령어 실행 제한", status: .notApplicable,
                        evidence: [absent("postfix", mainCF), absent("sendmail", sendmailCF), absent("exim", exim)]),
                Finding(host: two, item: "SRV-008", title: "SMTP 서비스의 DoS 방지 기능 설정", status: .review, evidence: [
                    row("sendmail", sendmailCF, 77, "MaxDaemonChildren", "O MaxDaemonChildren=0x10 \(ReportTests.hostile)", .review,
                        "sendmail reads 0x10 as 0 (atoi): 수동 확인 필요; needs a whole number of at least 1"),
                ]),
                Finding(host: two, item: "U-47", title: "스팸 메일 릴레이 제한", status: .fail, evidence: [
                    row("postfix", mainCF, 3, "smtpd_relay_restrictions", formula, .fail, "+permit_everything relays for anyone"),
                    row("postfix", mainCF, nil, "mynetworks", "(not set)", .pass, "-the default: the host's own subnets", advisory: true),
                ]),
            ]),
            ReportTests.plan(three, findings: [
                Finding(host: three, item: "SRV-005", title: "SMTP 서비스의 expn/vrfy 명령어 실행 제한", status: .error, evidence: [
                    row("postfix", mainCF, nil, "disable_vrfy_command", "", .error,
                        "@fleet-03.example.test: cannot read /etc/postfix/main.cf: permission denied; run as root"),
                ]),
            ]),
        ]
    }

    func squeezed(_ s: String) -> String { s.filter { !$0.isWhitespace } }

    func place(_ e: Evidence) -> String { e.file + (e.line.map { ":\($0)" } ?? "") }

    // MARK: - one report, every format

    @Test func everyFormatNamesTheSameSettingsValuesSourcesAndStatuses() throws {
        let plans = Self.fleet()
        let t = ReportLanguage.en.text
        let findings = plans.flatMap { p in p.findings.map { (p.host, $0) } }

        // JSON keeps every row, with its setting.
        let json = try JSONSerialization.jsonObject(with: Data(JSONReport.findings(plans).utf8)) as! [String: Any]
        let decoded = try (json["hosts"] as! [[String: Any]]).flatMap { host in
            try JSONDecoder().decode([Finding].self, from: JSONSerialization.data(withJSONObject: host["findings"]!))
        }
        #expect(decoded == plans.flatMap(\.findings), "JSON is the findings, every row and setting")

        // Text: folded absent rows, each other row with its setting, place, value and note.
        let text = TextReport.findings(plans)
        let verboseText = TextReport.findings(plans, verbose: true)
        #expect(text.contains("    n/a   sendmail, exim: not configured here\n          no /etc/mail/sendmail.cf, /etc/exim4/exim4.conf (--verbose shows each)\n"), "\(text)")
        #expect(text.contains("    n/a   postfix, sendmail, exim: not configured here\n"), "\(text)")
        #expect(!text.contains("n/a   exim /etc/exim4/exim4.conf") && verboseText.contains("n/a   exim /etc/exim4/exim4.conf"))

        // HTML, folded and verbose.
        let html = HTMLReport.render(plans, runs: [], language: .en, generated: Date(timeIntervalSince1970: 1_736_200_100))
        let verboseHTML = HTMLReport.render(plans, runs: [], language: .en, generated: Date(timeIntervalSince1970: 1_736_200_100),
                                            verbose: true)
        #expect(html.contains("<span class=\"mta\">sendmail, exim</span>: not configured here"), "the text report's words")
        #expect(html.contains("no /etc/mail/sendmail.cf, /etc/exim4/exim4.conf (--verbose shows each)"))
        #expect(!html.contains("<span class=\"place\">/etc/exim4/exim4.conf</span>"), "no row per absent file")
        #expect(verboseHTML.contains("<span class=\"place\">/etc/exim4/exim4.conf</span>") && !verboseHTML.contains("not configured here"))
        #expect(!html.contains("<script>") && !verboseHTML.contains("<script>"))

        // CSV: every row, the setting last, formulas defused.
        let csv = ReportTests.parseCSV(String(CSVReport.render(plans, language: .en).dropFirst()))
        #expect(csv.first == ["Host", "Item", "Title", "Status", "MTA", "File", "Line", "Evidence", "Note", "Setting"])
        #expect(csv.count == 1 + findings.reduce(0) { $0 + $1.1.evidence.count }, "one row per evidence, absent files too")

        // The workbook: every row, 설정 항목 beside the value, strings only.
        let scratch = try TempDir("evidence")
        defer { scratch.remove() }
        let book = try WorkbookTests().inspect(try scratch.write("fleet.xlsx", try XLSXReport.render(plans, playbooks: [], runs: [], language: .en)))
        let sheet = try #require(book.sheet["Evidence"])
        #expect(sheet.row(1) == ["Host", "Item", "Status", "MTA", "File", "Line", "Setting", "Evidence", "Note", "Exception"])
        #expect(sheet.max_row == csv.count)
        #expect(!sheet.cells.values.contains { $0.t != "s" && $0.t != "n" }, "no formula cell")

        // The PDF, as Chromium prints the HTML.
        var pdfText: String?
        if PDFReportTests.canPrint {
            let pdf = try scratch.write("fleet.pdf", try PDFReport.render(html: html))
            pdfText = squeezed(try PDFReportTests().read(pdf).text)
            // To look at the pages: MTAGUARD_KEEP_PDF=FILE keeps a copy.
            if let keep = ProcessInfo.processInfo.environment["MTAGUARD_KEEP_PDF"], !keep.isEmpty {
                try? FileManager.default.removeItem(atPath: keep)
                try FileManager.default.copyItem(atPath: pdf, toPath: keep)
            }
            #expect(pdfText!.contains("sendmail,exim:notconfiguredhere"), "\(pdfText!)")
        }

        for (host, f) in findings {
            for e in f.evidence {
                let where_ = "\(host) \(f.item) \(e.mta) \(place(e))"
                // CSV
                let line = e.line.map(String.init) ?? ""
                let r = csv.first { $0[0] == host && $0[1] == f.item && $0[4] == e.mta && $0[5] == e.file && $0[6] == line }
                let csvRow = try #require(r, "CSV has \(where_)")
                #expect(csvRow[3] == t.word(f.status) && csvRow[9] == (e.setting ?? ""), "\(where_): \(csvRow)")
                let defused = e.text.first.map { "=+-@".contains($0) } ?? false
                #expect(csvRow[7] == (defused ? "'" + e.text : e.text), "\(where_): \(csvRow[7])")
                if let first = e.note.first, "=+-@".contains(first) { #expect(csvRow[8].hasPrefix("'") || csvRow[8].hasPrefix("["), "defused: \(csvRow[8])") }
                #expect(csvRow[8].hasSuffix(e.note), "\(where_)")
                // Workbook
                let x = (2...sheet.max_row).first { n in
                    sheet.text("A\(n)") == host && sheet.text("B\(n)") == f.item && sheet.text("D\(n)") == e.mta && sheet.text("E\(n)") == e.file
                        && sheet.row(n)[5] == line
                }
                let xr = try #require(x, "the workbook has \(where_)")
                #expect(sheet.text("C\(xr)") == t.word(f.status))
                #expect(sheet.row(xr)[6] == (e.setting ?? ""), "\(where_): \(sheet.row(xr))")
                #expect(e.text.isEmpty ? sheet.row(xr)[7].isEmpty : (sheet.text("H\(xr)") == e.text && sheet.cells["H\(xr)"]?.t == "s"), "\(where_)")
                #expect(sheet.text("I\(xr)")?.hasSuffix(e.note) == true && sheet.cells["I\(xr)"]?.t == "s", "\(where_)")

                guard !e.isAbsentFile else { continue }
                // Text (the value is cut after 300 characters there)
                #expect(text.contains(" \(e.mta) \(place(e))"), "text has \(where_)")
                if let s = e.setting { #expect(text.contains(s), "text names \(s)") }
                #expect(e.text.isEmpty || text.contains(String(e.text.prefix(200)).replacingOccurrences(of: "\t", with: "\\t")), "text has the value of \(where_)")
                #expect(text.contains(e.note), "text has the note of \(where_)")
                // HTML
                #expect(html.contains("<span class=\"mta\">\(HTMLReport.escape(e.mta))</span> <span class=\"place\">\(HTMLReport.escape(place(e)))</span>"), "html has \(where_)")
                if let s = e.setting { #expect(html.contains("<span class=\"setting\">Setting: <b>\(HTMLReport.escape(s))</b></span>"), "html names \(s)") }
                #expect(html.contains(e.text.isEmpty ? "<code>(empty)</code>" : HTMLReport.escape(e.text)), "html has the value of \(where_)")
                #expect(html.contains(HTMLReport.escape(e.note)), "html has the note of \(where_)")
                #expect(html.contains("<td class=\"status status-\(f.status.rawValue)\">\(t.word(f.status))</td>"))
                // PDF
                if let pdfText {
                    if let s = e.setting { #expect(pdfText.contains(squeezed(s)), "the PDF names \(s)") }
                    #expect(pdfText.contains(squeezed(f.item)) && pdfText.contains(squeezed(t.word(f.status))))
                }
            }
        }
        // Hostile text is text in every format.
        #expect(html.contains(HTMLReport.escape(ReportTests.hostile)) && text.contains(ReportTests.hostile))
        #expect(try #require(sheet.cells.values.first { $0.v.text == Self.formula }).t == "s")
        #expect(csv.contains { $0[7] == "'" + Self.formula })
        if let pdfText { #expect(pdfText.contains(squeezed("O MaxDaemonChildren=0x10")), "\(pdfText)") }
    }

    // MARK: - the demo through the command line

    /// `check --verbose` reaches the HTML report as it reaches the text report.
    @Test func verboseFlagShowsEveryRowInHTML() throws {
        let scratch = try TempDir("evidence")
        defer { scratch.remove() }
        func html(_ extra: [String]) throws -> String {
            let r = try mtaguard(["check", "--root", Repo.root + "/examples/demo/sendmail-host", "--format", "html", "--lang", "en"] + extra,
                                 backups: scratch.path + "/backups")
            #expect(r.status == 2, "\(r)")
            return r.stdout
        }
        let folded = try html([]), every = try html(["--verbose"])
        let row = "<span class=\"mta\">exim</span> <span class=\"place\">/etc/exim4/exim4.conf</span>"
        #expect(!folded.contains(row) && folded.contains("<span class=\"mta\">postfix, exim</span>: not configured here"))
        #expect(every.contains(row) && !every.contains("folded\">"), "no folded line")
        #expect(folded.contains("<span class=\"setting\">Setting: <b>PrivacyOptions</b></span>"))
    }

    /// The sendmail demo host's workbook: 설정 항목 in sendmail's own words, every absent-file
    /// row kept, and no Augeas path expression in any cell of any sheet.
    @Test func demoWorkbookNamesSettingsAndHoldsNoAugeasExpression() throws {
        let scratch = try TempDir("evidence")
        defer { scratch.remove() }
        let out = scratch.path + "/demo.xlsx"
        let r = try runCommand(["sh", "-c", "out=$1; shift; exec \"$@\" > \"$out\"", "sh", out, Repo.binary, "check", "--root",
                                Repo.root + "/examples/demo/sendmail-host", "--format", "xlsx", "--lang", "ko", "--playbooks", Repo.playbooks],
                               environment: ["MTAGUARD_BACKUPS": scratch.path + "/backups"])
        #expect(r.status == 2, "\(r)")
        let book = try WorkbookTests().inspect(out)
        let sheet = try #require(book.sheet["증적"])
        #expect(sheet.row(1) == ["호스트", "항목", "결과", "MTA", "파일", "줄", "설정 항목", "근거", "비고", "예외"])
        let privacy = try #require((2...sheet.max_row).first { sheet.text("B\($0)") == "SRV-005" && sheet.text("E\($0)") == "/etc/mail/sendmail.cf" })
        #expect(sheet.text("G\(privacy)") == "PrivacyOptions", "\(sheet.row(privacy))")
        #expect(sheet.text("H\(privacy)")?.hasPrefix("O PrivacyOptions=") == true)
        #expect(sheet.text("I\(privacy)")?.contains("noexpn") == true, "the rule")
        let mc = try #require((2...sheet.max_row).first { sheet.text("B\($0)") == "SRV-005" && sheet.text("E\($0)") == "/etc/mail/sendmail.mc" })
        #expect(sheet.text("G\(mc)") == "confPRIVACY_FLAGS")
        #expect((2...sheet.max_row).contains { sheet.text("E\($0)") == "/etc/exim4/exim4.conf" }, "absent files keep their rows")
        for (name, s) in book.sheet {
            for (ref, cell) in s.cells {
                guard let v = cell.v.text else { continue }
                for mark in ["label()", "regexp(", "define[", "/files/", "*[", "[. ="] {
                    #expect(!v.contains(mark), "\(name)!\(ref) holds an Augeas expression: \(v)")
                }
            }
        }
    }

    /// The PDF of the sendmail demo host (nine items, evidence from sendmail.cf and .mc, absent
    /// postfix and exim files) read page by page: few pages, none near empty but the last, the
    /// page header and the details' column headings on each page, no evidence row split.
    @Test(.enabled(if: PDFReportTests.canPrint, "chromium or pdftotext (poppler-utils) is not installed"))
    func demoPDFLayoutPageByPage() throws {
        let scratch = try TempDir("evidence")
        defer { scratch.remove() }
        let root = Repo.root + "/examples/demo/sendmail-host"
        let pdf = scratch.path + "/demo.pdf"
        let r = try runCommand(["sh", "-c", "out=$1; shift; exec \"$@\" > \"$out\"", "sh", pdf, Repo.binary, "check", "--root", root,
                                "--format", "pdf", "--lang", "ko", "--org", PDFReportTests.organisation, "--playbooks", Repo.playbooks],
                               environment: ["MTAGUARD_BACKUPS": scratch.path + "/backups"])
        #expect(r.status == 2, "\(r)")
        let (_, pages) = try PDFReportTests().read(pdf)
        // Before the fold and the print layout, this report took 8 pages, one of them 25 lines.
        #expect(pages >= 2 && pages <= 5, "\(pages) pages")
        let info = try runCommand(["pdfinfo", pdf])
        #expect(info.stdout.contains("(A4)"), "printed on A4, the paper the auditors file: \(info.stdout)")
        var texts: [String] = []
        for page in 1...max(pages, 1) {
            let t = try runCommand(["pdftotext", "-layout", "-f", String(page), "-l", String(page), pdf, "-"])
            try #require(t.succeeded, "\(t)")
            texts.append(t.stdout)
        }
        let details = try #require(texts.lastIndex { $0.contains("세부 점검 결과") }, "the details section (after the contents)")
        for (i, text) in texts.enumerated() {
            let lines = text.split(separator: "\n").filter { !$0.trimmingCharacters(in: .whitespaces).isEmpty }
            if i < texts.count - 1 { #expect(lines.count >= 30, "page \(i + 1) is near empty: \(lines.count) lines\n\(text)") }
            #expect(lines.first?.contains(PDFReportTests.organisation + " · 메일 서버 보안 점검 보고서") == true, "page \(i + 1)'s header")
            if i > details { #expect(squeezed(lines.dropFirst().first.map(String.init) ?? "").hasPrefix("호스트항목항목명결과근거조치"), "page \(i + 1) repeats the column headings:\n\(text)") }
            #expect(!text.contains("\u{FFFD}"), "no replacement characters")
        }
        #expect(!texts.contains { $0.contains("(no such file)") }, "absent files are folded")
        #expect(texts.joined().contains("postfix, exim: 이 호스트에 구성되어 있지 않음") || squeezed(texts.joined()).contains("postfix,exim:이호스트에구성되어있지않음"))

        // No evidence row split across pages: each row's place and the last word of its note are
        // on the same page (the JSON report gives the rows).
        let json = try runCommand([Repo.binary, "check", "--root", root, "--format", "json", "--playbooks", Repo.playbooks],
                                  environment: ["MTAGUARD_BACKUPS": scratch.path + "/backups"])
        let doc = try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as! [String: Any]
        let findings = try JSONDecoder().decode([Finding].self, from: JSONSerialization.data(
            withJSONObject: (doc["hosts"] as! [[String: Any]])[0]["findings"]!))
        var checked = 0
        for e in findings.flatMap(\.evidence) where e.line != nil {
            let marker = "\(e.file):\(e.line!)"
            guard let last = e.note.split(separator: " ").reversed().lazy.map({ $0.trimmingCharacters(in: .punctuationCharacters) })
                    .first(where: { $0.count >= 4 && $0.allSatisfy { $0.isLetter || $0.isNumber } }),
                  let page = texts.firstIndex(where: { squeezed($0).contains(marker) }) else { continue }
            #expect(squeezed(texts[page]).contains(last), "\(marker)'s note ends on another page than it starts (\(last))")
            checked += 1
        }
        #expect(checked >= 5, "rows checked: \(checked)")
    }
}
