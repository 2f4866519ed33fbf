import Foundation
import Testing

/// A file the login cannot reach is never "absent". A real non-root login over real SSH, and
/// `--root` run by that same user on the same tree, meet a folder it may not search, a file
/// it may not read, a folder it may not list and a program under a folder it may not search:
/// (the control node runs as root, the host's login is that user) both say 오류 with the same words (the file, EACCES, the folder, what to do), exit 1, and
/// never 해당 없음. A file that is truly not there stays 해당 없음 for that login.
@Suite(.serialized) struct UnreachedFileTests {
    /// One tree: files (host path → text), then modes (host path → mode, folders or files),
    /// and the error every item of `item` must carry, word for word, in both readers.
    struct Tree: Sendable, CustomTestStringConvertible {
        let label: String
        let item: String
        let files: [String: String]
        let modes: [(path: String, mode: Int)]
        let note: String
        var testDescription: String { label }
    }

    static let mainCf = "smtpd_banner = $myhostname ESMTP\ndisable_vrfy_command = yes\n"
    /// Debian's split exim configuration, read from the folder conf.d/main.
    static let eximSplit = [
        "/etc/exim4/update-exim4.conf.conf": "dc_use_split_config='true'\n", "/etc/exim4/conf.d/main/01_options": "acl_smtp_vrfy = accept\n",
    ]

    /// FILE, present, under FOLDER at MODE, which the login may not search.
    static func unsearchable(_ item: String, _ file: String, _ text: String, folder: String, mode: Int) -> Tree {
        Tree(
            label: "\(folder) \(String(mode, radix: 8))", item: item, files: [file: text], modes: [(folder, mode)],
            note: "\(file): cannot tell whether it exists: permission denied (EACCES) searching the folder \(folder); not taken as absent"
                + " (use --become, or log in as a user that may search \(folder))")
    }

    static let trees: [Tree] = [
        unsearchable("SRV-005", "/etc/postfix/main.cf", mainCf, folder: "/etc/postfix", mode: 0o750),
        unsearchable("SRV-005", "/etc/mail/sendmail.cf", "O PrivacyOptions=goaway\n", folder: "/etc/mail", mode: 0o700),
        unsearchable("U-46", "/usr/sbin/postsuper", "#!/bin/sh\n", folder: "/usr/sbin", mode: 0o700),
        Tree(
            label: "main.cf 0600", item: "U-47", files: ["/etc/postfix/main.cf": mainCf], modes: [("/etc/postfix/main.cf", 0o600)],
            note: "/etc/postfix/main.cf: exists but cannot be read by the login user: permission denied (EACCES) (use --become, or log in as a user that may read it)"),
        Tree(
            label: "conf.d/main 0700", item: "SRV-005", files: eximSplit, modes: [("/etc/exim4/conf.d/main", 0o700)],
            note: "/etc/exim4/conf.d/main: cannot tell what the folder holds: permission denied (EACCES) searching /etc/exim4/conf.d/main; not taken as absent"
                + " (use --become, or log in as a user that may search /etc/exim4/conf.d/main)"),
        Tree(
            label: "conf.d/main 0711", item: "SRV-005", files: eximSplit, modes: [("/etc/exim4/conf.d/main", 0o711)],
            note: "/etc/exim4/conf.d/main: exists but cannot be listed by the login user: permission denied (EACCES); not taken as empty (use --become, or log in as a user that may read the folder)"),
    ]

    /// A non-root user, a lab host it logs in to, and an image for `--root` that it may read:
    /// what each test needs; `stop()` undoes it all (the test defers it right after `start`).
    struct Bench {
        let login: NonRootLogin
        let lab: SSHLab
        let work: TempDir
        let image: String
        let inventory: String

