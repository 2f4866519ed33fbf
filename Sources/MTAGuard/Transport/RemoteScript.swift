import Foundation

/// The POSIX `sh` scripts mtaguard sends to a host: one to gather facts and files, one to carry
/// out an apply. They use only what AIX 7, HP-UX 11i v3, Solaris 10/11 and Linux all have:
/// `sh`, `uname`, `ls -ln`, `od -An -v -tx1`, `cksum`, `printf` with octal escapes, `mkdir`,
/// `mv`, `chmod`, `chown`, `rm`, `cat`, `sync`.
///
/// Output is framed by lines starting with `@@` and a random nonce, so that nothing a file or a
/// command prints can be mistaken for the script's own report. Every path and argument that
/// reaches the script is single-quoted (`shellQuote`); file contents travel as `printf` octal
/// escapes, never through the shell's parser.
struct RemoteScript {
    let nonce: String
    /// Seconds one package manager call of the version probe may take.
    var packageBound = RemoteScript.defaultPackageBound

    init(nonce: String = String(format: "%08x%08x", UInt32.random(in: .min ... .max), UInt32.random(in: .min ... .max))) {
        self.nonce = nonce
    }

    var marker: String { "@@" + nonce }

    /// A whole script: `body` as one brace group reading `/dev/null`. The shell reads the
    /// group to its end before running any of it, so no command in it can read the rest of the
    /// script from standard input (where `sh -s` gets it), and a script cut short in transit
    /// runs not at all. The first lines say that values are single-quoted data on purpose, so
    /// shellcheck's notes that a `$(…)` in single quotes does not expand are no finding.
    static func script(_ body: ShellCode) -> ShellCode {
        """
        # Values in this script are single-quoted data on purpose: a '$(…)' in one is text.
        # shellcheck disable=SC2016,SC1003
        {
        \(code: body)} </dev/null

        """
    }

    // MARK: Facts

    /// The package tools a version item's upgrade may use (`tool` lines).
    var packageTools: ShellCode {
        "for t in apt-get dnf yum zypper pkg; do if command -v $t >/dev/null 2>&1; then echo \"$M tool $t\"; fi; done\n"
    }

    /// The service manager in charge and, per MTA, whether it runs and starts at boot (when
    /// `MTG_PROBE=yes`; else `unknown`, and no status command runs). Runs on
    /// the host (remote, or this machine when it is the live host); prints `init`, `tool` and
    /// `service MTA RUNNING ENABLED UNIT` lines (yes, no or unknown).
    var serviceProbe: ShellCode {
        """
        mtg_q() { "$@" >/dev/null 2>&1 </dev/null; }
        \(code: Self.serviceAnswers)
        mtg_svc() { echo "$M service $1 $2 $3 $4"; M_SEEN="$M_SEEN $1 "; }
        # mtg_bootlink NAME FOLDER...: yes when a FOLDER holds a start link SnnNAME. The
        # folders are listed, not globbed: the facts script runs under set -f.
        mtg_bootlink() {
          mtg_n=$1; mtg_e=no; mtg_o=$-; shift
          set +f
          for mtg_d in "$@"; do
            for mtg_l in "$mtg_d"/S*; do
              case ${mtg_l##*/} in S[0-9]*"$mtg_n") if [ -e "$mtg_l" ]; then mtg_e=yes; fi;; esac
            done
          done
          case $mtg_o in *f*) set -f;; esac
          echo "$mtg_e"
        }
        M_SEEN=
        case "$(uname -s 2>/dev/null)" in
        Linux)
          if [ -d /run/systemd/system ]; then
            M_INIT=systemd; echo "$M init systemd"
            for u in \(words: MTACatalog.linuxUnits); do
              mtg_q systemctl cat "$u.service" || continue
              case $u in \(code: MTACatalog.caseArms(\.linuxUnits))esac
              case "$M_SEEN" in *" $m "*) continue;; esac
              mtg_svc "$m" "$(mtg_ask mtg_lsb systemctl is-active --quiet "$u")" "$(mtg_ask mtg_enabled "$u")" "$u"
            done
          else
            M_INIT=sysv; echo "$M init sysv"
            command -v update-rc.d >/dev/null 2>&1 && echo "$M tool update-rc.d"
            command -v chkconfig >/dev/null 2>&1 && echo "$M tool chkconfig"
            for u in \(words: MTACatalog.linuxUnits); do
              [ -x "/etc/init.d/$u" ] || continue
              case $u in \(code: MTACatalog.caseArms(\.linuxUnits))esac
              e=$(mtg_bootlink "$u" /etc/rc2.d /etc/rc3.d /etc/rc5.d)
              mtg_svc "$m" "$(mtg_ask mtg_lsb "/etc/init.d/$u" status)" "$e" "$u"
            done
          fi;;
        SunOS)
          if command -v svcs >/dev/null 2>&1; then
            M_INIT=smf; echo "$M init smf"
            for f in \(words: MTACatalog.all.map(\.fmri)); do
              st=$(svcs -H -o state "$f" 2>/dev/null) || continue
              [ -n "$st" ] || continue
              case $f in \(code: MTACatalog.caseArms { [$0.fmri] })esac
              case $st in online|degraded) mtg_svc "$m" yes yes "$f";; disabled) mtg_svc "$m" no no "$f";; *) mtg_svc "$m" no yes "$f";; esac
            done
          else
            M_INIT=rc; echo "$M init rc"
            for m in \(words: MTACatalog.all.filter(\.solarisRC).map(\.name)); do
              [ -f "/etc/init.d/$m" ] || continue
              e=$(mtg_bootlink "$m" /etc/rc2.d /etc/rc3.d)
              # Solaris 8 to 10 without SMF: ps is what there is.
              mtg_svc "$m" "$(mtg_ps "$m")" "$e" "/etc/init.d/$m"
            done
          fi;;
        AIX)
          M_INIT=src; echo "$M init src"
          if mtg_q lssrc -s sendmail; then
            mtg_svc sendmail "$(mtg_ask mtg_src sendmail)" unknown sendmail
          fi;;
        HP-UX)
          M_INIT=hpux-rc; echo "$M init hpux-rc"
          if [ -x /sbin/init.d/sendmail ]; then
            mtg_svc sendmail "$(mtg_ask mtg_ps sendmail)" unknown /sbin/init.d/sendmail
          fi;;
        *) M_INIT=unknown; echo "$M init unknown";;
        esac
        # Where no service manager knows postfix, ask postfix itself whether it runs.
        case "$M_INIT" in systemd|sysv|smf) ;; *)
          case "$M_SEEN" in *" postfix "*) ;; *)
            if command -v postfix >/dev/null 2>&1; then mtg_svc postfix "$(mtg_ask mtg_postfix)" unknown postfix; fi;;
          esac;;
        esac

        """
    }

    /// The service section on its own (the live local host runs just this).
    func services(probe: Bool, versions: [String: [String]]? = nil, listeners: Bool = false, owners: [UInt16] = []) -> ShellCode {
        var body: ShellCode = "M=\(marker)\nMTG_PROBE=\(probe ? "yes" : "no")\n" + serviceProbe
        if let settings = versions { body += versionProbe + settingsProbe(settings) + packageTools }
        if listeners { body += listenerProbe + listenerOwnerProbe(ports: owners) }
        return Self.script(body)
    }

