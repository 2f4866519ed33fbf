import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// Why the login could not establish what a path is: the third answer of a file fact, beside
/// "here it is" and "it does not exist". A file is absent only when the host established
/// ENOENT (or ENOTDIR on the way); a folder on the way the login may not search hides whether
/// the file exists, and that must never read as "absent" (해당 없음). Both readers say it with
/// the same words: the facts script over SSH (`RemoteScript.reach`) and this machine's own
/// system calls (`Unreached.find`, for the live host and `--root`).
public enum Unreached: Equatable, Sendable {
    /// FOLDER, on the way or the folder asked for itself, exists, but the login may not
    /// search it (EACCES).
    case denied(folder: String)
    /// FOLDER, on the way, is a symbolic link that leads to no folder the login can search.
    case linkedAway(folder: String)
    /// The file exists but the login may not read it (EACCES).
    case unreadable
    /// The folder exists but the login may not list it (EACCES).
    case unlistable
    /// The file is larger than mtaguard reads (`FactsLimits.fileBytes`): its bytes were not sent.
    case tooLarge(bytes: UInt64)

    /// The error that stops mtaguard from judging the host on what it could not read: it
    /// names the file, the errno and the folder, and what to do.
    func error(host: String? = nil, file: String) -> MTAGuardError {
        switch self {
        case .denied(let folder) where folder == file:
            return MTAGuardError(
                .permission, host: host, file: file,
                "cannot tell what the folder holds: permission denied (EACCES) searching \(folder); not taken as absent",
                hint: "use --become, or log in as a user that may search \(folder)")
        case .denied(let folder):
            return MTAGuardError(
                .permission, host: host, file: file,
                "cannot tell whether it exists: permission denied (EACCES) searching the folder \(folder); not taken as absent",
                hint: "use --become, or log in as a user that may search \(folder)")
        case .linkedAway(let folder):
            return MTAGuardError(
                .permission, host: host, file: file,
                "cannot tell whether it exists: the folder \(folder) on the way is a symbolic link to no folder the login can search; not taken as absent",
                hint: "use --become, or log in as a user that may search the link's target")
        case .unreadable:
            return MTAGuardError(
                .permission, host: host, file: file, "exists but cannot be read by the login user: permission denied (EACCES)",
                hint: "use --become, or log in as a user that may read it")
        case .unlistable:
            return MTAGuardError(
                .permission, host: host, file: file, "exists but cannot be listed by the login user: permission denied (EACCES); not taken as empty",
                hint: "use --become, or log in as a user that may read the folder")
        case .tooLarge(let bytes):
            return MTAGuardError(
                .unreadableFile, host: host, file: file,
                "is \(bytes) bytes; mtaguard reads configuration files of at most \(FactsLimits.fileBytes) bytes, so its bytes were not sent and it is not judged",
                hint: "is this the MTA's configuration? look at the file by hand")
        }
    }

    /// What the script reported for `path` (`denied FOLDER`, `linked FOLDER`): FOLDER must be
    /// `path` itself (when `orSelf`) or one of its folders, or the report is not believed.
    static func reported(_ word: String, _ folder: String, path: String, orSelf: Bool) -> Unreached? {
        let isAncestor = folder.hasPrefix("/") && path.hasPrefix(folder + "/") && !folder.hasSuffix("/")
        guard isAncestor || (orSelf && folder == path) else { return nil }
        switch word {
        case "denied": return .denied(folder: folder)
        case "linked": return .linkedAway(folder: folder)
        default: return nil
        }
    }

    /// Why `real` (an existing or not path on this machine) could not be looked up although
    /// its lookup failed with EACCES: the first folder on the way the process may not search,
    /// asked of the kernel as the script asks it (`FOLDER/.` looked up). `shown` is the path
    /// as the host sees it (`real` less the `--root` prefix); the folder is named as shown.
    /// `includingSelf` also asks of `real` itself (a folder whose files are wanted).
    static func find(real: String, shown: String, includingSelf: Bool = false) -> Unreached? {
        let prefix = real.hasSuffix(shown) ? String(real.dropLast(shown.count)) : ""
        var components = real.split(separator: "/").map(String.init)
        if !includingSelf { components = Array(components.dropLast()) }
        var folder = ""
        for component in components {
            folder += "/" + component
            var st = stat()
            if stat(folder + "/.", &st) == 0 { continue }
            let named = folder.count > prefix.count && folder.hasPrefix(prefix) ? String(folder.dropFirst(prefix.count)) : folder
            if stat(folder, &st) == 0, (st.st_mode & S_IFMT) == S_IFDIR { return .denied(folder: named) }
            if lstat(folder, &st) == 0, (st.st_mode & S_IFMT) == S_IFLNK { return .linkedAway(folder: named) }
            return nil
        }
        return nil
    }
}

extension Unreached {
    /// Whether the folder `dir` (which exists) can be searched and listed by this process, as
    /// the script asks it: `.denied` (itself) or `.unlistable`, nil when it can.
    static func listing(_ dir: String, shown: String) -> Unreached? {
        var st = stat()
        if stat(dir + "/.", &st) != 0, errno == EACCES { return .denied(folder: shown) }
        guard let handle = opendir(dir) else { return errno == EACCES ? .unlistable : nil }
        closedir(handle)
        return nil
    }
}

extension RemoteScript {
    /// `mtg_reach PATH`: whether this login can look inside every folder on the way to PATH.
    /// Prints nothing and succeeds when it can, so that PATH's own tests tell a file that is
    /// there from one that is not (ENOENT); else prints `absent` (a folder on the way does not
    /// exist or is not a folder: ENOENT, ENOTDIR), `denied FOLDER` (FOLDER exists but may not
    /// be searched: EACCES) or `linked FOLDER` (a link to no folder it can search), and fails.
    /// Searching is asked of the kernel (`[ -d FOLDER/. ]` looks `.` up in FOLDER), not read
    /// from mode bits, so root, ACLs and privileges count as they do for the real lookup.
    static let reach: ShellCode = """
        mtg_reach() {
          mtg_p=; mtg_r=${1#/}
          while :; do
            case $mtg_r in */*) ;; *) return 0;; esac
            mtg_p=$mtg_p/${mtg_r%%/*}; mtg_r=${mtg_r#*/}
            if [ -d "$mtg_p/." ]; then continue; fi
            if [ -d "$mtg_p" ]; then echo "denied $mtg_p"
            elif [ -h "$mtg_p" ]; then echo "linked $mtg_p"
            else echo absent; fi
            return 1
          done
        }

        """
}

/// How much of a host mtaguard reads: every file's bytes are refused on the host above
/// `fileBytes` (the facts script says the size instead), over SSH and with `--root` alike.
public enum FactsLimits {
    public static let fileBytes = 1 << 20
}
