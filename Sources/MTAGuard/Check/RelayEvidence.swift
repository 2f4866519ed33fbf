import Foundation

extension SMTPProbeResult {
    /// The relay attempt (U-47 / SRV-009 on the wire) as evidence read at `place`: every reply
    /// in order, the deferred ones first ("→ 450 4.2.0 Greylisted; after 60 s → 554 5.7.1 …").
    /// 5xx to RCPT TO is 양호, 2xx or 3xx 취약 (an open relay), a last reply still 4xx 수동 확인:
    /// deferred is not refused, and mtaguard cannot tell what the server will do later.
    func relayEvidence(place: String) -> Evidence {
        func evidence(_ status: Status, _ note: String) -> Evidence {
            Evidence(mta: "smtp", file: place, line: nil, text: relayTranscript, status: status, note: note)
        }
        guard let reply = relay else {
            return Evidence(mta: "smtp", file: place, line: nil, text: "", status: .error, note: "the relay attempt was not made")
        }
        let earlier = relayDeferred.isEmpty ? ""
            : " (after \(relayDeferred.count) deferred attempt\(relayDeferred.count == 1 ? "" : "s"))"
        if relaySenderRefused {
            return evidence(.error, "the server refused the null sender, which it must accept: the relay question (RCPT TO an outside domain) was not asked\(earlier)")
        }
        switch relayRefused {
        case true? where (400...499).contains(reply.code):
            return evidence(.pass, "relaying for an outside client is refused: the reply says relaying is denied, with a temporary code "
                + "(postfix's defer_unauth_destination answers so for good), so it was not asked again\(earlier)")
        case true?: return evidence(.pass, "relaying for an outside client is refused\(earlier)")
        case false?: return evidence(.fail, "the MTA accepts mail from an outside client for an outside domain: an open relay\(earlier)")
        case nil:
            let tries = relayDeferred.count + 1
            let over = relayAskedAt > 0 ? " over \(GreylistRetry.seconds(relayAskedAt.rounded()))" : ""
            let why = relayRetryStopped.map { "; not asked again: \($0)" } ?? ""
            return evidence(.review, "RCPT TO an outside domain was deferred (\(reply.code)) on \(tries == 1 ? "the only attempt" : "all \(tries) attempts")\(over)"
                + " (greylisting, or a check that failed for now): whether the MTA relays for an outside client is not established\(why);"
                + " decide from its relay settings, or probe again after the server's delay")
        }
    }

    /// "MAIL FROM:<> RCPT TO:<probe@elsewhere.example> → 450 4.2.0 …; after 60 s → 250 2.1.5 Ok".
    var relayTranscript: String {
        guard let relay else { return "" }
        let replies = relayDeferred.map { ($0.at, $0.reply) } + [(relayAskedAt, relay)]
        let steps = replies.map { at, reply in
            (at > 0 ? "after \(GreylistRetry.seconds(at.rounded())) → " : "") + "\(reply.code) \(reply.text)"
        }
        let head = relaySenderRefused && relayDeferred.isEmpty ? "MAIL FROM:<>" : SMTPProbeResult.relayAttempt
        return "\(head) → " + steps.joined(separator: "; ")
    }
}
