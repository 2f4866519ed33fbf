import Foundation
import Testing

@testable import MTAGuard

/// A lab host `name` running postfix whose package is at `installed` (in HOSTDIR/state/
/// postfix-version, `$S/postfix-version` to the shims), with `shims` as recording shims on its
/// PATH; `then` finishes the host (stopped with the lab if it throws). The version item also
/// judges the CVE-2023-51764 setting: settled here, so that the package alone decides.
func packageLab(_ name: String, installed: String, shims: [String: String], then: (SSHLab) throws -> Void = { _ in }) throws -> SSHLab {
    let lab = try SSHLab.start(hosts: [name])
    do {
        try Shims.install(lab, name, family: .systemd)
        let h = lab.host(name)
        try "smtpd_forbid_bare_newline = normalize\n".write(toFile: h.root + "/etc/postfix/main.cf", atomically: true, encoding: .utf8)
        let state = h.directory + "/state"
        try FileManager.default.createDirectory(atPath: state, withIntermediateDirectories: true)
        try installed.write(toFile: state + "/postfix-version", atomically: true, encoding: .utf8)
        for (tool, body) in shims {
            let path = h.shims + "/" + tool
            try "#!/bin/sh\nS=\(state)\necho \"$0 $*\" >> \(h.commandsLog)\n\(body)\n".write(toFile: path, atomically: true, encoding: .utf8)
            chmod(path, 0o755)
        }
        try then(lab)
    } catch {
        lab.stop()
        throw error
    }
    return lab
}

/// `--allow-upgrade` on a lab host whose package tools are recording shims (a real upgrade
/// would need the network): U-45 fails on a Debian package with a newer candidate; plan says
/// what would patch it; apply upgrades only that package, journaled with the version it had;
/// rollback reinstalls that version, and says plainly when the tool no longer has it.
@Suite struct UpgradeTests {
    static let old = "3.7.10-0+deb12u1", new = "3.7.11-0+deb12u1"

    func makeLab() throws -> SSHLab {
        try packageLab("pkg-host", installed: Self.old, shims: [
            "dpkg-query": """
                for a; do p=$a; done
                [ "$p" = postfix ] || exit 1
                echo "install ok installed $(cat $S/postfix-version)"
                """,
            "apt-cache": """
                [ "$1 $2" = "policy postfix" ] || exit 0
                if [ -f $S/aptfail ]; then echo "E: Could not open lock file /var/lib/apt/lists/lock - open (13: Permission denied)" >&2; exit 100; fi
                echo "postfix:"; echo "  Installed: $(cat $S/postfix-version)"; echo "  Candidate: \(Self.new)"
                echo "  Version table:"; echo "     \(Self.new) 500"
                echo "        500 http://deb.debian.org/debian bookworm-updates/main amd64 Packages"
                """,
            "apt-get": """
                for a; do last=$a; done
                case "$*" in
                *" install --only-upgrade postfix") echo "Unpacking postfix (\(Self.new))"; printf %s \(Self.new) > $S/postfix-version;;
                *" install --allow-downgrades postfix="*)
                  if [ -f $S/gone ]; then echo "E: Version '${last#postfix=}' for 'postfix' was not found"; exit 100; fi
                  printf %s "${last#postfix=}" > $S/postfix-version;;
                *) exit 1;;
                esac
                """,
        ])
    }

    func run(_ lab: SSHLab, _ backups: TempDir, _ args: [String]) throws -> CommandResult {
        let fleet = ["-i", lab.inventoryPath, "--ssh-config", lab.sshConfigPath, "--connect-timeout", "60"]
        if args.first == "rollback" { return try mtaguard(args + fleet, backups: backups.path) }
        return try mtaguard(args + ["--item", "U-45"] + fleet, backups: backups.path)
    }

    func installed(_ lab: SSHLab) throws -> String {
        try String(contentsOfFile: lab.host("pkg-host").directory + "/state/postfix-version", encoding: .utf8)
    }

    func packageCommands(_ lab: SSHLab) -> [String] {
        Shims.changes(lab, "pkg-host").filter { $0.hasPrefix("apt-get") }
    }

    func clearLog(_ lab: SSHLab) { try? Data().write(to: URL(fileURLWithPath: lab.host("pkg-host").commandsLog)) }

