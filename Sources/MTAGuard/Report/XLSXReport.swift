import Foundation

/// Verdicts as an Excel workbook (through `XLSXWorkbook`, libxlsxwriter), in four sheets:
///
/// - 요약 / Summary: per item its ids in every scheme (KISA 2026, KISA 2021, 전자금융), title,
///   중요도 and how many hosts are 양호/취약/해당 없음/오류/예외, with a stacked-bar chart of them.
/// - 점검 결과 / Results: the assessment's layout, one row per item (ID, 구분, 평가항목,
///   상세설명, 중요도, 평가대상) and a status column per host; beyond `wideHostLimit` hosts, one
///   row per host × item instead. Status cells are coloured as in the HTML report.
/// - 증적 / Evidence: one row per host × item × evidence (MTA, file, line, 설정 항목 — the
///   setting in the MTA's own words —, the text read, the note that decided), with an excepted
///   finding's exception. Every row, also those of files that are not on the host.
/// - 조치 이력 / Changes: the journal's runs (id, times, command, who, hosts, files, rollback).
///
/// Every text from a host or a run is written as a string cell, never as a formula.
public enum XLSXReport {
    /// Above this many hosts, 점검 결과 turns to one row per host × item.
    public static let wideHostLimit = 50

    public static func render(_ plans: [HostPlan], playbooks: [Playbook], runs: [Manifest],
                              language: ReportLanguage) throws -> Data {
        let t = language.text
        let book = try XLSXWorkbook()
        let items = Item.list(plans, playbooks: playbooks, language: language)
        guard let summary = book.addSheet(t.sheetSummary), let results = book.addSheet(t.sheetResults),
              let evidence = book.addSheet(t.sheetEvidence), let changes = book.addSheet(t.sheetChanges)
        else { return try book.finish() }
        writeSummary(book, summary, items, plans, t)
        if plans.count > wideHostLimit {
            writeResultsLong(book, results, items, plans, t)
        } else {
            writeResultsWide(book, results, items, plans, t)
        }
        writeEvidence(book, evidence, plans, t)
        writeChanges(book, changes, runs, t)
        for sheet in [summary, results, evidence, changes] { book.printLandscapeOnePageWide(sheet) }
        return try book.finish()
    }

    /// An item as the sheets show it: the finding's id and title, and its playbook if known.
    struct Item {
        var id: String
        var title: String
        /// 상세설명: the playbook's description in the report's language, else the title.
        var description: String
        var book: Playbook?

        /// Items in the order they first appear in the findings.
        static func list(_ plans: [HostPlan], playbooks: [Playbook], language: ReportLanguage) -> [Item] {
            var seen = Set<String>()
            var result: [Item] = []
            for f in plans.flatMap(\.findings) where seen.insert(f.item).inserted {
                let book = playbooks.first { $0.id == f.item } ?? playbooks.first { $0.matches(f.item) }
                let title = language == .en ? (book?.titleEnglish ?? f.title) : f.title
                let description = (language == .en ? book?.descriptionEnglish : book?.description) ?? title
                result.append(Item(id: f.item, title: title, description: description, book: book))
            }
            return result
        }

        func scheme(_ s: Playbook.Scheme) -> String { book?.schemes[s] ?? "-" }
    }

    // MARK: - styles

    static let header = XLSXWorkbook.Style(fill: 0xEEEEEE, bold: true)
    static let plain = XLSXWorkbook.Style()
    static let wrapped = XLSXWorkbook.Style(wrap: true)

    /// The HTML report's colours (HTMLReport.style): background and text per status.
    public static func colors(_ s: Status) -> (fill: UInt32, font: UInt32) {
        switch s {
        case .pass: (0xE3F4E1, 0x1D6B1A)
        case .fail: (0xFDE2E1, 0xA4161A)
        case .notApplicable: (0xF0F0F0, 0x666666)
        case .error: (0xFFF1CC, 0x8A5A00)
        case .exception: (0xE6E9FB, 0x2B3A8C)
        case .review: (0xF3E5F5, 0x6A1B9A)
        }
    }

    static func style(_ s: Status) -> XLSXWorkbook.Style {
        let c = colors(s)
        return XLSXWorkbook.Style(fill: c.fill, font: c.font, bold: true)
    }

    static func writeHeader(_ book: XLSXWorkbook, _ sheet: XLSXWorkbook.Sheet, _ cells: [String]) {
        for (c, text) in cells.enumerated() { book.write(sheet, 0, c, text, header) }
    }

    // MARK: - sheets

