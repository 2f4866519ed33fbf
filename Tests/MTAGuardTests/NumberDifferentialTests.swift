import Foundation
import Testing

@testable import MTAGuard

/// mtaguard reads a number as the MTA reads it (`ConfigNumber`), checked against the real
/// programs on generated values: each kind of leading and trailing space (U+0009, U+000B–U+000D,
/// U+0020, U+00A0, U+1680, U+2000–U+200A, U+2028, U+2029, U+202F, U+205F, U+3000, U+FEFF; a
/// U+000A would end the line), signs, suffixes, leading zeros and `0x`, overflow, empty values
/// and text after the digits. The value goes into a real configuration file, mtaguard parses
/// that file with its lens and `Judge`, and its number must be the MTA's:
/// - sendmail 8.17 (`-bs` on a cf built by m4 with the value set twice): `O MaxMessageSize=`
///   (read with atol) is the `SIZE` its EHLO announces (none when 0 or less), and
///   `O MaxRecipientsPerMessage=` (read with atoi, as MaxDaemonChildren, ConnectionRateThrottle
///   and MaxHeadersLength are, readcf.c) is the RCPT after which it answers `452 Too many
///   recipients` (asked up to 6 times: a limit of 1 to 5 shows, any other reading shows none);
/// - postfix 3.7: `message_size_limit` (a long) is the `SIZE` of `smtpd -S`'s EHLO, or
///   smtpd stops on it; `default_process_limit` (an int) is accepted or fatal to `postmap`, whose
///   "value N < 1" tells the number read where it is below 1;
/// - exim 4.96: `exim -C FILE -bP smtp_accept_max` prints the value, or refuses the file.
/// A value mtaguard cannot parse with its lens is "could not tell" (오류), never a pass: the
/// test accepts that in place of a number, and counts it in its report line.
///
/// Replay with MTAGUARD_NUMBER_SEED=SEED; MTAGUARD_NUMBER_CASES=N random values per MTA besides
/// the fixed ones (12 by default).
@Suite(.serialized) struct NumberDifferentialTests {
    static let seed = CaseSeed.seed("MTAGUARD_NUMBER_SEED")
    static let randomCases = CaseSeed.cases("MTAGUARD_NUMBER_CASES", default: 12)

    static let spaces: [String] = ([0x09, 0x0B, 0x0C, 0x0D, 0x20, 0xA0, 0x1680] + Array(0x2000...0x200A) + [0x2028, 0x2029, 0x202F, 0x205F, 0x3000, 0xFEFF])
        .map { String(Character(Unicode.Scalar(UInt32($0))!)) }

    /// Every space before and after `core`, the `cores` alone, and `randomCases` mixtures.
    static func values(cores: [String], around core: String, stream: UInt64) -> [String] {
        var rng = SplitMix64(seed: seed, stream: stream)
        var values = cores + spaces.flatMap { [$0 + core, core + $0] }
        for _ in 0..<randomCases {
            let pick = { (list: [String]) in list[Int(rng.next() % UInt64(list.count))] }
            let before = rng.next() % 2 == 0 ? "" : pick(spaces) + (rng.next() % 2 == 0 ? "" : pick(spaces))
            let after = rng.next() % 2 == 0 ? "" : pick(spaces + ["x", "k", " # note", "/9"])
            values.append(before + pick(cores.filter { !$0.isEmpty }) + after)
        }
        return values
    }

    static func shown(_ text: String) -> String {
        text.unicodeScalars.map { $0.value < 0x20 || $0.value >= 0x7F ? "\\u{\(String($0.value, radix: 16))}" : String($0) }.joined()
    }

    static func target(_ item: String, mta: String, file: String, index: Int = 0) throws -> Target {
        let book = try #require(try PlaybookLoader.loadAll(folder: Repo.playbooks).first { $0.id == item })
        // exim's options are `exim-setting` targets, which hold a setting's check and fix.
        let settings = book.targets.compactMap { ($0 as? Target) ?? ($0 as? EximSettingTarget)?.setting }
        return try #require(settings.filter { $0.mta == mta && $0.file == file }.dropFirst(index).first)
    }

    /// mtaguard's number for `name` (a check node) in `text`, nil when its lens refuses the file;
    /// and the judge's account.
    static func mtaguard(_ text: String, target: Target, node: String) throws -> ConfigNumber? {
        var t = target
        t.check.node = node
        let tree: ConfigTree
        do {
            tree = try ConfigWorkspace().parse(text, lens: t.lens, file: t.file, host: "diff", mta: t.mta)
        } catch {
            return nil
        }
        let judge = Judge(target: t)
        return judge.number(try judge.read(tree).value ?? "")
    }