    /// Each MTA's version as the MTA itself reports it, the package that owns it (dpkg, rpm;
    /// Solaris 11 pkg, Solaris 10 pkginfo, AIX lslpp, HP-UX swlist) with what the host's package
    /// manager answers about a newer one (apt-cache, dnf, yum, zypper, pkg: `PackageUpdate`),
    /// and the settings the judgement needs.
    /// Prints `version MTA VERSION SOURCE`, `package MTA TOOL NAME INSTALLED ANSWER…` and
    /// `setting MTA NAME VALUE` lines, and an `owner PATH MTA HOW…` line for each of
    /// `/usr/sbin/sendmail` and `/usr/lib/sendmail`, which are postfix's or exim's wrapper on
    /// many hosts. HOW names what told: `link:TARGET` (followed with `ls -l`; there is no
    /// `readlink -f` on AIX, HP-UX or Solaris 10), `answer:-d0.1` (only sendmail's own prints
    /// its `Version`), `dpkg:PACKAGE` or `rpm:PACKAGE`. A link to postfix or exim is not asked
    /// `-d0.1`; an answer outweighs a package database that says otherwise.
    /// The settings the knowledge base judges, by name, as each MTA reports the value in force:
    /// `postconf -h NAME` (postfix, defaults included), `exim -bP NAME` (exim). Prints
    /// `setting MTA NAME VALUE` lines; a name the MTA does not know prints an empty value.
    func settingsProbe(_ settings: [String: [String]]) -> ShellCode {
        var s: ShellCode = ""
        for name in settings["postfix"] ?? [] {
            s += """
                if command -v postconf >/dev/null 2>&1; then
                  printf '%s setting postfix %s %s\\n' "$M" \(name) "$(postconf -h \(name) 2>/dev/null | tr '\\n' ' ')"
                fi

                """
        }
        for name in settings["exim"] ?? [] {
            s += """
                for e in \(words: MTACatalog.entry("exim")?.versionCommands ?? []); do
                  command -v "$e" >/dev/null 2>&1 || continue
                  printf '%s setting exim %s %s\\n' "$M" \(name) "$("$e" -bP \(name) 2>/dev/null | sed -n 's/^[^=]*= *//p' | head -1)"; break
                done

                """
        }
        return s
    }

    var versionProbe: ShellCode {
        Self.packageUpdateFunctions(bound: packageBound) + """
        if command -v postconf >/dev/null 2>&1; then
          v=$(postconf -d -h mail_version 2>/dev/null)
          if [ -n "$v" ]; then echo "$M version postfix $v postconf"; fi
        fi
        mtg_exim() { "$1" -bV 2>/dev/null </dev/null | sed -n 's/^Exim version \\([0-9][0-9.]*\\).*/\\1/p' | head -1; }
        mtg_ev=
        for e in \(words: MTACatalog.entry("exim")?.versionCommands ?? []); do
          command -v $e >/dev/null 2>&1 || continue
          v=$(mtg_exim $e)
          if [ -n "$v" ]; then echo "$M version exim $v $e"; mtg_ev=yes; break; fi
        done
        # The package owning $1, as dpkg:NAME or rpm:NAME, where a package tool knows it.
        mtg_pkg() {
          if command -v dpkg >/dev/null 2>&1; then
            mtg_p=$(dpkg -S "$1" 2>/dev/null | grep -v '^diversion' | sed -n 's/^\\([^:, ]*\\)[^ ]*: .*/\\1/p' | head -1)
            if [ -n "$mtg_p" ]; then echo "dpkg:$mtg_p"; fi
          elif command -v rpm >/dev/null 2>&1; then
            if mtg_p=$(rpm -qf --qf '%{NAME}\\n' "$1" 2>/dev/null); then echo "rpm:$(echo "$mtg_p" | head -1)"; fi
          fi
        }
        # $1 with its symbolic links followed (eight at most) and its folder made physical.
        mtg_resolve() {
          mtg_r=$1
          for _ in 1 2 3 4 5 6 7 8; do
            [ -h "$mtg_r" ] || break
            # No readlink(1) on AIX, HP-UX or Solaris 10: ls -l shows the target.
            # shellcheck disable=SC2012
            mtg_l=$(ls -l "$mtg_r" 2>/dev/null | sed 's/^.* -> //')
            case $mtg_l in /*) mtg_r=$mtg_l;; *) mtg_r=$(dirname "$mtg_r")/$mtg_l;; esac
          done
          mtg_d=$(cd "$(dirname "$mtg_r")" 2>/dev/null && pwd -P) && mtg_r=$mtg_d/$(basename "$mtg_r")
          echo "$mtg_r"
        }
        mtg_sv=''; mtg_seen=''
        # Where the guide finds it (sendmail -d0 -bt through PATH), and where each OS keeps it:
        # Linux, AIX and HP-UX /usr/sbin, Solaris /usr/lib (and /usr/lib/smtp/sendmail on 11).
        mtg_cv=$(command -v sendmail 2>/dev/null)
        case $mtg_cv in /*) ;; *) mtg_cv=;; esac
        for s in \(words: MTACatalog.entry("sendmail")?.binaryPaths ?? []) "$mtg_cv"; do
          if [ -z "$s" ] || [ ! -x "$s" ]; then continue; fi
          r=$(mtg_resolve "$s")
          case "$mtg_seen " in *" $r "*) continue;; esac
          mtg_seen="$mtg_seen $r"
          o=''; how=''
          if [ -h "$s" ]; then
            how="link:$r"
            case $(basename "$r") in *postfix*) o=postfix;; *exim*) o=exim;; esac
          fi
          if [ -z "$o" ]; then
            v=$("$s" -d0.1 -bt </dev/null 2>/dev/null | sed -n 's/^Version \\([0-9][0-9.]*\\).*/\\1/p' | head -1)
            if [ -n "$v" ]; then
              o=sendmail; how="answer:-d0.1${how:+ $how}"
              if [ -z "$mtg_sv" ]; then echo "$M version sendmail $v $s"; mtg_sv=yes; fi
            fi
          fi
          pk=$(mtg_pkg "$r")
          if [ -z "$o" ] && [ -n "$pk" ]; then
            case ${pk#*:} in postfix*) o=postfix;; sendmail*) o=sendmail;; exim*) o=exim;; *) o=${pk#*:};; esac
          fi
          [ -n "$o" ] || continue
          echo "$M owner $s $o ${how:+$how }$pk"
          if [ "$o" = exim ] && [ -z "$mtg_ev" ]; then
            v=$(mtg_exim "$s")
            if [ -n "$v" ]; then echo "$M version exim $v $s"; mtg_ev=yes; fi
          fi
        done
        if command -v dpkg-query >/dev/null 2>&1; then
          for p in \(words: MTACatalog.packageWords(\.dpkg)); do
            n=${p%%:*}; m=${p##*:}
            v=$(dpkg-query -W -f='${Status} ${Version}' "$n" 2>/dev/null)
            case "$v" in "install ok installed "*)
              echo "$M package $m dpkg $n ${v##* } $(mtg_apt "$n")";;
            esac
          done
        elif command -v rpm >/dev/null 2>&1; then
          for p in \(words: MTACatalog.packageWords(\.rpm)); do
            n=${p%%:*}; m=${p##*:}
            v=$(rpm -q --qf '%{EPOCHNUM}:%{VERSION}-%{RELEASE}' "$n" 2>/dev/null) || continue
            echo "$M package $m rpm $n $v $(mtg_rpmupdate "$n")"
          done
        fi
        # The word after $1 on the first line of stdin that starts with it; pkg list puts the
        # publisher in parentheses between them when it is not the first one.
        mtg_after() {
          while read -r mtg_a mtg_b mtg_c _; do
            [ "$mtg_a" = "$1" ] || continue
            case $mtg_b in "("*) mtg_b=$mtg_c;; esac
            echo "$mtg_b"; return 0
          done
        }
        case "$(uname -s 2>/dev/null)" in
        SunOS)
          if command -v pkg >/dev/null 2>&1; then
            for p in \(words: MTACatalog.packageWords(\.ips)); do
              n=${p%%:*}; m=${p##*:}
              v=$(pkg list -H "$n" 2>/dev/null | mtg_after "$n")
              [ -n "$v" ] || continue
              # pkg list -u names the package only when a newer one can be installed (-n: its
              # version); it exits 1 saying "no packages have newer versions" when none is.
              mtg_ask pkg list -u -H "$n"
              if [ "$mtg_s" -eq 0 ] && [ -n "$mtg_o" ]; then
                c=$(pkg list -n -H "$n" 2>/dev/null | mtg_after "$n")
                if [ -n "$c" ]; then a="candidate pkg $c"; else a="failed pkg 0 $(mtg_text)"; fi
              else
                case $mtg_o in *"no packages have newer versions"*) a="none pkg";; *) a=$(mtg_failed pkg);; esac
              fi
              echo "$M package $m pkg $n $v $a"
            done
          elif command -v pkginfo >/dev/null 2>&1; then
            v=$(pkginfo -l SUNWsndmu 2>/dev/null | sed -n 's/^ *VERSION: *//p' | head -1)
            if [ -n "$v" ]; then echo "$M package sendmail pkginfo SUNWsndmu $v installed-only pkginfo"; fi
          fi;;
        AIX)
          # sendmail is bos.net.tcp.sendmail from AIX 7.2, part of bos.net.tcp.client before;
          # lslpp -Lc prints PACKAGE:FILESET:LEVEL:...
          for n in bos.net.tcp.sendmail bos.net.tcp.client; do
            v=$(lslpp -Lc "$n" 2>/dev/null | sed 's/^[^:]*://' | tr ':' ' ' | mtg_after "$n")
            if [ -n "$v" ]; then echo "$M package sendmail lslpp $n $v installed-only lslpp"; break; fi
          done;;
        HP-UX)
          # sendmail(1M) is in InternetSrvcs: the INETSVCS2-RUN fileset from 11i v2, INETSVCS-RUN before.
          for n in InternetSrvcs.INETSVCS2-RUN InternetSrvcs.INETSVCS-RUN; do
            v=$(swlist -l fileset -a revision "$n" 2>/dev/null | mtg_after "$n")
            if [ -n "$v" ]; then echo "$M package sendmail swlist $n $v installed-only swlist"; break; fi
          done;;
        esac

        """
    }

