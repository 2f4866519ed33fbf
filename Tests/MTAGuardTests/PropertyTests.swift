import Foundation
import Testing

@testable import MTAGuard

/// Random valid main.cf and sendmail.cf files, made from the real fixtures by random edits
/// (lines deleted, duplicated, reordered; comments, blank and continuation lines; the setting
/// already there in odd spellings; no final newline), each driven through the engine in process:
/// - the verdict is the MTA's own (postconf for main.cf; sendmail's PrivacyOptions rules);
/// - `apply` changes only the setting's own lines, and `check` then passes;
/// - `plan` after `apply` has nothing to do, and a second `apply` changes nothing;
/// - `rollback` gives back the original bytes.
///
/// The seed is printed with every failure; replay with MTAGUARD_PROPERTY_SEED=SEED (and
/// MTAGUARD_PROPERTY_CASES=N for another number of cases).
@Suite struct PropertyTests {
    static let seed = CaseSeed.seed("MTAGUARD_PROPERTY_SEED")
    static let cases = CaseSeed.cases("MTAGUARD_PROPERTY_CASES", default: 40)

    @Test(arguments: 0..<cases)
    func mainCf(index: Int) async throws {
        var rng = SplitMix64(seed: Self.seed, stream: UInt64(index))
        let generated = MainCfGenerator.make(&rng)
        try await Property.check(
            kind: "main.cf", index: index, path: "/etc/postfix/main.cf", text: generated.text, ops: generated.ops,
            relevant: MainCfGenerator.isRelevant, oracle: MainCfGenerator.postfixSays)
    }

    /// sendmail 8.17 reads a long option only after "O" and exactly one space: with a tab or two
    /// spaces it says "readcf: unknown option name" and ignores the line, so PrivacyOptions
    /// stays at its default and both commands are answered. The Sendmail_Cf lens keeps such a
    /// line opaque, so mtaguard does not count its flags.
    @Test(arguments: ["O\tPrivacyOptions=goaway\n", "O  PrivacyOptions=goaway\n"])
    func blanksOtherThanOneSpaceAfterO(line: String) async throws {
        let root = try TempDir("prop-root"), backups = try TempDir("prop-backups")
        defer { root.remove(); backups.remove() }
        try root.write("etc/mail/sendmail.cf", "O LogLevel=9\n" + line)
        #expect(SendmailCfGenerator.sendmailSays("", "O LogLevel=9\n" + line) == false)
        let session = Session(playbooksFolder: Repo.playbooks, backupsFolder: backups.path, items: ["SRV-005"], root: root.path)
        let plans = try await session.plan()
        #expect(Session.checkExitCode(plans) == 2, "\(line.debugDescription) must be 취약: sendmail ignores the line")
    }

    @Test(arguments: 0..<cases)
    func sendmailCf(index: Int) async throws {
        var rng = SplitMix64(seed: Self.seed, stream: UInt64(index))
        let generated = SendmailCfGenerator.make(&rng)
        try await Property.check(
            kind: "sendmail.cf", index: index, path: "/etc/mail/sendmail.cf", text: generated.text, ops: generated.ops,
            relevant: SendmailCfGenerator.isRelevant, oracle: SendmailCfGenerator.sendmailSays)
    }
}

