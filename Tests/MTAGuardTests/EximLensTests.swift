// Exim.lns and EximACL against the real exim 4.96 (Debian's packages, unpacked by
// Tests/mta/fetch.sh): Debian's own files round-trip through the lens; the VRFY/EXPN verdict is
// checked with `exim -C FILE -bV` (the file is valid) and `exim -C FILE -bs` (what exim answers);
// the fix comments the line out and exim then refuses both commands.

import Foundation
import Testing
@testable import MTAGuard

@Suite("EximLens", .serialized)
struct EximLensTests {
    /// exim answers a VRFY or EXPN of a deliverable address with 250. It refuses EXPN with 550 and
    /// VRFY with 252 (its ACL message, or "Administrative prohibition"): for exim, 252 is a refusal.
    static func answered(_ reply: SMTPReply) -> Bool { reply.code == 250 }

    static func parse(_ workspace: ConfigWorkspace, _ text: String, file: String) throws -> ConfigTree {
        try workspace.parse(text, lens: "Exim.lns", file: file, host: "localhost")
    }

    @Test("Debian's template and every conf.d file load and render byte for byte")
    func roundTrip() throws {
        let exim = try EximFiles()
        defer { exim.remove() }
        let workspace = try ConfigWorkspace()
        for path in [exim.packages.eximTemplate] + exim.splitFiles {
            let text = try String(contentsOfFile: path, encoding: .utf8)
            let tree = try Self.parse(workspace, text, file: path)
            #expect(try tree.render() == text, "\(path)")
        }
    }

    /// One row of the judgement table: lines added to the main section and, after "begin acl",
    /// ACL definitions; the verdict expected for VRFY and EXPN.
    struct Row: Sendable, CustomStringConvertible {
        let name: String
        let main: String
        let acls: String
        let vrfy: EximVerdict.Outcome
        let expn: EximVerdict.Outcome
        var description: String { name }
    }

    static let rows: [Row] = [
        Row(name: "Debian's template", main: "", acls: "", vrfy: .denied, expn: .denied),
        Row(name: "acl_smtp_vrfy = accept", main: "acl_smtp_vrfy = accept\n", acls: "", vrfy: .allowed, expn: .denied),
        Row(name: "acl_smtp_expn = accept", main: "acl_smtp_expn = accept\n", acls: "", vrfy: .denied, expn: .allowed),
        Row(name: "both = accept", main: "acl_smtp_vrfy = accept\nacl_smtp_expn = accept\n", acls: "", vrfy: .allowed, expn: .allowed),
        Row(name: "= deny", main: "acl_smtp_vrfy = deny\n", acls: "", vrfy: .denied, expn: .denied),
        Row(name: "an ACL that accepts", main: "acl_smtp_vrfy = acl_check_vrfy\nacl_smtp_expn = acl_check_vrfy\n",
            acls: "acl_check_vrfy:\n  accept\n\n", vrfy: .allowed, expn: .allowed),
        Row(name: "an ACL that denies", main: "acl_smtp_vrfy = acl_check_vrfy\n",
            acls: "acl_check_vrfy:\n  deny message = no VRFY here\n\n", vrfy: .denied, expn: .denied),
        Row(name: "an ACL that accepts some hosts", main: "acl_smtp_vrfy = acl_check_vrfy\n",
            acls: "acl_check_vrfy:\n  accept hosts = 192.0.2.1\n  deny\n\n", vrfy: .allowedForSome, expn: .denied),
        Row(name: "a macro naming the ACL", main: "MY_VRFY_ACL = acl_check_vrfy\nacl_smtp_vrfy = MY_VRFY_ACL\n",
            acls: "acl_check_vrfy:\n  # a comment\n  warn\n    log_message = VRFY\n  accept\n\n", vrfy: .allowed, expn: .denied),
        Row(name: "a macro not defined here", main: "acl_smtp_vrfy = NOT_DEFINED_HERE\n", acls: "", vrfy: .unknown, expn: .denied),
        Row(name: "set inside .ifdef of a defined macro", main: "MY_FLAG = 1\n.ifdef MY_FLAG\nacl_smtp_expn = accept\n.endif\n",
            acls: "", vrfy: .denied, expn: .allowed),
        Row(name: "set inside .ifdef of an undefined macro", main: ".ifdef NO_SUCH_FLAG\nacl_smtp_expn = accept\n.endif\n",
            acls: "", vrfy: .denied, expn: .denied),
    ]

    /// The template with `row` added: the main lines first (the template starts in the main
    /// section), the ACLs right after "begin acl".
    static func config(_ exim: EximFiles, _ row: Row) throws -> String {
        var text = try exim.template
        if !row.acls.isEmpty {
            let range = try #require(text.range(of: "\nbegin acl\n"))
            text.replaceSubrange(range, with: "\nbegin acl\n\n" + row.acls)
        }
        return exim.prefix + row.main + text
    }

