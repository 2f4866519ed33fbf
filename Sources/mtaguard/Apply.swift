import ArgumentParser
import Foundation
import MTAGuard

struct Apply: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Back up, edit, validate and reload; a host that fails is rolled back.")

    @OptionGroup var common: CommonOptions
    @Flag(help: "Do not ask for confirmation.") var yes = false
    @Option(help: "text or json.") var format: OutputFormat = .text

    func run() async throws {
        let session = common.session
        Interrupt.shared.install()
        let result: RunResult
        do {
            if !yes && isatty(0) == 0 {
                throw MTAGuardError("refusing to change hosts without confirmation", hint: "pass --yes")
            }
            let command = "apply " + CommandLine.arguments.dropFirst(2).joined(separator: " ")
            result = try await session.apply(command: command, confirm: yes ? nil : { plans in
                printOut(TextReport.plan(plans))
                printOut("Apply these changes? [y/N] ")
                guard let answer = readLine() else { return false }
                return ["y", "yes"].contains(answer.lowercased())
            })
        } catch { throw fail(error) }
        printOut(format == .json ? JSONReport.run(result) : TextReport.run(result, verb: "apply"))
        if result.exitCode != 0 { throw ExitCode(result.exitCode) }
    }
}
