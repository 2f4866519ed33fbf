import Foundation
import Testing

@testable import MTAGuard

/// The generated POSIX scripts, run here by `sh` (dash) on real files: bytes survive, and
/// nothing in a path or a file's contents can run as a command.
@Suite struct RemoteScriptTests {
    static let hostileName = "we'ird $(touch CANARY) `touch CANARY` ;touch CANARY; \"q\" %s \\n\nline.cf"
    static let hostileBytes = Data("a'b\"c $(touch CANARY) `touch CANARY` %s %% \\ \\n \u{0}\u{1}\t\r\n".utf8)
        + Data([0xC3, 0xA9, 0xFF, 0x00, 0x7F, 0x25]) + Data("\n한국어 설정\n".utf8)

    /// Runs a script with its own /run (where the host lock lives): tests run in parallel.
    func sh(_ script: String, in dir: TempDir) throws -> CommandResult {
        try runCommand(
            ["unshare", "-m", "--propagation", "private", "sh", "-c", "mount -t tmpfs tmpfs /run && exec sh -s"],
            stdin: script, currentDirectory: dir.path)
    }

    @Test func factsReadHostileNamesAndBytesExactly() throws {
        let dir = try TempDir("script")
        defer { dir.remove() }
        let path = try dir.write(Self.hostileName, Self.hostileBytes, mode: 0o640)
        chown(path, 0, 7)
        let script = RemoteScript()
        let paths = [path, dir.path + "/absent.cf"]
        let out = try sh(script.facts(paths: paths).text, in: dir)
        #expect(out.status == 0, "\(out)")
        let facts = try script.parseFacts(out.stdout, paths: paths, host: "h")
        let snapshot = try #require(try facts.file(path))
        #expect(snapshot.bytes == Self.hostileBytes)
        #expect(snapshot.mode == 0o640 && snapshot.uid == 0 && snapshot.gid == 7)
        #expect(facts.files[dir.path + "/absent.cf"] == .absent)
        #expect(facts.family == .linux)
        #expect(!FileManager.default.fileExists(atPath: dir.path + "/CANARY"))
    }