    func facts(paths: [String], metadata: [String] = [], probeServices: Bool = true, probeVersions: Bool = false) -> ShellCode {
        facts(FactsRequest(paths: paths, metadata: metadata, probeServices: probeServices, versions: probeVersions ? [:] : nil))
    }

    func facts(_ request: FactsRequest) -> ShellCode {
        let paths = request.paths, metadata = request.metadata, probeServices = request.probeServices
        var s: ShellCode = """
            M=\(marker)
            LC_ALL=C; export LC_ALL
            set -f
            echo "$M uname $(uname -s 2>/dev/null)"
            echo "$M release $(uname -r 2>/dev/null)"
            MTG_PROBE=\(probeServices ? "yes" : "no")

            """
        s += serviceProbe
        if let settings = request.versions { s += versionProbe + settingsProbe(settings) + packageTools }
        if request.listeners { s += listenerProbe + listenerOwnerProbe(ports: request.listenerOwners) }
        s += Self.reach
        s += """
            # mtg_file FILE: absent only where every folder on the way could be searched and
            # FILE is not there (ENOENT); a folder that may not be searched is said (mtg_reach).
            mtg_file() {
              mtg_w=$(mtg_reach "$1") || { echo "$M $mtg_w"; return; }
              if [ -h "$1" ]; then echo "$M link"; return; fi
              if [ ! -e "$1" ]; then echo "$M absent"; return; fi
              if [ ! -f "$1" ]; then echo "$M notfile"; return; fi
              if [ ! -r "$1" ]; then echo "$M unreadable"; return; fi
              # Only the first fields of ls's first line: the name may hold anything, newlines included.
              # ls is the one portable way to a file's mode and owners (no stat(1) on AIX, HP-UX).
              # A file larger than mtaguard reads is said with its size, and its bytes stay here.
              # shellcheck disable=SC2012
              mtg_s=$(ls -ln "$1" | { read -r _ _ _ _ mtg_s _; echo "$mtg_s"; })
              case $mtg_s in
                ''|*[!0-9]*) ;;
                *) if [ ${#mtg_s} -gt \(String(FactsLimits.fileBytes).count) ] || [ "$mtg_s" -gt \(FactsLimits.fileBytes) ]; then echo "$M toolarge $mtg_s"; return; fi;;
              esac
              # shellcheck disable=SC2012
              ls -ln "$1" | { read -r mtg_m mtg_l mtg_u mtg_g _; echo "$M meta $mtg_m $mtg_l $mtg_u $mtg_g"; }
              if ! od -An -v -tx1 "$1" </dev/null 2>/dev/null; then
                echo "$M readerror $(od -An -v -tx1 "$1" 2>&1 >/dev/null </dev/null | head -n 1)"
              fi
              echo "$M end"
            }
            # mtg_stat FILE: its mode and owners only (a program whose permissions are judged).
            mtg_stat() {
              mtg_w=$(mtg_reach "$1") || { echo "$M $mtg_w"; return; }
              if [ -h "$1" ]; then echo "$M link"; return; fi
              if [ ! -e "$1" ]; then echo "$M absent"; return; fi
              if [ ! -f "$1" ]; then echo "$M notfile"; return; fi
              # shellcheck disable=SC2012
              ls -ln "$1" | { read -r mtg_m mtg_l mtg_u mtg_g _; echo "$M meta $mtg_m $mtg_l $mtg_u $mtg_g"; }
              echo "$M end"
            }

            """
        if !request.folders.isEmpty {
            s += """
                # mtg_folder DIR: each file of DIR whose name is letters, digits, ".", "_" and "-"
                # (not beginning with "."), read as mtg_file reads one. find, not a glob (set -f)
                # nor ls; a name with a newline fails the name test or names no file.
                # The folder is listed only where it can be searched and read: a listing that
                # failed is said, never taken as an empty folder.
                mtg_folder() {
                  mtg_w=$(mtg_reach "$1") || { echo "$M $mtg_w"; return; }
                  if [ -h "$1" ]; then echo "$M link"; return; fi
                  if [ ! -d "$1" ]; then echo "$M absent"; return; fi
                  if [ ! -d "$1/." ]; then echo "$M denied $1"; return; fi
                  if [ ! -r "$1" ]; then echo "$M unlistable"; return; fi
                  if ! mtg_ls=$(find "$1/." ! -name . -prune -print 2>&1); then
                    echo "$M listerror $(printf '%s\\n' "$mtg_ls" | head -n 1)"; return
                  fi
                  echo "$M listing"
                  printf '%s\\n' "$mtg_ls" | while IFS= read -r mtg_f; do
                    case $mtg_f in "$1"/./*) ;; *) continue;; esac
                    mtg_n=${mtg_f##*/}
                    case $mtg_n in .*|*[!A-Za-z0-9._-]*) continue;; esac
                    if [ -f "$mtg_f" ] || [ -h "$mtg_f" ]; then
                      echo "$M entry $mtg_n"
                      mtg_file "$1/$mtg_n"
                    fi
                  done
                }

                """
        }
        for (i, path) in paths.enumerated() {
            s += "echo \"$M file \(i)\"; mtg_file \(path)\n"
        }
        for (i, folder) in request.folders.enumerated() {
            s += "echo \"$M folder \(i)\"; mtg_folder \(folder)\n"
        }
        if !request.eximIncludes.isEmpty { s += Self.eximIncludes }
        for (i, path) in request.eximIncludes.enumerated() {
            s += "echo \"$M includes \(i)\"; mtg_exim_includes \(path)\n"
        }
        for (i, path) in metadata.enumerated() {
            s += "echo \"$M stat \(i)\"; mtg_stat \(path)\n"
        }
        if request.postfixTables != nil || request.sendmailAccess != nil { s += Self.postfixTableReader }
        if let mainCF = request.postfixTables {
            s += Self.postfixDefaultsProbe + "echo \"$M pftables\"; mtg_pfdefaults; mtg_pftables \(mainCF)\n"
        }
        if let cf = request.sendmailAccess { s += Self.sendmailAccessReader + "echo \"$M smaccess\"; mtg_smaccess \(cf)\n" }
        s += "echo \"$M done\"\n"
        return Self.script(s)
    }

