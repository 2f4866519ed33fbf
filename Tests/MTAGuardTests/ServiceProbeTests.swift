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

    /// Without MTG_PROBE the manager is named and no service is asked about.
    @Test func noProbeAsksNothing() throws {
        let script = RemoteScript()
        let out = try runCommand(["sh", "-s"], stdin: script.services(probe: false).text)
        let services = RemoteScript.Services(output: out.stdout, marker: script.marker)
        #expect(services.states.values.allSatisfy { $0.running == nil }, "\(services.states)")
    }
}
