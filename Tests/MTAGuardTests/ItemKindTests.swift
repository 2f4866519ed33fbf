import Foundation
import Testing

@testable import MTAGuard

/// Items as data: a new simple item needs a playbook and no Swift; kinds are named, and an
/// unknown kind or field is refused with its place; the item table lists every item by every
/// scheme's number, and any of them selects the item.
@Suite struct ItemKindTests {
    static let heloItem = """
        # A site's own item: postfix must be greeted with HELO/EHLO.
        id: SITE-HELO
        schemes: { kisa-2026: X-1 }
        title: HELO 요구
        title_en: Require HELO
        severity: low
        targets:
          - kind: setting
            mta: postfix
            file: /etc/postfix/main.cf
            lens: Postfix_Main.lns
            check: { node: smtpd_helo_required, pick: last, equals: ["yes"], default: "no" }
            fix: { set: "yes" }

        """

    @Test func aOneSettingItemNeedsNoSwift() throws {
        let books = try TempDir("books"), root = try TempDir("helo-root"), backups = try TempDir("helo-backups")
        defer { books.remove(); root.remove(); backups.remove() }
        try books.write("site-helo.yaml", Self.heloItem)
        let main = try Repo.fixtureData("postfix/main.cf.debian")
        try root.write("etc/postfix/main.cf", main)
        func run(_ args: [String]) throws -> CommandResult {
            try mtaguard(args + ["--root", root.path], backups: backups.path, playbooks: books.path)
        }
        let check = try run(["check", "--item", "X-1"])
        #expect(check.status == 2 && check.stdout.contains("SITE-HELO") && check.stdout.contains("needs yes"), "\(check)")
        let plan = try run(["plan", "--item", "SITE-HELO"])
        #expect(plan.status == 2 && plan.stdout.contains("+smtpd_helo_required = yes"), "\(plan)")
        let apply = try run(["apply", "--yes"])
        #expect(apply.status == 0, "\(apply)")
        #expect(try root.read("etc/postfix/main.cf") == main + Data("smtpd_helo_required = yes\n".utf8))
        // postfix itself reads the new value.
        let dir = try TempDir("helo-postconf")
        defer { dir.remove() }
        try dir.write("main.cf", try root.read("etc/postfix/main.cf"))
        try FileManager.default.setAttributes([.modificationDate: Date(timeIntervalSinceNow: -3600)], ofItemAtPath: dir.path + "/main.cf")
        let postconf = try runCommand(["postconf", "-c", dir.path, "-h", "smtpd_helo_required"])
        #expect(postconf.stdout == "yes\n", "\(postconf)")
        #expect(try run(["check"]).status == 0)
        let id = try #require(apply.stdout.split(separator: "\n").first { $0.hasPrefix("run ") }.map { String($0.dropFirst(4)) })
        let rollback = try mtaguard(["rollback", id], backups: backups.path, playbooks: books.path)
        #expect(rollback.status == 0, "\(rollback)")
        #expect(try root.read("etc/postfix/main.cf") == main)
    }

    @Test(arguments: [
        ("kind: setting\n", "kind: settings\n", "site-helo.yaml:8:11: targets[0].kind: unknown kind 'settings' (known: setting, file-mode, exim-acl, postfix-relay, sendmail-relay, exim-relay, exim-log, exim-setting, sendmail-greeting)"),
        ("    mta: postfix\n", "    mta: postfix\n    forbid: o+x\n", "site-helo.yaml:10:5: targets[0]: unknown field 'forbid'"),
        ("schemes: { kisa-2026: X-1 }", "schemes: { kisa-2020: X-1 }", "site-helo.yaml:3:12: schemes: unknown field 'kisa-2020'"),
    ])
    func unknownKindsAndFieldsAreRefusedWithTheirPlace(from: String, to: String, expected: String) throws {
        let books = try TempDir("books"), backups = try TempDir("bad-backups")
        defer { books.remove(); backups.remove() }
        try books.write("site-helo.yaml", Self.heloItem.replacingOccurrences(of: from, with: to))
        let r = try mtaguard(["playbooks", "validate", "--playbooks", books.path], backups: backups.path)
        #expect(r.status == 1, "\(r)")
        #expect(r.stderr.contains(expected), "\(r)")
    }

    @Test(arguments: [
        ("o+x", UInt32(0o001)), ("go+w", 0o022), ("a+x", 0o111), ("o+x,g+w", 0o021), ("u+rwx", 0o700),
    ])
    func forbiddenBitsAreSpelledAsChmodDoes(spelling: String, bits: UInt32) {
        #expect(FileModeTarget.bits(spelling) == bits)
    }

    @Test(arguments: ["z+x", "o+", "+x", "ox", "o-x", "o+q", ""])
    func aBadSpellingIsRefused(spelling: String) {
        #expect(FileModeTarget.bits(spelling) == nil)
    }

    @Test func theItemTableListsEveryItemByEveryScheme() throws {
        let backups = try TempDir("items")
        defer { backups.remove() }
        let text = try mtaguard(["items"], backups: backups.path)
        #expect(text.status == 0)
        let lines = text.stdout.split(separator: "\n").map(String.init)
        #expect(lines.first?.hasPrefix("KISA 2026  KISA 2021  전자금융") == true, "\(text)")
        for row in [["U-48", "U-70", "SRV-005", "중"], ["U-45", "U-30", "SRV-007", "상"], ["U-46", "U-32", "SRV-010", "상"]] {
            #expect(lines.contains { line in line.split(separator: " ").map(String.init).starts(with: row) }, "\(row): \(text.stdout)")
        }
        let json = try mtaguard(["items", "--format", "json"], backups: backups.path)
        let rows = try #require(try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [[String: Any]])
        let u46 = try #require(rows.first { $0["id"] as? String == "U-46" })
        #expect(u46["schemes"] as? [String: String] == ["kisa-2026": "U-46", "kisa-2021": "U-32", "efinance": "SRV-010"])
        #expect(u46["mtas"] as? [String] == ["sendmail", "postfix", "exim"])
        #expect(u46["severity"] as? String == "상")
        // Every id in the table selects its item.
        let root = try TempDir("items-root")
        defer { root.remove() }
        for id in ["U-32", "SRV-010", "u-46"] {
            let r = try mtaguard(["check", "--root", root.path, "--item", id], backups: backups.path)
            #expect(r.stdout.contains("U-46"), "\(id): \(r)")
        }
    }
}
