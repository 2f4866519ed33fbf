import Foundation

/// The HTML report's summary chart: one stacked bar per item of how many hosts are
/// 양호/취약/해당 없음/오류/예외, with a legend, as inline SVG (no script, no external resource,
/// no namespace URL: HTML parses inline `<svg>` without one). Colours are the status text
/// colours of `HTMLReport.style`, as the workbook's chart uses them (`XLSXReport.colors`).
enum HTMLChart {
    static let sectionID = "summary-chart"

    static let labelWidth = 90
    static let barWidth = 520
    static let rowHeight = 24
    static let barHeight = 16

    static func section(_ plans: [HostPlan], _ t: ReportText) -> String {
        "<section id=\"\(sectionID)\">\n<h2>\(HTMLReport.escape(t.chartTitle))</h2>\n\(svg(plans, t))</section>\n"
    }

    static func hex(_ color: UInt32) -> String { String(format: "#%06x", color) }

    static func svg(_ plans: [HostPlan], _ t: ReportText) -> String {
        let items = HTMLReport.items(plans)
        let findings = plans.flatMap(\.findings)
        let counts = items.map { item in
            ReportText.statusOrder.map { s in findings.filter { $0.item == item.id && $0.status == s }.count }
        }
        let most = max(counts.map { $0.reduce(0, +) }.max() ?? 0, 1)
        let legendY = items.count * rowHeight + 12
        let width = labelWidth + barWidth + 40
        let height = legendY + 28
        var out = "<svg class=\"chart\" role=\"img\" width=\"\(width)\" height=\"\(height)\" viewBox=\"0 0 \(width) \(height)\">\n"
        out += "<title>\(HTMLReport.escape(t.chartTitle))</title>\n"
        for (row, item) in items.enumerated() {
            let y = row * rowHeight
            out += "<g class=\"bar\" data-item=\"\(HTMLReport.escape(item.id))\">"
            out += "<text x=\"0\" y=\"\(y + barHeight - 3)\">\(HTMLReport.escape(item.id))</text>"
            var x = labelWidth
            for (s, n) in zip(ReportText.statusOrder, counts[row]) where n > 0 {
                let w = n * barWidth / most
                out += "<rect class=\"\(HTMLReport.cssClass(s))\" x=\"\(x)\" y=\"\(y)\" width=\"\(w)\" height=\"\(barHeight)\""
                out += " fill=\"\(hex(XLSXReport.colors(s).font))\"><title>\(HTMLReport.escape("\(item.id) \(t.word(s)): \(n)"))</title></rect>"
                x += w
            }
            out += "<text x=\"\(x + 4)\" y=\"\(y + barHeight - 3)\">\(counts[row].reduce(0, +))</text></g>\n"
        }
        out += "<g class=\"legend\">"
        var x = 0
        for s in ReportText.statusOrder {
            let word = t.word(s)
            out += "<rect x=\"\(x)\" y=\"\(legendY)\" width=\"12\" height=\"12\" fill=\"\(hex(XLSXReport.colors(s).font))\"></rect>"
            out += "<text x=\"\(x + 16)\" y=\"\(legendY + 11)\">\(HTMLReport.escape(word))</text>"
            x += 16 + 14 * word.count + 18
        }
        out += "</g>\n</svg>\n"
        return out
    }
}
