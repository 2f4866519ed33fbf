import Augeas
import Foundation
import Testing

@testable import MTAGuard

/// Plans SRV-005 for an offline root holding `files`; returns the plan and the root.
func planSRV005(_ files: [String: String]) async throws -> (HostPlan, TempDir) {
    let dir = try TempDir("judge")
    for (path, text) in files { try dir.write(String(path.dropFirst()), text) }
    let books = try PlaybookLoader.loadAll(folder: Repo.playbooks)
    let plan = await Planner(playbooks: try PlaybookLoader.select(books, ["SRV-005"])).plan(LocalHost(root: dir.path))
    return (plan, dir)
}

func newText(_ plan: HostPlan, _ path: String) -> String? {
    plan.files.first { $0.path == path }.map { String(decoding: $0.after, as: UTF8.self) }
}

@Suite struct PostfixJudgementTests {
    let main = "/etc/postfix/main.cf"

    func verdict(_ text: String) async throws -> (Status, HostPlan) {
        let (plan, dir) = try await planSRV005([main: text])
        dir.remove()
        return (plan.findings[0].status, plan)
    }

    @Test func lastDefinitionWins() async throws {
        #expect(try await verdict("disable_vrfy_command = yes\ndisable_vrfy_command = no\n").0 == .fail)
        #expect(try await verdict("disable_vrfy_command = no\ndisable_vrfy_command = yes\n").0 == .pass)
    }

    @Test func aCommentIsNotASetting() async throws {
        let (status, plan) = try await verdict("# disable_vrfy_command = yes\n#disable_vrfy_command = yes\nmyhostname = a.example\n")
        #expect(status == .fail)
        #expect(plan.findings[0].evidence[0].text == "(not set)")
        #expect(newText(plan, main) == "# disable_vrfy_command = yes\n#disable_vrfy_command = yes\nmyhostname = a.example\ndisable_vrfy_command = yes\n")
    }

    @Test func valueIsCaseInsensitiveLikePostfix() async throws {
        #expect(try await verdict("disable_vrfy_command = YES\n").0 == .pass)
    }

    @Test func evidenceNamesTheDecidingLine() async throws {
        let (status, plan) = try await verdict("myhostname = a.example\ndisable_vrfy_command = yes\n\ndisable_vrfy_command = no\n")
        #expect(status == .fail)
        let e = plan.findings[0].evidence[0]
        #expect(e.line == 4)
        #expect(e.text == "disable_vrfy_command = no")
        #expect(e.file == main)
    }

    @Test func fixEditsTheLastDefinitionInPlace() async throws {
        let text = "disable_vrfy_command = yes\n# note\ndisable_vrfy_command = no\nmynetworks = 127.0.0.0/8\n"
        let (_, plan) = try await verdict(text)
        #expect(newText(plan, main) == "disable_vrfy_command = yes\n# note\ndisable_vrfy_command = yes\nmynetworks = 127.0.0.0/8\n")
    }

    @Test func continuationLinesAndNoFinalNewline() async throws {
        let text = "smtpd_recipient_restrictions =\n    permit_mynetworks,\n    reject_unauth_destination\nmyhostname = a.example"
        let (status, plan) = try await verdict(text)
        #expect(status == .fail)
        let after = try #require(newText(plan, main))
        #expect(after.hasPrefix("smtpd_recipient_restrictions =\n    permit_mynetworks,\n    reject_unauth_destination\nmyhostname = a.example"))
        #expect(after.contains("disable_vrfy_command = yes"))
        // The new bytes must judge as passing.
        let (again, _) = try await verdict(after)
        #expect(again == .pass)
    }

    @Test func editInTheMiddleKeepsAMissingFinalNewlineMissing() async throws {
        let (_, plan) = try await verdict("disable_vrfy_command = no\nmyhostname = a.example")
        #expect(newText(plan, main) == "disable_vrfy_command = yes\nmyhostname = a.example")
    }

