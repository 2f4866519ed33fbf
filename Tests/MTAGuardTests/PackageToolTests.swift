import Foundation
import Testing

@testable import MTAGuard

/// U-45 on Solaris, AIX and HP-UX: the package that owns the MTA as the platform's own tool
/// reports it (Solaris 11 `pkg`, Solaris 10 `pkginfo`, AIX `lslpp`, HP-UX `swlist`), read from the
/// version probe's `package` lines, and how the judge uses it. The tool outputs are the shapes
/// the vendors' documentation shows: `pkg list -H` (NAME [(PUBLISHER)] VERSION IFO),
/// `pkginfo -l` (`   VERSION:  …`), `lslpp -Lc` (PACKAGE:FILESET:LEVEL:…, after a `#` header)
/// and `swlist -l fileset -a revision` (`#` header lines, then NAME REVISION).
@Suite struct PackageToolTests {
    static let kb = VersionKnowledgeTests.kb
    static let solarisSendmail = "service/network/smtp/sendmail"
    static let installedIPS = "8.15.2-11.4.0.0.1.14.0", newerIPS = "8.15.2-11.4.42.0.0.111.0"

    // MARK: Parser and judge

    static let aix72 = "bos.net:bos.net.tcp.sendmail:7.2.5.0: : :C: :TCP/IP sendmail Applications: : : : : : :0:0:/:2045"

    @Test(arguments: [
        ("sendmail pkg \(solarisSendmail) \(installedIPS) candidate pkg \(newerIPS)",
         PackageInfo(tool: "pkg", name: solarisSendmail, installed: installedIPS, update: .candidate(newerIPS, tool: "pkg"))),
        ("postfix pkg service/network/smtp/postfix 3.2.2-11.4.42.0.0.111.0 none pkg",
         PackageInfo(tool: "pkg", name: "service/network/smtp/postfix", installed: "3.2.2-11.4.42.0.0.111.0", update: .noneNewer(tool: "pkg"))),
        ("sendmail pkginfo SUNWsndmu 11.10.0,REV=2005.01.21.15.53 installed-only pkginfo",
         PackageInfo(tool: "pkginfo", name: "SUNWsndmu", installed: "11.10.0,REV=2005.01.21.15.53", update: .unknown(.listsInstalledOnly(tool: "pkginfo")))),
        ("sendmail lslpp bos.net.tcp.sendmail 7.2.5.0 installed-only lslpp",
         PackageInfo(tool: "lslpp", name: "bos.net.tcp.sendmail", installed: "7.2.5.0", update: .unknown(.listsInstalledOnly(tool: "lslpp")))),
        ("sendmail swlist InternetSrvcs.INETSVCS2-RUN B.11.31.17 installed-only swlist",
         PackageInfo(tool: "swlist", name: "InternetSrvcs.INETSVCS2-RUN", installed: "B.11.31.17", update: .unknown(.listsInstalledOnly(tool: "swlist")))),
    ])
    func packageLineIsRead(line: String, package: PackageInfo) throws {
        let m = "@@0123456789abcdef"
        let mta = String(line.prefix { $0 != " " })
        // The package line may come before or after the version line.
        for out in ["\(m) version \(mta) 8.15.2 /usr/lib/sendmail\n\(m) package \(line)\n",
                    "\(m) package \(line)\n\(m) version \(mta) 8.15.2 /usr/lib/sendmail\n"] {
            #expect(try RemoteScript.Versions(output: out, marker: m, host: "h").facts[mta]?.package == package, "\(out)")
        }
    }

    struct Case: Sendable, CustomStringConvertible {
        var name: String
        var version: String
        var package: PackageInfo
        var status: Status
        /// The whole rule.
        var rule: String
        /// Some note contains each of these.
        var notes: [String] = []
        /// No note contains any of these.
        var absent: [String] = []
        var description: String { name }
    }

