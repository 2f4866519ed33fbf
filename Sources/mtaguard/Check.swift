import ArgumentParser
import MTAGuard

struct Check: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Judge each item on the host: 양호 (pass), 취약 (fail), 해당 없음 (n/a), 오류 (error), with evidence.")

    @OptionGroup var common: CommonOptions
    @Option(help: "text or json.") var format: OutputFormat = .text

    func run() async throws {
        let plans: [HostPlan]
        do { plans = try await common.session.plan() } catch { throw fail(error) }
        printOut(format == .json ? JSONReport.findings(plans) : TextReport.findings(plans))
        let code = Session.checkExitCode(plans)
        if code != 0 { throw ExitCode(code) }
    }
}
