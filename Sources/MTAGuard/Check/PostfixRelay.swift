/// Whether postfix relays mail for outside clients to outside domains (KISA U-47 / U-31 /
/// SRV-009), judged from main.cf as smtpd_check.c decides RCPT TO: `smtpd_relay_restrictions`,
/// then `smtpd_recipient_restrictions`, each a first-match list; a recipient is accepted only
/// if neither list rejects it. Relaying is closed when either list reaches
/// `reject_unauth_destination` (or `defer_unauth_destination`, `reject`, `defer`) before
/// anything that lets an outside client through: `permit`, or `permit_mynetworks` where
/// mynetworks is the whole Internet (`0.0.0.0/0`, `[::]/0`, or `mynetworks_style = class`
/// without `mynetworks`). Whole private ranges in mynetworks (`10.0.0.0/8`, …) are wider than
/// a host's own networks: 취약, but a site may mean them, so they are reported, never removed.
///
/// Not read, and said in the note: lookup tables (`check_client_access TYPE:TABLE` may say OK
/// to anyone) and mynetworks entries from files or tables. A value that needs `$` expansion is
/// an error (postconf -h shows it expanded).
enum PostfixRelay {
    /// postfix 3.x at compatibility_level 1 or more (postconf -d).
    static let defaultRelayRestrictions = "permit_mynetworks, permit_sasl_authenticated, defer_unauth_destination"
    /// What mtaguard sets where the relay list must be created.
    static let closedRelayRestrictions = "permit_mynetworks, permit_sasl_authenticated, reject_unauth_destination"
    /// Debian's mynetworks, set when removing the world would leave none.
    static let loopbackNetworks = "127.0.0.0/8 [::ffff:127.0.0.0]/104 [::1]/128"