    @Test func applyWritesHostileBytesToAHostileNameWithoutRunningThem() throws {
        let dir = try TempDir("script")
        defer { dir.remove() }
        let old = Data("old contents\n".utf8)
        let path = try dir.write(Self.hostileName, old, mode: 0o604)
        let script = RemoteScript()
        let step = ApplyStep.replace(FileReplacement(
            path: path, expected: ExpectedContent(old), bytes: Self.hostileBytes, mode: 0o604, uid: 0, gid: 7,
            validateBefore: Validation(argv: ["grep", "-q", "touch CANARY", "{file}"], rejectOutput: nil),
            validateAfter: nil))
        let run = ApplyStep.run(argv: ["sh", "-c", "echo \"$1\" > ran", "sh", "$(touch CANARY) 'x'"], probe: nil)
        let out = try sh(script.apply([step, run], runID: "r'1 $(touch CANARY)", controller: "c`touch CANARY`").text, in: dir)
        let (results, finished) = try script.parseApply(out.stdout, host: "h")
        #expect(finished, "\(out)")
        #expect(results.map(\.outcome) == [.done, .done], "\(out)")
        #expect(try Data(contentsOf: URL(fileURLWithPath: path)) == Self.hostileBytes)
        var st = stat()
        lstat(path, &st)
        #expect(st.st_mode & 0o7777 == 0o604 && st.st_gid == 7)
        #expect(try String(contentsOfFile: dir.path + "/ran", encoding: .utf8) == "$(touch CANARY) 'x'\n")
        #expect(!FileManager.default.fileExists(atPath: dir.path + "/CANARY"))
        // No temporary file is left beside the target.
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir.path).sorted() == [Self.hostileName, "ran"].sorted())
    }

    @Test func applyRefusesAFileThatChangedAndKeepsIt() throws {
        let dir = try TempDir("script")
        defer { dir.remove() }
        let path = try dir.write("main.cf", "changed by someone\n")
        let script = RemoteScript()
        let step = ApplyStep.replace(FileReplacement(
            path: path, expected: ExpectedContent(Data("what the plan read\n".utf8)), bytes: Data("new\n".utf8),
            mode: 0o644, uid: 0, gid: 0, validateBefore: nil, validateAfter: nil))
        let out = try sh(script.apply([step], runID: "r", controller: "c").text, in: dir)
        let (results, _) = try script.parseApply(out.stdout, host: "h")
        #expect(results.map(\.outcome) == [.drifted])
        #expect(results.first?.message.contains("changed since it was read") == true)
        #expect(try String(contentsOfFile: path, encoding: .utf8) == "changed by someone\n")
        let driftLost = FaultLedger.bytesLost(expected: Data("changed by someone\n".utf8), actual: try Data(contentsOf: URL(fileURLWithPath: path)))
        FaultLedger.record(.fault, "apply refuses a file that changed since the plan", hosts: 1, survived: driftLost == 0 ? 1 : 0, bytesLost: driftLost)
    }

    @Test func validatorRejectionLeavesTheOriginal() throws {
        let dir = try TempDir("script")
        defer { dir.remove() }
        let old = Data("O PrivacyOptions=authwarnings\n".utf8)
        let path = try dir.write("sendmail.cf", old)
        let script = RemoteScript()
        let step = ApplyStep.replace(FileReplacement(
            path: path, expected: ExpectedContent(old), bytes: Data("broken\n".utf8), mode: 0o644, uid: 0, gid: 0,
            validateBefore: Validation(argv: ["sh", "-c", "echo \"$1: line 1: unknown configuration line\"", "sh", "{file}"],
                                       rejectOutput: "line [0-9]+: "),
            validateAfter: nil))
        let out = try sh(script.apply([step], runID: "r", controller: "c").text, in: dir)
        let (results, _) = try script.parseApply(out.stdout, host: "h")
        #expect(results.map(\.outcome) == [.failed], "\(out)")
        #expect(results.first?.message.contains("validator rejected") == true)
        #expect(try Data(contentsOf: URL(fileURLWithPath: path)) == old)
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir.path) == ["sendmail.cf"])
        let rejectedLost = FaultLedger.bytesLost(expected: old, actual: try Data(contentsOf: URL(fileURLWithPath: path)))
        FaultLedger.record(.fault, "validator rejects the new file before the replace", hosts: 1, survived: rejectedLost == 0 ? 1 : 0, bytesLost: rejectedLost)
    }

    @Test func cksumMatchesThePOSIXTool() throws {
        for data in [Data(), Data("hello\n".utf8), Self.hostileBytes, Data((0..<70_000).map { UInt8($0 % 251) })] {
            let dir = try TempDir("ck")
            defer { dir.remove() }
            let path = try dir.write("f", data)
            let real = try runCommand(["sh", "-c", "cksum < \"$1\"", "sh", path]).stdout
            #expect(real.trimmingCharacters(in: .whitespacesAndNewlines) == POSIXChecksum.line(data))
        }
    }

    @Test func lsModesIncludingSpecialBits() throws {
        let cases: [(String, UInt32)] = [
            ("-rw-r--r--", 0o644), ("-rw-------", 0o600), ("-rwsr-xr-x", 0o4755), ("-rwxr-sr-x", 0o2755),
            ("-rw-r-Sr--", 0o2644), ("-rwxrwxrwt", 0o1777), ("-rw-r-----+", 0o640), ("-rw-r--r--.", 0o644),
        ]
        for (perms, mode) in cases {
            let parsed = try RemoteScript.parseLsLine("\(perms) 1 0 7 1053 Nov 26 12:49 /etc/x", host: "h", path: "/etc/x")
            #expect(parsed.mode == mode, "\(perms)")
            #expect(parsed.uid == 0 && parsed.gid == 7)
        }
    }
}

