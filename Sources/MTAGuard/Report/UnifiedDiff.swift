import Foundation

/// A unified diff (`diff -u` format, three lines of context) between two versions of a file.
public enum UnifiedDiff {
    /// `nil` when the two are the same. Headers read `--- a/PATH` and `+++ b/PATH`.
    public static func make(path: String, old: Data, new: Data, context: Int = 3) -> String? {
        guard old != new else { return nil }
        let a = lines(old)
        let b = lines(new)
        let ops = myers(a.map(\.key), b.map(\.key))
        let relative = path.hasPrefix("/") ? String(path.dropFirst()) : path
        var out = "--- a/\(relative)\n+++ b/\(relative)\n"
        for hunk in hunks(ops, context: context) {
            let oldStart = hunk.first.map { $0.oldIndex } ?? 0
            let newStart = hunk.first.map { $0.newIndex } ?? 0
            let oldCount = hunk.filter { $0.kind != .insert }.count
            let newCount = hunk.filter { $0.kind != .delete }.count
            out += "@@ -\(range(oldStart, oldCount)) +\(range(newStart, newCount)) @@\n"
            for op in hunk {
                let line: Line
                let mark: String
                switch op.kind {
                case .equal: line = a[op.oldIndex]; mark = " "
                case .delete: line = a[op.oldIndex]; mark = "-"
                case .insert: line = b[op.newIndex]; mark = "+"
                }
                out += mark + line.text + "\n"
                if !line.hasNewline { out += "\\ No newline at end of file\n" }
            }
        }
        return out
    }

    private struct Line {
        var text: String
        var hasNewline: Bool
        /// A last line without its newline differs from the same text with one.
        var key: String { hasNewline ? text : text + "\u{0}" }
    }

    private static func lines(_ data: Data) -> [Line] {
        var result: [Line] = []
        var start = data.startIndex
        for i in data.indices where data[i] == 0x0A {
            result.append(Line(text: String(decoding: data[start..<i], as: UTF8.self), hasNewline: true))
            start = i + 1
        }
        if start < data.endIndex {
            result.append(Line(text: String(decoding: data[start...], as: UTF8.self), hasNewline: false))
        }
        return result
    }

    private static func range(_ start: Int, _ count: Int) -> String {
        let first = count == 0 ? start : start + 1
        return count == 1 ? "\(first)" : "\(first),\(count)"
    }

    struct Op {
        enum Kind { case equal, delete, insert }
        var kind: Kind
        var oldIndex: Int
        var newIndex: Int
    }

    /// Myers' O(ND) shortest edit script, with common prefix and suffix trimmed first so that
    /// the usual one-line change of a large file costs next to nothing.
    static func myers(_ a: [String], _ b: [String]) -> [Op] {
        var prefix = 0
        while prefix < a.count, prefix < b.count, a[prefix] == b[prefix] { prefix += 1 }
        var suffix = 0
        while suffix < a.count - prefix, suffix < b.count - prefix,
            a[a.count - 1 - suffix] == b[b.count - 1 - suffix]
        {
            suffix += 1
        }
        let ma = Array(a[prefix..<(a.count - suffix)])
        let mb = Array(b[prefix..<(b.count - suffix)])
        var ops: [Op] = (0..<prefix).map { Op(kind: .equal, oldIndex: $0, newIndex: $0) }
        for op in middle(ma, mb) {
            ops.append(Op(kind: op.kind, oldIndex: op.oldIndex + prefix, newIndex: op.newIndex + prefix))
        }
        for k in 0..<suffix {
            ops.append(Op(kind: .equal, oldIndex: a.count - suffix + k, newIndex: b.count - suffix + k))
        }
        return ops
    }

    private static func middle(_ a: [String], _ b: [String]) -> [Op] {
        let n = a.count, m = b.count
        if n == 0 { return (0..<m).map { Op(kind: .insert, oldIndex: 0, newIndex: $0) } }
        if m == 0 { return (0..<n).map { Op(kind: .delete, oldIndex: $0, newIndex: 0) } }
        let max = n + m
        let offset = max
        var v = [Int](repeating: 0, count: 2 * max + 2)
        var trace: [[Int]] = []
        outer: for d in 0...max {
            trace.append(v)
            for k in stride(from: -d, through: d, by: 2) {
                var x: Int
                if k == -d || (k != d && v[offset + k - 1] < v[offset + k + 1]) {
                    x = v[offset + k + 1]
                } else {
                    x = v[offset + k - 1] + 1
                }
                var y = x - k
                while x < n, y < m, a[x] == b[y] {
                    x += 1
                    y += 1
                }
                v[offset + k] = x
                if x >= n, y >= m { break outer }
            }
        }
        // Walk the trace back from (n, m).
        var ops: [Op] = []
        var x = n, y = m
        for d in stride(from: trace.count - 1, through: 0, by: -1) {
            let v = trace[d]
            let k = x - y
            let prevK: Int
            if k == -d || (k != d && v[offset + k - 1] < v[offset + k + 1]) {
                prevK = k + 1
            } else {
                prevK = k - 1
            }
            let prevX = v[offset + prevK]
            let prevY = prevX - prevK
            while x > prevX, y > prevY {
                x -= 1
                y -= 1
                ops.append(Op(kind: .equal, oldIndex: x, newIndex: y))
            }
            if d > 0 {
                if x == prevX {
                    y -= 1
                    ops.append(Op(kind: .insert, oldIndex: x, newIndex: y))
                } else {
                    x -= 1
                    ops.append(Op(kind: .delete, oldIndex: x, newIndex: y))
                }
            }
        }
        return ops.reversed()
    }

    private static func hunks(_ ops: [Op], context: Int) -> [[Op]] {
        let changed = ops.indices.filter { ops[$0].kind != .equal }
        guard !changed.isEmpty else { return [] }
        var groups: [ClosedRange<Int>] = []
        for i in changed {
            let lo = Swift.max(0, i - context), hi = Swift.min(ops.count - 1, i + context)
            if let last = groups.last, lo <= last.upperBound + 1 {
                groups[groups.count - 1] = last.lowerBound...Swift.max(hi, last.upperBound)
            } else {
                groups.append(lo...hi)
            }
        }
        return groups.map { Array(ops[$0]) }
    }
}