    @Test func upgradeIsPlannedAppliedJournaledAndRolledBack() throws {
        let lab = try makeLab()
        defer { lab.stop() }
        let backups = try TempDir("upgrade")
        defer { backups.remove() }
        let upgrade = "apt-get -y -o Dpkg::Options::=--force-confold install --only-upgrade postfix"
        let downgrade = "apt-get -y -o Dpkg::Options::=--force-confold install --allow-downgrades postfix=\(Self.old)"

        let check = try run(lab, backups, ["check"])
        #expect(check.status == 2, "\(check)")
        #expect(check.stdout.contains("package: apt-cache policy offers postfix \(Self.new), newer than installed \(Self.old)"), "\(check)")
        #expect(check.stdout.contains("to patch: env DEBIAN_FRONTEND=noninteractive \(upgrade) (mtaguard apply --allow-upgrade does it, journaled)"), "\(check)")

        // Without --allow-upgrade nothing is planned for U-45 and nothing runs.
        let plain = try run(lab, backups, ["apply", "--yes"])
        #expect(!plain.stdout.contains("apt-get"), "\(plain)")
        #expect(packageCommands(lab) == [])
        #expect(try installed(lab) == Self.old)

        let plan = try run(lab, backups, ["plan", "--allow-upgrade"])
        #expect(plan.stdout.contains("# then run: env DEBIAN_FRONTEND=noninteractive \(upgrade)"), "\(plan)")
        #expect(packageCommands(lab) == [], "plan ran something")

        let apply = try run(lab, backups, ["apply", "--yes", "--allow-upgrade"])
        #expect(apply.status == 0, "\(apply)")
        #expect(packageCommands(lab) == [upgrade], "\(apply)")
        #expect(try installed(lab) == Self.new)
        let runs = try mtaguard(["runs", "--format", "json"], backups: backups.path)
        let runID = try #require((try JSONSerialization.jsonObject(with: Data(runs.stdout.utf8)) as? [[String: Any]])?.first?["id"] as? String)
        let manifest = try String(contentsOfFile: backups.path + "/" + runID + "/manifest.json", encoding: .utf8)
        #expect(manifest.contains("\"action\" : \"upgrade\""), "\(manifest)")
        #expect(manifest.contains("\"postfix=\(Self.old)\""), "the journal does not keep the version to go back to")

        // Converged: judged 양호, and a second apply upgrades nothing.
        let after = try run(lab, backups, ["check"])
        #expect(after.status == 0, "\(after)")
        clearLog(lab)
        let again = try run(lab, backups, ["apply", "--yes", "--allow-upgrade"])
        #expect(again.status == 0, "\(again)")
        #expect(packageCommands(lab) == [])

        let rollback = try run(lab, backups, ["rollback", runID])
        #expect(rollback.status == 0, "\(rollback)")
        #expect(packageCommands(lab) == [downgrade], "\(rollback)")
        #expect(try installed(lab) == Self.old)
    }

    /// apt-cache policy failing is not "nothing newer": the upstream number (this machine's
    /// postfix 3.7.11, below 3.7.22) falls short, so 수동 확인 with apt-cache's own error, and
    /// --allow-upgrade upgrades nothing.
    @Test func aptCacheFailingIsReviewedNotPassed() throws {
        let lab = try makeLab()
        defer { lab.stop() }
        let backups = try TempDir("upgrade-aptfail")
        defer { backups.remove() }
        _ = FileManager.default.createFile(atPath: lab.host("pkg-host").directory + "/state/aptfail", contents: nil)
        let check = try run(lab, backups, ["check"])
        #expect(check.status == 2, "\(check)")
        #expect(check.stdout.contains("수동 확인"), "\(check)")
        #expect(check.stdout.contains("package: apt-cache policy failed (exit 100): \"E: Could not open lock file /var/lib/apt/lists/lock - open (13: Permission denied)\"; "
            + "the upstream number 3.7.11 falls short"), "\(check)")
        #expect(check.stdout.contains("apt-get changelog postfix"), "\(check)")
        let apply = try run(lab, backups, ["apply", "--yes", "--allow-upgrade"])
        #expect(!apply.stdout.contains("apt-get"), "\(apply)")
        #expect(packageCommands(lab) == [])
        #expect(try installed(lab) == Self.old)
    }

    @Test func rollbackSaysPlainlyWhenThePreviousVersionIsGone() throws {
        let lab = try makeLab()
        defer { lab.stop() }
        let backups = try TempDir("upgrade-gone")
        defer { backups.remove() }
        let apply = try run(lab, backups, ["apply", "--yes", "--allow-upgrade"])
        #expect(apply.status == 0, "\(apply)")
        #expect(try installed(lab) == Self.new)
        _ = FileManager.default.createFile(atPath: lab.host("pkg-host").directory + "/state/gone", contents: nil)
        let runs = try mtaguard(["runs", "--format", "json"], backups: backups.path)
        let runID = try #require((try JSONSerialization.jsonObject(with: Data(runs.stdout.utf8)) as? [[String: Any]])?.first?["id"] as? String)
        let rollback = try run(lab, backups, ["rollback", runID])
        #expect(rollback.status == 1, "\(rollback)")  // its one host failed, and nothing changed
        let text = rollback.stdout + rollback.stderr
        #expect(text.contains("cannot reinstall postfix \(Self.old)"), "\(rollback)")
        #expect(text.contains("Version '\(Self.old)' for 'postfix' was not found"), "\(rollback)")
        #expect(try installed(lab) == Self.new)
    }
}

