import Foundation
import Testing

@testable import MTAGuard

/// mtaguard reads main.cf as postfix reads it, checked against postfix itself: random main.cf
/// files, made from the real fixtures plus the constructs the stock Postfix_Main lens rejected
/// (comment, blank and whitespace-only lines inside continued values and between "name =" and
/// the first value line; tab and space continuations; "{ ... }" groups and "inline:{ ... }"
/// tables over several lines; several definitions, the last winning; commented-out ones; odd
/// spacing around "=", even a line break before it; whitespace-led text before the first
/// setting, which postfix ignores; no final newline; CRLF). For each file:
/// - mtaguard's reading of disable_vrfy_command, and of two multi-line lists, through `Judge`
///   equals `postconf -h`; every parameter mtaguard finds equals what `postconf -n` says
///   (and, for names postfix does not know, the raw value its "unused parameter" warning shows);
/// - through the engine (`Property.check`, as PropertyTests): the verdict is postfix's, apply
///   changes only the deciding definition's lines, a second apply changes nothing, rollback
///   gives the original bytes; and postfix reads every other parameter of the applied file as
///   before.
///
/// postconf -h and -n print a value with each whitespace run made one space (postconf_print.c),
/// so values are compared after the same normalisation; the raw comparison (unused parameters)
/// keeps the spacing exactly.
///
/// The seed is printed with every failure; replay with MTAGUARD_DIFF_SEED=SEED (and
/// MTAGUARD_DIFF_CASES=N for another number of cases, 300 by default).
@Suite(.enabled(if: Postconf.available, "postconf (postfix) is not installed"))
struct PostfixDifferentialTests {
    static let seed = CaseSeed.seed("MTAGUARD_DIFF_SEED")
    static let cases = CaseSeed.cases("MTAGUARD_DIFF_CASES", default: 300)

    /// The multi-line lists compared with `postconf -h` besides disable_vrfy_command.
    static let lists = ["smtpd_recipient_restrictions", "mynetworks"]

    /// SRV-005's postfix target: how mtaguard reads and fixes disable_vrfy_command.
    static let target: Target = {
        let books = try! PlaybookLoader.loadAll(folder: Repo.playbooks)
        return books.first { $0.id == "SRV-005" }!.targets.first { $0.mta == "postfix" } as! Target
    }()

    @Test(arguments: 0..<cases)
    func readsMainCfAsPostfixDoes(index: Int) async throws {
        var rng = SplitMix64(seed: Self.seed, stream: UInt64(index))
        let generated = DifferentialMainCf.make(&rng)
        let text = generated.text
        let replay = "case \(index), seed \(Self.seed) (replay: MTAGUARD_DIFF_SEED=\(Self.seed)); \(generated.ops.joined(separator: "; "))"
        var ok = true
        func expect(_ condition: Bool, _ what: @autoclosure () -> String, sourceLocation: SourceLocation = #_sourceLocation) {
            if !condition { ok = false }
            #expect(condition, "\(what()): \(replay)", sourceLocation: sourceLocation)
        }
        defer {
            if !ok {
                let keep = NSTemporaryDirectory() + "mtaguard-diff-\(Self.seed)-\(index).main.cf"
                try? Data(text.utf8).write(to: URL(fileURLWithPath: keep))
                Issue.record("the generated file is kept in \(keep): \(replay)")
            }
        }

        // postfix's reading. The generator makes only files postfix accepts: a refusal is a bug here.
        let postfix = try PostfixReading(text, h: ["disable_vrfy_command"] + Self.lists)
        expect(postfix.refusal == nil, "postconf refused the generated file: \(postfix.refusal ?? "")")
        guard postfix.refusal == nil else { return }

        // mtaguard's reading, through Judge, as the engine reads it.
        let tree: ConfigTree
        do {
            tree = try ConfigWorkspace().parse(text, lens: Self.target.lens, file: Self.target.file, host: "diff", mta: Self.target.mta)
        } catch {
            expect(false, "mtaguard cannot read a file postfix reads: \(error)")
            return
        }
        for (i, name) in (["disable_vrfy_command"] + Self.lists).enumerated() {
            var target = Self.target
            target.check.node = name
            let reading = try Judge(target: target).read(tree)
            if reading.nodes.isEmpty && i > 0 {
                // A list's default depends on other settings (mynetworks on mynetworks_style and
                // compatibility_level): unset must be unset to postfix too.
                expect(postfix.settings[name] == nil, "\(name): mtaguard finds it unset, postconf -n '\(postfix.settings[name] ?? "")'")
                continue
            }
            let mine = reading.nodes.isEmpty ? Self.target.check.defaultValue ?? "" : reading.value ?? ""
            expect(PostfixValue.normalizedWhitespace(mine) == postfix.h[i],
                   "\(name): mtaguard reads '\(mine)', postconf -h '\(postfix.h[i])'")
        }

        // Every parameter mtaguard finds, as postfix reads it (the last definition wins).
        var entries: [String: String] = [:]
        for node in try tree.match("*[label() =~ regexp('[^#].*')]") {  // not #comment, #ignored, blank
            guard let label = try tree.augeas.label(node) else { continue }
            entries[label] = PostfixValue.read(try tree.value(node) ?? "")
        }
        expect(postfix.differences(from: entries, crlf: generated.crlf).isEmpty,
               "mtaguard and postconf -n differ: \(postfix.differences(from: entries, crlf: generated.crlf))")

        // The engine: verdict, apply, idempotence, rollback (PropertyTests' property).
        var applied: PostfixReading?
        let after = try await Property.check(
            kind: "main.cf (postfix differential)", index: index, path: Self.target.file, text: text, ops: generated.ops,
            relevant: DifferentialMainCf.isRelevant,
            oracle: { _, now in
                if now == text { return postfix.h[0].lowercased() == "yes" }
                applied = try? PostfixReading(now, h: [])
                return applied.map { $0.refusal == nil && $0.settings["disable_vrfy_command"]?.lowercased() == "yes" }
            },
            seed: Self.seed, replay: "MTAGUARD_DIFF_SEED")

        // Apply changed the deciding definition's lines only (or appended one line), and postfix
        // reads every other parameter as before.
        let outside = try Self.changesOutsideTheDecidingDefinition(tree, after: after)
        expect(outside.isEmpty, "apply changed lines outside disable_vrfy_command's definition: \(outside)")
        if after != Data(text.utf8), let applied {
            let now = applied.settings.filter { $0.key != "disable_vrfy_command" }
            let before = postfix.settings.filter { $0.key != "disable_vrfy_command" }
            expect(now == before && applied.unused == postfix.unused,
                   "after apply postfix reads other parameters differently: \(now) \(applied.unused)")
        } else if after != Data(text.utf8) {
            expect(false, "postconf did not read the applied file")
        }
    }

