import Crypto
import Foundation

/// Keeps a copy of every script mtaguard runs on a host when `MTAGUARD_SCRIPT_DUMP` names a
/// folder, so that the test suite can hand each one to `shellcheck -s sh`
/// (`Tests/scripts/shellcheck.sh`). Inert when the variable is unset. Scripts that differ only
/// by their random nonce are one file, named by the digest of the text with the nonce masked.
enum ScriptRecorder {
    static let folder: String? = {
        let f = ProcessInfo.processInfo.environment["MTAGUARD_SCRIPT_DUMP"] ?? ""
        return f.isEmpty ? nil : f
    }()

    static func record(_ script: ShellCode) {
        guard let folder else { return }
        let masked = script.text.replacing(/@@[0-9a-f]{16}/, with: "@@NONCE")
            .replacing(/mtaguard-[0-9a-f]{16}/, with: "mtaguard-NONCE")
        let name = SHA256.hash(data: Data(masked.utf8)).prefix(12).map { String(format: "%02x", $0) }.joined()
        let path = folder + "/" + name + ".sh"
        guard !FileManager.default.fileExists(atPath: path) else { return }
        try? FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        try? Data(masked.utf8).write(to: URL(fileURLWithPath: path), options: .atomic)
    }
}
