import Foundation
import Testing

/// Segmented networks: a host reached only through a bastion, by `ProxyJump` in the user's
/// ssh_config (here `--ssh-config`). mtaguard keeps the system OpenSSH's semantics: the jump
/// is ssh's own, host keys are checked strictly on both legs, and a dead bastion is an
/// unreachable host with ssh's own words, nothing changed.
@Suite struct JumpHostTests {
    /// The inner host is named `localhost` in the inventory, so that only it matches the
    /// `ProxyJump` block (the bastion, at 127.0.0.1, is reached directly).
    func jumpConfig(_ lab: SSHLab, files: TempDir) throws -> (config: String, inventory: String) {
        let bastion = lab.host("bastion"), inner = lab.host("inner")
        let known = try String(contentsOfFile: lab.knownHostsPath, encoding: .utf8)
        let innerKey = try #require(known.split(separator: "\n").first { $0.hasPrefix("[127.0.0.1]:\(inner.port) ") })
        let innerKnown = try files.write("known_hosts.inner", innerKey.replacingOccurrences(of: "[127.0.0.1]", with: "[localhost]") + "\n")
        let labConfig = try String(contentsOfFile: lab.sshConfigPath, encoding: .utf8)
        let config = try files.write("ssh_config", """
            Host localhost
                ProxyJump root@127.0.0.1:\(bastion.port)
                UserKnownHostsFile \(innerKnown)
            \(labConfig)
            """)
        let inventory = try files.write("hosts.ini", "inner ansible_host=localhost ansible_port=\(inner.port) ansible_user=root\n")
        return (config, inventory)
    }

    func accepted(_ lab: SSHLab, _ host: String) -> Int {
        let grep = try? runCommand(["grep", "-c", "Accepted publickey", lab.host(host).sshdLog])
        return Int((grep?.stdout ?? "").trimmingCharacters(in: .whitespacesAndNewlines)) ?? 0
    }

    struct JumpLab {
        let lab: SSHLab, backups: TempDir, config: String, inventory: String, root: String, stock: String
    }

    /// A bastion and an inner host holding Debian's stock main.cf, reached through the bastion.
    func withJumpLab(_ body: (JumpLab) throws -> Void) throws {
        let lab = try SSHLab.start(hosts: ["bastion", "inner"])
        defer { lab.stop() }
        let files = try TempDir("jump")
        defer { files.remove() }
        let backups = try TempDir("jump-backups")
        defer { backups.remove() }
        let root = lab.host("inner").root
        try PostfixDefaults.populate(root + "/etc/postfix")
        let stock = try String(contentsOfFile: Repo.fixture("postfix/main.cf.debian"), encoding: .utf8)
        try Data(stock.utf8).write(to: URL(fileURLWithPath: root + "/etc/postfix/main.cf"))
        let (config, inventory) = try jumpConfig(lab, files: files)
        try body(JumpLab(lab: lab, backups: backups, config: config, inventory: inventory, root: root, stock: stock))
    }

    @Test func aHostBehindABastionIsCheckedFixedAndRolledBack() throws {
      try withJumpLab { j in
        let (lab, backups, config, inventory, root, stock) = (j.lab, j.backups, j.config, j.inventory, j.root, j.stock)
        let args = ["--item", "SRV-005", "-i", inventory, "--ssh-config", config, "--connect-timeout", "60"]
        let before = accepted(lab, "bastion")

        let check = try mtaguard(["check"] + args, backups: backups.path)
        #expect(check.status == 2, "\(check)")
        #expect(check.stdout.contains("inner"), "\(check)")
        let apply = try mtaguard(["apply", "--yes"] + args, backups: backups.path)
        #expect(apply.status == 0, "\(apply)")
        #expect(try String(contentsOfFile: root + "/etc/postfix/main.cf", encoding: .utf8) == stock + "disable_vrfy_command = yes\n")
        // Every connection to the inner host went through the bastion.
        #expect(accepted(lab, "bastion") > before)

        let runs = try mtaguard(["runs", "--format", "json"], backups: backups.path)
        let list = try JSONSerialization.jsonObject(with: Data(runs.stdout.utf8)) as! [[String: Any]]
        let runID = try #require(list.first?["id"] as? String)
        let rollback = try mtaguard(["rollback", runID, "--ssh-config", config, "--connect-timeout", "60"], backups: backups.path)
        #expect(rollback.status == 0, "\(rollback)")
        #expect(try String(contentsOfFile: root + "/etc/postfix/main.cf", encoding: .utf8) == stock)
      }
    }

    @Test func aDeadBastionLeavesTheHostUnreachableAndUntouched() throws {
      try withJumpLab { j in
        let (lab, backups, config, inventory, root, stock) = (j.lab, j.backups, j.config, j.inventory, j.root, j.stock)
        lab.killSSHD("bastion")
        let apply = try mtaguard(["apply", "--yes", "--item", "SRV-005", "-i", inventory, "--ssh-config", config, "--connect-timeout", "10"],
                                 backups: backups.path)
        #expect(apply.status != 0, "\(apply)")
        #expect(apply.stdout.contains("inner: unreachable"), "\(apply)")
        // With no ControlPersist master, ssh passes the jump leg's own words on: the reason is
        // the bastion's, not "connection closed".
        #expect(apply.stdout.contains("ssh: connect to host 127.0.0.1 port \(lab.host("bastion").port): Connection refused"), "\(apply)")
        #expect(apply.stdout.contains("is sshd running and the port right?"), "\(apply)")
        #expect(try String(contentsOfFile: root + "/etc/postfix/main.cf", encoding: .utf8) == stock)
      }
    }

    /// A bastion whose key is not the one known: the jump is refused, as ssh refuses it.
    @Test func aBastionWithAnUnknownKeyIsRefused() throws {
        try withJumpLab { j in
            let bastionPort = j.lab.host("bastion").port
            let known = try String(contentsOfFile: j.lab.knownHostsPath, encoding: .utf8)
            let kept = known.split(separator: "\n").filter { !$0.hasPrefix("[127.0.0.1]:\(bastionPort) ") }.joined(separator: "\n") + "\n"
            try Data(kept.utf8).write(to: URL(fileURLWithPath: j.lab.knownHostsPath))
            let check = try mtaguard(["check", "--item", "SRV-005", "-i", j.inventory, "--ssh-config", j.config, "--connect-timeout", "10"],
                                     backups: j.backups.path)
            #expect(check.status != 0 && check.status != 2, "\(check)")
            #expect(check.stdout.contains("Host key verification failed"), "\(check)")
            #expect(check.stdout.contains("verify the host, then update known_hosts"), "\(check)")
        }
    }
}
