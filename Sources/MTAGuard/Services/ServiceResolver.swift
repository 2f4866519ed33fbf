/// A service action made concrete for one host: the command, the probe that says whether the
/// service runs at all, and the command that undoes it.
public struct ResolvedAction: Sendable, Codable, Equatable {
    public var service: String
    public var action: ServiceAction
    public var command: [String]
    /// When given and failing, the action is skipped (reloading a stopped postfix is no error).
    public var probe: [String]?
    public var inverse: [String]?

    public var display: String { shellWords(command) }
}

/// Turns abstract service actions of a playbook into the commands of a host's OS family and
/// service manager.
public enum ServiceResolver {
    public static func resolve(_ step: ServiceStep, facts: HostFacts) throws -> ResolvedAction {
        let s = step.service
        switch (s, step.action) {
        case ("postfix", .reload):
            // postfix's own control program works the same under every init system.
            return ResolvedAction(
                service: s, action: .reload, command: ["postfix", "reload"],
                probe: ["postfix", "status"], inverse: ["postfix", "reload"])
        default:
            break
        }
        switch facts.family {
        case .linux:
            return linux(step, systemd: facts.systemd)
        default:
            throw MTAGuardError(
                "no \(step.action.rawValue) of \(s) for \(facts.family.rawValue) hosts yet",
                hint: "run it by hand after the change")
        }
    }

    static func linux(_ step: ServiceStep, systemd: Bool) -> ResolvedAction {
        let s = step.service
        if systemd {
            let inverse: [String]? = switch step.action {
            case .stop: ["systemctl", "start", s]
            case .start: ["systemctl", "stop", s]
            case .disable: ["systemctl", "enable", s]
            case .enable: ["systemctl", "disable", s]
            case .reload: ["systemctl", "reload", s]
            case .restart: ["systemctl", "restart", s]
            }
            let probe: [String]? = [.reload, .restart].contains(step.action)
                ? ["systemctl", "is-active", "--quiet", s] : nil
            return ResolvedAction(
                service: s, action: step.action, command: ["systemctl", step.action.rawValue, s],
                probe: probe, inverse: inverse)
        }
        let command: [String], inverse: [String]
        switch step.action {
        case .disable: command = ["update-rc.d", s, "disable"]; inverse = ["update-rc.d", s, "enable"]
        case .enable: command = ["update-rc.d", s, "enable"]; inverse = ["update-rc.d", s, "disable"]
        case .stop: command = ["service", s, "stop"]; inverse = ["service", s, "start"]
        case .start: command = ["service", s, "start"]; inverse = ["service", s, "stop"]
        case .reload, .restart:
            command = ["service", s, step.action.rawValue]; inverse = command
        }
        let probe: [String]? = [.reload, .restart].contains(step.action) ? ["service", s, "status"] : nil
        return ResolvedAction(service: s, action: step.action, command: command, probe: probe, inverse: inverse)
    }
}
