import Foundation
import Testing
@testable import MTAGuard

/// A 4xx to the relay attempt (RCPT TO an outside domain) decides nothing: the probe asks again
/// after the delay the reply names (GreylistRetry), within its attempts and deadline, and a
/// reply still deferred is 수동 확인 with every reply shown. Against scripted servers on
/// kernel-chosen 127.0.0.1 ports (a connection per attempt; the waits are recorded, not slept)
/// and a real postfix that defers relaying for good (defer_unauth_destination).
@Suite struct GreylistTests {
    /// The waits the probe asked for, in order, and a clock only they advance: nothing is
    /// slept, and no test depends on how fast the machine is.
    actor Waits {
        var asked: [Double] = []
        func add(_ seconds: Double) { asked.append(seconds) }
        func now() -> Double { asked.reduce(0, +) }
    }

    static let ehlo: [String: String?] = [
        "EHLO": "250 mx.example.test", "VRFY": "252 2.0.0 root", "EXPN": "502 5.5.2 no",
        "MAIL": "250 2.1.0 Ok", "RSET": "250 2.0.0 Ok",
    ]

    /// A session that answers RCPT with `rcpt`.
    static func session(rcpt: String) -> [String: String?] { ehlo.merging(["RCPT": rcpt]) { _, n in n } }

    func probe(_ server: FakeSMTPServer, _ retry: GreylistRetry) async throws -> (SMTPProbeResult, [Double]) {
        let waits = Waits()
        let r = try await SMTPProbe.probe(host: "127.0.0.1", port: server.port, timeout: 5, relay: true, retry: retry,
                                          sleep: { await waits.add($0) }, now: { await waits.now() })
        return (r, await waits.asked)
    }

    @Test func delaysNamedInReplies() {
        #expect(GreylistRetry.delay(in: "4.7.1 Greylisting in action, please come back in 00:05:00") == 300)
        #expect(GreylistRetry.delay(in: "4.2.0 Greylisted for 5 minutes") == 300)
        #expect(GreylistRetry.delay(in: "4.7.1 <probe@elsewhere.example>: try again in 30 seconds") == 30)
        #expect(GreylistRetry.delay(in: "Deferred, retry in 90s") == 90)
        #expect(GreylistRetry.delay(in: "4.7.1 please wait 2 min") == 120)
        // No delay: the enhanced code is no number of seconds, and a postgrey URL names none.
        #expect(GreylistRetry.delay(in: "4.7.1 <probe@elsewhere.example>: Relay access denied") == nil)
        #expect(GreylistRetry.delay(in: "4.2.0 <probe@elsewhere.example>: Recipient address rejected: Greylisted, see http://postgrey.schweikert.ch/help/elsewhere.example.html") == nil)
        // More than an hour is not taken as a delay to wait for.
        #expect(GreylistRetry.delay(in: "try again in 7200 seconds") == nil)
        #expect(GreylistRetry.delay(in: "come back in 12:00:00") == nil)
    }

