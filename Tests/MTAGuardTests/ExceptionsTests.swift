import Foundation
import Testing

/// `--exceptions FILE` (예외 처리): a covered 취약 finding is 예외 in every format with its
/// reason, apply leaves its item alone, an expired entry is a warning, bad files name the line.
@Suite struct ExceptionsTests {
    func host() throws -> (root: TempDir, backups: TempDir) {
        let root = try TempDir("exc-root")
        try root.write("etc/postfix/main.cf", try Repo.fixtureData("postfix/main.cf.debian"), mode: 0o644)
        return (root, try TempDir("exc-backups"))
    }

    static let until = "2099-12-31"

    func exceptions(_ dir: TempDir, _ text: String) throws -> String {
        try dir.write("exceptions.yaml", text)
        return dir.path + "/exceptions.yaml"
    }

    @Test func aCoveredFindingIsAnExceptionEverywhereAndApplyLeavesItAlone() throws {
        let (root, backups) = try host()
        defer { root.remove(); backups.remove() }
        // U-48 is SRV-005's 2026 number: any id of the item names it.
        let file = try exceptions(backups, """
            - host: all
              item: U-48
              reason: "업무상 VRFY 필요 (CHG-2026-118)"
              approved_by: 김보안
              until: \(Self.until)
            """)
        let out = try TempDir("exc-out")
        defer { out.remove() }
        let check = try mtaguard(["check", "--root", root.path, "--item", "SRV-005", "--item", "SRV-008", "--exceptions", file,
                                  "--output", out.path, "--lang", "ko"], backups: backups.path)
        // SRV-008 still fails on the Debian main.cf; SRV-005 is excepted.
        #expect(check.status == 2, "\(check)")
        #expect(check.stdout.contains("SRV-005  예외(exception)"), "\(check.stdout)")
        #expect(check.stdout.contains("exception: 업무상 VRFY 필요 (CHG-2026-118) (approved by 김보안, until \(Self.until); \(file):1)"))
        let doc = try #require(try JSONSerialization.jsonObject(with: try out.read("report.json")) as? [String: Any])
        let findings = try #require(((doc["hosts"] as? [[String: Any]])?.first)?["findings"] as? [[String: Any]])
        let srv005 = try #require(findings.first { $0["item"] as? String == "SRV-005" })
        #expect(srv005["status"] as? String == "exception")
        let mark = try #require(srv005["exception"] as? [String: Any])
        #expect(mark["approvedBy"] as? String == "김보안" && mark["until"] as? String == Self.until && mark["covers"] as? String == "fail")
        let csv = String(decoding: try out.read("report.csv"), as: UTF8.self)
        #expect(csv.contains(",SRV-005,") && csv.contains(",예외,") && csv.contains("예외 승인: 업무상 VRFY 필요"), "\(csv)")
        let html = String(decoding: try out.read("report.html"), as: UTF8.self)
        #expect(html.contains("status-exception") && html.contains("예외 승인: 업무상 VRFY 필요") && html.contains("예외 항목: 조치하지 않음"))

        // Only exceptions: check exits 0.
        let alone = try mtaguard(["check", "--root", root.path, "--item", "SRV-005", "--exceptions", file], backups: backups.path)
        #expect(alone.status == 0, "\(alone)")

        // plan and apply say so and leave the item alone; SRV-008 is still fixed.
        let plan = try mtaguard(["plan", "--root", root.path, "--item", "SRV-005", "--item", "SRV-008", "--exceptions", file], backups: backups.path)
        #expect(plan.status == 2)
        #expect(plan.stdout.contains("SRV-005 예외(exception): left as is"), "\(plan.stdout)")
        #expect(!plan.stdout.contains("disable_vrfy_command") && plan.stdout.contains("smtpd_client_connection_rate_limit"), "\(plan.stdout)")
        let apply = try mtaguard(["apply", "--root", root.path, "--item", "SRV-005", "--item", "SRV-008", "--exceptions", file, "--yes"], backups: backups.path)
        #expect(apply.status == 0, "\(apply)")
        #expect(apply.stdout.contains("SRV-005 예외(exception): left as is"), "\(apply.stdout)")
        let after = try String(contentsOfFile: root.path + "/etc/postfix/main.cf", encoding: .utf8)
        #expect(!after.contains("disable_vrfy_command") && after.contains("smtpd_client_connection_rate_limit"))
        // Without the exceptions, SRV-005 fails again.
        let bare = try mtaguard(["check", "--root", root.path, "--item", "SRV-005"], backups: backups.path)
        #expect(bare.status == 2 && bare.stdout.contains("SRV-005  취약(fail)"))
    }

