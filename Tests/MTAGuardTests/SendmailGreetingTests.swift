import Foundation
import Testing

@testable import MTAGuard

/// SRV-170 on sendmail judges the greeting as sendmail builds it (`SendmailGreeting`): the
/// last SmtpGreetingMessage, else the `$e` macro of a cf below version level 7, else the
/// compiled default. The real sendmail 8.17 is the judge: for each cf below, built from the
/// generic m4 cf, mtaguard's verdict is 취약 exactly when the 220 line `sendmail -bs` sends
/// holds the version, and the evidence names which of the three decided; after the fix, the
/// real sendmail greets without the version.
@Suite struct SendmailGreetingTests {
    let cf = "/etc/mail/sendmail.cf"

    struct Case: Sendable, CustomStringConvertible {
        var name: String
        /// The V line to put in place of V10/Berkeley (nil: none at all).
        var level: String?
        var keepOption: Bool
        var lines: String
        /// What the evidence says decided.
        var source: String
        var description: String { name }
    }

    static let cases: [Case] = [
        Case(name: "stock cf", level: "V10/Berkeley", keepOption: true, lines: "", source: "SmtpGreetingMessage"),
        Case(name: "old cf, De without the version", level: "V6/Berkeley", keepOption: false,
             lines: "De$j SMTP open for business at $b.\n", source: "greets with the $e macro"),
        Case(name: "old cf, De with $v", level: "V6/Berkeley", keepOption: false,
             lines: "De$j Sendmail $v ready at $b\n", source: "greets with the $e macro"),
        Case(name: "level 10 ignores De", level: "V10/Berkeley", keepOption: false,
             lines: "De$j SMTP open for business at $b.\n", source: "so sendmail ignores its $e macro"),
        Case(name: "level 7 ignores De", level: "V7/Berkeley", keepOption: false, lines: "De$j SMTP open\n", source: "ignores its $e macro"),
        Case(name: "old cf, no De", level: "V6/Berkeley", keepOption: false, lines: "", source: "compiled default"),
        Case(name: "no V line, De", level: nil, keepOption: false, lines: "De$j open at $b\n", source: "version level 0"),
        Case(name: "D{e}", level: "V6/Berkeley", keepOption: false, lines: "D{e}$j curly $b\n", source: "greets with the $e macro"),
        Case(name: "abbreviated option over De", level: "V6/Berkeley", keepOption: false,
             lines: "De$j Sendmail $v\nO SmtpGreet=$j short $b\n", source: "greets with SmtpGreetingMessage"),
        Case(name: "version through another macro", level: "V6/Berkeley", keepOption: false,
             lines: "DX$v\nDe$j via $X\n", source: "$X → $v"),
        Case(name: "a dollar sign, not a macro", level: "V6/Berkeley", keepOption: false,
             lines: "De$j via $$v\n", source: "greets with the $e macro"),
        Case(name: "last option wins, any case", level: "V10/Berkeley", keepOption: true,
             lines: "O smtpgreetingmessage=$j $b\nO SMTPGREETINGMESSAGE=$j ${v}\n", source: "the last of 3 lines"),
        Case(name: "last option wins without the version", level: "V10/Berkeley", keepOption: true,
             lines: "O SmtpGreetingMessage=$j $b\n", source: "the last of 2 lines"),
    ]

    static func text(_ c: Case, generic: String) -> String {
        var lines = generic.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        lines = lines.compactMap { line in
            if line == "V10/Berkeley" { return c.level }
            if line.hasPrefix("O SmtpGreetingMessage="), !c.keepOption { return nil }
            return line
        }
        return lines.joined(separator: "\n") + c.lines
    }

    func plan(_ text: String) async throws -> HostPlan {
        let dir = try TempDir("greeting")
        defer { dir.remove() }
        try dir.write(String(cf.dropFirst()), text)
        let books = try PlaybookLoader.select(try PlaybookLoader.loadAll(folder: Repo.playbooks), ["SRV-170"])
        return await Planner(playbooks: books).plan(LocalHost(root: dir.path))
    }

    @Test(arguments: cases) func verdictIsWhatTheRealSendmailGreets(_ c: Case) async throws {
        let dir = try Scratch.make("greeting-sendmail")
        defer { dir.remove() }
        let sendmail = try SendmailCf(in: dir.path)
        let version = try sendmail.packages.upstreamVersion(of: "sendmail-bin")
        let text = Self.text(c, generic: sendmail.generic)
        let greeting = try #require(try sendmail.smtp(text, []).first { $0.hasPrefix("220") }, "sendmail did not greet")
        let p = try await plan(text)
        let e = try #require(p.findings.flatMap(\.evidence).first { $0.file == cf })
        #expect(e.status == (greeting.contains(version) ? .fail : .pass), "\(c): sendmail greets '\(greeting)'; mtaguard: \(e.note)")
        #expect(e.note.contains(c.source), "\(c): \(e.note)")

        guard e.status == .fail else { return }
        // The fix: the real sendmail then greets without the version.
        let fixed = try #require(newText(p, cf), "\(c): no fix")
        let after = try #require(try sendmail.smtp(fixed, []).first { $0.hasPrefix("220") })
        #expect(!after.contains(version) && after.hasPrefix("220 \(ExtractedMTA.hostName) ESMTP "), "\(c): after the fix sendmail greets '\(after)'")
        let again = try await plan(fixed)
        #expect(again.findings.flatMap(\.evidence).first { $0.file == cf }?.status == .pass)
        #expect(newText(again, cf) == nil)
    }

    /// Only the deciding option line changes: an abbreviation is edited where it is.
    @Test func theFixEditsTheDecidingLine() async throws {
        let text = "V10/Berkeley\nO SmtpGreetingMessage=$j $b\n# note\nO SmtpGreet=$j $v\nO LogLevel=9\n"
        let p = try await plan(text)
        #expect(newText(p, cf) == "V10/Berkeley\nO SmtpGreetingMessage=$j $b\n# note\nO SmtpGreet=$j $b\nO LogLevel=9\n")
        let added = try await plan("V10/Berkeley\nDe$j SMTP open\nO LogLevel=9\n")
        #expect(newText(added, cf) == "V10/Berkeley\nDe$j SMTP open\nO LogLevel=9\nO SmtpGreetingMessage=$j $b\n")
    }

    @Test func macroReferences() {
        #expect(SendmailGreeting.references("$j $&v ${Z} $$v $?v yes $| no $. ${daemon_name}") == ["j", "v", "Z", "daemon_name"])
        #expect(SendmailGreeting.versionPaths("$j $X", macros: ["X": "a $Y", "Y": "$v", "j": "host"]) == ["$X → $Y → $v"])
        #expect(SendmailGreeting.versionPaths("$X", macros: ["X": "$X"]).isEmpty)
    }
}
