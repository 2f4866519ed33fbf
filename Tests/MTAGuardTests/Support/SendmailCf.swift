// The extracted sendmail 8.17 (ExtractedMTA, `make mtas`) on cf files of a test's own, without
// a listener: a generic Linux cf built by m4 in a folder of the test, and SMTP over `-bs`.
//
//     let sendmail = try SendmailCf(in: dir.path)     // dir: the test's scratch folder
//     let replies = try sendmail.smtp(cfText, ["EHLO x"])   // the greeting first
import Foundation

struct SendmailCf {
    let packages: MTAPackages
    let folder: String
    /// The generic cf m4 built (version level 10, SmtpGreetingMessage=$j Sendmail $v/$Z; $b).
    let generic: String

    /// Builds the cf in `folder` (its queue, aliases and service switch there too).
    init(in folder: String) throws {
        packages = try MTAPackages.locate()
        self.folder = folder
        try FileManager.default.createDirectory(atPath: folder + "/spool", withIntermediateDirectories: true)
        try Data("postmaster: root\n".utf8).write(to: URL(fileURLWithPath: folder + "/aliases"))
        try Data("hosts files\naliases files\n".utf8).write(to: URL(fileURLWithPath: folder + "/service.switch"))
        let mc = """
            divert(0)dnl
            VERSIONID(`mtaguard test')dnl
            OSTYPE(`linux')dnl
            define(`QUEUE_DIR', `\(folder)/spool')dnl
            define(`ALIAS_FILE', `\(folder)/aliases')dnl
            define(`confSERVICE_SWITCH_FILE', `\(folder)/service.switch')dnl
            MAILER(`local')dnl
            MAILER(`smtp')dnl

            """
        try Data(mc.utf8).write(to: URL(fileURLWithPath: folder + "/t.mc"))
        let cf = packages.cfDirectory
        let built = try runCommand(["m4", "-D_CF_DIR_=\(cf)/", cf + "/m4/cf.m4", folder + "/t.mc"])
        guard built.status == 0, built.stdout.contains("\nV10/Berkeley\n") else {
            throw ExtractedMTAError(description: "m4 did not build a sendmail.cf: \(built)")
        }
        generic = built.stdout
    }

    /// `sendmail -C FILE -bs` on `text` (written to FILE), under its own fully qualified host
    /// name: the replies, the greeting first, each command sent after the reply before it.
    func smtp(_ text: String, _ commands: [String]) throws -> [String] {
        let file = folder + "/t.cf"
        try Data(text.utf8).write(to: URL(fileURLWithPath: file))
        return try StdioSMTP.session(
            ["unshare", "-u", "sh", "-c", "hostname \"$0\" && exec \"$@\"", ExtractedMTA.hostName,
             "env", "LD_LIBRARY_PATH=\(packages.sendmailLibraries)", packages.sendmailBinary, "-C", file, "-bs"],
            commands)
    }
}
