/// A service action made concrete for one host: the command, the probe that says whether it is
/// needed at all (reloading a stopped postfix is no error, stopping a stopped one no change),
/// and the command that undoes it.
public struct ResolvedAction: Sendable, Codable, Equatable {
    public var service: String
    public var action: ServiceAction
    public var command: [String]
    /// When given and failing, the action is skipped.
    public var probe: [String]?
    public var inverse: [String]?

    public var display: String { shellWords(command) }
}

/// Which service manager is in charge of a host.
public enum InitSystem: String, Sendable, Codable {
    case systemd, sysv
    /// Solaris 10/11 Service Management Facility.
    case smf
    /// Solaris before SMF: /etc/rc2.d links.
    case solarisRC = "rc"
    /// AIX System Resource Controller, started from /etc/rc.tcpip.
    case src
    /// HP-UX /sbin/init.d scripts switched by /etc/rc.config.d files.
    case hpuxRC = "hpux-rc"
    case unknown
}

/// What the host said of one MTA's service: `nil` where it cannot tell.
public struct ServiceState: Sendable, Codable, Equatable {
    public var running: Bool?
    public var enabled: Bool?
    /// The name the service manager knows it by (unit, FMRI, subsystem).
    public var unit: String?

    public init(running: Bool?, enabled: Bool?, unit: String?) {
        self.running = running
        self.enabled = enabled
        self.unit = unit
    }
}

/// How each OS family stops, starts, disables, enables, reloads and restarts each MTA, with the
/// inverse of every command; and the file edits that keep a service from starting at boot where
/// the platform does that in a file (AIX /etc/rc.tcpip, HP-UX /etc/rc.config.d/mailservs).
/// The commands are each init system's; what is the MTA's own (a control program, an SRC
/// subsystem, an init script, a daemon's command line) comes from its `MTAEntry`.
public enum ServiceCatalog {
    /// What one abstract action becomes on a host.
    public struct Resolution: Sendable {
        public var commands: [ResolvedAction] = []
        /// Edits made through Augeas like any item's, so plan shows their diff and rollback
        /// restores them byte for byte.
        public var edits: [Target] = []
        /// Said in the finding when the platform cannot assure the action (a stop that a reboot
        /// undoes), rather than claiming it.
        public var caveat: String?
    }

    static func fmri(_ mta: String) -> String {
        MTACatalog.entry(mta)?.fmri ?? mta
    }

    /// The unit name on Linux: the one the host reported, else the catalog's first.
    static func unit(_ mta: String, facts: HostFacts) -> String {
        facts.services[mta]?.unit ?? MTACatalog.entry(mta)?.linuxUnits.first ?? mta
    }

    static func action(_ service: String, _ action: ServiceAction, _ command: [String], probe: [String]? = nil, inverse: [String]?) -> ResolvedAction {
        ResolvedAction(service: service, action: action, command: command, probe: probe, inverse: inverse)
    }

    /// The boot-file edits of every MTA that has one (the "not needed" branch reads them).
    static var bootEdits: [Target] {
        MTACatalog.all.compactMap(\.srcSubsystem?.bootEdit) + MTACatalog.all.compactMap(\.hpuxInitScript?.bootEdit)
    }

    /// `reload` and `restart` after a configuration change.
    public static func resolve(_ step: ServiceStep, facts: HostFacts) throws -> [ResolvedAction] {
        let mta = step.service
        let entry = MTACatalog.entry(mta)
        switch step.action {
        case .reload:
            // The MTA's own control program works the same under every init system.
            if let own = entry?.ownControl {
                return [action(mta, .reload, own.reload, probe: own.status, inverse: own.reload)]
            }
        case .restart:
            break
        default:
            return try resolve(step.action, mta: mta, facts: facts, forceKill: false).commands
        }
        let a = step.action
        switch facts.initSystem {
        case .systemd:
            let u = unit(mta, facts: facts)
            return [action(mta, a, ["systemctl", a.rawValue, u], probe: ["systemctl", "is-active", "--quiet", u], inverse: ["systemctl", a.rawValue, u])]
        case .sysv, .unknown:
            let u = unit(mta, facts: facts)
            return [action(mta, a, ["service", u, a.rawValue], probe: ["service", u, "status"], inverse: ["service", u, a.rawValue])]
        case .smf:
            let verb = a == .reload ? "refresh" : "restart"
            return [action(mta, a, ["svcadm", verb, fmri(mta)], inverse: ["svcadm", verb, fmri(mta)])]
        case .solarisRC:
            return [action(mta, a, ["/etc/init.d/\(mta)", "restart"], inverse: ["/etc/init.d/\(mta)", "restart"])]
        case .src:
            guard let s = entry?.srcSubsystem else { return try restartByStopStart(mta, facts: facts) }
            return [action(mta, a, ["refresh", "-s", s.name], probe: running(s), inverse: ["refresh", "-s", s.name])]
        case .hpuxRC:
            guard let s = entry?.hpuxInitScript else { return try restartByStopStart(mta, facts: facts) }
            return [
                action(mta, .stop, [s.script, "stop"], probe: running(s), inverse: [s.script, "start"]),
                action(mta, .start, [s.script, "start"], inverse: [s.script, "stop"]),
            ]
        }
    }

