import ArgumentParser
import MTAGuard

struct Plan: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Dry-run: the unified diff of every file and every command that apply would run. Changes nothing.")

    @OptionGroup var common: CommonOptions
    @Option(help: "text or json.") var format: OutputFormat = .text

    func run() async throws {
        let plans: [HostPlan]
        do { plans = try await common.session.plan() } catch { throw fail(error) }
        printOut(format == .json ? JSONReport.plans(plans) : TextReport.plan(plans))
        let code = Session.planExitCode(plans)
        if code != 0 { throw ExitCode(code) }
    }
}
