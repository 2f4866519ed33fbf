import Foundation
import Testing

/// `check --output DIR` over a lab fleet: every host is reported for every item (SRV-005, U-45,
/// U-46) with evidence, in every format, and the formats agree.
@Suite struct FleetReportTests {
    static let hosts = ["rep-postfix", "rep-sendmail", "rep-bare"]

    @Test func everyHostAndItemInEveryFormat() throws {
        let lab = try SSHLab.start(hosts: Self.hosts)
        defer { lab.stop() }
        let backups = try TempDir("fleet-report"), out = try TempDir("fleet-report-out")
        defer { backups.remove(); out.remove() }
        try Repo.fixtureData("postfix/main.cf.debian").write(to: URL(fileURLWithPath: lab.host("rep-postfix").root + "/etc/postfix/main.cf"))
        try Repo.fixtureData("sendmail/generic-linux.cf").write(to: URL(fileURLWithPath: lab.host("rep-sendmail").root + "/etc/mail/sendmail.cf"))

        let check = try mtaguard(["check", "-i", lab.inventoryPath, "--ssh-config", lab.sshConfigPath, "--connect-timeout", "60",
                                  "--output", out.path + "/r", "--lang", "ko"], backups: backups.path)
        #expect(check.status == 2, "\(check)")
        #expect(try FileManager.default.contentsOfDirectory(atPath: out.path + "/r").sorted()
            == ["report.csv", "report.html", "report.json", "report.pdf", "report.txt", "report.xlsx"])

        // JSON: each host, each item, a verdict with evidence.
        let doc = try JSONSerialization.jsonObject(with: try out.read("r/report.json")) as! [String: Any]
        #expect(doc["schema"] as? String == "mtaguard.check/1")
        let hosts = doc["hosts"] as! [[String: Any]]
        #expect(Set(hosts.compactMap { $0["host"] as? String }) == Set(Self.hosts))
        // Every item the repository ships (the `id:` of each playbook).
        let shipped = try FileManager.default.contentsOfDirectory(atPath: Repo.playbooks).filter { $0.hasSuffix(".yaml") }
            .compactMap { file -> String? in
                let text = try String(contentsOfFile: Repo.playbooks + "/" + file, encoding: .utf8)
                return text.split(separator: "\n").first { $0.hasPrefix("id: ") }.map { String($0.dropFirst(4)) }
            }
        #expect(Set(shipped).isSuperset(of: ["SRV-005", "U-45", "U-46", "SRV-006", "SRV-008", "SRV-170"]), "\(shipped)")
        var verdicts: [String: String] = [:]
        for host in hosts {
            let findings = host["findings"] as! [[String: Any]]
            #expect(Set(findings.compactMap { $0["item"] as? String }) == Set(shipped), "\(host)")
            for f in findings {
                let evidence = f["evidence"] as? [[String: Any]] ?? []
                #expect(!evidence.isEmpty, "\(host["host"] ?? "?") \(f["item"] ?? "?") has no evidence")
                verdicts["\(host["host"]!) \(f["item"]!)"] = f["status"] as? String
            }
        }
        #expect(verdicts["rep-postfix SRV-005"] == "fail")
        #expect(verdicts["rep-sendmail SRV-005"] == "fail")
        #expect(verdicts["rep-bare SRV-005"] == "n/a" || verdicts["rep-bare SRV-005"] == "not-applicable", "\(verdicts)")
        // Every lab host sees this machine's postsuper (mode 0755): U-46 fails on each.
        for name in Self.hosts { #expect(verdicts["\(name) U-46"] == "fail", "\(verdicts)") }
        // Every lab host runs this machine's postfix binaries: U-45 judges that postfix.
        let version = try runCommand(["postconf", "-d", "-h", "mail_version"]).stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        let text = String(decoding: try out.read("r/report.txt"), as: UTF8.self)
        #expect(text == check.stdout)
        for name in Self.hosts { #expect(text.contains(name)) }
        #expect(text.contains("postfix \(version)"), "\(text)")

        // CSV and HTML carry the same host × item verdicts.
        let csv = String(decoding: try out.read("r/report.csv"), as: UTF8.self)
        #expect(csv.hasPrefix("\u{FEFF}호스트,항목"))
        let html = String(decoding: try out.read("r/report.html"), as: UTF8.self)
        for name in Self.hosts {
            for item in shipped {
                #expect(csv.contains("\(name),\(item),"), "\(name) \(item) missing from the CSV")
            }
            #expect(html.contains(name))
        }
        #expect(csv.contains("rep-postfix,SRV-005,") && csv.contains(",취약,"))
        #expect(html.contains("U-45") && html.contains("SRV-005") && !html.contains("<script"))
    }
}