    /// Reads what `facts(paths:)` printed.
    func parseFacts(_ output: String, paths: [String], metadata metaPaths: [String] = [], folders folderPaths: [String] = [], host: String) throws -> HostFacts {
        var uname = "", release = "", done = false
        var folders: [String: [String]?] = [:]
        // Inside a folder record: the folder, and whether its listing has begun (an "absent" or
        // "link" before it is the folder's own).
        var folder: (path: String, listed: Bool)?
        var currentPath: String?
        var metadata: [String: FileMeta?] = [:]
        var metadataIssues: [String: String] = [:]
        var stat: Int?
        var services = Self.Services()
        var versions = Self.Versions()
        var listeners = Self.Listeners()
        var files: [String: FileSnapshot?] = [:]
        var tables: PostfixTableFacts?, tableRef: String?
        var access: PostfixTableFacts?, accessRef: String?
        var includeFacts = EximIncludeFacts()
        /// Inside an `incfile` record: what the host could not read is the include's concern.
        var included = false
        var unreached: [String: Unreached] = [:]
        var meta: (mode: UInt32, uid: UInt32, gid: UInt32)?
        var hex: [UInt8] = []
        var collecting = false
        for rawLine in output.split(separator: "\n", omittingEmptySubsequences: false) {
            let line = String(rawLine)
            if collecting && !line.hasPrefix(marker) {
                for token in line.split(whereSeparator: { $0 == " " || $0 == "\t" }) {
                    guard let b = UInt8(token, radix: 16) else { throw MTAGuardError(.hostProtocol, host: host, "unreadable od output: \(token)") }
                    hex.append(b)
                }
                continue
            }
            guard line.hasPrefix(marker + " ") else { continue }
            let rest = String(line.dropFirst(marker.count + 1))
            let word = rest.split(separator: " ", maxSplits: 1).first.map(String.init) ?? ""
            let arg = rest.count > word.count ? String(rest.dropFirst(word.count + 1)) : ""
            let path = currentPath ?? "?"
            if word == "pftables" { tables = PostfixTableFacts() }
            if word == "pfdefaults" || word == "pfdefault" {
                tables?.readDefaults(word, arg)
                continue
            }
            if word == "smaccess" { (access, tableRef) = (PostfixTableFacts(), nil) }
            if word == "pfref" || word == "smref" {
                // A file main.cf or sendmail.cf names (mtg_pftables, mtg_smaccess, last before
                // done): what the host sends is believed only as a checked path; its failures
                // are facts, not errors.
                (tableRef, accessRef) = word == "pfref" ? (PostfixTableFacts.checkedPath(arg) ?? "", nil) : (nil, PostfixTableFacts.checkedPath(arg) ?? "")
                if word == "pfref", tables == nil { tables = PostfixTableFacts() }
                if word == "smref", access == nil { access = PostfixTableFacts() }
                continue
            }
            if let ref = tableRef ?? accessRef, word != "done" {
                var read = (tableRef != nil ? tables : access) ?? PostfixTableFacts()
                if word == "meta" {
                    meta = try Self.parseLsLine(arg, host: host, path: ref)
                    hex = []
                    collecting = true
                } else if word == "end", let m = meta, !ref.isEmpty, hex.count <= PostfixTableFacts.maxBytes {
                    collecting = false
                    read.files[ref] = .read(FileSnapshot(path: ref, bytes: Data(hex), mode: m.mode, uid: m.uid, gid: m.gid))
                } else if !ref.isEmpty {
                    collecting = false
                    read.read(word, arg, path: ref)
                }
                if tableRef != nil { tables = read } else { access = read }
                continue
            }
            if included, let problem = try Self.includeProblem(word, arg, path: path, host: host) {
                includeFacts.problems[path] = problem
                continue
            }
            if let f = folder, !f.listed, ["absent", "link", "listing", "denied", "linked", "unlistable", "listerror"].contains(word) {
                switch word {
                case "absent": folders[f.path] = .some(nil)
                case "link":
                    throw MTAGuardError(.unreadableFile, host: host, file: f.path, "is a symbolic link; mtaguard does not read a folder through a link")
                case "denied", "linked": throw try Self.unreached(word, arg, path: f.path, folder: true, host: host)
                case "unlistable": throw Unreached.unlistable.error(host: host, file: f.path)
                case "listerror":
                    throw MTAGuardError(.failed, host: host, file: f.path, "could not be listed: \(arg.trimmed(200))")
                default:
                    folders[f.path] = .some([])
                    folder?.listed = true
                }
                continue
            }
            if let i = stat, word != "stat", word != "done" {
                // Inside a stat record: mode and owners only; a link or odd file is the item's
                // concern (never followed), not the host's.
                let p = metaPaths[i]
                switch word {
                case "absent": metadata[p] = .some(nil)
                case "denied", "linked": throw try Self.unreached(word, arg, path: p, folder: false, host: host)
                case "link": metadataIssues[p] = "is a symbolic link; mtaguard does not change a mode through a link"
                case "notfile": metadataIssues[p] = "is not a regular file"
                case "meta":
                    let m = try Self.parseLsLine(arg, host: host, path: p)
                    metadata[p] = FileMeta(path: p, mode: m.mode, uid: m.uid, gid: m.gid)
                default: break
                }
                continue
            }
            switch word {
            case "stat":
                folder = nil
                included = false
                stat = Int(arg)
                guard let i = stat, metaPaths.indices.contains(i) else { throw MTAGuardError(.hostProtocol, host: host, "bad facts output") }
            case "uname": uname = arg
            case "release": release = arg
            case "init", "tool", "service": services.read(word, arg)
            case "version", "package", "setting", "owner": try versions.read(word, arg, host: host)
            case "listen", "listen-tool", "listen-none", "listen-failed": listeners.read(word, arg)
            case "lproc", "lproc-via", "lproc-none", "lproc-uid", "lproc-unexamined": listeners.read(word, arg)
            case "file":
                guard let c = Int(arg), paths.indices.contains(c) else { throw MTAGuardError(.hostProtocol, host: host, "bad facts output") }
                currentPath = paths[c]
                folder = nil
                included = false
            case "includes", "incfile", "incbound":
                folder = nil
                (included, currentPath) = (word == "incfile", word == "incfile" ? try Self.includedPath(arg, host: host) : nil)
                if word == "incbound" { try includeFacts.bound(arg, host: host) }
            case "folder":
                guard let c = Int(arg), folderPaths.indices.contains(c) else { throw MTAGuardError(.hostProtocol, host: host, "bad facts output") }
                folder = (folderPaths[c], false)
                included = false
                currentPath = nil
            case "entry":
                guard let f = folder, f.listed, FactsRequest.readsFolderEntry(arg) else {
                    throw MTAGuardError(.hostProtocol, host: host, "bad facts output")
                }
                currentPath = (f.path.hasSuffix("/") ? f.path : f.path + "/") + arg
                folders[f.path] = .some(((folders[f.path] ?? nil) ?? []) + [arg])
            case "absent": files[path] = .some(nil)
            case "link":
                throw MTAGuardError(.unreadableFile, host: host, file: path, "is a symbolic link; mtaguard does not edit through links",
                                    hint: "point the item at the link's target, or replace the link by the file")
            case "notfile": throw MTAGuardError(.unreadableFile, host: host, file: path, "is not a regular file")
            case "denied", "linked": unreached[path] = try Self.unreachedReason(word, arg, path: path, folder: false, host: host)
            case "unreadable": unreached[path] = .unreadable
            case "toolarge":
                guard let size = UInt64(arg) else { throw MTAGuardError(.hostProtocol, host: host, file: path, "bad facts output") }
                unreached[path] = .tooLarge(bytes: size)
            case "readerror":
                throw MTAGuardError(.unreadableFile, host: host, file: path, "could not be read: \(arg.isEmpty ? "od failed" : arg.trimmed(200))")
            case "meta":
                meta = try Self.parseLsLine(arg, host: host, path: path)
                hex = []
                collecting = true
            case "end":
                collecting = false
                guard let m = meta else { throw MTAGuardError(.hostProtocol, host: host, "bad facts output") }
                files[path] = FileSnapshot(path: path, bytes: Data(hex), mode: m.mode, uid: m.uid, gid: m.gid)
            case "done": done = true
            default: break
            }
        }
        guard done else { throw MTAGuardError(.hostProtocol, host: host, "the facts script did not finish") }
        for p in paths where files[p] == nil { files[p] = .some(nil) }
        for p in folderPaths where folders[p] == nil { folders[p] = .some(nil) }
        for p in metaPaths where metadata[p] == nil && metadataIssues[p] == nil { metadata[p] = .some(nil) }
        var facts = HostFacts(
            family: OSFamily(uname: uname), release: release, initSystem: services.initSystem,
            tools: services.tools, services: services.states, files: files)
        for (path, why) in unreached { facts.files[path] = .unreached(why) }
        facts.metadata = metadata
        facts.metadataIssues = metadataIssues
        facts.folders = folders.mapValues { $0?.sorted(by: { Array($0.utf8).lexicographicallyPrecedes(Array($1.utf8)) }) }
        facts.versions = versions.facts
        facts.owners = versions.owners
        facts.listening = listeners.facts
        facts.postfixTables = tables
        facts.sendmailAccess = access
        facts.eximIncludes = includeFacts
        return facts
    }

