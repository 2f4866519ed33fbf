import ArgumentParser
import Foundation
import MTAGuard

struct Runs: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "The journal: runs, hosts and outcomes, newest first.")

    @Option(help: "Folder of run journals and backups (default ./backups, or $MTAGUARD_BACKUPS).") var backups: String?
    @Option(help: "text or json.") var format: OutputFormat = .text

    func run() async throws {
        let runs: [Manifest]
        do { runs = try Session(backupsFolder: backups).journal.runs() } catch { throw fail(error) }
        if format == .json {
            printOut(JSONReport.runs(runs))
            return
        }
        if runs.isEmpty { printOut("no runs yet\n") }
        for run in runs {
            let hosts = run.hosts.map { "\($0.name)=\($0.outcome.rawValue)" }.joined(separator: " ")
            let plan = run.plan.map { "  plan sha256 \($0)" } ?? ""
            printOut("\(run.id)  \(run.state.padding(toLength: 11, withPad: " ", startingAt: 0))  \(run.command)  \(hosts)\(plan)\n")
        }
        if let cut = runs.first(where: \.interrupted) {
            printOut("\nan interrupted run may have left hosts part-way: mtaguard rollback \(cut.id) returns them to their pre-images\n")
        }
    }
}
