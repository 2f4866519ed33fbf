import Foundation

/// Verdicts as one self-contained HTML file to hand to an auditor: inline CSS only, no script,
/// no external resource (it opens offline, from a mail attachment or a USB stick).
///
/// Sections: the title, organisation and generation time; a table of contents; the summary
/// chart (inline SVG, `HTMLChart`); a summary per item (how many hosts are
/// 양호/취약/해당 없음/오류) and per host (how many items are); the details (host × item: status,
/// each evidence as mta, file:line, the text read and the note, and the action planned); and
/// "what changed": the given runs (id, command, times, outcome, hosts, files, service actions).
/// Printed (`PDFReport`), every page starts with a header: organisation, title, date, latest run.
/// Every text from a host or a run is HTML-escaped. Status cells carry `class="status
/// status-pass|status-fail|status-not-applicable|status-error|status-exception|status-review"`; an excepted finding
/// says its exception (reason, who approved it, until when) above its evidence.
public enum HTMLReport {
    /// - Parameters:
    ///   - organisation: who the report is for (`--org`), in the title block and the header
    ///     printed on every page; nothing when empty.
    ///   - verbose: every evidence row, also each file of an MTA that is not configured on the
    ///     host (`EvidenceFold`), as `check --verbose` shows them in the text report.
    public static func render(_ plans: [HostPlan], runs: [Manifest], language: ReportLanguage, generated: Date,
                              organisation: String = "", verbose: Bool = false) -> String {
        let t = language.text
        var header = [t.title, local(generated)]
        if !organisation.isEmpty { header.insert(organisation, at: 0) }
        if let latest = runs.first { header.append("\(t.run) \(latest.id)") }
        var out = """
            <!DOCTYPE html>
            <html lang="\(language.rawValue)">
            <head>
            <meta charset="utf-8">
            <meta name="viewport" content="width=device-width, initial-scale=1">
            <meta name="generator" content="mtaguard">
            <title>\(escape(t.title))</title>
            <style>\(style)</style>
            </head>
            <body>
            <table class="page"><thead><tr><td><div class="page-header">\(header.map(escape).joined(separator: " · "))</div></td></tr></thead>
            <tbody><tr><td>
            <h1>\(escape(t.title))</h1>

            """
        if !organisation.isEmpty { out += "<p class=\"organisation\">\(escape(t.organisation)): \(escape(organisation))</p>\n" }
        out += """
            <p class="generated">\(escape(t.generated)): <time datetime="\(escape(iso(generated)))">\(escape(local(generated)))</time>
             · \(escape(t.hosts)): \(plans.count)</p>

            """
        out += contents(t)
        out += HTMLChart.section(plans, t)
        out += itemSummary(plans, t)
        out += hostSummary(plans, t)
        out += details(plans, t, verbose: verbose)
        out += changes(runs, t)
        out += "</td></tr></tbody></table>\n</body>\n</html>\n"
        return out
    }

    /// The sections, in order: their ids and headings.
    static func sections(_ t: ReportText) -> [(id: String, heading: String)] {
        [(HTMLChart.sectionID, t.chartTitle), ("summary-items", t.summaryByItem), ("summary-hosts", t.summaryByHost),
         ("details", t.details), ("changes", t.whatChanged)]
    }

    /// The table of contents: a link to each section (in-page anchors only).
    static func contents(_ t: ReportText) -> String {
        var out = "<nav id=\"contents\">\n<h2>\(escape(t.contents))</h2>\n<ol>\n"
        for s in sections(t) { out += "<li><a href=\"#\(s.id)\">\(escape(s.heading))</a></li>\n" }
        return out + "</ol>\n</nav>\n"
    }

    // MARK: - sections

    /// Items in the order they first appear, with their titles.
    static func items(_ plans: [HostPlan]) -> [(id: String, title: String)] {
        var seen = Set<String>()
        var result: [(String, String)] = []
        for f in plans.flatMap(\.findings) where seen.insert(f.item).inserted {
            result.append((f.item, f.title))
        }
        return result
    }

    static func itemSummary(_ plans: [HostPlan], _ t: ReportText) -> String {
        var out = "<section id=\"summary-items\">\n<h2>\(escape(t.summaryByItem))</h2>\n<table class=\"summary\">\n"
        out += "<thead><tr><th>\(escape(t.item))</th><th>\(escape(t.itemTitle))</th>"
        for s in ReportText.statusOrder { out += "<th class=\"\(cssClass(s))\">\(escape(t.word(s)))</th>" }
        out += "</tr></thead>\n<tbody>\n"
        for item in items(plans) {
            let statuses = plans.flatMap(\.findings).filter { $0.item == item.id }.map(\.status)
            out += "<tr><td>\(escape(item.id))</td><td>\(escape(item.title))</td>"
            for s in ReportText.statusOrder { out += countCell(statuses.filter { $0 == s }.count, s) }
            out += "</tr>\n"
        }
        out += "</tbody>\n</table>\n</section>\n"
        return out
    }