    // MARK: - sendmail

    @Test func sendmailReadsNumbersAsMtaguardDoes() throws {
        let dir = try Scratch.make("numbers-sendmail")
        defer { dir.remove() }
        let sendmail = try SendmailCf(in: dir.path)
        let target = try Self.target("SRV-008", mta: "sendmail", file: "/etc/mail/sendmail.cf")
        let cores = ["0", "1", "2", "3", "5", "+3", "-1", "-0", "003", "3x", "3 # note", "", "x3", "+-3", "0x3", "3k", "3/4",
                     "4294967298", "4294967299", "-4294967293", "2147483651", "9223372036854775807", "9223372036854775808",
                     "99999999999999999999", "-9223372036854775809"]
        var unparsed = 0
        let values = Self.values(cores: cores, around: "3", stream: 1)
        for value in values {
            let cf = sendmail.generic + "O MaxMessageSize=7\nO MaxMessageSize=\(value)\nO MaxRecipientsPerMessage=\(value)\n"
            let session = try sendmail.smtp(cf, ["EHLO x", "MAIL FROM:<a@mta.example.test>"] + Array(repeating: "RCPT TO:<root>", count: 6))
            let shown = "value '\(Self.shown(value))' (seed \(Self.seed))"
            try #require(session.first?.hasPrefix("220 ") == true, "\(shown): sendmail did not greet: \(session)")
            let ehlo = session.count > 1 ? session[1] : ""
            // "250-SIZE N" for a limit, a bare "250-SIZE" for none (0 or less).
            let size = ehlo.split(separator: "\n").first { $0.hasPrefix("250-SIZE") }.map { Int($0.dropFirst(9)) ?? 0 }
            let rcpts = session.dropFirst(3)
            let limit = rcpts.firstIndex { $0.hasPrefix("452") }.map { $0 - 3 }

            guard let atol = try Self.mtaguard(cf, target: target, node: "*[label() =~ regexp('maxmessagesize', 'i')]"),
                let atoi = try Self.mtaguard(cf, target: target, node: "*[label() =~ regexp('maxrecipientspermessage', 'i')]")
            else { unparsed += 1; continue }
            #expect(size == max(atol.value ?? 0, 0), "\(shown): sendmail's SIZE \(size.map(String.init) ?? "none"), mtaguard: \(atol.account)")
            let expected = (atoi.value.map { (1...5).contains($0) } ?? false) ? atoi.value : nil
            #expect(limit == expected, "\(shown): sendmail stops at RCPT \(limit.map(String.init) ?? "none"), mtaguard: \(atoi.account)")
            #expect(atoi.value != nil && atol.value != nil, "\(shown): sendmail never refuses a number")
        }
        noteUnless(unparsed == 0, "sendmail: \(unparsed) of \(values.count) values the lens refused (seed \(Self.seed))")
    }

    // MARK: - postfix

