import Foundation
import Testing

/// SRV-006 for exim: `log_selector` judged as exim reads it, and the real exim as the judge:
/// after an SMTP session through the bridge, its main log holds "SMTP connection from" exactly
/// when mtaguard says smtp_connection is on. Apply turns it on, exim accepts the file, the next
/// session is logged, and rollback gives the file back byte for byte.
@Suite struct EximLogTests {
    /// A session, then whether the main log recorded its connection: a line whose message (after
    /// the time and, with +pid, `[PID]`) starts "SMTP connection from" (smtp_connection);
    /// smtp_no_mail's "no MAIL in SMTP connection from …" is not it.
    static func logsConnections(_ mta: ExtractedMTA) throws -> Bool {
        func count() -> Int {
            mta.logs().split(separator: "\n").filter { line in
                var rest = line.split(separator: " ", maxSplits: 2).dropFirst(2).first ?? ""
                if rest.hasPrefix("[") { rest = rest.drop { $0 != "]" }.dropFirst().drop { $0 == " " } }
                return rest.hasPrefix("SMTP connection from")
            }.count
        }
        let seen = count()
        _ = try mta.smtp(["EHLO probe.test"])
        usleep(700_000)
        return count() > seen
    }

    func mtaguard(_ mta: ExtractedMTA, _ backups: TempDir, _ args: [String]) throws -> CommandResult {
        let playbooks = ["check", "plan", "apply"].contains(args[0]) ? ["--playbooks", Repo.playbooks] : []
        return try mta.run([Repo.binary] + args + playbooks, environment: ["MTAGUARD_BACKUPS": backups.path], layingEtc: true)
    }

    @Test(arguments: [
        ("", false),
        ("MAIN_LOG_SELECTOR = +all", true),
        ("MAIN_LOG_SELECTOR = +all -smtp_connection", false),
        ("MAIN_LOG_SELECTOR = +smtp_connection +smtp_protocol_error +smtp_syntax_error", true),
        ("MAIN_LOG_SELECTOR = -all +smtp_connection +smtp_protocol_error +smtp_syntax_error -smtp_connection", false),
    ])
    func verdictIsWhatTheLogShows(macro: String, logged: Bool) throws {
        let mta = try ExtractedMTA.exim(macros: macro.isEmpty ? [] : [macro])
        defer { mta.stop() }
        let backups = try TempDir("exim-log")
        defer { backups.remove() }
        #expect(try Self.logsConnections(mta) == logged, "\(macro)\n\(mta.logs())")
        let check = try mtaguard(mta, backups, ["check", "--item", "SRV-006"])
        #expect(check.status == (logged ? 0 : 2), "\(macro)\n\(check)")
        guard !logged else { return }

        let original = try Data(contentsOf: URL(fileURLWithPath: mta.configFile))
        let apply = try mtaguard(mta, backups, ["apply", "--yes", "--item", "SRV-006"])
        #expect(apply.status == 0, "\(apply)")
        let fixed = try String(contentsOfFile: mta.configFile, encoding: .utf8)
        #expect(fixed != String(decoding: original, as: UTF8.self))
        let bv = try runCommand([mta.packages.eximBinary, "-C", mta.configFile, "-bV"], environment: ["LD_LIBRARY_PATH": mta.packages.eximLibraries])
        #expect(bv.status == 0, "\(bv)")
        #expect(try Self.logsConnections(mta), "\(fixed.split(separator: "\n").filter { $0.contains("log_selector") })\n\(mta.logs())")
        #expect(try mtaguard(mta, backups, ["check", "--item", "SRV-006"]).status == 0)

        let id = try #require(apply.stdout.split(separator: "\n").first { $0.hasPrefix("run ") }.map { String($0.dropFirst(4)) })
        #expect(try mtaguard(mta, backups, ["rollback", id]).status == 0)
        #expect(try Data(contentsOf: URL(fileURLWithPath: mta.configFile)) == original)
    }
}