    @Test func greylistedThenAcceptedIsAnOpenRelay() async throws {
        let server = try FakeSMTPServer(greeting: "220 mx.example.test ESMTP", sessions: [
            Self.session(rcpt: "450 4.2.0 Greylisted, try again in 2 seconds"), Self.session(rcpt: "250 2.1.5 Ok"),
        ])
        let (r, waits) = try await probe(server, GreylistRetry(attempts: 3, defaultDelay: 60, deadline: 30))
        #expect(waits == [2])
        #expect(r.relay == .init(code: 250, text: "2.1.5 Ok") && r.relayRefused == false)
        #expect(r.relayDeferred.map(\.reply.code) == [450])
        let e = r.relayEvidence(place: "127.0.0.1:\(server.port)")
        #expect(e.status == .fail)
        #expect(e.text == "MAIL FROM:<> RCPT TO:<probe@elsewhere.example> → 450 4.2.0 Greylisted, try again in 2 seconds; after 2 s → 250 2.1.5 Ok")
        #expect(e.note == "the MTA accepts mail from an outside client for an outside domain: an open relay (after 1 deferred attempt)")
        // The second connection asks the relay question alone: no VRFY or EXPN again, never DATA.
        let lines = server.received()
        #expect(lines == ["EHLO mtaguard.invalid", "VRFY root", "EXPN root", "MAIL FROM:<>", "RCPT TO:<probe@elsewhere.example>", "RSET", "QUIT",
                          "EHLO mtaguard.invalid", "MAIL FROM:<>", "RCPT TO:<probe@elsewhere.example>", "RSET", "QUIT"])
    }

    @Test func greylistedThenRefusedPasses() async throws {
        let server = try FakeSMTPServer(greeting: "220 mx.example.test ESMTP", sessions: [
            Self.session(rcpt: "451 4.7.1 Greylisting in action, please come back in 00:00:03"),
            Self.session(rcpt: "554 5.7.1 <probe@elsewhere.example>: Relay access denied"),
        ])
        let (r, waits) = try await probe(server, .standard)
        #expect(waits == [3])
        #expect(r.relayRefused == true)
        let e = r.relayEvidence(place: "127.0.0.1:25")
        #expect(e.status == .pass)
        #expect(e.text.hasSuffix("→ 451 4.7.1 Greylisting in action, please come back in 00:00:03; after 3 s → 554 5.7.1 <probe@elsewhere.example>: Relay access denied"))
        #expect(e.note == "relaying for an outside client is refused (after 1 deferred attempt)")
    }

    @Test func deferredOnEveryAttemptIsReview() async throws {
        let deferred = Self.session(rcpt: "450 4.7.1 Service temporarily unavailable")
        let server = try FakeSMTPServer(greeting: "220 mx.example.test ESMTP", sessions: [deferred, deferred, deferred])
        let (r, waits) = try await probe(server, GreylistRetry(attempts: 3, defaultDelay: 5, deadline: 60))
        #expect(waits == [5, 5], "the default delay, twice: three attempts in all")
        #expect(r.relayRefused == nil)
        let e = r.relayEvidence(place: "127.0.0.1:\(server.port)")
        #expect(e.status == .review)
        #expect(e.text == "MAIL FROM:<> RCPT TO:<probe@elsewhere.example> → 450 4.7.1 Service temporarily unavailable; after 5 s → 450 4.7.1 Service temporarily unavailable; after 10 s → 450 4.7.1 Service temporarily unavailable")
        #expect(e.note.hasPrefix("RCPT TO an outside domain was deferred (450) on all 3 attempts over 10 s"), "\(e.note)")
        #expect(e.note.contains("whether the MTA relays for an outside client is not established; not asked again: 3 attempts made, the most allowed"), "\(e.note)")
        #expect(server.received().filter { $0.hasPrefix("RCPT") }.count == 3)
    }

    @Test func aDelayPastTheDeadlineIsNotWaitedFor() async throws {
        let server = try FakeSMTPServer(greeting: "220 mx.example.test ESMTP", sessions: [
            Self.session(rcpt: "450 4.2.0 Greylisted, try again in 300 seconds"),
        ])
        let (r, waits) = try await probe(server, GreylistRetry(attempts: 3, defaultDelay: 5, deadline: 120))
        #expect(waits.isEmpty)
        let e = r.relayEvidence(place: "127.0.0.1:\(server.port)")
        #expect(e.status == .review)
        #expect(e.note.contains("on the only attempt"), "\(e.note)")
        #expect(e.note.contains("not asked again: asking again after the 300 s the server needs would pass the 120 s deadline"), "\(e.note)")
        #expect(server.received().count == 7)
    }

    @Test func aServerGoneBeforeTheRetryIsReviewWithItsWords() async throws {
        // One connection only: the listener is closed after it, so asking again fails.
        let server = try FakeSMTPServer(greeting: "220 mx.example.test ESMTP", sessions: [
            Self.session(rcpt: "450 4.2.0 Greylisted, try again in 1 second"),
        ])
        let (r, waits) = try await probe(server, .standard)
        #expect(waits == [1])
        #expect(r.relayDeferred.isEmpty && r.relay?.code == 450)
        let e = r.relayEvidence(place: "127.0.0.1:\(server.port)")
        #expect(e.status == .review)
        #expect(e.note.contains("not asked again: asking again failed: SMTP probe of 127.0.0.1:\(server.port):"), "\(e.note)")
    }

    @Test func oneAttemptIsNeverAskedAgain() async throws {
        let server = try FakeSMTPServer(greeting: "220 mx.example.test ESMTP", sessions: [
            Self.session(rcpt: "450 4.2.0 Greylisted, try again in 1 second"),
        ])
        let (r, waits) = try await probe(server, GreylistRetry(attempts: 1, defaultDelay: 1, deadline: 60))
        #expect(waits.isEmpty)
        #expect(r.relayEvidence(place: "-").note.contains("not asked again: 1 attempt made, the most allowed"))
    }

    /// A real postfix that no longer trusts loopback and ends its relay rules in
    /// defer_unauth_destination answers the relay attempt "454 4.7.1 …: Relay access denied" for
    /// good: a temporary code whose text says relaying is denied is a refusal, asked once, 양호.
    @Test func aRealPostfixThatDefersWithRelayAccessDeniedRefuses() throws {
        let pf = try PostfixInstance.start()
        defer { pf.stop() }
        let (check, _) = try checkU47(pf, relayRestrictions: "permit_mynetworks defer_unauth_destination", until: 454)
        #expect(check.status == 0, "\(check)")
        #expect(check.stdout.contains("pass  smtp 127.0.0.1:\(pf.port)  \"MAIL FROM:<> RCPT TO:<probe@elsewhere.example> → 454 4.7.1 <probe@elsewhere.example>: Relay access denied\""), "\(check)")
        #expect(check.stdout.contains("the reply says relaying is denied, with a temporary code"), "\(check)")
        #expect(!check.stdout.contains("after 1 s"), "asked once: \(check)")
    }

    /// A real postfix that defers the relay attempt as a greylisting check would (a 450 from
    /// check_recipient_access, for ever here): check asks once more after the delay, reports
    /// 수동 확인 with both of postfix's replies, says on stderr that a person must review it and
    /// exits 2; plan attaches no remedy to it.
    @Test func aRealPostfixThatKeepsDeferringIsReviewAndNeverFixed() throws {
        let pf = try PostfixInstance.start()
        defer { pf.stop() }
        let (check, plan) = try checkU47(
            pf, relayRestrictions: "permit_mynetworks, check_recipient_access inline:{ { probe@elsewhere.example = 450 4.7.1 Greylisted, come back later } }, reject_unauth_destination",
            until: 450)
        #expect(check.status == 2, "\(check)")
        #expect(check.stdout.contains("  U-47  수동 확인(review)  "), "\(check)")
        #expect(check.stdout.contains("review smtp 127.0.0.1:\(pf.port)  \"MAIL FROM:<> RCPT TO:<probe@elsewhere.example> → 450 4.7.1 <probe@elsewhere.example>: Recipient address rejected: Greylisted, come back later; after 1 s → 450 4.7.1"), "\(check)")
        #expect(check.stdout.contains("deferred (450) on all 2 attempts"), "\(check)")
        #expect(check.stderr.contains("1 item needs a person's review (수동 확인): "), "\(check)")
        #expect(check.stderr.hasSuffix(" U-47\n"), "\(check)")
        #expect(plan.status == 0, "\(plan)")
        #expect(plan.stdout.contains("nothing to do"), "\(plan)")
    }

    /// `check` and `plan` of U-47 on the wire (two attempts, 1 s apart) against `pf` with
    /// `relayRestrictions` and a mynetworks that leaves loopback out.
    func checkU47(_ pf: PostfixInstance, relayRestrictions: String, until code: Int) throws -> (CommandResult, CommandResult) {
        let backups = try TempDir("greylist-backups")
        defer { backups.remove() }
        let env = ["MTAGUARD_BACKUPS": backups.path]
        let conf = try pf.run(["postconf", "-e", "mynetworks = 192.0.2.0/24", "smtpd_relay_restrictions = \(relayRestrictions)"])
        #expect(conf.status == 0, "\(conf)")
        try reload(pf, until: code)
        let args = ["--item", "U-47", "--playbooks", Repo.playbooks, "--smtp-port", String(pf.port),
                    "--greylist-attempts", "2", "--greylist-delay", "1"]
        return (try pf.run([Repo.binary, "check"] + args, environment: env), try pf.run([Repo.binary, "plan"] + args, environment: env))
    }

    /// Reloads `pf` and waits until the relay attempt gets `code`: after a reload an idle smtpd
    /// may serve one more session with the old settings.
    func reload(_ pf: PostfixInstance, until code: Int) throws {
        #expect(try pf.run(["postfix", "reload"]).status == 0)
        var wire = try SMTPProbe.probe(host: "127.0.0.1", port: pf.port, timeout: 5, relay: true)
        for _ in 0..<50 where wire.relay?.code != code {
            usleep(100_000)
            wire = try SMTPProbe.probe(host: "127.0.0.1", port: pf.port, timeout: 5, relay: true)
        }
        #expect(wire.relay?.code == code, "\(wire)")
    }
}
