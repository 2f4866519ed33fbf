import Foundation

/// Where mtaguard finds what it ships, from any working directory: the playbooks (with the
/// version knowledge base under `kb/`) and the Augeas lenses.
///
/// An installed binary (`make install PREFIX=P`) lives at `P/bin/mtaguard` and finds both under
/// `P/share/mtaguard`, found from the binary's own path (symlinks resolved), so an installed
/// tree can be moved or staged with `DESTDIR`. A binary in the build folder finds its lenses
/// in SwiftPM's resource folder beside it.
public enum Resources {
    /// The running binary's real path: `/proc/self/exe` where there is one.
    public static var executable: String? {
        if let link = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe") { return link }
        return Bundle.main.executablePath.map { URL(fileURLWithPath: $0).resolvingSymlinksInPath().path }
    }

    /// `PREFIX/share/mtaguard` for a binary at `PREFIX/bin/mtaguard`.
    public static func shareFolder() -> String? {
        guard let executable else { return nil }
        let prefix = URL(fileURLWithPath: executable).deletingLastPathComponent().deletingLastPathComponent()
        return prefix.appendingPathComponent("share/mtaguard").path
    }

    /// The playbooks folder: `--playbooks` (`explicit`), else `$MTAGUARD_PLAYBOOKS`, else
    /// `./playbooks` when there is one, else the installed `PREFIX/share/mtaguard/playbooks`.
    /// Where none exists, `./playbooks`, which the loader then reports as missing.
    public static func playbooksFolder(explicit: String? = nil) -> String {
        if let explicit, !explicit.isEmpty { return explicit }
        if let env = ProcessInfo.processInfo.environment["MTAGUARD_PLAYBOOKS"], !env.isEmpty { return env }
        if isFolder("playbooks") { return "playbooks" }
        if let share = shareFolder(), isFolder(share + "/playbooks") { return share + "/playbooks" }
        return "playbooks"
    }

    /// Where `playbooksFolder` looks without `--playbooks` and `$MTAGUARD_PLAYBOOKS`.
    public static var playbooksSearched: String {
        let installed = shareFolder().map { $0 + "/playbooks" } ?? "PREFIX/share/mtaguard/playbooks"
        return "./playbooks, then \(installed)"
    }

    /// The lenses folder: `$MTAGUARD_LENSES`, else the installed `PREFIX/share/mtaguard/lenses`,
    /// else the build folder's resources beside the binary. The one chosen must hold mtaguard's
    /// lenses: a wrong `$MTAGUARD_LENSES` is an error, not a fall-back. Looked up once per
    /// process (every file parsed asks for it).
    public static func lensesFolder() throws -> String { try lenses.get() }

    private static let lenses: Result<String, MTAGuardError> = Result { () throws(MTAGuardError) in try findLenses() }

    private static func findLenses() throws(MTAGuardError) -> String {
        var candidates: [String] = []
        if let env = ProcessInfo.processInfo.environment["MTAGUARD_LENSES"], !env.isEmpty {
            candidates = [env]
        } else if let executable, let share = shareFolder() {
            let bin = URL(fileURLWithPath: executable).deletingLastPathComponent()
            candidates = [share + "/lenses", bin.appendingPathComponent("mtaguard_MTAGuard.resources/lenses").path]
        }
        if let found = candidates.first(where: { FileManager.default.fileExists(atPath: $0 + "/sendmail_cf.aug") }) {
            return found
        }
        throw MTAGuardError(
            .invalidInput, file: candidates.first ?? "lenses", "cannot find mtaguard's lenses (looked in \(candidates.joined(separator: ", ")))",
            hint: "reinstall with make install, or set MTAGUARD_LENSES to the folder holding sendmail_cf.aug")
    }

    static func isFolder(_ path: String) -> Bool {
        var folder: ObjCBool = false
        return FileManager.default.fileExists(atPath: path, isDirectory: &folder) && folder.boolValue
    }
}