/// U-45 and `--allow-upgrade` on RHEL- and SUSE-like lab hosts: no dpkg, apt-get or apt-cache
/// (/dev/null bound over them inside the host's mount namespace), and stateful recording shims
/// for rpm and the package manager under test, whose "installed" version changes on upgrade and
/// downgrade. The probe asks the manager before anything is judged; a manager that cannot
/// answer is said so, and never read as "nothing newer".
@Suite struct RPMUpgradeTests {
    static let old = "3.7.11-1.el9", new = "3.7.11-2.el9"

    enum Manager: String, CaseIterable, Sendable { case dnf, yum, zypper }

    /// The exact command lines each manager gets: the question, the upgrade, its inverse.
    static func lines(_ m: Manager) -> (ask: String, upgrade: String, downgrade: String) {
        switch m {
        case .dnf: ("dnf -q --cacheonly check-update postfix", "dnf -y upgrade postfix", "dnf -y downgrade postfix-\(old)")
        case .yum: ("yum -q -C check-update postfix", "yum -y update postfix", "yum -y downgrade postfix-\(old)")
        case .zypper: ("zypper --non-interactive --no-refresh list-updates", "zypper --non-interactive update postfix",
                       "zypper --non-interactive install --oldpackage postfix-\(old)")
        }
    }

    /// A stand-in for `m` that answers from `$S/postfix-version`; `$S/answer` (fail, nocache,
    /// slow) makes its question fail as the real tool does.
    static func body(_ m: Manager) -> String {
        let l = lines(m)
        let failing = """
            case "$(cat $S/answer 2>/dev/null)" in
            fail) echo "Error: Failed to download metadata for repo 'baseos': Cannot download repomd.xml" >&2; exit 1;;
            nocache) echo "Error: Cache-only enabled but no cache for 'baseos'" >&2; exit 1;;
            slow) exec sleep 600;;
            esac
            """
        let newer: String
        switch m {
        case .dnf, .yum:
            newer = """
                if [ "$(cat $S/postfix-version)" = \(old) ]; then echo; echo "postfix.x86_64   \(new)   baseos"; exit 100; fi
                exit 0
                """
        case .zypper:
            newer = """
                echo "Loading repository data..."; echo "Reading installed packages..."
                if [ "$(cat $S/postfix-version)" != \(old) ]; then echo "No updates found."; exit 0; fi
                echo "S | Repository                          | Name    | Current Version | Available Version | Arch"
                echo "--+-------------------------------------+---------+-----------------+-------------------+-------"
                echo "v | SLE-Module-Basesystem15-SP5-Updates | postfix | \(old)    | \(new)      | x86_64"
                """
        }
        return """
            case "$*" in
            "\(l.ask.dropFirst(m.rawValue.count + 1))")
            \(failing)
            \(newer);;
            "\(l.upgrade.dropFirst(m.rawValue.count + 1))") [ -f $S/noop ] || printf %s \(new) > $S/postfix-version;;
            "\(l.downgrade.dropFirst(m.rawValue.count + 1))") printf %s \(old) > $S/postfix-version;;
            *) echo "unexpected: $*" >&2; exit 2;;
            esac
            """
    }

