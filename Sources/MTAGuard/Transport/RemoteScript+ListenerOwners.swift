/// Which process holds each listening socket on the ports asked (SRV-004 in mode disable), as
/// the host's own tools tell: Solaris `pfiles` over every pid, AIX `netstat -Aan` with
/// `rmsock PCB tcpcb`, elsewhere `ss -ltnp`, else `lsof -nP -iTCP:PORT -sTCP:LISTEN`, else
/// `netstat -ltnp`. The tool's lines come back as they are (`lproc LINE`, after `lproc-via
/// COMMAND`) and are parsed here; a host without the tool says `lproc-none WHAT`. Nothing is
/// ever stopped or killed: the answer only names what a person must stop.
extension RemoteScript {
    func listenerOwnerProbe(ports: [UInt16]) -> ShellCode {
        guard !ports.isEmpty else { return "" }
        let list = ports.map(String.init)
        return """
            mtg_lpp=\(list.joined(separator: " "))
            mtg_lpc=\(list.joined(separator: ","))
            echo "$M lproc-uid $(id -u 2>/dev/null)"
            case $(uname -s 2>/dev/null) in
            SunOS)
              # pfiles over every pid: the head line (PID: COMMAND), each socket's fd line, its
              # sockname and, for a connected one, its peername.
              if command -v pfiles >/dev/null 2>&1; then
                echo "$M lproc-via pfiles"
                mtg_pu=0
                # The pids are a glob: on for the loop, as it was after it.
                case $- in *f*) mtg_nf=yes; set +f;; *) mtg_nf=;; esac
                for mtg_p in /proc/[0-9]*; do
                  mtg_p=${mtg_p#/proc/}
                  if mtg_po=$(pfiles "$mtg_p" 2>/dev/null); then
                    printf '%s\\n' "$mtg_po" | while IFS= read -r mtg_x; do
                      case $mtg_x in "$mtg_p:"*|*S_IFSOCK*|*sockname:*|*peername:*) echo "$M lproc $mtg_x";; esac
                    done
                  else
                    mtg_pu=$((mtg_pu + 1))
                  fi
                done
                if [ -n "$mtg_nf" ]; then set -f; fi
                echo "$M lproc-unexamined $mtg_pu"
              else
                echo "$M lproc-none the host has no pfiles"
              fi;;
            AIX)
              # netstat -Aan names each socket's protocol control block; rmsock names its process.
              if ! command -v rmsock >/dev/null 2>&1; then
                echo "$M lproc-none the host has no rmsock"
              elif mtg_po=$(netstat -Aan 2>/dev/null); then
                echo "$M lproc-via rmsock"
                printf '%s\\n' "$mtg_po" | while read -r mtg_pcb _ _ _ mtg_la _ mtg_st _; do
                  [ "$mtg_st" = LISTEN ] || continue
                  case $mtg_pcb in ''|*[!0-9a-fA-F]*) continue;; esac
                  for mtg_q in $mtg_lpp; do
                    case $mtg_la in *."$mtg_q")
                      rmsock "$mtg_pcb" tcpcb 2>&1 | while IFS= read -r mtg_y; do echo "$M lproc $mtg_la $mtg_y"; done;;
                    esac
                  done
                done
              else
                echo "$M lproc-none netstat -Aan exited $?"
              fi;;
            *)
              if command -v ss >/dev/null 2>&1 && mtg_po=$(ss -ltnp 2>/dev/null); then
                echo "$M lproc-via ss -ltnp"
              elif command -v lsof >/dev/null 2>&1; then
                # lsof exits 1 when it found nothing: its lines say what it found.
                echo "$M lproc-via lsof -nP -iTCP:$mtg_lpc -sTCP:LISTEN"
                mtg_po=$(lsof -nP -iTCP:"$mtg_lpc" -sTCP:LISTEN 2>/dev/null)
              elif command -v netstat >/dev/null 2>&1 && mtg_po=$(netstat -ltnp 2>/dev/null); then
                echo "$M lproc-via netstat -ltnp"
              else
                mtg_po=
                echo "$M lproc-none the host has none of ss, lsof and netstat -p (or each failed)"
              fi
              printf '%s\\n' "$mtg_po" | while IFS= read -r mtg_x; do
                case $mtg_x in *LISTEN*) echo "$M lproc $mtg_x";; esac
              done;;
            esac

            """
    }

    /// What `listenerOwnerProbe` printed, on the ports it asked; at most `bound` sockets.
    struct ListenerOwnerLines {
        static let bound = 4096
        var asked = false
        var owners = ListenerOwners()
        /// Solaris: the pid whose pfiles lines follow, its program, and the socket being read.
        private var pfilesPID: (pid: Substring, name: Substring)?
        private var pfilesSocket: (port: UInt16, address: String)?

