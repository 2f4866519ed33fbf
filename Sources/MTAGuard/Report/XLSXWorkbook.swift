import CXlsxwriter
import Foundation

/// The one door to libxlsxwriter: a workbook of sheets whose cells are plain strings or
/// numbers (never formulas: every text goes through `worksheet_write_string`), cell styles,
/// frozen panes, autofilters and native stacked-bar charts. `finish()` returns the xlsx bytes.
///
/// libxlsxwriter 1.1.4 writes only to a file, so the workbook lives in a private temporary
/// folder that `finish()` reads back and removes. Not thread-safe; build one per report.
final class XLSXWorkbook {
    /// A cell's look: fill and font colours (0xRRGGBB), bold, wrapped text.
    struct Style: Hashable {
        var fill: UInt32?
        var font: UInt32?
        var bold = false
        var wrap = false
        var border = true
    }

    /// A series of a stacked-bar chart: its name and its values, one column of a sheet.
    struct Series {
        var name: String
        var column: Int
        var color: UInt32
    }

    /// One sheet; its row and column numbers start at 0.
    struct Sheet {
        fileprivate let pointer: UnsafeMutablePointer<lxw_worksheet>
        let name: String
    }

    /// Excel's limit on a cell's text; longer text is cut with a mark.
    static let maxCellText = 32_767

    private let folder: String
    private let path: String
    private var workbook: UnsafeMutablePointer<lxw_workbook>?
    private var formats: [Style: UnsafeMutablePointer<lxw_format>] = [:]
    private var failure: String?
    /// Per sheet: its column widths and the wrapped text of each row, to fit the rows' heights.
    private var layouts: [String: RowLayout] = [:]

    /// What `fitRows` needs of a sheet: neither libxlsxwriter nor every reader (LibreOffice)
    /// grows a row to its wrapped text, so a wrapped description would show one line of several.
    private struct RowLayout {
        let sheet: Sheet
        var widths: [Int: Double] = [:]
        var wrapped: [Int: [(column: Int, text: String)]] = [:]
    }

    init() throws {
        var template = Array((NSTemporaryDirectory() + "mtaguard-xlsx-XXXXXX").utf8CString)
        guard let made = template.withUnsafeMutableBufferPointer({ mkdtemp($0.baseAddress!) }) else {
            throw MTAGuardError("cannot make a temporary folder for the workbook: \(String(cString: strerror(errno)))")
        }
        folder = String(cString: made)
        path = folder + "/report.xlsx"
        guard let wb = workbook_new(path) else {
            try? FileManager.default.removeItem(atPath: folder)
            throw MTAGuardError("libxlsxwriter could not start a workbook")
        }
        workbook = wb
    }

    deinit {
        if let workbook { _ = workbook_close(workbook) }
        try? FileManager.default.removeItem(atPath: folder)
    }

    func addSheet(_ name: String) -> Sheet? {
        guard let workbook, let ws = workbook_add_worksheet(workbook, name) else {
            note("cannot add the sheet '\(name)'")
            return nil
        }
        return Sheet(pointer: ws, name: name)
    }

    // MARK: - cells

    func write(_ sheet: Sheet, _ row: Int, _ column: Int, _ text: String, _ style: Style = Style()) {
        var text = text.replacingOccurrences(of: "\0", with: "\u{FFFD}")
        if text.utf16.count > Self.maxCellText {
            text = String(text.utf16.prefix(Self.maxCellText - 1)).map { $0 + "…" } ?? String(text.prefix(Self.maxCellText / 2))
        }
        let error = worksheet_write_string(sheet.pointer, lxw_row_t(row), lxw_col_t(column), text, format(style))
        check(error, "cell \(row),\(column) of '\(sheet.name)'")
        if style.wrap { layouts[sheet.name, default: RowLayout(sheet: sheet)].wrapped[row, default: []].append((column, text)) }
    }

    func write(_ sheet: Sheet, _ row: Int, _ column: Int, number: Double, _ style: Style = Style()) {
        check(worksheet_write_number(sheet.pointer, lxw_row_t(row), lxw_col_t(column), number, format(style)),
              "cell \(row),\(column) of '\(sheet.name)'")
    }

    func setWidth(_ sheet: Sheet, columns: ClosedRange<Int>, _ width: Double) {
        check(worksheet_set_column(sheet.pointer, lxw_col_t(columns.lowerBound), lxw_col_t(columns.upperBound), width, nil),
              "column widths of '\(sheet.name)'")
        for c in columns { layouts[sheet.name, default: RowLayout(sheet: sheet)].widths[c] = width }
    }

    /// Keeps the rows above `row` and the columns left of `column` in view.
    func freeze(_ sheet: Sheet, row: Int, column: Int) {
        worksheet_freeze_panes(sheet.pointer, lxw_row_t(row), lxw_col_t(column))
    }

    func autofilter(_ sheet: Sheet, firstRow: Int, firstColumn: Int, lastRow: Int, lastColumn: Int) {
        check(worksheet_autofilter(sheet.pointer, lxw_row_t(firstRow), lxw_col_t(firstColumn),
                                   lxw_row_t(lastRow), lxw_col_t(lastColumn)), "autofilter of '\(sheet.name)'")
    }

