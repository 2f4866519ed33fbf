import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// One host's SSH session for a whole run: one `ssh HOST 'exec /bin/sh -s'` (become once, at
/// the start), and each of the run's programs (facts, apply, the host journal) sent on its
/// standard input as one framed message, its answer read back up to the frame's end. One
/// connection and one session, where a ControlMaster costs a master, a multiplexed session per
/// round trip and an `-O exit`.
///
/// A message is the program in a subshell reading `/dev/null` (so an `exit` or a `set` in it
/// ends or changes only that program, and no command in it reads the next message), then a
/// line with an end marker and the program's exit status on standard output, and the marker
/// alone on standard error. The marker is random per message: what a program prints never
/// ends its answer early by accident. (A host that wants to lie can print anything; its
/// answers are parsed as input, never trusted.)
///
/// A session that ends before the marker (the connection dropped, the host rebooted, ssh could
/// not connect) answers with what was read and ssh's status, as one `ssh` process per program
/// did: 255 for ssh's own failures, so the host is unreachable, and an apply cut short is
/// in-doubt. Every later message on it gets the same answer without being sent.
final class SSHSession: @unchecked Sendable {
    private let pid: pid_t
    /// The write end of ssh's standard input; -1 once closed.
    private var input: Int32
    private let lock = NSCondition()
    private var out = Data()
    private var err = Data()
    private var outEnded = false
    private var errEnded = false
    /// ssh's wait status, once reaped.
    private var exitStatus: Int32?
    /// Set once the session cannot carry another message (ended, killed, timed out).
    private var dead: CommandOutput?
    /// The writer of a message whose answer never came (the session died or was killed while
    /// it was sent): signalled when it has stopped writing. `finish` waits for it before it
    /// closes the pipe, so that a descriptor number reused meanwhile is never written to.
    private var writing: DispatchSemaphore?
    /// One message at a time.
    private let turn = NSLock()
    let program: String

    /// Starts `argv` with nothing of this process but three pipes of its own: every other
    /// descriptor is closed in the child (`closefrom`), and the pipes are close-on-exec here,
    /// so that no other command this process starts (a validator, another host's session)
    /// holds one open. Foundation's Process leaves both to chance: a session that lives for a
    /// run would then keep another command's output open, and that command's reader waiting,
    /// for as long as the session lasts.
    init(argv: [String]) throws {
        program = argv[0]
        signal(SIGPIPE, SIG_IGN)
        var fds = [Int32](repeating: -1, count: 6)
        for i in 0..<3 {
            let ok = fds.withUnsafeMutableBufferPointer { spawnPipe($0.baseAddress! + 2 * i, O_CLOEXEC) } == 0
            guard ok else {
                let e = errno
                for fd in fds where fd >= 0 { close(fd) }
                throw MTAGuardError("cannot start \(argv[0]): \(LocalFiles.errnoText(e))")
            }
        }
        // fds: [in.read, in.write, out.read, out.write, err.read, err.write]
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_adddup2(&actions, fds[0], 0)
        posix_spawn_file_actions_adddup2(&actions, fds[3], 1)
        posix_spawn_file_actions_adddup2(&actions, fds[5], 2)
        _ = spawnCloseFrom(&actions, 3)
        var cargs: [UnsafeMutablePointer<CChar>?] = argv.map { strdup($0) } + [nil]
        defer { for p in cargs { free(p) } }
        var child: pid_t = 0
        let rc = posix_spawnp(&child, argv[0], &actions, nil, &cargs, environ)
        close(fds[0]); close(fds[3]); close(fds[5])
        guard rc == 0 else {
            close(fds[1]); close(fds[2]); close(fds[4])
            throw MTAGuardError("cannot run \(argv[0]): \(LocalFiles.errnoText(rc))")
        }
        pid = child
        input = fds[1]
        let outFD = fds[2], errFD = fds[4]
        // Both streams are drained as they come, so a chatty program never blocks on a full pipe.
        Thread.detachNewThread { [self] in drain(outFD, stdout: true) }
        Thread.detachNewThread { [self] in drain(errFD, stdout: false) }
    }