    /// The lines apply changed that are not the last disable_vrfy_command's (by the node's span
    /// in the original), or, where there was none, anything but the one appended line.
    static func changesOutsideTheDecidingDefinition(_ tree: ConfigTree, after: Data) throws -> [String] {
        // The original's lines (the tree's text has a final newline added where it had none).
        let old = Property.lines(tree.addedNewline ? String(tree.text.dropLast()) : tree.text)
        let new = Property.lines(String(decoding: after, as: UTF8.self))
        let (removed, region) = Property.changedRegion(old, new)
        let added = Array(new[region])
        guard let node = try tree.match("disable_vrfy_command").last else {
            // Appended at the end; a missing final newline may come back after it.
            let extra = added.last == "" ? Array(added.dropLast()) : added
            return removed.isEmpty && (extra.isEmpty || extra == ["disable_vrfy_command = yes"])
                ? [] : old[removed].map(String.init) + extra.map { "+" + $0 }
        }
        let span = try tree.wrap { try tree.augeas.span(node) }
        let first = tree.text.utf8.prefix(span.nodeRange.lowerBound).filter { $0 == 0x0A }.count
        let last = tree.text.utf8.prefix(span.nodeRange.upperBound).filter { $0 == 0x0A }.count  // exclusive
        return removed.filter { !(first..<last).contains($0) }.map { String(old[$0]) }
    }
}

/// What postconf says about one main.cf.
struct PostfixReading {
    /// `postconf -h NAMES`, one value per name (not run for no names); empty when refused.
    var h: [String] = []
    /// `postconf -n`: each parameter the file sets, with its value (whitespace normalised).
    var settings: [String: String] = [:]
    /// Parameters postfix does not know: the raw value its "unused parameter" warning shows
    /// (non-printable characters as "?").
    var unused: [String: String] = [:]
    /// postconf's error output when it refused the file.
    var refusal: String?

    init(_ text: String, h names: [String]) throws {
        let runs = try Postconf.run(mainCf: text, (names.isEmpty ? [] : [["-h"] + names]) + [["-n"]])
        if let failed = runs.first(where: { $0.status != 0 }) {
            refusal = failed.stderr
            return
        }
        if !names.isEmpty {
            h = Array(runs[0].stdout.split(separator: "\n", omittingEmptySubsequences: false).prefix(names.count).map(String.init))
        }
        for line in runs.last!.stdout.split(separator: "\n") {
            if let eq = line.range(of: " = ") {
                settings[String(line[..<eq.lowerBound])] = String(line[eq.upperBound...])
            } else if line.hasSuffix(" =") {
                settings[String(line.dropLast(2))] = ""
            }
        }
        settings["config_directory"] = nil  // -c DIR sets it
        for line in runs.last!.stderr.split(separator: "\n") {
            guard let at = line.range(of: ": unused parameter: "), let eq = line[at.upperBound...].firstIndex(of: "=")
            else { continue }
            unused[String(line[at.upperBound..<eq])] = String(line[line.index(after: eq)...])
        }
    }