    static func hostSummary(_ plans: [HostPlan], _ t: ReportText) -> String {
        var out = "<section id=\"summary-hosts\">\n<h2>\(escape(t.summaryByHost))</h2>\n<table class=\"summary\">\n"
        out += "<thead><tr><th>\(escape(t.host))</th><th>\(escape(t.overall))</th>"
        for s in ReportText.statusOrder { out += "<th class=\"\(cssClass(s))\">\(escape(t.word(s)))</th>" }
        out += "<th>\(escape(t.hostError))</th></tr></thead>\n<tbody>\n"
        for plan in plans {
            let statuses = plan.findings.map(\.status)
            let overall: Status = plan.error != nil ? .error : (statuses.max() ?? .notApplicable)
            out += "<tr><td>\(escape(plan.host))</td>\(statusCell(overall, t))"
            for s in ReportText.statusOrder { out += countCell(statuses.filter { $0 == s }.count, s) }
            out += "<td>\(escape(plan.error?.withoutHost.description ?? ""))</td></tr>\n"
        }
        out += "</tbody>\n</table>\n</section>\n"
        return out
    }

    static func details(_ plans: [HostPlan], _ t: ReportText, verbose: Bool = false) -> String {
        var out = "<section id=\"details\">\n<h2>\(escape(t.details))</h2>\n<table class=\"details\">\n"
        out += "<thead><tr><th>\(escape(t.host))</th><th>\(escape(t.item))</th><th>\(escape(t.itemTitle))</th>"
        out += "<th>\(escape(t.status))</th><th>\(escape(t.evidence))</th><th>\(escape(t.action))</th></tr></thead>\n<tbody>\n"
        for plan in plans {
            if plan.findings.isEmpty {
                out += "<tr><td>\(escape(plan.host))</td><td>-</td><td></td>\(statusCell(plan.error == nil ? .notApplicable : .error, t))"
                out += "<td>\(escape(plan.error?.withoutHost.description ?? t.noFindings))</td>"
                out += "<td>\(escape(plan.error == nil ? t.noAction : t.checkByHand))</td></tr>\n"
                continue
            }
            for f in plan.findings {
                out += "<tr><td>\(escape(plan.host))</td><td>\(escape(f.item))</td><td>\(escape(f.title))</td>"
                out += statusCell(f.status, t)
                let mark = f.exception.map { "<p class=\"exception\">\(escape(t.describe($0)))</p>" } ?? ""
                out += "<td>\(mark)\(evidenceList(f, t, verbose: verbose))</td><td>\(action(plan, f, t))</td></tr>\n"
            }
        }
        out += "</tbody>\n</table>\n</section>\n"
        return out
    }

    /// Each evidence row: the MTA, where it was read (file:line), the setting in the MTA's own
    /// words, the text read and the note; rows of absent files folded as in the text report.
    static func evidenceList(_ f: Finding, _ t: ReportText, verbose: Bool = false) -> String {
        guard !f.evidence.isEmpty else { return "" }
        var out = "<ul class=\"evidence\">"
        let fold = EvidenceFold(f.evidence, verbose: verbose)
        if fold.isFolded {
            out += "<li class=\"\(cssClass(.notApplicable)) folded\">"
            out += "<span class=\"mta\">\(escape(fold.mtas.joined(separator: ", ")))</span>: \(escape(t.notConfigured))"
            out += "<br><span class=\"note\">\(escape(t.noSuchFiles)) \(escape(fold.files.joined(separator: ", "))) (\(escape(t.verboseShowsEach)))</span></li>"
        }
        for e in fold.shown {
            var place = e.file
            if let line = e.line { place += ":\(line)" }
            out += "<li class=\"\(cssClass(e.status))\">"
            out += "<span class=\"mta\">\(escape(e.mta))</span> <span class=\"place\">\(escape(place))</span>"
            if let setting = e.setting, !setting.isEmpty {
                out += " <span class=\"setting\">\(escape(t.setting)): <b>\(escape(setting))</b></span>"
            }
            if (e.status != f.status && f.exception == nil) || e.advisory {
                var tags = [t.word(e.status)]
                if e.advisory { tags.append(t.advisory) }
                out += " <span class=\"tag\">[\(escape(tags.joined(separator: ", ")))]</span>"
            }
            out += "<br><code>\(e.text.isEmpty ? escape(t.emptyText) : escape(e.text))</code>"
            if !e.note.isEmpty { out += "<br><span class=\"note\">\(escape(e.note))</span>" }
            out += "</li>"
        }
        return out + "</ul>"
    }