    @Test(arguments: ["postfix/main.cf.debian", "postfix/main.cf.dist"])
    func realFilesChangeByOneLine(_ fixture: String) async throws {
        let original = try String(contentsOfFile: Repo.fixture(fixture), encoding: .utf8)
        let (status, plan) = try await verdict(original)
        #expect(status == .fail)
        let after = try #require(newText(plan, main))
        #expect(after == original + "disable_vrfy_command = yes\n")
        #expect(plan.files[0].diff.contains("+disable_vrfy_command = yes"))
        #expect(plan.actions.map(\.display) == ["postfix reload"])
    }

    @Test func unparseableFileIsAnErrorWithLine() async throws {
        let (status, plan) = try await verdict("myhostname = a\nthis line is broken\n")
        #expect(status == .error)
        #expect(plan.files.isEmpty)
        let note = plan.findings[0].evidence[0].note
        #expect(note.contains("/etc/postfix/main.cf:2:"))
        #expect(note.contains("mtaguard's reader for main.cf (Postfix_Main.lns) cannot read this line"), "\(note)")
        #expect(note.contains("['this line is broken']"), "\(note)")
        // Reached from a read-only check too, and the line may be valid to postfix: no advice to
        // fix it, no "nothing was changed".
        #expect(note.contains("if postfix accepts it, report it as an mtaguard bug"), "\(note)")
        #expect(!note.contains("nothing was changed") && !note.contains("fix the line"), "\(note)")
    }

    /// The defect's example: postfix skips the comment and reads one value (postconf agrees, see
    /// PostfixDifferentialTests). The stock Postfix_Main.lns rejects the file, so this passes only
    /// when mtaguard's own lens (Resources/lenses) is the one loaded.
    static let commentInValue = """
        smtpd_recipient_restrictions =
            permit_mynetworks
        # local exceptions
            check_client_access hash:/etc/postfix/rbl_whitelist
            reject_unauth_destination
        disable_vrfy_command =
          # VRFY stays off (ticket 4711)

            yes

        """

    @Test func theProjectsLensShadowsTheStockOne() throws {
        let stock = try Augeas(flags: [.noModuleAutoload])
        #expect(throws: AugeasError.self) {
            try stock.parse(text: Self.commentInValue, lens: "Postfix_Main.lns", into: "/t")
        }
        let tree = try ConfigWorkspace().parse(Self.commentInValue, lens: "Postfix_Main.lns", file: main, host: "h")
        #expect(try tree.match("*").count == 2)
        #expect(try tree.render() == Self.commentInValue)
    }

    @Test func aCommentInsideAContinuedValueIsSkipped() async throws {
        let (status, plan) = try await verdict(Self.commentInValue)
        #expect(status == .pass)
        #expect(plan.findings[0].evidence[0].note.hasPrefix("disable_vrfy_command = yes;"))
        #expect(plan.findings[0].evidence[0].line == 6)
        let tree = try ConfigWorkspace().parse(Self.commentInValue, lens: "Postfix_Main.lns", file: main, host: "h")
        let list = try #require(try tree.value(tree.path + "/smtpd_recipient_restrictions"))
        #expect(PostfixValue.read(list)
            == "permit_mynetworks    check_client_access hash:/etc/postfix/rbl_whitelist    reject_unauth_destination")
    }

    @Test func aFixOfAContinuedValueKeepsTheCommentsBeforeIt() async throws {
        let text = "disable_vrfy_command =\n  # VRFY is needed by the list server\n\n    no\nmyhostname = a\n"
        let (status, plan) = try await verdict(text)
        #expect(status == .fail)
        #expect(newText(plan, main) == "disable_vrfy_command =\n  # VRFY is needed by the list server\n\n    yes\nmyhostname = a\n")
    }

    @Test func missingFileMeansNotApplicable() async throws {
        let (plan, dir) = try await planSRV005([:])
        defer { dir.remove() }
        #expect(plan.findings[0].status == .notApplicable)
        #expect(!plan.hasChanges)
    }
}