    /// Where mtaguard's `entries` (name: value as postfix reads it) and postconf differ.
    /// A CRLF file's inner line ends stay in postfix's raw value as "\r" (whitespace to it, "?"
    /// in the warning) while mtaguard reads the file as LF, so for CRLF files the unused values
    /// are compared with whitespace normalised, as the others.
    func differences(from entries: [String: String], crlf: Bool) -> [String] {
        var out: [String] = []
        let names = Set(entries.keys).union(settings.keys).union(unused.keys)
        for name in names.sorted() {
            let mine = entries[name]
            if let theirs = settings[name] {
                if mine.map(PostfixValue.normalizedWhitespace) != theirs { out.append("\(name): '\(mine ?? "(unset)")' vs -n '\(theirs)'") }
            } else if let theirs = unused[name] {
                let same = crlf
                    ? mine.map(PostfixValue.normalizedWhitespace) == PostfixValue.normalizedWhitespace(theirs.replacingOccurrences(of: "?", with: " "))
                    : mine.map(Self.printable) == theirs
                if !same { out.append("\(name): '\(mine ?? "(unset)")' vs unused '\(theirs)'") }
            } else {
                out.append("\(name): '\(mine ?? "")' is not a parameter to postconf")
            }
        }
        return out
    }

    /// As postfix's printable(): characters other than printable ASCII become "?".
    static func printable(_ s: String) -> String {
        String(String.UnicodeScalarView(s.unicodeScalars.map { (0x20...0x7E).contains($0.value) ? $0 : "?" }))
    }
}

/// Random main.cf files postfix accepts: the fixtures, with logical lines written in every form
/// postfix reads inserted among their blocks.
enum DifferentialMainCf {
    /// Lines postfix skips, inside a value or between settings.
    static let skipped = [
        "", "   ", "\t", " \t ", "#", "# local exceptions", "  # indented note", "\t#tab comment",
        "#disable_vrfy_command = yes", "  # disable_vrfy_command = yes", "#\tsmtpd_recipient_restrictions = permit",
    ]
    static let indents = ["    ", "\t", " ", "\t  ", "  "]

    /// Values, as tokens that blanks or line breaks separate. A token that starts with "#" is
    /// text only on the "=" line or after a blank on a line (at the start of a continuation
    /// line it would make a comment), so no line break goes before one.
    static let settings: [(name: String, values: [[String]])] = [
        ("disable_vrfy_command", [["yes"], ["no"], ["YES"], ["Yes"], ["no", "yes"], ["#yes"], ["yes", "#", "not", "a", "comment"], []]),
        ("smtpd_recipient_restrictions", [
            ["permit_mynetworks", "check_client_access", "hash:/etc/postfix/rbl_whitelist", "reject_unauth_destination"],
            ["permit_mynetworks,", "permit_sasl_authenticated,", "reject_unauth_destination,", "check_policy_service", "unix:private/policy"],
            ["check_recipient_access", "inline:{", "{", "abuse@example.com", "=", "OK", "},", "{", "postmaster@example.com=OK", "}", "}", "reject_unauth_destination"],
            ["reject_rbl_client", "zen.spamhaus.org=127.0.0.[2..11]", "permit"],
        ]),
        ("mynetworks", [
            ["127.0.0.0/8", "[::ffff:127.0.0.0]/104", "[::1]/128"],
            ["127.0.0.0/8,", "192.0.2.0/24,", "10.0.0.0/8"],
            ["$config_directory/mynetworks"],
        ]),
        ("smtpd_client_restrictions", [
            ["check_client_access", "inline:{", "{192.0.2.1=OK},", "{", "192.0.2.2", "=", "REJECT", "go", "away", "}", "}", "permit"],
        ]),
        ("smtpd_milters", [["{", "inet:localhost:8891,", "default_action", "=", "accept", "}"], ["inet:localhost:8891", "{ unix:/run/m.sock, connect_timeout=10s }"]]),
        ("smtpd_banner", [["$myhostname", "ESMTP", "$mail_name", "(Debian/GNU)"]]),
        ("relayhost", [[], ["[smtp.example.net]:587"]]),
        // Names postfix does not know: its warning shows the raw value.
        ("mtaguard_probe", [["a", "{", "b=c", "}", "x,", "#y", "$myhostname"], ["inline:{", "k=v", "}"]]),
        ("smtp-amavis_destination_concurrency_limit", [["2"]]),
    ]

