import Foundation
import Testing

@testable import MTAGuard

@Suite struct PlaybookLoaderTests {
    let valid = try! String(contentsOfFile: Repo.playbooks + "/srv-005.yaml", encoding: .utf8)

    func error(_ text: String) -> String {
        do {
            _ = try PlaybookLoader.load(file: "playbooks/x.yaml", text: text)
            return "no error"
        } catch {
            return "\(error)"
        }
    }

    @Test func shippedPlaybookLoadsWithItsAliases() throws {
        let books = try PlaybookLoader.loadAll(folder: Repo.playbooks)
        let srv = try #require(books.first { $0.id == "SRV-005" })
        #expect(srv.allIDs == ["SRV-005", "U-48", "U-70"])
        #expect(srv.schemes == [.kisa2026: "U-48", .kisa2021: "U-70", .efinance: "SRV-005"])
        #expect(srv.targets.map(\.mta) == ["postfix", "sendmail", "sendmail", "exim", "exim", "exim"])
        for id in ["SRV-005", "u-48", "U-70"] {
            #expect(try PlaybookLoader.select(books, [id]).map(\.id) == ["SRV-005"])
        }
    }

    @Test func unknownItemNamesTheKnownOnes() throws {
        let books = try PlaybookLoader.loadAll(folder: Repo.playbooks)
        #expect(throws: MTAGuardError.self) { try PlaybookLoader.select(books, ["U-99"]) }
        do { _ = try PlaybookLoader.select(books, ["U-99"]) } catch {
            #expect("\(error)".contains("unknown item 'U-99'"))
            #expect("\(error)".contains("SRV-005"))
        }
    }

    @Test func malformedYAMLNamesFileLineAndColumn() {
        let text = "id: SRV-005\ntitle: x\ntargets:\n  - mta: postfix\n   file: [unclosed\n"
        let message = error(text)
        #expect(message.hasPrefix("playbooks/x.yaml:5:"), "\(message)")
        #expect(message.contains("invalid YAML"))
    }

    @Test func unknownFieldNamesLineAndField() {
        let text = valid.replacingOccurrences(of: "    lens: Postfix_Main.lns\n", with: "    lens: Postfix_Main.lns\n    lense: typo\n")
        let message = error(text)
        let line = text.components(separatedBy: "\n").firstIndex { $0.contains("lense: typo") }! + 1
        #expect(message.hasPrefix("playbooks/x.yaml:\(line):5: targets[0]: unknown field 'lense'"), "\(message)")
    }

    @Test func missingFieldAndBadValues() {
        #expect(error("title: x\ntargets: []\n").contains("missing field 'id'"))
        #expect(error(valid.replacingOccurrences(of: "mta: postfix", with: "mta: qmail")).contains("targets[0].mta: 'qmail' is not one of"))
        #expect(error(valid.replacingOccurrences(of: "file: /etc/postfix/main.cf", with: "file: etc/../x")).contains("must be an absolute path"))
        #expect(error(valid.replacingOccurrences(of: "action: reload", with: "action: explode")).contains("targets[0].after.action"))
        #expect(error(valid.replacingOccurrences(of: "set: \"yes\"", with: "add_flags: [x]")).contains("a value check is fixed with 'set'"))
        #expect(error("- just\n- a list\n").contains("expected a mapping"))
        #expect(error("").contains("is empty"))
    }

