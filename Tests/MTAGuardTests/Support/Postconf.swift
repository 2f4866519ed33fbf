import Foundation

/// postfix's own reading of a main.cf: `postconf -c DIR` on a config folder holding only that
/// main.cf and an empty master.cf.
enum Postconf {
    /// postconf runs here (it is in the postfix package).
    static let available: Bool = (try? runCommand(["postconf", "-d", "-h", "mail_version"]))?.status == 0

    /// Runs `postconf -c DIR ARGS` for each of `runs` on one folder holding `mainCf`.
    static func run(mainCf: String, _ runs: [[String]]) throws -> [CommandResult] {
        let folder = try Scratch.make("postconf")
        defer { folder.remove() }
        try folder.write("main.cf", mainCf)
        try folder.write("master.cf", "")
        // postconf waits up to 2 s for a main.cf written in the last second to "cool down".
        try FileManager.default.setAttributes(
            [.modificationDate: Date(timeIntervalSinceNow: -3600)], ofItemAtPath: folder.path + "/main.cf")
        return try runs.map { try runCommand(["postconf", "-c", folder.path] + $0) }
    }

    static func run(mainCf: String, _ args: [String]) throws -> CommandResult {
        try run(mainCf: mainCf, [args])[0]
    }
}