    static let closing: Set<String> = ["reject_unauth_destination", "defer_unauth_destination", "reject", "defer"]
    static let world: Set<String> = ["0.0.0.0/0", "[::]/0", "[::/0]", "::/0", "0/0", "[0::0]/0"]
    static let privateRanges: Set<String> = ["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "[fc00::]/7"]

    /// The parameters as main.cf sets them (the last definition, read as postfix reads it);
    /// nil where main.cf does not set one.
    struct Settings: Equatable {
        var relay: String?
        var recipient: String?
        var mynetworks: String?
        var style: String?
        var compatibility: String?

        static let names = [
            "smtpd_relay_restrictions", "smtpd_recipient_restrictions", "mynetworks", "mynetworks_style", "compatibility_level",
        ]
    }

    /// How one restriction list decides a relay attempt from an outside client.
    enum ListDecision: Equatable {
        /// It rejects first (the word that does it).
        case closes(String)
        /// It lets the client through first (the word, and its index in the list).
        case opens(String, Int)
        /// It ends without deciding: postfix permits.
        case undecided
        /// A lookup table mtaguard does not read comes first (`check_client_access hash:…`):
        /// what it answers an outside client decides.
        case depends(String)
    }

    struct Verdict: Equatable {
        /// Outside clients may relay (by the lists, or through whole private ranges).
        var open: Bool
        var relayDecision: ListDecision
        var recipientDecision: ListDecision
        var worldNetworks: [String]
        var privateNetworks: [String]
        var unread: [String]
        var note: String
        /// Neither list closes, and a table mtaguard does not read may open or close it: a
        /// person decides (수동 확인).
        var review = false
    }

    /// What smtpd needs in one of the two lists, or it refuses to run (postfix 2.10 and later).
    static let safetyNet: Set<String> = ["reject_unauth_destination", "defer_unauth_destination", "reject", "defer", "defer_all", "defer_if_permit"]

    /// A list's words (commas and whitespace separate).
    static func words(_ value: String) -> [String] {
        value.split(whereSeparator: { ", \t\r\n".contains($0) }).map(String.init)
    }

    static func judge(_ s: Settings) throws -> Verdict {
        // postfix's own default where main.cf does not set it: compatibility_level 0
        // (postconf -d), whose smtpd_relay_restrictions is empty and mynetworks_style subnet.
        let level = s.compatibility.map { Int($0.split(separator: ".").first ?? "") ?? 0 } ?? 0
        let style = (s.style ?? (level < 2 ? "subnet" : "host")).lowercased()
        var unread: [String] = [], networks: [String] = []
        for w in words(s.mynetworks ?? "") {
            if w.contains("$") {
                throw MTAGuardError(.unreadableFile, "mynetworks holds '\(w)', which mtaguard does not expand; postconf -h mynetworks shows what postfix reads")
            }
            if world.contains(w) || privateRanges.contains(w) || w.hasPrefix("[") || w.hasPrefix("!") || !w.contains(":") && !w.hasPrefix("/") {
                networks.append(w)
            } else {
                unread.append("mynetworks \(w)")
            }
        }
        let worldNetworks = networks.filter(world.contains)
        let privateNetworks = networks.filter(privateRanges.contains)
        let everyone = !worldNetworks.isEmpty || (s.mynetworks == nil && style == "class")

        func decide(_ list: String) throws -> ListDecision {
            let items = words(list)
            var i = 0
            while i < items.count {
                let word = items[i].lowercased()
                if word.contains("$") {
                    throw MTAGuardError(.unreadableFile, "a restriction list holds '\(items[i])', which mtaguard does not expand; postconf -h shows what postfix reads")
                }
                if closing.contains(word) { return .closes(items[i]) }
                if word == "permit" || (word == "permit_mynetworks" && everyone) { return .opens(items[i], i) }
                if word.hasPrefix("check_"), i + 1 < items.count, items[i + 1].contains(":") {
                    unread.append("\(items[i]) \(items[i + 1])")
                    return .depends("\(items[i]) \(items[i + 1])")
                }
                i += 1
            }
            return .undecided
        }
        let relayList = s.relay ?? (level < 1 ? "" : defaultRelayRestrictions)
        let relay = try decide(relayList)
        let recipient = try decide(s.recipient ?? "")
        var closedByLists: Bool
        if case .closes = relay { closedByLists = true } else if case .closes = recipient { closedByLists = true } else { closedByLists = false }
        // smtpd's safety net: with neither list able to refuse, it refuses to run at all.
        let refusesToRun = !(words(relayList) + words(s.recipient ?? "")).contains { safetyNet.contains($0.lowercased()) }
        if refusesToRun { closedByLists = true }
        var depends: String?
        if !closedByLists {
            if case .depends(let t) = relay { depends = t } else if case .depends(let t) = recipient { depends = t }
        }

        func say(_ name: String, _ d: ListDecision) -> String {
            switch d {
            case .closes(let w): return "\(name) reaches \(w) first"
            case .opens(let w, _):
                return "\(name) lets every client through at \(w)" + (w.lowercased() == "permit_mynetworks" ? " (mynetworks is the whole Internet)" : "")
            case .undecided: return "\(name) ends without rejecting"
            case .depends(let t): return "\(name) asks \(t) first, which mtaguard does not read"
            }
        }
        let relayName = "smtpd_relay_restrictions" + (s.relay != nil ? ""
            : level < 1 ? " (postfix's default at compatibility_level \(s.compatibility ?? "0, not set"): empty)" : " (default)")
        var note = say(relayName, relay) + "; "
            + say("smtpd_recipient_restrictions", recipient)
        if !worldNetworks.isEmpty { note += "; mynetworks holds \(worldNetworks.joined(separator: ", ")) (the whole Internet)" }
        if s.mynetworks == nil && style == "class" { note += "; mynetworks_style = class trusts the host's whole address class" }
        if !privateNetworks.isEmpty {
            note += "; mynetworks holds whole private ranges (\(privateNetworks.joined(separator: ", "))), wider than the host's own networks"
        }
        if refusesToRun {
            note += "; neither list holds reject_unauth_destination (or another word that refuses), so smtpd refuses to run: "
                + "no mail is received, and none is relayed"
        }
        if !unread.isEmpty { note += "; not read: " + unread.joined(separator: ", ") }
        if let depends {
            note += "; what \(depends) answers an outside client decides: look at that table (postmap -q ADDRESS TABLE)"
        }
        return Verdict(
            open: depends == nil && (!closedByLists || !privateNetworks.isEmpty), relayDecision: relay, recipientDecision: recipient,
            worldNetworks: worldNetworks, privateNetworks: privateNetworks, unread: unread, note: note,
            review: depends != nil && privateNetworks.isEmpty)
    }

    /// The smallest change that closes relaying to the world, as parameter → new value, and
    /// what it says in the plan. Removes only what opens relaying to everyone (the world in
    /// mynetworks, `mynetworks_style = class`), and puts `reject_unauth_destination` in
    /// smtpd_relay_restrictions where the lists still let an outside client through. Whole
    /// private ranges are left, and said.
    static func fix(_ s: Settings) throws -> (changes: [(String, String)], said: [String]) {
        var changes: [(String, String)] = [], said: [String] = []
        var fixed = s
        let verdict = try judge(s)
        if !verdict.worldNetworks.isEmpty, let m = s.mynetworks {
            var kept = words(m).filter { !world.contains($0) }.joined(separator: " ")
            if kept.isEmpty { kept = loopbackNetworks }
            changes.append(("mynetworks", kept))
            fixed.mynetworks = kept
            said.append("\(verdict.worldNetworks.joined(separator: ", ")) removed from mynetworks")
        } else if s.mynetworks == nil, (s.style ?? "").lowercased() == "class" {
            changes.append(("mynetworks_style", "host"))
            fixed.style = "host"
            said.append("mynetworks_style class → host (only this host may relay; list other trusted networks in mynetworks)")
        }
        let after = try judge(fixed)
        var closed = false
        if case .closes = after.relayDecision { closed = true }
        if case .closes = after.recipientDecision { closed = true }
        if !closed {
            let relay = s.relay ?? ""
            var items = words(relay)
            if case .opens(_, let i) = after.relayDecision {
                items.insert("reject_unauth_destination", at: i)
            } else if items.isEmpty {
                items = words(closedRelayRestrictions)
            } else {
                items.append("reject_unauth_destination")
            }
            let value = items.joined(separator: ", ")
            changes.append(("smtpd_relay_restrictions", value))
            said.append("smtpd_relay_restrictions = \(value)")
        }
        if !after.privateNetworks.isEmpty {
            said.append("left for the site to decide: \(after.privateNetworks.joined(separator: ", ")) in mynetworks may relay")
        }
        return (changes, said)
    }
}
