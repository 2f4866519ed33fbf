import Foundation

/// A postfix configuration folder made from what the postfix package ships, never from this
/// machine's own `/etc/postfix` (whose master.cf or main.cf a person may have changed: an
/// `smtp inet` line moved to another port once broke every live test):
/// - main.cf  from /usr/share/postfix/main.cf.debian (Debian's template for a new install),
/// - master.cf from /usr/share/postfix/master.cf.dist,
/// - the package's own support files (postfix-files, postfix-script, post-install,
///   dynamicmaps.cf and their .d folders, makedefs.out), which `postfix check` and
///   `postfix start` need and nobody edits.
enum PostfixDefaults {
    static let share = "/usr/share/postfix"
    static let supportFiles = [
        "postfix-files", "postfix-files.d", "postfix-script", "post-install", "dynamicmaps.cf", "dynamicmaps.cf.d",
        "makedefs.out",
    ]

    struct Failure: Error, CustomStringConvertible { var description: String }

    /// Fills `folder` (created if needed) as above; a `main` text replaces the template main.cf.
    static func populate(_ folder: String, main: Data? = nil) throws {
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        for name in supportFiles where FileManager.default.fileExists(atPath: "/etc/postfix/" + name) {
            let r = try runCommand(["cp", "-a", "/etc/postfix/" + name, folder + "/"])
            guard r.status == 0 else { throw Failure(description: "cp /etc/postfix/\(name): \(r)") }
        }
        try Data(contentsOf: URL(fileURLWithPath: share + "/master.cf.dist")).write(to: URL(fileURLWithPath: folder + "/master.cf"))
        let template = try main ?? Data(contentsOf: URL(fileURLWithPath: share + "/main.cf.debian"))
        try template.write(to: URL(fileURLWithPath: folder + "/main.cf"))
    }
}
