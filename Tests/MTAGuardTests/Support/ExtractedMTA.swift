// A real sendmail or exim per test, run from its Debian package without installing it.
//
//     let mta = try ExtractedMTA.sendmail()        // or .exim(), .exim(acceptVRFYAndEXPN: true)
//     defer { mta.stop() }                         // ALWAYS, right after start
//     let r = try mta.run([Repo.binary, "check", "--smtp-port", String(mta.port), ...])
//
// sendmail and exim conflict with postfix (this machine's MTA) as packages, so
// Tests/mta/fetch.sh (`make mtas`) downloads their .debs and unpacks them under
// $MTAGUARD_MTAS (default .build/mtas). When they are not there, `start` throws an error
// that says to run `make mtas`: the test fails, it is not skipped.
//
// Layout under `root` (a fresh 0755 folder in the temp dir):
//     root/etc/mail         sendmail: sendmail.mc, and sendmail.cf built from it with m4 and the
//                           unpacked cf/m4/cf.m4 (PrivacyOptions=authwarnings: VRFY and EXPN
//                           answer 250); aliases. exim: empty
//     root/etc/postfix      empty: inside `run` the machine's postfix configuration is out of sight
//     root/etc/exim4/exim4.conf   exim: Debian's exim4.conf.template behind the macros that
//                           update-exim4.conf would set (it has `keep_environment =`)
//     root/spool, root/log  queue and logs (owned by Debian-exim for exim)
//     root/sbin             laid over /usr/sbin inside `run`: a `sendmail` wrapper (sendmail), or
//                           an `exim4` wrapper and `sendmail -> exim4` as Debian's exim has it
//     root/mta.log          the MTAs' stderr: read it when something fails
//
// The SMTP side is a loopback "inetd" (`LoopbackInetd`): it listens on 127.0.0.1 with a port
// the kernel picks, and runs the MTA's `-bs` mode on each connection with the socket as its
// stdin and stdout. sendmail needs a fully qualified host name (it stalls a minute on a short
// one), so it runs under `unshare -u` with one set. `stop()` ends the bridge and every MTA
// process it started, by pid.

import Foundation
import Testing

#if canImport(Glibc)
import Glibc
#endif

struct ExtractedMTAError: Error, CustomStringConvertible {
    var description: String
}

/// sendmail and exim as Tests/mta/fetch.sh unpacked them.
struct MTAPackages: Sendable {
    let folder: String

    /// `$MTAGUARD_MTAS` (the Makefile sets it), else `.build/mtas` in the repository.
    static func locate() throws -> MTAPackages {
        let env = ProcessInfo.processInfo.environment["MTAGUARD_MTAS"] ?? ""
        let packages = MTAPackages(folder: env.isEmpty ? Repo.root + "/.build/mtas" : env)
        let needed = [packages.sendmailBinary, packages.eximBinary, packages.cfDirectory + "/m4/cf.m4", packages.eximTemplate]
        let missing = needed.filter { !FileManager.default.fileExists(atPath: $0) }
        guard missing.isEmpty, FileManager.default.fileExists(atPath: packages.folder + "/.complete") else {
            throw ExtractedMTAError(description: """
                sendmail and exim are not unpacked in \(packages.folder) (missing: \
                \(missing.isEmpty ? ".complete" : missing.joined(separator: ", "))): run `make mtas` \
                (bash Tests/mta/fetch.sh \(packages.folder)) first
                """)
        }
        return packages
    }

    var sendmailBinary: String { folder + "/sendmail/usr/libexec/sendmail/sendmail" }
    var sendmailLibraries: String { libraries(folder + "/sendmail") }
    var cfDirectory: String { folder + "/sendmail/usr/share/sendmail/cf" }
    var eximBinary: String { folder + "/exim/usr/sbin/exim4" }
    var eximLibraries: String { libraries(folder + "/exim") }
    var eximTemplate: String { folder + "/exim/etc/exim4/exim4.conf.template" }

