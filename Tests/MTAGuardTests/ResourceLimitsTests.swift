import Foundation
import Testing
@testable import MTAGuard

/// `--forks` is bounded by what this control node can carry: the open-file limit and the
/// memory available, whichever is smaller; said on standard error when it is lowered.
@Suite struct ResourceLimitsTests {
    @Test func theOpenFileLimitBoundsTheForks() {
        let b = ResourceLimits.bound(forks: 500, openFiles: 1024, memory: 64 << 30)
        #expect(b.forks == (1024 - 64) / 8)
        #expect(b.reason == "the open-file limit (1024) carries 120 hosts at once")
    }

    @Test func theMemoryBoundsTheForks() {
        let b = ResourceLimits.bound(forks: 500, openFiles: 1 << 20, memory: 1 << 30)
        #expect(b.forks == 64)
        #expect(b.reason?.contains("the memory available (1024 MB)") == true)
    }

    @Test func forksWithinBothAreKept() {
        let b = ResourceLimits.bound(forks: 50, openFiles: 1024, memory: 1 << 30)
        #expect(b.forks == 50 && b.reason == nil)
        #expect(ResourceLimits.bound(forks: 50, openFiles: 10, memory: 1).forks == 1, "never below one")
    }

    @Test func theSoftOpenFileLimitIsRaisedToTheHardOne() {
        var limit = rlimit()
        ResourceLimits.raiseOpenFiles()
        #expect(getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0)
        #expect(limit.rlim_cur == limit.rlim_max)
    }

    @Test func theCommandSaysWhenItLowersTheForks() throws {
        let root = try TempDir("forks")
        defer { root.remove() }
        try root.write("etc/postfix/main.cf", "disable_vrfy_command = yes\n")
        let r = try mtaguard(["check", "--item", "SRV-005", "--root", root.path, "--forks", "1000000"], backups: root.path + "/b")
        #expect(r.stderr.contains("mtaguard: --forks 1000000 lowered to "), "\(r)")
        #expect(r.status == 0, "\(r)")
    }
}
