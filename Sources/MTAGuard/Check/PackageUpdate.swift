/// What the host's package manager said when asked whether a newer package than the installed
/// one exists: a version it would install, "nothing newer", or nothing usable. Only an answer
/// lets the distribution decide U-45; "could not tell" never reads as "none newer".
public enum PackageUpdate: Sendable, Equatable {
    /// `tool` names `version` as what it would install (apt-cache policy's `Candidate:`, a
    /// `dnf`/`yum check-update` or `zypper list-updates` line, `pkg list -n`). The judge still
    /// compares it with the installed version: apt names the installed one when nothing is newer.
    case candidate(String, tool: String)
    /// `tool` was asked and said that nothing newer is available (`check-update` exit 0,
    /// no `list-updates` line for the package, `pkg list -u` "no packages have newer versions").
    case noneNewer(tool: String)
    /// Nothing said whether a newer package exists, and why.
    case unknown(Doubt)

    /// Why no package manager answered.
    public enum Doubt: Sendable, Equatable {
        /// None of `tools` is on the host.
        case noTool(tools: String)
        /// The platform's tool lists what is installed but knows nothing of newer packages
        /// (AIX lslpp, HP-UX swlist, Solaris 10 pkginfo).
        case listsInstalledOnly(tool: String)
        /// `tool` exited `status` (an error, or an answer its documentation does not give).
        case failed(tool: String, status: Int, output: String)
        /// `tool` could not answer from its cache (no metadata, repositories skipped).
        case cacheEmpty(tool: String, status: Int, output: String)
        /// `tool` did not finish within `seconds` and was stopped.
        case timedOut(tool: String, seconds: Int)
        /// apt-cache printed `Candidate: (none)` or no `Candidate:` line at all.
        case noCandidate(tool: String)
    }

    /// The tool whose answer this is (for an upgrade by the same tool).
    public var tool: String? {
        switch self {
        case .candidate(_, let tool), .noneNewer(let tool): tool
        case .unknown: nil
        }
    }

    /// The version offered, where one was.
    public var candidate: String? {
        if case .candidate(let v, _) = self { return v }
        return nil
    }

    /// The command that was asked, in the words a person would type.
    static func asked(_ tool: String) -> String {
        switch tool {
        case "dnf": "dnf check-update"
        case "yum": "yum check-update"
        case "zypper": "zypper list-updates"
        case "apt-cache": "apt-cache policy"
        case "pkg": "pkg list -u"
        default: tool
        }
    }

    /// Bound on the output a host's failing tool may put into the evidence.
    static let outputLimit = 300

    /// The probe's answer words (after `package MTA TOOL NAME INSTALLED`):
    ///
    ///     candidate TOOL VERSION | none TOOL | failed TOOL STATUS OUTPUT… |
    ///     nocache TOOL STATUS OUTPUT… | timeout TOOL SECONDS | nocandidate TOOL |
    ///     notool TOOLS… | installed-only TOOL
    ///
    /// Nil for anything else: the caller reports a host protocol error.
    init?(words w: [String]) {
        func token(_ s: String) -> Bool {
            !s.isEmpty && s.count <= 200 && s.unicodeScalars.allSatisfy { $0.value > 0x20 && $0.value < 0x7F }
        }
        func tool(_ s: String) -> String? { ["dnf", "yum", "zypper", "apt-cache", "pkg"].contains(s) ? s : nil }
        func output(_ from: Int) -> String {
            String(w.dropFirst(from).joined(separator: " ").prefix(Self.outputLimit))
        }
        guard let word = w.first else { return nil }
        switch word {
        case "candidate" where w.count == 3:
            guard let t = tool(w[1]), token(w[2]) else { return nil }
            self = .candidate(w[2], tool: t)
        case "none" where w.count == 2:
            guard let t = tool(w[1]) else { return nil }
            self = .noneNewer(tool: t)
        case "failed" where w.count >= 3, "nocache" where w.count >= 3:
            guard let t = tool(w[1]), let status = Int(w[2]), (0...255).contains(status) else { return nil }
            self = .unknown(word == "failed"
                ? .failed(tool: t, status: status, output: output(3))
                : .cacheEmpty(tool: t, status: status, output: output(3)))
        case "timeout" where w.count == 3:
            guard let t = tool(w[1]), let s = Int(w[2]), (1...3600).contains(s) else { return nil }
            self = .unknown(.timedOut(tool: t, seconds: s))
        case "nocandidate" where w.count == 2:
            guard let t = tool(w[1]) else { return nil }
            self = .unknown(.noCandidate(tool: t))
        case "notool" where w.count >= 2:
            let tools = Array(w.dropFirst())
            guard tools.allSatisfy({ tool($0) != nil }) else { return nil }
            self = .unknown(.noTool(tools: Self.either(tools)))
        case "installed-only" where w.count == 2:
            guard ["lslpp", "swlist", "pkginfo"].contains(w[1]) else { return nil }
            self = .unknown(.listsInstalledOnly(tool: w[1]))
        default:
            return nil
        }
    }

    /// "dnf, yum or zypper".
    static func either(_ tools: [String]) -> String {
        tools.count < 2 ? tools.joined() : tools.dropLast().joined(separator: ", ") + " or " + tools[tools.count - 1]
    }
}

extension PackageUpdate.Doubt: CustomStringConvertible {
    /// What was asked and why it did not answer, in a sentence's words.
    public var description: String {
        func shown(_ output: String) -> String {
            let text = output.trimmingCharacters(in: .whitespaces)
            return text.isEmpty ? "it printed nothing" : "\"\(text)\""
        }
        switch self {
        case .noTool(let tools):
            return "the host has no \(tools) to ask whether a newer package exists"
        case .listsInstalledOnly(let tool):
            return "\(tool) lists what is installed, not whether anything newer exists"
        case .failed(let tool, let status, let output):
            return "\(PackageUpdate.asked(tool)) failed (exit \(status)): \(shown(output))"
        case .cacheEmpty(let tool, let status, let output):
            return "\(PackageUpdate.asked(tool)) could not answer from its cache (exit \(status)): \(shown(output))"
        case .timedOut(let tool, let seconds):
            return "\(PackageUpdate.asked(tool)) did not answer within \(seconds) s and was stopped"
        case .noCandidate(let tool):
            return "\(PackageUpdate.asked(tool)) names no candidate"
        }
    }

    /// What a person can do so that the next check gets an answer.
    var remedy: String {
        switch self {
        case .noTool, .listsInstalledOnly: "ask the vendor's advisories"
        case .failed(let tool, _, _), .timedOut(let tool, _), .noCandidate(let tool):
            "make \(PackageUpdate.asked(tool)) work on the host and check again"
        case .cacheEmpty(let tool, _, _):
            switch tool {
            case "dnf": "run dnf makecache on the host and check again"
            case "yum": "run yum makecache on the host and check again"
            case "zypper": "run zypper refresh on the host and check again"
            case "apt-cache": "run apt-get update on the host and check again"
            default: "refresh \(tool)'s metadata on the host and check again"
            }
        }
    }
}
