import Foundation
import Testing
@testable import MTAGuard

/// The xlsx report (XLSXReport through libxlsxwriter), read back by real programs: openpyxl
/// (Tests/reports/inspect_xlsx.py, in the venv of Tests/reports/venv.sh, which `make test`
/// passes as MTAGUARD_REPORT_VENV; made here under .build when it is not set) and LibreOffice,
/// which renders the summary sheet to a PNG.
@Suite(.serialized) struct WorkbookTests {
    // MARK: - reading a workbook

    /// What inspect_xlsx.py says of one sheet.
    struct Sheet: Decodable {
        struct Cell: Decodable {
            var v: Value
            var t: String
            var fill: String?
            var font: String?
            var wrap: Bool
        }
        enum Value: Decodable, Equatable {
            case text(String), number(Double)
            init(from decoder: any Decoder) throws {
                let c = try decoder.singleValueContainer()
                if let n = try? c.decode(Double.self) { self = .number(n) } else { self = .text(try c.decode(String.self)) }
            }
            var text: String? { if case .text(let s) = self { s } else { nil } }
        }
        struct Chart: Decodable {
            var tag: String
            var grouping: String?
            var series: [String?]
        }
        var freeze: String?
        var filter: String?
        var max_row: Int
        var max_column: Int
        var charts: [Chart]
        /// Rows given a height, in points (1-based row numbers as keys).
        var heights: [String: Double]
        var cells: [String: Cell]

        func text(_ ref: String) -> String? { cells[ref]?.v.text }

        /// The cells of row `row` (1-based), left to right, as text.
        func row(_ row: Int) -> [String] {
            (0..<max_column).map { c in
                let ref = column(c) + String(row)
                switch cells[ref]?.v {
                case .text(let s): return s
                case .number(let n): return String(Int(n))
                case nil: return ""
                }
            }
        }
    }

    struct Workbook: Decodable {
        var sheets: [String]
        var sheet: [String: Sheet]
    }

    static func column(_ index: Int) -> String {
        var n = index + 1
        var s = ""
        while n > 0 { s = String(UnicodeScalar(UInt8(65 + (n - 1) % 26))) + s; n = (n - 1) / 26 }
        return s
    }
    func column(_ index: Int) -> String { Self.column(index) }

    /// The venv's python: MTAGUARD_REPORT_VENV, else one made now by Tests/reports/venv.sh.
    static let python: String? = {
        var dir = ProcessInfo.processInfo.environment["MTAGUARD_REPORT_VENV"] ?? ""
        if dir.isEmpty {
            dir = Repo.root + "/.build/report-venv"
            guard let r = try? runCommand(["bash", Repo.root + "/Tests/reports/venv.sh", dir]), r.succeeded else { return nil }
        }
        return dir + "/bin/python"
    }()

    func inspect(_ path: String) throws -> Workbook {
        let python = try #require(Self.python, "no openpyxl venv (bash Tests/reports/venv.sh failed)")
        let r = try runCommand([python, Repo.root + "/Tests/reports/inspect_xlsx.py", path])
        try #require(r.succeeded, "openpyxl could not read \(path): \(r)")
        return try JSONDecoder().decode(Workbook.self, from: Data(r.stdout.utf8))
    }

    // MARK: - fixtures

    static let exceptions = """
        - host: all
          item: SRV-005
          reason: 레거시 연동 (VRFY 필요)
          approved_by: 보안팀 김철수
          until: 2099-12-31

        """

    /// `mtaguard check --root examples/demo/postfix-host --format xlsx` with stdout to a file.
    func demoWorkbook(_ scratch: TempDir, lang: String, exceptions: String? = nil) throws -> String {
        var args = ["check", "--root", Repo.root + "/examples/demo/postfix-host", "--format", "xlsx", "--lang", lang]
        if let exceptions { args += ["--exceptions", try scratch.write("exceptions.yaml", exceptions)] }
        // stdout straight into a file: through a String the zip would be repaired as UTF-8.
        let out = scratch.path + "/demo-\(lang)\(exceptions == nil ? "" : "-excepted").xlsx"
        let r = try runCommand(["sh", "-c", "out=$1; shift; exec \"$@\" > \"$out\"", "sh", out, Repo.binary] + args
                                 + ["--playbooks", Repo.playbooks],
                               environment: ["MTAGUARD_BACKUPS": scratch.path + "/backups"])
        #expect(r.status == 2, "the demo host has 취약 items: \(r)")
        return out
    }

