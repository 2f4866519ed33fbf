import ArgumentParser
import Foundation
import MTAGuard

@main
struct MTAGuardCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "mtaguard",
        abstract: "Audit and fix mail-service hardening items (SRV-005 …) with Augeas, with dry-run, journal and rollback.",
        discussion: """
            Exit codes:
              check     0 every item passes, 2 a finding (취약), 1 an error
              plan      0 nothing to do, 2 changes pending, 1 an error
              apply     0 done or nothing to do, 1 failed with nothing changed, 3 partly done
              rollback  0 done, 1 failed with nothing changed, 3 partly done
            """,
        subcommands: [Check.self, Plan.self, Apply.self, Rollback.self, Runs.self, Playbooks.self])
}

/// Options every command that looks at hosts shares.
struct CommonOptions: ParsableArguments {
    @Option(name: .long, help: "Act on an offline root (image, chroot, container file system) instead of this host; no commands run.")
    var root: String?

    @Option(name: .long, help: "An item id or alias (SRV-005, U-48, U-70); repeat for several. Default: every playbook.")
    var item: [String] = []

    @Option(name: .long, help: "Folder of playbooks.")
    var playbooks: String = "playbooks"

    @Option(name: .long, help: "Folder of run journals and backups (default ./backups, or $MTAGUARD_BACKUPS).")
    var backups: String?

    var session: Session {
        Session(playbooksFolder: playbooks, backupsFolder: backups, items: item, root: root)
    }
}

enum OutputFormat: String, ExpressibleByArgument, CaseIterable {
    case text, json
}

/// Prints an error the way every command does and picks the exit code.
func fail(_ error: any Error) -> ExitCode {
    FileHandle.standardError.write(Data("mtaguard: error: \(error)\n".utf8))
    return ExitCode(1)
}

func printOut(_ text: String) {
    FileHandle.standardOutput.write(Data(text.utf8))
}
