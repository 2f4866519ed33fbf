import Augeas
import Foundation
import Testing

@Suite struct AugeasWrapperTests {
    /// A root with one postfix main.cf, loaded through a single transform.
    func makeRoot(_ text: String) throws -> (root: String, aug: Augeas) {
        let root = NSTemporaryDirectory() + "aug-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: root + "/etc/postfix", withIntermediateDirectories: true)
        try Data(text.utf8).write(to: URL(fileURLWithPath: root + "/etc/postfix/main.cf"))
        let aug = try Augeas(root: root)
        try aug.addTransform(lens: "Postfix_Main.lns", file: "/etc/postfix/main.cf")
        try aug.load()
        return (root, aug)
    }

    @Test func getSetMatchAndSaveKeepOtherBytes() throws {
        let text = "# comment kept\nmyhostname = mail.example.com\nsmtpd_banner = $myhostname ESMTP\n"
        let (root, aug) = try makeRoot(text)
        defer { try? FileManager.default.removeItem(atPath: root) }
        #expect(try aug.get("/files/etc/postfix/main.cf/myhostname") == "mail.example.com")
        #expect(try aug.match("/files/etc/postfix/main.cf/*").count == 3)
        #expect(try aug.get("/files/etc/postfix/main.cf/nothing") == nil)
        try aug.set("/files/etc/postfix/main.cf/disable_vrfy_command", "yes")
        try aug.save()
        let after = try String(contentsOfFile: root + "/etc/postfix/main.cf", encoding: .utf8)
        #expect(after == text + "disable_vrfy_command = yes\n")
    }

    @Test func insertRemoveRenameAndLabel() throws {
        let (root, aug) = try makeRoot("a = 1\nb = 2\n")
        defer { try? FileManager.default.removeItem(atPath: root) }
        let base = "/files/etc/postfix/main.cf"
        try aug.insert("c", at: base + "/b", before: true)
        try aug.set(base + "/c", "3")
        #expect(try aug.match(base + "/*").map { try aug.label($0) ?? "" } == ["a", "c", "b"])
        #expect(try aug.rename(base + "/a", to: "z") == 1)
        #expect(try aug.remove(base + "/b") == 1)
        try aug.save()
        #expect(try String(contentsOfFile: root + "/etc/postfix/main.cf", encoding: .utf8) == "z = 1\nc = 3\n")
    }

    @Test func ambiguousSetIsAnErrorWithAugeasCode() throws {
        let (root, aug) = try makeRoot("a = 1\na = 2\n")
        defer { try? FileManager.default.removeItem(atPath: root) }
        #expect {
            try aug.set("/files/etc/postfix/main.cf/a", "3")
        } throws: { error in
            (error as? AugeasError)?.code == .multipleMatches
        }
        #expect(throws: AugeasError.self) { try aug.match("/files/etc[") }
    }

    @Test func loadErrorCarriesFileAndLine() throws {
        let root = NSTemporaryDirectory() + "aug-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: root) }
        try FileManager.default.createDirectory(atPath: root + "/etc/postfix", withIntermediateDirectories: true)
        try Data("a = 1\nthis is not a setting\n".utf8).write(to: URL(fileURLWithPath: root + "/etc/postfix/main.cf"))
        let aug = try Augeas(root: root)
        try aug.addTransform(lens: "Postfix_Main.lns", file: "/etc/postfix/main.cf")
        do {
            try aug.load()
            Issue.record("load of an unparseable file succeeded")
        } catch let error as AugeasError {
            #expect(error.file == "/etc/postfix/main.cf")
            #expect(error.line == 2)
            #expect(error.description.contains("/etc/postfix/main.cf:2"))
        }
    }

    @Test func textParseAndRenderWithoutFiles() throws {
        let aug = try Augeas(flags: [.noModuleAutoload, .enableSpan])
        let text = "# x\nfoo = b\n  # indented comment\nbar = c\n"
        try aug.parse(text: text, lens: "Postfix_Main.lns", into: "/t")
        #expect(try aug.get("/t/bar") == "c")
        let span = try aug.span("/t/bar")
        #expect(text.utf8.prefix(span.nodeRange.lowerBound).filter { $0 == 10 }.count == 3)
        try aug.set("/t/foo", "changed")
        #expect(try aug.render(lens: "Postfix_Main.lns", from: "/t") == "# x\nfoo = changed\n  # indented comment\nbar = c\n")
    }

    @Test func textParseErrorHasLineAndCharacter() throws {
        let aug = try Augeas()
        do {
            try aug.parse(text: "ok = 1\nnot valid\n", lens: "Postfix_Main.lns", into: "/t")
            Issue.record("parse of invalid text succeeded")
        } catch let error as AugeasError {
            #expect(error.code == .fileError)
            #expect(error.line == 2)
            #expect(error.character != nil)
        }
    }

    @Test func unknownLensIsAnError() throws {
        let aug = try Augeas()
        #expect(throws: AugeasError.self) { try aug.parse(text: "x\n", lens: "No_Such.lns", into: "/t") }
    }
}
