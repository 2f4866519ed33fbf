import Foundation
import Testing

/// The Ansible collection `mtaguard.kisa` (ansible/mtaguard/kisa) under a real ansible-core:
/// built and installed with ansible-galaxy, its `remediate` action run by ansible-playbook
/// against lab hosts whose postfix files change for real, and the execution environment's
/// build context written by ansible-builder. The venv comes from Tests/ansible/venv.sh
/// (`make test` passes it as MTAGUARD_ANSIBLE_VENV).
@Suite(.serialized, .enabled(if: AnsibleVenv.path != nil,
                             "MTAGUARD_ANSIBLE_VENV is not set (make test sets it; bash Tests/ansible/venv.sh makes one)"))
struct AnsibleCollectionTests {
    /// One controller: the collection installed in a private collections folder, and every
    /// folder Ansible would write (home, local temp, config) in the same temp folder.
    struct Controller {
        let files: TempDir
        let environment: [String: String]
        let results: String

        init() throws {
            let venv = try #require(AnsibleVenv.path)
            files = try TempDir("ansible")
            results = files.path + "/results.json"
            let config = try files.write("ansible.cfg", "[defaults]\n")
            environment = [
                "PATH": venv + "/bin:" + (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"),
                "ANSIBLE_CONFIG": config,
                "ANSIBLE_HOME": files.path + "/home",
                "ANSIBLE_LOCAL_TEMP": files.path + "/tmp",
                "ANSIBLE_COLLECTIONS_PATH": files.path + "/collections",
                "ANSIBLE_COLLECTIONS_SCAN_SYS_PATH": "false",
                "ANSIBLE_CALLBACK_PLUGINS": Repo.root + "/Tests/ansible/callback_plugins",
                "ANSIBLE_CALLBACKS_ENABLED": "record_results",
                "ANSIBLE_NOCOLOR": "1",
                "ANSIBLE_HOST_KEY_CHECKING": "True",
                "MTAGUARD_TEST_RESULTS": results,
                // The action finds the binary through MTAGUARD_BIN, as it does in the EE.
                "MTAGUARD_BIN": Repo.binary,
                "HOME": files.path + "/home",
            ]
            do { try install() } catch {
                files.remove()
                throw error
            }
        }

        private func install() throws {
            let build = try run(["ansible-galaxy", "collection", "build", Repo.root + "/ansible/mtaguard/kisa",
                                 "--output-path", files.path + "/dist"])
            try #require(build.status == 0, "\(build)")
            let tarball = files.path + "/dist/mtaguard-kisa-0.1.0.tar.gz"
            try #require(FileManager.default.fileExists(atPath: tarball), "\(build)")
            let install = try run(["ansible-galaxy", "collection", "install", "--offline", "-p", files.path + "/collections", tarball])
            try #require(install.status == 0, "\(install)")
            let listed = try run(["ansible-doc", "-t", "module", "mtaguard.kisa.remediate"])
            try #require(listed.status == 0 && listed.stdout.contains("mtaguard"), "\(listed)")
        }

        func run(_ argv: [String]) throws -> CommandResult {
            try runCommand(argv, environment: environment, currentDirectory: files.path)
        }

        /// ansible-playbook, and what the recording callback wrote.
        func playbook(_ inventory: String, _ play: String, _ extra: [String] = []) throws -> (CommandResult, PlayRecord) {
            try? FileManager.default.removeItem(atPath: results)
            let file = try files.write("play.yml", play)
            let r = try run(["ansible-playbook", "-i", inventory, file] + extra)
            let data = try Data(contentsOf: URL(fileURLWithPath: results))
            return (r, try PlayRecord(data))
        }
    }

    /// The recording callback's file: each task result per host, and the recap stats.
    struct PlayRecord {
        let results: [[String: Any]]
        let stats: [String: [String: Int]]

        init(_ data: Data) throws {
            let root = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
            results = try #require(root["results"] as? [[String: Any]])
            stats = try #require(root["stats"] as? [String: [String: Int]])
        }

