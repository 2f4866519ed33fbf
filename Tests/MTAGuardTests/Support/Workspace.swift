import Foundation
import Testing

/// The repository, its fixtures and the built binary, as the end-to-end tests see them.
enum Repo {
    static let root: String = {
        var url = URL(fileURLWithPath: #filePath)
        for _ in 0..<4 { url.deleteLastPathComponent() }  // Support, MTAGuardTests, Tests
        return url.path
    }()

    static func fixture(_ relative: String) -> String { root + "/Tests/Fixtures/" + relative }

    static func fixtureData(_ relative: String) throws -> Data {
        try Data(contentsOf: URL(fileURLWithPath: fixture(relative)))
    }

    static var playbooks: String { root + "/playbooks" }

    /// The `mtaguard` binary `swift build` made (MTAGUARD_BIN overrides).
    static var binary: String {
        if let env = ProcessInfo.processInfo.environment["MTAGUARD_BIN"] { return env }
        for candidate in [".build/debug/mtaguard", ".build/x86_64-unknown-linux-gnu/debug/mtaguard",
                          ".build/aarch64-unknown-linux-gnu/debug/mtaguard"] {
            let path = root + "/" + candidate
            if FileManager.default.isExecutableFile(atPath: path) { return path }
        }
        return root + "/.build/debug/mtaguard"
    }
}

/// A private temporary folder, removed by `remove()`; tests `defer` it.
struct TempDir {
    let path: String

    init(_ label: String = "t") throws {
        var template = Array((NSTemporaryDirectory() + "mtaguard-\(label)-XXXXXX").utf8CString)
        guard let p = template.withUnsafeMutableBufferPointer({ mkdtemp($0.baseAddress!) }) else {
            throw CocoaError(.fileWriteUnknown)
        }
        path = String(cString: p)
    }

    func remove() { try? FileManager.default.removeItem(atPath: path) }

    /// Writes `data` at `relative` (folders created), optionally with a mode.
    @discardableResult
    func write(_ relative: String, _ data: Data, mode: Int? = nil) throws -> String {
        let full = path + "/" + relative
        try FileManager.default.createDirectory(
            atPath: (full as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        try data.write(to: URL(fileURLWithPath: full))
        if let mode { try FileManager.default.setAttributes([.posixPermissions: mode], ofItemAtPath: full) }
        return full
    }

    @discardableResult
    func write(_ relative: String, _ text: String, mode: Int? = nil) throws -> String {
        try write(relative, Data(text.utf8), mode: mode)
    }

    func read(_ relative: String) throws -> Data {
        try Data(contentsOf: URL(fileURLWithPath: path + "/" + relative))
    }
}

/// Runs the built `mtaguard` with the repository's playbooks and a private backups folder.
func mtaguard(
    _ args: [String], backups: String, playbooks: String = Repo.playbooks, stdin: String? = nil, environment: [String: String] = [:]
) throws -> CommandResult {
    var argv = [Repo.binary] + args
    if ["check", "plan", "apply"].contains(args.first ?? "") { argv += ["--playbooks", playbooks] }
    return try runCommand(argv, stdin: stdin, environment: environment.merging(["MTAGUARD_BACKUPS": backups]) { $1 })
}

/// True from `markStopped()` exactly once, however many threads ask: for idempotent stops.
final class OnceFlag: @unchecked Sendable {
    private let lock = NSLock()
    private var stopped = false

    func markStopped() -> Bool {
        lock.lock()
        defer { lock.unlock() }
        if stopped { return false }
        stopped = true
        return true
    }
}