    /// The error for a `denied FOLDER` or `linked FOLDER` report about `path`; a FOLDER that is
    /// not one of `path`'s own (or `path` itself, for a folder) is a protocol error.
    static func unreached(_ word: String, _ folder: String, path: String, folder own: Bool, host: String) throws -> MTAGuardError {
        try unreachedReason(word, folder, path: path, folder: own, host: host).error(host: host, file: path)
    }

    /// Why the script could not reach `path` (`denied FOLDER`, `linked FOLDER`), where FOLDER
    /// is one it may name.
    static func unreachedReason(_ word: String, _ folder: String, path: String, folder own: Bool, host: String) throws -> Unreached {
        guard let why = Unreached.reported(word, folder, path: path, orSelf: own) else {
            throw MTAGuardError(.hostProtocol, host: host, file: path, "bad facts output: \(word) \(folder.trimmed(200))")
        }
        return why
    }

    /// The script's own report lines (`MARKER WORD ARG…`) as (word, rest).
    static func reports(_ output: String, marker: String) -> [(String, String)] {
        output.split(separator: "\n").filter { $0.hasPrefix(marker + " ") }.map { line in
            let rest = line.dropFirst(marker.count + 1)
            let word = rest.split(separator: " ", maxSplits: 1).first.map(String.init) ?? ""
            return (word, String(rest.dropFirst(word.count).drop(while: { $0 == " " })))
        }
    }

    /// What `versionProbe` printed.
    struct Versions {
        var facts: [String: MTAVersionFact] = [:]
        /// Whose `/usr/sbin/sendmail` and `/usr/lib/sendmail` are, in the order reported.
        var owners: [CommandOwner] = []
        private var packages: [String: PackageInfo] = [:]
        private var settings: [String: [String: String]] = [:]

        mutating func read(_ word: String, _ arg: String, host: String) throws {
            let f = arg.split(separator: " ").map(String.init)
            switch word {
            case "version" where f.count >= 2:
                facts[f[0]] = MTAVersionFact(
                    version: f[1], source: f.count > 2 ? f[2...].joined(separator: " ") : f[0],
                    package: packages[f[0]], settings: settings[f[0]] ?? [:])
            case "package":
                let p = try Self.package(f, host: host)
                packages[f[0]] = p
                facts[f[0]]?.package = p
            case "setting" where f.count >= 2:
                let value = f.count > 2 ? f[2...].joined(separator: " ") : ""
                settings[f[0], default: [:]][f[1]] = value
                facts[f[0]]?.settings[f[1]] = value
            case "owner" where f.count >= 2:
                owners.append(CommandOwner(path: f[0], mta: f[1], evidence: Array(f.dropFirst(2))))
            default: break
            }
        }

