import Foundation
import Testing

@testable import MTAGuard

/// Every answer of the facts script's service probe, asked both ways on real lab hosts: for each
/// service manager, one host where sendmail runs and does not start at boot, and one where it is
/// stopped and starts at boot. A probe that can never say yes (or no) fails here: the SysV boot
/// link probe once never matched, because the facts script runs with globbing off.
@Suite struct ServiceProbeTests {
    struct Case: Sendable, CustomStringConvertible {
        var family: Shims.Family
        var running: Bool
        var enabled: Bool
        /// What the probe must say of starting at boot (nil: it cannot know, and says so).
        var expectedEnabled: Bool?
        var unit: String
        var init_: InitSystem
        var name: String { "\(family.rawValue)-\(running ? "up" : "down")-\(enabled ? "on" : "off")" }
        var description: String { name }
    }

    static let cases: [Case] = [
        // SMF's online: the one state where it runs.
        Case(family: .solaris, running: true, enabled: true, expectedEnabled: true, unit: "svc:/network/smtp:sendmail", init_: .smf),
    ] + [(true, false), (false, true)].flatMap { running, enabled in
        [
            Case(family: .systemd, running: running, enabled: enabled, expectedEnabled: enabled, unit: "sendmail", init_: .systemd),
            Case(family: .sysv, running: running, enabled: enabled, expectedEnabled: enabled, unit: "sendmail", init_: .sysv),
            // SMF has one state for both: online (runs, enabled), offline (enabled, not running).
            Case(family: .solaris, running: running && enabled, enabled: enabled, expectedEnabled: enabled,
                 unit: "svc:/network/smtp:sendmail", init_: .smf),
            Case(family: .solarisRC, running: running, enabled: enabled, expectedEnabled: enabled, unit: "/etc/init.d/sendmail", init_: .solarisRC),
            // AIX and HP-UX: boot is /etc/rc.tcpip and /etc/rc.config.d/mailservs, judged as files.
            Case(family: .aix, running: running, enabled: enabled, expectedEnabled: nil, unit: "sendmail", init_: .src),
            Case(family: .hpux, running: running, enabled: enabled, expectedEnabled: nil, unit: "/sbin/init.d/sendmail", init_: .hpuxRC),
        ]
    }

    @Test func everyProbeAnswersBothWays() async throws {
        let lab = try SSHLab.start(hosts: Self.cases.map(\.name))
        defer { lab.stop() }
        for c in Self.cases {
            try Shims.install(lab, c.name, family: c.family, running: c.running, enabled: c.enabled)
            if c.family == .aix || c.family == .hpux || c.family == .solarisRC {
                // No service manager knows postfix there: postfix itself is asked.
                let postfix = lab.host(c.name).shims + "/postfix"
                try Data("#!/bin/sh\n[ \"$1\" = status ] && exit \(c.running ? 0 : 1)\nexit 2\n".utf8).write(to: URL(fileURLWithPath: postfix))
                chmod(postfix, 0o755)
            }
        }
        var options = SSHTransport.Options()
        options.configFile = lab.sshConfigPath
        options.connectTimeout = 60
        let transport = try SSHTransport(options: options)
        let targets = Self.cases.map { SSHTarget(address: "127.0.0.1", port: Int(lab.host($0.name).port), user: "root") }
        defer { transport.close(targets) }
        try await withThrowingTaskGroup(of: (Case, HostFacts).self) { group in
            for (c, target) in zip(Self.cases, targets) {
                group.addTask {
                    let host = SSHHost(name: c.name, target: target, transport: transport)
                    return (c, try await host.facts(paths: [], probeServices: true, probeVersions: false))
                }
            }
            for try await (c, facts) in group {
                #expect(facts.initSystem == c.init_, "\(c)")
                let state = facts.services["sendmail"]
                #expect(state == ServiceState(running: c.running, enabled: c.expectedEnabled, unit: c.unit), "\(c): \(String(describing: state))")
                if c.family == .aix || c.family == .hpux || c.family == .solarisRC {
                    #expect(facts.services["postfix"]?.running == c.running, "\(c): postfix status")
                }
            }
        }
    }

