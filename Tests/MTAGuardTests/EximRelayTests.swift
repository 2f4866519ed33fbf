import Foundation
import Testing

@testable import MTAGuard

/// U-47 for exim, judged on Debian's real exim4.conf.template behind the macros and edits that
/// open it, with the real exim as the judge: `exim -bh 192.0.2.1` runs the SMTP session as from
/// that outside address (in a network namespace of its own with no network: nothing is looked
/// up, nothing leaves), and mtaguard's verdict must be the RCPT reply's. Apply closes each
/// open one the way the note says, exim accepts the new file (`-bV`) and refuses the relay.
@Suite struct EximRelayTests {
    /// An open (or closed) configuration: macro lines before the template, and template edits.
    struct Variant: Sendable, CustomStringConvertible {
        var name: String
        var macros: [String] = []
        var edits: [(String, String)] = []
        var open: Bool
        /// What the fix leaves in the file (a line), when it fixes it.
        var fixedLine: String?
        var description: String { name }
    }

    static let variants: [Variant] = [
        Variant(name: "stock", open: false),
        Variant(name: "relay nets 10/8", macros: ["MAIN_RELAY_NETS = 10.0.0.0/8"], open: false),
        Variant(name: "relay nets the world", macros: ["MAIN_RELAY_NETS = 0.0.0.0/0"], open: true,
                fixedLine: "MAIN_RELAY_NETS = 127.0.0.1 : ::::1"),
        Variant(name: "relay nets 10/8 and the world", macros: ["MAIN_RELAY_NETS = 10.0.0.0/8 : 0.0.0.0/0"], open: true,
                fixedLine: "MAIN_RELAY_NETS = 10.0.0.0/8"),
        Variant(name: "relay nets *", macros: ["MAIN_RELAY_NETS = *"], open: true, fixedLine: "MAIN_RELAY_NETS = 127.0.0.1 : ::::1"),
        Variant(name: "relay nets ; list", macros: ["MAIN_RELAY_NETS = <; 198.51.100.0/24 ; 0.0.0.0/0"], open: true,
                fixedLine: "MAIN_RELAY_NETS = <; 198.51.100.0/24"),
        Variant(name: "relay nets negated", macros: ["MAIN_RELAY_NETS = !10.0.0.0/8"], open: true),
        Variant(name: "hostlist itself", edits: [("hostlist relay_from_hosts = MAIN_RELAY_NETS\n", "hostlist relay_from_hosts = 127.0.0.1 : 0.0.0.0/0\n")],
                open: true, fixedLine: "hostlist relay_from_hosts = 127.0.0.1"),
        Variant(name: "accept hosts = *", edits: [("    hosts = +relay_from_hosts\n", "    hosts = *\n")], open: true,
                fixedLine: "    hosts = 127.0.0.1 : ::::1"),
        Variant(name: "local clients only", edits: [("    hosts = +relay_from_hosts\n", "    hosts = :\n")], open: false),
        // Conditions the client satisfies at will do not close relaying: the null sender
        // verifies, and the sender is the client's own.
        Variant(name: "require verify = sender, then the world",
                edits: [("  accept\n    hosts = +relay_from_hosts\n", "  require\n    verify = sender\n  accept\n    hosts = *\n")],
                open: true, fixedLine: "    hosts = 127.0.0.1 : ::::1"),
        Variant(name: "senders = : and the world",
                edits: [("  accept\n    hosts = +relay_from_hosts\n", "  accept\n    senders = :\n    hosts = *\n")],
                open: true, fixedLine: "    hosts = 127.0.0.1 : ::::1"),
    ]

    static func config(_ v: Variant, template: String) -> String {
        var t = template
        for (from, to) in v.edits {
            #expect(t.contains(from), "\(v.name): \(from)")
            t = t.replacingOccurrences(of: from, with: to)
        }
        return t
    }

    /// The real exim's reply to RCPT TO an outside domain from 192.0.2.1, the null sender.
    static func eximReply(_ mta: ExtractedMTA, config: String) throws -> Int {
        let r = try runCommand(
            ["unshare", "-n", mta.packages.eximBinary, "-C", config, "-bh", "192.0.2.1"],
            stdin: "EHLO probe.test\r\nMAIL FROM:<>\r\nRCPT TO:<probe@elsewhere.example>\r\nQUIT\r\n",
            environment: ["LD_LIBRARY_PATH": mta.packages.eximLibraries])
        // The final line of each reply: greeting, EHLO, MAIL, then RCPT.
        // "\r\n" is one Character in Swift: split on any newline.
        let finals = r.stdout.split(whereSeparator: \.isNewline).filter { $0.count >= 4 && $0.prefix(3).allSatisfy(\.isNumber) && $0.dropFirst(3).first == " " }
        guard finals.count >= 4, let code = Int(String(finals[3].prefix(3))) else {
            throw ExtractedMTAError(description: "exim -bh: \(r)")
        }
        return code
    }

