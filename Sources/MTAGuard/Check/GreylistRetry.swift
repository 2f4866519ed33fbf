import Foundation

/// How the relay attempt is asked again when the server defers it. A 4xx to `RCPT TO` an
/// outside domain decides nothing: a greylisting server defers every new sender/recipient pair
/// for a while, relaying or not, and a lookup that failed for now says nothing of the rule.
/// So the attempt is asked again after the delay the reply names ("try again in 5 minutes",
/// "come back in 00:05:00"), else after `defaultDelay`, at most `attempts` times in all and
/// never past `deadline` seconds after the first; a reply still 4xx then is 수동 확인 with
/// every reply shown.
public struct GreylistRetry: Sendable, Equatable {
    /// Relay attempts in all, the first included (1: never ask again).
    public var attempts: Int
    /// Seconds to wait when the reply names no delay.
    public var defaultDelay: Double
    /// Seconds after the first attempt past which no attempt is made.
    public var deadline: Double

    /// Three attempts, a minute apart unless the server says otherwise, within six minutes:
    /// the usual greylisting delays (one to five minutes) fit.
    public static let standard = GreylistRetry(attempts: 3, defaultDelay: 60, deadline: 360)

    /// The longest delay a reply can ask for that is taken as such (an hour).
    static let longestDelay = 3600.0

    public init(attempts: Int, defaultDelay: Double, deadline: Double) {
        self.attempts = attempts
        self.defaultDelay = defaultDelay
        self.deadline = deadline
    }

    /// The delay a 4xx reply's text asks for, in seconds: "in 300 seconds", "for 5 minutes",
    /// "5 min", "60s", "00:05:00"; nil when it names none (or more than an hour).
    public static func delay(in text: String) -> Double? {
        let lower = text.lowercased()
        if let m = lower.firstMatch(of: #/(?:^|[^\d.:])(\d{1,2}):(\d{2}):(\d{2})(?![\d.:])/#),
           let h = Double(m.1), let min = Double(m.2), let sec = Double(m.3) {
            return bounded(h * 3600 + min * 60 + sec)
        }
        let unit = #/(?:^|[^\d.:])(\d{1,5})\s?(seconds?|secs?|s|minutes?|mins?|m)(?![a-z0-9])/#
        guard let m = lower.firstMatch(of: unit), let n = Double(m.1) else { return nil }
        return bounded(m.2.hasPrefix("m") ? n * 60 : n)
    }

    private static func bounded(_ seconds: Double) -> Double? {
        seconds > 0 && seconds <= longestDelay ? seconds : nil
    }

    /// How long to wait before asking again after the deferred `reply`, when `made` attempts
    /// were made and `elapsed` seconds passed since the first; or why not to ask again.
    func next(after reply: SMTPProbeResult.Reply, made: Int, elapsed: Double) -> Result<Double, Stop> {
        guard made < attempts else { return .failure(.attempts(made)) }
        let wait = Self.delay(in: reply.text) ?? defaultDelay
        guard elapsed + wait <= deadline else { return .failure(.deadline(wait: wait, deadline: deadline)) }
        return .success(wait)
    }

    /// Why the relay attempt was not asked again.
    enum Stop: Error, CustomStringConvertible {
        case attempts(Int)
        case deadline(wait: Double, deadline: Double)

        var description: String {
            switch self {
            case .attempts(let n): "\(n) attempt\(n == 1 ? "" : "s") made, the most allowed"
            case .deadline(let wait, let deadline):
                "asking again after the \(GreylistRetry.seconds(wait)) the server needs would pass the \(GreylistRetry.seconds(deadline)) deadline"
            }
        }
    }

    /// "1 s", "2.5 s", "300 s".
    static func seconds(_ t: Double) -> String {
        t == t.rounded() ? "\(Int(t)) s" : String(format: "%.1f s", t)
    }
}

extension SMTPProbe {
    /// `probe(host:port:timeout:heloName:relay:)`, then, while the relay attempt is deferred
    /// (a 4xx to RCPT TO), the relay attempt alone on a new connection as `retry` allows.
    /// Waiting suspends the task (`sleep`); no thread is held. `now` is the clock the attempts
    /// and the deadline are measured with (seconds; a test passes one that `sleep` advances).
    public static func probe(
        host: String, port: UInt16, timeout: Double = 10, deadline: Double = defaultDeadline, heloName: String = "mtaguard.invalid",
        relay: Bool, retry: GreylistRetry,
        sleep: @Sendable (Double) async -> Void = { try? await Task.sleep(nanoseconds: UInt64($0 * 1e9)) },
        now: @Sendable () async -> Double = { Date().timeIntervalSinceReferenceDate }
    ) async throws -> SMTPProbeResult {
        var result = try await onOwnThread {
            try probe(host: host, port: port, timeout: timeout, deadline: deadline, heloName: heloName, relay: relay)
        }
        let started = await now()
        while let reply = result.relay, !result.relaySenderRefused, (400...499).contains(reply.code),
              !SMTPProbeResult.deniesRelaying(reply.text) {
            let elapsed = await now() - started
            switch retry.next(after: reply, made: result.relayDeferred.count + 1, elapsed: elapsed) {
            case .failure(let stop):
                result.relayRetryStopped = stop.description
                return result
            case .success(let wait):
                await sleep(wait)
            }
            let again: Result<(reply: SMTPProbeResult.Reply, senderRefused: Bool), any Error>
            do {
                again = .success(try await onOwnThread { try relayOnly(host: host, port: port, timeout: timeout, deadline: deadline, heloName: heloName) })
            } catch { again = .failure(error) }
            switch again {
            case .failure(let error):
                result.relayRetryStopped = "asking again failed: \((error as? MTAGuardError)?.withoutHost.description ?? "\(error)")"
                return result
            case .success(let answer):
                result.relayDeferred.append(.init(at: result.relayAskedAt, reply: reply))
                result.relay = answer.reply
                result.relaySenderRefused = answer.senderRefused
                result.relayAskedAt = await now() - started
            }
        }
        return result
    }
}