        init() {}

        init(output: String, marker: String, host: String) throws {
            for (word, arg) in RemoteScript.reports(output, marker: marker) { try read(word, arg, host: host) }
        }

        /// A `package MTA TOOL NAME INSTALLED ANSWER…` line's fields; anything else is the host
        /// not speaking the probe's language, never a package with nothing to say.
        static func package(_ f: [String], host: String) throws -> PackageInfo {
            func token(_ s: String) -> Bool {
                !s.isEmpty && s.count <= 200 && s.unicodeScalars.allSatisfy { $0.value > 0x20 && $0.value < 0x7F }
            }
            let tools = ["dpkg", "rpm", "pkg", "pkginfo", "lslpp", "swlist"]
            guard f.count >= 5, token(f[0]), tools.contains(f[1]), token(f[2]), token(f[3]),
                  let update = PackageUpdate(words: Array(f[4...]))
            else {
                throw MTAGuardError(
                    .hostProtocol, host: host,
                    "unreadable package line from the version probe: \(f.joined(separator: " ").prefix(300))",
                    hint: "run the probe's package tools (dpkg-query/apt-cache, rpm/dnf/yum/zypper, pkg) by hand on the host and see what they print")
            }
            if case .unknown(.listsInstalledOnly(let t)) = update, t != f[1] {
                throw MTAGuardError(.hostProtocol, host: host, "unreadable package line from the version probe: \(f[1]) answered as \(t)")
            }
            return PackageInfo(tool: f[1], name: f[2], installed: f[3], update: update)
        }
    }

    /// What `serviceProbe` printed.
    struct Services {
        var initSystem = InitSystem.unknown
        var tools: Set<String> = []
        var states: [String: ServiceState] = [:]

        mutating func read(_ word: String, _ arg: String) {
            switch word {
            case "init": initSystem = InitSystem(rawValue: arg) ?? .unknown
            case "tool": tools.insert(arg)
            case "service":
                let f = arg.split(separator: " ").map(String.init)
                guard f.count >= 4 else { return }
                func yn(_ s: String) -> Bool? { s == "yes" ? true : s == "no" ? false : nil }
                states[f[0]] = ServiceState(running: yn(f[1]), enabled: yn(f[2]), unit: f[3...].joined(separator: " "))
            default: break
            }
        }

        init() {}

        /// Parses the probe's output on its own (the live local host runs just the probe).
        init(output: String, marker: String) {
            for (word, arg) in RemoteScript.reports(output, marker: marker) { read(word, arg) }
        }
    }

    /// `-rw-r-----+  1 0  7  1053 Nov 26 12:49 /etc/postfix/main.cf` → mode 0640, uid 0, gid 7.
    static func parseLsLine(_ line: String, host: String, path: String) throws -> (mode: UInt32, uid: UInt32, gid: UInt32) {
        let fields = line.split(separator: " ", omittingEmptySubsequences: true)
        guard fields.count >= 4, let uid = UInt32(fields[2]), let gid = UInt32(fields[3]) else {
            throw MTAGuardError(.hostProtocol, host: host, file: path, "cannot read its mode and owner from ls: \(line)")
        }
        let perms = Array(fields[0])
        guard perms.count >= 10 else { throw MTAGuardError(.hostProtocol, host: host, file: path, "unexpected ls output: \(line)") }
        var mode: UInt32 = 0
        let bits: [(Int, Character, UInt32)] = [
            (1, "r", 0o400), (2, "w", 0o200), (4, "r", 0o040), (5, "w", 0o020), (7, "r", 0o004), (8, "w", 0o002),
        ]
        for (i, c, v) in bits where perms[i] == c { mode |= v }
        switch perms[3] { case "x": mode |= 0o100; case "s": mode |= 0o4100; case "S": mode |= 0o4000; default: break }
        switch perms[6] { case "x": mode |= 0o010; case "s": mode |= 0o2010; case "S", "l": mode |= 0o2000; default: break }
        switch perms[9] { case "x": mode |= 0o001; case "t": mode |= 0o1001; case "T": mode |= 0o1000; default: break }
        return (mode, uid, gid)
    }

    // MARK: Apply

    /// A script that takes the host's lock, carries out `steps` in order, stops at the first
    /// failure, and reports each step. `runID` is written into the lock so that a second run
    /// can say who holds it.
    ///
    /// Every value reaches the shell as one single-quoted word (`ShellCode`), messages too:
    /// `mtg_report INDEX OUTCOME PART…` prints its parts one after another, so a failure branch
    /// passes the static text, the path and the command's own output as separate words and
    /// never builds a message inside double quotes. Every command that is not meant to read
    /// standard input (the script itself arrives there over SSH) reads `/dev/null`.
    func apply(_ steps: [ApplyStep], runID: String, controller: String, breakStaleLock: Bool = false, keep copy: RunCopy? = nil) -> ShellCode {
        var s: ShellCode = """
            M=\(marker)
            LC_ALL=C; export LC_ALL
            set -f
            umask 077
            if [ -d /var/run ]; then L=/var/run/mtaguard.lock; else L=/tmp/mtaguard.lock; fi
            mtg_lock() { mkdir "$L" 2>/dev/null && printf '%s pid %s\\n' \("run \(runID) from \(controller)") "$$" > "$L/owner"; }
            if ! mtg_lock; then
              # No lock folder after a failed mkdir: not another run, but a folder this login
              # cannot write (or a read-only /var/run).
              if [ ! -d "$L" ]; then
                if [ -w "${L%/*}" ]; then D=other; else D=denied; fi
                echo "$M lockerror $D $(mkdir "$L" 2>&1)"; exit 75
              fi
              O=$(cat "$L/owner" 2>/dev/null); P=${O##*pid }
              # A lock whose process is gone (a run killed mid-way) is stale: said as such, and
              # broken only when asked.
              if [ -n "$P" ] && [ "$P" != "$O" ] && ! kill -0 "$P" 2>/dev/null; then
                \(code: breakStaleLock ? Self.breakLock : Self.refuseStaleLock)
              else
                echo "$M locked $O"; exit 75
              fi
            fi
            # However the script ends (a dropped connection shows as HUP or PIPE), the lock goes
            # and so does a half-written temporary file ($T); the target is only ever renamed.
            T=; SD=; HJ=
            trap 'if [ -n "$T" ]; then rm -f "$T"; fi; if [ -n "$SD" ]; then rm -rf "$SD"; fi; rm -rf "$L"' 0
            trap 'exit 129' HUP; trap 'exit 130' INT; trap 'exit 141' PIPE; trap 'exit 143' TERM
            # mtg_report INDEX OUTCOME [PART...]: one step's report; the parts, printed one
            # after another, are its message.
            mtg_report() {
              echo "$M step $1 $2"
              if [ -n "$HJ" ]; then echo "$1 $2" >> "$HJ/steps"; fi
              shift 2
              if [ $# -gt 0 ]; then printf '%s' "$@"; echo; fi
              echo "$M endstep"
            }
            # mtg_sum FILE: its POSIX cksum as "CRC SIZE".
            mtg_sum() { cksum < "$1" | { read -r mtg_c mtg_n _; echo "$mtg_c $mtg_n"; }; }

            """
        if steps.contains(where: { if case .replace(let r) = $0 { return r.backdate > 0 }; return false }) {
            s += Self.backdateFunction
        }
        if let copy { s += keep(copy) }
        for (i, step) in steps.enumerated() {
            s += "# step \(i)\n"
            switch step {
            case .replace(let r): s += replace(r, index: i)
            case .run(let argv, let probe): s += run(argv, probe: probe, index: i)
            case .chmod(let c): s += chmod(c, index: i)
            }
        }
        s += "if [ -n \"$HJ\" ]; then echo 'done' >> \"$HJ/steps\"; fi\necho \"$M done\"\n"
        return Self.script(s)
    }