    /// The upstream version of a downloaded package: `8.17.1.9-2+deb12u2` → `8.17.1.9`.
    func upstreamVersion(of package: String) throws -> String {
        let debs = (try? FileManager.default.contentsOfDirectory(atPath: folder + "/debs")) ?? []
        guard let deb = debs.first(where: { $0.hasPrefix(package + "_") && $0.hasSuffix(".deb") }) else {
            throw ExtractedMTAError(description: "no \(package)_*.deb in \(folder)/debs: run `make mtas`")
        }
        let r = try runCommand(["dpkg-deb", "-f", folder + "/debs/" + deb, "Version"])
        var version = Substring(r.stdout.trimmingCharacters(in: .whitespacesAndNewlines))
        if let colon = version.firstIndex(of: ":") { version = version[version.index(after: colon)...] }
        if let dash = version.lastIndex(of: "-") { version = version[..<dash] }
        guard r.status == 0, !version.isEmpty else { throw ExtractedMTAError(description: "dpkg-deb -f \(deb) Version: \(r)") }
        return String(version)
    }

    /// `usr/lib/<multiarch>` under an unpacked package set.
    private func libraries(_ base: String) -> String {
        let lib = base + "/usr/lib"
        let arch = (try? FileManager.default.contentsOfDirectory(atPath: lib))?.first { $0.hasSuffix("-linux-gnu") }
        return lib + "/" + (arch ?? "x86_64-linux-gnu")
    }
}

final class ExtractedMTA: Sendable {
    enum Kind: String, Sendable { case sendmail, exim }

    /// The host name the MTAs and `run` see: sendmail wants a fully qualified one.
    static let hostName = "mta.example.test"

    let kind: Kind
    let packages: MTAPackages
    let root: String
    /// The port the bridge listens on, at `address`.
    var port: UInt16 { bridge.port }
    /// 127.0.0.1, or the address `sendmail(address:)` or `exim(address:)` was given.
    var address: String { bridge.address }
    /// `root/etc/mail/sendmail.cf` (sendmail) or `root/etc/exim4/exim4.conf` (exim).
    let configFile: String
    var logFile: String { root + "/mta.log" }

    /// Debian's layout (`eximDebian`): `run` lays `root/etc` over /etc and `root/varlib` over
    /// /var/lib, so the host's /etc/exim4 and /var/lib/exim4 are the test's.
    let debianLayout: Bool

    private let bridge: LoopbackInetd
    private let state = OnceFlag()

    private init(kind: Kind, packages: MTAPackages, root: String, configFile: String, bridge: LoopbackInetd, debianLayout: Bool = false) {
        self.kind = kind
        self.packages = packages
        self.root = root
        self.configFile = configFile
        self.bridge = bridge
        self.debianLayout = debianLayout
    }

    /// Safety net only: tests must call stop() themselves (defer right after start).
    deinit { stop() }

    // MARK: - start

    /// sendmail from a generic Linux `.mc`: PrivacyOptions=authwarnings, so VRFY and EXPN answer.
    /// Host names come from files only (its own service.switch): no session asks DNS. `address`:
    /// where the bridge listens (a test's veth address, so that sendmail sees an outside client).
    static func sendmail(address: String = "127.0.0.1") throws -> ExtractedMTA {
        let packages = try MTAPackages.locate()
        let root = try makeRoot("sendmail")
        return try starting(root) {
            let mc = """
                divert(-1)
                # mtaguard's live tests: a generic Linux sendmail, its queue and aliases in this folder
                divert(0)dnl
                VERSIONID(`mtaguard live test')dnl
                OSTYPE(`linux')dnl
                define(`QUEUE_DIR', `\(root)/spool')dnl
                define(`ALIAS_FILE', `\(root)/etc/mail/aliases')dnl
                define(`confSERVICE_SWITCH_FILE', `\(root)/etc/mail/service.switch')dnl
                MAILER(`local')dnl
                MAILER(`smtp')dnl

                """
            try write(root + "/etc/mail/sendmail.mc", mc)
            try write(root + "/etc/mail/aliases", "postmaster: root\n")
            try write(root + "/etc/mail/service.switch", "hosts files\naliases files\n")
            let cf = packages.cfDirectory
            let built = try runCommand(["m4", "-D_CF_DIR_=\(cf)/", cf + "/m4/cf.m4", root + "/etc/mail/sendmail.mc"])
            guard built.status == 0, built.stdout.contains("O PrivacyOptions=authwarnings") else {
                throw ExtractedMTAError(description: "m4 did not build a sendmail.cf with PrivacyOptions=authwarnings: \(built)")
            }
            let configFile = root + "/etc/mail/sendmail.cf"
            try write(configFile, built.stdout)
            try wrapper(root + "/sbin/sendmail", binary: packages.sendmailBinary, libraries: packages.sendmailLibraries)
            // A fresh host name per session: unshare -u, then the MTA (same pid throughout).
            let bridge = try LoopbackInetd(
                command: ["unshare", "-u", "bash", "-c", LoopbackInetd.trampoline(hostName: hostName), "bash",
                          packages.sendmailBinary, "-C", configFile, "-bs"],
                environment: ["LD_LIBRARY_PATH": packages.sendmailLibraries], log: root + "/mta.log", address: address)
            return ExtractedMTA(kind: .sendmail, packages: packages, root: root, configFile: configFile, bridge: bridge)
        }
    }

