import Foundation

/// Whether sendmail relays for everyone, judged on the rule sets it runs for RCPT TO (8.9 and
/// later, where relaying is denied unless a rule allows it) and on the .mc that m4 builds them
/// from. Pure: lines in, verdicts out; `SendmailRelayTarget` reads and edits the trees.
enum SendmailRelay {
    /// One line of sendmail.cf as the Sendmail_Cf lens gives it: a comment's text (after `#`),
    /// or any other line verbatim.
    struct Line: Equatable {
        var number: Int
        var text: String
        var comment: Bool
    }

    enum CfVerdict: Equatable {
        /// The rule that denies everything the relay checks did not allow, and its line.
        case closed(line: Int, text: String)
        /// The deny rule is there but commented out: uncommenting it closes relaying.
        case commentedOut(line: Int, text: String)
        /// The rule set has no deny rule: built with FEATURE(`promiscuous_relay') (the cf says
        /// so where `promiscuous` is true) or edited by hand.
        case noDenyRule(ruleset: String, line: Int, promiscuous: Bool)
        /// No check_rcpt rule set: sendmail before 8.9, which relays for everyone.
        case noRuleset
    }

    /// The rule set that decides relaying: `Basic_check_rcpt` (8.10 and later), else
    /// `check_rcpt` (8.9).
    static let rulesets = ["Basic_check_rcpt", "check_rcpt"]

    /// The name an `S` line starts (`SBasic_check_rcpt`, `S Basic_check_rcpt`, `Scheck_rcpt=9`).
    static func rulesetName(_ text: String) -> String? {
        guard text.hasPrefix("S") else { return nil }
        let rest = text.dropFirst().drop { $0 == " " || $0 == "\t" }
        let name = rest.prefix { $0.isLetter || $0.isNumber || $0 == "_" }
        return name.isEmpty ? nil : String(name)
    }

    /// A rule `R$*<tab>$#error …`: whatever reached it (nothing allowed it to relay) is refused.
    static func isDenyAll(_ text: String) -> Bool {
        guard text.hasPrefix("R") else { return false }
        let body = text.dropFirst()
        guard let tab = body.firstIndex(where: { $0 == "\t" }) else { return false }
        let lhs = body[..<tab].trimmingCharacters(in: .whitespaces)
        let rhs = body[tab...].drop { $0 == "\t" || $0 == " " }
        return lhs == "$*" && rhs.hasPrefix("$#error")
    }

    static func judge(_ lines: [Line]) -> CfVerdict {
        let promiscuous = lines.contains { $0.comment && $0.text.contains("promiscuous_relay") }
        for name in rulesets {
            guard let start = lines.firstIndex(where: { !$0.comment && rulesetName($0.text) == name }) else { continue }
            var commented: Line?
            for line in lines[(start + 1)...] {
                if !line.comment && rulesetName(line.text) != nil { break }
                if line.comment {
                    if commented == nil && isDenyAll(line.text) { commented = line }
                } else if isDenyAll(line.text) {
                    return .closed(line: line.number, text: line.text)
                }
            }
            if let c = commented { return .commentedOut(line: c.number, text: "#" + c.text) }
            return .noDenyRule(ruleset: name, line: lines[start].number, promiscuous: promiscuous)
        }
        return .noRuleset
    }

    /// A relay check that lets the envelope sender decide, which any client sets as it likes
    /// (`MAIL FROM:<anything>`): built by FEATURE(`relay_local_from') (a sender at one of this
    /// host's names, class w, relays) or FEATURE(`relay_mail_from') (a sender the access map
    /// says RELAY for relays). Found by what the rules do, not by the features' comments: in
    /// the rule sets RCPT TO runs, a rule that reads the sender (`$&f`) and a later rule of the
    /// same set that answers `$@ RELAY`.
    enum SenderRelay: Equatable {
        /// The RELAY rule matches the sender's domain against class w.
        case localSender(line: Int, text: String)
        /// The RELAY rule follows a lookup of the sender (the access map's `From:` entries).
        case mappedSender(line: Int, text: String)
    }

    /// The rule sets RCPT TO runs for the relay decision (8.9 to 8.17).
    static let relayRulesets: Set<String> = ["Basic_check_rcpt", "check_rcpt", "Rcpt_ok", "Relay_ok"]

    static func senderRelay(_ lines: [Line]) -> SenderRelay? {
        var ruleset: String?
        var readsSender = false
        for line in lines where !line.comment {
            if let name = rulesetName(line.text) {
                ruleset = name
                readsSender = false
                continue
            }
            guard let current = ruleset, relayRulesets.contains(current), line.text.hasPrefix("R"),
                let tab = line.text.firstIndex(of: "\t")
            else { continue }
            let lhs = line.text[line.text.index(after: line.text.startIndex)..<tab]
            let rhs = line.text[tab...].drop { $0 == "\t" || $0 == " " }
            if rhs.contains("$&f") { readsSender = true; continue }
            guard readsSender, rhs.hasPrefix("$@ RELAY") || rhs.hasPrefix("$@RELAY") else { continue }
            return lhs.contains("$=w") ? .localSender(line: line.number, text: line.text) : .mappedSender(line: line.number, text: line.text)
        }
        return nil
    }

    /// The features of a .mc that let the client's sender open relaying, each with the line's
    /// text: `relay_local_from` (open) and `relay_mail_from` (open for the senders the access
    /// map says RELAY for).
    static func senderFeature(_ line: String) -> String? {
        for name in ["relay_local_from", "relay_mail_from"]
        where line.range(of: #"^[ \t]*FEATURE\([ \t]*`?"# + name + #"'?[,)]"#, options: .regularExpression) != nil {
            return name
        }
        return nil
    }

    /// `FEATURE(`promiscuous_relay')dnl` and the spellings m4 reads the same (quotes, blanks,
    /// what follows `)`), not in a `dnl` or `#` comment.
    static func isPromiscuousFeature(_ line: String) -> Bool {
        line.range(of: #"^[ \t]*FEATURE\([ \t]*`?promiscuous_relay'?\)"#, options: .regularExpression) != nil
    }
}
