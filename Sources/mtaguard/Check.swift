import ArgumentParser
import Foundation
import MTAGuard

struct Check: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Judge each item on the host: 양호 (pass), 취약 (fail), 해당 없음 (n/a), 오류 (error), with evidence.")

    @OptionGroup var common: CommonOptions
    @Option(help: "text, json, csv (for spreadsheets) or html (one offline file for auditors).") var format: ReportFormat = .text
    @Option(help: "ko or en for csv and html; default from the locale.") var lang: ReportLanguage?

    @Option(help: "Also write the report in every format into this folder (report.txt, .json, .csv, .html).")
    var output: String?

    func run() async throws {
        let plans: [HostPlan]
        do { plans = try await common.session.plan() } catch { throw fail(error) }
        let language = lang ?? ReportLanguage.fromEnvironment()
        func render(_ format: ReportFormat) -> String {
            switch format {
            case .text: return TextReport.findings(plans)
            case .json: return JSONReport.findings(plans)
            case .csv: return CSVReport.render(plans, language: language)
            case .html:
                let runs = (try? common.session.journal.runs()) ?? []
                return HTMLReport.render(plans, runs: Array(runs.prefix(20)), language: language, generated: Date())
            }
        }
        printOut(render(format))
        if let output {
            do {
                try FileManager.default.createDirectory(atPath: output, withIntermediateDirectories: true)
                for f in ReportFormat.allCases {
                    let path = (output as NSString).appendingPathComponent("report.\(f == .text ? "txt" : f.rawValue)")
                    try Data(render(f).utf8).write(to: URL(fileURLWithPath: path), options: .atomic)
                }
            } catch { throw fail(MTAGuardError(file: output, "cannot write the reports: \(error.localizedDescription)")) }
        }
        let code = Session.checkExitCode(plans)
        if code != 0 { throw ExitCode(code) }
    }
}
