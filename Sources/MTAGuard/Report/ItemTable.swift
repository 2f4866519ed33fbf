import Foundation

/// `mtaguard items` (and `playbooks list`): every item with its number in each scheme, its
/// title in Korean and English, 중요도, the MTAs it covers and the OS families it applies to.
public enum ItemTable {
    struct Row: Encodable {
        var id: String
        var schemes: [String: String]
        var title: String
        var titleEnglish: String?
        var description: String?
        var descriptionEnglish: String?
        var severity: String
        var mtas: [String]
        var os: [String]
    }

    /// 상/중/하, as the assessments write 중요도.
    public static func grade(_ severity: Playbook.Severity) -> String {
        switch severity {
        case .high: "상"
        case .medium: "중"
        case .low: "하"
        }
    }

    public static func text(_ books: [Playbook]) -> String {
        var rows = [Playbook.Scheme.allCases.map(\.heading) + ["중요도", "title", "MTAs", "OS"]]
        for b in books {
            rows.append(
                Playbook.Scheme.allCases.map { b.schemes[$0] ?? "-" }
                    + [grade(b.severity), b.title + (b.titleEnglish.map { " / " + $0 } ?? ""),
                       b.mtas.joined(separator: ","), b.appliesTo.joined(separator: ",")])
        }
        func width(_ s: String) -> Int { DisplayWidth.columns(s) }
        let widths = rows[0].indices.map { c in rows.map { width($0[c]) }.max() ?? 0 }
        return rows.map { row in
            row.enumerated().map { c, cell in
                c == row.count - 1 ? cell : cell + String(repeating: " ", count: widths[c] - width(cell))
            }.joined(separator: "  ")
        }.joined(separator: "\n") + "\n"
    }

    public static func json(_ books: [Playbook]) -> String {
        let rows = books.map { b in
            Row(
                id: b.id, schemes: Dictionary(uniqueKeysWithValues: b.schemes.map { ($0.key.rawValue, $0.value) }),
                title: b.title, titleEnglish: b.titleEnglish, description: b.description,
                descriptionEnglish: b.descriptionEnglish, severity: grade(b.severity), mtas: b.mtas, os: b.appliesTo)
        }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        return String(decoding: (try? encoder.encode(rows)) ?? Data("[]".utf8), as: UTF8.self) + "\n"
    }
}
