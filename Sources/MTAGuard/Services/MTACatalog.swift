/// The one place that knows each MTA by name: what the service managers call it, its own
/// commands where it has some (postfix's `postfix reload`, exim's daemon), and which packages
/// hold it per package tool. The facts and version probes are generated from it, and the
/// service catalog, which knows each init system's commands, fills them in from it; adding an
/// MTA, a unit name or a package is one edit here.
struct MTAEntry: Sendable {
    let name: String
    /// systemd units and SysV scripts it runs as on Linux, in the order asked.
    let linuxUnits: [String]
    /// Its SMF service on Solaris 10/11 (an FMRI or the abbreviation svcs takes).
    let fmri: String
    /// Its init script and boot link name on Solaris before SMF, when it has one there.
    let solarisRC: Bool
    /// Commands that print its version (the first that answers wins), where it has its own.
    let versionCommands: [String]
    /// Packages holding it: Debian's, RPM's, Solaris 11 IPS.
    let dpkg: [String]
    let rpm: [String]
    let ips: [String]
    /// Where each OS family keeps its binary, besides PATH (sendmail: Linux, AIX and HP-UX
    /// /usr/sbin, Solaris /usr/lib and, on 11, /usr/lib/smtp/sendmail).
    var binaryPaths: [String] = []
    /// Its own control program, which works the same under every init system.
    var ownControl: ControlProgram? = nil
    /// How its daemon runs where neither a service manager nor a control program starts it.
    var daemon: Daemon? = nil
    /// Its AIX System Resource Controller subsystem, where AIX ships it as one.
    var srcSubsystem: SRCSubsystem? = nil
    /// Its HP-UX /sbin/init.d script, where HP-UX ships one.
    var hpuxInitScript: HPUXInitScript? = nil

    /// An MTA's control program (postfix's `postfix`): its reload everywhere, and its stop and
    /// start where no service manager knows the MTA (AIX, HP-UX).
    struct ControlProgram: Sendable {
        let reload: [String]
        /// Succeeds while the MTA runs: the probe of a reload or a stop.
        let status: [String]
        let stop: [String]
        let start: [String]
        /// The process a forced stop (`--force-kill`) kills when the graceful one fails.
        let process: String
    }

    /// A daemon started by hand (exim's `exim -bd -q30m`) and stopped by a signal to the
    /// process id it wrote.
    struct Daemon: Sendable {
        let start: [String]
        /// Where it writes its process id; a stop signals the first that is there.
        let pidFiles: [String]
    }

    /// An AIX SRC subsystem (`startsrc -s NAME -a ARGUMENTS`), started at boot by a line of
    /// /etc/rc.tcpip.
    struct SRCSubsystem: Sendable {
        let name: String
        /// The daemon's arguments, passed by `startsrc -a`.
        let arguments: String
        /// The rc.tcpip line that starts it at boot, which `--mode disable` comments out.
        let bootEdit: Target
    }

    /// An HP-UX init script (`SCRIPT stop`, `SCRIPT start`), switched at boot by a setting
    /// in /etc/rc.config.d.
    struct HPUXInitScript: Sendable {
        let script: String
        /// The process `ps -e` lists while it runs.
        let process: String
        /// The setting that starts it at boot, which `--mode disable` turns off.
        let bootEdit: Target
    }
}

enum MTACatalog {
    static let all: [MTAEntry] = [
        MTAEntry(
            name: "sendmail", linuxUnits: ["sendmail"], fmri: "svc:/network/smtp:sendmail", solarisRC: true,
            versionCommands: [], dpkg: ["sendmail-bin"], rpm: ["sendmail"], ips: ["service/network/smtp/sendmail"],
            binaryPaths: ["/usr/sbin/sendmail", "/usr/lib/sendmail", "/usr/lib/smtp/sendmail/sendmail"],
            srcSubsystem: .init(name: "sendmail", arguments: "-bd -q30m", bootEdit: sendmailRcTcpip),
            hpuxInitScript: .init(script: "/sbin/init.d/sendmail", process: "sendmail", bootEdit: sendmailMailservs)),
        MTAEntry(
            name: "postfix", linuxUnits: ["postfix"], fmri: "postfix", solarisRC: true,
            versionCommands: ["postconf"], dpkg: ["postfix"], rpm: ["postfix"], ips: ["service/network/smtp/postfix"],
            ownControl: .init(
                reload: ["postfix", "reload"], status: ["postfix", "status"], stop: ["postfix", "stop"], start: ["postfix", "start"],
                process: "master")),
        MTAEntry(
            name: "exim", linuxUnits: ["exim4", "exim"], fmri: "exim", solarisRC: false,
            versionCommands: ["exim4", "exim"], dpkg: ["exim4-daemon-light", "exim4-daemon-heavy"], rpm: ["exim"], ips: [],
            daemon: .init(start: ["exim", "-bd", "-q30m"], pidFiles: ["/var/run/exim.pid", "/var/spool/exim/exim-daemon.pid"])),
    ]

    /// AIX: `#start /usr/lib/sendmail "$src_running" "-bd -q${qpi}"`, through the project's lens.
    static let sendmailRcTcpip = Target(
        mta: "sendmail", file: "/etc/rc.tcpip", lens: "Rc_Tcpip.lns", advisory: false,
        check: Check(node: "start[. = '/usr/lib/sendmail']", valuePath: nil, items: nil, separators: nil, pick: .last,
                     equals: [], require: [], orAny: [], defaultValue: nil, unparsed: nil, absent: true),
        fix: Fix(operation: .rename("#start"), initial: [], create: Creation(label: "#start", value: nil, after: nil, before: nil)),
        validateBeforeReplace: nil, validateAfterReplace: nil, after: nil)

    /// HP-UX: `SENDMAIL_SERVER=0` in /etc/rc.config.d/mailservs, through the stock Shellvars lens.
    static let sendmailMailservs = Target(
        mta: "sendmail", file: "/etc/rc.config.d/mailservs", lens: "Shellvars.lns", advisory: false,
        check: Check(node: "SENDMAIL_SERVER", valuePath: nil, items: nil, separators: nil, pick: .last,
                     equals: ["0", "\"0\""], require: [], orAny: [], defaultValue: nil, unparsed: nil, absent: false),
        fix: Fix(operation: .set("0"), initial: [], create: Creation(label: "SENDMAIL_SERVER", value: nil, after: nil, before: nil)),
        validateBeforeReplace: nil, validateAfterReplace: nil, after: nil)

    static var names: [String] { all.map(\.name) }

    static func entry(_ name: String) -> MTAEntry? { all.first { $0.name == name } }

    /// Every Linux unit name, in catalog order.
    static var linuxUnits: [String] { all.flatMap(\.linuxUnits) }

    /// `case $VAR in` arms mapping each of `names(entry)` to its MTA (`m=NAME`), as shell code.
    static func caseArms(_ names: (MTAEntry) -> [String]) -> ShellCode {
        var arms: ShellCode = ""
        for entry in all {
            for n in names(entry) { arms += "\(n)) m=\(entry.name);; " }
        }
        return arms
    }

    /// `PACKAGE:MTA` words for one package tool.
    static func packageWords(_ packages: (MTAEntry) -> [String]) -> [String] {
        all.flatMap { e in packages(e).map { "\($0):\(e.name)" } }
    }
}
