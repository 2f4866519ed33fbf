/// The network side of an item that names SMTP commands the MTA must refuse (SRV-005's own
/// check method, under `--smtp-port`): each live host's SMTP port is asked once, and every
/// such item reads that answer; after `apply` changed such an item's file, the port is asked
/// again (`verification`).
///
///     verify:
///       smtp: { vrfy: refused, expn: refused }
struct SMTPRefusalCheck: ReadingItemCheck {
    static let mode = Mode.harden

    static func applies(to book: Playbook) -> Bool { !book.smtpRefuses.isEmpty || book.smtpBannerHidesVersion }

    /// `--smtp-port`; nil: the port is not asked and the check shows nothing.
    let port: UInt16?
    /// What the port answered; nil when it was not asked (no port, an offline root).
    var answer: Result<SMTPProbeResult, MTAGuardError>?
    /// `ADDRESS:PORT`, the evidence's file.
    var place = ""

    /// Whether an item asks the relay attempt of the port (`relay: refused`).
    let relay: Bool
    /// `--smtp-host`: the address to ask instead of the host's own (else its `mtaguard_smtp_host`).
    let address: String?
    /// How a deferred relay attempt is asked again (`GreylistRetry`).
    let retry: GreylistRetry
    /// The most one session may take (`--smtp-deadline`).
    let deadline: Double

    init(planner: Planner) {
        port = planner.smtpPort
        relay = planner.playbooks.contains { $0.smtpRefuses.contains("relay") }
        address = planner.smtpHost
        retry = planner.greylist
        deadline = planner.smtpDeadline
    }

    mutating func prepare(_ host: any Host) async {
        guard let port, host.isLive else { return }
        let address = SMTPProbeAddress.forHost(host, override: self.address)
        let relay = self.relay
        do {
            answer = .success(try await SMTPProbe.probe(host: address, port: port, timeout: 10, deadline: deadline, relay: relay, retry: retry))
        } catch { answer = .failure(error as? MTAGuardError ?? MTAGuardError("\(error)")) }
        place = address.contains(":") ? "[\(address)]:\(port)" : "\(address):\(port)"
    }

    /// What the MTA answered on the network, for the commands the item says it must refuse.
    func evidence(for book: Playbook, in context: JudgeContext) -> [Evidence] {
        switch answer {
        case nil:
            return []
        case .failure(let error)?:
            return [Evidence(mta: "smtp", file: place, line: nil, text: "", status: .error, note: error.withoutHost.description)]
        case .success(let r)?:
            let banner: [Evidence] = book.smtpBannerHidesVersion ? [Evidence(
                mta: "smtp", file: place, line: nil, text: "220 " + (r.greeting.split(separator: "\n").first.map(String.init) ?? ""),
                status: r.bannerVersion == nil ? .pass : .fail,
                note: r.bannerVersion.map { "the greeting tells the version: \($0)" } ?? "the greeting tells no version")] : []
            return banner + book.smtpRefuses.map { command in
                if command == "relay" { return r.relayEvidence(place: place) }
                let reply = command == "vrfy" ? r.vrfy : r.expn
                let refused = command == "vrfy" ? r.vrfyRefused : r.expnRefused
                let asked = command == "vrfy" ? r.vrfyAsked : r.expnAsked
                return Evidence(
                    mta: "smtp", file: place, line: nil,
                    text: "\(command.uppercased()) \(asked) → \(reply.code) \(reply.text)", status: refused ? .pass : .fail,
                    note: refused ? "\(command.uppercased()) is refused" : "\(command.uppercased()) answers; it must be refused")
            }
        }
    }

    /// After `apply`: whether a live host whose files changed for such an item now refuses the
    /// commands on `port` (nil: it does, or there was nothing to ask). Nil when no item of
    /// `playbooks` has the check.
    static func verification(
        _ playbooks: [Playbook], port: UInt16, address: String? = nil, deadline: Double = SMTPProbe.defaultDeadline
    ) -> (@Sendable (any Host, HostPlan) async -> String?)? {
        let books = playbooks.filter(applies)
        guard !books.isEmpty else { return nil }
        return { host, plan in
            guard host.isLive, plan.files.contains(where: { f in f.items.contains { id in books.contains { $0.id == id } } })
            else { return nil }
            let commands = Set(books.flatMap(\.smtpRefuses) + (books.contains(where: \.smtpBannerHidesVersion) ? ["banner"] : []))
            return await SMTPVerification.check(
                address: SMTPProbeAddress.forHost(host, override: address), port: port, mustRefuse: commands, deadline: deadline)
        }
    }
}
