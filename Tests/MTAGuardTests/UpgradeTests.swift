import Foundation
import Testing

/// `--allow-upgrade` on a lab host whose package tools are recording shims (a real upgrade
/// would need the network): U-45 fails on a Debian package with a newer candidate; plan says
/// what would patch it; apply upgrades only that package, journaled with the version it had;
/// rollback reinstalls that version, and says plainly when the tool no longer has it.
@Suite struct UpgradeTests {
    static let old = "3.7.10-0+deb12u1", new = "3.7.11-0+deb12u1"

    func makeLab() throws -> SSHLab {
        let lab = try SSHLab.start(hosts: ["pkg-host"])
        do {
            try Shims.install(lab, "pkg-host", family: .systemd)
            let h = lab.host("pkg-host")
            // The version item also judges the CVE-2023-51764 setting: settle it, so that the
            // package alone decides.
            try "smtpd_forbid_bare_newline = normalize\n".write(toFile: h.root + "/etc/postfix/main.cf", atomically: true, encoding: .utf8)
            let state = h.directory + "/state"
            try Self.old.write(toFile: state + "/postfix-version", atomically: true, encoding: .utf8)
            func shim(_ name: String, _ body: String) throws {
                let path = h.shims + "/" + name
                try "#!/bin/sh\nS=\(state)\necho \"$0 $*\" >> \(h.commandsLog)\n\(body)\n".write(toFile: path, atomically: true, encoding: .utf8)
                chmod(path, 0o755)
            }
            try shim("dpkg-query", """
                for a; do p=$a; done
                [ "$p" = postfix ] || exit 1
                echo "install ok installed $(cat $S/postfix-version)"
                """)
            try shim("apt-cache", """
                [ "$1 $2" = "policy postfix" ] || exit 0
                echo "postfix:"; echo "  Installed: $(cat $S/postfix-version)"; echo "  Candidate: \(Self.new)"
                """)
            try shim("apt-get", """
                for a; do last=$a; done
                case "$*" in
                *" install --only-upgrade postfix") echo "Unpacking postfix (\(Self.new))"; printf %s \(Self.new) > $S/postfix-version;;
                *" install --allow-downgrades postfix="*)
                  if [ -f $S/gone ]; then echo "E: Version '${last#postfix=}' for 'postfix' was not found"; exit 100; fi
                  printf %s "${last#postfix=}" > $S/postfix-version;;
                *) exit 1;;
                esac
                """)
        } catch {
            lab.stop()
            throw error
        }
        return lab
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
        #expect(check.stdout.contains("package: debian candidate \(Self.new) is newer than installed \(Self.old)"), "\(check)")
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
