import Foundation

/// What a command printed and how it ended.
public struct CommandOutput: Sendable, Equatable {
    public var status: Int32
    public var stdout: String
    public var stderr: String
    public var combined: String { [stdout, stderr].filter { !$0.isEmpty }.joined(separator: "\n") }
}

/// Runs a program without a shell (arguments are never re-parsed), stdin from /dev/null unless
/// given, and collects its output.
enum ProcessRunner {
    /// The most a program (an SSH session included: what a host sends back) may print on
    /// stdout; stderr keeps its first `stderrLimit` bytes. Beyond, the program is killed and the
    /// run fails, rather than the control node's memory growing with what a host sends: the
    /// facts script sends at most 1 MiB of each file (3 bytes of od a byte).
    static let stdoutLimit = 64 << 20
    static let stderrLimit = 1 << 20

    /// - Parameter timeout: seconds after which the program is terminated (then killed); the
    ///   result then has status 124, as timeout(1) reports it.
    /// - Parameter outputLimit: the most stdout may hold (`stdoutLimit` unless given); a program
    ///   that prints more is killed, and `run` throws naming the limit.
    static func run(
        _ argv: [String], stdin: Data? = nil, environment: [String: String]? = nil, timeout: Int? = nil,
        outputLimit: Int = stdoutLimit
    ) throws -> CommandOutput {
        guard let program = argv.first else { throw MTAGuardError("empty command") }
        // A child that exits before reading all its stdin must not kill us with SIGPIPE.
        signal(SIGPIPE, SIG_IGN)
        let process = Process()
        if program.contains("/") {
            process.executableURL = URL(fileURLWithPath: program)
            process.arguments = Array(argv.dropFirst())
        } else {
            process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
            process.arguments = argv
        }
        if let environment { process.environment = environment }
        let out = Pipe(), err = Pipe()
        process.standardOutput = out
        process.standardError = err
        let input = Pipe()
        process.standardInput = stdin == nil ? FileHandle.nullDevice : input
        do {
            try process.run()
        } catch {
            throw MTAGuardError("cannot run \(program): \(error.localizedDescription)")
        }
        let pid = process.processIdentifier
        let expired = TimeoutFlag()
        if let timeout {
            DispatchQueue.global().asyncAfter(deadline: .now() + .seconds(timeout)) {
                guard process.isRunning else { return }
                expired.set()
                kill(pid, SIGTERM)
                DispatchQueue.global().asyncAfter(deadline: .now() + .seconds(2)) {
                    if process.isRunning { kill(pid, SIGKILL) }
                }
            }
        }
        if let stdin {
            // Written from another thread: a large script must not block reading the output.
            let writer = input.fileHandleForWriting
            Thread.detachNewThread {
                try? writer.write(contentsOf: stdin)
                try? writer.close()
            }
        }
        // Read both pipes concurrently so a chatty child cannot block on a full pipe.
        let group = DispatchGroup()
        let errBox = DataBox()
        group.enter()
        // Threads of their own: Dispatch's pool is as wide as the machine has cores, and a fleet
        // run has many of these blocking reads at once.
        Thread.detachNewThread {
            // Kept to its first bytes; the rest is read and dropped so the child never blocks.
            errBox.set(Self.read(err.fileHandleForReading, keep: stderrLimit, onOverflow: nil))
            group.leave()
        }
        let overflow = TimeoutFlag()
        let outData = Self.read(out.fileHandleForReading, keep: outputLimit) {
            overflow.set()
            kill(pid, SIGKILL)
        }
        if overflow.isSet {
            // The killed client's stderr may stay open in a process it started (an ssh master
            // gone to the background): its last words are not waited for.
            _ = group.wait(timeout: .now() + 5)
        } else {
            group.wait()
        }
        process.waitUntilExit()
        let errData = errBox.value
        if overflow.isSet {
            throw MTAGuardError(
                .hostProtocol, "\(program) printed more than \(outputLimit) bytes, the most mtaguard reads from one command; it was stopped",
                hint: "a file on the host too large to be configuration, or a host that does not answer as mtaguard's scripts do")
        }
        return CommandOutput(
            status: expired.isSet ? 124 : process.terminationStatus,
            stdout: String(decoding: outData, as: UTF8.self),
            stderr: String(decoding: errData, as: UTF8.self))
    }
}

extension ProcessRunner {
    /// Reads `handle` to its end, keeping at most `keep` bytes. Past that, `onOverflow` (when
    /// given) is called once and reading stops; without it the rest is read and dropped.
    static func read(_ handle: FileHandle, keep: Int, onOverflow: (() -> Void)?) -> Data {
        var data = Data()
        while true {
            guard let chunk = try? handle.read(upToCount: 1 << 16), !chunk.isEmpty else { break }
            if data.count + chunk.count > keep {
                data.append(chunk.prefix(max(0, keep - data.count)))
                if let onOverflow {
                    onOverflow()
                    break
                }
                continue
            }
            data.append(chunk)
        }
        return data
    }
}

/// Bytes handed over from a reading thread.
final class DataBox: @unchecked Sendable {
    private let lock = NSLock()
    private var data = Data()
    func set(_ new: Data) { lock.withLock { data = new } }
    var value: Data { lock.withLock { data } }
}

/// Set once, read after: whether a timeout fired.
final class TimeoutFlag: @unchecked Sendable {
    private let lock = NSLock()
    private var value = false
    func set() { lock.withLock { value = true } }
    var isSet: Bool { lock.withLock { value } }
}