        /// The result of the task named `task` on `host`.
        func result(_ host: String, _ task: String) throws -> [String: Any] {
            let entry = try #require(results.first { $0["host"] as? String == host && $0["task"] as? String == task },
                                     "no result for \(host) / \(task) in \(results)")
            return try #require(entry["result"] as? [String: Any])
        }

        func changed(_ host: String) -> Int { stats[host]?["changed"] ?? -1 }
        func failures(_ host: String) -> Int { stats[host]?["failures"] ?? -1 }
    }

    static let task = "remediate SRV-005"

    func play(_ lab: SSHLab, backups: String, items: [String] = ["SRV-005"]) -> String {
        """
        - hosts: mail
          gather_facts: false
          tasks:
            - name: \(Self.task)
              mtaguard.kisa.remediate:
                items: [\(items.joined(separator: ", "))]
                ssh_config: \(lab.sshConfigPath)
                playbooks: \(Repo.playbooks)
                backups: \(backups)
                connect_timeout: 10
              register: srv005
            - name: registered
              ansible.builtin.debug:
                msg: "{{ srv005.verdicts['SRV-005'] }}"

        """
    }

    /// An INI inventory of the lab's two hosts in group `mail`; mtaguard_mode reaches
    /// mtaguard through the action's one-host inventory.
    func inventory(_ lab: SSHLab, files: TempDir) throws -> String {
        let lines = lab.hosts.map { "\($0.name) ansible_host=127.0.0.1 ansible_port=\($0.port) ansible_user=root" }
        return try files.write("hosts.ini", "[mail]\n" + lines.joined(separator: "\n") + "\n\n[mail:vars]\nmtaguard_mode=harden\n")
    }

