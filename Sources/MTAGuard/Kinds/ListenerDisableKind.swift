/// SRV-004 in mode disable (the mail service is not needed): the host's sockets are read as in
/// mode harden, and a listener on the item's port is 취약 whatever started it. Where a service
/// manager knows the MTA behind it, the "not needed" branch (`ServiceDisableCheck`) stops and
/// disables it; a listener no service manager knows (started by hand, or by a package's own
/// script) is reported as it is, to be stopped by a person: mtaguard does not kill it.
struct ListenerDisableCheck: SocketReading {
    static let mode = Mode.disable

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
            let note = managed.isEmpty
                ? "something listens on \(socket.endpoint), and no service manager on the host knows it as \(book.listeningMTAs.joined(separator: ", ")): "
                    + "mtaguard cannot stop it; find the process (ss -ltnp, lsof -i :\(port), or pfiles on Solaris) and stop it and what starts it by hand"
                : "\(managed.joined(separator: ", ")) listens on \(socket.endpoint): the service is not needed (mode disable), and is stopped and disabled"
            return Evidence(mta: managed.first ?? "smtp", file: command, line: nil, text: socket.line, status: .fail, note: note)
        }
    }
}