    /// Prints the sheet landscape, as wide as one page (as many pages down as it takes).
    func printLandscapeOnePageWide(_ sheet: Sheet) {
        worksheet_set_landscape(sheet.pointer)
        worksheet_fit_to_pages(sheet.pointer, 1, 0)
    }

    // MARK: - charts

    /// A stacked-bar chart at (`row`, `column`) of `sheet`: categories from `categoryColumn`,
    /// one series per entry of `series`, over `firstRow...lastRow` of `data`.
    func stackedBarChart(on sheet: Sheet, row: Int, column: Int, title: String, data: Sheet, firstRow: Int, lastRow: Int,
                         categoryColumn: Int, series: [Series], height: Int) {
        guard let workbook, let chart = workbook_add_chart(workbook, UInt8(LXW_CHART_BAR_STACKED.rawValue)) else {
            note("cannot add a chart")
            return
        }
        chart_title_set_name(chart, title)
        for s in series {
            guard let added = chart_add_series(chart, nil, nil) else { continue }
            chart_series_set_categories(added, data.name, lxw_row_t(firstRow), lxw_col_t(categoryColumn),
                                        lxw_row_t(lastRow), lxw_col_t(categoryColumn))
            chart_series_set_values(added, data.name, lxw_row_t(firstRow), lxw_col_t(s.column),
                                    lxw_row_t(lastRow), lxw_col_t(s.column))
            chart_series_set_name(added, s.name)
            var fill = lxw_chart_fill(color: s.color, none: 0, transparency: 0)
            chart_series_set_fill(added, &fill)
        }
        // Bars top to bottom in the table's order (Excel draws the first category at the bottom;
        // in a bar chart y_axis is the vertical, category axis).
        chart_axis_set_reverse(chart.pointee.y_axis)
        chart_legend_set_position(chart, UInt8(LXW_CHART_LEGEND_BOTTOM.rawValue))
        chart_set_series_gap(chart, 60)
        var options = lxw_chart_options()
        options.x_scale = 1.6
        options.y_scale = max(1.0, Double(height) / 288.0)
        check(worksheet_insert_chart_opt(sheet.pointer, lxw_row_t(row), lxw_col_t(column), chart, &options),
              "chart on '\(sheet.name)'")
    }

    // MARK: - finish

    /// Closes the workbook and returns its bytes; throws the first thing that went wrong.
    func finish() throws -> Data {
        guard let wb = workbook else { throw MTAGuardError("the workbook is already finished") }
        fitRows()
        workbook = nil
        let error = workbook_close(wb)
        if let failure { throw MTAGuardError("cannot write the workbook: \(failure)") }
        guard error == LXW_NO_ERROR else {
            throw MTAGuardError("cannot write the workbook: \(String(cString: lxw_strerror(error)))")
        }
        return try Data(contentsOf: URL(fileURLWithPath: path))
    }

    // MARK: - pieces

    /// One line of wrapped text, in points: Excel's row for an 11-point Korean font (맑은 고딕).
    static let lineHeight = 16.5
    /// Excel's tallest row (409 points).
    static let maxLines = 27

    /// How many lines `text` takes wrapped in a column `width` characters wide: a Hangul or
    /// CJK character is as wide as two.
    static func lines(_ text: String, width: Double) -> Int {
        let perLine = max(1, Int(width.rounded(.down)) - 1)
        let count = text.split(separator: "\n", omittingEmptySubsequences: false).reduce(0) { total, line in
            total + max(1, (DisplayWidth.columns(line) + perLine - 1) / perLine)
        }
        return min(count, maxLines)
    }

    /// Sets each row holding wrapped text as tall as its longest cell needs.
    private func fitRows() {
        for layout in layouts.values {
            for (row, cells) in layout.wrapped {
                let needed = cells.map { Self.lines($0.text, width: layout.widths[$0.column] ?? 8.43) }.max() ?? 1
                guard needed > 1 else { continue }
                check(worksheet_set_row(layout.sheet.pointer, lxw_row_t(row), Self.lineHeight * Double(needed), nil),
                      "the height of row \(row) of '\(layout.sheet.name)'")
            }
        }
    }

    private func format(_ style: Style) -> UnsafeMutablePointer<lxw_format>? {
        if let f = formats[style] { return f }
        guard let workbook, let f = workbook_add_format(workbook) else { return nil }
        if let fill = style.fill { format_set_bg_color(f, fill) }
        if let font = style.font { format_set_font_color(f, font) }
        if style.bold { format_set_bold(f) }
        if style.wrap { format_set_text_wrap(f) }
        format_set_align(f, UInt8(LXW_ALIGN_VERTICAL_TOP.rawValue))
        if style.border {
            format_set_border(f, UInt8(LXW_BORDER_THIN.rawValue))
            format_set_border_color(f, 0xBBBBBB)
        }
        formats[style] = f
        return f
    }

    private func check(_ error: lxw_error, _ what: String) {
        guard error != LXW_NO_ERROR else { return }
        note("\(what): \(String(cString: lxw_strerror(error)))")
    }

    private func note(_ message: String) {
        if failure == nil { failure = message }
    }
}
