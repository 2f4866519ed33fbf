import Foundation

/// What people read in a terminal: verdicts with evidence, plans with diffs, run recaps.
public enum TextReport {
    public static func status(_ s: Status) -> String { "\(s.korean)(\(s.english))" }

    public static func findings(_ plans: [HostPlan]) -> String {
        var out = ""
        for plan in plans {
            for f in plan.findings {
                out += "\(plan.host)  \(f.item)  \(status(f.status))  \(f.title)\n"
                for e in f.evidence {
                    var place = e.file
                    if let line = e.line { place += ":\(line)" }
                    let text = e.text.isEmpty ? "" : "  \(quoted(e.text))"
                    let tag = e.advisory ? " [advisory]" : ""
                    out += "    \(e.status.english.padding(toLength: 5, withPad: " ", startingAt: 0)) \(e.mta) \(place)\(text)\(tag)\n"
                    out += "          \(e.note)\n"
                }
            }
            if let error = plan.error, plan.findings.isEmpty {
                out += "\(plan.host)  error: \(error)\n"
            }
        }
        return out
    }

    public static func plan(_ plans: [HostPlan]) -> String {
        var out = ""
        for plan in plans {
            if let error = plan.error {
                out += "== \(plan.host): error: \(error)\n"
                continue
            }
            guard plan.hasChanges else {
                out += "== \(plan.host): nothing to do\n"
                continue
            }
            let files = plan.files.count == 1 ? "1 file" : "\(plan.files.count) files"
            out += "== \(plan.host): \(files) to change\n"
            for file in plan.files {
                out += "# \(file.path) (\(file.items.joined(separator: ", ")))\n"
                out += file.diff
                if let v = file.validateBefore {
                    out += "#   validate before replacing: \(shellWords(v.argv))" + (plan.isLive ? "" : "  [skipped: offline root]") + "\n"
                }
                if let v = file.validateAfter {
                    out += "#   validate after replacing: \(shellWords(v.argv))" + (plan.isLive ? "" : "  [skipped: offline root]") + "\n"
                }
            }
            for action in plan.actions {
                var line = "# then run: \(action.display)"
                if let probe = action.probe { line += "   (if \(shellWords(probe)) succeeds)" }
                if !plan.isLive { line += "  [skipped: offline root]" }
                out += line + "\n"
            }
        }
        return out
    }

    public static func run(_ result: RunResult, verb: String) -> String {
        var out = ""
        for error in result.errors { out += "error: \(error)\n" }
        for message in result.messages { out += message + "\n" }
        if result.hosts.isEmpty && result.errors.isEmpty {
            out += "nothing to do: every item already passes\n"
            return out
        }
        if let id = result.runID { out += "run \(id)\n" }
        for host in result.hosts {
            out += "\(host.name): \(host.outcome.rawValue)"
            if let message = host.message { out += ": \(message)" }
            out += "\n"
            for file in host.files { out += "  \(file.state.rawValue) \(file.path)\n" }
            for action in host.actions {
                out += "  \(action.state.rawValue) \(shellWords(action.command))"
                if let output = action.output, action.state != .done { out += ": \(output)" }
                out += "\n"
            }
        }
        if let id = result.runID, verb == "apply", result.hosts.contains(where: { $0.outcome == .changed }) {
            out += "undo with: mtaguard rollback \(id)\n"
        }
        return out
    }

    private static func quoted(_ s: String) -> String {
        let t = s.count > 100 ? String(s.prefix(100)) + "…" : s
        return "\"" + t.replacingOccurrences(of: "\t", with: "\\t") + "\""
    }
}