        static func start(_ host: String, loginPrefix: String = "facts-") throws -> Bench {
            let login = try NonRootLogin.create(prefix: loginPrefix)
            let lab: SSHLab, work: TempDir
            do {
                lab = try SSHLab.start(hosts: [host])
            } catch {
                login.remove()
                throw error
            }
            do {
                work = try TempDir("unreached")
            } catch {
                lab.stop(); login.remove()
                throw error
            }
            let bench = Bench(login: login, lab: lab, work: work, image: work.path + "/image", inventory: work.path + "/hosts.ini")
            do {
                try login.authorize(lab)
                chmod(work.path, 0o755)
                try FileManager.default.createDirectory(atPath: work.path + "/backups", withIntermediateDirectories: true)
                _ = try runCommand(["chown", login.name + ":users", work.path + "/backups"])
                for component in ["etc", "etc/postfix", "etc/mail", "usr", "usr/sbin"] {
                    try FileManager.default.createDirectory(atPath: bench.image + "/" + component, withIntermediateDirectories: true)
                    chmod(bench.image + "/" + component, 0o755)
                }
                let text = try String(contentsOfFile: lab.inventoryPath, encoding: .utf8)
                    .replacingOccurrences(of: "ansible_user=root", with: "ansible_user=\(login.name)")
                try Data(text.utf8).write(to: URL(fileURLWithPath: bench.inventory))
            } catch {
                bench.stop()
                throw error
            }
            return bench
        }

        func stop() {
            lab.stop()
            login.remove()
            work.remove()
        }

        /// `check --item ITEM --format json` over SSH (the control node is root's, the host's
        /// login is the user's) and with `--root` on the image, run by the user.
        /// `asRoot`: root on both sides (the lab's own inventory, `--root` run by root).
        func check(_ item: String, asRoot: Bool = false) throws -> (ssh: CommandResult, root: CommandResult) {
            let env = ["MTAGUARD_BACKUPS": work.path + "/backups"]
            let args = [Repo.binary, "check", "--item", item, "--format", "json", "--playbooks", Repo.playbooks]
            let ssh = try runCommand(
                args + ["-i", asRoot ? lab.inventoryPath : inventory, "--ssh-config", lab.sshConfigPath, "--connect-timeout", "60"], environment: env)
            let local = args + ["--root", image]
            return (ssh, try asRoot ? runCommand(local, environment: env) : login.run(local, environment: env))
        }
    }

    /// `Bench.check` on both sides, each expected to exit 2 (findings) with the same findings:
    /// those findings, as `judged` gives them.
    static func agreedFindings(_ bench: Bench, _ item: String, asRoot: Bool = false) throws -> [String] {
        let (overSSH, fromRoot) = try bench.check(item, asRoot: asRoot)
        let a = try UnreachedFileTests().judged(overSSH.stdout), b = try UnreachedFileTests().judged(fromRoot.stdout)
        #expect(overSSH.status == 2 && fromRoot.status == 2, "\(overSSH)\n\(fromRoot)")
        #expect(a == b, "ssh: \(a)\nroot: \(b)")
        return a
    }

    /// Per item of a JSON check: its status and its evidence notes, without the host.
    func judged(_ json: String) throws -> [String] {
        let report = try #require(try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any])
        let hosts = report["hosts"] as? [[String: Any]] ?? []
        return hosts.flatMap { $0["findings"] as? [[String: Any]] ?? [] }.map { finding in
            let notes = (finding["evidence"] as? [[String: Any]] ?? []).map { "\($0["note"] ?? "")" }
            return "\(finding["item"] ?? "") \(finding["status"] ?? "") \(notes.joined(separator: " | "))"
        }
    }