/// The property, for one generated file (also PostfixDifferentialTests'). `seed` is the run's
/// seed, replayed through the environment variable `replay`. Returns the bytes after apply.
enum Property {
    @discardableResult
    static func check(
        kind: String, index: Int, path: String, text: String, ops: [String],
        relevant: (Substring) -> Bool, oracle: (String, String) -> Bool?,
        seed: UInt64 = PropertyTests.seed, replay replayVariable: String = "MTAGUARD_PROPERTY_SEED"
    ) async throws -> Data {
        let root = try Scratch.make("prop-root"), backups = try Scratch.make("prop-backups")
        defer { root.remove(); backups.remove() }
        let relative = String(path.dropFirst())
        let original = Data(text.utf8)
        try root.write(relative, original)
        let replay = "\(kind) case \(index), seed \(seed) (replay: \(replayVariable)=\(seed)); edits: \(ops.joined(separator: "; "))"
        let session = Session(
            playbooksFolder: Repo.playbooks, backupsFolder: backups.path, items: ["SRV-005"], root: root.path)
        var ok = true
        func expect(_ condition: Bool, _ what: String, sourceLocation: SourceLocation = #_sourceLocation) {
            if !condition { ok = false }
            #expect(condition, "\(what): \(replay)", sourceLocation: sourceLocation)
        }

        // Judged as the MTA judges.
        let plans = try await session.plan()
        let errors = plans.flatMap(\.errors).map(\.description)
        expect(errors.isEmpty, "a valid file was not judged: \(errors)")
        let passed = Session.checkExitCode(plans) == 0
        if let mta = oracle(root.path + path, text) { expect(passed == mta, "mtaguard says pass=\(passed), the MTA \(mta)") }

        // Apply: only the setting's own lines change, then everything passes.
        let applied = try await session.apply(command: "apply (property \(kind) \(index))")
        expect(applied.exitCode == 0, "apply exited \(applied.exitCode): \(applied.errors)")
        let after = try root.read(relative)
        expect((applied.runID == nil) == passed, "apply made a run: \(applied.runID ?? "none") though pass=\(passed)")
        if passed { expect(after == original, "apply changed a passing file") }
        let changed = changedLines(String(decoding: original, as: UTF8.self), String(decoding: after, as: UTF8.self))
        expect(changed.allSatisfy(relevant), "apply touched other lines: \(changed)")
        if let mta = oracle(root.path + path, String(decoding: after, as: UTF8.self)) { expect(mta, "the MTA does not pass the applied file") }
        let recheck = try await session.plan()
        expect(Session.checkExitCode(recheck) == 0, "check after apply: \(Session.checkExitCode(recheck))")
        expect(Session.planExitCode(recheck) == 0, "plan after apply still has changes")

        // A second apply changes nothing.
        let again = try await session.apply(command: "apply again")
        expect(again.exitCode == 0 && again.runID == nil, "second apply: run \(again.runID ?? "none"), exit \(again.exitCode)")
        expect(try root.read(relative) == after, "second apply changed bytes")

        // Rollback gives the original bytes back.
        var restored = after
        if let runID = applied.runID {
            let rollback = try await session.rollback(runID, force: false)
            expect(rollback.exitCode == 0, "rollback exited \(rollback.exitCode): \(rollback.errors) \(rollback.messages)")
            restored = try root.read(relative)
        }
        expect(restored == original, "rollback did not give the original bytes")
        if !ok {
            let keep = NSTemporaryDirectory() + "mtaguard-property-\(kind)-\(seed)-\(index)"
            try? original.write(to: URL(fileURLWithPath: keep))
            Issue.record("the generated file is kept in \(keep): \(replay)")
        }
        let lost = FaultLedger.bytesLost(expected: original, actual: restored)
        FaultLedger.record(.property, "\(kind) apply/rollback case \(index)", hosts: 1, survived: ok && lost == 0 ? 1 : 0, bytesLost: lost)
        return after
    }

    /// The lines between the common head and the common tail of two texts, from both sides
    /// (a final empty string stands for a final newline that came or went).
    static func changedLines(_ old: String, _ new: String) -> [Substring] {
        let a = lines(old), b = lines(new)
        let region = changedRegion(a, b)
        let middle = a[region.removed] + b[region.added]
        return middle.enumerated().filter { i, line in !(line.isEmpty && i == middle.count - 1) }.map(\.element)
    }

    /// The lines of `text` ("\r\n" is one Character in Swift: split on it too, or a CRLF text is
    /// one line).
    static func lines(_ text: String) -> [Substring] {
        text.split(omittingEmptySubsequences: false) { $0 == "\n" || $0 == "\r\n" }
    }

    /// Where `a` and `b` differ: the lines between their common head and common tail, in each.
    static func changedRegion(_ a: [Substring], _ b: [Substring]) -> (removed: Range<Int>, added: Range<Int>) {
        var head = 0
        while head < min(a.count, b.count), a[head] == b[head] { head += 1 }
        var tail = 0
        while tail < min(a.count, b.count) - head, a[a.count - 1 - tail] == b[b.count - 1 - tail] { tail += 1 }
        return (head..<(a.count - tail), head..<(b.count - tail))
    }
}