    static let upstreamDecides = "knows no candidate on"
    static let cases: [Case] = [
        Case(name: "Solaris 11 pkg with a newer package", version: "8.15.2",
             package: PackageInfo(tool: "pkg", name: solarisSendmail, installed: installedIPS, update: .candidate(newerIPS, tool: "pkg")), status: .fail,
             rule: "package: pkg list -u offers \(solarisSendmail) \(newerIPS), newer than installed \(installedIPS)",
             notes: ["information: upstream: line 8.15 of sendmail is end of life"]),
        Case(name: "Solaris 11 pkg with nothing newer", version: "8.15.2",
             package: PackageInfo(tool: "pkg", name: solarisSendmail, installed: installedIPS, update: .noneNewer(tool: "pkg")), status: .pass,
             rule: "package: pkg list -u offers nothing newer for \(solarisSendmail) than installed \(installedIPS)",
             notes: ["the pkg package decides", "information: CVE-2023-51765 affects 8.15.2"]),
        Case(name: "AIX lslpp: the upstream comparison fails it", version: "8.15.2",
             package: PackageInfo(tool: "lslpp", name: "bos.net.tcp.sendmail", installed: "7.2.5.0", update: .unknown(.listsInstalledOnly(tool: "lslpp"))), status: .fail,
             rule: "package: lslpp reports bos.net.tcp.sendmail 7.2.5.0 and knows no candidate on AIX, so the upstream comparison decides: "
                + "upstream: line 8.15 of sendmail is end of life (lines below 8.18 are no longer maintained; maintained: 8.18.2)",
             notes: ["upstream: 8.15.2 is affected by CVE-2023-51765", "CVE-2023-51765 affects 8.15.2",
                     "information: AIX ships fixes as service packs and interim fixes (instfix -i, emgr -l)"],
             absent: ["package decides"]),
        Case(name: "HP-UX swlist: the upstream comparison passes it", version: "8.18.2",
             package: PackageInfo(tool: "swlist", name: "InternetSrvcs.INETSVCS2-RUN", installed: "B.11.31.17", update: .unknown(.listsInstalledOnly(tool: "swlist"))), status: .pass,
             rule: "package: swlist reports InternetSrvcs.INETSVCS2-RUN B.11.31.17 and knows no candidate on HP-UX, so the upstream comparison decides: "
                + "upstream: 8.18.2 is the latest of line 8.18",
             notes: ["information: HP-UX ships fixes as patches (swlist -l patch)"]),
        Case(name: "Solaris 10 pkginfo", version: "8.14.4",
             package: PackageInfo(tool: "pkginfo", name: "SUNWsndmu", installed: "11.10.0,REV=2005.01.21.15.53", update: .unknown(.listsInstalledOnly(tool: "pkginfo"))), status: .fail,
             rule: "package: pkginfo reports SUNWsndmu 11.10.0,REV=2005.01.21.15.53 and knows no candidate on Solaris 10, so the upstream comparison decides: "
                + "upstream: line 8.14 of sendmail is end of life (lines below 8.18 are no longer maintained; maintained: 8.18.2)",
             notes: ["Solaris 10 ships fixes as patches (showrev -p)"]),
        Case(name: "AIX lslpp with an unreadable sendmail answer", version: "unknown",
             package: PackageInfo(tool: "lslpp", name: "bos.net.tcp.client", installed: "7.1.5.15", update: .unknown(.listsInstalledOnly(tool: "lslpp"))), status: .error,
             rule: "cannot read 'unknown' as a version number of sendmail, and AIX's lslpp knows no candidate for bos.net.tcp.client: nothing decides"),
    ]

