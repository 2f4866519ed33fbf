import Foundation
import Testing

@testable import MTAGuard

@Suite struct SendmailJudgementTests {
    let cf = "/etc/mail/sendmail.cf"
    let mc = "/etc/mail/sendmail.mc"

    func plan(cf text: String) async throws -> HostPlan {
        let (plan, dir) = try await planSRV005([cf: text])
        dir.remove()
        return plan
    }

    @Test func goawayIncludesNoexpnAndNovrfy() async throws {
        #expect(try await plan(cf: "O PrivacyOptions=goaway\n").findings[0].status == .pass)
        #expect(try await plan(cf: "O PrivacyOptions=authwarnings,GoAway\n").findings[0].status == .pass)
    }

    @Test func flagsAreCaseInsensitiveAndSeparatedByCommasOrBlanks() async throws {
        #expect(try await plan(cf: "O PrivacyOptions = authwarnings, NoVrfy NOEXPN, restrictqrun\n").findings[0].status == .pass)
        #expect(try await plan(cf: "O privacyoptions=noexpn,novrfy\n").findings[0].status == .pass)
    }

    @Test func everyPrivacyOptionsLineAddsFlags() async throws {
        #expect(try await plan(cf: "O PrivacyOptions=noexpn\nO PrivacyOptions=novrfy\n").findings[0].status == .pass)
    }

    @Test func oneFlagMissingFailsAndOnlyThatOneIsAdded() async throws {
        let p = try await plan(cf: "O PrivacyOptions=authwarnings, novrfy, restrictqrun\n")
        #expect(p.findings[0].status == .fail)
        #expect(p.findings[0].evidence[1].note.contains("PrivacyOptions lacks noexpn"))
        #expect(newText(p, cf) == "O PrivacyOptions=authwarnings, novrfy, restrictqrun,noexpn\n")
    }

    @Test func commentedOutOptionLeavesSendmailsDefault() async throws {
        let text = "# privacy flags\n#O PrivacyOptions=noexpn,novrfy\nO LogLevel=9\n\nS0\nR$+\t$#local $: $1\n"
        let p = try await plan(cf: text)
        #expect(p.findings[0].status == .fail)
        #expect(p.findings[0].evidence[1].text == "(not set)")
        // A new option line after the last option line; the comment stays a comment.
        #expect(newText(p, cf) == "# privacy flags\n#O PrivacyOptions=noexpn,novrfy\nO LogLevel=9\nO PrivacyOptions=noexpn,novrfy\n\nS0\nR$+\t$#local $: $1\n")
    }

    @Test(arguments: ["generic-linux", "generic-solaris", "generic-hpux10", "generic-bsd4.4", "generic-osf1"])
    func upstreamFilesChangeOnlyThePrivacyLine(_ name: String) async throws {
        let original = try String(contentsOfFile: Repo.fixture("sendmail/\(name).cf"), encoding: .utf8)
        let p = try await plan(cf: original)
        #expect(p.findings[0].status == .fail)
        #expect(p.findings[0].evidence[1].line == original.components(separatedBy: "\n").firstIndex(of: "O PrivacyOptions=authwarnings")! + 1)
        let after = try #require(newText(p, cf))
        #expect(after == original.replacingOccurrences(
            of: "\nO PrivacyOptions=authwarnings\n", with: "\nO PrivacyOptions=authwarnings,noexpn,novrfy\n"))
        // Tab-led continuation lines and form feeds survive.
        #expect(after.components(separatedBy: "\n").filter { $0.hasPrefix("\t") }.count
            == original.components(separatedBy: "\n").filter { $0.hasPrefix("\t") }.count)
        #expect(after.filter { $0 == "\u{0C}" }.count == original.filter { $0 == "\u{0C}" }.count)
    }

    @Test func mcDefineIsAddedBeforeMailerWithTheDefaultKept() async throws {
        let mcText = try String(contentsOfFile: Repo.fixture("sendmail/generic-linux.mc"), encoding: .utf8)
        let (p, dir) = try await planSRV005([cf: "O PrivacyOptions=goaway\n", mc: mcText])
        defer { dir.remove() }
        // sendmail.cf passes, so the verdict is 양호; the .mc is fixed all the same.
        #expect(p.findings[0].status == .pass)
        #expect(p.findings[0].evidence[2].status == .fail)
        #expect(p.findings[0].evidence[2].advisory)
        #expect(newText(p, cf) == nil)
        #expect(newText(p, mc) == mcText.replacingOccurrences(
            of: "DOMAIN(generic)dnl\n", with: "DOMAIN(generic)dnl\ndefine(`confPRIVACY_FLAGS', `authwarnings,noexpn,novrfy')dnl\n"))
    }

    @Test func existingMcDefineKeepsItsFlags() async throws {
        let (p, dir) = try await planSRV005([mc: "define(`confPRIVACY_FLAGS', `authwarnings,restrictqrun')dnl\nMAILER(smtp)dnl\n"])
        defer { dir.remove() }
        #expect(newText(p, mc) == "define(`confPRIVACY_FLAGS', `authwarnings,restrictqrun,noexpn,novrfy')dnl\nMAILER(smtp)dnl\n")
    }

    @Test func mcDefineTheLensCannotReadIsAnErrorNotAGuess() async throws {
        let text = "define(`confPRIVACY_FLAGS', `authwarnings,`noexpn'')dnl\nMAILER(smtp)dnl\n"
        let (p, dir) = try await planSRV005([cf: "O PrivacyOptions=authwarnings\n", mc: text])
        defer { dir.remove() }
        #expect(p.findings[0].status == .error)
        #expect(p.files.isEmpty)
        #expect(p.findings[0].evidence[2].note.contains("sendmail.mc:1"))
    }
}
