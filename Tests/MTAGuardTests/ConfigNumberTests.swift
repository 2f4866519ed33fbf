import Foundation
import Testing

@testable import MTAGuard

/// SRV-008's limits are numbers read as each MTA reads them (`ConfigNumber`): a value the MTA
/// reads as 0 (no limit), refuses, or reads differently per platform never passes, and the
/// evidence says how the MTA reads it. NumberDifferentialTests holds the readings against the
/// real sendmail, postfix and exim.
@Suite struct ConfigNumberTests {
    let cf = "/etc/mail/sendmail.cf"

    /// SRV-008 planned on an offline root holding `files`, through `host` when given.
    func plan(_ files: [String: String], variables: [String: String] = [:]) async throws -> HostPlan {
        let dir = try TempDir("numbers")
        defer { dir.remove() }
        for (path, text) in files { try dir.write(String(path.dropFirst()), text) }
        let books = try PlaybookLoader.select(try PlaybookLoader.loadAll(folder: Repo.playbooks), ["SRV-008"])
        let host = VariablesHost(base: LocalHost(root: dir.path), variables: variables)
        return await Planner(playbooks: books).plan(host)
    }

    func evidence(_ plan: HostPlan, _ option: String) -> Evidence? {
        plan.findings.flatMap(\.evidence).first { $0.text.contains(option) && $0.file.hasSuffix(".cf") }
    }

    static let limits = "O MaxDaemonChildren=40\nO ConnectionRateThrottle=10\nO MinFreeBlocks=100\nO MaxHeadersLength=32768\nO MaxMessageSize=10485760\n"

    @Test func aNoBreakSpaceBeforeTheNumberIsNoLimitToSendmail() async throws {
        let text = Self.limits.replacingOccurrences(of: "MaxDaemonChildren=40", with: "MaxDaemonChildren=\u{A0}40")
        let p = try await plan([cf: text])
        let e = try #require(evidence(p, "MaxDaemonChildren"))
        #expect(e.status == .fail)
        #expect(e.note.contains("sendmail reads '\u{A0}40' as 0 (atoi stops at U+00A0 NO-BREAK SPACE before any digit): no limit"), "\(e.note)")
        #expect(p.findings[0].status == .fail)
        // The fix writes the number plainly.
        #expect(newText(p, cf)?.contains("O MaxDaemonChildren=40\n") == true)
        // Without it, the same file passes.
        #expect(try await plan([cf: Self.limits]).findings[0].evidence.filter { $0.file == cf }.allSatisfy { $0.status == .pass })
    }

    @Test func sendmailStopsAtTheFirstNonDigitAndSkipsAsciiBlanks() {
        let read = { (text: String) in ConfigNumber.read(text, mta: "sendmail", setting: "MaxDaemonChildren") }
        #expect(read(" \t40").value == 40)
        #expect(read("\u{0B}+40").value == 40)
        #expect(read("40abc").value == 40)
        #expect(read("40abc").account == "sendmail reads '40abc' as 40 (atoi stops at 'a')")
        #expect(read("\u{3000}40").value == 0)
        #expect(read("-40").value == -40)
        #expect(read("").value == 0)
        // (int) strtol: the low 32 bits on 64-bit Linux, another number on a 32-bit build.
        #expect(read("4294967336").value == 40)
        #expect(!read("4294967336").atLeast(1))
        #expect(read("99999999999999999999").value == -1)
        // atol for MaxMessageSize: the same text is a long.
        let size = ConfigNumber.read("4294967336", mta: "sendmail", setting: "*[label() =~ regexp('maxmessagesize', 'i')]")
        #expect(size.value == 4_294_967_336 && size.atLeast(1))
        #expect(ConfigNumber.read("1e3", mta: "sendmail", setting: "define[. = 'confMAX_MESSAGE_SIZE']").value == 1)
    }