    @Test(.enabled(if: Postconf.available, "postfix is not installed")) func postfixReadsNumbersAsMtaguardDoes() throws {
        let dir = try Scratch.make("numbers-postfix")
        defer { dir.remove() }
        let target = try Self.target("SRV-008", mta: "postfix", file: "/etc/postfix/main.cf")
        let cores = ["0", "1", "42", "+42", "-1", "-0", "0042", "42x", "42 x", "", "x42", "0x2a", "42k", "1e3", "+-1",
                     "2147483647", "2147483648", "-2147483649", "9223372036854775807", "9223372036854775808", "$other"]
        let values = Self.values(cores: cores, around: "42", stream: 2)
        // One folder per value and parameter. postfix sleeps a second before it exits on a fatal
        // error, so the programs of all values run at once.
        let master = try Data(contentsOf: URL(fileURLWithPath: PostfixDefaults.share + "/master.cf.dist"))
        var texts: [(size: String, limit: String)] = []
        var runs: [ParallelRun.Command] = []
        for (i, value) in values.enumerated() {
            var pair: [String] = []
            for name in ["message_size_limit", "default_process_limit"] {
                let folder = dir.path + "/\(i)-\(name)"
                try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
                try master.write(to: URL(fileURLWithPath: folder + "/master.cf"))
                let text = "compatibility_level = 3.6\nmyhostname = mta.example.test\nother = 5\n\(name) = \(value)\n"
                try Data(text.utf8).write(to: URL(fileURLWithPath: folder + "/main.cf"))
                // postfix programs wait for a main.cf written in the last seconds to "cool down".
                try FileManager.default.setAttributes([.modificationDate: Date(timeIntervalSinceNow: -3600)], ofItemAtPath: folder + "/main.cf")
                pair.append(text)
                runs.append(name == "message_size_limit"
                    // message_size_limit: a long, which smtpd's EHLO shows as SIZE.
                    ? ParallelRun.Command(
                        argv: ["/usr/lib/postfix/sbin/smtpd", "-S", "-o", "local_recipient_maps=", "-o", "smtpd_tls_security_level=none"],
                        environment: ["MAIL_CONFIG": folder], stdin: "EHLO x\r\nQUIT\r\n")
                    // default_process_limit: an int, fatal to postmap when malformed or below 1.
                    : ParallelRun.Command(argv: ["postmap", "-c", folder, "-q", "x", "inline:{x=y}"]))
            }
            texts.append((pair[0], pair[1]))
        }
        let results = try ParallelRun.all(runs, scratch: dir.path)
        var unparsed = 0
        for (i, value) in values.enumerated() {
            let shown = "value '\(Self.shown(value))' (seed \(Self.seed))"
            let (smtpd, postmap) = (results[2 * i], results[2 * i + 1])
            if value.contains("$") {
                // postfix expands $other first; mtaguard does not, and says so: never a pass.
                for (text, node) in [(texts[i].size, "message_size_limit"), (texts[i].limit, "default_process_limit")] {
                    let n = try Self.mtaguard(text, target: target, node: node)
                    #expect(n?.value == nil && n?.account.contains("expands") == true, "\(shown): \(n?.account ?? "unparsed")")
                }
                continue
            }
            let greeted = smtpd.stdout.hasPrefix("220 ")
            // "250-SIZE N" for a limit, a bare "250-SIZE" for none (0 or less).
            let size = smtpd.stdout.split(whereSeparator: \.isNewline).first { $0.hasPrefix("250-SIZE") }.map { Int($0.dropFirst(9)) ?? 0 }
            if let long = try Self.mtaguard(texts[i].size, target: target, node: "message_size_limit") {
                #expect(greeted == (long.value != nil), "\(shown): smtpd \(greeted ? "read" : "refused") message_size_limit; mtaguard: \(long.account)")
                if greeted, let v = long.value { #expect(size == max(v, 0), "\(shown): smtpd's SIZE \(size.map(String.init) ?? "none"), mtaguard: \(long.account)") }
            } else { unparsed += 1 }

            guard let int = try Self.mtaguard(texts[i].limit, target: target, node: "default_process_limit") else { unparsed += 1; continue }
            let below = postmap.stderr.firstMatch(of: /parameter value (-?[0-9]+) < 1/).flatMap { Int($0.1) }
            if let below {
                #expect(int.value == below, "\(shown): postfix read \(below), mtaguard: \(int.account)")
            } else {
                #expect((postmap.status == 0) == (int.value != nil), "\(shown): postmap \(postmap.status == 0 ? "accepts" : "refuses") it: \(postmap.stderr); mtaguard: \(int.account)")
                if postmap.status == 0 { #expect((int.value ?? 0) >= 1, "\(shown): postfix accepted it, so it is at least 1; mtaguard: \(int.account)") }
            }
        }
        noteUnless(unparsed == 0, "postfix: \(unparsed) of \(2 * values.count) files the lens refused (seed \(Self.seed))")
    }

    // MARK: - exim

    @Test func eximReadsNumbersAsMtaguardDoes() throws {
        let exim = try EximFiles()
        defer { exim.remove() }
        let target = try Self.target("SRV-008", mta: "exim", file: "/etc/exim4/exim4.conf")
        let cores = ["0", "1", "20", "+20", "-3", "020", "08", "0x14", "0X1f", "2k", "2K", "1m", "1M", "1G", "2G", "2g", "20x", "20 x",
                     "", "x20", "2147483647", "2147483648", "3000000k", "-2147483648", "20 # note", "1.5"]
        var unparsed = 0
        let values = Self.values(cores: cores, around: "20", stream: 3)
        for value in values {
            let shown = "value '\(Self.shown(value))' (seed \(Self.seed))"
            let text = "smtp_accept_max = \(value)\n"
            let file = try exim.write("n.conf", text)
            let r = try runCommand(
                [exim.packages.eximBinary, "-C", file, "-bP", "smtp_accept_max"], environment: ["LD_LIBRARY_PATH": exim.packages.eximLibraries])
            let printed = r.stdout.firstMatch(of: /^smtp_accept_max = (-?[0-9]+)$/.anchorsMatchLineEndings()).flatMap { Int($0.1) }
            guard let number = try Self.mtaguard(text, target: target, node: "smtp_accept_max") else { unparsed += 1; continue }
            #expect((r.status == 0) == (printed != nil), "\(shown): \(r)")
            #expect(printed == number.value, "\(shown): exim says \(printed.map(String.init) ?? "error: " + r.stdout + r.stderr); mtaguard: \(number.account)")
        }
        noteUnless(unparsed == 0, "exim: \(unparsed) of \(values.count) files the lens refused (seed \(Self.seed))")
    }
}

/// Prints a note in the test's output when `condition` is false, without failing the test.
private func noteUnless(_ condition: Bool, _ note: String) {
    if !condition { print("note: " + note) }
}

/// An SMTP session with a program that speaks SMTP on its stdin and stdout (`sendmail -bs`,
/// `smtpd -S`): it waits for each reply before it sends the next command, as sendmail wants.
/// Each reply is its lines joined by newlines; the greeting comes first. The program runs
/// under `timeout 30`, so a silent one ends the session instead of the test.
enum StdioSMTP {
    static func session(_ argv: [String], _ commands: [String], environment: [String: String] = [:]) throws -> [String] {
        // A program that stops early closes its stdin: a write then fails instead of killing the test.
        signal(SIGPIPE, SIG_IGN)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/timeout")
        process.arguments = ["30"] + argv
        var env = ProcessInfo.processInfo.environment
        env.merge(environment) { _, new in new }
        process.environment = env
        let input = Pipe(), output = Pipe()
        process.standardInput = input
        process.standardOutput = output
        process.standardError = FileHandle.nullDevice
        try process.run()
        defer {
            try? input.fileHandleForWriting.close()
            process.waitUntilExit()
        }
        var buffer = Data()
        func reply() -> String? {
            var lines: [String] = []
            while true {
                while let nl = buffer.firstIndex(of: 0x0A) {
                    var line = String(decoding: buffer[buffer.startIndex..<nl], as: UTF8.self)
                    buffer.removeSubrange(buffer.startIndex...nl)
                    if line.hasSuffix("\r") { line.removeLast() }
                    lines.append(line)
                    if line.count >= 4, line.prefix(3).allSatisfy(\.isNumber), line.dropFirst(3).first == " " {
                        return lines.joined(separator: "\n")
                    }
                }
                let more = output.fileHandleForReading.availableData
                if more.isEmpty { return nil }
                buffer += more
            }
        }
        var replies: [String] = []
        guard let greeting = reply() else { return replies }
        replies.append(greeting)
        for command in commands + ["QUIT"] {
            do { try input.fileHandleForWriting.write(contentsOf: Data((command + "\r\n").utf8)) } catch { break }
            guard let r = reply() else { break }
            replies.append(r)
        }
        return replies
    }
}

/// Programs run all at once, each with its own stdin text, their output kept in files under
/// `scratch`; each runs under `timeout 30`.
enum ParallelRun {
    struct Command {
        var argv: [String]
        var environment: [String: String] = [:]
        var stdin: String = ""
    }

    static func all(_ commands: [Command], scratch: String) throws -> [CommandResult] {
        var started: [(Process, String)] = []
        defer { for (p, _) in started where p.isRunning { p.terminate() } }
        for (i, command) in commands.enumerated() {
            let base = scratch + "/run-\(i)"
            try Data(command.stdin.utf8).write(to: URL(fileURLWithPath: base + ".in"))
            FileManager.default.createFile(atPath: base + ".out", contents: nil)
            FileManager.default.createFile(atPath: base + ".err", contents: nil)
            let p = Process()
            p.executableURL = URL(fileURLWithPath: "/usr/bin/timeout")
            p.arguments = ["30"] + command.argv
            var env = ProcessInfo.processInfo.environment
            env.merge(command.environment) { _, new in new }
            p.environment = env
            p.standardInput = try FileHandle(forReadingFrom: URL(fileURLWithPath: base + ".in"))
            p.standardOutput = try FileHandle(forWritingTo: URL(fileURLWithPath: base + ".out"))
            p.standardError = try FileHandle(forWritingTo: URL(fileURLWithPath: base + ".err"))
            try p.run()
            started.append((p, base))
        }
        return try started.map { p, base in
            p.waitUntilExit()
            return CommandResult(
                status: p.terminationStatus,
                stdout: try String(contentsOfFile: base + ".out", encoding: .utf8),
                stderr: try String(contentsOfFile: base + ".err", encoding: .utf8))
        }
    }
}