    /// What the plan does for this item: the files it changes for it, then the host's service
    /// actions (which follow any change); nothing for a sound item; "check by hand" on error.
    static func action(_ plan: HostPlan, _ f: Finding, _ t: ReportText) -> String {
        let files = plan.files.filter { $0.items.contains(f.item) }
        var lines: [String] = files.map { "\(t.willChange): \($0.path)" }
        if !plan.actions.isEmpty && (!files.isEmpty || (f.status == .fail && plan.files.isEmpty)) {
            lines += plan.actions.map { "\(t.thenRun): \($0.display)" }
        }
        if lines.isEmpty {
            switch f.status {
            case .review: lines = [t.checkByHand] + reviewTargets(f, t)
            case .error, .fail: lines = [t.checkByHand]
            case .pass, .notApplicable: lines = [t.noAction]
            case .exception: lines = [t.leftAsIs]
            }
        }
        return lines.map(escape).joined(separator: "<br>")
    }

    /// What a person must look at for a 수동 확인 finding: each deciding piece of evidence that
    /// left the verdict open, where it was read and why ("확인 대상: smtp 192.0.2.1:25: …").
    static func reviewTargets(_ f: Finding, _ t: ReportText) -> [String] {
        f.evidence.filter { $0.status == .review }.map { e in
            "\(t.lookAt): \(e.mta) \(e.file)\(e.line.map { ":\($0)" } ?? "")\(e.note.isEmpty ? "" : ": " + e.note)"
        }
    }

    static func changes(_ runs: [Manifest], _ t: ReportText) -> String {
        var out = "<section id=\"changes\">\n<h2>\(escape(t.whatChanged))</h2>\n"
        guard !runs.isEmpty else { return out + "<p>\(escape(t.noRuns))</p>\n</section>\n" }
        out += "<table class=\"runs\">\n<thead><tr><th>\(escape(t.run))</th><th>\(escape(t.command))</th>"
        out += "<th>\(escape(t.started))</th><th>\(escape(t.finished))</th><th>\(escape(t.outcome))</th>"
        out += "<th>\(escape(t.hosts))</th><th>\(escape(t.files))</th><th>\(escape(t.actions))</th></tr></thead>\n<tbody>\n"
        for run in runs {
            out += "<tr><td><code>\(escape(run.id))</code>"
            if let of = run.rollbackOf { out += "<br>\(escape(t.rollbackOf)): <code>\(escape(of))</code>" }
            out += "</td><td>\(escape(run.command))</td><td>\(escape(local(run.started)))</td>"
            out += "<td>\(escape(run.finished.map(local) ?? "-"))</td>"
            out += "<td class=\"outcome outcome-\(escape(run.state))\">\(escape(run.state))</td>"
            out += "<td>" + run.hosts.map { h in
                var s = "\(escape(h.name)): <span class=\"outcome-\(escape(h.outcome.rawValue))\">\(escape(h.outcome.rawValue))</span>"
                if let m = h.message, !m.isEmpty { s += " <span class=\"note\">\(escape(m))</span>" }
                return s
            }.joined(separator: "<br>") + "</td>"
            out += "<td>" + run.hosts.flatMap { h in
                h.files.map { f in
                    "\(escape(h.name)): <code>\(escape(f.path))</code> (\(escape(f.items.joined(separator: ", "))); \(escape(f.state.rawValue)))"
                }
            }.joined(separator: "<br>") + "</td>"
            out += "<td>" + run.hosts.flatMap { h in
                h.actions.map { a in
                    "\(escape(h.name)): <code>\(escape(shellWords(a.command)))</code> (\(escape(a.state.rawValue)))"
                }
            }.joined(separator: "<br>") + "</td></tr>\n"
        }
        out += "</tbody>\n</table>\n</section>\n"
        return out
    }

    // MARK: - pieces

    public static func cssClass(_ s: Status) -> String { "status-\(s.rawValue)" }

    static func statusCell(_ s: Status, _ t: ReportText) -> String {
        "<td class=\"status \(cssClass(s))\">\(escape(t.word(s)))</td>"
    }

    static func countCell(_ n: Int, _ s: Status) -> String {
        n == 0 ? "<td class=\"count zero\">0</td>" : "<td class=\"count \(cssClass(s))\">\(n)</td>"
    }

