import Foundation

/// Verdicts as a spreadsheet: RFC 4180 CSV (CRLF rows, fields with a comma, quote, CR or LF
/// quoted, quotes doubled), UTF-8 with a byte-order mark so that Excel reads Korean correctly.
///
/// One row per host × item × evidence:
/// host, item, title, status, mta, file, line, evidence text, note, setting (the setting the row
/// is about in the MTA's own words; last, so the columns before it keep their places).
/// `status` is the item's verdict on the host (양호/취약/해당 없음/오류, or Pass/Fail/N/A/Error),
/// repeated on each of its evidence rows; when one file's own status differs from it, or the
/// file is advisory, the note says so first ("[이 파일: 양호, 참고용] …").
/// An item with no evidence gets one row with empty file columns; a host that could not be
/// judged at all (no findings) gets one row with item "-", status 오류 and the error as note.
///
/// Cells that a spreadsheet would run as a formula (starting with =, +, @, a tab or CR, or with
/// - followed by more text) get a leading apostrophe: evidence is text read from the hosts, and
/// a hostile config line must not become a formula on the auditor's machine.
public enum CSVReport {
    public static let byteOrderMark = "\u{FEFF}"

    public static func render(_ plans: [HostPlan], language: ReportLanguage) -> String {
        let t = language.text
        var rows: [[String]] = [[t.host, t.item, t.itemTitle, t.status, t.mta, t.file, t.line, t.evidence, t.note, t.setting]]
        for plan in plans {
            if plan.findings.isEmpty {
                if let error = plan.error {
                    rows.append([plan.host, "-", "", t.word(.error), "", error.file ?? "", error.line.map(String.init) ?? "", "",
                                 error.withoutHost.description, ""])
                }
                continue
            }
            for f in plan.findings {
                let excepted = f.exception.map { "[\(t.describe($0))] " } ?? ""
                if f.evidence.isEmpty {
                    rows.append([plan.host, f.item, f.title, t.word(f.status), "", "", "", "", excepted, ""])
                }
                for e in f.evidence {
                    var tags: [String] = []
                    if e.status != f.status && f.exception == nil { tags.append("\(t.thisFile): \(t.word(e.status))") }
                    if e.advisory { tags.append(t.advisory) }
                    let note = excepted + (tags.isEmpty ? e.note : "[\(tags.joined(separator: ", "))] \(e.note)")
                    rows.append([plan.host, f.item, f.title, t.word(f.status), e.mta, e.file,
                                 e.line.map(String.init) ?? "", e.text, note, e.setting ?? ""])
                }
            }
        }
        return byteOrderMark + rows.map { $0.map(field).joined(separator: ",") + "\r\n" }.joined()
    }

    /// One field, neutralised against formulas and quoted when RFC 4180 requires it.
    public static func field(_ value: String) -> String {
        var v = value
        if let first = v.first, "=+@\t\r".contains(first) || (first == "-" && v.count > 1) {
            v = "'" + v
        }
        guard v.contains(where: { $0 == "," || $0 == "\"" || $0 == "\r" || $0 == "\n" || $0 == "\r\n" }) else { return v }
        return "\"" + v.replacingOccurrences(of: "\"", with: "\"\"") + "\""
    }
}
