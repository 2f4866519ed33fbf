import ArgumentParser
import MTAGuard

struct Rollback: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Restore the files of a run byte for byte and undo its service actions.")

    @Argument(help: "The run to undo (see mtaguard runs).") var runID: String
    @Option(help: "Folder of run journals and backups (default ./backups, or $MTAGUARD_BACKUPS).") var backups: String?
    @Flag(help: "Restore files even if they changed since the run.") var force = false
    @OptionGroup var fleet: FleetOptions
    @Option(help: "text or json.") var format: OutputFormat = .text

    func run() async throws {
        let result: RunResult
        do {
            let session = Session(
                backupsFolder: backups, inventories: fleet.inventory, limit: fleet.limit, forks: fleet.forks,
                ssh: fleet.ssh, become: fleet.become)
            result = try await session.rollback(runID, force: force)
        } catch { throw fail(error) }
        printOut(format == .json ? JSONReport.run(result) : TextReport.run(result, verb: "rollback"))
        if result.exitCode != 0 { throw ExitCode(result.exitCode) }
    }
}
