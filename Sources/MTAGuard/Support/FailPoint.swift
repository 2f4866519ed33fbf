import Foundation

/// Named points in a run where the crash-consistency tests kill mtaguard, the way a power cut
/// or `kill -9` would: no clean-up, no last journal write.
///
/// `MTAGUARD_FAILPOINT=NAME[#N][,NAME[#N]…]` sends SIGKILL to this process the N-th time
/// (default: the first) it reaches NAME. Unset, a point costs one dictionary lookup. The points:
///
/// | name | reached |
/// |---|---|
/// | `apply.begun` | the run's manifest is written, before any host is journaled |
/// | `apply.journaled` | a host's pre-images and record are written, before it is touched |
/// | `apply.applied` | a host's steps ran, before the journal records what they did |
/// | `apply.undo` | a failed host is about to be rolled back automatically |
/// | `host.step` | this machine or an offline root finished one step (a file, a command) |
/// | `rollback.begun` | a rollback's manifest and the bytes it replaces are written |
/// | `rollback.applied` | a host's undo steps ran, before the journal records them |
enum FailPoint {
    private static let armed: [String: Int] = {
        guard let spec = ProcessInfo.processInfo.environment["MTAGUARD_FAILPOINT"], !spec.isEmpty else { return [:] }
        var points: [String: Int] = [:]
        for item in spec.split(separator: ",") {
            let parts = item.split(separator: "#", maxSplits: 1)
            points[String(parts[0])] = parts.count > 1 ? Int(parts[1]) ?? 1 : 1
        }
        return points
    }()
    private static let lock = NSLock()
    nonisolated(unsafe) private static var reached: [String: Int] = [:]

    static func reach(_ name: String) {
        guard let n = armed[name] else { return }
        lock.lock()
        reached[name, default: 0] += 1
        let hit = reached[name] == n
        lock.unlock()
        if hit { kill(getpid(), SIGKILL) }
    }
}