    @Test("VRFY/EXPN verdict over real files agrees with exim", arguments: rows)
    func judgement(_ row: Row) throws {
        let exim = try EximFiles()
        defer { exim.remove() }
        let text = try Self.config(exim, row)
        let file = try exim.write("exim4.conf", text)
        let check = try exim.verify(file)
        #expect(check.status == 0, "exim -bV rejects the \(row.name) file: \(check)")

        let workspace = try ConfigWorkspace()
        let tree = try Self.parse(workspace, text, file: file)
        let replies = try exim.smtp(file, ["EHLO x", "VRFY root@localhost", "EXPN root@localhost"])
        try #require(replies.count == 5, "exim -bs: \(replies)")
        for (command, expected, reply) in [(EximSMTPCommand.vrfy, row.vrfy, replies[2]), (.expn, row.expn, replies[3])] {
            let verdict = try EximACL.judge(command, in: [tree])
            #expect(verdict.outcome == expected, "\(row.name) \(command): \(verdict)")
            if let line = verdict.line, let shown = verdict.text {
                // The deciding line is a line of the file, as written.
                #expect(text.split(separator: "\n", omittingEmptySubsequences: false)[line - 1] == shown)
            }
            // Where every local client is judged alike, exim itself must agree.
            switch verdict.outcome {
            case .allowed: #expect(Self.answered(reply), "\(row.name) \(command): exim said \(reply)")
            case .denied: #expect(!Self.answered(reply), "\(row.name) \(command): exim said \(reply)")
            case .allowedForSome, .unknown: break  // -bs has no client host: some hosts is not testable here
            }
        }
    }

    @Test("split layout: each conf.d file parsed on its own, judged together")
    func splitLayout() throws {
        let exim = try EximFiles()
        defer { exim.remove() }
        let workspace = try ConfigWorkspace()
        var texts: [(String, String)] = []
        for path in exim.splitFiles {
            var text = try String(contentsOfFile: path, encoding: .utf8)
            if path.hasSuffix("main/02_exim4-config_options") { text += "acl_smtp_expn = acl_check_expn\n" }
            if path.hasSuffix("acl/00_exim4-config_header") { text += "\nacl_check_expn:\n  accept\n" }
            texts.append((path, text))
        }
        let trees = try texts.map { try Self.parse(workspace, $0.1, file: $0.0) }
        let expn = try EximACL.judge(.expn, in: trees)
        let vrfy = try EximACL.judge(.vrfy, in: trees)
        #expect(expn.outcome == .allowed && expn.file?.hasSuffix("acl/00_exim4-config_header") == true, "\(expn)")
        #expect(vrfy.outcome == .denied, "\(vrfy)")

        // update-exim4.conf concatenates the files; exim must accept that and answer EXPN.
        let joined = exim.prefix + texts.map(\.1).joined()
        let file = try exim.write("split.conf", joined)
        #expect(try exim.verify(file).status == 0)
        let replies = try exim.smtp(file, ["EHLO x", "VRFY root@localhost", "EXPN root@localhost"])
        try #require(replies.count == 5, "\(replies)")
        #expect(!Self.answered(replies[2]) && Self.answered(replies[3]), "\(replies)")

        // The fix edits the main file's acl_smtp_expn line only.
        let changed = try EximACL.commentOut([.vrfy, .expn], in: trees)
        #expect(changed.map(\.file).map { $0.hasSuffix("main/02_exim4-config_options") } == [true])
        #expect(try EximACL.judge(.expn, in: trees).outcome == .denied)
    }

    @Test("the fix comments out the accepting line; exim then refuses VRFY and EXPN",
          arguments: rows.filter { $0.vrfy == .allowed || $0.expn == .allowed || $0.vrfy == .allowedForSome })
    func fix(_ row: Row) throws {
        let exim = try EximFiles()
        defer { exim.remove() }
        let text = try Self.config(exim, row)
        let workspace = try ConfigWorkspace()
        let tree = try Self.parse(workspace, text, file: "exim4.conf")
        let changed = try EximACL.commentOut([.vrfy, .expn], in: [tree])
        #expect(changed.count == 1)
        let fixed = try tree.render()
        // Only the acl_smtp_* lines changed, each by a leading "#".
        let old = text.split(separator: "\n", omittingEmptySubsequences: false)
        let new = fixed.split(separator: "\n", omittingEmptySubsequences: false)
        try #require(old.count == new.count)
        let diffs = zip(old, new).filter { $0 != $1 }
        #expect(!diffs.isEmpty)
        for (o, n) in diffs { #expect(n == "#" + o && o.hasPrefix("acl_smtp_"), "\(o) -> \(n)") }
        for command in EximSMTPCommand.allCases {
            #expect(try EximACL.judge(command, in: [tree]).outcome == .denied)
        }
        let file = try exim.write("fixed.conf", fixed)
        let check = try exim.verify(file)
        #expect(check.status == 0, "exim -bV rejects the fixed file: \(check)")
        let replies = try exim.smtp(file, ["EHLO x", "VRFY root@localhost", "EXPN root@localhost"])
        try #require(replies.count == 5, "\(replies)")
        #expect(!Self.answered(replies[2]) && !Self.answered(replies[3]), "after the fix: \(replies)")
    }
}
