/// Whether postfix relays mail for outside clients to outside domains (KISA U-47 / U-31 /
/// SRV-009), judged from main.cf as smtpd_check.c decides RCPT TO: `smtpd_relay_restrictions`,
/// then `smtpd_recipient_restrictions`, each a first-match list; a recipient is accepted only
/// if neither list rejects it. Relaying is closed when either list reaches
/// `reject_unauth_destination` (or `defer_unauth_destination`, `reject`, `defer`) before
/// anything that lets an outside client through: `permit`, or `permit_mynetworks` where
/// mynetworks is the whole Internet (`0.0.0.0/0`, `[::]/0`, or `mynetworks_style = class`
/// without `mynetworks`) or holds a public network of /16 or wider (`203.0.0.0/8`). Whole private ranges in mynetworks (`10.0.0.0/8`, …) are wider than
/// a host's own networks: 취약, but a site may mean them, so they are reported, never removed.
///
/// Lookup tables (`check_sender_access hash:/etc/postfix/sender_access`, restriction classes) and
/// mynetworks files are judged from what the facts round trip read (`PostfixAccessTable`,
/// `PostfixTableFacts`): a table that lets an outside client through opens relaying where it
/// comes first; one mtaguard could not read or evaluate (or a stale compiled one) ahead of the
/// closing word is for a person (수동 확인). `$config_directory` is expanded; any other `$`
/// expansion is an error (postconf -h shows it expanded).
enum PostfixRelay {
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
        /// Restriction classes (`smtpd_restriction_classes`) by name: their lists.
        var classes: [String: String] = [:]
        /// `config_directory` where main.cf sets it.
        var configDirectory: String?
        /// The tables and files main.cf names, as the facts round trip read them (with the
        /// host's own `postconf -d` where it answered); nil: not read.
        var tables: PostfixTableFacts?
        /// The host's postfix version where the facts know it otherwise (U-45's probe).
        var version: String?
        /// Where `version` was read (for the evidence).
        var versionSource: String?

