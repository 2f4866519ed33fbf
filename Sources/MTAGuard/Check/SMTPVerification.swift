import Foundation

/// After a change and its reload: does the MTA now refuse what the item says it must?
/// A reload reaches new sessions a moment later (an idle smtpd may serve one more with the old
/// configuration), so this asks again for a few seconds before it calls the change failed.
enum SMTPVerification {
    static func check(
        address: String, port: UInt16, mustRefuse: Set<String>, patience: Double = 6, deadline: Double = SMTPProbe.defaultDeadline
    ) async -> String? {
        let giveUp = Date().addingTimeInterval(patience)
        var last = "no answer"
        while true {
            let outcome: Result<SMTPProbeResult, any Error>
            do {
                outcome = .success(try await SMTPProbe.onOwnThread {
                    try SMTPProbe.probe(host: address, port: port, timeout: 10, deadline: deadline, relay: mustRefuse.contains("relay"))
                })
            } catch { outcome = .failure(error) }
            switch outcome {
            case .success(let r):
                var allowed: [String] = []
                if mustRefuse.contains("vrfy"), !r.vrfyRefused { allowed.append("VRFY root → \(r.vrfy.code) \(r.vrfy.text)") }
                if mustRefuse.contains("expn"), !r.expnRefused { allowed.append("EXPN root → \(r.expn.code) \(r.expn.text)") }
                if mustRefuse.contains("relay"), r.relayRefused == false, let reply = r.relay {
                    allowed.append("relaying (\(SMTPProbeResult.relayAttempt) → \(reply.code) \(reply.text))")
                }
                if mustRefuse.contains("relay"), r.relaySenderRefused, let reply = r.relay {
                    allowed.append("no relay question: MAIL FROM:<> → \(reply.code) \(reply.text)")
                }
                if mustRefuse.contains("banner"), let version = r.bannerVersion {
                    allowed.append("a greeting that tells the version (\(version))")
                }
                if allowed.isEmpty { return nil }
                last = "the MTA still answers " + allowed.joined(separator: "; ")
            case .failure(let error):
                last = "\(error)"
            }
            if Date() > giveUp { return last }
            try? await Task.sleep(nanoseconds: 300_000_000)
        }
    }
}