    @Test func anExpiredExceptionWarnsAndTheFindingCountsAgain() throws {
        let (root, backups) = try host()
        defer { root.remove(); backups.remove() }
        let file = try exceptions(backups, """
            # approved last year
            - host: "*"
              item: SRV-005
              reason: migration
              approved_by: lee
              until: 2020-01-31
            """)
        let check = try mtaguard(["check", "--root", root.path, "--item", "SRV-005", "--exceptions", file], backups: backups.path)
        #expect(check.status == 2, "\(check)")
        #expect(check.stderr.contains("warning: \(file):2: the exception for * SRV-005 ended on 2020-01-31 (approved by lee); the finding counts again"), "\(check.stderr)")
        #expect(check.stdout.contains("SRV-005  취약(fail)"))
        let plan = try mtaguard(["plan", "--root", root.path, "--item", "SRV-005", "--exceptions", file], backups: backups.path)
        #expect(plan.stdout.contains("+disable_vrfy_command = yes"))
    }

    @Test(arguments: [
        ("- host: all\n  item: SRV-005\n  reason: r\n  approved_by: a\n", ":1:3: [0]: missing field 'until'"),
        ("- host: all\n  item: SRV-005\n  reason: r\n  approved_by: a\n  until: 2026-02-30\n", ":5:10: [0].until: '2026-02-30' is not a date written YYYY-MM-DD"),
        ("- host: all\n  item: SRV-005\n  reason: r\n  approved_by: a\n  until: 2026-12-31\n  owner: x\n", ":6:3: [0]: unknown field 'owner'"),
        ("- host: all\n  item: SRV-999\n  reason: r\n  approved_by: a\n  until: 2026-12-31\n", ":1: item 'SRV-999' is no item of the playbooks"),
        ("- host: all\n  item: SRV-005\n  reason: \"\"\n  approved_by: a\n  until: 2026-12-31\n", ":3:11: [0].reason: must be a non-empty text"),
        ("host: all\n", ":1:1: expected a list of exceptions"),
        ("- host: all\n\titem: SRV-005\n", ":2:"),
    ])
    func aMalformedFileNamesItsLineAndNothingRuns(text: String, expected: String) throws {
        let (root, backups) = try host()
        defer { root.remove(); backups.remove() }
        let file = try exceptions(backups, text)
        let before = try Data(contentsOf: URL(fileURLWithPath: root.path + "/etc/postfix/main.cf"))
        let apply = try mtaguard(["apply", "--root", root.path, "--exceptions", file, "--yes"], backups: backups.path)
        #expect(apply.status == 1, "\(apply)")
        #expect(apply.stderr.contains(file + expected), "\(apply.stderr)")
        #expect(try Data(contentsOf: URL(fileURLWithPath: root.path + "/etc/postfix/main.cf")) == before)
    }

    /// Over SSH, host patterns as --limit takes them: a group minus one host.
    @Test func hostPatternsSelectHostsAsLimitDoes() throws {
        let lab = try SSHLab.start(hosts: ["exc-a", "exc-b", "exc-c"])
        defer { lab.stop() }
        let backups = try TempDir("exc-ssh")
        defer { backups.remove() }
        for name in ["exc-a", "exc-b", "exc-c"] {
            try PostfixDefaults.populate(lab.host(name).root + "/etc/postfix", main: try Repo.fixtureData("postfix/main.cf.debian"))
        }
        let file = try exceptions(backups, """
            - host: "all:!exc-b"
              item: SRV-005
              reason: "legacy relay of the payment gateway"
              approved_by: "CISO Park"
              until: \(Self.until)
            """)
        let fleet = ["-i", lab.inventoryPath, "--ssh-config", lab.sshConfigPath, "--connect-timeout", "60"]
        let apply = try mtaguard(["apply", "--item", "SRV-005", "--exceptions", file, "--yes"] + fleet, backups: backups.path)
        #expect(apply.status == 0, "\(apply)")
        for (name, excepted) in [("exc-a", true), ("exc-b", false), ("exc-c", true)] {
            let text = try lab.ssh(name, "cat /etc/postfix/main.cf").stdout
            #expect(text.contains("disable_vrfy_command = yes") == !excepted, "\(name)")
            #expect(apply.stdout.contains("== \(name): SRV-005 예외(exception): left as is") == excepted, "\(name): \(apply.stdout)")
        }
    }
}
