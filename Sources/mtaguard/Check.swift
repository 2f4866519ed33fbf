import ArgumentParser
import Foundation
import MTAGuard

struct Check: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Judge each item on the host: 양호 (pass), 취약 (fail), 수동 확인 (review), 해당 없음 (n/a), 오류 (error), with evidence.",
        discussion: "수동 확인 (review): mtaguard read what it could and a person must decide (e.g. an SMTP server that kept deferring the relay attempt); such an item is never fixed by plan or apply, exits 2 like 취약, and check prints how many need a review.")

    @OptionGroup var common: CommonOptions
    @Option(help: ArgumentHelp(
        "text, json, csv (for spreadsheets), html (one offline file for auditors), xlsx (an Excel workbook) or pdf (the html printed by Chromium).",
        discussion: "xlsx and pdf are binary: written to stdout only when stdout is not a terminal; to a terminal they need --output DIR, which gets report.xlsx and report.pdf."))
    var format: ReportFormat = .text
    @Option(help: "ko or en for csv, html, xlsx and pdf; default from the locale.") var lang: ReportLanguage?
    @Option(help: "The organisation the report is for, in the html and pdf title and on every pdf page.") var org: String = ""
    @Flag(help: "In the text, html and pdf reports, show every evidence row, also each file of an MTA that is not configured on the host (json, csv and xlsx always do).")
    var verbose = false

    @Option(help: "Also write the report in every format into this folder (report.txt, .json, .csv, .html, .xlsx, .pdf; .pdf only where Chromium is installed).")
    var output: String?

    func validate() throws {
        if format.isBinary && isatty(1) != 0 && output == nil {
            throw ValidationError("--format \(format.rawValue) is binary and stdout is a terminal: redirect it (> report.\(format.rawValue)) or use --output DIR")
        }
    }

    func run() async throws {
        let plans: [HostPlan]
        do { plans = try await common.session.plan() } catch { throw fail(error) }
        let language = lang ?? ReportLanguage.fromEnvironment()
        let session = common.session
        func runs() -> [Manifest] { (try? session.journal.runs()) ?? [] }
        let generated = Date()
        func html() -> String {
            HTMLReport.render(plans, runs: Array(runs().prefix(20)), language: language, generated: generated, organisation: org, verbose: verbose)
        }
        var rendered: [ReportFormat: Data] = [:]
        func render(_ format: ReportFormat) throws -> Data {
            if let done = rendered[format] { return done }
            let data = try renderOnce(format)
            rendered[format] = data
            return data
        }
        func renderOnce(_ format: ReportFormat) throws -> Data {
            switch format {
            case .text: return Data(TextReport.findings(plans, verbose: verbose).utf8)
            case .json: return Data(JSONReport.findings(plans).utf8)
            case .csv: return Data(CSVReport.render(plans, language: language).utf8)
            case .html: return Data(html().utf8)
            case .pdf: return try PDFReport.render(html: html())
            case .xlsx:
                let books = (try? session.playbooks()) ?? []
                return try XLSXReport.render(plans, playbooks: books, runs: runs(), language: language)
            }
        }
        // A binary report goes to a terminal only as its file in --output (validate()).
        if !(format.isBinary && isatty(1) != 0) {
            do { FileHandle.standardOutput.write(try render(format)) } catch { throw fail(error) }
        }
        if let output {
            do {
                try FileManager.default.createDirectory(atPath: output, withIntermediateDirectories: true)
                for f in ReportFormat.allCases {
                    // Chromium is optional for the folder: without one, every other format is written.
                    if f == .pdf && format != .pdf && PDFReport.browser() == nil {
                        FileHandle.standardError.write(Data("mtaguard: warning: no Chromium installed: \(output)/report.pdf not written\n".utf8))
                        continue
                    }
                    let path = (output as NSString).appendingPathComponent(f.fileName)
                    try render(f).write(to: URL(fileURLWithPath: path), options: .atomic)
                }
            } catch let error as MTAGuardError {
                throw fail(error)
            } catch { throw fail(MTAGuardError(file: output, "cannot write the reports: \(error.localizedDescription)")) }
        }
        if let notice = Session.reviewNotice(plans) {
            FileHandle.standardError.write(Data("mtaguard: \(notice)\n".utf8))
        }
        let code = Session.checkExitCode(plans)
        if code != 0 { throw ExitCode(code) }
    }
}