    @Test(arguments: cases)
    func judgement(_ c: Case) {
        let v = VersionJudge.judge(mta: "sendmail", version: c.version, package: c.package, settings: [:], knowledge: Self.kb)
        let all = ([v.rule] + v.notes).joined(separator: "\n")
        #expect(v.status == c.status, "\(all)")
        #expect(v.rule == c.rule, "\(all)")
        for n in c.notes { #expect(v.notes.contains { $0.contains(n) }, "missing note '\(n)' in:\n\(all)") }
        for a in c.absent { #expect(!v.notes.contains { $0.contains(a) }, "'\(a)' should not appear in:\n\(all)") }
        // Only a tool that knows candidates can make the package rule ask for an upgrade.
        #expect(VersionJudge.packageDecision(c.package).newer == (c.package.candidate != nil))
        if c.status != .error { #expect(VersionJudge.upstreamDecides(c.package) == v.rule.contains(Self.upstreamDecides)) }
    }

    @Test func aCandidateGivenByAnyToolIsStillTrusted() {
        let p = PackageInfo(tool: "lslpp", name: "bos.net.tcp.sendmail", installed: "7.2.5.0", update: .candidate("7.2.5.1", tool: "lslpp"))
        #expect(!VersionJudge.upstreamDecides(p))
        let v = VersionJudge.judge(mta: "sendmail", version: "8.18.2", package: p, settings: [:], knowledge: Self.kb)
        #expect(v.status == .fail)
        #expect(v.rule == "package: lslpp offers bos.net.tcp.sendmail 7.2.5.1, which differs from installed 7.2.5.0")
    }

    @Test func ipsOrder() {
        #expect(PackageVersion.ips(Self.installedIPS, Self.newerIPS) == -1)
        #expect(PackageVersion.ips(Self.newerIPS, Self.installedIPS) == 1)
        #expect(PackageVersion.ips("8.15.2,5.11-11.4.0.0.1.14.0:20180814T160424Z", Self.installedIPS) == 0)
        #expect(PackageVersion.ips("8.18.1-11.4.0.0.1.14.0", Self.newerIPS) == 1)  // the release first
        #expect(PackageVersion.ips("3.10", "3.9.1") == 1)
        #expect(PackageVersion.ips("0.5.11-0.175.2", "0.5.11-0.175.2.1") == -1)
        #expect(PackageVersion.ips("8.15.2a-1", "8.15.2-1") == nil)
        #expect(PackageVersion.compare(Self.installedIPS, Self.newerIPS, tool: "pkg") == -1)
    }

    /// Solaris 11 pkg updates the package name the probe emits, and reinstalls the version it
    /// read; the tools that know no candidate have no upgrade.
    @Test func upgradeUsesTheNameAndVersionTheProbeRead() {
        let solaris = HostFacts(family: .solaris, release: "5.11", initSystem: .smf, tools: ["pkg"], files: [:])
        let p = PackageInfo(tool: "pkg", name: Self.solarisSendmail, installed: Self.installedIPS, update: .candidate(Self.newerIPS, tool: "pkg"))
        let upgrade = ServiceCatalog.upgrade("sendmail", package: p, facts: solaris)
        #expect(upgrade?.command == ["pkg", "update", Self.solarisSendmail])
        #expect(upgrade?.inverse == ["pkg", "update", "\(Self.solarisSendmail)@\(Self.installedIPS)"])
        let aix = HostFacts(family: .aix, release: "2", initSystem: .src, files: [:])
        let lslpp = PackageInfo(tool: "lslpp", name: "bos.net.tcp.sendmail", installed: "7.2.5.0", update: .unknown(.listsInstalledOnly(tool: "lslpp")))
        #expect(ServiceCatalog.upgrade("sendmail", package: lslpp, facts: aix) == nil)
    }

    // MARK: The probe, in sh, against stand-ins for the platform's tools

    /// Runs the version probe with PATH holding only `tools` (stand-ins, by name) and the POSIX
    /// utilities it uses; returns its `package` lines.
    func packageLines(_ tools: [String: String], bound: Int = 30, timeout: Bool = true) throws -> [String] {
        let dir = try TempDir("pkgtool")
        defer { dir.remove() }
        for (name, body) in tools { try dir.write("bin/" + name, "#!/bin/sh\n" + body + "\n", mode: 0o755) }
        for utility in ["sed", "tr", "head", "grep", "ls", "dirname", "basename", "cat", "cut", "sleep", "true"] + (timeout ? ["timeout"] : []) {
            try FileManager.default.createSymbolicLink(atPath: dir.path + "/bin/" + utility, withDestinationPath: "/usr/bin/" + utility)
        }
        var script = RemoteScript()
        script.packageBound = bound
        let out = try runCommand(["/bin/sh", "-s"], stdin: "M=\(script.marker)\n" + script.versionProbe.text, environment: ["PATH": dir.path + "/bin"])
        #expect(out.status == 0, "\(out)")
        return RemoteScript.reports(out.stdout, marker: script.marker).filter { $0.0 == "package" }.map(\.1)
    }

    static func uname(_ system: String) -> String { "case \"$1\" in -s) echo \(system);; *) echo \(system);; esac" }

    /// `pkg list` as Solaris 11.4 prints it: sendmail with a newer version in the catalog,
    /// postfix from a publisher that is not the first one, and nothing newer for it.
    static let ips = """
        case "$*" in
        "list -H service/network/smtp/sendmail"|"list -u -H service/network/smtp/sendmail")
          echo "service/network/smtp/sendmail                     \(installedIPS)     i--";;
        "list -n -H service/network/smtp/sendmail")
          echo "service/network/smtp/sendmail                     \(newerIPS)   ---";;
        "list -H service/network/smtp/postfix"|"list -n -H service/network/smtp/postfix")
          echo "service/network/smtp/postfix (solaris-userland)   3.2.2-11.4.42.0.0.111.0    i--";;
        "list -u -H service/network/smtp/postfix")
          echo "pkg list: no packages have newer versions available" >&2; exit 1;;
        *) echo "pkg list: no packages matching the following patterns are installed:" >&2; exit 1;;
        esac
        """

    @Test func solaris11ReadsIPSWithItsCandidate() throws {
        #expect(try packageLines(["uname": Self.uname("SunOS"), "pkg": Self.ips]) == [
            "sendmail pkg service/network/smtp/sendmail \(Self.installedIPS) candidate pkg \(Self.newerIPS)",
            "postfix pkg service/network/smtp/postfix 3.2.2-11.4.42.0.0.111.0 none pkg",
        ])
    }

    /// `pkginfo -l` as Solaris 10 prints it.
    @Test func solaris10ReadsTheSVR4Package() throws {
        let pkginfo = """
            [ "$*" = "-l SUNWsndmu" ] || { echo "ERROR: information for \\"$2\\" was not found" >&2; exit 1; }
            cat <<'EOF'
               PKGINST:  SUNWsndmu
                  NAME:  Sendmail user
              CATEGORY:  system
                  ARCH:  sparc
               VERSION:  11.10.0,REV=2005.01.21.15.53
               BASEDIR:  /
                VENDOR:  Sun Microsystems, Inc.
                  DESC:  Sendmail user files
                PSTAMP:  on10ptchfeat20110502130402
              INSTDATE:  Aug 27 2015 21:54
               HOTLINE:  Please contact your local service provider
                STATUS:  completely installed
                 FILES:       52 installed pathnames
            EOF
            """
        #expect(try packageLines(["uname": Self.uname("SunOS"), "pkginfo": pkginfo]) == [
            "sendmail pkginfo SUNWsndmu 11.10.0,REV=2005.01.21.15.53 installed-only pkginfo"
        ])
    }

    /// `lslpp -Lc` as AIX prints it: its header, then PACKAGE:FILESET:LEVEL:STATE:…
    static func lslpp(_ installed: [String: String]) -> String {
        let header = "#Package Name:Fileset:Level:State:PTF Id:Fix State:Type:Description:Destination Dir.:Uninstaller:Message Catalog:Message Set:Message Number:Parent:Automatic:EFIX Locked:Install Path:Build Date"
        let cases = installed.map { fileset, line in "\"-Lc \(fileset)\") echo '\(header)'; echo '\(line)';;" }
        return "case \"$*\" in\n" + cases.joined(separator: "\n")
            + "\n*) echo \"lslpp: 0504-132  Fileset $2 not installed.\" >&2; exit 1;;\nesac"
    }

    @Test(arguments: [
        ("bos.net.tcp.sendmail", aix72, "7.2.5.0"),
        ("bos.net.tcp.client", "bos.net:bos.net.tcp.client:7.1.5.15: : :C:F:TCP/IP Client Support: : : : : : :0:0:/:1806", "7.1.5.15"),
    ])
    func aixReadsTheFilesetThatHoldsSendmail(fileset: String, line: String, level: String) throws {
        // AIX 7.2 has both filesets; sendmail's own comes first.
        var installed = [fileset: line]
        if fileset == "bos.net.tcp.sendmail" {
            installed["bos.net.tcp.client"] = "bos.net:bos.net.tcp.client:7.2.5.0: : :C: :TCP/IP Client Support: : : : : : :1:0:/:2045"
        }
        #expect(try packageLines(["uname": Self.uname("AIX"), "lslpp": Self.lslpp(installed)]) == [
            "sendmail lslpp \(fileset) \(level) installed-only lslpp"
        ])
    }

    /// `swlist -l fileset -a revision` as HP-UX prints it: `#` lines about the session and the
    /// product, then the fileset and its revision.
    static func swlist(_ fileset: String, _ revision: String) -> String {
        """
        [ "$*" = "-l fileset -a revision \(fileset)" ] || { echo "ERROR:   Software \\"$5\\" was not found on host \\"hpux01:/\\"." >&2; exit 1; }
        cat <<'EOF'
        # Initializing...
        # Contacting target "hpux01"...
        #
        # Target:  hpux01:/
        #

        # InternetSrvcs                         \(revision)
          \(fileset)           \(revision)
        EOF
        """
    }

    @Test(arguments: [("InternetSrvcs.INETSVCS2-RUN", "B.11.31.17"), ("InternetSrvcs.INETSVCS-RUN", "B.11.11")])
    func hpuxReadsInternetServices(fileset: String, revision: String) throws {
        #expect(try packageLines(["uname": Self.uname("HP-UX"), "swlist": Self.swlist(fileset, revision)]) == [
            "sendmail swlist \(fileset) \(revision) installed-only swlist"
        ])
    }

    // MARK: rpm and dpkg hosts: the package manager is asked, and its failure read

    static let rpmInstalled = "3.7.11-1.el9", rpmNewer = "3.7.22-1.el9"
    /// rpm as RHEL's answers `rpm -q --qf '%{EPOCHNUM}:%{VERSION}-%{RELEASE}' NAME`: postfix only.
    static let rpm = """
        case "$1 $4" in
        "-q postfix") printf '0:%s' \(rpmInstalled);;
        -q*) echo "package $4 is not installed"; exit 1;;
        *) exit 1;;
        esac
        """

    /// A stand-in that answers `answer` (shell) to exactly `line` and fails loudly otherwise,
    /// so that each case also asserts the command line the probe ran.
    static func only(_ line: String, _ answer: String) -> String {
        "[ \"$*\" = \"\(line)\" ] || { echo \"unexpected: $*\" >&2; exit 2; }\n" + answer
    }

    static let dnfAsk = "-q --cacheonly check-update postfix", yumAsk = "-q -C check-update postfix"
    static let zypperAsk = "--non-interactive --no-refresh list-updates"
    static let updateLine = "echo; echo 'postfix.x86_64                 \(rpmNewer)                 baseos'; exit 100"
    static let zypperTable = """
        echo 'Loading repository data...'; echo 'Reading installed packages...'
        echo 'S | Repository           | Name         | Current Version | Available Version | Arch'
        echo '--+----------------------+--------------+-----------------+-------------------+-------'
        echo 'v | SLES15-SP5-Updates   | postfix-lmdb | 3.7.11-1.el9    | 3.7.22-1.el9      | x86_64'
        echo 'v | SLES15-SP5-Updates   | postfix      | \(rpmInstalled)    | \(rpmNewer)      | x86_64'
        """

    struct ManagerCase: Sendable, CustomStringConvertible {
        var name: String
        var tools: [String: String]
        /// The answer words after `postfix rpm postfix 0:INSTALLED`.
        var answer: String
        var bound = 30
        var timeout = true
        var description: String { name }
    }

    static let managerCases: [ManagerCase] = [
        ManagerCase(name: "dnf: an update (exit 100)", tools: ["dnf": only(dnfAsk, updateLine)], answer: "candidate dnf \(rpmNewer)"),
        ManagerCase(name: "dnf: none (exit 0)", tools: ["dnf": only(dnfAsk, "exit 0")], answer: "none dnf"),
        ManagerCase(name: "dnf: failing (exit 1)",
                    tools: ["dnf": only(dnfAsk, "echo \"Error: Failed to download metadata for repo 'baseos'\" >&2; exit 1")],
                    answer: "failed dnf 1 Error: Failed to download metadata for repo 'baseos'"),
        ManagerCase(name: "dnf: no cache",
                    tools: ["dnf": only(dnfAsk, "echo \"Error: Cache-only enabled but no cache for 'baseos'\" >&2; exit 1")],
                    answer: "nocache dnf 1 Error: Cache-only enabled but no cache for 'baseos'"),
        ManagerCase(name: "dnf: exit 100 without a line for the package",
                    tools: ["dnf": only(dnfAsk, "echo 'postfix-lmdb.x86_64 3.7.22-1.el9 baseos'; exit 100")],
                    answer: "failed dnf 100 postfix-lmdb.x86_64 3.7.22-1.el9 baseos"),
        ManagerCase(name: "dnf: timing out", tools: ["dnf": only(dnfAsk, "exec sleep 600")], answer: "timeout dnf 1", bound: 1),
        ManagerCase(name: "dnf: no timeout on the host, unbounded", tools: ["dnf": only(dnfAsk, "exit 0")], answer: "none dnf", timeout: false),
        ManagerCase(name: "dnf before yum", tools: ["dnf": only(dnfAsk, "exit 0"), "yum": "exit 2"], answer: "none dnf"),
        ManagerCase(name: "yum: an update (exit 100)", tools: ["yum": only(yumAsk, updateLine)], answer: "candidate yum \(rpmNewer)"),
        ManagerCase(name: "yum: none (exit 0)", tools: ["yum": only(yumAsk, "exit 0")], answer: "none yum"),
        ManagerCase(name: "yum: failing (exit 1)", tools: ["yum": only(yumAsk, "echo 'Cannot retrieve repository metadata' >&2; exit 1")],
                    answer: "failed yum 1 Cannot retrieve repository metadata"),
        ManagerCase(name: "zypper: an update", tools: ["zypper": only(zypperAsk, zypperTable)], answer: "candidate zypper \(rpmNewer)"),
        ManagerCase(name: "zypper: none", tools: ["zypper": only(zypperAsk, "echo 'Loading repository data...'; echo 'No updates found.'")],
                    answer: "none zypper"),
        ManagerCase(name: "zypper: repositories skipped (106)",
                    tools: ["zypper": only(zypperAsk, "echo \"Repository 'SLES15-SP5-Updates' is out-of-date.\"; exit 106")],
                    answer: "nocache zypper 106 Repository 'SLES15-SP5-Updates' is out-of-date."),
        ManagerCase(name: "zypper: exit 0 but no table", tools: ["zypper": only(zypperAsk, "echo 'Segmentation fault'")],
                    answer: "failed zypper 0 Segmentation fault"),
        ManagerCase(name: "zypper: failing (exit 7, locked)",
                    tools: ["zypper": only(zypperAsk, "echo 'System management is locked by the application with pid 812 (zypper).'; exit 7")],
                    answer: "failed zypper 7 System management is locked by the application with pid 812 (zypper)."),
        ManagerCase(name: "no package manager", tools: [:], answer: "notool dnf yum zypper"),
    ]

    @Test(arguments: managerCases)
    func rpmHostAsksItsPackageManager(_ c: ManagerCase) throws {
        var tools = c.tools
        tools["rpm"] = Self.rpm
        let lines = try packageLines(tools, bound: c.bound, timeout: c.timeout)
        #expect(lines == ["postfix rpm postfix 0:\(Self.rpmInstalled) \(c.answer)"])
        // And the parser reads each into its three-valued answer.
        let m = "@@0123456789abcdef"
        let out = "\(m) version postfix 3.7.11 postconf\n" + lines.map { "\(m) package \($0)\n" }.joined()
        #expect(try RemoteScript.Versions(output: out, marker: m, host: "h").facts["postfix"]?.package != nil)
    }

    static let debInstalled = "3.7.11-0+deb12u1", debNewer = "3.7.11-0+deb12u2"
    static let dpkgQuery = """
        for a; do p=$a; done
        [ "$p" = postfix ] || exit 1
        printf 'install ok installed \(debInstalled)'
        """
    static func policy(candidate: String, sources: [String]) -> String {
        """
        echo 'postfix:'; echo '  Installed: \(debInstalled)'; echo '  Candidate: \(candidate)'; echo '  Version table:'
        echo ' *** \(debInstalled) 100'
        \(sources.map { "echo '        \($0)'" }.joined(separator: "\n"))
        """
    }

    static let aptCases: [(String, String?, String)] = [
        ("a newer candidate from a repository",
         only("policy postfix", policy(candidate: debNewer, sources: ["500 http://deb.debian.org/debian bookworm/main amd64 Packages", "100 /var/lib/dpkg/status"])),
         "candidate apt-cache \(debNewer)"),
        ("the installed version as candidate, from a repository",
         only("policy postfix", policy(candidate: debInstalled, sources: ["500 http://deb.debian.org/debian bookworm/main amd64 Packages", "100 /var/lib/dpkg/status"])),
         "candidate apt-cache \(debInstalled)"),
        ("no package lists: only /var/lib/dpkg/status",
         only("policy postfix", policy(candidate: debInstalled, sources: ["100 /var/lib/dpkg/status"])),
         "nocache apt-cache 0 postfix:   Installed: \(debInstalled)   Candidate: \(debInstalled)   Version table:  *** \(debInstalled) 100         100 /var/lib/dpkg/status"),
        ("Candidate: (none)", only("policy postfix", policy(candidate: "(none)", sources: ["100 /var/lib/dpkg/status"])), "nocandidate apt-cache"),
        ("no Candidate line", only("policy postfix", "exit 0"), "nocandidate apt-cache"),
        ("failing", only("policy postfix", "echo 'E: Could not open file /var/lib/apt/lists/deb.debian.org_debian_dists_bookworm_InRelease' >&2; exit 100"),
         "failed apt-cache 100 E: Could not open file /var/lib/apt/lists/deb.debian.org_debian_dists_bookworm_InRelease"),
        ("timing out", only("policy postfix", "exec sleep 600"), "timeout apt-cache 1"),
        ("no apt-cache", nil, "notool apt-cache"),
    ]

    @Test(arguments: aptCases)
    func dpkgHostReadsAptCachesFailures(_ name: String, aptCache: String?, answer: String) throws {
        var tools = ["dpkg-query": Self.dpkgQuery]
        tools["apt-cache"] = aptCache
        let lines = try packageLines(tools, bound: 1)
        #expect(lines == ["postfix dpkg postfix \(Self.debInstalled) \(answer)"], "\(name)")
    }

    /// A package line the probe would never print is the host not speaking the protocol, never
    /// a package with no newer version.
    @Test(arguments: [
        "postfix rpm postfix 0:3.7.11-1.el9",
        "postfix rpm postfix 0:3.7.11-1.el9 candidate dnf",
        "postfix rpm postfix 0:3.7.11-1.el9 none",
        "postfix rpm postfix 0:3.7.11-1.el9 none apt-get",
        "postfix rpm postfix 0:3.7.11-1.el9 maybe dnf",
        "postfix rpm postfix 0:3.7.11-1.el9 failed dnf one Error",
        "postfix rpm postfix 0:3.7.11-1.el9 timeout dnf 0",
        "postfix rpm postfix 0:3.7.11-1.el9 notool",
        "postfix rpm postfix 0:3.7.11-1.el9 installed-only lslpp",
        "postfix rpm postfix 0:3.7.11-1.el9 candidate dnf 3.7.22 extra",
        "postfix yast postfix 0:3.7.11-1.el9 none dnf",
    ])
    func aMalformedPackageLineIsAProtocolError(_ line: String) {
        let m = "@@0123456789abcdef"
        do {
            _ = try RemoteScript.Versions(output: "\(m) version postfix 3.7.11 postconf\n\(m) package \(line)\n", marker: m, host: "rhel9")
            Issue.record("read without error: \(line)")
        } catch let e as MTAGuardError {
            #expect(e.code == .hostProtocol, "\(e)")
            #expect(e.host == "rhel9")
            #expect(e.description.contains("unreadable package line"), "\(e)")
        } catch { Issue.record("\(error)") }
    }

    @Test func aToolOfAnotherPlatformIsNotAsked() throws {
        let asked = "echo asked >&2; exit 1"
        #expect(try packageLines(["uname": Self.uname("Linux"), "pkg": asked, "lslpp": asked, "swlist": asked, "pkginfo": asked]).isEmpty)
    }

    // MARK: Lab

    /// Three lab hosts whose /usr/sbin/sendmail answers `-d0.1` as the vendor's sendmail does,
    /// with the platform's package tool beside it: U-45's evidence names the package, and the
    /// rule says which comparison decided.
    @Test func labHostsShowThePackageAndTheRuleThatDecided() throws {
        let hosts: [(String, Shims.Family, version: String, tool: String, body: String)] = [
            ("solaris", .solaris, "8.15.2", "pkg", Self.ips),
            ("aix", .aix, "8.15.2", "lslpp", Self.lslpp(["bos.net.tcp.sendmail": Self.aix72])),
            ("hpux", .hpux, "8.18.2", "swlist", Self.swlist("InternetSrvcs.INETSVCS2-RUN", "B.11.31.17")),
        ]
        let lab = try SSHLab.start(hosts: hosts.map(\.0))
        defer { lab.stop() }
        let backups = try TempDir("pkgtool-lab")
        defer { backups.remove() }
        func executable(_ path: String, _ body: String) throws {
            try Data("#!/bin/sh\n\(body)\n".utf8).write(to: URL(fileURLWithPath: path))
            chmod(path, 0o755)
        }
        for h in hosts {
            try Shims.install(lab, h.0, family: h.1)
            let host = lab.host(h.0)
            try executable(host.shims + "/" + h.tool, h.body)
            try executable(host.directory + "/overlay/usr/sbin/sendmail",
                           "[ \"$1\" = -d0.1 ] && printf 'Version \(h.version)\\n Compiled with: DNSMAP LDAPMAP LOG MAP_REGEX\\n'\nexit 0")
        }

        let r = try mtaguard(["check", "--item", "U-45", "--format", "json", "-i", lab.inventoryPath,
                              "--ssh-config", lab.sshConfigPath, "--connect-timeout", "60"], backups: backups.path)
        #expect(r.status == 2, "\(r)")
        let report = try #require(try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any])
        var sendmail: [String: [String: Any]] = [:]
        for host in report["hosts"] as? [[String: Any]] ?? [] {
            let evidence = (host["findings"] as? [[String: Any]] ?? []).flatMap { $0["evidence"] as? [[String: Any]] ?? [] }
            sendmail[host["host"] as? String ?? "?"] = evidence.first { $0["mta"] as? String == "sendmail" && $0["file"] as? String == "/usr/sbin/sendmail" }
        }
        let expected: [String: (text: String, status: String, note: [String])] = [
            "solaris": ("sendmail 8.15.2 (pkg \(Self.solarisSendmail) \(Self.installedIPS))", "fail", [
                "package: pkg list -u offers \(Self.solarisSendmail) \(Self.newerIPS), newer than installed \(Self.installedIPS); ",
                "to patch: pkg update \(Self.solarisSendmail) (mtaguard apply --allow-upgrade does it, journaled)",
            ]),
            "aix": ("sendmail 8.15.2 (lslpp bos.net.tcp.sendmail 7.2.5.0)", "fail", [
                "package: lslpp reports bos.net.tcp.sendmail 7.2.5.0 and knows no candidate on AIX, so the upstream comparison decides: upstream: line 8.15 of sendmail is end of life",
                "to patch: apply AIX's fixes for bos.net.tcp.sendmail, or install sendmail 8.18.2 or a later maintained release",
            ]),
            "hpux": ("sendmail 8.18.2 (swlist InternetSrvcs.INETSVCS2-RUN B.11.31.17)", "pass", [
                "package: swlist reports InternetSrvcs.INETSVCS2-RUN B.11.31.17 and knows no candidate on HP-UX, so the upstream comparison decides: upstream: 8.18.2 is the latest of line 8.18",
            ]),
        ]
        for (name, want) in expected {
            let e = try #require(sendmail[name], "no sendmail evidence for \(name): \(r.stdout)")
            #expect(e["text"] as? String == want.text, "\(name): \(e)")
            #expect(e["status"] as? String == want.status, "\(name): \(e)")
            let note = e["note"] as? String ?? ""
            #expect(note.hasPrefix(want.note[0]), "\(name): \(note)")
            for part in want.note.dropFirst() { #expect(note.contains(part), "\(name): \(note)") }
        }
    }
}
