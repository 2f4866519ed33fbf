/// The listening TCP sockets of a host (SRV-004), as the OS's own tool shows them: `ss -ltn`
/// on Linux, else `netstat -an` (Solaris, AIX, HP-UX and older Linux). The tool's lines come
/// back as they are (`listen LINE`), after a `listen-tool NAME` line; a host with neither tool
/// says `listen-none`, and one whose tools all failed `listen-failed WHAT`. Nothing of a line is ever run: it is read here, in Swift.
extension RemoteScript {
    var listenerProbe: ShellCode {
        """
        # A tool that is there but failed is said (listen-failed), never taken for no socket.
        mtg_lt=; mtg_lo=; mtg_lf=
        if command -v ss >/dev/null 2>&1; then
          if mtg_lo=$(ss -ltn 2>/dev/null); then mtg_lt=ss; else mtg_lf="ss -ltn exited $?"; fi
        fi
        if [ -z "$mtg_lt" ] && command -v netstat >/dev/null 2>&1; then
          if mtg_lo=$(netstat -an 2>/dev/null); then mtg_lt=netstat; else mtg_lf="${mtg_lf:+$mtg_lf, }netstat -an exited $?"; fi
        fi
        if [ -z "$mtg_lt" ] && [ -n "$mtg_lf" ]; then
          echo "$M listen-failed $mtg_lf"
        elif [ -n "$mtg_lt" ]; then
          echo "$M listen-tool $mtg_lt"
          printf '%s\\n' "$mtg_lo" | while IFS= read -r mtg_x; do
            case $mtg_x in *LISTENING*|unix*) ;; *LISTEN*) echo "$M listen $mtg_x";; esac
          done
        else
          echo "$M listen-none"
        fi

        """
    }

    /// What `listenerProbe` printed.
    struct Listeners {
        /// The tool that answered; nil when the host has none (or the probe did not run).
        var tool: String?
        var sockets: [ListeningSocket] = []
        var asked = false
        var failure: String?
        var owners = ListenerOwnerLines()

        mutating func read(_ word: String, _ arg: String) {
            switch word {
            case _ where word.hasPrefix("lproc"): owners.read(word, arg)
            case "listen-tool":
                tool = arg
                asked = true
            case "listen-none": asked = true
            case "listen-failed":
                asked = true
                failure = arg.trimmed(200)
            case "listen":
                if let s = ListeningSocket(line: arg) { sockets.append(s) }
            default: break
            }
        }

        init() {}

        init(output: String, marker: String) {
            for (word, arg) in RemoteScript.reports(output, marker: marker) { read(word, arg) }
        }

        /// The facts' value: nil when the probe did not run.
        var facts: ListenerFacts? {
            asked ? ListenerFacts(tool: tool, sockets: sockets, failure: tool == nil ? failure : nil, owners: owners.asked ? owners.owners : nil) : nil
        }
    }
}

/// The listening sockets a host reported, and the tool that told.
public struct ListenerFacts: Sendable, Equatable {
    /// `ss` or `netstat`; nil when the host has neither.
    public var tool: String?
    public var sockets: [ListeningSocket]
    /// How the tools that are there failed (`ss -ltn exited 1`), when none answered.
    public var failure: String? = nil
    /// The processes behind the sockets, where asked (`FactsRequest.listenerOwners`).
    public var owners: ListenerOwners? = nil

    /// The sockets on `port`.
    public func on(_ port: UInt16) -> [ListeningSocket] { sockets.filter { $0.port == port } }
}

/// One listening TCP socket: its local address and port, and the tool's line.
public struct ListeningSocket: Sendable, Equatable {
    public var address: String
    public var port: UInt16
    public var line: String

    /// The local address of one line of `ss -ltn` (`LISTEN 0 100 0.0.0.0:25 0.0.0.0:*`,
    /// `[::]:25`) or `netstat -an` (Linux `0.0.0.0:25`; Solaris, AIX and HP-UX `*.25`,
    /// `127.0.0.1.25`): the first field that ends in a separator and a port number. Nil for a
    /// line that has none (a heading, a unix socket).
    public init?(line: String) {
        let fields = line.split(whereSeparator: { $0 == " " || $0 == "\t" })
        for field in fields {
            guard let sep = field.lastIndex(where: { $0 == ":" || $0 == "." }), sep != field.startIndex else { continue }
            let digits = field[field.index(after: sep)...]
            guard !digits.isEmpty, digits.count <= 5, digits.allSatisfy({ $0.isASCII && $0.isNumber }),
                  let port = UInt16(digits), port != 0
            else { continue }
            self.address = String(field[..<sep])
            self.port = port
            self.line = fields.joined(separator: " ")
            return
        }
        return nil
    }

    /// `ADDRESS:PORT` as ss writes it.
    public var endpoint: String { "\(address):\(port)" }
}