    /// `mtg_backdate FILE SECONDS`: sets FILE's modification time SECONDS (1 to 59) in the past
    /// by the host's clock, with POSIX tools only: `date` in a zone SECONDS west of UTC prints
    /// UTC less SECONDS, and `touch -t` reads it back as UTC. Best effort: if it fails, postfix
    /// only waits for the file to cool down.
    static let backdateFunction: ShellCode = """
        mtg_backdate() {
          mtg_t=$(TZ="MTG0:00:$2" date +%Y%m%d%H%M.%S) && TZ=MTG0 touch -c -t "$mtg_t" "$1" 2>/dev/null
          return 0
        }

        """

    /// `--break-stale-lock`: a lock whose process is gone is removed and taken anew.
    static let breakLock: ShellCode = """
        rm -rf "$L"
                  mtg_lock || { echo "$M locked $(cat "$L/owner" 2>/dev/null)"; exit 75; }
                  echo "$M brokelock $O"
        """
    static let refuseStaleLock: ShellCode = "echo \"$M stale $O\"; exit 75"

    private func replace(_ r: FileReplacement, index i: Int) -> ShellCode {
        let folder = (r.path as NSString).deletingLastPathComponent
        let base = (r.path as NSString).lastPathComponent
        let temp = "\(folder)/.\(base).mtaguard-\(nonce)"
        let wanted = POSIXChecksum.line(r.bytes)
        var s: ShellCode = """
            if [ -h \(r.path) ]; then mtg_report \(i) failed \(r.path) ' is a symbolic link; not written'; exit 1; fi
            if [ -e \(r.path) ] && [ ! -f \(r.path) ]; then mtg_report \(i) failed \(r.path) ' is not a regular file; not written'; exit 1; fi
            if [ -f \(r.path) ]; then C=$(mtg_sum \(r.path)); else C=absent; fi
            if [ "$C" != \(r.expected.cksum) ]; then
              mtg_report \(i) drifted \(r.path) ' changed since it was read; nothing written'; exit 1
            fi
            if [ "$C" = \(wanted) ]; then mtg_report \(i) skipped 'already as wanted'; else
            rm -f \(temp); T=\(temp)
            if ! E=$( ( : > \(temp) ) 2>&1 ); then
              mtg_report \(i) failed 'cannot create a temporary file in ' \(folder) ': ' "$E"; rm -f \(temp); exit 1
            fi
            # The bytes as printf formats (octal escapes; none begins with '-'), written by cat,
            # whose error names the cause (a shell's printf says only "I/O error").
            if ! E=$( { :

            """
        for chunk in Self.printfChunks(r.bytes) {
            s += "printf \(chunk)\n"
        }
        s += """
            } | cat 2>&1 > \(temp) ); then
              rm -f \(temp); mtg_report \(i) failed 'could not write the new ' \(r.path) ': ' "$E" '; the original is untouched'; exit 1
            fi
            N=$(mtg_sum \(temp))
            if [ "$N" != \(wanted) ]; then
              rm -f \(temp); mtg_report \(i) failed 'the new ' \(r.path) ' reads back as ' "$N" ', not ' \(wanted) '; the original is untouched'; exit 1
            fi
            if ! E=$(chown \("\(r.uid):\(r.gid)") \(temp) 2>&1 && chmod \(String(r.mode, radix: 8)) \(temp) 2>&1); then
              rm -f \(temp); mtg_report \(i) failed 'cannot set the owner and mode of the new ' \(r.path) ': ' "$E"; exit 1
            fi

            """
        if r.backdate > 0 {
            s += "mtg_backdate \(temp) \(String(format: "%02d", r.backdate))\n"
        }
        if let v = r.validateBefore {
            if v.stages {
                s += staging(v, temp: temp, path: r.path, index: i)
            }
            s += validation(v, file: temp, index: i, onFail: "rm -f \(temp); mtg_report \(i) failed", original: r.path)
            if v.stages { s += "rm -rf \"$SD\"; SD=\n" }
        }
        s += """
            if ! E=$(mv -f \(temp) \(r.path) 2>&1); then
              rm -f \(temp); mtg_report \(i) failed 'cannot replace ' \(r.path) ': ' "$E"; exit 1
            fi
            T=
            sync </dev/null

            """
        if let v = r.validateAfter {
            s += validation(v, file: r.path, index: i, onFail: "mtg_report \(i) failed-after-replace", original: r.path)
        }
        s += "mtg_report \(i) 'done' replaced\nfi\n"
        return s
    }

    /// The staging folder `{dir}` beside the target: the new file (a hard link to the
    /// temporary file, so it keeps its mode, owner and time) under the target's name, and
    /// copies of `stagedWith` where they exist. `$SD` names it until the validator ran.
    private func staging(_ v: Validation, temp: String, path: String, index i: Int) -> ShellCode {
        let folder = (path as NSString).deletingLastPathComponent
        let base = (path as NSString).lastPathComponent
        let dir = "\(folder)/.mtaguard-\(nonce).d"
        var s: ShellCode = """
            rm -rf \(dir); SD=\(dir)
            if ! E=$(mkdir \(dir) 2>&1); then
              rm -f \(temp); mtg_report \(i) failed 'cannot create a staging folder in ' \(folder) ': ' "$E"; exit 1
            fi
            if ! E=$(ln \(temp) \("\(dir)/\(base)") 2>&1 || cp -p \(temp) \("\(dir)/\(base)") 2>&1); then
              rm -f \(temp); mtg_report \(i) failed 'cannot stage the new ' \(path) ': ' "$E"; exit 1
            fi

            """
        for name in v.stagedWith where name != base {
            let source = "\(folder)/\(name)"
            s += """
                if [ -f \(source) ] && ! E=$(cp -p \(source) \("\(dir)/\(name)") 2>&1); then
                  rm -f \(temp); mtg_report \(i) failed 'cannot stage ' \(source) ': ' "$E"; exit 1
                fi

                """
        }
        return s
    }