    private static func restartByStopStart(_ mta: String, facts: HostFacts) throws -> [ResolvedAction] {
        try resolve(.stop, mta: mta, facts: facts, forceKill: false).commands
            + resolve(.start, mta: mta, facts: facts, forceKill: false).commands
    }

    /// Succeeds while the subsystem runs.
    static func running(_ s: MTAEntry.SRCSubsystem) -> [String] {
        ["sh", "-c", "lssrc -s \(shellQuote(s.name)) | grep -w active"]
    }

    /// Succeeds while the script's daemon runs.
    static func running(_ s: MTAEntry.HPUXInitScript) -> [String] {
        ["sh", "-c", "ps -e | grep -w \(shellQuote(s.process))"]
    }

    /// Several actions for one MTA (the "service not needed" branch: stop, disable), merged: a
    /// command two actions share is said once (SMF's `svcadm disable` both stops and disables).
    public static func resolve(_ actions: [ServiceAction], mta: String, facts: HostFacts, forceKill: Bool) throws -> Resolution {
        var r = Resolution()
        for a in actions {
            let one = try resolve(a, mta: mta, facts: facts, forceKill: forceKill)
            for c in one.commands where !r.commands.contains(c) { r.commands.append(c) }
            r.edits += one.edits
            r.caveat = r.caveat ?? one.caveat
        }
        return r
    }