    static func writeSummary(_ book: XLSXWorkbook, _ sheet: XLSXWorkbook.Sheet, _ items: [Item], _ plans: [HostPlan],
                             _ t: ReportText) {
        let schemes = Playbook.Scheme.allCases
        let first = 3 + schemes.count
        writeHeader(book, sheet, [t.itemID] + schemes.map(\.heading) + [t.assessmentItem, t.severity]
                    + ReportText.statusOrder.map(t.word))
        let findings = plans.flatMap(\.findings)
        for (r, item) in items.enumerated() {
            let row = r + 1
            book.write(sheet, row, 0, item.id)
            for (c, s) in schemes.enumerated() { book.write(sheet, row, 1 + c, item.scheme(s)) }
            book.write(sheet, row, 1 + schemes.count, item.title, wrapped)
            book.write(sheet, row, 2 + schemes.count, item.book.map { t.grade($0.severity) } ?? "-")
            let statuses = findings.filter { $0.item == item.id }.map(\.status)
            for (c, s) in ReportText.statusOrder.enumerated() {
                let n = statuses.filter { $0 == s }.count
                book.write(sheet, row, first + c, number: Double(n), n == 0 ? plain : style(s))
            }
        }
        book.setWidth(sheet, columns: 0...schemes.count, 11)
        book.setWidth(sheet, columns: (1 + schemes.count)...(1 + schemes.count), 42)
        book.setWidth(sheet, columns: (2 + schemes.count)...(first + ReportText.statusOrder.count - 1), 9)
        book.freeze(sheet, row: 1, column: 0)
        guard !items.isEmpty else { return }
        let series = ReportText.statusOrder.enumerated().map { c, s in
            XLSXWorkbook.Series(name: t.word(s), column: first + c, color: colors(s).font)
        }
        book.stackedBarChart(on: sheet, row: items.count + 2, column: 0, title: t.chartTitle, data: sheet, firstRow: 1,
                             lastRow: items.count, categoryColumn: 0, series: series, height: 120 + 28 * items.count)
    }

    static func leadingColumns(_ t: ReportText) -> [String] {
        [t.itemID, t.category, t.assessmentItem, t.itemDescription, t.severity, t.appliesTo]
    }

    static func leading(_ item: Item, _ t: ReportText) -> [String] {
        let mtas = item.book?.mtas ?? []
        return [item.id, mtas.count == 1 ? mtas[0] : t.mailService, item.title,
                item.description, item.book.map { t.grade($0.severity) } ?? "-",
                item.book?.appliesTo.joined(separator: ", ") ?? "-"]
    }

    /// The status of `item` on the host, or nil when the host has no finding for it (오류 when
    /// the host could not be judged at all).
    static func status(_ plan: HostPlan, _ item: String) -> Status? {
        if let f = plan.findings.first(where: { $0.item == item }) { return f.status }
        return plan.findings.isEmpty && plan.error != nil ? .error : nil
    }

    static func writeResultsWide(_ book: XLSXWorkbook, _ sheet: XLSXWorkbook.Sheet, _ items: [Item], _ plans: [HostPlan],
                                 _ t: ReportText) {
        let lead = leadingColumns(t)
        writeHeader(book, sheet, lead + plans.map(\.host))
        for (r, item) in items.enumerated() {
            for (c, text) in leading(item, t).enumerated() { book.write(sheet, r + 1, c, text, c == 2 || c == 3 ? wrapped : plain) }
            for (h, plan) in plans.enumerated() {
                if let s = status(plan, item.id) {
                    book.write(sheet, r + 1, lead.count + h, t.word(s), style(s))
                } else {
                    book.write(sheet, r + 1, lead.count + h, "-")
                }
            }
        }
        book.setWidth(sheet, columns: 0...1, 11)
        book.setWidth(sheet, columns: 2...3, 40)
        book.setWidth(sheet, columns: 4...4, 8)
        book.setWidth(sheet, columns: 5...5, 22)
        if !plans.isEmpty { book.setWidth(sheet, columns: lead.count...(lead.count + plans.count - 1), 16) }
        book.freeze(sheet, row: 1, column: 1)
        book.autofilter(sheet, firstRow: 0, firstColumn: 0, lastRow: items.count, lastColumn: lead.count + plans.count - 1)
    }

    static func writeResultsLong(_ book: XLSXWorkbook, _ sheet: XLSXWorkbook.Sheet, _ items: [Item], _ plans: [HostPlan],
                                 _ t: ReportText) {
        let schemes = Playbook.Scheme.allCases
        let heading = [t.host, t.itemID] + schemes.map(\.heading) + [t.assessmentItem, t.severity, t.status]
        writeHeader(book, sheet, heading)
        var row = 1
        for plan in plans {
            for item in items {
                guard let s = status(plan, item.id) else { continue }
                let cells = [plan.host, item.id] + schemes.map(item.scheme)
                    + [item.title, item.book.map { t.grade($0.severity) } ?? "-"]
                for (c, text) in cells.enumerated() { book.write(sheet, row, c, text) }
                book.write(sheet, row, cells.count, t.word(s), style(s))
                row += 1
            }
        }
        book.setWidth(sheet, columns: 0...0, 24)
        book.setWidth(sheet, columns: 1...schemes.count + 1, 11)
        book.setWidth(sheet, columns: (schemes.count + 2)...(schemes.count + 2), 40)
        book.freeze(sheet, row: 1, column: 1)
        book.autofilter(sheet, firstRow: 0, firstColumn: 0, lastRow: max(row - 1, 0), lastColumn: heading.count - 1)
    }