    @Test func checkDiffApplyAgainAndFailures() throws {
        let controller = try Controller()
        defer { controller.files.remove() }
        let lab = try SSHLab.start(hosts: ["vuln", "compliant"])
        defer { lab.stop() }
        let stock = try String(contentsOfFile: Repo.fixture("postfix/main.cf.debian"), encoding: .utf8)
        let fixedText = stock + "disable_vrfy_command = yes\n"
        let vulnFile = lab.host("vuln").root + "/etc/postfix/main.cf"
        let compliantFile = lab.host("compliant").root + "/etc/postfix/main.cf"
        try PostfixDefaults.populate(lab.host("vuln").root + "/etc/postfix", main: Data(stock.utf8))
        try PostfixDefaults.populate(lab.host("compliant").root + "/etc/postfix", main: Data(fixedText.utf8))
        let backups = controller.files.path + "/backups"
        let inventory = try inventory(lab, files: controller.files)
        let play = play(lab, backups: backups)

        // Check mode with diffs: the plan, nothing written.
        let (check, checked) = try controller.playbook(inventory, play, ["--check", "--diff"])
        #expect(check.status == 0, "\(check)")
        let planned = try checked.result("vuln", Self.task)
        #expect(planned["changed"] as? Bool == true, "\(planned)")
        let diffs = try #require(planned["diff"] as? [[String: Any]], "\(planned)")
        #expect(diffs.first?["before_header"] as? String == "/etc/postfix/main.cf")
        let prepared = diffs.first?["prepared"] as? String ?? ""
        #expect(prepared.contains("+disable_vrfy_command = yes"), "\(diffs)")
        #expect(check.stdout.contains("+disable_vrfy_command = yes"), "the default callback prints the diff: \(check)")
        #expect((planned["verdicts"] as? [String: String])?["SRV-005"] == "fail", "\(planned)")
        #expect(try checked.result("compliant", Self.task)["changed"] as? Bool == false)
        #expect(checked.changed("vuln") == 1 && checked.changed("compliant") == 0, "\(checked.stats)")
        #expect(try String(contentsOfFile: vulnFile, encoding: .utf8) == stock)
        let journaled = (try? FileManager.default.contentsOfDirectory(atPath: backups)) ?? []
        #expect(journaled.isEmpty, "check mode journals nothing: \(journaled)")

        // Apply: the vulnerable host is fixed and journaled, the compliant one left alone.
        let (apply, applied) = try controller.playbook(inventory, play)
        #expect(apply.status == 0, "\(apply)")
        let fixed = try applied.result("vuln", Self.task)
        #expect(fixed["changed"] as? Bool == true, "\(fixed)")
        #expect(fixed["outcome"] as? String == "changed", "\(fixed)")
        #expect(try String(contentsOfFile: vulnFile, encoding: .utf8) == fixedText)
        #expect(try String(contentsOfFile: compliantFile, encoding: .utf8) == fixedText)
        let runID = try #require(fixed["run_id"] as? String, "\(fixed)")
        #expect(FileManager.default.fileExists(atPath: backups + "/" + runID + "/manifest.json"))
        let untouched = try applied.result("compliant", Self.task)
        #expect(untouched["changed"] as? Bool == false, "\(untouched)")
        #expect(untouched["run_id"] == nil)
        // The findings after the change, as register: gets them.
        for host in ["vuln", "compliant"] {
            let r = try applied.result(host, Self.task)
            let findings = try #require(r["findings"] as? [[String: Any]], "\(r)")
            #expect(findings.contains { $0["item"] as? String == "SRV-005" && $0["status"] as? String == "pass" }, "\(findings)")
            #expect(try applied.result(host, "registered")["msg"] as? String == "pass")
        }
        #expect(applied.changed("vuln") == 1 && applied.changed("compliant") == 0, "\(applied.stats)")

        // Again: nothing to do anywhere.
        let (again, second) = try controller.playbook(inventory, play)
        #expect(again.status == 0, "\(again)")
        #expect(second.changed("vuln") == 0 && second.changed("compliant") == 0, "\(second.stats)")
        #expect(second.failures("vuln") == 0 && second.failures("compliant") == 0, "\(second.stats)")
        #expect(try String(contentsOfFile: vulnFile, encoding: .utf8) == fixedText)

        // An item mtaguard does not know: every host fails with mtaguard's own message.
        let (unknown, refused) = try controller.playbook(inventory, self.play(lab, backups: backups, items: ["SRV-999"]))
        #expect(unknown.status != 0, "\(unknown)")
        let message = try refused.result("vuln", Self.task)["msg"] as? String ?? ""
        #expect(message.hasPrefix("mtaguard: error: unknown item 'SRV-999'"), "\(message)")
        #expect(refused.failures("vuln") == 1 && refused.failures("compliant") == 1, "\(refused.stats)")

        // A host whose sshd is gone fails with mtaguard's reason; the other host carries on.
        try Data(stock.utf8).write(to: URL(fileURLWithPath: vulnFile))
        lab.killSSHD("compliant")
        let (dead, partly) = try controller.playbook(inventory, play)
        #expect(dead.status != 0, "\(dead)")
        let down = try partly.result("compliant", Self.task)["msg"] as? String ?? ""
        #expect(down.contains("compliant: unreachable"), "\(down)")
        #expect(down.contains("port \(lab.host("compliant").port): Connection refused"), "\(down)")
        #expect(partly.failures("compliant") == 1, "\(partly.stats)")
        #expect(partly.failures("vuln") == 0 && partly.changed("vuln") == 1, "\(partly.stats)")
        #expect(try String(contentsOfFile: vulnFile, encoding: .utf8) == fixedText)
    }

    /// Inventory values reach mtaguard only as values of its one-host inventory: one that would
    /// break the line fails the host, naming the variable, before mtaguard runs.
    @Test func aValueThatWouldBreakTheInventoryLineFailsTheHost() throws {
        let controller = try Controller()
        defer { controller.files.remove() }
        let inventory = try controller.files.write("hosts.yml", """
            all:
              children:
                mail:
                  hosts:
                    newline:
                      ansible_host: 127.0.0.1
                      ansible_port: 1
                      mtaguard_note: "one\\nnew_line=x"
                    quotes:
                      ansible_host: 127.0.0.1
                      ansible_port: 1
                      ansible_user: "r'o\\"ot"
                    badmode:
                      ansible_host: 127.0.0.1
                      ansible_port: 1
                      mtaguard_mode: soften

            """)
        let play = """
            - hosts: mail
              gather_facts: false
              tasks:
                - name: \(Self.task)
                  mtaguard.kisa.remediate:
                    items: [SRV-005]
                    playbooks: \(Repo.playbooks)
                    backups: \(controller.files.path)/backups

            """
        let (r, record) = try controller.playbook(inventory, play)
        #expect(r.status != 0, "\(r)")
        let newline = try record.result("newline", Self.task)
        #expect(newline["msg"] as? String ==
                "host newline: variable mtaguard_note holds a newline or another control character, which an inventory line cannot carry")
        #expect(newline["cmd"] == nil, "mtaguard never ran: \(newline)")
        let quotes = try record.result("quotes", Self.task)
        let quoted = quotes["msg"] as? String ?? ""
        #expect(quoted.hasPrefix("host quotes: variable ansible_user holds both"), "\(quotes)")
        // mtaguard_* variables reach mtaguard, which judges them itself.
        let badmode = try record.result("badmode", Self.task)["msg"] as? String ?? ""
        #expect(badmode.contains("mtaguard_mode 'soften' is neither harden nor disable"), "\(badmode)")

