/// SRV-004 in mode disable (the mail service is not needed): the host's sockets are read as in
/// mode harden, and a listener on the item's port is 취약 whatever started it. Where a service
/// manager knows the MTA behind it, the "not needed" branch (`ServiceDisableCheck`) stops and
/// disables it; a listener no service manager knows (started by hand, or by a package's own
/// script) is reported as it is, to be stopped by a person: mtaguard does not kill it. The
/// evidence names the process behind each socket where the host can tell (`ListenerOwners`),
/// and why not where it cannot; the verdict never depends on it.
struct ListenerDisableCheck: SocketReading {
    static let mode = Mode.disable
    /// The ports of the items that have the check: whose processes the facts ask for.
    var ports: [UInt16] = []

    init() {}

    init(planner: Planner) {
        ports = Array(Set(planner.playbooks.compactMap(\.listensOn))).sorted()
    }

    func request(_ request: inout FactsRequest, mode: Mode) {
        guard mode == Self.mode else { return }
        request.listeners = true
        request.probeServices = true
        request.listenerOwners = Array(Set(request.listenerOwners + ports)).sorted()
    }

    func evidence(for book: Playbook, in context: JudgeContext) -> [Evidence] {
        guard let port = book.listensOn else { return [] }
        let facts = context.facts
        guard facts.live else { return [] }
        guard let listening = facts.listening, let tool = listening.tool else { return [Self.unread(facts, port: port)] }
        let command = tool == "ss" ? "ss -ltn" : "\(tool) -an"
        let sockets = listening.on(port)
        guard !sockets.isEmpty else {
            return [Evidence(
                mta: "-", file: command, line: nil, text: "(no socket on port \(port))", status: .pass,
                note: "nothing listens on port \(port)")]
        }
        // The MTAs a service manager says run: their stop (ServiceDisableCheck) closes the port.
        let managed = book.listeningMTAs.filter { facts.services[$0]?.running == true }
        return sockets.map { socket in
            let owner = listening.owners.map { $0.answer(for: socket) }
                ?? .unknown("the process behind it was not asked of the host")
            let note: String
            switch (managed.isEmpty, owner) {
            case (true, .named(_, let by)):
                note = "\(socket.endpoint) is listening (\(owner.processes ?? ""), not known to any service manager): stop it, and what starts it, by hand; "
                    + "\(by) named the process, which mtaguard never kills"
            case (true, .unknown(let why)):
                note = "\(socket.endpoint) is listening (the process could not be named: \(why); not known to any service manager): "
                    + "find it as root (ss -ltnp, lsof -nP -iTCP:\(port) -sTCP:LISTEN, or pfiles on Solaris) and stop it, and what starts it, by hand"
            case (false, _):
                let who = switch owner {
                case .named: " (\(owner.processes ?? ""))"
                case .unknown(let why): " (the process could not be named: \(why))"
                }
                note = "\(managed.joined(separator: ", ")) listens on \(socket.endpoint)\(who): the service is not needed (mode disable), and is stopped and disabled"
            }
            return Evidence(mta: managed.first ?? "smtp", file: command, line: nil, text: socket.line, status: .fail, note: note)
        }
    }
}