    /// exim with Debian's stock configuration (VRFY 252, EXPN 550), or with
    /// `acl_smtp_vrfy = accept` and/or `acl_smtp_expn = accept` (`accepting: ["vrfy", "expn"]`:
    /// they answer 250).
    /// `macros`: lines put before the template (`MAIN_RELAY_NETS = 0.0.0.0/0`); `address`:
    /// where the bridge listens. Clients' names are never looked up (`MAIN_HOST_LOOKUP = !*`):
    /// no session asks DNS.
    static func exim(accepting: [String] = [], macros: [String] = [], address: String = "127.0.0.1") throws -> ExtractedMTA {
        let packages = try MTAPackages.locate()
        guard let user = getpwnam("Debian-exim") else {
            throw ExtractedMTAError(description: "exim needs the Debian-exim user: run `make mtas` (Tests/mta/fetch.sh creates it)")
        }
        let (uid, gid) = (user.pointee.pw_uid, user.pointee.pw_gid)
        let root = try makeRoot("exim")
        return try starting(root) {
            for dir in ["spool", "log"] {
                guard chown(root + "/" + dir, uid, gid) == 0 else {
                    throw ExtractedMTAError(description: "chown Debian-exim \(root)/\(dir): \(String(cString: strerror(errno)))")
                }
            }
            var conf = """
                # mtaguard's live tests: Debian's exim4.conf.template, with the macros update-exim4.conf would set
                CONFDIR = \(root)/etc/exim4
                SPOOLDIR = \(root)/spool
                MAIN_HARDCODE_PRIMARY_HOSTNAME = \(hostName)
                ETC_MAILNAME = \(hostName)
                MAIN_LOCAL_DOMAINS = @:localhost
                log_file_path = \(root)/log/%slog
                MAIN_HOST_LOOKUP = !*

                """
            for line in macros { conf += line + "\n" }
            // update-exim4.conf always defines it (dc_relay_nets); undefined, relay_from_hosts
            // would name a host called MAIN_RELAY_NETS, looked up in DNS.
            if !macros.contains(where: { $0.hasPrefix("MAIN_RELAY_NETS ") }) { conf += "MAIN_RELAY_NETS = 127.0.0.1 : ::::1\n" }
            for command in accepting { conf += "acl_smtp_\(command) = accept\n" }
            conf += try String(contentsOfFile: packages.eximTemplate, encoding: .utf8)
            let configFile = root + "/etc/exim4/exim4.conf"
            try write(configFile, conf)
            try wrapper(root + "/sbin/exim4", binary: packages.eximBinary, libraries: packages.eximLibraries)
            try FileManager.default.createSymbolicLink(atPath: root + "/sbin/sendmail", withDestinationPath: "exim4")
            let bridge = try LoopbackInetd(
                command: ["bash", "-c", LoopbackInetd.trampoline(hostName: nil), "bash", packages.eximBinary, "-C", configFile, "-bs"],
                environment: ["LD_LIBRARY_PATH": packages.eximLibraries], log: root + "/mta.log", address: address)
            return ExtractedMTA(kind: .exim, packages: packages, root: root, configFile: configFile, bridge: bridge)
        }
    }

