import Foundation
import Testing

@testable import MTAGuard

/// Every way a step can fail over SSH, struck on a real lab host with a path or argument that
/// holds `$(touch CANARY)`, backticks, `;`, quotes and a newline: the canary never appears (on
/// the host or here), the reason reported is the real one (the failing command's own words),
/// the original file is untouched, and no temporary file or lock is left.
@Suite struct FailureBranchTests {
    /// A hostile file name (no `/`): its canary, if it ever ran, is a file `mtgcanary` in the
    /// remote shell's working folder (the host's root home, inside the lab folder).
    static let hostileName = "we'ird $(touch mtgcanary) `touch mtgcanary` ;touch mtgcanary; \"q\" %s -u \\n\nnext"

    /// A hostile argument whose canary is an absolute path on this machine (the hosts share /tmp).
    static func hostileArgument(_ canary: String) -> String {
        "a'b $(touch \(canary)) `touch \(canary)` ;touch \(canary); \"q\" -u \\n\nnext"
    }

    struct Lab {
        let lab: SSHLab
        let host: SSHHost
        let canary: String
        var hostile: String { FailureBranchTests.hostileName }
        var argument: String { FailureBranchTests.hostileArgument(canary) }
        var etc: String { lab.host("branch").root + "/etc/postfix" }
    }

    func withLab(_ body: (Lab) async throws -> Void) async throws {
        let lab = try SSHLab.start(hosts: ["branch"])
        defer { lab.stop() }
        var options = SSHTransport.Options()
        options.configFile = lab.sshConfigPath
        options.connectTimeout = 60
        let transport = try SSHTransport(options: options)
        let target = SSHTarget(address: "127.0.0.1", port: Int(lab.host("branch").port), user: "root")
        defer { transport.close([target]) }
        let canary = NSTemporaryDirectory() + "mtgc-" + UUID().uuidString.prefix(6)
        let l = Lab(lab: lab, host: SSHHost(name: "branch", target: target, transport: transport), canary: canary)
        defer {
            #expect(!FileManager.default.fileExists(atPath: canary), "a hostile argument ran as code")
            let ran = (try? FileManager.default.subpathsOfDirectory(atPath: lab.directory))?.filter { $0.hasSuffix("/mtgcanary") || $0 == "mtgcanary" } ?? []
            #expect(ran.isEmpty, "a hostile name ran as code: \(ran)")
            #expect(!FileManager.default.fileExists(atPath: FileManager.default.currentDirectoryPath + "/mtgcanary"))
        }
        try await body(l)
    }

    /// What is left beside the target and in the host's /run: nothing of mtaguard's.
    func expectNothingLeft(_ l: Lab, sourceLocation: SourceLocation = #_sourceLocation) throws {
        let files = try FileManager.default.contentsOfDirectory(atPath: l.etc)
        #expect(!files.contains { $0.contains(".mtaguard-") }, "temporary file left: \(files)", sourceLocation: sourceLocation)
        let lock = try l.lab.inNamespace("branch", "ls -a /run; test ! -e /run/mtaguard.lock")
        #expect(lock.status == 0, "lock left: \(lock)", sourceLocation: sourceLocation)
    }

    func replace(_ l: Lab, path: String, old: Data?, new: Data, before: Validation? = nil) -> ApplyStep {
        .replace(FileReplacement(
            path: path, expected: ExpectedContent(old), bytes: new, mode: 0o644, uid: 0, gid: 0,
            validateBefore: before, validateAfter: nil))
    }

    @Test func temporaryFileCannotBeCreated() async throws {
        try await withLab { l in
            // The target's folder does not exist: the temp file beside it cannot be made.
            let path = "/etc/postfix/" + l.hostile + "/main.cf"
            let r = try await l.host.apply([replace(l, path: path, old: nil, new: Data("x\n".utf8))], runID: "r")
            #expect(r.map(\.outcome) == [.failed], "\(r)")
            let message = r.first?.message ?? ""
            #expect(message.contains("cannot create a temporary file in /etc/postfix/" + l.hostile), "\(message)")
            #expect(message.contains("Directory nonexistent") || message.contains("No such file"), "\(message)")
            #expect(!message.contains("disk full"))
            try expectNothingLeft(l)
        }
    }