    @Test(arguments: trees) func unreachedIsAnErrorOverSSHAndFromRoot(tree: Tree) throws {
        let bench = try Bench.start("guarded")
        defer { bench.stop() }
        let lab = bench.lab, image = bench.image
        let host = lab.host("guarded")

        // The host's folders as this test reaches them: /etc/postfix and /etc/mail are bound
        // from its root, /etc and /usr/sbin are overlays (a mode there is set inside the host).
        func onHost(_ path: String) -> String {
            for bound in ["/etc/postfix", "/etc/mail"] where path == bound || path.hasPrefix(bound + "/") { return host.root + path }
            return host.directory + "/overlay" + path
        }
        for (path, text) in tree.files {
            for full in [onHost(path), image + path] {
                try FileManager.default.createDirectory(atPath: (full as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
                try Data(text.utf8).write(to: URL(fileURLWithPath: full))
                chmod(full, 0o644)
            }
        }
        // Every mode changed is put back as it was found, however the test ends.
        func mode(of path: String) throws -> Int {
            try (FileManager.default.attributesOfItem(atPath: path)[.posixPermissions] as? Int) ?? 0o755
        }
        let found = try tree.modes.map { (path: $0.path, image: try mode(of: image + $0.path), host: try mode(of: onHost($0.path))) }
        defer {
            for f in found {
                chmod(image + f.path, mode_t(f.image))
                if f.path == "/usr/sbin" {
                    _ = try? lab.inNamespace("guarded", "chmod \(String(f.host, radix: 8)) /usr/sbin")
                } else {
                    chmod(onHost(f.path), mode_t(f.host))
                }
            }
        }
        for (path, mode) in tree.modes {
            chmod(image + path, mode_t(mode))
            if path == "/usr/sbin" {
                #expect(try lab.inNamespace("guarded", "chmod \(String(mode, radix: 8)) /usr/sbin").status == 0)
            } else {
                chmod(onHost(path), mode_t(mode))
            }
        }

        let (overSSH, fromRoot) = try bench.check(tree.item)
        #expect(overSSH.status == 1 && fromRoot.status == 1, "\(overSSH)\n\(fromRoot)")
        let a = try judged(overSSH.stdout), b = try judged(fromRoot.stdout)
        #expect(a == b, "ssh: \(a)\nroot: \(b)")
        // The item is 오류 on that file; its other targets are judged as usual (absent here).
        #expect(a.count == 1 && a[0].hasPrefix("\(tree.item) error ") && a[0].contains(tree.note), "\(a)")
    }

    /// Unreadable per file, not per host: main.cf 0600 (the login may not read it) beside a
    /// readable sendmail.cf (goaway, LogLevel 5). SRV-005 reads main.cf: 오류 naming it, and
    /// never 양호 or 해당 없음, while its sendmail target is judged as usual (goaway passes);
    /// SRV-006 does not read main.cf: its real verdict (취약, 5 is below 9), over SSH and from
    /// --root in the same words. The plan changes sendmail.cf for SRV-006 and never main.cf.
    /// (Where SRV-005's own fix would also edit sendmail.cf, that file is left as it is too:
    /// an item in error changes no file, nor lets another item change one it would.)
    @Test func anUnreadableFileIsAFactOfThatFile() throws {
        let bench = try Bench.start("perfile")
        defer { bench.stop() }
        let host = bench.lab.host("perfile")
        for base in [host.root, bench.image] {
            try Data(Self.mainCf.utf8).write(to: URL(fileURLWithPath: base + "/etc/postfix/main.cf"))
            chmod(base + "/etc/postfix/main.cf", 0o600)
            try Data("O PrivacyOptions=goaway\nO LogLevel=5\n".utf8).write(to: URL(fileURLWithPath: base + "/etc/mail/sendmail.cf"))
            chmod(base + "/etc/mail/sendmail.cf", 0o644)
        }
        let env = ["MTAGUARD_BACKUPS": bench.work.path + "/backups"]
        func run(_ verb: String) throws -> (ssh: CommandResult, root: CommandResult) {
            let args = [Repo.binary, verb, "--item", "SRV-005", "--item", "SRV-006", "--playbooks", Repo.playbooks]
                + (verb == "check" ? ["--format", "json"] : [])
            let ssh = try runCommand(
                args + ["-i", bench.inventory, "--ssh-config", bench.lab.sshConfigPath, "--connect-timeout", "60"], environment: env)
            return (ssh, try bench.login.run(args + ["--root", bench.image], environment: env))
        }
        let (overSSH, fromRoot) = try run("check")
        #expect(overSSH.status == 1 && fromRoot.status == 1, "\(overSSH)\n\(fromRoot)")
        let a = try judged(overSSH.stdout), b = try judged(fromRoot.stdout)
        #expect(a == b, "ssh: \(a)\nroot: \(b)")
        let unreadable = "/etc/postfix/main.cf: exists but cannot be read by the login user: permission denied (EACCES) (use --become, or log in as a user that may read it)"
        let srv005 = try #require(a.first { $0.hasPrefix("SRV-005 ") }, "\(a)")
        #expect(srv005.hasPrefix("SRV-005 error \(unreadable) | "), "\(srv005)")
        #expect(srv005.contains("goaway"), "\(srv005)")
        let srv006 = try #require(a.first { $0.hasPrefix("SRV-006 ") }, "\(a)")
        #expect(srv006.hasPrefix("SRV-006 fail "), "\(srv006)")
        #expect(srv006.contains("LogLevel") && !srv006.contains("main.cf"), "\(srv006)")

        let (planSSH, planRoot) = try run("plan")
        for plan in [planSSH, planRoot] {
            #expect(plan.stdout.contains("+O LogLevel=9"), "\(plan)")
            #expect(!plan.stdout.split(separator: "\n").contains { ($0.hasPrefix("---") || $0.hasPrefix("+++")) && $0.contains("main.cf") }, "\(plan)")
        }

        // Apply from --root as the login, whose image's /etc/mail is its own: sendmail.cf is
        // fixed, main.cf keeps its bytes and mode, and the run says why it is in error.
        #expect(try runCommand(["chown", "-R", bench.login.name + ":users", bench.image + "/etc/mail"]).status == 0)
        let mainCf = bench.image + "/etc/postfix/main.cf"
        let before = try Data(contentsOf: URL(fileURLWithPath: mainCf))
        let apply = try bench.login.run(
            [Repo.binary, "apply", "--yes", "--item", "SRV-005", "--item", "SRV-006", "--playbooks", Repo.playbooks, "--root", bench.image],
            environment: env)
        #expect(apply.status == 1, "\(apply)")
        #expect(apply.stdout.contains("replaced /etc/mail/sendmail.cf") && !apply.stdout.contains("replaced /etc/postfix/main.cf"), "\(apply)")
        #expect((apply.stdout + apply.stderr).contains(unreadable), "\(apply)")
        #expect(try String(contentsOfFile: bench.image + "/etc/mail/sendmail.cf", encoding: .utf8) == "O PrivacyOptions=goaway\nO LogLevel=9\n")
        #expect(try Data(contentsOf: URL(fileURLWithPath: mainCf)) == before)
        #expect((try FileManager.default.attributesOfItem(atPath: mainCf)[.posixPermissions] as? Int) == 0o600)
    }

    /// The positive: with every folder searchable, a main.cf that is not there is 해당 없음 for
    /// the non-root login, over SSH and from `--root`, and check exits 0.
    @Test func aFileThatIsNotThereIsStillNotApplicable() throws {
        let bench = try Bench.start("plain")
        defer { bench.stop() }
        let (overSSH, fromRoot) = try bench.check("SRV-005")
        #expect(overSSH.status == 0 && fromRoot.status == 0, "\(overSSH)\n\(fromRoot)")
        let a = try judged(overSSH.stdout)
        #expect(a == (try judged(fromRoot.stdout)), "\(overSSH)\n\(fromRoot)")
        #expect(a.count == 1 && a[0].hasPrefix("SRV-005 not-applicable "), "\(a)")
        #expect(a.first?.contains("/etc/postfix/main.cf") == true, "\(a)")
    }

    /// Root may search any folder whatever its mode: a 0600 folder and file, which stop the
    /// non-root login, are read and judged (양호) for root, over SSH and from `--root`.
    @Test func rootSearchesWhatModesForbidOthers() throws {
        let bench = try Bench.start("rooted")
        defer { bench.stop() }
        let host = bench.lab.host("rooted")
        for folder in [host.root + "/etc/postfix", bench.image + "/etc/postfix"] {
            try Data(Self.mainCf.utf8).write(to: URL(fileURLWithPath: folder + "/main.cf"))
            chmod(folder + "/main.cf", 0o600)
            // No search bit at all: root searches it anyway (CAP_DAC_READ_SEARCH).
            chmod(folder, 0o600)
        }
        defer { for folder in [host.root + "/etc/postfix", bench.image + "/etc/postfix"] { chmod(folder, 0o755) } }
        let (overSSH, fromRoot) = try bench.check("SRV-005", asRoot: true)
        let a = try checkEvidence(overSSH.stdout).filter { $0["mta"] as? String == "postfix" }.map { "\($0["status"] ?? "") \($0["note"] ?? "")" }
        let b = try checkEvidence(fromRoot.stdout).filter { $0["mta"] as? String == "postfix" }.map { "\($0["status"] ?? "") \($0["note"] ?? "")" }
        #expect(a == b, "ssh: \(a)\nroot: \(b)")
        #expect(!a.isEmpty && a.allSatisfy { $0.hasPrefix("pass ") }, "\(overSSH)")
    }
}