    /// exim as Debian installs it without /etc/exim4/exim4.conf: Debian's stock conf.d (split,
    /// `dc_use_split_config='true'`) or exim4.conf.template (unsplit) under `root/etc/exim4`,
    /// with `update-exim4.conf.conf` as debconf writes it for a local-only MTA, plus a
    /// `conf.d/main/00_mtaguard_test` (or localmacros) with this test's spool, log and host name;
    /// `edits` appended to source files (paths relative to /etc/exim4). Debian's own
    /// update-exim4.conf (from the package) builds `/var/lib/exim4/config.autogenerated` first,
    /// and each SMTP connection runs `exim4 -bs` with no `-C`, in a mount namespace with the
    /// test's /etc and /var/lib laid (read-only) over the machine's: exim finds its
    /// configuration where Debian's exim does.
    static func eximDebian(split: Bool = true, edits: [String: String] = [:]) throws -> ExtractedMTA {
        let packages = try MTAPackages.locate()
        guard let user = getpwnam("Debian-exim") else {
            throw ExtractedMTAError(description: "exim needs the Debian-exim user: run `make mtas` (Tests/mta/fetch.sh creates it)")
        }
        let (uid, gid) = (user.pointee.pw_uid, user.pointee.pw_gid)
        let root = try makeRoot("exim-debian")
        for sub in ["varlib/exim4", ".etc-work", ".varlib-work"] {
            try FileManager.default.createDirectory(
                atPath: root + "/" + sub, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o755])
        }
        return try starting(root) {
            for dir in ["spool", "log"] {
                guard chown(root + "/" + dir, uid, gid) == 0 else {
                    throw ExtractedMTAError(description: "chown Debian-exim \(root)/\(dir): \(String(cString: strerror(errno)))")
                }
            }
            let stock = packages.folder + "/exim/etc/exim4"
            let conf = root + "/etc/exim4"
            let copy = try runCommand(["cp", "-R", stock + "/conf.d", stock + "/exim4.conf.template", conf + "/"])
            guard copy.status == 0 else { throw ExtractedMTAError(description: "copying Debian's exim4 configuration: \(copy)") }
            try write(root + "/etc/mailname", hostName + "\n")
            try write(conf + "/update-exim4.conf.conf", """
                dc_eximconfig_configtype='local'
                dc_other_hostnames=''
                dc_local_interfaces='127.0.0.1 ; ::1'
                dc_readhost=''
                dc_relay_domains=''
                dc_minimaldns='false'
                dc_relay_nets=''
                dc_smarthost=''
                CFILEMODE='644'
                dc_use_split_config='\(split)'
                dc_hide_mailname=''
                dc_mailname_in_oh='true'
                dc_localdelivery='mail_spool'

                """)
            let local = """
                # mtaguard's live tests: where this test's exim keeps its queue and logs
                SPOOLDIR = \(root)/spool
                MAIN_HARDCODE_PRIMARY_HOSTNAME = \(hostName)
                log_file_path = \(root)/log/%slog

                """
            try write(conf + (split ? "/conf.d/main/00_mtaguard_test" : "/exim4.conf.localmacros"), local)
            for (file, text) in edits.sorted(by: { $0.key < $1.key }) {
                let path = conf + "/" + file
                let old = (try? String(contentsOfFile: path, encoding: .utf8)) ?? ""
                try write(path, old + text)
            }
            try wrapper(root + "/sbin/exim4", binary: packages.eximBinary, libraries: packages.eximLibraries)
            try FileManager.default.createSymbolicLink(atPath: root + "/sbin/sendmail", withDestinationPath: "exim4")
            let tool = root + "/sbin/update-exim4.conf"
            try FileManager.default.copyItem(atPath: packages.folder + "/exim/usr/sbin/update-exim4.conf", toPath: tool)
            chmod(tool, 0o755)
            let bridge = try LoopbackInetd(
                command: ["unshare", "-m", "--propagation", "private", "bash", "-c",
                          Self.readOnlyLayers + LoopbackInetd.trampoline(hostName: nil), "bash", packages.eximBinary, "-bs"],
                environment: ["LD_LIBRARY_PATH": packages.eximLibraries, "MTG_ROOT": root], log: root + "/mta.log")
            let made = ExtractedMTA(
                kind: .exim, packages: packages, root: root, configFile: root + "/varlib/exim4/config.autogenerated",
                bridge: bridge, debianLayout: true)
            // As the package's postinst does: build the configuration once.
            let built = try made.run(["update-exim4.conf"])
            guard built.status == 0 else {
                made.stop()
                throw ExtractedMTAError(description: "update-exim4.conf: \(built)")
            }
            return made
        }
    }

    /// bash that lays the test's /etc and /var/lib over the machine's, read-only (an overlay of
    /// lower layers only: any number of connections at once, none holding a work folder).
    static let readOnlyLayers = #"mount -t overlay overlay -o "lowerdir=$MTG_ROOT/etc:/etc" /etc && "#
        + #"mount -t overlay overlay -o "lowerdir=$MTG_ROOT/varlib:/var/lib" /var/lib || exit 1; "#

    /// Runs `body`; checks that the MTA greets with 220 through the bridge; on any failure stops
    /// what was started, removes `root` and throws with the MTA's log.
    private static func starting(_ root: String, _ body: () throws -> ExtractedMTA) throws -> ExtractedMTA {
        let mta: ExtractedMTA
        do {
            mta = try body()
        } catch {
            try? FileManager.default.removeItem(atPath: root)
            throw error
        }
        do {
            let client = try SMTPClient(port: mta.port, timeout: 20, host: mta.address)
            let greeting = client.greeting
            client.close()
            guard greeting.code == 220 else { throw SMTPError.unexpectedGreeting(greeting) }
            return mta
        } catch {
            let log = (try? String(contentsOfFile: mta.logFile, encoding: .utf8)) ?? ""
            mta.stop()
            throw ExtractedMTAError(description: "\(mta.kind.rawValue) did not greet on 127.0.0.1:\(mta.port): \(error)\n--- log ---\n\(log)")
        }
    }

    // MARK: - use

    /// Runs `argv` as on a host where this MTA is installed: in a private mount and UTS
    /// namespace with host name `hostName`, `root/etc/mail` over /etc/mail, the empty
    /// `root/etc/postfix` over /etc/postfix and, with `wrappers`, `root/sbin` laid over
    /// /usr/sbin (an overlay: the rest of /usr/sbin stays). Directories are bound, never single
    /// files, so mtaguard's replace-by-rename works.
    /// With `layingEtc` (always for Debian's layout), `root/etc` and `root/varlib` are laid over
    /// /etc and /var/lib (overlays whose upper layers are the test's): the MTA's files under /etc
    /// (/etc/exim4/exim4.conf) are the test's, and a write there lands in `root`.
    func run(_ argv: [String], environment: [String: String] = [:], wrappers: Bool = true, layingEtc: Bool = false) throws -> CommandResult {
        // The overlays' folders, also for a machine without /etc/mail (a fresh Debian has none):
        // there the test's /etc is laid over the machine's, whose /etc/mail it then holds.
        for sub in ["varlib", ".etc-work", ".varlib-work"] {
            try FileManager.default.createDirectory(atPath: root + "/" + sub, withIntermediateDirectories: true)
        }
        let script = """
            hostname "$3" &&
            if [ "$4" = yes ] || [ ! -d /etc/mail ] || [ ! -d /etc/postfix ]; then
              mount -t overlay overlay -o "lowerdir=/etc,upperdir=$1/etc,workdir=$1/.etc-work" /etc &&
              mount -t overlay overlay -o "lowerdir=/var/lib,upperdir=$1/varlib,workdir=$1/.varlib-work" /var/lib || exit 125
            fi &&
            mount --bind "$1/etc/mail" /etc/mail && mount --bind "$1/etc/postfix" /etc/postfix &&
            if [ "$2" = yes ]; then
              mount -t overlay overlay -o "lowerdir=/usr/sbin,upperdir=$1/sbin,workdir=$1/.sbin-work" /usr/sbin || exit 125
            fi && shift 4 && exec "$@"
            """
        var env = ["PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"]
        env.merge(environment) { _, new in new }
        return try runCommand(
            ["unshare", "-m", "-u", "--propagation", "private", "sh", "-c", script, "sh", root, wrappers ? "yes" : "no",
             Self.hostName, debianLayout || layingEtc ? "yes" : "no"] + argv,
            environment: env)
    }

    /// A NEW SMTP session through the bridge: checks the 220 greeting, sends `commands`, QUIT.
    /// One reply per command.
    func smtp(_ commands: [String]) throws -> [SMTPReply] {
        let client = try SMTPClient(port: port, timeout: 10, host: address)
        defer { client.close() }
        guard client.greeting.code == 220 else { throw SMTPError.unexpectedGreeting(client.greeting) }
        return try commands.map { try client.send($0) }
    }

    /// The MTA's log (its stderr, and exim's own log files).
    func logs() -> String {
        let files = [logFile, root + "/log/mainlog", root + "/log/paniclog"]
        return files.compactMap { file in (try? String(contentsOfFile: file, encoding: .utf8)).map { "--- \(file)\n\($0)" } }
            .joined(separator: "\n")
    }

    // MARK: - stop

    /// Stops the bridge and every MTA process it started (by pid), then removes `root`.
    /// Idempotent; never throws.
    func stop() {
        guard state.markStopped() else { return }
        bridge.stop()
        try? FileManager.default.removeItem(atPath: root)
    }

    // MARK: - internals

    /// A fresh 0755 folder (the exim user must traverse it) with the layout above.
    private static func makeRoot(_ label: String) throws -> String {
        let dir = try TempDir("mta-\(label)")
        chmod(dir.path, 0o755)
        for sub in ["etc/mail", "etc/postfix", "etc/exim4", "spool", "log", "sbin", ".sbin-work"] {
            try FileManager.default.createDirectory(
                atPath: dir.path + "/" + sub, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o755])
        }
        return dir.path
    }

    private static func write(_ path: String, _ text: String) throws {
        try Data(text.utf8).write(to: URL(fileURLWithPath: path))
        chmod(path, 0o644)
    }

    /// A script that runs an unpacked binary with its libraries.
    private static func wrapper(_ path: String, binary: String, libraries: String) throws {
        try write(path, """
            #!/bin/sh
            # unpacked from its Debian package by Tests/mta/fetch.sh
            LD_LIBRARY_PATH='\(libraries)'; export LD_LIBRARY_PATH
            exec '\(binary)' "$@"

            """)
        chmod(path, 0o755)
    }
}