    @Test func readOnlyFolder() async throws {
        try await withLab { l in
            let old = Data("old\n".utf8)
            try FileManager.default.createDirectory(atPath: l.etc + "/" + l.hostile, withIntermediateDirectories: true)
            try old.write(to: URL(fileURLWithPath: l.etc + "/" + l.hostile + "/main.cf"))
            let ro = try l.lab.inNamespace("branch", "mount -o remount,bind,ro /etc/postfix")
            try #require(ro.status == 0, "\(ro)")
            let path = "/etc/postfix/" + l.hostile + "/main.cf"
            let r = try await l.host.apply([replace(l, path: path, old: old, new: Data("new\n".utf8))], runID: "r")
            #expect(r.map(\.outcome) == [.failed], "\(r)")
            #expect(r.first?.message.contains("Read-only file system") == true, "\(r)")
            #expect(try Data(contentsOf: URL(fileURLWithPath: l.etc + "/" + l.hostile + "/main.cf")) == old)
            _ = try l.lab.inNamespace("branch", "mount -o remount,bind,rw /etc/postfix")
            try expectNothingLeft(l)
        }
    }

    /// The validator on the temporary file (`{file}`), or on a staging folder (`{dir}`).
    @Test(arguments: [("{file}", " in /etc/postfix/.main.cf.mtaguard-"), ("{dir}", " in /etc/postfix/.mtaguard-")])
    func validatorRejects(placeholder: String, seen: String) async throws {
        try await withLab { l in
            let old = Data("old\n".utf8)
            try old.write(to: URL(fileURLWithPath: l.etc + "/main.cf"))
            let validator = Validation(
                argv: ["sh", "-c", "printf 'rejected: %s in %s\\n' \"$1\" \"$2\" >&2; exit 3", "sh", l.argument, placeholder],
                rejectOutput: nil, stagedWith: placeholder == "{dir}" ? ["master.cf"] : [])
            let r = try await l.host.apply(
                [replace(l, path: "/etc/postfix/main.cf", old: old, new: Data("new\n".utf8), before: validator)], runID: "r")
            #expect(r.map(\.outcome) == [.failed], "\(r)")
            let message = r.first?.message ?? ""
            #expect(message.contains("validator rejected the new /etc/postfix/main.cf"), "\(message)")
            #expect(message.contains(" exited 3: rejected: " + l.argument + seen), "\(message)")
            #expect(try Data(contentsOf: URL(fileURLWithPath: l.etc + "/main.cf")) == old)
            try expectNothingLeft(l)
        }
    }

    /// `{dir}` staging over SSH, in a hostile folder with a hostile companion: the validator
    /// reads the new bytes under the target's name and the companion's copy, the installed file
    /// keeps the time set 3 s back, and the staging folder goes.
    @Test func stagedValidatorSeesTheNewFileAndItsCompanions() async throws {
        try await withLab { l in
            let folder = l.etc + "/" + l.hostile
            try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
            let old = Data("old\n".utf8)
            try old.write(to: URL(fileURLWithPath: folder + "/main.cf"))
            try Data("companion\n".utf8).write(to: URL(fileURLWithPath: folder + "/" + l.hostile + ".cf"))
            let validator = Validation(
                argv: ["sh", "-c", "test \"$(cat \"$2/main.cf\")\" = new && test \"$1\" = \"$2/main.cf\" && test \"$(cat \"$2/$3\")\" = companion || { ls -la \"$2\" >&2; exit 4; }",
                       "sh", "{file}", "{dir}", l.hostile + ".cf"],
                rejectOutput: nil, stagedWith: [l.hostile + ".cf", "absent.cf"], backdate: 3)
            var step = replace(l, path: "/etc/postfix/" + l.hostile + "/main.cf", old: old, new: Data("new\n".utf8), before: validator)
            if case .replace(var r) = step { r.backdate = 3; step = .replace(r) }
            let r = try await l.host.apply([step], runID: "r")
            #expect(r.map(\.outcome) == [.done], "\(r)")
            #expect(try Data(contentsOf: URL(fileURLWithPath: folder + "/main.cf")) == Data("new\n".utf8))
            #expect(try LivePostfixTests.mtime(folder + "/main.cf") <= time(nil) - 3)
            let left = try FileManager.default.contentsOfDirectory(atPath: folder)
            #expect(Set(left) == ["main.cf", l.hostile + ".cf"], "\(left)")
            try expectNothingLeft(l)
        }
    }