    /// One abstract action for one MTA, as the host's service manager does it.
    public static func resolve(_ a: ServiceAction, mta: String, facts: HostFacts, forceKill: Bool) throws -> Resolution {
        var r = Resolution()
        if a == .upgrade || a == .regenerate {
            throw MTAGuardError("'\(a.rawValue)' is not a service step: mtaguard \(a == .upgrade ? "upgrades a package under --allow-upgrade" : "regenerates a configuration when a kind edits its sources")")
        }
        switch facts.initSystem {
        case .systemd:
            let u = unit(mta, facts: facts)
            let inverse: ServiceAction = switch a {
            case .stop: .start
            case .start: .stop
            case .disable: .enable
            case .enable: .disable
            case .reload, .restart, .upgrade, .regenerate: a
            }
            let probe: [String]? = switch a {
            case .stop: ["systemctl", "is-active", "--quiet", u]
            case .disable: ["systemctl", "is-enabled", "--quiet", u]
            default: nil
            }
            r.commands = [action(mta, a, ["systemctl", a.rawValue, u], probe: probe, inverse: ["systemctl", inverse.rawValue, u])]
        case .sysv, .unknown:
            let u = unit(mta, facts: facts)
            switch a {
            case .stop, .start:
                let other = a == .stop ? "start" : "stop"
                r.commands = [action(mta, a, ["service", u, a.rawValue], probe: a == .stop ? ["service", u, "status"] : nil, inverse: ["service", u, other])]
            case .disable, .enable:
                let on = a == .enable
                if facts.tools.contains("chkconfig") {
                    r.commands = [action(mta, a, ["chkconfig", u, on ? "on" : "off"], inverse: ["chkconfig", u, on ? "off" : "on"])]
                } else {
                    r.commands = [action(mta, a, ["update-rc.d", u, a.rawValue], inverse: ["update-rc.d", u, on ? "disable" : "enable"])]
                }
            case .reload, .restart, .upgrade, .regenerate:
                r.commands = try resolve(ServiceStep(service: mta, action: a), facts: facts)
            }
        case .smf:
            let f = fmri(mta)
            switch a {
            case .stop, .disable:
                // `svcadm disable` stops the service and keeps it stopped across reboots.
                r.commands = [action(mta, .disable, ["svcadm", "disable", f], probe: ["sh", "-c", "svcs -H -o state \(shellQuote(f)) | grep -v disabled"], inverse: ["svcadm", "enable", f])]
            case .start, .enable:
                r.commands = [action(mta, .enable, ["svcadm", "enable", f], inverse: ["svcadm", "disable", f])]
            case .reload, .restart, .upgrade, .regenerate:
                r.commands = try resolve(ServiceStep(service: mta, action: a), facts: facts)
            }
        case .solarisRC:
            let link = "/etc/rc2.d/S88\(mta)", off = "/etc/rc2.d/_S88\(mta)"
            switch a {
            case .stop: r.commands = [action(mta, a, ["/etc/init.d/\(mta)", "stop"], inverse: ["/etc/init.d/\(mta)", "start"])]
            case .start: r.commands = [action(mta, a, ["/etc/init.d/\(mta)", "start"], inverse: ["/etc/init.d/\(mta)", "stop"])]
            case .disable: r.commands = [action(mta, a, ["mv", link, off], probe: ["test", "-f", link], inverse: ["mv", off, link])]
            case .enable: r.commands = [action(mta, a, ["mv", off, link], probe: ["test", "-f", off], inverse: ["mv", link, off])]
            case .reload, .restart, .upgrade, .regenerate: r.commands = try resolve(ServiceStep(service: mta, action: a), facts: facts)
            }
        case .src:
            if let s = MTACatalog.entry(mta)?.srcSubsystem {
                try src(a, mta: mta, s, facts: facts, into: &r)
            } else {
                try unmanaged(a, mta: mta, facts: facts, forceKill: forceKill, into: &r)
            }
        case .hpuxRC:
            if let s = MTACatalog.entry(mta)?.hpuxInitScript {
                try hpuxInit(a, mta: mta, s, facts: facts, into: &r)
            } else {
                try unmanaged(a, mta: mta, facts: facts, forceKill: forceKill, into: &r)
            }
        }
        return r
    }

    /// An MTA that AIX runs as an SRC subsystem (sendmail): the SRC's commands, and its
    /// rc.tcpip line for boot.
    private static func src(_ a: ServiceAction, mta: String, _ s: MTAEntry.SRCSubsystem, facts: HostFacts, into r: inout Resolution) throws {
        let start = ["startsrc", "-s", s.name, "-a", s.arguments], stop = ["stopsrc", "-s", s.name]
        switch a {
        case .stop: r.commands = [action(mta, .stop, stop, probe: running(s), inverse: start)]
        case .start: r.commands = [action(mta, .start, start, inverse: stop)]
        case .disable: r.edits = [s.bootEdit]
        case .enable: throw rollbackEnables(mta, on: "AIX")
        case .reload, .restart, .upgrade, .regenerate: r.commands = try resolve(ServiceStep(service: mta, action: a), facts: facts)
        }
    }

    /// An MTA that HP-UX starts by an init script (sendmail): the script, and its rc.config.d
    /// setting for boot.
    private static func hpuxInit(_ a: ServiceAction, mta: String, _ s: MTAEntry.HPUXInitScript, facts: HostFacts, into r: inout Resolution) throws {
        switch a {
        case .stop: r.commands = [action(mta, .stop, [s.script, "stop"], probe: running(s), inverse: [s.script, "start"])]
        case .start: r.commands = [action(mta, .start, [s.script, "start"], inverse: [s.script, "stop"])]
        case .disable: r.edits = [s.bootEdit]
        case .enable: throw rollbackEnables(mta, on: "HP-UX")
        case .reload, .restart, .upgrade, .regenerate: r.commands = try resolve(ServiceStep(service: mta, action: a), facts: facts)
        }
    }

    private static func rollbackEnables(_ mta: String, on platform: String) -> MTAGuardError {
        MTAGuardError("enabling \(mta) at boot on \(platform) is done by rolling back the run that disabled it")
    }

