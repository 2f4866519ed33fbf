/// After `--allow-upgrade` upgraded a package, the host's package manager is asked again: the
/// upgrade holds only when the manager now answers and offers nothing newer. An upgrade command
/// that exited 0 but left the package as it was, or a manager that cannot answer afterwards,
/// fails the verification, and the engine rolls the host back (the inverse reinstalls the
/// version it had).
enum UpgradeVerification {
    static func verification() -> @Sendable (any Host, HostPlan) async -> String? {
        { host, plan in
            let upgraded = plan.actions.filter { $0.action == .upgrade }
            guard !upgraded.isEmpty else { return nil }
            let facts: HostFacts
            do {
                facts = try await host.facts(FactsRequest(paths: [], versions: [:]))
            } catch {
                return "cannot ask the host's package manager again after the upgrade: \(error)"
            }
            var problems: [String] = []
            for action in upgraded {
                let mta = action.service
                guard let package = facts.versions[mta]?.package else {
                    problems.append("after \(action.display), no package of \(mta) is reported any more")
                    continue
                }
                let decision = VersionJudge.packageDecision(package)
                switch package.update {
                case .unknown(let doubt):
                    problems.append("after \(action.display), \(doubt): the upgrade of \(package.name) cannot be confirmed")
                case .candidate, .noneNewer:
                    if decision.newer {
                        problems.append("after \(action.display), \(decision.rule.dropFirst("package: ".count)): the upgrade did not take")
                    }
                }
            }
            return problems.isEmpty ? nil : problems.joined(separator: "; ")
        }
    }

    /// `first`'s problem, else `second`'s: both verifications run where both are set.
    static func both(
        _ first: (@Sendable (any Host, HostPlan) async -> String?)?, _ second: (@Sendable (any Host, HostPlan) async -> String?)?
    ) -> (@Sendable (any Host, HostPlan) async -> String?)? {
        guard let first else { return second }
        guard let second else { return first }
        return { host, plan in
            let a = await first(host, plan), b = await second(host, plan)
            return [a, b].compactMap { $0 }.isEmpty ? nil : [a, b].compactMap { $0 }.joined(separator: "; ")
        }
    }
}
