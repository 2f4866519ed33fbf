import Foundation

/// Recording stand-ins for the service commands of the OS families this machine is not:
/// each logs its command line to the host's commands.log and keeps the service's state
/// (running / enabled) in files under HOSTDIR/state, so probes answer what a real host would.
enum Shims {
    /// `solarisRC`: Solaris before SMF (8, 9), /etc/init.d scripts and rc2.d links.
    enum Family: String { case systemd, sysv, solaris, solarisRC, aix, hpux }

    /// Puts `lines` at the start of host `name`'s shim `tool`, ahead of what it records and does
    /// (a fault a test injects at one command: a kill, a disk that fills).
    static func prepend(_ lab: SSHLab, _ name: String, _ tool: String, _ lines: String) throws {
        let path = lab.host(name).shims + "/" + tool
        let real = try String(contentsOfFile: path, encoding: .utf8)
        try real.replacingOccurrences(of: "#!/bin/sh\n", with: "#!/bin/sh\n" + lines + "\n").write(toFile: path, atomically: true, encoding: .utf8)
        chmod(path, 0o755)
    }

    static func install(_ lab: SSHLab, _ name: String, family: Family, running: Bool = true, enabled: Bool = true) throws {
        let host = lab.host(name)
        let state = host.directory + "/state"
        try FileManager.default.createDirectory(atPath: state, withIntermediateDirectories: true)
        if running { _ = FileManager.default.createFile(atPath: state + "/running", contents: nil) }
        if enabled { _ = FileManager.default.createFile(atPath: state + "/enabled", contents: nil) }
        let log = host.commandsLog
        func shim(_ path: String, _ body: String) throws {
            let full = path.hasPrefix("/") ? path : host.shims + "/" + path
            try FileManager.default.createDirectory(
                atPath: (full as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
            let script = "#!/bin/sh\nS=\(state)\necho \"$0 $*\" >> \(log)\n\(body)\n"
            try Data(script.utf8).write(to: URL(fileURLWithPath: full))
            chmod(full, 0o755)
        }
        let on = "touch $S/running", off = "rm -f $S/running", en = "touch $S/enabled", dis = "rm -f $S/enabled"
        // sendmail's configuration check accepts everything here (this machine's sendmail is postfix's).
        try shim("sendmail", "exit 0")
        // This machine's own postfix boot script is not the fake host's: hide it (overlay whiteout).
        let initd = host.directory + "/overlay/etc/init.d"
        try FileManager.default.createDirectory(atPath: initd, withIntermediateDirectories: true)
        _ = try runCommand(["mknod", initd + "/postfix", "c", "0", "0"])
        switch family {
        case .systemd:
            try FileManager.default.createDirectory(atPath: host.directory + "/run/systemd/system", withIntermediateDirectories: true)
            try shim("systemctl", """
                case "$1" in
                cat) [ "$2" = sendmail.service ];;
                is-active) [ -f $S/running ] || exit 3;;
                is-enabled) if [ -f $S/enabled ]; then echo enabled; else echo disabled; exit 1; fi;;
                stop) \(off);; start) \(on);; disable) \(dis);; enable) \(en);; restart|reload) \(on);;
                esac
                """)
        case .sysv:
            try shim(host.directory + "/overlay/etc/init.d/sendmail", "[ \"$1\" = status ] && { [ -f $S/running ] && exit 0; exit 3; }; exit 0")
            try shim("service", """
                case "$2" in status) [ -f $S/running ];; stop) \(off);; start|restart) \(on);; esac
                """)
            // Started at boot is what the rc links say, as on a real host: update-rc.d turns
            // S01sendmail into K01sendmail and back.
            try bootLinks(host, "S01sendmail", "K01sendmail", folders: ["rc2.d", "rc3.d", "rc5.d"], enabled: enabled)
            try shim("update-rc.d", """
                case "$2" in
                disable) \(dis); for d in /etc/rc2.d /etc/rc3.d /etc/rc5.d; do mv $d/S01sendmail $d/K01sendmail; done;;
                enable) \(en); for d in /etc/rc2.d /etc/rc3.d /etc/rc5.d; do mv $d/K01sendmail $d/S01sendmail; done;;
                esac
                """)
        case .solarisRC:
            try shim("uname", "case \"$1\" in -s) echo SunOS;; -r) echo 5.8;; *) echo SunOS;; esac")
            try shim(host.directory + "/overlay/etc/init.d/sendmail", "case \"$1\" in stop) \(off);; start) \(on);; esac")
            try bootLinks(host, "S88sendmail", "_S88sendmail", folders: ["rc2.d"], enabled: enabled)
            try shim("ps", "[ -f $S/running ] && echo ' 1234 ?  0:00 sendmail'; exit 0")
        case .solaris:
            try shim("uname", "case \"$1\" in -s) echo SunOS;; -r) echo 5.11;; *) echo SunOS;; esac")
            try shim("svcs", """
                for a; do f=$a; done
                [ "$f" = svc:/network/smtp:sendmail ] || { echo "svcs: Pattern '$f' doesn't match any instances" >&2; exit 1; }
                [ -f $S/enabled ] && { [ -f $S/running ] && echo online || echo offline; } || echo disabled
                """)
            try shim("svcadm", "case \"$1\" in disable) \(off); \(dis);; enable) \(on); \(en);; restart|refresh) \(on);; esac")
        case .aix:
            try shim("uname", "case \"$1\" in -s) echo AIX;; -r) echo 2;; *) echo AIX;; esac")
            try shim("lssrc", """
                echo "Subsystem         Group            PID          Status"
                [ -f $S/running ] && echo " sendmail         mail             4128         active" || echo " sendmail         mail                          inoperative"
                """)
            try shim("stopsrc", off)
            try shim("startsrc", on)
            try shim("refresh", "exit 0")
        case .hpux:
            try shim("uname", "case \"$1\" in -s) echo HP-UX;; -r) echo B.11.31;; *) echo HP-UX;; esac")
            try shim(host.directory + "/overlay/usr/sbin/init.d/sendmail", "case \"$1\" in stop) \(off);; start) \(on);; esac")
            try shim("ps", "[ -f $S/running ] && echo ' 1234 ?  0:00 sendmail'; exit 0")
        }
    }

    /// `on` (or `off`) in each rc folder of the host's /etc, as the boot links say.
    static func bootLinks(_ host: LabHost, _ on: String, _ off: String, folders: [String], enabled: Bool) throws {
        for folder in folders {
            let dir = host.directory + "/overlay/etc/" + folder
            try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
            try FileManager.default.createSymbolicLink(atPath: dir + "/" + (enabled ? on : off), withDestinationPath: "../init.d/sendmail")
        }
    }

    /// The log lines of the commands that change something (probes and `uname` left out).
    static func changes(_ lab: SSHLab, _ name: String) -> [String] {
        let log = (try? runCommand(["cat", lab.host(name).commandsLog]).stdout) ?? ""
        let probes = ["uname ", "svcs ", "lssrc ", "ps ", "sendmail -bt", "systemctl cat", "systemctl is-",
                      "service sendmail status", "/etc/init.d/sendmail status"]
        return log.split(separator: "\n").map { line in
            var l = String(line)
            for dir in ["/usr/local/sbin/", "/usr/local/bin/"] where l.hasPrefix(dir) { l = String(l.dropFirst(dir.count)) }
            return l
        }.filter { line in !probes.contains { line.hasPrefix($0) } }
    }
}