    /// Runs the validator on `file`; on rejection runs `onFail` with the reason's parts.
    /// `{dir}` is the staging folder and `{file}` the new file in it when the command reads one.
    private func validation(_ v: Validation, file: String, index i: Int, onFail: ShellCode, original: String) -> ShellCode {
        let dir = "\((original as NSString).deletingLastPathComponent)/.mtaguard-\(nonce).d"
        let staged = v.stages ? "\(dir)/\((original as NSString).lastPathComponent)" : file
        let argv = v.argv.map {
            $0.replacingOccurrences(of: "{file}", with: staged).replacingOccurrences(of: "{dir}", with: dir)
        }
        var s: ShellCode = "O=$(\(words: argv) 2>&1); R=$?\n"
        if let pattern = v.rejectOutput {
            // grep -E exists everywhere; the pattern travels quoted.
            s += "if [ $R -eq 0 ] && printf '%s\\n' \"$O\" | grep -E -e \(pattern) >/dev/null 2>&1; then R=1; fi\n"
        }
        s += """
            if [ $R -ne 0 ]; then
              \(code: onFail) 'the MTA'"'"'s validator rejected the new ' \(original) ': ' \(shellWords(argv)) ' exited ' "$R" ': ' "$O"; exit 1
            fi

            """
        return s
    }

    /// A file's permission bits, set only while they are what the plan read (compared with
    /// the first field of `ls -ln`), never through a link.
    private func chmod(_ c: ModeChange, index i: Int) -> ShellCode {
        let octal = String(c.to, radix: 8)
        return """
            if [ -h \(c.path) ]; then mtg_report \(i) failed \(c.path) ' is a symbolic link; its mode was not changed'; exit 1; fi
            if [ ! -f \(c.path) ]; then mtg_report \(i) drifted \(c.path) ' is not a regular file any more; nothing changed'; exit 1; fi
            # shellcheck disable=SC2012
            C=$(ls -ln \(c.path) | { read -r mtg_m _; echo "$mtg_m"; })
            case $C in
            ?\(FileMeta.symbolic(c.to))*) mtg_report \(i) skipped 'already as wanted';;
            ?\(FileMeta.symbolic(c.from))*)
              if ! E=$(chmod \(octal) \(c.path) 2>&1); then mtg_report \(i) failed 'cannot change the mode of ' \(c.path) ': ' "$E"; exit 1; fi
              mtg_report \(i) 'done' 'mode ' \(octal);;
            *) mtg_report \(i) drifted \(c.path) ' changed mode since it was read (' "$C" ', expected ' \(FileMeta.symbolic(c.from)) '); nothing changed'; exit 1;;
            esac

            """
    }

    private func run(_ argv: [String], probe: [String]?, index i: Int) -> ShellCode {
        var s: ShellCode = ""
        if let probe {
            s += "if ! \(words: probe) >/dev/null 2>&1; then mtg_report \(i) skipped \(shellWords(probe)) ' says the service is not running'; else\n"
        }
        s += """
            O=$(\(words: argv) 2>&1); R=$?
            if [ $R -ne 0 ]; then mtg_report \(i) failed \(shellWords(argv)) ' exited ' "$R" ': ' "$O"; exit 1; fi
            mtg_report \(i) 'done' "$O"

            """
        if probe != nil { s += "fi\n" }
        return s
    }

    /// File bytes as `printf` format strings: printable ASCII as itself (but `\`, `'` and `%`),
    /// every other byte as a three-digit octal escape. About 2 KB of script per line. A chunk
    /// never begins with `-` (printf would take it for an option): a leading `-` is `\055`.
    static func printfChunks(_ data: Data, width: Int = 2000) -> [String] {
        var chunks: [String] = []
        var current = ""
        current.reserveCapacity(width + 8)
        for byte in data {
            let plain = byte >= 0x20 && byte < 0x7F && byte != UInt8(ascii: "\\") && byte != UInt8(ascii: "'")
                && byte != UInt8(ascii: "%") && !(byte == UInt8(ascii: "-") && current.isEmpty)
            if plain {
                current.unicodeScalars.append(Unicode.Scalar(byte))
            } else {
                let o = String(byte, radix: 8)
                current += "\\" + String(repeating: "0", count: 3 - o.count) + o
            }
            if current.utf8.count >= width {
                chunks.append(current)
                current = ""
            }
        }
        if !current.isEmpty { chunks.append(current) }
        return chunks
    }

    /// Reads what `apply` printed: one result per step reported.
    func parseApply(_ output: String, host: String) throws -> (results: [StepResult], finished: Bool) {
        var results: [StepResult] = []
        var finished = false
        var pending: (Int, StepResult.Outcome)?
        var keepFailed = false
        var text: [String] = []
        for rawLine in output.split(separator: "\n", omittingEmptySubsequences: false) {
            let line = String(rawLine)
            if line.hasPrefix(marker + " ") {
                let words = line.dropFirst(marker.count + 1).split(separator: " ", maxSplits: 2).map(String.init)
                switch words.first {
                case "step":
                    guard words.count >= 3, let outcome = StepResult.Outcome(rawValue: words[2]) else {
                        throw MTAGuardError(.hostProtocol, host: host, "unreadable apply output: \(line)")
                    }
                    pending = (Int(words[1]) ?? results.count, outcome)
                    text = []
                case "endstep":
                    if keepFailed {
                        throw MTAGuardError(
                            .journal, host: host, file: HostJournal.folder, text.joined(separator: "\n").trimmed(600),
                            hint: "use --become or log in as root, or --host-runs-kept 0 to keep the journal on this control node only")
                    }
                    if let (_, outcome) = pending {
                        results.append(StepResult(outcome, text.joined(separator: "\n").trimmed(600)))
                    }
                    pending = nil
                case "locked":
                    let owner = line.dropFirst(marker.count + 1 + "locked".count).trimmingCharacters(in: .whitespaces)
                    throw MTAGuardError(
                        .locked,                         host: host, "another mtaguard run holds this host's lock (\(owner.isEmpty ? "owner unknown" : owner))",
                        hint: "wait for it to finish; nothing was changed")
                case "stale":
                    let owner = line.dropFirst(marker.count + 1 + "stale".count).trimmingCharacters(in: .whitespaces)
                    throw MTAGuardError(
                        .locked,                         host: host, "this host's lock is stale: \(owner), and that process is gone",
                        hint: "a run was interrupted; see mtaguard runs, then pass --break-stale-lock; nothing was changed")
                case "lockerror":
                    // lockerror denied|other WHY: whether the login may write the lock's folder.
                    let rest = line.dropFirst(marker.count + 1 + "lockerror".count).trimmingCharacters(in: .whitespaces)
                    let denied = rest.hasPrefix("denied")
                    let why = rest.split(separator: " ", maxSplits: 1).dropFirst().first.map(String.init) ?? ""
                    throw MTAGuardError(
                        denied ? .permission : .failed,
                        host: host, "cannot take the host lock: \(why.isEmpty ? "mkdir failed" : why)",
                        hint: denied ? "use --become or log in as root; nothing was changed" : "nothing was changed")
                case "keepfailed":
                    keepFailed = true
                    text = []
                case "done": finished = true
                default: break
                }
            } else if pending != nil || keepFailed {
                text.append(line)
            }
        }
        return (results, finished)
    }
}

