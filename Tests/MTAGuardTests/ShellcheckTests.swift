import Foundation
import Testing

@testable import MTAGuard

/// Every kind of script mtaguard generates, with hostile values in every slot, goes through
/// `shellcheck -s sh` and must draw no finding at all. (`make test` also checks every script
/// the rest of the suite generated: `Tests/scripts/shellcheck.sh`.)
@Suite struct ShellcheckTests {
    static let hostile = "/etc/po'st$(touch /tmp/CANARY)`id`;x \"q\" -u %s \\n\nfix/main.cf"

    static var scripts: [(String, ShellCode)] {
        let script = RemoteScript()
        let bytes = Data("-users\n%s %% \\ ' \" $(x) `y`\n".utf8) + Data([0xFF, 0x0C, 0x09])
        let replace = FileReplacement(
            path: hostile, expected: ExpectedContent(Data("old\n".utf8)), bytes: bytes, mode: 0o644, uid: 0, gid: 0,
            validateBefore: Validation(argv: ["postfix", "-c", "$(touch /tmp/CANARY)", "check", "{file}"], rejectOutput: "warn'ing; $(x)"),
            validateAfter: Validation(argv: ["sh", "-c", "exit 1", "`id`"], rejectOutput: nil))
        let create = FileReplacement(
            path: "/etc/mail/new.cf", expected: ExpectedContent(nil), bytes: Data(), mode: 0o600, uid: 1, gid: 2,
            validateBefore: nil, validateAfter: nil)
        let steps: [ApplyStep] = [
            .replace(replace), .replace(create),
            .run(argv: ["systemctl", "reload", "post'fix;$(touch /tmp/CANARY)"], probe: ["systemctl", "is-active", "--quiet", "-x`id`"]),
            .run(argv: ["sh", "-c", "kill \"$(cat \"$f\")\""], probe: nil),
        ]
        return [
            ("facts", script.facts(paths: ["/etc/postfix/main.cf", hostile])),
            ("facts with versions", script.facts(FactsRequest(paths: [hostile], probeServices: true, versions: ["postfix": ["smtpd_forbid_bare_newline"], "exim": ["`id`"]]))),
            ("facts with folders", script.facts(FactsRequest(paths: [hostile], metadata: [hostile], folders: ["/etc/exim4/conf.d/main", hostile]))),
            ("facts with listeners", script.facts(FactsRequest(paths: [hostile], probeServices: true, listeners: true))),
            ("services", script.services(probe: true)),
            ("services with listeners", script.services(probe: true, listeners: true)),
            ("services with versions", script.services(probe: true, versions: ["postfix": ["smtpd_forbid_bare_newline", "x$(touch /tmp/CANARY)"], "exim": ["smtp_banner"]])),
            ("apply", script.apply(steps, runID: "run'1 $(x)", controller: "ctl`id`")),
            ("apply breaking a stale lock", script.apply(steps, runID: "r", controller: "c", breakStaleLock: true)),
        ]
    }

    @Test(arguments: scripts.map(\.0))
    func noFinding(name: String) throws {
        let script = try #require(Self.scripts.first { $0.0 == name }?.1)
        let r = try runCommand(["shellcheck", "-s", "sh", "-f", "gcc", "-"], stdin: script.text)
        #expect(r.status == 0 && r.stdout.isEmpty, "shellcheck on the \(name) script:\n\(r.stdout)\(r.stderr)")
    }
}
