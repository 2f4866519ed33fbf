/// The "service not needed" branch (`--mode disable`): each MTA the item names that is on the
/// host is stopped and kept from starting again, the way its platform does that: the item's
/// `when_not_needed` actions, resolved by `ServiceCatalog`, and the boot-file edits that some
/// platforms need (AIX /etc/rc.tcpip, HP-UX /etc/rc.config.d/mailservs), judged and fixed in
/// the parsed file like any target's.
///
///     when_not_needed: { actions: [stop, disable] }     # the default
struct ServiceDisableCheck: ItemCheck {
    static let mode = Mode.disable

    /// The boot files that start an MTA where no service manager does.
    static var files: [any TargetKind] { ServiceCatalog.bootEdits }

    /// Every item has the branch.
    static func applies(to book: Playbook) -> Bool { true }

    let forceKill: Bool

    init(planner: Planner) {
        forceKill = planner.forceKill
    }

    /// Whether each MTA runs and starts at boot: asked of the service manager in this mode
    /// only, since it costs every host a few status commands.
    func request(_ request: inout FactsRequest, mode: Mode) {
        if mode == Self.mode { request.probeServices = true }
    }

    func judge(for book: Playbook, in context: JudgeContext) throws -> [Judgement] {
        let facts = context.facts
        var evidence: [Judgement] = []
        var seen = Set<String>()
        for mta in book.mtas where seen.insert(mta).inserted {
            let configFiles = book.targets.filter { $0.mta == mta }.map(\.file)
            let configured = try configFiles.contains { (try facts.exists($0)) || facts.metadata[$0] ?? nil != nil }
                || facts.versions[mta] != nil
            let state = facts.services[mta]
            do {
                let r = try ServiceCatalog.resolve(book.whenNotNeeded, mta: mta, facts: facts, forceKill: forceKill)
                // Present: configured here, running, known to start at boot, or named by a
                // boot file (AIX rc.tcpip, HP-UX mailservs).
                let bootFile = try r.edits.contains { (try facts.exists($0.file)) }
                guard configured || state?.running == true || state?.enabled == true || bootFile else {
                    evidence.append(Judgement(Evidence(
                        mta: mta, file: "-", line: nil, text: "", status: .notApplicable,
                        note: "\(mta) is neither installed as a service nor configured here")))
                    continue
                }
                // A service manager that does not know the MTA neither runs it nor starts it.
                let managed = [InitSystem.systemd, .sysv, .smf].contains(facts.initSystem)
                var bootOff = state?.enabled == false || (state == nil && managed)
                for edit in r.edits {
                    guard (try facts.exists(edit.file)) else {
                        evidence.append(Judgement(Evidence(
                            mta: mta, file: edit.file, line: nil, text: "(no such file)", status: .notApplicable,
                            note: "\(edit.file) is absent: nothing there starts \(mta) at boot")))
                        bootOff = true
                        continue
                    }
                    let judged = try edit.judge(item: book.id, in: context)
                    let found = judged.evidence
                    evidence.append(Judgement(
                        Evidence(
                            mta: mta, file: edit.file, line: found.line, text: found.text, status: found.status,
                            note: found.status == .pass ? "\(mta) does not start at boot" : "starts \(mta) at boot; mode disable turns it off"),
                        remedy: judged.remedy))
                    bootOff = bootOff || found.status == .pass
                }
                // An offline image runs nothing; a managed host's manager would know.
                let running = state?.running ?? ((state == nil && managed) || !facts.live ? false : nil)
                let done = running == false && bootOff && r.caveat == nil
                var note = "service not needed (mode disable): "
                note += done ? "\(mta) is stopped and does not start at boot"
                    : "\(mta) is \(Self.describe(running, "running", "stopped")), \(Self.describe(state?.enabled, "starts at boot", "does not start at boot")); it will be stopped and disabled"
                if let caveat = r.caveat { note += "; \(caveat)" }
                let commands = r.commands
                evidence.append(Judgement(
                    Evidence(mta: mta, file: state?.unit ?? "-", line: nil, text: "", status: done ? .pass : .fail, note: note),
                    remedy: done ? nil : Remedy { plan in for c in commands { plan.act(c) } }))
            } catch let error as MTAGuardError {
                evidence.append(Judgement(Evidence(mta: mta, file: "-", line: nil, text: "", status: .error, note: error.withoutHost.description)))
            }
        }
        return evidence
    }

    private static func describe(_ value: Bool?, _ yes: String, _ no: String) -> String {
        switch value {
        case true?: yes
        case false?: no
        case nil: "\(yes.split(separator: " ").first.map(String.init) ?? yes) unknown"
        }
    }
}