    /// Text for element content and attribute values: & < > " ' escaped.
    public static func escape(_ s: String) -> String {
        var out = ""
        out.reserveCapacity(s.utf8.count)
        for ch in s.unicodeScalars {
            switch ch {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&#39;"
            case "\0": out += "\u{FFFD}"
            default: out.unicodeScalars.append(ch)
            }
        }
        return out
    }

    static func iso(_ d: Date) -> String {
        let f = ISO8601DateFormatter()
        f.formatOptions = [.withInternetDateTime]
        f.timeZone = TimeZone.current
        return f.string(from: d)
    }

    /// "2025-01-31 14:05:09 +09:00" in the machine's time zone.
    static func local(_ d: Date) -> String {
        let f = DateFormatter()
        f.locale = Locale(identifier: "en_US_POSIX")
        f.timeZone = TimeZone.current
        f.dateFormat = "yyyy-MM-dd HH:mm:ss xxx"
        return f.string(from: d)
    }

    static let style = """

        body { font-family: -apple-system, "Segoe UI", "Malgun Gothic", "Apple SD Gothic Neo", "Noto Sans CJK KR", sans-serif; margin: 2em; color: #222; }
        h1 { font-size: 1.5em; } h2 { font-size: 1.2em; margin-top: 2em; }
        .generated { color: #555; }
        table { border-collapse: collapse; margin: 0.5em 0; }
        th, td { border: 1px solid #bbb; padding: 0.3em 0.6em; vertical-align: top; text-align: left; }
        th { background: #eee; }
        td.count { text-align: right; }
        td.count.zero { color: #aaa; }
        table.summary td:first-child { white-space: nowrap; }
        .status { font-weight: bold; white-space: nowrap; }
        .status-pass { background: #e3f4e1; color: #1d6b1a; }
        .status-fail { background: #fde2e1; color: #a4161a; }
        .status-not-applicable { background: #f0f0f0; color: #666; }
        .status-error { background: #fff1cc; color: #8a5a00; }
        .status-exception { background: #e6e9fb; color: #2b3a8c; }
        .status-review { background: #f3e5f5; color: #6a1b9a; }
        p.exception { margin: 0 0 0.3em 0; color: #2b3a8c; }
        ul.evidence { margin: 0; padding-left: 1.2em; }
        ul.evidence li { background: none; color: inherit; margin-bottom: 0.3em; }
        ul.evidence li.status-fail { list-style: square; }
        code { font-family: "D2Coding", Consolas, "DejaVu Sans Mono", monospace; white-space: pre-wrap; word-break: break-all; background: #f6f6f6; }
        .note, .tag { color: #555; font-size: 0.92em; }
        .outcome-failed, .outcome-rollback-failed, .outcome-partial { color: #a4161a; font-weight: bold; }
        table.page, table.page > thead > tr > td, table.page > tbody > tr > td { border: none; padding: 0; margin: 0; }
        .page-header { display: none; }
        .organisation { font-weight: bold; }
        nav#contents ol { margin: 0.3em 0; }
        nav#contents a { color: #2b3a8c; }
        svg.chart text { font-size: 12px; fill: #222; }
        table.page { width: 100%; }
        table.details { width: 100%; table-layout: fixed; }
        table.details th:nth-child(1) { width: 12%; } table.details th:nth-child(2) { width: 7%; }
        table.details th:nth-child(3) { width: 10%; } table.details th:nth-child(4) { width: 7%; }
        table.details th:nth-child(6) { width: 15%; }
        table.details td { overflow-wrap: anywhere; }
        .setting b { font-family: "D2Coding", Consolas, "DejaVu Sans Mono", monospace; }
        @media print {
          @page { size: A4; margin: 12mm 10mm; }
          body { margin: 0; font-size: 9pt; } th { background: #ddd; }
          th, td { padding: 0.2em 0.4em; }
          /* The page table's header row repeats at the top of every printed page. */
          .page-header { display: block; font-size: 0.8em; color: #555; border-bottom: 1px solid #bbb; padding-bottom: 0.2em; margin-bottom: 0.8em; }
          /* Column headings repeat on every page; a heading stays with what follows it. */
          thead { display: table-header-group; }
          h1, h2 { break-after: avoid; }
          table.summary tr, table.runs tr { break-inside: avoid; }
          /* A finding with many evidence rows may continue on the next page, but never in the
             middle of one evidence row: a row kept whole left most of a page empty. */
          table.details tr { break-inside: auto; }
          ul.evidence li, p.exception { break-inside: avoid; }
        }

        """
}