/// Random main.cf files from postfix's own and Debian's, with the edits a person makes.
enum MainCfGenerator {
    static let bases = ["postfix/main.cf.debian", "postfix/main.cf.dist"]
    static let settings = [
        "disable_vrfy_command = no", "disable_vrfy_command = yes", "disable_vrfy_command=yes", "disable_vrfy_command=NO",
        "disable_vrfy_command  =\tYes", "disable_vrfy_command = yes   ", "disable_vrfy_command =\n    yes",
        "disable_vrfy_command =\n\tno", "disable_vrfy_command = no\n\tyes", "disable_vrfy_command = yes # not a comment",
        "DISABLE_VRFY_COMMAND = yes", "#disable_vrfy_command = yes", "# disable_vrfy_command = yes",
    ]
    static let others = [
        "# a comment", "#", "", "   ", "\t", "smtpd_banner = $myhostname ESMTP",
        "smtpd_recipient_restrictions = permit_mynetworks,\n    reject_unauth_destination,\n\tpermit",
        "mynetworks = 127.0.0.0/8\n  [::1]/128", "relayhost =", "# disable_vrfy_command is set below",
    ]

    static func make(_ rng: inout SplitMix64) -> (text: String, ops: [String]) {
        let base = bases[Int.random(in: 0..<bases.count, using: &rng)]
        var blocks = Blocks(text: try! String(contentsOfFile: Repo.fixture(base), encoding: .utf8))
        var ops = ["base \(base)"]
        for _ in 0..<Int.random(in: 1...8, using: &rng) {
            switch Int.random(in: 0..<10, using: &rng) {
            case 0...4:
                ops.append(blocks.edit(&rng))
            case 5...7:
                let line = settings[Int.random(in: 0..<settings.count, using: &rng)]
                ops.append(blocks.insert(line, &rng))
            default:
                let line = others[Int.random(in: 0..<others.count, using: &rng)]
                ops.append(blocks.insert(line, &rng))
            }
        }
        let dropNewline = Int.random(in: 0..<4, using: &rng) == 0
        if dropNewline { ops.append("no final newline") }
        return (blocks.text(finalNewline: !dropNewline), ops)
    }

    /// A line apply may change: the setting, or a continuation line of its value.
    static func isRelevant(_ line: Substring) -> Bool {
        line.hasPrefix("disable_vrfy_command") || line.first == " " || line.first == "\t"
    }

    /// What postfix reads, through postconf (nil where postconf is not installed).
    static func postfixSays(_ file: String, _ text: String) -> Bool? {
        guard let r = try? Postconf.run(mainCf: text, ["-h", "disable_vrfy_command"]), r.status == 0 else { return nil }
        return r.stdout.trimmingCharacters(in: .whitespacesAndNewlines).lowercased() == "yes"
    }
}

/// Random sendmail.cf files from upstream's generic-*.cf, with PrivacyOptions lines of every
/// spelling sendmail accepts.
private enum SendmailCfGenerator {
    static let bases = ["generic-linux.cf", "generic-bsd4.4.cf", "generic-hpux10.cf", "generic-osf1.cf", "generic-solaris.cf"]
    static let flags = [
        "authwarnings", "noexpn", "novrfy", "goaway", "restrictqrun", "restrictmailq", "noetrn", "needmailhelo",
        "noreceipts", "nobodyreturn", "public", "needexpnhelo", "needvrfyhelo", "noverb", "noactualrecipient",
    ]
    /// "OPrivacyOptions=" is sendmail's one-letter option P (PostmasterCopy), not PrivacyOptions.
    /// "O\tPrivacyOptions=" and "O  PrivacyOptions=" are unknown options to sendmail: see
    /// `blanksOtherThanOneSpaceAfterO` above.
    static let prefixes = [
        "O PrivacyOptions=", "O PrivacyOptions = ", "O privacyoptions=", "OPrivacyOptions=", "O PRIVACYOPTIONS=",
        "O PrivacyOptions  =  ", "O\tPrivacyOptions=", "O  PrivacyOptions=",
    ]
    static let separators = [",", ", ", " ,", " ", ",\t", " , "]
    static let others = ["# a comment", "#O PrivacyOptions=goaway", "#", "", "O LogLevel=9", "# PrivacyOptions below"]

