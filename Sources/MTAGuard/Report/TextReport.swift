import Foundation

/// What people read in a terminal: verdicts with evidence, plans with diffs, run recaps.
public enum TextReport {
    public static func status(_ s: Status) -> String { "\(s.korean)(\(s.english))" }

    /// Each finding with its evidence. Rows for files that are not on the host (an MTA that is
    /// not configured there) fold into one line per item unless `verbose`; JSON keeps them all.
    public static func findings(_ plans: [HostPlan], verbose: Bool = false) -> String {
        var out = ""
        for plan in plans {
            for f in plan.findings {
                out += "\(plan.host)  \(f.item)  \(status(f.status))  \(f.title)\n"
                if let mark = f.exception { out += "    \(exceptionLine(mark))\n" }
                let fold = EvidenceFold(f.evidence, verbose: verbose)
                if fold.isFolded {
                    out += "    n/a   \(fold.mtas.joined(separator: ", ")): \(ReportText.english.notConfigured)\n"
                    out += "          \(ReportText.english.noSuchFiles) \(fold.files.joined(separator: ", ")) (\(ReportText.english.verboseShowsEach))\n"
                }
                for e in fold.shown {
                    var place = e.file
                    if let line = e.line { place += ":\(line)" }
                    let text = e.text.isEmpty ? "" : "  \(quoted(e.text))"
                    let tag = e.advisory ? " [advisory]" : ""
                    // Padded to 5, never cut: "review" keeps its last letter.
                    let word = e.status.english.count < 5 ? e.status.english.padding(toLength: 5, withPad: " ", startingAt: 0) : e.status.english
                    out += "    \(word) \(e.mta) \(place)\(text)\(tag)\n"
                    // The setting by its own name, where the note does not already say it.
                    let named = e.setting.map { !$0.isEmpty && !e.note.contains($0) } ?? false
                    out += "          \(named ? "\(e.setting!): " : "")\(e.note)\n"
                }
            }
            if let error = plan.error, plan.findings.isEmpty {
                out += "\(plan.host)  error: \(error.withoutHost)\n"
            }
        }
        return out
    }

    /// Each host's diffs and commands; hosts whose changes are the same to the byte are shown
    /// once, with the list of hosts.
    public static func plan(_ plans: [HostPlan]) -> String {
        var out = ""
        var groups: [(hosts: [String], body: String)] = []
        var nothing: [String] = []
        for plan in plans {
            if let error = plan.error {
                out += "== \(plan.host): error: \(error.withoutHost)\n"
                continue
            }
            let errors = plan.findings.flatMap(\.evidence).filter { $0.status == .error }
            for e in errors { out += "== \(plan.host): error: \(e.note)\n" }
            out += excepted(plan)
            guard plan.hasChanges else {
                if errors.isEmpty { nothing.append(plan.host) }
                continue
            }
            let body = planBody(plan)
            if let i = groups.firstIndex(where: { $0.body == body }) {
                groups[i].hosts.append(plan.host)
            } else {
                groups.append(([plan.host], body))
            }
        }
        for g in groups {
            let files = g.body.components(separatedBy: "\n--- a/").count - 1 + g.body.components(separatedBy: "\n# chmod ").count - 1
            let label = g.hosts.count == 1 ? g.hosts[0] : "\(g.hosts.count) hosts: \(g.hosts.joined(separator: ", "))"
            out += "== \(label): \(files == 1 ? "1 file" : "\(files) files") to change\n" + g.body
        }
        if !nothing.isEmpty {
            out += "== \(nothing.count == 1 ? nothing[0] : "\(nothing.count) hosts: " + nothing.joined(separator: ", ")): nothing to do\n"
        }
        return out
    }