    /// An MTA that AIX or HP-UX does not manage (postfix, exim), where the guide only says
    /// `kill -9 PID`: stop it gracefully, with its control program or a signal to its daemon's
    /// process id; a KILL only when asked (`--force-kill`); and say that a reboot may start it
    /// again, since neither platform has a switch mtaguard can turn for it.
    private static func unmanaged(_ a: ServiceAction, mta: String, facts: HostFacts, forceKill: Bool, into r: inout Resolution) throws {
        let entry = MTACatalog.entry(mta)
        switch (a, entry?.ownControl, entry?.daemon) {
        case (.stop, let own?, _):
            let stop = forceKill ? ["sh", "-c", "\(shellWords(own.stop)) || pkill -KILL -x \(shellQuote(own.process))"] : own.stop
            r.commands = [action(mta, .stop, stop, probe: own.status, inverse: own.start)]
        case (.start, let own?, _):
            r.commands = [action(mta, .start, own.start, inverse: own.stop)]
        case (.stop, nil, let daemon?):
            let signal = forceKill ? "KILL" : "TERM"
            let files = daemon.pidFiles.map(shellQuote).joined(separator: " ")
            let script = "for f in \(files); do if [ -f \"$f\" ]; then kill -\(signal) \"$(cat \"$f\")\"; exit $?; fi; done; exit 1"
            r.commands = [action(mta, .stop, ["sh", "-c", script], inverse: daemon.start)]
        case (.start, nil, let daemon?):
            r.commands = [action(mta, .start, daemon.start, inverse: nil)]
        case (.disable, _, _), (.enable, _, _):
            r.caveat = "\(mta) on \(facts.family.rawValue) has no switch mtaguard can turn: a reboot may start it again; remove it from the boot scripts (/etc/inittab, /etc/rc.*) by hand"
        case (.reload, _, _), (.restart, _, _):
            r.commands = try resolve(ServiceStep(service: mta, action: a), facts: facts)
        default:
            throw MTAGuardError("no \(a.rawValue) of \(mta) on \(facts.family.rawValue)")
        }
    }
}

// MARK: Package upgrades

extension ServiceCatalog {
    /// The upgrade of `package` with the host's package tool, and its inverse: reinstalling
    /// the installed version. Nil where the host has no tool mtaguard knows for that package
    /// format. The inverse works only while that version can still be fetched (a repository
    /// or the tool's cache keeps it); where not, the rollback step fails and says so.
    public static func upgrade(_ mta: String, package p: PackageInfo, facts: HostFacts) -> ResolvedAction? {
        let tools = facts.tools
        let (command, inverse): ([String], [String])
        switch VersionJudge.packageLabel(p.tool) {
        case "debian":
            let apt = ["env", "DEBIAN_FRONTEND=noninteractive", "apt-get", "-y", "-o", "Dpkg::Options::=--force-confold"]
            command = apt + ["install", "--only-upgrade", p.name]
            inverse = apt + ["install", "--allow-downgrades", "\(p.name)=\(p.installed)"]
        case "rpm":
            // rpm prints EPOCH:VERSION-RELEASE; the tools take NAME-VERSION-RELEASE.
            let bare = p.installed.hasPrefix("0:") ? String(p.installed.dropFirst(2)) : p.installed
            // The tool that offered the newer package upgrades it; else the first the host has.
            let managers = ["dnf", "yum", "zypper"]
            let manager = p.update.tool.flatMap { managers.contains($0) ? $0 : nil } ?? managers.first { tools.contains($0) }
            switch manager {
            case "dnf":
                command = ["dnf", "-y", "upgrade", p.name]
                inverse = ["dnf", "-y", "downgrade", "\(p.name)-\(bare)"]
            case "zypper":
                command = ["zypper", "--non-interactive", "update", p.name]
                inverse = ["zypper", "--non-interactive", "install", "--oldpackage", "\(p.name)-\(bare)"]
            case "yum":
                command = ["yum", "-y", "update", p.name]
                inverse = ["yum", "-y", "downgrade", "\(p.name)-\(bare)"]
            default:
                return nil
            }
        case "pkg" where facts.family == .solaris:
            command = ["pkg", "update", p.name]
            inverse = ["pkg", "update", "\(p.name)@\(p.installed)"]
        default:
            return nil
        }
        return ResolvedAction(service: mta, action: .upgrade, command: command, probe: nil, inverse: inverse)
    }
}