/// A loopback "inetd": listens on 127.0.0.1 (the kernel picks the port) and, for every
/// connection, starts `command` with the socket as its stdin and stdout and `log` as its
/// stderr, each in a process group of its own. `stop()` ends the listener and every process it
/// started: SIGTERM to each one's group, SIGKILL after 3 s, each one reaped by its pid.
final class LoopbackInetd: @unchecked Sendable {
    let port: UInt16
    private let listener: Int32
    private let logFD: Int32
    private let argv: [String]
    private let environment: [String]
    private let lock = NSLock()
    private var children: [pid_t] = []
    private var stopping = false
    private let done = DispatchSemaphore(value: 0)

    /// bash run by each connection before the MTA: sets the host name (inside `unshare -u`),
    /// closes every descriptor the child inherited beyond 0-2 (pipes of other tests' commands
    /// must not be held open by an MTA), then execs the MTA in the same process.
    static func trampoline(hostName: String?) -> String {
        (hostName.map { "hostname \($0) || exit 1; " } ?? "")
            + #"for p in /proc/$$/fd/*; do n=${p##*/}; [ "$n" -gt 2 ] && exec {n}>&-; done; exec "$@""#
    }

    /// The dotted IPv4 address it listens on: 127.0.0.1, or a test's own veth address.
    let address: String

