import ArgumentParser
import Foundation
import MTAGuard

struct Apply: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Back up, edit, validate and reload; a host that fails is rolled back.")

    @OptionGroup var common: CommonOptions
    @Flag(help: "Do not ask for confirmation.") var yes = false

    func run() async throws {
        let session = common.session
        let result: RunResult
        do {
            let plans = try await session.plan()
            if plans.contains(where: \.hasChanges), !yes {
                printOut(TextReport.plan(plans))
                guard isatty(0) != 0 else {
                    throw MTAGuardError("refusing to change hosts without confirmation", hint: "pass --yes")
                }
                printOut("Apply these changes? [y/N] ")
                guard let answer = readLine(), ["y", "yes"].contains(answer.lowercased()) else {
                    printOut("nothing changed\n")
                    return
                }
            }
            result = try await session.apply(plans, command: "apply " + CommandLine.arguments.dropFirst(2).joined(separator: " "))
        } catch { throw fail(error) }
        printOut(TextReport.run(result, verb: "apply"))
        if result.exitCode != 0 { throw ExitCode(result.exitCode) }
    }
}