    /// A status command that failed for another reason than "not running" tells nothing: the
    /// probe says unknown, never no. systemctl is-active's 4 (no such unit) and is-enabled's
    /// "static"; an init script's 1 (it could not read its pid file); a ps that failed; lssrc
    /// naming neither state; and the real `postfix status` run by a non-root login, which exits
    /// 1 ("reserved for the superuser") as it does for root when postfix is stopped.
    @Test func aStatusThatTellsNothingIsUnknown() async throws {
        let login = try NonRootLogin.create()
        defer { login.remove() }
        let names = ["sd", "sysv", "hpux", "aix", "asuser"]
        let lab = try SSHLab.start(hosts: names)
        defer { lab.stop() }
        try login.authorize(lab)
        let families: [String: Shims.Family] = ["sd": .systemd, "sysv": .sysv, "hpux": .hpux, "aix": .aix, "asuser": .hpux]
        for name in names { try Shims.install(lab, name, family: families[name]!) }
        // The same recording stand-ins, answering what a broken or refusing tool answers.
        func answer(_ name: String, _ path: String, _ body: String) throws {
            let host = lab.host(name)
            let full = path.hasPrefix("/") ? host.directory + "/overlay" + path : host.shims + "/" + path
            try Data("#!/bin/sh\necho \"$0 $*\" >> \(host.commandsLog)\n\(body)\n".utf8).write(to: URL(fileURLWithPath: full))
            chmod(full, 0o755)
        }
        try answer("sd", "systemctl", "case \"$1\" in cat) [ \"$2\" = sendmail.service ];; is-active) exit 4;; is-enabled) echo static;; esac")
        try answer("sysv", "/etc/init.d/sendmail", "echo 'cannot read /var/run/sendmail.pid' >&2; exit 1")
        try answer("hpux", "ps", "echo 'ps: cannot open /dev/kmem' >&2; exit 1")
        try answer("aix", "lssrc", "echo '0513-085 The sendmail Subsystem is not on file.'")
        // The real postfix, on the non-root login's PATH; for root, it finds its own.
        for name in ["hpux", "asuser"] {
            try FileManager.default.copyItem(atPath: "/etc/postfix/main.cf", toPath: lab.host(name).root + "/etc/postfix/main.cf")
        }
        try FileManager.default.createSymbolicLink(atPath: lab.host("asuser").shims + "/postfix", withDestinationPath: "/usr/sbin/postfix")

        var options = SSHTransport.Options()
        options.configFile = lab.sshConfigPath
        options.connectTimeout = 60
        let transport = try SSHTransport(options: options)
        let targets = names.map { SSHTarget(address: "127.0.0.1", port: Int(lab.host($0).port), user: $0 == "asuser" ? login.name : "root") }
        defer { transport.close(targets) }
        var seen: [String: [String: ServiceState]] = [:]
        for (name, target) in zip(names, targets) {
            let facts = try await SSHHost(name: name, target: target, transport: transport).facts(paths: [], probeServices: true, probeVersions: false)
            seen[name] = facts.services
        }
        #expect(seen["sd"]?["sendmail"] == ServiceState(running: nil, enabled: nil, unit: "sendmail"), "\(seen)")
        #expect(seen["sysv"]?["sendmail"] == ServiceState(running: nil, enabled: true, unit: "sendmail"), "\(seen)")
        #expect(seen["hpux"]?["sendmail"] == ServiceState(running: nil, enabled: nil, unit: "/sbin/init.d/sendmail"), "\(seen)")
        #expect(seen["aix"]?["sendmail"] == ServiceState(running: nil, enabled: nil, unit: "sendmail"), "\(seen)")
        // postfix status's 1: believed from root (stopped), not from another login.
        #expect(seen["hpux"]?["postfix"] == ServiceState(running: false, enabled: nil, unit: "postfix"), "\(seen)")
        #expect(seen["asuser"]?["postfix"] == ServiceState(running: nil, enabled: nil, unit: "postfix"), "\(seen)")
        #expect(seen["asuser"]?["sendmail"]?.running == true, "\(seen)")
        // The commands asked, as the stand-ins recorded them.
        func asked(_ name: String) throws -> [String] {
            try String(contentsOfFile: lab.host(name).commandsLog, encoding: .utf8).split(separator: "\n").map {
                String($0).replacingOccurrences(of: "/usr/local/bin/", with: "").replacingOccurrences(of: "/usr/local/sbin/", with: "")
            }.filter { !$0.hasPrefix("uname") && !$0.hasPrefix("sendmail") }
        }
        #expect(try asked("sd").filter { !$0.hasPrefix("systemctl cat ") } == ["systemctl is-active --quiet sendmail", "systemctl is-enabled sendmail"])
        #expect(try asked("sysv") == ["/etc/init.d/sendmail status"])
        #expect(try asked("hpux") == ["ps -e"])
        #expect(try asked("aix") == ["lssrc -s sendmail", "lssrc -s sendmail"])
    }

    /// Without MTG_PROBE the manager is named and no service is asked about.
    @Test func noProbeAsksNothing() throws {
        let script = RemoteScript()
        let out = try runCommand(["sh", "-s"], stdin: script.services(probe: false).text)
        let services = RemoteScript.Services(output: out.stdout, marker: script.marker)
        #expect(services.states.values.allSatisfy { $0.running == nil }, "\(services.states)")
    }
}