/// The version probe, run by sh against stand-ins for postconf, exim, dpkg-query and apt-cache
/// first on PATH: what each prints is what the judge gets.
@Suite struct VersionProbeTests {
    @Test func versionsPackagesAndSettingsAreRead() throws {
        let dir = try TempDir("ver")
        defer { dir.remove() }
        func shim(_ name: String, _ body: String) throws {
            let path = try dir.write("bin/" + name, "#!/bin/sh\n" + body + "\n")
            chmod(path, 0o755)
        }
        try shim("postconf", "case \"$*\" in '-d -h mail_version') echo 3.7.11;; '-h smtpd_forbid_bare_newline') echo normalize;; '-h smtpd_future_setting') echo 42;; esac")
        try shim("exim4", "echo 'Exim version 4.96 #2 built 26-Nov-2026 12:00:00'; echo 'Copyright (c) University of Cambridge'")
        try shim("dpkg-query", "case \"$*\" in *exim4-daemon-light) printf 'install ok installed 4.96-15+deb12u4';; *) exit 1;; esac")
        try shim("apt-cache", """
            echo 'exim4-daemon-light:'; echo '  Installed: 4.96-15+deb12u4'; echo '  Candidate: 4.96-15+deb12u5'
            echo '  Version table:'; echo '     4.96-15+deb12u5 500'
            echo '        500 http://deb.debian.org/debian-security bookworm-security/main amd64 Packages'
            echo ' *** 4.96-15+deb12u4 100'; echo '        100 /var/lib/dpkg/status'
            """)
        let script = RemoteScript()
        // The settings come from the knowledge base's rules, by name (here one a future KB might add).
        let settings = script.settingsProbe(["postfix": ["smtpd_forbid_bare_newline", "smtpd_future_setting"]])
        let out = try runCommand(["sh", "-s"], stdin: "M=\(script.marker)\n" + script.versionProbe.text + settings.text,
                                 environment: ["PATH": dir.path + "/bin:/usr/bin:/bin"])
        let facts = try RemoteScript.Versions(output: out.stdout, marker: script.marker, host: "h").facts
        #expect(facts["postfix"]?.version == "3.7.11")
        #expect(facts["postfix"]?.settings == ["smtpd_forbid_bare_newline": "normalize", "smtpd_future_setting": "42"])
        #expect(facts["exim"]?.version == "4.96")
        #expect(facts["exim"]?.source == "exim4")
        #expect(facts["exim"]?.package == PackageInfo(tool: "dpkg", name: "exim4-daemon-light", installed: "4.96-15+deb12u4", update: .candidate("4.96-15+deb12u5", tool: "apt-cache")))
        #expect(facts["postfix"]?.package == nil)
    }

