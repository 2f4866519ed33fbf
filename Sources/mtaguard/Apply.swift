import ArgumentParser
import Foundation
import MTAGuard

struct Apply: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Back up, edit, validate and reload; a host that fails is rolled back.")

    @OptionGroup var common: CommonOptions
    @Flag(help: "Do not ask for confirmation.") var yes = false
    @Option(help: "text or json.") var format: OutputFormat = .text
    @Option(help: "Apply exactly this approved plan (from `plan --out`); hosts that changed since are refused.") var plan: String?
    @Option(help: "With --plan: the SHA-256 the change board approved (plan --out prints it); a plan file whose digest differs is refused before any host is read. Needed with --yes.") var approved: String?
    @Option(name: .customLong("max-age"), help: "With --plan: refuse a plan older than this (7d, 36h, 90m, 600s).") var maxAge: String = "7d"

    func validate() throws {
        guard Session.parseDuration(maxAge) != nil else { throw ValidationError("--max-age '\(maxAge)' is not a duration such as 7d, 36h, 90m or 600s") }
        guard plan != nil else {
            if approved != nil { throw ValidationError("--approved goes with --plan") }
            return
        }
        if yes && approved == nil {
            throw ValidationError("--plan with --yes needs --approved SHA256, the digest plan --out printed and the change board approved: without it nothing ties the run to what was approved")
        }
        if !common.item.isEmpty || common.mode != nil || common.root != nil || !common.fleet.inventory.isEmpty
            || common.fleet.limit != nil || common.exceptions != nil || common.smtpPort != nil || common.allowUpgrade
        {
            throw ValidationError("--plan applies the approved plan as it is: its hosts, items, mode and checks come from the plan; drop --item, --mode, --root, -i, --limit, --exceptions, --smtp-port and --allow-upgrade")
        }
    }

    func run() async throws {
        let session = common.session
        Interrupt.shared.install()
        let result: RunResult
        do {
            if !yes && isatty(0) == 0 {
                throw MTAGuardError("refusing to change hosts without confirmation", hint: "pass --yes")
            }
            let command = "apply " + CommandLine.arguments.dropFirst(2).joined(separator: " ")
            if let plan {
                let digest = FileManager.default.contents(atPath: plan)?.sha256Hex ?? "(unreadable)"
                // Before anything runs, on stderr (stdout may be the JSON report).
                FileHandle.standardError.write(Data("mtaguard: plan \(plan) sha256 \(digest)\n".utf8))
                if !yes {
                    printOut("Apply the approved plan \(plan) (sha256 \(digest))? [y/N] ")
                    guard let answer = readLine(), ["y", "yes"].contains(answer.lowercased()) else {
                        printOut("nothing changed\n")
                        return
                    }
                }
                result = try await session.applyPlan(file: plan, maxAge: Session.parseDuration(maxAge)!, command: command, approved: approved)
            } else {
            result = try await session.apply(command: command, confirm: yes ? nil : { plans in
                printOut(TextReport.plan(plans))
                printOut("Apply these changes? [y/N] ")
                guard let answer = readLine() else { return false }
                return ["y", "yes"].contains(answer.lowercased())
            })
            }
        } catch { throw fail(error) }
        printOut(format == .json ? JSONReport.run(result) : TextReport.run(result, verb: "apply"))
        if result.exitCode != 0 { throw ExitCode(result.exitCode) }
    }
}