    static func make(_ rng: inout SplitMix64) -> (text: String, ops: [String]) {
        let base = bases[Int.random(in: 0..<bases.count, using: &rng)]
        var blocks = Blocks(text: try! String(contentsOfFile: Repo.fixture("sendmail/" + base), encoding: .utf8))
        var ops = ["base \(base)"]
        if Int.random(in: 0..<3, using: &rng) > 0, let i = blocks.items.firstIndex(where: { $0.hasPrefix("O PrivacyOptions=") }) {
            let line = privacyLine(&rng)
            blocks.items[i] = line
            ops.append("PrivacyOptions line now '\(line)'")
        }
        for _ in 0..<Int.random(in: 1...8, using: &rng) {
            switch Int.random(in: 0..<10, using: &rng) {
            case 0...4: ops.append(blocks.edit(&rng))
            case 5...6: ops.append(blocks.insert(privacyLine(&rng), &rng))
            default: ops.append(blocks.insert(others[Int.random(in: 0..<others.count, using: &rng)], &rng))
            }
        }
        let dropNewline = Int.random(in: 0..<4, using: &rng) == 0
        if dropNewline { ops.append("no final newline") }
        return (blocks.text(finalNewline: !dropNewline), ops)
    }

    static func privacyLine(_ rng: inout SplitMix64) -> String {
        let chosen = flags.filter { _ in Int.random(in: 0..<4, using: &rng) == 0 }.map { flag in
            String(flag.map { Bool.random(using: &rng) && Int.random(in: 0..<4, using: &rng) == 0 ? Character($0.uppercased()) : $0 })
        }
        let separator = separators[Int.random(in: 0..<separators.count, using: &rng)]
        let trailing = ["", "", ",", "   ", ", "][Int.random(in: 0..<5, using: &rng)]
        return prefixes[Int.random(in: 0..<prefixes.count, using: &rng)] + chosen.joined(separator: separator) + (chosen.isEmpty ? "" : trailing)
    }

    static func isRelevant(_ line: Substring) -> Bool {
        line.range(of: #"^O[ \t]*privacyoptions[ \t]*="#, options: [.regularExpression, .caseInsensitive]) != nil
    }

    /// sendmail's rule (readcf.c setoption, checked against sendmail 8.17 with -d37.1): a long
    /// option is "O" and one space, then the name (any case), blanks, "="; every such
    /// PrivacyOptions line adds flags, which blanks and punctuation separate; noexpn and
    /// novrfy, or goaway, restrict both commands.
    static func sendmailSays(_ file: String, _ text: String) -> Bool? {
        var set = Set<String>()
        for line in text.split(separator: "\n") {
            guard let match = line.range(of: #"^O privacyoptions *="#, options: [.regularExpression, .caseInsensitive])
            else { continue }
            set.formUnion(line[match.upperBound...].split { !($0.isLetter || $0.isNumber) }.map { $0.lowercased() })
        }
        return set.contains("goaway") || (set.contains("noexpn") && set.contains("novrfy"))
    }
}

/// A file as blocks: a line with the continuation lines (led by a blank or tab) that follow
/// it, so that moving blocks around never changes what a logical line holds (for files with no
/// comment or blank line inside a continued value, as the fixtures are).
struct Blocks {
    var items: [String]

    init(text: String) {
        var lines = text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        if lines.last == "" { lines.removeLast() }
        items = []
        for line in lines {
            let continuation = (line.first == " " || line.first == "\t") && line.contains { $0 != " " && $0 != "\t" }
            if continuation, let last = items.popLast() { items.append(last + "\n" + line) } else { items.append(line) }
        }
    }

    func text(finalNewline: Bool) -> String {
        items.joined(separator: "\n") + (finalNewline ? "\n" : "")
    }

    /// Deletes, duplicates or swaps random blocks; returns what it did.
    mutating func edit(_ rng: inout SplitMix64) -> String {
        let i = Int.random(in: 0..<items.count, using: &rng), j = Int.random(in: 0..<items.count, using: &rng)
        switch Int.random(in: 0..<3, using: &rng) {
        case 0 where items.count > 1:
            let gone = items.remove(at: i)
            return "deleted block \(i) '\(gone.prefix(40))'"
        case 1:
            items.insert(items[i], at: j)
            return "copied block \(i) to \(j)"
        default:
            items.swapAt(i, j)
            return "swapped blocks \(i) and \(j)"
        }
    }

    mutating func insert(_ block: String, _ rng: inout SplitMix64) -> String {
        let at = Int.random(in: 0...items.count, using: &rng)
        items.insert(block, at: at)
        return "inserted '\(block)' at \(at)"
    }
}