        // An option the module does not have, and a mode it does not know.
        let bad = play.replacingOccurrences(of: "items: [SRV-005]", with: "items: [SRV-005]\n        mode: soften")
        let (r2, record2) = try controller.playbook(inventory, bad)
        #expect(r2.status != 0)
        let msg = try record2.result("newline", Self.task)["msg"] as? String ?? ""
        #expect(msg.contains("mode") && msg.contains("harden, disable"), "\(msg)")
    }

    /// What Ansible users set per host reaches mtaguard, or fails that host by name:
    /// `ansible_ssh_common_args` with a ProxyJump through a bastion (the bastion's sshd accepts
    /// the jump, and the plan is made through it), `ansible_ssh_extra_args` with a flag mtaguard
    /// does not pass on, and a become user or method other than root through sudo.
    @Test func perHostSSHArgumentsAndBecomeAreHonouredOrRefused() throws {
        let controller = try Controller()
        defer { controller.files.remove() }
        let lab = try SSHLab.start(hosts: ["bastion", "inner"])
        defer { lab.stop() }
        try PostfixDefaults.populate(lab.host("inner").root + "/etc/postfix")
        let bastion = lab.host("bastion"), inner = lab.host("inner")
        let base = "ansible_host: 127.0.0.1, ansible_port: \(inner.port), ansible_user: root"
        let inventory = try controller.files.write("hosts.yml", """
            all:
              children:
                mail:
                  hosts:
                    jumped: {\(base), ansible_ssh_common_args: "-o ProxyJump=root@127.0.0.1:\(bastion.port)"}
                    flagged: {\(base), ansible_ssh_extra_args: "-v"}
                    otheruser: {\(base), ansible_become: true, ansible_become_user: postfix}
                    sumethod: {\(base), ansible_become: true, ansible_become_method: su}

            """)
        func accepted() -> Int {
            let grep = try? runCommand(["grep", "-c", "Accepted publickey", bastion.sshdLog])
            return Int((grep?.stdout ?? "").trimmingCharacters(in: .whitespacesAndNewlines)) ?? 0
        }
        let before = accepted()
        let (r, record) = try controller.playbook(inventory, play(lab, backups: controller.files.path + "/backups"), ["--check"])
        #expect(r.status != 0, "three hosts fail: \(r)")
        let jumped = try record.result("jumped", Self.task)
        let commands = (jumped["cmd"] as? [[String]] ?? []).flatMap { $0 }
        #expect(commands.contains("--ssh-option=ProxyJump=root@127.0.0.1:\(bastion.port)"), "\(jumped)")
        #expect(record.failures("jumped") == 0 && jumped["changed"] as? Bool == true, "\(jumped)")
        #expect(accepted() > before, "the plan went through the bastion")
        let flagged = try record.result("flagged", Self.task)
        #expect(flagged["msg"] as? String == "host flagged: ansible_ssh_extra_args: '-v' is not an ssh option mtaguard passes on; "
                + "it takes -o Key=Value and -J JUMP (put other settings in the ssh_config the task names)", "\(flagged)")
        #expect(flagged["cmd"] == nil, "mtaguard never ran: \(flagged)")
        let user = try record.result("otheruser", Self.task)["msg"] as? String ?? ""
        #expect(user == "host otheruser: become_user is 'postfix'; mtaguard's changes need root, and it becomes root only", "\(user)")
        let method = try record.result("sumethod", Self.task)["msg"] as? String ?? ""
        #expect(method.hasPrefix("host sumethod: become_method is 'su'; mtaguard becomes root through sudo only"), "\(method)")
    }

    /// `ansible-builder create` writes a context whose Containerfile installs mtaguard, its
    /// playbooks and lenses and the collection. The EE file's sources are the repository's,
    /// relative to ansible/; the context is made from a copy of those paths with this build's
    /// binary standing in for the release one.
    @Test func theExecutionEnvironmentContextInstallsMtaguard() throws {
        let controller = try Controller()
        defer { controller.files.remove() }
        let tree = controller.files.path + "/repo"
        for (from, to) in [
            ("ansible/execution-environment.yml", "ansible/execution-environment.yml"),
            ("ansible/mtaguard", "ansible/mtaguard"),
            ("playbooks", "playbooks"),
            ("Sources/MTAGuard/Resources/lenses", "Sources/MTAGuard/Resources/lenses"),
        ] {
            try FileManager.default.createDirectory(atPath: ((tree + "/" + to) as NSString).deletingLastPathComponent,
                                                    withIntermediateDirectories: true)
            try FileManager.default.copyItem(atPath: Repo.root + "/" + from, toPath: tree + "/" + to)
        }
        try FileManager.default.createDirectory(atPath: tree + "/.build/release", withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: Repo.binary, toPath: tree + "/.build/release/mtaguard")

        let context = controller.files.path + "/context"
        let create = try controller.run(["ansible-builder", "create", "-f", tree + "/ansible/execution-environment.yml",
                                         "-c", context, "--output-filename", "Containerfile"])
        #expect(create.status == 0, "\(create)")
        #expect(!create.stdout.contains("No matches") && !create.stderr.contains("No matches"), "\(create)")
        let containerfile = try String(contentsOfFile: context + "/Containerfile", encoding: .utf8)
        for line in [
            "COPY _build/mtaguard/bin/mtaguard /usr/local/bin/mtaguard",
            "COPY _build/mtaguard/playbooks /usr/share/mtaguard/playbooks",
            "COPY _build/mtaguard/lenses /usr/share/mtaguard/lenses",
            "ENV MTAGUARD_LENSES=/usr/share/mtaguard/lenses MTAGUARD_PLAYBOOKS=/usr/share/mtaguard/playbooks MTAGUARD_BIN=/usr/local/bin/mtaguard",
            "RUN mtaguard items --playbooks /usr/share/mtaguard/playbooks > /dev/null",
        ] {
            #expect(containerfile.contains(line + "\n"), "missing \(line) in:\n\(containerfile)")
        }
        #expect(containerfile.contains("ansible-galaxy collection install --offline -p /usr/share/ansible/collections"))
        #expect(containerfile.contains("ansible-core==2.19.14"))
        // The binary, playbooks, lenses and collection are in the context, byte for byte.
        #expect(FileManager.default.contentsEqual(atPath: context + "/_build/mtaguard/bin/mtaguard", andPath: Repo.binary))
        #expect(FileManager.default.contentsEqual(atPath: context + "/_build/mtaguard/playbooks/srv-005.yaml",
                                                  andPath: Repo.playbooks + "/srv-005.yaml"))
        #expect(FileManager.default.fileExists(atPath: context + "/_build/mtaguard/lenses/postfix_main.aug"))
        #expect(FileManager.default.fileExists(atPath: context + "/_build/mtaguard/collection/plugins/action/remediate.py"))
        let bindep = try String(contentsOfFile: context + "/_build/bindep.txt", encoding: .utf8)
        #expect(bindep.contains("augeas-libs") && bindep.contains("openssh-clients"), "\(bindep)")
    }
}

/// The venv Tests/ansible/venv.sh made, from MTAGUARD_ANSIBLE_VENV.
enum AnsibleVenv {
    static var path: String? {
        guard let dir = ProcessInfo.processInfo.environment["MTAGUARD_ANSIBLE_VENV"], !dir.isEmpty else { return nil }
        return dir
    }
}