    func makeLab(_ m: Manager?) throws -> SSHLab {
        var shims = ["rpm": """
            case "$1" in
            -q) [ "$4" = postfix ] || { echo "package $4 is not installed"; exit 1; }; printf '0:%s' "$(cat $S/postfix-version)";;
            -qf) echo postfix;;
            *) exit 1;;
            esac
            """]
        if let m { shims[m.rawValue] = Self.body(m) }
        return try packageLab("rpm-host", installed: Self.old, shims: shims) { lab in
            // An rpm host: the machine's own Debian tools are not there.
            let hide = ["dpkg-query", "dpkg", "apt-cache", "apt-get"].map { "mount --bind /dev/null /usr/bin/\($0)" }
            let r = try lab.inNamespace("rpm-host", hide.joined(separator: " && "))
            guard r.succeeded else { throw SSHLabError(description: "cannot hide dpkg: \(r)") }
        }
    }

    func run(_ lab: SSHLab, _ backups: TempDir, _ args: [String], environment: [String: String] = [:]) throws -> CommandResult {
        let fleet = ["-i", lab.inventoryPath, "--ssh-config", lab.sshConfigPath, "--connect-timeout", "60"]
        if args.first == "rollback" { return try mtaguard(args + fleet, backups: backups.path) }
        return try mtaguard(args + ["--item", "U-45"] + fleet, backups: backups.path, environment: environment)
    }

    func installed(_ lab: SSHLab) throws -> String {
        try String(contentsOfFile: lab.host("rpm-host").directory + "/state/postfix-version", encoding: .utf8)
    }

    /// The package manager's command lines since the log was last cleared.
    func managerLines(_ lab: SSHLab, _ m: Manager) -> [String] {
        Shims.changes(lab, "rpm-host").filter { $0.hasPrefix(m.rawValue + " ") }
    }

    func clearLog(_ lab: SSHLab) { try? Data().write(to: URL(fileURLWithPath: lab.host("rpm-host").commandsLog)) }

    /// The U-45 evidence line for postfix in a JSON report.
    func postfixEvidence(_ r: CommandResult) throws -> [String: Any] {
        let report = try #require(try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any], "\(r)")
        let hosts = report["hosts"] as? [[String: Any]] ?? []
        let evidence = hosts.flatMap { ($0["findings"] as? [[String: Any]] ?? []).flatMap { $0["evidence"] as? [[String: Any]] ?? [] } }
        return try #require(evidence.first { $0["mta"] as? String == "postfix" }, "\(r)")
    }

