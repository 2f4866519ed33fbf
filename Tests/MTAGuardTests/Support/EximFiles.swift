// exim run on configuration files of a test's own: `exim -C FILE -bV` as the judge of syntax and
// `exim -C FILE -bs` speaking SMTP on stdin as the judge of behaviour.
//
//     let exim = try EximFiles()                     // a fresh root (spool, log) for Debian-exim
//     defer { exim.remove() }
//     let file = try exim.write("x.conf", exim.prefix + template)
//     #expect(try exim.verify(file).status == 0)
//     let replies = try exim.smtp(file, ["EHLO x", "VRFY root@localhost"])
//
// `prefix` sets the macros update-exim4.conf would set (CONFDIR, SPOOLDIR, host name, local
// domains) and the log path, as ExtractedMTA does.

import Foundation
import Testing

#if canImport(Glibc)
import Glibc
#endif

struct EximFiles {
    let packages: MTAPackages
    let root: String

    init() throws {
        packages = try MTAPackages.locate()
        guard let user = getpwnam("Debian-exim") else {
            throw ExtractedMTAError(description: "exim needs the Debian-exim user: run `make mtas` (Tests/mta/fetch.sh creates it)")
        }
        let dir = try TempDir("exim-files")
        root = dir.path
        chmod(root, 0o755)
        for sub in ["spool", "log"] {
            try FileManager.default.createDirectory(atPath: root + "/" + sub, withIntermediateDirectories: true)
            chown(root + "/" + sub, user.pointee.pw_uid, user.pointee.pw_gid)
        }
    }

    func remove() { try? FileManager.default.removeItem(atPath: root) }

    var prefix: String {
        """
        CONFDIR = \(root)
        SPOOLDIR = \(root)/spool
        MAIN_HARDCODE_PRIMARY_HOSTNAME = \(ExtractedMTA.hostName)
        ETC_MAILNAME = \(ExtractedMTA.hostName)
        MAIN_LOCAL_DOMAINS = @:localhost
        log_file_path = \(root)/log/%slog

        """
    }

    var template: String { get throws { try String(contentsOfFile: packages.eximTemplate, encoding: .utf8) } }

    /// Debian's split files under etc/exim4/conf.d, in update-exim4.conf's order.
    var splitFiles: [String] {
        let base = packages.folder + "/exim/etc/exim4/conf.d"
        return ["main", "acl", "router", "transport", "retry", "rewrite", "auth"].flatMap { dir in
            ((try? FileManager.default.contentsOfDirectory(atPath: base + "/" + dir)) ?? []).sorted().map { base + "/" + dir + "/" + $0 }
        }
    }

    @discardableResult
    func write(_ name: String, _ text: String) throws -> String {
        let path = root + "/" + name
        try Data(text.utf8).write(to: URL(fileURLWithPath: path))
        chmod(path, 0o644)
        return path
    }

    /// `exim -C FILE -bV`: status 0 when exim accepts the file.
    func verify(_ file: String) throws -> CommandResult {
        try runCommand([packages.eximBinary, "-C", file, "-bV"], environment: ["LD_LIBRARY_PATH": packages.eximLibraries])
    }

    /// `exim -C FILE -bs` with `commands` and QUIT on stdin; the final line of each reply, in order
    /// (the greeting first).
    func smtp(_ file: String, _ commands: [String]) throws -> [SMTPReply] {
        let input = (commands + ["QUIT"]).map { $0 + "\r\n" }.joined()
        let r = try runCommand(
            ["timeout", "30", packages.eximBinary, "-C", file, "-bs"], stdin: input,
            environment: ["LD_LIBRARY_PATH": packages.eximLibraries])
        let finals = r.stdout.split(whereSeparator: \.isNewline).map { $0.trimmingCharacters(in: .whitespacesAndNewlines) }
            .filter { $0.count >= 4 && $0.prefix(3).allSatisfy(\.isNumber) && $0.dropFirst(3).first == " " }
        return finals.map { SMTPReply(code: Int($0.prefix(3)) ?? 0, lines: [String($0.dropFirst(4))]) }
    }
}