    /// The check words of SRV-006/008/170 (at_least, excludes) and a fix's inventory variable.
    @Test func numericAndExcludingChecksAndVariablesAreValidated() {
        let srv008 = try! String(contentsOfFile: Repo.playbooks + "/srv-008.yaml", encoding: .utf8)
        let first = "      at_least: 1\n"
        let line = srv008.components(separatedBy: "\n").firstIndex { $0 == "      at_least: 1" }! + 1
        let notNumber = error(srv008.replacingOccurrences(of: first, with: "      at_least: many\n"))
        #expect(notNumber.hasPrefix("playbooks/x.yaml:\(line):"), "\(notNumber)")
        #expect(notNumber.contains("'at_least' takes a whole number"), "\(notNumber)")
        #expect(error(srv008.replacingOccurrences(of: first, with: "      at_least: 1\n      equals: [\"5\"]\n"))
            .contains("say one of 'equals'"))
        #expect(error(srv008.replacingOccurrences(of: "variable: mtaguard_sendmail_max_daemon_children", with: "variable: PATH"))
            .contains("'variable' names an inventory variable mtaguard_NAME"))
        #expect(error(valid.replacingOccurrences(of: "action: reload", with: "action: regenerate")).contains("targets[0].after.action"))
    }

    /// srv-005's postfix target checks a staged main.cf; the staging keys are validated.
    @Test func stagedValidationIsReadAndItsKeysValidated() throws {
        let srv = try PlaybookLoader.load(file: "playbooks/srv-005.yaml", text: valid)
        let target = try #require(srv.targets.first as? Target)
        let v = try #require(target.validateBeforeReplace)
        #expect(v.argv == ["postfix", "-c", "{dir}", "check"] && v.stages)
        #expect(v.stagedWith == ["master.cf"] && v.backdate == 3)
        #expect(target.validateAfterReplace == nil)
        let staged = "staged_with: [master.cf]"
        let line = valid.components(separatedBy: "\n").firstIndex { $0.hasSuffix(staged) }! + 1
        let bad = error(valid.replacingOccurrences(of: staged, with: "staged_with: [../shadow]"))
        #expect(bad.hasPrefix("playbooks/x.yaml:\(line):"), "\(bad)")
        #expect(bad.contains("'../shadow' is not a file name in the target's folder"), "\(bad)")
        for n in ["0", "60", "soon"] {
            #expect(error(valid.replacingOccurrences(of: "backdate_seconds: 3", with: "backdate_seconds: \(n)"))
                .contains("'backdate_seconds' takes a whole number from 1 to 59"))
        }
        #expect(error(valid.replacingOccurrences(of: "before_replace: [postfix, -c, \"{dir}\", check]", with: "before_replace: [postfix, check]"))
            .contains("'staged_with' needs a before_replace command that reads '{dir}'"))
        #expect(error(valid.replacingOccurrences(of: "before_replace: [postfix, -c, \"{dir}\", check]", with: "after_replace: [postfix, -c, \"{dir}\", check]"))
            .contains("'{dir}' is a staging folder for before_replace"))
    }

    @Test func duplicateKeyIsRefused() {
        let message = error("id: A\nid: B\ntitle: x\ntargets: []\n")
        #expect(message.hasPrefix("playbooks/x.yaml: "), "\(message)")
        #expect(message.contains("duplicated key(s): 'id'"), "\(message)")
    }

    @Test func oversizedDocumentIsRefused() {
        let big = "id: A\ntitle: x\n# " + String(repeating: "x", count: 2 << 20) + "\n"
        #expect(error(big).contains("at most"))
    }
}

@Suite struct UnifiedDiffTests {
    @Test func oneLineChangeWithContext() {
        let old = Data((1...10).map { "line \($0)\n" }.joined().utf8)
        let new = Data((1...10).map { $0 == 5 ? "changed\n" : "line \($0)\n" }.joined().utf8)
        let diff = UnifiedDiff.make(path: "/etc/x", old: old, new: new)
        #expect(diff == """
            --- a/etc/x
            +++ b/etc/x
            @@ -2,7 +2,7 @@
             line 2
             line 3
             line 4
            -line 5
            +changed
             line 6
             line 7
             line 8

            """)
    }

    @Test func noDiffForSameBytesAndMarkerForMissingNewline() {
        #expect(UnifiedDiff.make(path: "/a", old: Data("x".utf8), new: Data("x".utf8)) == nil)
        let diff = UnifiedDiff.make(path: "/a", old: Data("a\nb".utf8), new: Data("a\nb\nc\n".utf8))!
        #expect(diff.contains("-b\n\\ No newline at end of file\n+b\n+c\n"))
    }

    @Test func matchesDiffUOnRealFile() throws {
        let old = try Repo.fixtureData("postfix/main.cf.dist")
        var text = String(decoding: old, as: UTF8.self)
        text = text.replacingOccurrences(of: "mynetworks = 127.0.0.0/8\n", with: "mynetworks = 127.0.0.0/8\nx = 1\n")
        text += "y = 2\n"
        let dir = try TempDir("diff")
        defer { dir.remove() }
        let a = try dir.write("a", old)
        let b = try dir.write("b", text)
        let ours = UnifiedDiff.make(path: "/x", old: old, new: Data(text.utf8))!
        let theirs = try runCommand(["diff", "-u", "--label", "a/x", "--label", "b/x", a, b]).stdout
        #expect(ours == theirs)
    }
}