    private static func planBody(_ plan: HostPlan) -> String {
        var out = ""
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
        for mode in plan.modes {
            let c = mode.change
            out += "\n# chmod \(String(c.to, radix: 8)) \(shellQuote(c.path))   (\(FileMeta.symbolic(c.from)) → \(FileMeta.symbolic(c.to)); \(mode.items.joined(separator: ", ")))\n"
        }
        for action in plan.actions {
            var line = "# then run: \(action.display)"
            if let probe = action.probe { line += "   (if \(shellWords(probe)) succeeds)" }
            if !plan.isLive { line += "  [skipped: offline root]" }
            out += line + "\n"
        }
        return out
    }

    /// The outcome of an apply or rollback, a line per host, then a recap table when there are
    /// several hosts.
    public static func run(_ result: RunResult, verb: String) -> String {
        var out = ""
        for message in result.messages { out += message + "\n" }
        if result.hosts.isEmpty && result.errors.isEmpty {
            out += verb == "rollback" ? "nothing to do: nothing of the run is left to undo\n" : "nothing to do: every item already passes\n"
            return out
        }
        if let id = result.runID { out += "run \(id)\n" }
        for plan in result.plans { out += excepted(plan) }
        for host in result.hosts {
            out += "\(host.name): \(host.outcome.rawValue)"
            if let message = host.message { out += ": \(message)" }
            out += "\n"
            for file in host.files { out += "  \(file.state.rawValue) \(file.path)\n" }
            for mode in host.modeChanges {
                out += "  \(mode.state.rawValue) mode of \(mode.path) (\(FileMeta.symbolic(mode.preMode)) → \(FileMeta.symbolic(mode.postMode)))\n"
            }
            for action in host.actions {
                out += "  \(action.state.rawValue) \(shellWords(action.command))"
                if let output = action.output, action.state != .done { out += ": \(output)" }
                out += "\n"
            }
        }
        for error in result.errors { out += "error: \(error)\n" }
        if result.plans.count > 1 { out += recap(result) }
        if let id = result.runID, verb == "apply", result.hosts.contains(where: { $0.outcome == .changed }) {
            out += "undo with: mtaguard rollback \(id)\n"
        }
        return out
    }

    /// One row per host: what happened to it.
    public static func recap(_ result: RunResult) -> String {
        var rows: [[String]] = [["HOST", "RESULT", "FILES", "ACTIONS"]]
        for plan in result.plans {
            if let record = result.hosts.first(where: { $0.name == plan.host }) {
                rows.append([
                    plan.host, record.outcome.rawValue,
                    String(record.files.filter { $0.state == .replaced }.count + record.modeChanges.filter { $0.state == .replaced }.count),
                    String(record.actions.filter { $0.state == .done }.count),
                ])
            } else if let error = plan.error {
                rows.append([plan.host, error.code == .unreachable ? "unreachable" : "failed", "-", "-"])
            } else if !plan.errors.isEmpty {
                rows.append([plan.host, "failed", "-", "-"])
            } else {
                rows.append([plan.host, "unchanged", "0", "0"])
            }
        }
        let widths = rows[0].indices.map { c in rows.map { $0[c].count }.max() ?? 0 }
        return "\n" + rows.map { row in
            row.enumerated().map { c, cell in cell.padding(toLength: widths[c], withPad: " ", startingAt: 0) }
                .joined(separator: "  ").trimmingCharacters(in: .whitespaces)
        }.joined(separator: "\n") + "\n"
    }

    /// "== web1: U-47 예외(exception): left as is (approved by …)", a line per excepted item.
    static func excepted(_ plan: HostPlan) -> String {
        plan.findings.compactMap { f in
            f.exception.map { "== \(plan.host): \(f.item) \(status(.exception)): left as is; \(exceptionLine($0))\n" }
        }.joined()
    }

    static func exceptionLine(_ mark: ExceptionMark) -> String {
        "exception: \(mark.reason) (approved by \(mark.approvedBy), until \(mark.until); \(mark.source))"
    }

    /// The evidence's text in quotes, cut after 300 characters (room for a relay attempt's
    /// three SMTP replies).
    private static func quoted(_ s: String) -> String {
        let t = s.count > 300 ? String(s.prefix(300)) + "…" : s
        return "\"" + t.replacingOccurrences(of: "\t", with: "\\t") + "\""
    }
}