    static func writeEvidence(_ book: XLSXWorkbook, _ sheet: XLSXWorkbook.Sheet, _ plans: [HostPlan], _ t: ReportText) {
        let heading = [t.host, t.item, t.status, t.mta, t.file, t.line, t.setting, t.evidence, t.note, t.exception]
        writeHeader(book, sheet, heading)
        var row = 1
        func put(_ host: String, _ item: String, _ status: Status, _ mta: String, _ file: String, _ line: Int?,
                 _ setting: String, _ text: String, _ note: String, _ exception: String) {
            book.write(sheet, row, 0, host)
            book.write(sheet, row, 1, item)
            book.write(sheet, row, 2, t.word(status), style(status))
            book.write(sheet, row, 3, mta)
            book.write(sheet, row, 4, file)
            if let line { book.write(sheet, row, 5, number: Double(line)) } else { book.write(sheet, row, 5, "") }
            book.write(sheet, row, 6, setting)
            book.write(sheet, row, 7, text, wrapped)
            book.write(sheet, row, 8, note, wrapped)
            book.write(sheet, row, 9, exception, wrapped)
            row += 1
        }
        for plan in plans {
            if plan.findings.isEmpty, let error = plan.error {
                put(plan.host, "-", .error, "", error.file ?? "", error.line, "", "", error.withoutHost.description, "")
            }
            for f in plan.findings {
                let excepted = f.exception.map(t.describe) ?? ""
                if f.evidence.isEmpty { put(plan.host, f.item, f.status, "", "", nil, "", "", "", excepted) }
                for e in f.evidence {
                    var tags: [String] = []
                    if e.status != f.status && f.exception == nil { tags.append("\(t.thisFile): \(t.word(e.status))") }
                    if e.advisory { tags.append(t.advisory) }
                    let note = tags.isEmpty ? e.note : "[\(tags.joined(separator: ", "))] \(e.note)"
                    put(plan.host, f.item, f.status, e.mta, e.file, e.line, e.setting ?? "", e.text, note, excepted)
                }
            }
        }
        book.setWidth(sheet, columns: 0...0, 22)
        book.setWidth(sheet, columns: 1...3, 10)
        book.setWidth(sheet, columns: 4...4, 28)
        book.setWidth(sheet, columns: 5...5, 6)
        book.setWidth(sheet, columns: 6...6, 24)
        book.setWidth(sheet, columns: 7...9, 48)
        book.freeze(sheet, row: 1, column: 0)
        book.autofilter(sheet, firstRow: 0, firstColumn: 0, lastRow: max(row - 1, 0), lastColumn: heading.count - 1)
    }

    static func writeChanges(_ book: XLSXWorkbook, _ sheet: XLSXWorkbook.Sheet, _ runs: [Manifest], _ t: ReportText) {
        let heading = [t.run, t.started, t.finished, t.command, t.user, t.outcome, t.hosts, t.files, t.rolledBack]
        writeHeader(book, sheet, heading)
        for (r, run) in runs.enumerated() {
            let hosts = run.hosts.map { h in
                "\(h.name): \(h.outcome.rawValue)" + (h.message.map { $0.isEmpty ? "" : " (\($0))" } ?? "")
            }
            let files = run.hosts.flatMap { h in
                h.files.map { "\(h.name): \($0.path) (\($0.items.joined(separator: ", ")); \($0.state.rawValue))" }
            }
            var rolled = "-"
            if let of = run.rollbackOf {
                rolled = "\(t.rollbackOf): \(of)"
            } else if let by = runs.first(where: { $0.rollbackOf == run.id }) {
                rolled = "\(t.rolledBackBy): \(by.id)"
            }
            let cells = [run.id, HTMLReport.local(run.started), run.finished.map(HTMLReport.local) ?? "-", run.command,
                         run.user ?? "-", run.state, hosts.joined(separator: "\n"), files.joined(separator: "\n"), rolled]
            for (c, text) in cells.enumerated() { book.write(sheet, r + 1, c, text, c >= 6 ? wrapped : plain) }
        }
        book.setWidth(sheet, columns: 0...2, 24)
        book.setWidth(sheet, columns: 3...3, 30)
        book.setWidth(sheet, columns: 4...5, 12)
        book.setWidth(sheet, columns: 6...7, 48)
        book.setWidth(sheet, columns: 8...8, 30)
        book.freeze(sheet, row: 1, column: 0)
        book.autofilter(sheet, firstRow: 0, firstColumn: 0, lastRow: max(runs.count, 0), lastColumn: heading.count - 1)
    }
}