    private func drain(_ fd: Int32, stdout: Bool) {
        var buffer = [UInt8](repeating: 0, count: 1 << 16)
        while true {
            // read(2), which returns what has come; FileHandle.read(upToCount:) waits for all of it.
            var n: Int
            repeat { n = buffer.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) } } while n < 0 && errno == EINTR
            let chunk: Data? = n > 0 ? Data(buffer[0..<n]) : nil
            lock.lock()
            if let chunk {
                if stdout {
                    out.append(chunk)
                } else {
                    err.append(chunk)
                    // stderr keeps its first bytes and its last (where the marker is).
                    if err.count > ProcessRunner.stderrLimit + (1 << 16) {
                        err.removeSubrange((err.startIndex + ProcessRunner.stderrLimit)..<(err.endIndex - 4096))
                    }
                }
                lock.broadcast()
                lock.unlock()
            } else {
                if stdout { outEnded = true } else { errEnded = true }
                lock.broadcast()
                lock.unlock()
                close(fd)
                return
            }
        }
    }

    /// Sends `script` and waits for its answer: at most `timeout` seconds (then the session is
    /// killed and the answer has status 124, as timeout(1) says), at most `outputLimit` bytes
    /// on standard output (then the session is killed and this throws).
    func exchange(_ script: String, timeout: Int, outputLimit: Int = ProcessRunner.stdoutLimit) throws -> CommandOutput {
        turn.lock()
        defer { turn.unlock() }
        if let dead = lock.withLock({ dead }) { return dead }
        let nonce = String(format: "%08x%08x%08x%08x", UInt32.random(in: .min ... .max), UInt32.random(in: .min ... .max),
                           UInt32.random(in: .min ... .max), UInt32.random(in: .min ... .max))
        let end = "@@mtaguard-end-" + nonce
        let message = "(\n" + script + "\n) </dev/null\nprintf '\\n%s %s\\n' '\(end)' \"$?\"\nprintf '\\n%s\\n' '\(end)' >&2\n"
        let writer = lock.withLock { input }
        // Written from a thread of its own: a large program must not wait for its answer to be read.
        let sent = DispatchSemaphore(value: 0)
        lock.withLock { writing = sent }
        Thread.detachNewThread {
            var bytes = Array(message.utf8)[...]
            while !bytes.isEmpty && writer >= 0 {
                let n = bytes.withUnsafeBytes { Glibc.write(writer, $0.baseAddress, $0.count) }
                if n < 0 { if errno == EINTR { continue }; break }
                bytes = bytes.dropFirst(n)
            }
            sent.signal()
        }
        let outMarker = Data(("\n" + end + " ").utf8), errMarker = Data(("\n" + end + "\n").utf8)
        let deadline = Date().addingTimeInterval(TimeInterval(timeout))
        lock.lock()
        var status: Int32?
        var outEnd: Range<Data.Index>?, errEnd: Range<Data.Index>?
        // Where the marker may still start: each wake searches only what came since.
        var outFrom = out.startIndex
        while true {
            if outEnd == nil {
                if let r = out.range(of: outMarker, in: outFrom..<out.endIndex) {
                    outFrom = r.lowerBound
                    if let nl = out[r.upperBound...].firstIndex(of: 0x0A) {
                        status = Int32(String(decoding: out[r.upperBound..<nl], as: UTF8.self)) ?? 255
                        outEnd = r.lowerBound..<(nl + 1)
                    }
                } else {
                    outFrom = max(out.startIndex, out.endIndex - outMarker.count)
                }
            }
            if errEnd == nil, let r = err.range(of: errMarker) { errEnd = r }
            if outEnd != nil && errEnd != nil { break }
            if out.count > outputLimit {
                lock.unlock()
                kill()
                throw MTAGuardError(
                    .hostProtocol, "\(program) printed more than \(outputLimit) bytes, the most mtaguard reads from one command; it was stopped",
                    hint: "a file on the host too large to be configuration, or a host that does not answer as mtaguard's scripts do")
            }
            if (outEnded && outEnd == nil) || (errEnded && errEnd == nil) {
                // The session ended before the answer did.
                lock.unlock()
                return ended(expired: false)
            }
            if !lock.wait(until: deadline) {
                lock.unlock()
                kill()
                return ended(expired: true)
            }
        }
        let answer = CommandOutput(
            status: status ?? 255,
            stdout: String(decoding: out[out.startIndex..<outEnd!.lowerBound], as: UTF8.self),
            stderr: String(decoding: err[err.startIndex..<errEnd!.lowerBound].prefix(ProcessRunner.stderrLimit), as: UTF8.self))
        out.removeSubrange(out.startIndex..<outEnd!.upperBound)
        err.removeSubrange(err.startIndex..<errEnd!.upperBound)
        lock.unlock()
        sent.wait()
        lock.withLock { writing = nil }
        return answer
    }

    /// The answer of a session that ended (or was killed) before its message's end: what was
    /// read, and ssh's status; every later message gets the same.
    private func ended(expired: Bool) -> CommandOutput {
        // The streams end with the process; wait for it (a killed one goes at once).
        lock.lock()
        let limit = Date().addingTimeInterval(5)
        while !(outEnded && errEnded) && lock.wait(until: limit) {}
        let text = (String(decoding: out, as: UTF8.self), String(decoding: err.prefix(ProcessRunner.stderrLimit), as: UTF8.self))
        out = Data()
        err = Data()
        lock.unlock()
        if !expired && outEnded && errEnded { reap(within: 5) }
        let status: Int32 = expired ? 124 : lock.withLock { exitStatus.map(Self.exitCode) } ?? 255
        // A session that ended while its shell was still there said nothing of why: ssh's status
        // 0 would read as success.
        let answer = CommandOutput(status: status == 0 ? 255 : status, stdout: text.0, stderr: text.1)
        lock.withLock { dead = answer }
        return answer
    }

    /// Kills ssh (and so the session): TERM, then KILL after two seconds.
    private func kill() {
        guard !reaped() else { return }
        Glibc.kill(pid, SIGTERM)
        DispatchQueue.global().asyncAfter(deadline: .now() + .seconds(2)) { [self] in
            if !reaped() { Glibc.kill(pid, SIGKILL) }
        }
    }

    /// Whether ssh has exited (and is reaped, its status kept).
    private func reaped() -> Bool {
        lock.withLock {
            if exitStatus != nil { return true }
            var status: Int32 = 0
            if waitpid(pid, &status, WNOHANG) == pid { exitStatus = status }
            return exitStatus != nil
        }
    }

    /// An exit status as a shell says it: the code, or 128 plus the signal.
    static func exitCode(_ status: Int32) -> Int32 {
        (status & 0x7f) == 0 ? (status >> 8) & 0xff : 128 + (status & 0x7f)
    }

    /// Ends the session: its shell reads the end of its input and exits, and ssh with it.
    /// Killed if it has not gone within `grace` seconds.
    func finish(grace: Double = 10) {
        if let writer = lock.withLock({ writing }) {
            // A message still being written when its session died: ssh is gone or going, so the
            // write fails (EPIPE) at once; if it does not, ssh is made to go.
            if writer.wait(timeout: .now() + grace) == .timedOut {
                Glibc.kill(pid, SIGKILL)
                if writer.wait(timeout: .now() + 5) == .timedOut {
                    // Never observed: keep the descriptor open rather than risk writing to a reused one.
                    lock.withLock { input = -1 }
                }
            }
            lock.withLock { writing = nil }
        }
        lock.withLock {
            if input >= 0 { close(input) }
            input = -1
        }
        lock.lock()
        let limit = Date().addingTimeInterval(grace)
        while !(outEnded && errEnded) && lock.wait(until: limit) {}
        let ended = outEnded && errEnded
        lock.unlock()
        if !ended { kill() }
        reap(within: 5)
        if !reaped() {
            Glibc.kill(pid, SIGKILL)
            reap(within: 5)
        }
    }

    /// Waits until ssh has exited, at most `seconds` (it was killed or has ended its streams,
    /// so it is going).
    private func reap(within seconds: Double) {
        let limit = Date().addingTimeInterval(seconds)
        while !reaped() && Date() < limit { usleep(2_000) }
    }

    deinit {
        if input >= 0 { close(input) }
    }
}

/// glibc's posix_spawn_file_actions_addclosefrom_np (2.34 and later), which Swift's Glibc
/// module does not declare: the child closes every descriptor from `from` up.
@_silgen_name("posix_spawn_file_actions_addclosefrom_np")
private func spawnCloseFrom(_ actions: UnsafeMutablePointer<posix_spawn_file_actions_t>, _ from: Int32) -> Int32

/// pipe2(2), which Swift's Glibc module does not declare either: both ends close-on-exec.
@_silgen_name("pipe2")
private func spawnPipe(_ fds: UnsafeMutablePointer<Int32>, _ flags: Int32) -> Int32
