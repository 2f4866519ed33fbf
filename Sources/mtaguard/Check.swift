import ArgumentParser
import Foundation
import MTAGuard

struct Check: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Judge each item on the host: 양호 (pass), 취약 (fail), 해당 없음 (n/a), 오류 (error), with evidence.")

    @OptionGroup var common: CommonOptions
    @Option(help: "text, json, csv (for spreadsheets) or html (one offline file for auditors).") var format: ReportFormat = .text
    @Option(help: "ko or en for csv and html; default from the locale.") var lang: ReportLanguage?

    func run() async throws {
        let plans: [HostPlan]
        do { plans = try await common.session.plan() } catch { throw fail(error) }
        let language = lang ?? ReportLanguage.fromEnvironment()
        switch format {
        case .text: printOut(TextReport.findings(plans))
        case .json: printOut(JSONReport.findings(plans))
        case .csv: printOut(CSVReport.render(plans, language: language))
        case .html:
            let runs = (try? common.session.journal.runs()) ?? []
            printOut(HTMLReport.render(plans, runs: Array(runs.prefix(20)), language: language, generated: Date()))
        }
        let code = Session.checkExitCode(plans)
        if code != 0 { throw ExitCode(code) }
    }
}