    /// The row (1-based) of `item` in column A of `sheet`.
    func row(of item: String, in sheet: Sheet) -> Int? {
        (1...max(sheet.max_row, 1)).first { sheet.text("A\($0)") == item }
    }

    // MARK: - the demo host through the command line

    @Test func koreanWorkbookHasTheAssessmentLayout() throws {
        let scratch = try TempDir("xlsx")
        defer { scratch.remove() }
        let book = try inspect(try demoWorkbook(scratch, lang: "ko"))
        #expect(book.sheets == ["요약", "점검 결과", "증적", "조치 이력"])

        let summary = try #require(book.sheet["요약"])
        #expect(summary.row(1) == ["ID", "KISA 2026", "KISA 2021", "전자금융", "평가항목", "중요도", "양호", "취약", "수동 확인", "해당 없음", "오류", "예외"])
        let srv005 = try #require(row(of: "SRV-005", in: summary))
        #expect(Array(summary.row(srv005).prefix(6)) == ["SRV-005", "U-48", "U-70", "SRV-005", "SMTP 서비스의 expn/vrfy 명령어 실행 제한", "중"])
        #expect(summary.row(srv005)[7] == "1", "one host, 취약")
        #expect(summary.freeze == "A2")
        let chart = try #require(summary.charts.first, "the summary sheet has a chart")
        #expect(chart.tag == "barChart" && chart.grouping == "stacked")
        #expect(chart.series.count == 6)

        let results = try #require(book.sheet["점검 결과"])
        let header = results.row(1)
        #expect(Array(header.prefix(6)) == ["ID", "구분", "평가항목", "상세설명", "중요도", "평가대상"])
        #expect(header.count == 7, "one host column: \(header)")
        let r = try #require(row(of: "SRV-005", in: results))
        #expect(results.text("G\(r)") == "취약")
        #expect(results.cells["G\(r)"]?.fill == "FFFDE2E1", "취약 is red as in the HTML report")
        #expect(results.text("F\(r)") == "linux, solaris, aix, hpux")
        // 상세설명 is the assessment's wording from the playbook, not the title again.
        #expect(results.text("D\(r)") == "SMTP 서비스에서 제공하는 expn/vrfy 명령어는 시스템 계정명 수집 가능성이 존재하므로, 해당 명령의 허용 여부를 점검")
        let books = try PlaybookLoader.loadAll(folder: Repo.playbooks)
        for row in 2...results.max_row {
            guard let id = results.text("A\(row)"), let b = books.first(where: { $0.id == id }) else { continue }
            let description = try #require(b.description, "\(id) has no description")
            #expect(results.text("D\(row)") == description && description != b.title, "\(id)")
            // It wraps, and its row is as tall as its lines: no reader has to grow it.
            #expect(results.cells["D\(row)"]?.wrap == true)
            let lines = XLSXWorkbook.lines(description, width: 40)
            #expect(lines == 1 ? results.heights["\(row)"] == nil : results.heights["\(row)"] == XLSXWorkbook.lineHeight * Double(lines),
                    "\(id): \(lines) lines, row height \(results.heights["\(row)"] ?? 0)")
        }
        #expect(results.heights["\(r)"] ?? 0 >= 2 * XLSXWorkbook.lineHeight, "SRV-005's 상세설명 takes more than one line")
        #expect(results.freeze == "B2")
        #expect(results.filter == "A1:G\(results.max_row)")
        let passing = try #require((2...results.max_row).first { results.text("G\($0)") == "양호" }, "some item is 양호")
        #expect(results.cells["G\(passing)"]?.fill == "FFE3F4E1")

        let evidence = try #require(book.sheet["증적"])
        #expect(evidence.row(1) == ["호스트", "항목", "결과", "MTA", "파일", "줄", "설정 항목", "근거", "비고", "예외"])
        let e = try #require((2...evidence.max_row).first { evidence.text("B\($0)") == "SRV-005" })
        #expect(evidence.text("C\(e)") == "취약")
        #expect(evidence.text("E\(e)")?.hasSuffix("/etc/postfix/main.cf") == true)
        #expect(evidence.text("G\(e)") == "disable_vrfy_command", "the setting in postfix's own words")
        #expect(evidence.text("I\(e)")?.isEmpty == false, "the rule that decided")
        #expect(evidence.filter?.hasPrefix("A1:J") == true)

