/// The listener judgement (SRV-004, 불필요한 SMTP 서비스 실행): what listens on the item's
/// port, as the host's own tool shows it (`ss -ltn`, else `netstat -an`), and which of the
/// item's MTAs runs. In mode harden the MTA is kept by choice: a listener passes, and the
/// note says so and how to stop it. In mode disable the "not needed" branch
/// (`ServiceDisableCheck`) stops and disables each MTA the item names.
///
///     listening: { port: 25, mtas: [sendmail, postfix, exim] }
struct ListenerCheck: SocketReading {
    static let mode = Mode.harden

    func evidence(for book: Playbook, in context: JudgeContext) -> [Evidence] {
        guard let port = book.listensOn else { return [] }
        let facts = context.facts
        guard facts.live else {
            return [Evidence(
                mta: "-", file: "-", line: nil, text: "", status: .notApplicable,
                note: "an offline root runs nothing: what listens on port \(port) is known on the live host only")]
        }
        guard let listening = facts.listening, let tool = listening.tool else { return [Self.unread(facts, port: port)] }
        let command = tool == "ss" ? "ss -ltn" : "\(tool) -an"
        let running = book.listeningMTAs.filter { facts.services[$0]?.running == true }
        let sockets = listening.on(port)
        guard !sockets.isEmpty else {
            let also = running.isEmpty ? "" : "; \(running.joined(separator: ", ")) runs but does not accept connections on it"
            return [Evidence(
                mta: running.first ?? "-", file: command, line: nil, text: "(no socket on port \(port))", status: .pass,
                note: "nothing listens on port \(port): no SMTP service is offered\(also)")]
        }
        let who = running.isEmpty ? "a mail service" : running.joined(separator: ", ")
        return sockets.map { socket in
            Evidence(
                mta: running.first ?? "smtp", file: command, line: nil, text: socket.line, status: .pass,
                note: "\(who) listens on \(socket.endpoint): the SMTP service runs and is kept as needed (mode harden); "
                    + "where the host needs no mail service, --mode disable (or the host's mode in the inventory) stops and disables it")
        }
    }
}

/// An item check that reads the host's listening sockets (SRV-004, in either mode).
protocol SocketReading: ReadingItemCheck {
    init()
}

extension SocketReading {
    static func applies(to book: Playbook) -> Bool { book.listensOn != nil }

    init(planner: Planner) { self.init() }

    /// 오류: the host could not say what listens on `port` (no tool, or every tool failed).
    static func unread(_ facts: HostFacts, port: UInt16) -> Evidence {
        Evidence(
            mta: "-", file: "-", line: nil, text: "", status: .error,
            note: facts.listening?.failure.map { "\($0): what listens on port \(port) could not be read" }
                ?? "the host has neither ss nor netstat to tell what listens on port \(port)")
    }

    /// The sockets, and whether each MTA runs (to name what listens), in runs of its mode.
    func request(_ request: inout FactsRequest, mode: Mode) {
        guard mode == Self.mode else { return }
        request.listeners = true
        request.probeServices = true
    }
}