    /// The staging folder cannot be made (the folder's file system has no inode left for it):
    /// mkdir's own words, the original untouched, the temporary file gone.
    @Test func stagingFolderCannotBeCreated() async throws {
        try await withLab { l in
            let folder = "/etc/postfix/" + l.hostile
            try FileManager.default.createDirectory(atPath: l.etc + "/" + l.hostile, withIntermediateDirectories: true)
            // Room for the folder itself, main.cf and the temporary file; none for the staging folder.
            let q = shellQuote(folder)
            let small = try l.lab.inNamespace("branch", "mount -t tmpfs -o nr_inodes=3,size=64k tmpfs \(q) && printf 'old\\n' > \(q)/main.cf")
            try #require(small.status == 0, "\(small)")
            defer { _ = try? l.lab.inNamespace("branch", "umount \(q)") }
            let validator = Validation(argv: ["true", "{dir}"], rejectOutput: nil)
            let r = try await l.host.apply(
                [replace(l, path: folder + "/main.cf", old: Data("old\n".utf8), new: Data("new\n".utf8), before: validator)], runID: "r")
            #expect(r.map(\.outcome) == [.failed], "\(r)")
            let message = r.first?.message ?? ""
            #expect(message.contains("cannot create a staging folder in " + folder + ": mkdir: "), "\(message)")
            #expect(message.contains("No space left"), "\(message)")
            let seen = try l.lab.inNamespace("branch", "cat \(q)/main.cf; ls -a \(q)")
            #expect(seen.stdout == "old\n.\n..\nmain.cf\n", "\(seen)")
        }
    }

    @Test func renameFails() async throws {
        try await withLab { l in
            // A file bind-mounted over the target: rename(2) onto a mount point is EBUSY.
            let old = Data("old\n".utf8)
            try old.write(to: URL(fileURLWithPath: l.etc + "/" + l.hostile))
            let name = shellQuote("/etc/postfix/" + l.hostile)
            let busy = try l.lab.inNamespace("branch", "mount --bind \(name) \(name)")
            try #require(busy.status == 0, "\(busy)")
            let r = try await l.host.apply([replace(l, path: "/etc/postfix/" + l.hostile, old: old, new: Data("new\n".utf8))], runID: "r")
            _ = try l.lab.inNamespace("branch", "umount \(name)")
            #expect(r.map(\.outcome) == [.failed], "\(r)")
            let message = r.first?.message ?? ""
            #expect(message.contains("cannot replace /etc/postfix/" + l.hostile + ": mv: "), "\(message)")
            #expect(message.contains("busy"), "\(message)")
            #expect(try Data(contentsOf: URL(fileURLWithPath: l.etc + "/" + l.hostile)) == old)
            try expectNothingLeft(l)
        }
    }

    @Test func actionFailsAndItsProbeToo() async throws {
        try await withLab { l in
            let failing = ApplyStep.run(argv: ["sh", "-c", "printf 'boom: %s\\n' \"$1\" >&2; exit 7", "sh", l.argument], probe: nil)
            let r = try await l.host.apply([failing], runID: l.argument)
            #expect(r.map(\.outcome) == [.failed], "\(r)")
            #expect(r.first?.message.contains(" exited 7: boom: " + l.argument) == true, "\(r)")
            // A probe that says no skips its command, and says so with the probe's words.
            let skipped = ApplyStep.run(argv: ["touch", l.canary], probe: ["sh", "-c", "exit 1", l.argument])
            let s = try await l.host.apply([skipped], runID: "r")
            #expect(s.map(\.outcome) == [.skipped], "\(s)")
            #expect(s.first?.message.contains("says the service is not running") == true, "\(s)")
            try expectNothingLeft(l)
        }
    }

    @Test func connectionDropsDuringAnAction() async throws {
        try await withLab { l in
            // The action kills the sshd process of its own session: the connection ends mid-step.
            let kill = """
                p=$$
                while [ "$p" -gt 1 ]; do
                  case $(ps -o comm= -p "$p") in sshd*) kill -KILL "$p"; sleep 5; exit 0;; esac
                  p=$(ps -o ppid= -p "$p" | tr -d ' ')
                done
                exit 9
                """
            let r = try await l.host.apply([.run(argv: ["sh", "-c", kill, "sh", l.argument], probe: nil)], runID: l.argument)
            #expect(r.map(\.outcome) == [.inDoubt], "\(r)")
            #expect(r.first?.message.contains("the connection ended during step 1") == true, "\(r)")
            // The host's trap removed the lock when its shell lost the connection.
            var lockGone = false
            for _ in 0..<50 where !lockGone {
                lockGone = (try? l.lab.inNamespace("branch", "test ! -e /run/mtaguard.lock"))?.status == 0
                if !lockGone { usleep(100_000) }
            }
            #expect(lockGone)
        }
    }
}