        let changes = try #require(book.sheet["조치 이력"])
        #expect(changes.row(1) == ["실행 ID", "시작", "종료", "명령", "실행자", "결과", "호스트", "파일", "되돌림"])
    }

    @Test("a wrapped cell's lines: a Hangul character is two columns wide, each line of the text starts a line")
    func wrappedLines() {
        #expect(XLSXWorkbook.lines("", width: 40) == 1)
        #expect(XLSXWorkbook.lines(String(repeating: "a", count: 39), width: 40) == 1)
        #expect(XLSXWorkbook.lines(String(repeating: "a", count: 40), width: 40) == 2)
        #expect(XLSXWorkbook.lines(String(repeating: "가", count: 19), width: 40) == 1)
        #expect(XLSXWorkbook.lines(String(repeating: "가", count: 20), width: 40) == 2)
        #expect(XLSXWorkbook.lines("a\nb\n\nc", width: 40) == 4)
        #expect(XLSXWorkbook.lines(String(repeating: "a\n", count: 100), width: 40) == XLSXWorkbook.maxLines)
    }

    @Test func englishSheetsAndAnExceptionMarked() throws {
        let scratch = try TempDir("xlsx")
        defer { scratch.remove() }
        let book = try inspect(try demoWorkbook(scratch, lang: "en", exceptions: Self.exceptions))
        #expect(book.sheets == ["Summary", "Results", "Evidence", "Changes"])
        let results = try #require(book.sheet["Results"])
        #expect(Array(results.row(1).prefix(6)) == ["ID", "Category", "Item", "Description", "Severity", "Applies to"])
        let r = try #require(row(of: "SRV-005", in: results))
        #expect(results.text("C\(r)") == "Restrict the SMTP EXPN and VRFY commands")
        #expect(results.text("D\(r)") == "The SMTP EXPN and VRFY commands let anyone collect the system's account names, so whether they are allowed is checked.")
        #expect(results.text("G\(r)") == "Exception")
        #expect(results.cells["G\(r)"]?.fill == "FFE6E9FB")
        let evidence = try #require(book.sheet["Evidence"])
        let e = try #require((2...evidence.max_row).first { evidence.text("B\($0)") == "SRV-005" })
        let mark = try #require(evidence.text("J\(e)"))
        #expect(mark.contains("레거시 연동") && mark.contains("보안팀 김철수") && mark.contains("2099-12-31"), "\(mark)")
        let summary = try #require(book.sheet["Summary"])
        let s = try #require(row(of: "SRV-005", in: summary))
        #expect(summary.row(1)[7] == "Fail" && summary.row(1)[11] == "Exception", "\(summary.row(1))")
        #expect(summary.row(s)[7] == "0" && summary.row(s)[11] == "1", "counted as Exception, not Fail: \(summary.row(s))")
    }

    @Test func outputFolderGetsTheWorkbookAndATerminalDoesNot() throws {
        let scratch = try TempDir("xlsx")
        defer { scratch.remove() }
        let out = scratch.path + "/reports"
        let r = try mtaguard(["check", "--root", Repo.root + "/examples/demo/postfix-host", "--output", out],
                             backups: scratch.path + "/backups")
        #expect(r.status == 2, "\(r)")
        for name in ["report.txt", "report.json", "report.csv", "report.html", "report.xlsx", "report.pdf"] {
            #expect(FileManager.default.fileExists(atPath: out + "/" + name), "\(name) in --output")
        }
        let book = try inspect(out + "/report.xlsx")
        #expect(book.sheets.count == 4)
        // A terminal on stdout (script(1) gives one) refuses the binary format without --output.
        let tty = try runCommand(["script", "-qec", "\(Repo.binary) check --root \(Repo.root)/examples/demo/postfix-host --format xlsx --playbooks \(Repo.playbooks)", "/dev/null"],
                                 environment: ["MTAGUARD_BACKUPS": scratch.path + "/backups"])
        #expect(tty.stdout.contains("binary") && tty.stdout.contains("--output"), "\(tty)")
        #expect(!tty.stdout.contains("PK"), "no zip on the terminal")
    }

    @Test func changesSheetHasTheRunsWhoRanThemAndTheRollback() throws {
        let scratch = try TempDir("xlsx")
        defer { scratch.remove() }
        let root = scratch.path + "/host"
        try FileManager.default.copyItem(atPath: Repo.root + "/examples/demo/postfix-host", toPath: root)
        let backups = scratch.path + "/backups"
        let apply = try mtaguard(["apply", "--root", root, "--yes", "--item", "SRV-005"], backups: backups)
        try #require(apply.status == 0, "\(apply)")
        let runs = try runCommand([Repo.binary, "runs", "--format", "json", "--backups", backups])
        let list = try #require(try JSONSerialization.jsonObject(with: Data(runs.stdout.utf8)) as? [[String: Any]])
        let runID = try #require(list.first?["id"] as? String)
        let rollback = try mtaguard(["rollback", runID, "--backups", backups], backups: backups)
        try #require(rollback.status == 0, "\(rollback)")

        let out = scratch.path + "/reports"
        let check = try mtaguard(["check", "--root", root, "--output", out, "--lang", "ko"], backups: backups)
        #expect(check.status == 2)
        let changes = try #require(try inspect(out + "/report.xlsx").sheet["조치 이력"])
        #expect(changes.max_row == 3, "two runs, newest first")
        let user = try #require(Manifest.loginName())
        let undo = changes.row(2), applied = changes.row(3)
        #expect(undo[0] != runID && undo[3] == "rollback \(runID)" && undo[4] == user)
        #expect(undo[8] == "되돌린 실행: \(runID)")
        #expect(applied[0] == runID && applied[4] == user && applied[5] == "changed")
        #expect(applied[7].contains("/etc/postfix/main.cf (SRV-005; restored)"), "\(applied[7])")
        #expect(applied[8] == "되돌려짐: \(undo[0])", "rolled back by the newer run")
    }

    @Test func aJournalWrittenBeforeTheUserFieldStillReads() throws {
        let old = #"{"version":1,"id":"20250101T000000Z-0001","command":"apply","started":0,"outcome":"changed","hosts":[]}"#
        let manifest = try JSONDecoder().decode(Manifest.self, from: Data(old.utf8))
        #expect(manifest.user == nil)
        let data = try XLSXReport.render([], playbooks: [], runs: [manifest], language: .en)
        let scratch = try TempDir("xlsx")
        defer { scratch.remove() }
        let changes = try #require(try inspect(try scratch.write("old.xlsx", data)).sheet["Changes"])
        #expect(changes.text("E2") == "-")
    }

    // MARK: - fabricated plans

    @Test func hostileEvidenceStaysAString() throws {
        let scratch = try TempDir("xlsx")
        defer { scratch.remove() }
        var plans = ReportTests.plans()
        let formula = "=HYPERLINK(\"http://evil.example/\",\"click\")"
        plans[0].findings[0].evidence[0].text = formula
        plans[0].findings[0].evidence[0].note = "@SUM(1+1)"
        let data = try XLSXReport.render(plans, playbooks: [], runs: [ReportTests.run()], language: .ko)
        let book = try inspect(try scratch.write("hostile.xlsx", data))
        let evidence = try #require(book.sheet["증적"])
        let cell = try #require(evidence.cells.values.first { $0.v.text == formula }, "the line is in the sheet, as written")
        #expect(cell.t == "s", "a string cell, not a formula")
        #expect(evidence.cells.values.first { $0.v.text == "@SUM(1+1)" }?.t == "s")
        #expect(!evidence.cells.values.contains { $0.t == "f" })
        let hostileLine = try #require(evidence.cells.values.first { $0.v.text?.contains("<script>") == true })
        #expect(hostileLine.t == "s")
        let changes = try #require(book.sheet["조치 이력"])
        #expect(changes.max_row == 2)
        #expect(changes.text("A2") == ReportTests.run().id)
        // A host that could not be judged is 오류 in its column.
        let results = try #require(book.sheet["점검 결과"])
        #expect(results.row(1).suffix(3) == ["mail-01.example.test", "mail-02.example.test", "down-03.example.test"])
    }

    /// A 수동 확인 finding in every sheet: counted in its own column right after 취약 (and in
    /// the chart's series), its cell in 점검 결과 and its 증적 row in the assessment's words.
    @Test(arguments: [ReportLanguage.ko, .en])
    func reviewInEverySheet(_ language: ReportLanguage) throws {
        let scratch = try TempDir("xlsx")
        defer { scratch.remove() }
        let t = language.text
        let data = try XLSXReport.render(ReportTests.reviewPlans(), playbooks: [], runs: [], language: language)
        let book = try inspect(try scratch.write("review-\(language.rawValue).xlsx", data))
        let word = language == .ko ? "수동 확인" : "Review"

        let summary = try #require(book.sheet[t.sheetSummary])
        let header = summary.row(1)
        #expect(Array(header.suffix(6)) == ReportText.statusOrder.map(t.word))
        #expect(header[8] == word && header[7] == t.word(.fail), "\(header)")
        let u47 = try #require(row(of: "U-47", in: summary))
        #expect(Array(summary.row(u47).suffix(6)) == ["1", "0", "1", "0", "0", "0"], "양호 1, 수동 확인 1: \(summary.row(u47))")
        #expect(summary.cells["I\(u47)"]?.fill == "FFF3E5F5", "수동 확인 is purple as in the HTML report")
        let chart = try #require(summary.charts.first)
        #expect(chart.series.count == 6)

        let results = try #require(book.sheet[t.sheetResults])
        let r = try #require(row(of: "U-47", in: results))
        #expect(results.text("G\(r)") == word && results.text("H\(r)") == t.word(.pass))
        #expect(results.cells["G\(r)"]?.fill == "FFF3E5F5")

        let evidence = try #require(book.sheet[t.sheetEvidence])
        let e = try #require((2...evidence.max_row).first { evidence.text("B\($0)") == "U-47" && evidence.text("E\($0)") == "192.0.2.25:25" })
        #expect(evidence.text("C\(e)") == word)
        #expect(evidence.text("H\(e)") == ReportTests.deferredTranscript)
        #expect(evidence.text("I\(e)") == ReportTests.deferredNote)
    }

    @Test func manyHostsTurnToOneRowPerHostAndItem() throws {
        let scratch = try TempDir("xlsx")
        defer { scratch.remove() }
        let template = ReportTests.plans()[0]
        let plans = (1...(XLSXReport.wideHostLimit + 1)).map { i in
            var p = template
            p.host = String(format: "mail-%03d.example.test", i)
            return p
        }
        let data = try XLSXReport.render(plans, playbooks: [], runs: [], language: .en)
        let book = try inspect(try scratch.write("many.xlsx", data))
        let results = try #require(book.sheet["Results"])
        #expect(results.row(1) == ["Host", "ID", "KISA 2026", "KISA 2021", "전자금융", "Item", "Severity", "Status"])
        #expect(results.max_row == 1 + plans.count * template.findings.count)
        #expect(results.text("A2") == "mail-001.example.test" && results.text("B2") == "SRV-005" && results.text("H2") == "Fail")
        #expect(results.cells["H2"]?.fill == "FFFDE2E1")
        #expect(results.filter == "A1:H\(results.max_row)")
    }

    // MARK: - LibreOffice

    /// LibreOffice prints the workbook (Debian's calc-nogui has no PNG export filter, so to PDF)
    /// and poppler's pdftoppm makes the first page, the summary with its chart, a PNG.
    @Test(.enabled(if: FileManager.default.isExecutableFile(atPath: "/usr/bin/soffice")
                   && FileManager.default.isExecutableFile(atPath: "/usr/bin/pdftoppm"),
                   "LibreOffice (soffice) or poppler-utils (pdftoppm) is not installed"))
    func libreOfficeRendersTheSummary() throws {
        let scratch = try TempDir("xlsx")
        defer { scratch.remove() }
        let file = try demoWorkbook(scratch, lang: "ko")
        let out = scratch.path + "/rendered"
        let r = try runCommand(["soffice", "-env:UserInstallation=file://\(scratch.path)/lo-profile", "--headless",
                                "--convert-to", "pdf", "--outdir", out, file])
        try #require(r.succeeded, "\(r)")
        let pdf = out + "/" + ((file as NSString).lastPathComponent as NSString).deletingPathExtension + ".pdf"
        try #require(FileManager.default.fileExists(atPath: pdf), "LibreOffice wrote no PDF: \(r)")
        let text = try runCommand(["pdftotext", "-l", "1", pdf, "-"])
        #expect(text.stdout.contains("SRV-005") && text.stdout.contains("전자금융"), "the summary sheet is on page 1: \(text.stdout)")
        let page = scratch.path + "/summary"
        let ppm = try runCommand(["pdftoppm", "-png", "-r", "80", "-f", "1", "-l", "1", "-singlefile", pdf, page])
        try #require(ppm.succeeded, "\(ppm)")
        let bytes = try Data(contentsOf: URL(fileURLWithPath: page + ".png"))
        #expect(bytes.count > 5000, "a page with a table and a chart, not a blank one")
        #expect(bytes.prefix(8) == Data([0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]))
        if let keep = ProcessInfo.processInfo.environment["MTAGUARD_KEEP_PNG"], !keep.isEmpty {
            try? FileManager.default.removeItem(atPath: keep)
            try FileManager.default.copyItem(atPath: page + ".png", toPath: keep)
        }
    }
}
