import Foundation
import Testing

/// The whole mail family in one run over a lab fleet: a postfix host, a sendmail host and an
/// exim host, each configured open the way the items find real hosts, and a bare one. One
/// `check` reports every shipped item for every host with evidence; one `apply` fixes every
/// failing item that has a fix; a second `apply` changes nothing; `rollback` gives every file
/// back byte for byte (and every mode).
@Suite struct MailFamilyFleetTests {
    static let hosts = ["fam-postfix", "fam-sendmail", "fam-exim", "fam-bare"]
    static let deny = "R$*\t\t\t$#error $@ 5.7.1 $: \"550 Relaying denied\"\n"

    @Test func oneCheckOneApplyEveryItemEveryHost() throws {
        let exim = try ExtractedMTA.exim(macros: ["MAIN_RELAY_NETS = 0.0.0.0/0"])
        defer { exim.stop() }
        let lab = try SSHLab.start(hosts: Self.hosts)
        defer { lab.stop() }
        let backups = try TempDir("family")
        defer { backups.remove() }

        // postfix: Debian's main.cf with the world in mynetworks and the version in the banner.
        let pf = lab.host("fam-postfix").root
        try PostfixDefaults.populate(pf + "/etc/postfix")
        let main = try String(contentsOfFile: Repo.fixture("postfix/main.cf.debian"), encoding: .utf8)
            + "mynetworks = 127.0.0.0/8 0.0.0.0/0\nsmtpd_banner = $myhostname ESMTP $mail_name $mail_version\n"
        try Data(main.utf8).write(to: URL(fileURLWithPath: pf + "/etc/postfix/main.cf"))

        // sendmail: the generic cf with its deny rule commented out and a low log level, its .mc
        // with promiscuous_relay.
        let sm = lab.host("fam-sendmail")
        let cf = try String(contentsOfFile: Repo.fixture("sendmail/generic-linux.cf"), encoding: .utf8)
            .replacingOccurrences(of: "\n" + Self.deny, with: "\n#" + Self.deny)
            .replacingOccurrences(of: "\nO LogLevel=9\n", with: "\nO LogLevel=5\n")
        #expect(cf.contains("\nO LogLevel=5\n"))
        let mc = try String(contentsOfFile: Repo.fixture("sendmail/generic-linux.mc"), encoding: .utf8)
            .replacingOccurrences(of: "MAILER(local)dnl\n", with: "FEATURE(`promiscuous_relay')dnl\nMAILER(local)dnl\n")
        try FileManager.default.createDirectory(atPath: sm.root + "/etc/mail", withIntermediateDirectories: true)
        try Data(cf.utf8).write(to: URL(fileURLWithPath: sm.root + "/etc/mail/sendmail.cf"))
        try Data(mc.utf8).write(to: URL(fileURLWithPath: sm.root + "/etc/mail/sendmail.mc"))
        // This machine's sendmail is postfix's: a stand-in that accepts every cf.
        try Data("#!/bin/sh\nexit 0\n".utf8).write(to: URL(fileURLWithPath: sm.shims + "/sendmail"))
        chmod(sm.shims + "/sendmail", 0o755)

        // exim: Debian's template with the world in MAIN_RELAY_NETS, in the upper layer of the
        // host's /etc overlay; exim4 is the real one.
        let ex = lab.host("fam-exim")
        let eximEtc = ex.directory + "/overlay/etc/exim4"
        try FileManager.default.createDirectory(atPath: eximEtc, withIntermediateDirectories: true)
        let eximConf = try Data(contentsOf: URL(fileURLWithPath: exim.configFile))
        try eximConf.write(to: URL(fileURLWithPath: eximEtc + "/exim4.conf"))
        let wrapper = "#!/bin/sh\nLD_LIBRARY_PATH='\(exim.packages.eximLibraries)' exec '\(exim.packages.eximBinary)' \"$@\"\n"
        try Data(wrapper.utf8).write(to: URL(fileURLWithPath: ex.shims + "/exim4"))
        chmod(ex.shims + "/exim4", 0o755)

        let files: [(String, String)] = [
            ("fam-postfix", "/etc/postfix/main.cf"), ("fam-sendmail", "/etc/mail/sendmail.cf"),
            ("fam-sendmail", "/etc/mail/sendmail.mc"), ("fam-exim", "/etc/exim4/exim4.conf"),
        ]
        func path(_ host: String, _ file: String) -> String {
            file.hasPrefix("/etc/exim4/") ? lab.host(host).directory + "/overlay" + file : lab.host(host).root + file
        }
        func bytes() throws -> [Data] { try files.map { try Data(contentsOf: URL(fileURLWithPath: path($0.0, $0.1))) } }
        let originals = try bytes()
        let ssh = ["-i", lab.inventoryPath, "--ssh-config", lab.sshConfigPath, "--connect-timeout", "60"]

        func verdicts() throws -> [String: String] {
            let r = try mtaguard(["check", "--format", "json"] + ssh, backups: backups.path)
            let doc = try #require(try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any], "\(r)")
            var out: [String: String] = [:]
            for host in doc["hosts"] as? [[String: Any]] ?? [] {
                for f in host["findings"] as? [[String: Any]] ?? [] {
                    #expect(!(f["evidence"] as? [[String: Any]] ?? []).isEmpty, "\(host["host"] ?? "") \(f["item"] ?? "")")
                    out["\(host["host"]!) \(f["item"]!)"] = f["status"] as? String
                }
            }
            return out
        }
        let items = try PlaybookIDs.shipped()
        let before = try verdicts()
        #expect(before.count == Self.hosts.count * items.count, "\(before)")
        for item in ["SRV-005", "U-47", "SRV-008", "SRV-170"] {
            #expect(before["fam-postfix \(item)"] == "fail", "\(item): \(before)")
        }
        for item in ["SRV-005", "U-46", "U-47", "SRV-006", "SRV-008", "SRV-170"] {
            #expect(before["fam-sendmail \(item)"] == "fail", "\(item): \(before)")
        }
        for item in ["U-47", "SRV-006", "SRV-170"] { #expect(before["fam-exim \(item)"] == "fail", "\(item): \(before)") }
        #expect(before["fam-exim SRV-005"] == "pass")

        let apply = try mtaguard(["apply", "--yes"] + ssh, backups: backups.path)
        #expect(apply.status == 0, "\(apply)")
        let after = try verdicts()
        // Every item with a fix now passes; U-45 (a version: patched, not edited) may still fail.
        for (key, status) in after where !key.hasSuffix(" U-45") {
            #expect(status == "pass" || status == "not-applicable", "\(key): \(status)\n\(apply.stdout)")
        }
        let again = try mtaguard(["apply", "--yes"] + ssh, backups: backups.path)
        #expect(again.status == 0 && again.stdout.contains("nothing to do"), "\(again)")
        #expect(!again.stdout.contains("changed"), "\(again)")

        let runs = try mtaguard(["runs", "--format", "json", "--backups", backups.path], backups: backups.path)
        let list = try #require(try JSONSerialization.jsonObject(with: Data(runs.stdout.utf8)) as? [[String: Any]])
        #expect(list.count == 1)
        let id = try #require(list.first?["id"] as? String)
        let rollback = try mtaguard(["rollback", id, "--ssh-config", lab.sshConfigPath, "--connect-timeout", "60", "--backups", backups.path],
                                    backups: backups.path)
        #expect(rollback.status == 0, "\(rollback)")
        #expect(try bytes() == originals)
        #expect(try verdicts() == before)
    }
}

/// The `id:` of every playbook the repository ships.
enum PlaybookIDs {
    static func shipped() throws -> [String] {
        try FileManager.default.contentsOfDirectory(atPath: Repo.playbooks).filter { $0.hasSuffix(".yaml") }.sorted()
            .compactMap { file -> String? in
                let text = try String(contentsOfFile: Repo.playbooks + "/" + file, encoding: .utf8)
                return text.split(separator: "\n").first { $0.hasPrefix("id: ") }.map { String($0.dropFirst(4)) }
            }
    }
}
