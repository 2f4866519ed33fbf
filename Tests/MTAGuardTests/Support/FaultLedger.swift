import Foundation
import Testing

/// What the fault-injection tests prove, for `make faults` / `make test` to add up into the
/// README's table. Each record is one line in its own file under `$MTAGUARD_FAULTS_DIR`
/// (nothing is written when that is unset, e.g. under a bare `swift test`).
///
/// A record is written by the test after it has checked the guarantee itself: the ledger
/// counts, it never decides. `bytesLost` is measured, not assumed: compare what a file holds
/// after the fault (and recovery) with what it must hold.
enum FaultLedger {
    enum Kind: String { case fault, input, property }

    /// - Parameters:
    ///   - kind: `.fault` (something broke on a host or the control node), `.input`
    ///     (a hostile or broken input), `.property` (one generated case of a property test).
    ///   - name: a short label, e.g. "SIGKILL after journal write".
    ///   - hosts: hosts the fault was aimed at (0 for inputs refused before any host).
    ///   - survived: of those, hosts left untouched or fully changed and recoverable.
    ///   - bytesLost: bytes of configuration that differ from what they must be.
    static func record(_ kind: Kind, _ name: String, hosts: Int = 1, survived: Int = 1, bytesLost: Int = 0) {
        guard let dir = ProcessInfo.processInfo.environment["MTAGUARD_FAULTS_DIR"], !dir.isEmpty else { return }
        let clean = name.replacingOccurrences(of: "\t", with: " ").replacingOccurrences(of: "\n", with: " ")
        let line = "\(kind.rawValue)\t\(clean)\t\(hosts)\t\(survived)\t\(bytesLost)\n"
        try? FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let file = dir + "/" + UUID().uuidString + ".tsv"
        // A record that cannot be written must not quietly drop out of the table.
        if !FileManager.default.createFile(atPath: file, contents: Data(line.utf8)) {
            Issue.record("cannot write the fault record \(file)")
        }
    }

    /// Bytes that differ between what a file must hold and what it holds: mismatched
    /// positions plus the difference in length.
    static func bytesLost(expected: Data, actual: Data) -> Int {
        let e = [UInt8](expected), a = [UInt8](actual)
        var lost = abs(e.count - a.count)
        for i in 0..<min(e.count, a.count) where e[i] != a[i] { lost += 1 }
        return lost
    }

    static func bytesLost(expectedFile: String, actualFile: String) -> Int {
        let e = (try? Data(contentsOf: URL(fileURLWithPath: expectedFile))) ?? Data()
        let a = (try? Data(contentsOf: URL(fileURLWithPath: actualFile))) ?? Data()
        return bytesLost(expected: e, actual: a)
    }
}
