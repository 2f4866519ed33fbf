import Foundation
import Testing
@testable import MTAGuard

/// The PDF report (PDFReport: the HTML report printed by headless Chromium), read back by
/// poppler's pdftotext and pdfinfo; and what the HTML brings to it: the table of contents, the
/// page header and the inline SVG chart, with no script and nothing fetched.
@Suite(.serialized) struct PDFReportTests {
    static let canPrint = PDFReport.browser() != nil && FileManager.default.isExecutableFile(atPath: "/usr/bin/pdftotext")
    static let organisation = "ACME 은행 정보보호부"

    /// pdftotext of `pdf`, and its pdfinfo page count.
    func read(_ pdf: String) throws -> (text: String, pages: Int) {
        let text = try runCommand(["pdftotext", "-layout", pdf, "-"])
        try #require(text.succeeded, "\(text)")
        let info = try runCommand(["pdfinfo", pdf])
        let pages = info.stdout.split(separator: "\n").first { $0.hasPrefix("Pages:") }
            .flatMap { Int($0.dropFirst(6).trimmingCharacters(in: .whitespaces)) } ?? 0
        return (text.stdout, pages)
    }

    func squeezed(_ s: String) -> String { s.filter { !$0.isWhitespace } }

    // MARK: - HTML

    @Test func htmlHasContentsHeaderAndAnInlineChart() throws {
        let html = HTMLReport.render(ReportTests.plans(), runs: [ReportTests.run()], language: .ko,
                                     generated: Date(timeIntervalSince1970: 1_736_200_100), organisation: Self.organisation)
        #expect(html.contains("<nav id=\"contents\">"))
        for (id, heading) in [("summary-chart", "항목별 점검 결과"), ("summary-items", "항목별 요약"), ("summary-hosts", "호스트별 요약"),
                              ("details", "세부 점검 결과"), ("changes", "변경 내역")] {
            #expect(html.contains("<li><a href=\"#\(id)\">\(heading)</a></li>"))
            #expect(html.contains("<section id=\"\(id)\">"), "the link has its target")
        }
        #expect(html.contains("<div class=\"page-header\">ACME 은행 정보보호부 · 메일 서버 보안 점검 보고서 (mtaguard) · "))
        #expect(html.contains("실행 ID \(ReportTests.run().id)</div>"), "the latest run in the header")
        #expect(html.contains("<p class=\"organisation\">기관: ACME 은행 정보보호부</p>"))
        // The chart: one bar per item, SRV-005's 취약 part 2 hosts of 3 long, then 오류; a legend of six.
        #expect(html.contains("<svg class=\"chart\""))
        let srv005 = try #require(html.components(separatedBy: "data-item=\"SRV-005\">").dropFirst().first?
            .components(separatedBy: "</g>").first)
        #expect(srv005.contains("<rect class=\"status-fail\" x=\"90\" y=\"0\" width=\"346\""), "\(srv005)")
        #expect(srv005.contains("<rect class=\"status-error\" x=\"436\" y=\"0\" width=\"173\""), "\(srv005)")
        #expect(!srv005.contains("status-pass"), "no empty segments")
        let legend = try #require(html.components(separatedBy: "<g class=\"legend\">").dropFirst().first?
            .components(separatedBy: "</g>").first)
        #expect(legend.components(separatedBy: "<rect").count - 1 == 6)
        let words = ["양호", "취약", "수동 확인", "해당 없음", "오류", "예외"]
        let at = words.map { legend.range(of: ">\($0)</text>")?.lowerBound }
        #expect(at.allSatisfy { $0 != nil } && at.map { $0! } == at.map { $0! }.sorted(), "the legend in the auditor's order: \(legend)")
        // Self-contained: no script, no namespace or resource URL.
        #expect(!html.lowercased().contains("<script"))
        #expect(!html.lowercased().contains("http"))
    }

    @Test func hostileHostNamesAreEscapedInTheChart() {
        var plans = ReportTests.plans()
        plans[0].findings[0].item = "<script>x</script>"
        let html = HTMLReport.render(plans, runs: [], language: .en, generated: Date())
        #expect(!html.contains("<script>"))
        #expect(html.contains("data-item=\"&lt;script&gt;x&lt;/script&gt;\""))
        #expect(html.contains("<li><a href=\"#summary-chart\">Results by item</a></li>"))
        #expect(!html.contains("page-header\"> ·"), "no empty organisation in the header")
    }

    // MARK: - printed by Chromium

    @Test(.enabled(if: canPrint, "chromium or pdftotext (poppler-utils) is not installed"))
    func printedReportHasTheHeaderOnEveryPage() throws {
        let data = try PDFReport.render(html: HTMLReport.render(
            ReportTests.plans(), runs: [ReportTests.run()], language: .ko,
            generated: Date(timeIntervalSince1970: 1_736_200_100), organisation: Self.organisation))
        #expect(data.starts(with: Data("%PDF-".utf8)))
        let scratch = try TempDir("pdf")
        defer { scratch.remove() }
        let (text, pages) = try read(try scratch.write("report.pdf", data))
        #expect(pages >= 2, "the details run onto a second page")
        #expect(text.components(separatedBy: Self.organisation + " · 메일 서버 보안 점검 보고서").count - 1 == pages,
                "the page header on each of \(pages) pages:\n\(text)")
        for word in ["목차", "항목별 점검 결과", "항목별 요약", "호스트별 요약", "세부 점검 결과", "변경 내역", "취약"] {
            #expect(text.contains(word), "\(word)")
        }
        #expect(text.contains("mail-01.example.test") && text.contains("down-03.example.test"), "\(text)")
        #expect(text.contains(ReportTests.run().id))
    }

    @Test(.enabled(if: canPrint, "chromium or pdftotext (poppler-utils) is not installed"))
    func printedReportShowsReviewAndWhatToLookAt() throws {
        let data = try PDFReport.render(html: HTMLReport.render(
            ReportTests.reviewPlans(), runs: [], language: .ko, generated: Date(timeIntervalSince1970: 1_736_200_100),
            organisation: Self.organisation))
        let scratch = try TempDir("pdf")
        defer { scratch.remove() }
        let (text, _) = try read(try scratch.write("review.pdf", data))
        let flat = squeezed(text)
        // The summaries' columns in the auditor's order, and U-47's counts: 양호 1, 수동 확인 1.
        #expect(flat.contains("항목항목명양호취약수동확인해당없음오류예외"), "\(text)")
        #expect(flat.contains("U-47스팸메일릴레이제한101000"), "\(text)")
        #expect(flat.contains("mx-01.example.test취약011000"), "\(text)")
        // The details (cells wrap side by side, so words are checked one cell line at a time).
        #expect(flat.contains("수동확인필요"), "\(text)")
        #expect(flat.contains("확인대상:smtp"), "\(text)")
        #expect(flat.contains("4.2.0Greylisted;"), "\(text)")
    }

    @Test(.enabled(if: canPrint, "chromium or pdftotext (poppler-utils) is not installed"))
    func checkPrintsTheDemoHostToPDF() throws {
        let scratch = try TempDir("pdf")
        defer { scratch.remove() }
        let pdf = scratch.path + "/demo.pdf"
        // stdout straight into a file (a String would repair the bytes as UTF-8); a relative root
        // for a short host name.
        let r = try runCommand(
            ["sh", "-c", "out=$1; shift; exec \"$@\" > \"$out\"", "sh", pdf, Repo.binary, "check", "--root", "examples/demo/postfix-host",
             "--format", "pdf", "--lang", "ko", "--org", Self.organisation, "--playbooks", Repo.playbooks],
            environment: ["MTAGUARD_BACKUPS": scratch.path + "/backups"], currentDirectory: Repo.root)
        #expect(r.status == 2, "the demo host has 취약 items: \(r)")
        let (text, pages) = try read(pdf)
        #expect(pages >= 1)
        #expect(text.contains("메일 서버 보안 점검 보고서 (mtaguard)"))
        #expect(text.contains("기관: " + Self.organisation))
        for word in ["목차", "1. 항목별 점검 결과", "2. 항목별 요약", "3. 호스트별 요약", "4. 세부 점검 결과", "5. 변경 내역"] {
            #expect(text.contains(word), "\(word) in the contents")
        }
        #expect(squeezed(text).contains("root:examples/demo/postfix-host"))
        #expect(text.contains("취약"))

        let out = scratch.path + "/reports"
        let all = try mtaguard(["check", "--root", Repo.root + "/examples/demo/postfix-host", "--output", out, "--org", "X"],
                               backups: scratch.path + "/backups")
        #expect(all.status == 2, "\(all)")
        let folder = try FileManager.default.contentsOfDirectory(atPath: out).sorted()
        #expect(folder == ["report.csv", "report.html", "report.json", "report.pdf", "report.txt", "report.xlsx"])
        #expect(try Data(contentsOf: URL(fileURLWithPath: out + "/report.pdf")).starts(with: Data("%PDF-".utf8)))
    }

    @Test func noBrowserIsAnErrorThatSaysWhatToInstall() throws {
        let scratch = try TempDir("pdf")
        defer { scratch.remove() }
        let r = try runCommand(
            ["sh", "-c", "exec \"$@\" > /dev/null", "sh", Repo.binary, "check", "--root", Repo.root + "/examples/demo/postfix-host",
             "--format", "pdf", "--playbooks", Repo.playbooks],
            environment: ["MTAGUARD_BACKUPS": scratch.path + "/backups", "MTAGUARD_CHROMIUM": scratch.path + "/no-such-browser"])
        #expect(r.status == 1, "\(r)")
        #expect(r.stderr.contains("no-such-browser"), "\(r.stderr)")
    }
}