    @Test(arguments: variants)
    func verdictsAgreeWithEximAndTheFixCloses(variant: Variant) throws {
        let mta = try ExtractedMTA.exim(macros: variant.macros)
        defer { mta.stop() }
        let stock = try String(contentsOfFile: mta.configFile, encoding: .utf8)
        let text = Self.config(variant, template: stock)
        try Data(text.utf8).write(to: URL(fileURLWithPath: mta.configFile))
        let reply = try Self.eximReply(mta, config: mta.configFile)
        #expect((reply == 250) == variant.open, "\(variant.name): exim answered \(reply)")

        let root = try TempDir("eximrelay")
        defer { root.remove() }
        try FileManager.default.createDirectory(atPath: root.path + "/etc/exim4", withIntermediateDirectories: true)
        let file = try root.write("etc/exim4/exim4.conf", text)
        let backups = try TempDir("eximrelay-b")
        defer { backups.remove() }
        func verdict() throws -> [String: Any] {
            let r = try mtaguard(["check", "--item", "U-47", "--root", root.path, "--format", "json"], backups: backups.path)
            return try #require(try checkEvidence(r.stdout).first { $0["file"] as? String == "/etc/exim4/exim4.conf" }, "\(r)")
        }
        let before = try verdict()
        #expect(before["status"] as? String == (variant.open ? "fail" : "pass"), "\(variant.name): \(before)")
        guard variant.open else { return }
        let apply = try mtaguard(["apply", "--yes", "--item", "U-47", "--root", root.path], backups: backups.path)
        #expect(apply.status == 0, "\(apply)")
        let fixed = try String(contentsOfFile: file, encoding: .utf8)
        guard let line = variant.fixedLine else {
            // Nothing a list edit closes: said, and the file left alone.
            #expect(fixed == text)
            #expect((before["note"] as? String ?? "").contains("not fixed"), "\(before)")
            return
        }
        #expect(fixed.split(separator: "\n").contains(Substring(line)), "\(variant.name):\n\(fixed.prefix(400))")
        // Only that line changed.
        let a = text.split(separator: "\n", omittingEmptySubsequences: false), b = fixed.split(separator: "\n", omittingEmptySubsequences: false)
        #expect(a.count == b.count && zip(a, b).filter { $0 != $1 }.count == 1, "\(variant.name)")
        #expect(try verdict()["status"] as? String == "pass")
        try Data(fixed.utf8).write(to: URL(fileURLWithPath: mta.configFile))
        let check = try runCommand([mta.packages.eximBinary, "-C", mta.configFile, "-bV"], environment: ["LD_LIBRARY_PATH": mta.packages.eximLibraries])
        #expect(check.status == 0, "\(check)")
        #expect(try Self.eximReply(mta, config: mta.configFile) >= 400, "\(variant.name): exim refuses after the fix")
    }

    @Test func listsSplitAsEximSplitsThem() {
        #expect(EximRelay.items("127.0.0.1 : ::::1 : 10.0.0.0/8").items == ["127.0.0.1", "::1", "10.0.0.0/8"])
        #expect(EximRelay.items("<; 127.0.0.1 ; ::1").items == ["127.0.0.1", "::1"])
        #expect(EximRelay.items(":").items.isEmpty)
        #expect(EximRelay.withoutWorld("10.0.0.0/8 : 0.0.0.0/0", kind: "host") == "10.0.0.0/8")
        #expect(EximRelay.withoutWorld("<; ::1 ; ::/0", kind: "host") == "<; ::1")
        #expect(EximRelay.withoutWorld("10.0.0.0/8", kind: "host") == nil)
        #expect(EximRelay.withoutWorld("example.com : *", kind: "domain") == "example.com")
        #expect(EximRelay.matches("!10.0.0.0/8", kind: "host", lists: [:]) == .yes)
        #expect(EximRelay.matches("!10.0.0.0/8 : 192.0.2.1", kind: "host", lists: [:]) == .no)
        // A lookup lists hosts the admin trusts, never the attacker; other expansions are unknown.
        #expect(EximRelay.matches("net24-lsearch;/etc/relay", kind: "host", lists: [:]) == .no)
        #expect(EximRelay.matches("${lookup{$sender_host_address}lsearch{/etc/relay}{*}{127.0.0.1}}", kind: "host", lists: [:]) == .no)
        #expect(EximRelay.matches("${if eq{1}{1}{*}{}}", kind: "host", lists: [:]) == .unknown)
    }
}
