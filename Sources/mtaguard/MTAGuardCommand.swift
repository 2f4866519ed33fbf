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
              check     0 every item passes, 2 a finding (취약) or an item to review (수동 확인), 1 an error, 3 some hosts unreachable
              plan      0 nothing to do, 2 changes pending, 1 an error, 3 some hosts unreachable
              apply     0 done or nothing to do, 1 failed with nothing changed, 3 partly done
              rollback  0 done, 1 failed with nothing changed, 3 partly done
              any       64 a usage error (an unknown or missing option, options that exclude each other)
            """,
        subcommands: [Check.self, Plan.self, Apply.self, Rollback.self, Runs.self, Items.self, Playbooks.self, KB.self])
}

/// How to reach a fleet: inventories, host selection, SSH.
struct FleetOptions: ParsableArguments {
    @Option(name: [.customShort("i"), .long], help: "Ansible inventory (INI or YAML); repeat for several. None: the local host.")
    var inventory: [String] = []

    @Option(name: [.customShort("l"), .long], help: "Hosts, groups or globs; ':' or ',' for union, '!' to exclude, '&' to intersect.")
    var limit: String?

    @Option(help: "How many hosts at once (lowered where the open-file limit or the memory cannot carry that many).")
    var forks: Int = 50

    @Flag(help: "Use sudo on every host (the inventory's ansible_become does so per host).")
    var become = false

    @Option(name: .customLong("ssh-config"), help: "ssh -F FILE instead of ~/.ssh/config.")
    var sshConfig: String?

    @Option(name: .customLong("ssh-option"), help: "An extra ssh -o option, e.g. UserKnownHostsFile=FILE; repeatable.")
    var sshOption: [String] = []

    @Option(name: .customLong("connect-timeout"), help: "Seconds to wait for an SSH connection.")
    var connectTimeout: Int = 10

    @Option(name: .customLong("command-timeout"), help: "Seconds one remote execution may take.")
    var commandTimeout: Int = 300

    @Flag(name: .customLong("break-stale-lock"), help: "Break a host lock whose process is gone (a run that was killed).")
    var breakStaleLock = false

    @Option(name: .customLong("host-runs-kept"), help: "Runs each SSH host keeps a copy of (manifest and pre-images, owner-only, in /var/lib/mtaguard/runs), so that any control node can roll them back; the oldest beyond this are removed; 0 keeps none.")
    var hostRunsKept: Int = HostJournal.defaultKeep

    /// Options that make no sense together are refused before anything runs, with the usage
    /// text and exit code 64, as swift-argument-parser does for every other usage error.
    func validate() throws {
        guard forks >= 1 else { throw ValidationError("--forks must be at least 1") }
        guard hostRunsKept >= 0 else { throw ValidationError("--host-runs-kept must be 0 or more") }
        guard connectTimeout >= 1, commandTimeout >= 1 else {
            throw ValidationError("--connect-timeout and --command-timeout must be at least 1 second")
        }
    }

    var ssh: SSHTransport.Options {
        var o = SSHTransport.Options()
        o.configFile = sshConfig
        o.extraOptions = sshOption
        o.connectTimeout = connectTimeout
        o.commandTimeout = commandTimeout
        o.breakStaleLock = breakStaleLock
        o.hostRunsKept = hostRunsKept
        return o
    }
}

/// Options every command that looks at hosts shares.
struct CommonOptions: ParsableArguments {
    @OptionGroup var fleet: FleetOptions

    @Option(name: .long, help: "Act on an offline root (image, chroot, container file system) instead of this host; no commands run.")
    var root: String?

    @Option(name: .long, help: "An item id or alias (SRV-005, U-48, U-70); repeat for several. Default: every playbook.")
    var item: [String] = []

    @OptionGroup var source: PlaybooksOption

    @Option(help: "harden: keep the MTA and restrict it; disable: the mail service is not needed, stop it and keep it off. Default: each host's mtaguard_mode, else harden.")
    var mode: Mode?

    @Option(name: .customLong("smtp-port"), help: "Also connect to each live host's SMTP port and try what the items say must be refused: VRFY, EXPN, relaying (MAIL FROM and RCPT TO, then RSET; no mail is sent).")
    var smtpPort: UInt16?

    @Option(name: .customLong("smtp-host"), help: "With --smtp-port: connect to this address instead of each host's own (a service address of one host).")
    var smtpHost: String?

    @Option(name: .customLong("smtp-deadline"), help: "With --smtp-port: seconds one SMTP session may take in all, whatever the server does; past it the wire part of that host is 오류 and the other hosts go on.")
    var smtpDeadline: Double = SMTPProbe.defaultDeadline

    @Option(name: .customLong("greylist-attempts"), help: "With --smtp-port: relay attempts in all while the server defers them (4xx to RCPT TO, as greylisting does); still deferred after them: 수동 확인.")
    var greylistAttempts: Int = GreylistRetry.standard.attempts

    @Option(name: .customLong("greylist-delay"), help: "Seconds to wait before asking a deferred relay attempt again when the reply names no delay.")
    var greylistDelay: Double = GreylistRetry.standard.defaultDelay

    @Option(name: .customLong("greylist-deadline"), help: "Seconds after the first relay attempt past which it is not asked again.")
    var greylistDeadline: Double = GreylistRetry.standard.deadline

    @Option(help: "Another version knowledge base for U-45 (e.g. a newer one); default: kb/mail-versions.yaml in the playbooks folder.")
    var kb: String?

    @Flag(name: .customLong("force-kill"), help: "Where no graceful stop exists (exim on AIX/HP-UX), stop with SIGKILL rather than SIGTERM.")
    var forceKill = false

    @Flag(name: .customLong("allow-upgrade"), help: "Where a version item fails on a packaged MTA and the package tool has a newer one, upgrade that package (apt, dnf, yum, zypper, Solaris pkg); journaled, and rollback reinstalls the previous version where the tool still can.")
    var allowUpgrade = false

    @Option(name: .long, help: "Folder of run journals and backups (default ./backups, or $MTAGUARD_BACKUPS).")
    var backups: String?

    @Option(help: "Approved exceptions (예외): a YAML list of {host, item, reason, approved_by, until: YYYY-MM-DD}; a 취약 finding one covers is reported as 예외 and apply leaves its item alone; an expired one is a warning.")
    var exceptions: String?

    func validate() throws {
        // (rollback takes --limit alone: its hosts come from the run's journal.)
        if fleet.limit != nil && fleet.inventory.isEmpty {
            throw ValidationError("--limit selects hosts of an inventory: pass -i INVENTORY")
        }
        if smtpHost != nil && smtpPort == nil { throw ValidationError("--smtp-host says where the SMTP probe connects: pass --smtp-port too") }
        if smtpHost != nil && !fleet.inventory.isEmpty {
            throw ValidationError("--smtp-host gives one address for every host: with -i, set each host's probe address in the inventory as mtaguard_smtp_host")
        }
        if let smtpHost, SMTPProbeAddress(smtpHost) == nil {
            throw ValidationError("--smtp-host \(smtpHost.debugDescription) is neither an IP address nor a host name")
        }
        guard smtpDeadline > 0, smtpDeadline.isFinite else { throw ValidationError("--smtp-deadline must be more than 0 seconds") }
        guard greylistAttempts >= 1 else { throw ValidationError("--greylist-attempts must be at least 1 (the first attempt)") }
        guard greylistDelay > 0, greylistDelay.isFinite, greylistDeadline >= 0, greylistDeadline.isFinite else {
            throw ValidationError("--greylist-delay must be more than 0 seconds and --greylist-deadline 0 or more")
        }
        guard root != nil else { return }
        if !fleet.inventory.isEmpty {
            throw ValidationError("--root and -i exclude each other: --root acts on an offline image, -i on hosts over SSH")
        }
        if smtpPort != nil { throw ValidationError("--smtp-port needs a live host: an offline --root image runs no MTA to ask") }
        if allowUpgrade { throw ValidationError("--allow-upgrade needs a live host: no package tool runs in an offline --root image") }
        if fleet.become { throw ValidationError("--become is for hosts reached over SSH; --root reads and writes files only") }
    }

    var session: Session {
        var s = Session(
            playbooksFolder: source.folder, backupsFolder: backups, items: item, root: root,
            inventories: fleet.inventory, limit: fleet.limit, forks: fleet.forks, ssh: fleet.ssh, become: fleet.become)
        s.mode = mode
        s.forceKill = forceKill
        s.allowUpgrade = allowUpgrade
        s.knowledgeFile = kb
        s.smtpPort = smtpPort
        s.smtpHost = smtpHost
        s.greylist = GreylistRetry(attempts: greylistAttempts, defaultDelay: greylistDelay, deadline: greylistDeadline)
        s.smtpDeadline = smtpDeadline
        s.exceptionsFile = exceptions
        s.progress = ProgressLine.shared.update
        s.stopRequested = Interrupt.shared.requested
        return s
    }
}

extension Mode: ExpressibleByArgument {}

enum OutputFormat: String, ExpressibleByArgument, CaseIterable {
    case text, json
}

/// `check`'s formats: the auditor's CSV and HTML besides text and JSON.
enum ReportFormat: String, ExpressibleByArgument, CaseIterable {
    case text, json, csv, html, xlsx, pdf

    /// A binary format is not printed to a terminal: it needs stdout redirected or `--output`.
    var isBinary: Bool { self == .xlsx || self == .pdf }

    /// Its file in `--output`: report.txt, report.json, …
    var fileName: String { "report.\(self == .text ? "txt" : rawValue)" }
}

extension ReportLanguage: ExpressibleByArgument {}

/// Prints an error the way every command does and picks the exit code.
func fail(_ error: any Error) -> ExitCode {
    FileHandle.standardError.write(Data("mtaguard: error: \(error)\n".utf8))
    return ExitCode(1)
}

func printOut(_ text: String) {
    FileHandle.standardOutput.write(Data(text.utf8))
}

/// A live progress line on stderr when it is a terminal; nothing otherwise.
final class ProgressLine: Sendable {
    static let shared = ProgressLine()
    let enabled = isatty(2) != 0

    @Sendable func update(_ p: MTAGuard.Progress) {
        guard enabled, p.total > 1 else { return }
        var line = "\r[\(p.done)/\(p.total)] changed \(p.changed)  failed \(p.failed)  unreachable \(p.unreachable)"
        if p.done == p.total { line += "\n" }
        FileHandle.standardError.write(Data(line.utf8))
    }
}

/// Ctrl-C: no new host starts; hosts in flight finish or roll back; a second Ctrl-C is final.
final class Interrupt: @unchecked Sendable {
    static let shared = Interrupt()
    private let lock = NSLock()
    private var count = 0
    private var source: DispatchSourceSignal?

    func install() {
        signal(SIGINT, SIG_IGN)
        let s = DispatchSource.makeSignalSource(signal: SIGINT, queue: .global())
        s.setEventHandler { [self] in
            let n = lock.withLock { count += 1; return count }
            if n == 1 {
                FileHandle.standardError.write(Data("\nmtaguard: interrupted: no new host starts; hosts in flight finish or roll back (Ctrl-C again to stop now)\n".utf8))
            } else {
                exit(130)
            }
        }
        s.resume()
        source = s
    }

    @Sendable func requested() -> Bool { lock.withLock { count > 0 } }
}