    init(command: [String], environment: [String: String], log: String, address: String = "127.0.0.1") throws {
        self.address = address
        var env = ProcessInfo.processInfo.environment
        env.merge(environment) { _, new in new }
        self.environment = env.map { "\($0.key)=\($0.value)" }
        let name = command[0]
        guard let exe = name.hasPrefix("/") ? name : ["/usr/bin", "/bin", "/usr/sbin", "/sbin"].map({ $0 + "/" + name })
            .first(where: { access($0, X_OK) == 0 })
        else { throw ExtractedMTAError(description: "\(name) not found in /usr/bin, /bin, /usr/sbin or /sbin") }
        argv = [exe] + command.dropFirst()

        logFD = open(log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o644)
        guard logFD >= 0 else { throw LoopbackSocketError(operation: "open \(log)", code: errno) }
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else {
            close(logFD)
            throw LoopbackSocketError(operation: "socket", code: errno)
        }
        guard var addr = ipv4Address(address, port: 0) else {
            close(fd)
            close(logFD)
            throw ExtractedMTAError(description: "not an IPv4 address: \(address)")
        }
        var len = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { sa in
                bind(fd, sa, len) == 0 && listen(fd, 16) == 0 && getsockname(fd, sa, &len) == 0
            }
        }
        guard bound, addr.sin_port != 0 else {
            let code = errno
            close(fd)
            close(logFD)
            throw LoopbackSocketError(operation: "listen on \(address):0", code: code)
        }
        listener = fd
        port = UInt16(bigEndian: addr.sin_port)
        let thread = Thread { [self] in serve() }
        thread.stackSize = 256 * 1024
        thread.start()
    }

    /// Accepts until `stop()`; polls so that it notices the stop within 0.1 s.
    private func serve() {
        defer { done.signal() }
        while true {
            reapExited()
            if lock.withLock({ stopping }) { return }
            var pfd = pollfd(fd: listener, events: Int16(POLLIN), revents: 0)
            guard poll(&pfd, 1, 100) > 0 else { continue }
            let client = accept(listener, nil, nil)
            guard client >= 0 else { continue }
            _ = fcntl(client, F_SETFD, FD_CLOEXEC)
            if let pid = spawn(stdio: client) { lock.withLock { children.append(pid) } }
            close(client)
        }
    }

    private func spawn(stdio client: Int32) -> pid_t? {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_adddup2(&actions, client, 0)
        posix_spawn_file_actions_adddup2(&actions, client, 1)
        posix_spawn_file_actions_adddup2(&actions, logFD, 2)
        var attr = posix_spawnattr_t()
        posix_spawnattr_init(&attr)
        defer { posix_spawnattr_destroy(&attr) }
        // Own process group; default signal handling (the test runner ignores SIGPIPE, and an
        // ignored signal would stay ignored across exec); nothing blocked.
        var all = sigset_t(), none = sigset_t()
        sigfillset(&all)
        sigemptyset(&none)
        posix_spawnattr_setsigdefault(&attr, &all)
        posix_spawnattr_setsigmask(&attr, &none)
        posix_spawnattr_setpgroup(&attr, 0)
        posix_spawnattr_setflags(&attr, Int16(POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK))
        let cArgs = argv.map { strdup($0) } + [nil]
        let cEnv = environment.map { strdup($0) } + [nil]
        defer { (cArgs + cEnv).forEach { free($0) } }
        var pid: pid_t = 0
        let rc = posix_spawn(&pid, argv[0], &actions, &attr, cArgs, cEnv)
        if rc != 0 {
            let line = "LoopbackInetd: posix_spawn \(argv[0]): \(String(cString: strerror(rc)))\n"
            _ = line.withCString { write(logFD, $0, strlen($0)) }
            return nil
        }
        return pid
    }

    /// Reaps the children that have exited (each by its pid).
    private func reapExited() {
        lock.withLock {
            children.removeAll { pid in
                var status: Int32 = 0
                let r = waitpid(pid, &status, WNOHANG)
                return r == pid || (r < 0 && errno == ECHILD)
            }
        }
    }

    /// Idempotent; never throws. (Call it: the accepting thread keeps the bridge alive.)
    func stop() {
        let first = lock.withLock { () -> Bool in
            defer { stopping = true }
            return !stopping
        }
        guard first else { return }
        done.wait()
        close(listener)
        let pids = lock.withLock { children }
        for pid in pids {
            kill(-pid, SIGTERM)
            kill(pid, SIGTERM)
        }
        let deadline = monotonicNow() + 3
        while monotonicNow() < deadline {
            reapExited()
            if lock.withLock({ children.isEmpty }) { break }
            usleep(20_000)
        }
        for pid in lock.withLock({ children }) {
            kill(-pid, SIGKILL)
            kill(pid, SIGKILL)
            var status: Int32 = 0
            _ = waitpid(pid, &status, 0)
        }
        lock.withLock { children.removeAll() }
        close(logFD)
    }
}

/// The evidence of every finding in a `check --format json` report.
func checkEvidence(_ json: String) throws -> [[String: Any]] {
    let report = try #require(try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any])
    let hosts = report["hosts"] as? [[String: Any]] ?? []
    return hosts.flatMap { $0["findings"] as? [[String: Any]] ?? [] }.flatMap { $0["evidence"] as? [[String: Any]] ?? [] }
}
