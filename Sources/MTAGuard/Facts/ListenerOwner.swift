/// A process a host named as holding a listening socket (SRV-004): its pid and its program
/// name, as `ss -ltnp`, `lsof`, `netstat -ltnp`, Solaris `pfiles` or AIX `rmsock` wrote them.
/// The pid is a number and the name is bounded and shown escaped, so a hostile name cannot
/// forge evidence (a newline, a quote, a control character is shown as `\xNN`).
public struct ListenerProcess: Sendable, Equatable {
    public let pid: UInt32
    public let name: ProcessName

    /// Nil unless `pid` is a positive decimal number that fits a pid and `name` is a name.
    public init?(pid: some StringProtocol, name: some StringProtocol) {
        guard !pid.isEmpty, pid.count <= 10, pid.utf8.allSatisfy({ (0x30...0x39).contains($0) }),
              let n = UInt32(pid), n > 0, let name = ProcessName(name)
        else { return nil }
        self.pid = n
        self.name = name
    }

    /// `master, pid 123`
    public var description: String { "\(name), pid \(pid)" }
}

/// A program name from a host: 1 to `limit` Unicode scalars as the host wrote them (longer is
/// cut), shown with every byte that is not printable ASCII, and the backslash, escaped.
public struct ProcessName: Sendable, Equatable, CustomStringConvertible {
    public static let limit = 64
    public let raw: String

    public init?(_ text: some StringProtocol) {
        let scalars = String(text).unicodeScalars
        guard !scalars.isEmpty else { return nil }
        var kept = String.UnicodeScalarView()
        kept.append(contentsOf: scalars.prefix(Self.limit))
        raw = String(kept)
    }

    public var description: String {
        var out = ""
        for byte in raw.utf8 {
            if byte >= 0x20, byte < 0x7F, byte != 0x5C {
                out.unicodeScalars.append(Unicode.Scalar(byte))
            } else {
                out += "\\x" + (byte < 0x10 ? "0" : "") + String(byte, radix: 16)
            }
        }
        return out
    }
}

/// What the host said of the processes behind its listening sockets, on the ports asked:
/// the command that told, what it named, and why it may have named nothing.
public struct ListenerOwners: Sendable, Equatable {
    /// One socket a tool tied to a process: its port, the local address where the tool gave
    /// one, and the process.
    public struct Entry: Sendable, Equatable {
        public var port: UInt16
        public var address: String?
        public var process: ListenerProcess
    }

    /// The command that was asked (`ss -ltnp`); nil when none could be.
    public var command: String?
    public var entries: [Entry] = []
    /// Why no tool could be asked at all (none is there, every one failed).
    public var unavailable: String?
    /// Whether the login was root (nil: not said); a non-root login sees only its own processes.
    public var root: Bool?
    /// How many processes pfiles could not examine.
    public var unexamined = 0
    /// What rmsock said of a socket it did not tie to a process, by port.
    public var refusals: [UInt16: String] = [:]

    /// The answer for one socket: the processes named, or why none could be.
    public func answer(for socket: ListeningSocket) -> ListenerOwnerAnswer {
        if let why = unavailable { return .unknown(why) }
        let onPort = entries.filter { $0.port == socket.port }
        let exact = onPort.filter { $0.address == socket.address }
        var seen = Set<UInt32>()
        let named = (exact.isEmpty ? onPort : exact).map(\.process).filter { seen.insert($0.pid).inserted }
        if !named.isEmpty { return .named(named, by: command ?? "-") }
        var why = "\(command ?? "the host's tool") named no process for it"
        if let refusal = refusals[socket.port] { why += " (\(refusal))" }
        if unexamined > 0 { why += ", and could not examine \(unexamined) process\(unexamined == 1 ? "" : "es")" }
        if root == false { why += "; the login is not root, and only root sees another user's process" }
        return .unknown(why)
    }
}

/// Which process holds a listening socket: named, or could not be told, because ….
public enum ListenerOwnerAnswer: Sendable, Equatable {
    case named([ListenerProcess], by: String)
    case unknown(String)

    /// `master, pid 123; master, pid 124`, or nil when none was named.
    public var processes: String? {
        guard case .named(let list, _) = self else { return nil }
        return list.map(\.description).joined(separator: "; ")
    }
}