    @Test func ownerLinesAreRead() throws {
        let m = "@@0123456789abcdef"
        let out = """
            \(m) owner /usr/sbin/sendmail postfix dpkg:postfix
            \(m) owner /usr/lib/sendmail exim link:/usr/sbin/exim4 dpkg:exim4-daemon-light
            \(m) owner /usr/sbin/sendmail

            """
        #expect(try RemoteScript.Versions(output: out, marker: m, host: "h").owners == [
            CommandOwner(path: "/usr/sbin/sendmail", mta: "postfix", evidence: ["dpkg:postfix"]),
            CommandOwner(path: "/usr/lib/sendmail", mta: "exim", evidence: ["link:/usr/sbin/exim4", "dpkg:exim4-daemon-light"]),
        ])
    }

    /// Runs the version probe with `sbin` (files and links) as /usr/sbin, in a private mount
    /// namespace, and a `dpkg` that answers `dpkg -S` from `owners` (path → package).
    func probe(sbin: [String: String], links: [String: String] = [:], owners: [String: String] = [:], bin: [String: String] = [:])
        throws -> (versions: RemoteScript.Versions, calls: String)
    {
        let dir = try TempDir("owner")
        defer { dir.remove() }
        try FileManager.default.createDirectory(atPath: dir.path + "/sbin", withIntermediateDirectories: true)
        for (name, body) in bin {
            chmod(try dir.write("bin/" + name, "#!/bin/sh\necho \"\(name) $*\" >> \(dir.path)/calls\n" + body + "\n"), 0o755)
        }
        for (name, body) in sbin {
            chmod(try dir.write("sbin/" + name, "#!/bin/sh\necho \"\(name) $*\" >> \(dir.path)/calls\n" + body + "\n"), 0o755)
        }
        for (name, target) in links {
            try FileManager.default.createSymbolicLink(atPath: dir.path + "/sbin/" + name, withDestinationPath: target)
        }
        let answers = owners.map { "\($0.key)) echo '\($0.value): \($0.key)';;" }.joined(separator: " ")
        chmod(try dir.write("bin/dpkg", "#!/bin/sh\n[ \"$1\" = -S ] || exit 2\ncase \"$2\" in \(answers) *) exit 1;; esac\n"), 0o755)
        let script = RemoteScript()
        let out = try runCommand(
            ["unshare", "-m", "--propagation", "private", "sh", "-c", "mount --bind \"$1\" /usr/sbin && exec sh -s", "sh",
             dir.path + "/sbin"],
            stdin: "M=\(script.marker)\n" + script.versionProbe.text, environment: ["PATH": dir.path + "/bin:/usr/bin:/bin"])
        #expect(out.status == 0, "\(out)")
        let calls = (try? String(contentsOfFile: dir.path + "/calls", encoding: .utf8)) ?? ""
        return (try RemoteScript.Versions(output: out.stdout, marker: script.marker, host: "h"), calls)
    }

    @Test func postfixsWrapperIsPostfixsAndHasNoSendmailVersion() throws {
        let (v, calls) = try probe(
            sbin: ["sendmail": "echo 'sendmail: fatal: usage: sendmail [options]' >&2; exit 75"],
            owners: ["/usr/sbin/sendmail": "postfix"])
        #expect(v.owners == [CommandOwner(path: "/usr/sbin/sendmail", mta: "postfix", evidence: ["dpkg:postfix"])])
        #expect(v.facts["sendmail"] == nil)
        #expect(calls == "sendmail -d0.1 -bt\n")  // asked once: /usr/lib/sendmail is the same file
    }

    @Test func aLinkToEximIsEximsAndAnswersWithEximsVersion() throws {
        let (v, calls) = try probe(
            sbin: ["exim4": "echo 'Exim version 4.97.1 #2 built 01-Jan-2026 00:00:00'"], links: ["sendmail": "exim4"],
            owners: ["/usr/sbin/exim4": "exim4-daemon-heavy"])
        #expect(v.owners == [
            CommandOwner(path: "/usr/sbin/sendmail", mta: "exim", evidence: ["link:/usr/sbin/exim4", "dpkg:exim4-daemon-heavy"])
        ])
        #expect(v.facts["exim"]?.version == "4.97.1")
        #expect(v.facts["exim"]?.source == "/usr/sbin/sendmail")  // exim4 is not on this PATH
        #expect(v.facts["sendmail"] == nil)
        #expect(!calls.contains("-d0.1"))
    }

    @Test func aLinkChainToPostfixIsFollowedWithoutAskingIt() throws {
        let (v, calls) = try probe(
            sbin: ["sendmail.postfix": "exit 75"], links: ["sendmail": "mta", "mta": "/usr/sbin/sendmail.postfix"])
        #expect(v.owners == [CommandOwner(path: "/usr/sbin/sendmail", mta: "postfix", evidence: ["link:/usr/sbin/sendmail.postfix"])])
        #expect(calls.isEmpty)
    }

    /// The guide runs `sendmail -d0 -bt` through PATH: a sendmail found only there (an
    /// /opt or /usr/local build) is asked too, and attributed from its own answer.
    @Test func aSendmailOnlyOnPathIsFound() throws {
        let (v, calls) = try probe(
            sbin: [:], bin: ["sendmail": "[ \"$1\" = -d0.1 ] && printf 'Version 8.17.1\\n'"])
        #expect(v.facts["sendmail"]?.version == "8.17.1", "\(v.facts)")
        #expect(v.facts["sendmail"]?.source.hasSuffix("/bin/sendmail") == true)
        #expect(v.owners.map(\.mta) == ["sendmail"])
        #expect(calls == "sendmail -d0.1 -bt\n")
    }

    @Test func sendmailsOwnAnswerOutweighsThePackageDatabase() throws {
        let (v, _) = try probe(
            sbin: ["sendmail": "[ \"$1\" = -d0.1 ] && printf 'Version 8.18.1\\n Compiled with: LDAPMAP\\n'"],
            owners: ["/usr/sbin/sendmail": "postfix"])
        #expect(v.owners == [CommandOwner(path: "/usr/sbin/sendmail", mta: "sendmail", evidence: ["answer:-d0.1", "dpkg:postfix"])])
        #expect(v.facts["sendmail"]?.version == "8.18.1")
        #expect(v.facts["sendmail"]?.source == "/usr/sbin/sendmail")
    }
}