    static func make(_ rng: inout SplitMix64) -> (text: String, ops: [String], crlf: Bool) {
        let base = MainCfGenerator.bases[Int.random(in: 0..<MainCfGenerator.bases.count, using: &rng)]
        var blocks = Blocks(text: try! String(contentsOfFile: Repo.fixture(base), encoding: .utf8))
        var ops = ["base \(base)"]
        if blocks.items.count > 200, Int.random(in: 0..<8, using: &rng) > 0 {
            // Most cases take a stretch of main.cf.dist (700 lines, nearly all comments): the
            // engine's five passes over the whole file would make each case three times as
            // slow and test the reader no better. The whole file is read in the other cases,
            // and by JudgeTests and Tests/lenses/run.sh.
            let count = Int.random(in: 40...160, using: &rng), start = Int.random(in: 0...(blocks.items.count - count), using: &rng)
            blocks.items = Array(blocks.items[start..<(start + count)])
            ops.append("blocks \(start)..<\(start + count) of it")
        }
        for _ in 0..<Int.random(in: 2...10, using: &rng) {
            switch Int.random(in: 0..<10, using: &rng) {
            case 0...1: ops.append(blocks.edit(&rng))
            case 2...3: ops.append(blocks.insert(pick(skipped, &rng), &rng))
            case 4...6: ops.append(blocks.insert(logicalLine("disable_vrfy_command", &rng), &rng))
            default: ops.append(blocks.insert(logicalLine(nil, &rng), &rng))
            }
        }
        if Int.random(in: 0..<8, using: &rng) == 0 {
            // Whitespace-led text before the first setting: postfix warns and ignores it.
            let at = blocks.items.firstIndex { !($0.first.map { $0 == "#" || $0 == " " || $0 == "\t" } ?? true) } ?? blocks.items.count
            let ignored = pick(indents, &rng) + logicalLine(Bool.random(using: &rng) ? "disable_vrfy_command" : nil, &rng)
            blocks.items.insert(ignored, at: at)
            ops.append("ignored text '\(ignored)' before the first setting")
        }
        let dropNewline = Int.random(in: 0..<4, using: &rng) == 0
        if dropNewline { ops.append("no final newline") }
        var text = blocks.text(finalNewline: !dropNewline)
        // postfix reads CRLF as LF (a CR before LF is whitespace to it, trimmed at a value's end:
        // "yes\r" is "yes"), as mtaguard does; see PostfixReading.differences for inner lines.
        let crlf = Int.random(in: 0..<5, using: &rng) == 0
        if crlf {
            text = text.replacingOccurrences(of: "\n", with: "\r\n")
            ops.append("CRLF")
        }
        return (text, ops, crlf)
    }

    /// One logical line for `name` (a random setting when nil), in a random layout.
    static func logicalLine(_ name: String?, _ rng: inout SplitMix64) -> String {
        let setting = name.flatMap { n in settings.first { $0.name == n } } ?? pick(settings, &rng)
        let tokens = pick(setting.values, &rng)
        var line = setting.name
        line += pick(["", " ", " ", "  ", "\t"], &rng)
        if Int.random(in: 0..<12, using: &rng) == 0 { line += lineBreak(&rng) }  // "=" on a continuation line
        line += "="
        for (i, token) in tokens.enumerated() {
            let canBreak = !token.hasPrefix("#")
            if canBreak && Int.random(in: 0..<(i == 0 ? 4 : 3), using: &rng) == 0 {
                line += pick(["", "", " ", "\t", "  "], &rng) + lineBreak(&rng)
            } else {
                line += i == 0 ? pick(["", " ", " ", "\t", "  "], &rng) : pick([" ", " ", "\t", "  ", " \t"], &rng)
            }
            line += token
        }
        return line + pick(["", "", "", " ", "\t", "  "], &rng)
    }

    /// A newline, up to two lines postfix skips, and the leading blanks of a continuation line.
    static func lineBreak(_ rng: inout SplitMix64) -> String {
        var out = "\n"
        for _ in 0..<[0, 0, 1, 1, 2][Int.random(in: 0..<5, using: &rng)] { out += pick(skipped, &rng) + "\n" }
        return out + pick(indents, &rng)
    }

    static func pick<T>(_ items: [T], _ rng: inout SplitMix64) -> T {
        items[Int.random(in: 0..<items.count, using: &rng)]
    }

    /// A line apply may change: the setting, a continuation line, a line skipped inside it.
    static func isRelevant(_ line: Substring) -> Bool {
        line.hasPrefix("disable_vrfy_command") || PostfixValue.isSkipped(line) || line.first == " " || line.first == "\t"
    }
}
