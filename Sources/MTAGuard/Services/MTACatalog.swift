/// The one place that knows each MTA by name: what the service managers call it, and which
/// packages hold it per package tool. The facts and version probes are generated from it, and
/// the service catalog reads it; adding an MTA, a unit name or a package is one edit here.
/// (Per-MTA commands with no common shape, such as postfix's own `postfix reload`, stay in
/// `ServiceCatalog`.)
struct MTAEntry: Sendable {
    let name: String
    /// systemd units and SysV scripts it runs as on Linux, in the order asked.
    let linuxUnits: [String]
    /// Its SMF service on Solaris 10/11 (an FMRI or the abbreviation svcs takes).
    let fmri: String
    /// Its init script and boot link name on Solaris before SMF, when it has one there.
    let solarisRC: Bool
    /// Commands that print its version (the first that answers wins), where it has its own.
    let versionCommands: [String]
    /// Packages holding it: Debian's, RPM's, Solaris 11 IPS.
    let dpkg: [String]
    let rpm: [String]
    let ips: [String]
    /// Where each OS family keeps its binary, besides PATH (sendmail: Linux, AIX and HP-UX
    /// /usr/sbin, Solaris /usr/lib and, on 11, /usr/lib/smtp/sendmail).
    var binaryPaths: [String] = []
}

enum MTACatalog {
    static let all: [MTAEntry] = [
        MTAEntry(
            name: "sendmail", linuxUnits: ["sendmail"], fmri: "svc:/network/smtp:sendmail", solarisRC: true,
            versionCommands: [], dpkg: ["sendmail-bin"], rpm: ["sendmail"], ips: ["service/network/smtp/sendmail"],
            binaryPaths: ["/usr/sbin/sendmail", "/usr/lib/sendmail", "/usr/lib/smtp/sendmail/sendmail"]),
        MTAEntry(
            name: "postfix", linuxUnits: ["postfix"], fmri: "postfix", solarisRC: true,
            versionCommands: ["postconf"], dpkg: ["postfix"], rpm: ["postfix"], ips: ["service/network/smtp/postfix"]),
        MTAEntry(
            name: "exim", linuxUnits: ["exim4", "exim"], fmri: "exim", solarisRC: false,
            versionCommands: ["exim4", "exim"], dpkg: ["exim4-daemon-light", "exim4-daemon-heavy"], rpm: ["exim"], ips: []),
    ]

    static var names: [String] { all.map(\.name) }

    static func entry(_ name: String) -> MTAEntry? { all.first { $0.name == name } }

    /// Every Linux unit name, in catalog order.
    static var linuxUnits: [String] { all.flatMap(\.linuxUnits) }

    /// `case $VAR in` arms mapping each of `names(entry)` to its MTA (`m=NAME`), as shell code.
    static func caseArms(_ names: (MTAEntry) -> [String]) -> ShellCode {
        var arms: ShellCode = ""
        for entry in all {
            for n in names(entry) { arms += "\(n)) m=\(entry.name);; " }
        }
        return arms
    }

    /// `PACKAGE:MTA` words for one package tool.
    static func packageWords(_ packages: (MTAEntry) -> [String]) -> [String] {
        all.flatMap { e in packages(e).map { "\($0):\(e.name)" } }
    }
}