    @Test(arguments: Manager.allCases)
    func upgradeAskedAppliedVerifiedAndRolledBack(_ m: Manager) throws {
        let lab = try makeLab(m)
        defer { lab.stop() }
        let backups = try TempDir("rpm-upgrade-\(m.rawValue)")
        defer { backups.remove() }
        let l = Self.lines(m)

        let check = try run(lab, backups, ["check", "--format", "json"])
        #expect(check.status == 2, "\(check)")
        let e = try postfixEvidence(check)
        #expect(e["status"] as? String == "fail", "\(e)")
        #expect(e["text"] as? String == "postfix 3.7.11 (rpm postfix 0:\(Self.old))", "\(e)")
        let note = e["note"] as? String ?? ""
        #expect(note.hasPrefix("package: \(PackageUpdate.asked(m.rawValue)) offers postfix \(Self.new), newer than installed 0:\(Self.old); "), "\(note)")
        #expect(note.contains("to patch: \(l.upgrade) (mtaguard apply --allow-upgrade does it, journaled)"), "\(note)")
        #expect(managerLines(lab, m) == [l.ask], "the check asked otherwise")

        clearLog(lab)
        let plan = try run(lab, backups, ["plan", "--allow-upgrade"])
        #expect(plan.stdout.contains("# then run: \(l.upgrade)"), "\(plan)")
        #expect(managerLines(lab, m) == [l.ask], "plan ran more than the question")

        clearLog(lab)
        let apply = try run(lab, backups, ["apply", "--yes", "--allow-upgrade"])
        #expect(apply.status == 0, "\(apply)")
        // Asked, upgraded, asked again to verify: the manager now offers nothing newer.
        #expect(managerLines(lab, m) == [l.ask, l.upgrade, l.ask], "\(apply)")
        #expect(try installed(lab) == Self.new)
        let runs = try mtaguard(["runs", "--format", "json"], backups: backups.path)
        let runID = try #require((try JSONSerialization.jsonObject(with: Data(runs.stdout.utf8)) as? [[String: Any]])?.first?["id"] as? String)

        let after = try run(lab, backups, ["check", "--format", "json"])
        #expect(after.status == 0, "\(after)")
        let passed = try postfixEvidence(after)
        #expect(passed["status"] as? String == "pass", "\(passed)")
        #expect((passed["note"] as? String ?? "").hasPrefix(
            "package: \(PackageUpdate.asked(m.rawValue)) offers nothing newer for postfix than installed 0:\(Self.new)"), "\(passed)")

        clearLog(lab)
        let rollback = try run(lab, backups, ["rollback", runID])
        #expect(rollback.status == 0, "\(rollback)")
        #expect(managerLines(lab, m) == [l.downgrade], "\(rollback)")
        #expect(try installed(lab) == Self.old)
    }

    /// An upgrade command that exits 0 but leaves the old package: the manager, asked again,
    /// still offers the newer one, so the verification fails and the host is rolled back with
    /// the upgrade's inverse.
    @Test func anUpgradeThatDidNotTakeIsRolledBack() throws {
        let lab = try makeLab(.dnf)
        defer { lab.stop() }
        let backups = try TempDir("rpm-noop")
        defer { backups.remove() }
        _ = FileManager.default.createFile(atPath: lab.host("rpm-host").directory + "/state/noop", contents: nil)
        let l = Self.lines(.dnf)
        let apply = try run(lab, backups, ["apply", "--yes", "--allow-upgrade"])
        #expect(apply.status == 1, "\(apply)")
        let text = apply.stdout + apply.stderr
        #expect(text.contains("verification failed: after \(l.upgrade), dnf check-update offers postfix \(Self.new), newer than installed 0:\(Self.old): the upgrade did not take"), "\(apply)")
        #expect(managerLines(lab, .dnf) == [l.ask, l.upgrade, l.ask, l.downgrade], "\(apply)")
        #expect(try installed(lab) == Self.old)
    }

    /// The measured hole: a manager that could not answer. The upstream number (3.7.11, below
    /// 3.7.22) falls short, and the package may carry backported fixes: 수동 확인, exit 2, the
    /// reason in the evidence, and no upgrade planned or run.
    @Test(arguments: [
        (Manager.dnf, "fail", "dnf check-update failed (exit 1): \"Error: Failed to download metadata for repo 'baseos': Cannot download repomd.xml\""),
        (Manager.yum, "nocache", "yum check-update could not answer from its cache (exit 1): \"Error: Cache-only enabled but no cache for 'baseos'\""),
        (Manager.zypper, "slow", "zypper list-updates did not answer within 2 s and was stopped"),
        (nil, "", "the host has no dnf, yum or zypper to ask whether a newer package exists"),
    ] as [(Manager?, String, String)])
    func aManagerThatCannotAnswerIsReviewedNotPassed(_ m: Manager?, answer: String, reason: String) throws {
        let lab = try makeLab(m)
        defer { lab.stop() }
        let backups = try TempDir("rpm-review")
        defer { backups.remove() }
        try answer.write(toFile: lab.host("rpm-host").directory + "/state/answer", atomically: true, encoding: .utf8)
        let bound = ["MTAGUARD_PACKAGE_TIMEOUT": "2"]

        let check = try run(lab, backups, ["check", "--format", "json"], environment: bound)
        #expect(check.status == 2, "\(check)")
        let e = try postfixEvidence(check)
        #expect(e["status"] as? String == "review", "\(e)")
        let note = e["note"] as? String ?? ""
        #expect(note.hasPrefix("package: \(reason); the upstream number 3.7.11 falls short (upstream: 3.7.11 < 3.7.22 (latest of line 3.7)), "
            + "but postfix 0:\(Self.old) is a distribution package whose backported fixes nothing could ask for: a person must decide"), "\(note)")
        #expect(note.contains("to look at: whether postfix 0:\(Self.old) carries the fixes for what would apply above (the vendor's security advisories; rpm -q --changelog postfix)"), "\(note)")
        #expect(!note.contains("nothing newer"), "\(note)")
        if let m { #expect(managerLines(lab, m) == [Self.lines(m).ask]) }

        clearLog(lab)
        let apply = try run(lab, backups, ["apply", "--yes", "--allow-upgrade"], environment: bound)
        #expect(!apply.stdout.contains("upgrade"), "\(apply)")
        if let m { #expect(!managerLines(lab, m).contains(Self.lines(m).upgrade), "\(apply)") }
        #expect(try installed(lab) == Self.old)
    }
}