        mutating func read(_ word: String, _ arg: String) {
            let arg = arg.drop(while: { $0 == " " })
            switch word {
            case "lproc-uid":
                asked = true
                owners.root = UInt32(arg).map { $0 == 0 }
            case "lproc-via":
                asked = true
                owners.command = String(arg.prefix(80))
            case "lproc-none":
                asked = true
                owners.unavailable = String(arg).trimmed(200)
            case "lproc-unexamined":
                finishPfilesSocket()
                owners.unexamined = Int(arg.prefix(9)) ?? 0
            case "lproc":
                guard owners.entries.count < Self.bound else { return }
                switch owners.command {
                case "pfiles": readPfiles(arg)
                case "rmsock": readRmsock(arg)
                default: readListing(arg)
                }
            default: break
            }
        }

        /// `ss -ltnp`, `lsof`, `netstat -ltnp`: one line per socket, its process on it.
        private mutating func readListing(_ line: Substring) {
            guard let socket = ListeningSocket(line: String(line)) else { return }
            let fields = line.split(whereSeparator: { $0 == " " || $0 == "\t" })
            var found: [ListenerProcess] = []
            if let users = line.range(of: "users:(") {
                // ss: users:(("master",pid=123,fd=13),("master",pid=124,fd=13))
                var rest = line[users.upperBound...]
                while let open = rest.range(of: "(\""), let close = rest[open.upperBound...].range(of: "\",pid=") {
                    let digits = rest[close.upperBound...].prefix(while: \.isNumber)
                    if let p = ListenerProcess(pid: digits, name: rest[open.upperBound..<close.lowerBound]) { found.append(p) }
                    rest = rest[close.upperBound...]
                }
            } else if line.hasSuffix("(LISTEN)"), let at = fields.indices.dropFirst().first(where: { fields[$0].allSatisfy(\.isNumber) }) {
                // lsof: COMMAND PID USER FD TYPE DEVICE SIZE/OFF NODE NAME (LISTEN)
                if let p = ListenerProcess(pid: fields[at], name: fields[..<at].joined(separator: " ")) { found.append(p) }
            } else if fields.count >= 7, fields[5] == "LISTEN" {
                // netstat -ltnp: … LISTEN PID/Program ("-" when it may not tell)
                let last = fields[6...].joined(separator: " ")
                if let slash = last.firstIndex(of: "/"),
                   let p = ListenerProcess(pid: last[..<slash], name: last[last.index(after: slash)...]) { found.append(p) }
            }
            for p in found { owners.entries.append(.init(port: socket.port, address: socket.address, process: p)) }
        }

        /// Solaris pfiles: `123:\t/usr/lib/sendmail -bd -q15m`, then per socket
        /// `  13: S_IFSOCK mode:0666 …`, `sockname: AF_INET 0.0.0.0  port: 25` and, when it is
        /// connected (not listening), `peername: …`.
        private mutating func readPfiles(_ line: Substring) {
            let fields = line.split(whereSeparator: { $0 == " " || $0 == "\t" })
            guard let first = fields.first else { return }
            if fields.count > 1, fields[1].hasPrefix("S_IF") {
                finishPfilesSocket()
            } else if first.hasSuffix(":"), first.dropLast().allSatisfy(\.isNumber) {
                finishPfilesSocket()
                let program = fields.dropFirst().first.map { $0.split(separator: "/").last ?? $0 } ?? ""
                pfilesPID = (first.dropLast(), program)
            } else if first == "sockname:", fields.count >= 5, fields[3] == "port:", let port = UInt16(fields[4]), port != 0 {
                pfilesSocket = (port, String(fields[2]))
            } else if first == "peername:" {
                pfilesSocket = nil
            }
        }

        private mutating func finishPfilesSocket() {
            defer { pfilesSocket = nil }
            guard let socket = pfilesSocket, let owner = pfilesPID,
                  let p = ListenerProcess(pid: owner.pid, name: owner.name) else { return }
            owners.entries.append(.init(port: socket.port, address: socket.address, process: p))
        }

        /// AIX: `*.25 The socket 0xf1000e0000b5c008 is being held by proccess 4522972 (sendmail).`
        /// (rmsock's own spelling); anything else it says of the socket is kept as its refusal.
        private mutating func readRmsock(_ line: Substring) {
            let fields = line.split(separator: " ", maxSplits: 1)
            guard fields.count == 2, let socket = ListeningSocket(line: String(fields[0]) + " x") else { return }
            let said = fields[1]
            if let held = said.range(of: "held by proc"), let space = said[held.upperBound...].firstIndex(of: " ") {
                let rest = said[said.index(after: space)...]
                let digits = rest.prefix(while: \.isNumber)
                if let open = rest.firstIndex(of: "("), let close = rest.lastIndex(of: ")"), open < close,
                   let p = ListenerProcess(pid: digits, name: rest[rest.index(after: open)..<close]) {
                    owners.entries.append(.init(port: socket.port, address: socket.address, process: p))
                    return
                }
            }
            owners.refusals[socket.port] = "rmsock said: " + String(said).trimmed(160)
        }
    }
}
