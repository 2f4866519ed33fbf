import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// How many hosts this control node can have in flight at once. Each host in flight holds an
/// OpenSSH client (its session, with pipes for its standard input, output and error) and its
/// files in memory: `--forks` is bounded by the open-file limit and by the memory
/// available, so that a fleet of thousands with a large `--forks` slows down instead of failing
/// hosts with EMFILE or ENOMEM.
public enum ResourceLimits {
    /// Open files one host in flight may need in this process: three pipes (six ends while an
    /// ssh process starts) and a spare.
    static let filesPerHost = 8
    /// Files kept for everything else (the journal, Augeas, the standard streams).
    static let filesReserved = 64
    /// Memory one host in flight may need: its ssh client (mostly shared pages) and
    /// its files and plan here.
    static let bytesPerHost = 16 << 20

    /// Raises the soft open-file limit to the hard one (as OpenSSH and most servers do) and
    /// gives the soft limit now in force.
    @discardableResult
    public static func raiseOpenFiles() -> Int {
        var limit = rlimit()
        guard getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0 else { return 1024 }
        if limit.rlim_cur < limit.rlim_max {
            var raised = limit
            raised.rlim_cur = limit.rlim_max
            if setrlimit(Int32(RLIMIT_NOFILE.rawValue), &raised) == 0 { limit = raised }
        }
        return Int(clamping: limit.rlim_cur)
    }

    /// `MemAvailable` from /proc/meminfo, where there is one.
    public static func availableMemory() -> Int? {
        guard let text = try? String(contentsOfFile: "/proc/meminfo", encoding: .utf8) else { return nil }
        for line in text.split(separator: "\n") where line.hasPrefix("MemAvailable:") {
            let words = line.split(separator: " ")
            if words.count >= 2, let kb = Int(words[1]) { return kb * 1024 }
        }
        return nil
    }

    /// `forks`, or less where the open files or the memory cannot carry that many hosts at
    /// once; the reason when it is less.
    public static func bound(forks: Int, openFiles: Int = raiseOpenFiles(), memory: Int? = availableMemory()) -> (forks: Int, reason: String?) {
        var bounded = forks
        var reason: String?
        let byFiles = max(1, (openFiles - filesReserved) / filesPerHost)
        if byFiles < bounded {
            bounded = byFiles
            reason = "the open-file limit (\(openFiles)) carries \(byFiles) hosts at once"
        }
        if let memory {
            let byMemory = max(1, memory / bytesPerHost)
            if byMemory < bounded {
                bounded = byMemory
                reason = "the memory available (\(memory >> 20) MB) carries \(byMemory) hosts at once"
            }
        }
        return (bounded, reason)
    }
}