    @Test func postfixRefusesWhatIsNotWhollyANumber() {
        let read = { (text: String, name: String) in ConfigNumber.read(text, mta: "postfix", setting: name) }
        #expect(read("+0042", "default_process_limit").value == 42)
        #expect(read("42x", "default_process_limit").value == nil)
        #expect(read("42x", "default_process_limit").account
            == "postfix refuses '42x' as default_process_limit: fatal: bad numerical configuration (strtol stops at 'x')")
        #expect(read("\u{A0}42", "default_process_limit").value == nil)
        #expect(read("", "default_process_limit").value == nil)
        #expect(read("2147483648", "default_process_limit").value == nil)
        #expect(read("2147483648", "message_size_limit").value == 2_147_483_648)
        #expect(read("$default_process_limit", "smtpd_recipient_limit").value == nil)
    }

    @Test func eximTakesBasesAndSuffixes() {
        let read = { (text: String) in ConfigNumber.read(text, mta: "exim", setting: "smtp_accept_max") }
        #expect(read("0x14").value == 20 && read("024").value == 20 && read("2k").value == 2048 && read("1G").value == 1 << 30)
        #expect(read("20 ").value == 20)
        #expect(read("08").value == nil && read("20x").value == nil && read("").value == nil && read("2G").value == nil)
        #expect(read("\u{A0}20").account == "exim refuses '\u{A0}20': integer expected")
    }

    @Test func postfixEvidenceSaysWhyAMalformedLimitFails() async throws {
        let main = "message_size_limit = 10240000\nsmtpd_client_connection_rate_limit = 60x\n"
        let p = try await plan(["/etc/postfix/main.cf": main])
        let e = try #require(p.findings.flatMap(\.evidence).first { $0.text.hasPrefix("smtpd_client_connection_rate_limit") })
        #expect(e.status == .fail)
        #expect(e.note.contains("postfix refuses '60x' as smtpd_client_connection_rate_limit: fatal: bad numerical configuration"), "\(e.note)")
    }

    /// A limit that names another parameter is postfix's to expand: 수동 확인, and left alone.
    @Test func aPostfixLimitThatNamesAnotherParameterIsForAPersonToRead() async throws {
        let main = "message_size_limit = 10240000\nsmtpd_client_connection_rate_limit = $default_process_limit\n"
        let p = try await plan(["/etc/postfix/main.cf": main])
        let e = try #require(p.findings.flatMap(\.evidence).first { $0.text.hasPrefix("smtpd_client_connection_rate_limit") })
        #expect(e.status == .review, "\(e)")
        #expect(e.note.contains("postfix expands the $ in '$default_process_limit' before reading a number"), "\(e.note)")
        #expect(p.files.isEmpty)
    }

    /// An inventory value is written as the MTA reads it: plain digits, or the host errs.
    @Test func anInventoryValueMustBePlainDigits() async throws {
        let name = "mtaguard_sendmail_max_daemon_children"
        for bad in ["\u{A0}40", "40abc", "4294967336", "+40"] {
            let p = try await plan([cf: Self.limits], variables: [name: bad])
            let errors = p.findings.flatMap(\.evidence).filter { $0.status == .error }
            #expect(errors.count == 1 && errors[0].note.contains("the inventory variable \(name) is '\(bad)', which does not pass"), "\(bad): \(errors)")
            #expect(p.files.isEmpty)
        }
        let good = try await plan([cf: Self.limits.replacingOccurrences(of: "MaxDaemonChildren=40", with: "MaxDaemonChildren=0")], variables: [name: "25"])
        #expect(good.findings.flatMap(\.evidence).allSatisfy { $0.status != .error })
        #expect(newText(good, cf)?.contains("O MaxDaemonChildren=25\n") == true)
    }
}

/// An offline root whose inventory gives `variables`.
struct VariablesHost: MTAGuard.Host {
    let base: LocalHost
    let variables: [String: String]
    var name: String { base.name }
    var isLive: Bool { base.isLive }
    var address: HostAddress { base.address }
    func facts(_ request: FactsRequest) async throws -> HostFacts { try await base.facts(request) }
    func apply(_ steps: [ApplyStep], runID: String) async throws -> [StepResult] { try await base.apply(steps, runID: runID) }
}