        /// postfix's defaults for this main.cf on this host (`PostfixRelayDefaults`); `assumed`
        /// replaces them where the host's version is not known (`judge` tries each).
        var defaults: PostfixRelayDefaults {
            assumed ?? PostfixRelayDefaults.resolve(host: tables?.defaults, version: version, versionSource: versionSource, level: compatibility)
        }
        var assumed: PostfixRelayDefaults?

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
        /// Table entries that let a whole private range relay (`PostfixAccessTable`).
        var privateTables: [String] = []
        /// Neither list can refuse, so smtpd refuses to run.
        var refusesToRun = false
    }

    /// A public network of /16 or wider in mynetworks (`203.0.0.0/8`, `0.0.0.0/1`): every client
    /// in it may relay, as through a client table entry that wide (`PostfixAccessTable.network`).
    /// Loopback and link-local ranges are the host's own.
    static func isWide(_ entry: String) -> Bool {
        if entry.hasPrefix("127.") || entry.hasPrefix("169.254.") { return false }
        switch PostfixAccessTable.network(entry) {
        case .wide, .everyone: return true
        default: return false
        }
    }

    /// What smtpd needs in one of the two lists, or it refuses to run (postfix 2.10 and later).
    static let safetyNet: Set<String> = ["reject_unauth_destination", "defer_unauth_destination", "reject", "defer", "defer_if_permit", "check_relay_domains"]

    /// Whether `list` holds one of `safetyNet` as smtpd_check.c's has_required() looks: in
    /// order, a `warn_if_reject`'s restriction not counted, nothing after `permit`, restriction
    /// classes followed.
    static func hasRequired(_ list: String, classes: [String: String], depth: Int = 0) -> Bool {
        let items = words(list)
        var i = 0
        while i < items.count {
            let word = items[i].lowercased()
            if word == "warn_if_reject", i + 1 < items.count { i += 2; continue }
            if word == "permit" { return false }
            if safetyNet.contains(word) { return true }
            if depth < 4, let body = classes[items[i]], hasRequired(body, classes: classes, depth: depth + 1) { return true }
            i += 1
        }
        return false
    }

    /// A list's words (commas and whitespace separate).
    static func words(_ value: String) -> [String] {
        // postfix keeps `{ … }` together (an inline table): separators inside braces are text.
        var out: [String] = [], word = "", depth = 0
        for c in value {
            if c == "{" { depth += 1 } else if c == "}" { depth = max(0, depth - 1) }
            // Each separator on its own: "\r\n" is one Character in Swift, and a lone "\n" is not it.
            if depth == 0, c == "," || c == " " || c == "\t" || c == "\n" || c == "\r" || c == "\r\n" {
                if !word.isEmpty { out.append(word) }
                word = ""
            } else {
                word.append(c)
            }
        }
        if !word.isEmpty { out.append(word) }
        return out
    }

    /// mynetworks' entries, with those postfix reads from a file (`/path`, `$config_directory/path`)
    /// or a cidr table replaced by what the facts round trip read there; a file not read is
    /// added to `unread` and left out.
    static func mynetworks(_ s: Settings, unread: inout [String]) throws -> [String] {
        var out: [String] = []
        let directory = s.configDirectory ?? "/etc/postfix"
        for raw in words(s.mynetworks ?? "") {
            let w = PostfixTableFacts.expandConfigDirectory(raw, directory)
            guard let ref = PostfixTableFacts.reference(w, fileAllowed: true) else { out.append(w); continue }
            let isCIDR = w.lowercased().hasPrefix("cidr:")
            guard ref.suffix.isEmpty, w.hasPrefix("/") || isCIDR else { unread.append("mynetworks \(w)"); continue }
            switch s.tables?.files[ref.path] {
            case .read(let snapshot)?:
                let text = String(decoding: snapshot.bytes, as: UTF8.self)
                if isCIDR {
                    out += PostfixAccessTable.entries(type: "cidr", text: text).map(\.key)
                } else {
                    for line in text.split(separator: "\n") {
                        out += words(String(line.prefix { $0 != "#" }))
                    }
                }
            case .absent?: unread.append("mynetworks \(w) (the file does not exist)")
            case .unread(let why)?: unread.append("mynetworks \(w) (\(ref.path) \(why))")
            case nil: unread.append("mynetworks \(w)")
            }
        }
        return out
    }

    /// The postfix versions whose defaults differ where relaying is concerned (`PostfixRelayDefaults`).
    static let versionClasses: [(name: String, level: PostfixRelayDefaults.Level)] = [
        ("before 2.10", .init([2, 9])), ("2.10 and 2.11", .init([2, 10])), ("3.0 and later", .init([3, 0])),
    ]

    /// The verdict with postfix's own defaults. Where the host's postfix version is not known
    /// (an offline image, no postconf), main.cf is judged with the defaults of each version
    /// class: 양호 only where every class closes relaying (mtaguard cannot tell which postfix
    /// reads the file, and nothing it could not establish is 양호), 취약 where postfix 3.0 and
    /// later would relay (the note says what older ones would do, and the fix closes the lists
    /// every version reads), and 수동 확인 otherwise.
    static func judge(_ s: Settings) throws -> Verdict {
        let defaults = s.defaults
        guard !defaults.known else { return try judgeWith(s) }
        var verdicts: [(String, Verdict)] = []
        for v in versionClasses {
            var assumed = PostfixRelayDefaults.table(v.level, level: s.compatibility)
            assumed.source = "those of postfix \(v.name)"
            var t = s
            t.assumed = assumed
            verdicts.append((v.name, try judgeWith(t)))
        }
        var latest = verdicts[verdicts.count - 1].1
        let unknown = "postfix's version is not known here" + defaults.source.components(separatedBy: "is not known here").dropFirst().joined()
        func outcomes() -> String {
            verdicts.map { "postfix \($0.0): relaying is \($0.1.review ? "for a person" : $0.1.open ? "open" : "closed")" }.joined(separator: "; ")
        }
        if verdicts.allSatisfy({ $0.1.open == latest.open && $0.1.review == latest.review }) {
            latest.note += "; \(unknown), and the verdict is the same for postfix before 2.10, 2.10 and 2.11, and 3.0 and later"
            return latest
        }
        if latest.open {
            latest.note += "; \(unknown): \(outcomes())"
            return latest
        }
        latest.open = false
        latest.review = true
        latest.note = "it depends on postfix's version: \(outcomes()). With postfix 3.0 and later: " + latest.note
            + "; \(unknown), and postconf mail_version on the host says which applies"
        return latest
    }

    static func judgeWith(_ s: Settings) throws -> Verdict {
        // postfix's own defaults where main.cf does not set a parameter: the host's postconf -d
        // for the file's compatibility_level, else the version table (PostfixRelayDefaults).
        let defaults = s.defaults
        let style = (s.style ?? defaults.style).lowercased()
        var unread: [String] = [], networks: [String] = [], unreadNetworks: [String] = []
        for w in try mynetworks(s, unread: &unreadNetworks) {
            if w.contains("$") {
                throw MTAGuardError(.unreadableFile, "mynetworks holds '\(w)', which mtaguard does not expand; postconf -h mynetworks shows what postfix reads")
            }
            if world.contains(w) || privateRanges.contains(w) || w.hasPrefix("[") || w.hasPrefix("!") || !w.contains(":") && !w.hasPrefix("/") {
                networks.append(w)
            } else {
                unreadNetworks.append("mynetworks \(w)")
            }
        }
        unread += unreadNetworks
        let worldNetworks = networks.filter { world.contains($0) || isWide($0) }
        let privateNetworks = networks.filter(privateRanges.contains)
        let everyone = !worldNetworks.isEmpty || (s.mynetworks == nil && style == "class")
        var tableEvidence: [String] = [], privateTables: [String] = []

        func decide(_ list: String, depth: Int = 0) throws -> ListDecision {
            let items = words(list)
            var i = 0
            // A table that may let some outside clients through (an accepting entry mtaguard
            // cannot evaluate): the others go on down the list, so what comes after may still
            // open it for certain; only a closing word leaves it for a person.
            var pending: String?
            while i < items.count {
                let word = items[i].lowercased()
                if word.contains("$") {
                    throw MTAGuardError(.unreadableFile, "a restriction list holds '\(items[i])', which mtaguard does not expand; postconf -h shows what postfix reads")
                }
                // warn_if_reject: the restriction after it only logs what it would reject.
                if word == "warn_if_reject" { i += 2; continue }
                // defer_if_permit: whatever would permit this RCPT after it is deferred (450).
                if closing.contains(word) || word == "defer_if_permit" {
                    return pending.map { .depends($0) } ?? .closes(items[i])
                }
                if word == "permit" || (word == "permit_mynetworks" && everyone) { return .opens(items[i], i) }
                if word == "permit_mynetworks", let first = unreadNetworks.first {
                    return .depends("permit_mynetworks, with \(first), which mtaguard does not read")
                }
                if depth < 4, let body = s.classes[items[i]] {
                    // A restriction class: its list, then this one goes on where it did not decide.
                    switch try decide(body, depth: depth + 1) {
                    case .opens(let w, _): return .opens("\(items[i]) (a restriction class) at \(w)", i)
                    case .closes(let w): return .closes("\(items[i]) (a restriction class) at \(w)")
                    case .depends(let t): return .depends(t)
                    case .undecided: i += 1; continue
                    }
                }
                if word.hasPrefix("check_"), i + 1 < items.count, items[i + 1].contains(":") {
                    let named = "\(items[i]) \(items[i + 1])"
                    var failure: Error?
                    let outcome = PostfixAccessTable.judge(items[i], items[i + 1], facts: s.tables, isClass: { s.classes[$0] != nil }) { action in
                        guard depth < 4 else { return .depends("restriction classes nested deeper than mtaguard follows") }
                        do { return try decide(action, depth: depth + 1) } catch { failure = error; return .undecided }
                    }
                    if let failure { throw failure }
                    switch outcome {
                    case .opens(let evidence):
                        tableEvidence.append(evidence)
                        return .opens(named, i)
                    case .opensPrivate(let evidence):
                        privateTables.append(evidence)
                    case .review(let why):
                        unread.append(named)
                        return .depends(why)
                    case .mayOpen(let why):
                        unread.append(named)
                        pending = pending ?? why
                    case .nothing:
                        tableEvidence.append("\(named) lets no outside client through")
                    }
                    i += 2
                    continue
                }
                i += 1
            }
            // Clients such a table lets through and those it does not both leave this list
            // without a refusal: the next list decides for them all.
            return .undecided
        }
        // A postfix before 2.10 has no smtpd_relay_restrictions: a main.cf that sets it is ignored.
        let relayList = defaults.relay.map { s.relay ?? $0 } ?? ""
        let recipientList = s.recipient ?? defaults.recipient
        let relay = try decide(relayList)
        let recipient = try decide(recipientList)
        var closedByLists: Bool
        if case .closes = relay { closedByLists = true } else if case .closes = recipient { closedByLists = true } else { closedByLists = false }
        // smtpd's safety net: with neither list able to refuse, it refuses to run at all.
        let refusesToRun = !hasRequired(relayList, classes: s.classes) && !hasRequired(recipientList, classes: s.classes)
        if refusesToRun { closedByLists = true }
        var depends: String?
        if !closedByLists {
            if case .depends(let t) = relay { depends = t } else if case .depends(let t) = recipient { depends = t }
        }

        func say(_ name: String, _ d: ListDecision) -> String {
            switch d {
            case .closes(let w): return "\(name) reaches \(w) first"
            case .opens(let w, _) where w.lowercased().hasPrefix("check_"):
                return "\(name) lets outside clients through at \(w)"
            case .opens(let w, _):
                return "\(name) lets every client through at \(w)" + (w.lowercased() == "permit_mynetworks" ? " (mynetworks takes in outside clients)" : "")
            case .undecided: return "\(name) ends without rejecting"
            case .depends(let t): return "\(name) cannot be decided: \(t)"
            }
        }
        var note: String
        if defaults.relay == nil {
            note = "this postfix has no smtpd_relay_restrictions (it came in postfix 2.10)"
                + (s.relay != nil ? ", so main.cf's is ignored" : "")
        } else {
            note = say("smtpd_relay_restrictions" + (s.relay != nil ? "" : relayList.isEmpty ? " (postfix's default: empty)" : " (default)"), relay)
        }
        note += "; " + say("smtpd_recipient_restrictions" + (s.recipient == nil && !recipientList.isEmpty ? " (default)" : ""), recipient)
        let whole = worldNetworks.filter(world.contains), wide = worldNetworks.filter { !world.contains($0) }
        if !whole.isEmpty { note += "; mynetworks holds \(whole.joined(separator: ", ")) (the whole Internet)" }
        if !wide.isEmpty {
            note += "; mynetworks holds \(wide.joined(separator: ", ")) (public networks of /16 or wider: every client in them may relay)"
        }
        if s.mynetworks == nil && style == "class" { note += "; mynetworks_style = class trusts the host's whole address class" }
        if !privateNetworks.isEmpty {
            note += "; mynetworks holds whole private ranges (\(privateNetworks.joined(separator: ", "))), wider than the host's own networks"
        }
        if refusesToRun {
            note += "; neither list holds reject_unauth_destination (or another word that refuses), so smtpd refuses to run: "
                + "no mail is received, and none is relayed"
        }
        if !tableEvidence.isEmpty { note += "; " + tableEvidence.joined(separator: "; ") }
        if !privateTables.isEmpty { note += "; " + privateTables.joined(separator: "; ") + ", wider than the host's own networks" }
        if !unread.isEmpty { note += "; not read: " + unread.joined(separator: ", ") }
        if s.relay == nil || s.recipient == nil || (s.style == nil && s.mynetworks == nil) || defaults.relay == nil {
            note += "; defaults: " + defaults.source
        }
        if depends != nil {
            note += "; what that answers an outside client decides, so a person must look (postmap -q KEY TABLE shows what a table answers)"
        }
        let sitePrivate = !privateNetworks.isEmpty || !privateTables.isEmpty
        return Verdict(
            // A whole private range is 취약 whatever else a person must decide about the lists.
            open: sitePrivate || (depends == nil && !closedByLists), relayDecision: relay, recipientDecision: recipient,
            worldNetworks: worldNetworks, privateNetworks: privateNetworks, unread: unread, note: note,
            review: depends != nil && !sitePrivate, privateTables: privateTables, refusesToRun: refusesToRun)
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
            var kept = words(m).filter { !verdict.worldNetworks.contains($0) }.joined(separator: " ")
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
        // Closed, or for a person (a table mtaguard does not decide, beside a private range that
        // is 취약 on its own): the lists are left as they are.
        var closed = after.refusesToRun, depends = false, opens = false
        for decision in [after.relayDecision, after.recipientDecision] {
            switch decision {
            case .closes: closed = true
            case .depends: depends = true
            case .opens: opens = true
            case .undecided: break
            }
        }
        if depends && !opens { closed = true }
        if !closed, s.defaults.relay == nil {
            // Before postfix 2.10 only smtpd_recipient_restrictions decides relaying.
            var items = words(s.recipient ?? s.defaults.recipient)
            if case .opens(_, let i) = after.recipientDecision {
                items.insert("reject_unauth_destination", at: i)
            } else {
                items.append("reject_unauth_destination")
            }
            let value = items.joined(separator: ", ")
            changes.append(("smtpd_recipient_restrictions", value))
            said.append("smtpd_recipient_restrictions = \(value) (this postfix has no smtpd_relay_restrictions)")
        } else if !closed {
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
        if !s.defaults.known {
            // The host's postfix version is not known: close the list an older postfix reads too.
            var old = fixed
            for (param, value) in changes where param == "smtpd_relay_restrictions" { old.relay = value }
            old.assumed = PostfixRelayDefaults.table(versionClasses[0].level, level: s.compatibility)
            let before210 = try judgeWith(old)
            if before210.open, before210.privateNetworks.isEmpty, before210.privateTables.isEmpty {
                var items = words(s.recipient ?? old.defaults.recipient)
                if case .opens(_, let i) = before210.recipientDecision { items.insert("reject_unauth_destination", at: i) } else { items.append("reject_unauth_destination") }
                let value = items.joined(separator: ", ")
                changes.append(("smtpd_recipient_restrictions", value))
                said.append("smtpd_recipient_restrictions = \(value) (postfix's version is not known here, and before 2.10 only this list decides)")
            }
        }
        if !after.privateNetworks.isEmpty {
            said.append("left for the site to decide: \(after.privateNetworks.joined(separator: ", ")) in mynetworks may relay")
        }
        if !after.privateTables.isEmpty {
            said.append("left for the site to decide, and no table is edited: " + after.privateTables.joined(separator: "; "))
        }
        return (changes, said)
    }
}
