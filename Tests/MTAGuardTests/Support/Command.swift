// A small synchronous process runner for tests.
//
// Usage:
//     let r = try runCommand(["postconf", "-h", "mail_version"])
//     #expect(r.status == 0)
//
// - argv[0] is looked up on PATH when it contains no "/" (the PATH of
//   `environment` if given, else the test process's PATH, then the usual
//   system directories, so /usr/sbin tools are found even with a short PATH).
// - `environment` is MERGED over the test process's environment (a key in it
//   replaces the inherited value); nil means "inherit unchanged".
// - stdin, stdout and stderr are all serviced concurrently, so a child that
//   writes a lot to both pipes, or does not read its stdin, cannot deadlock us.
// - `status` is the exit status, or 128 + signal number if the child was killed
//   by a signal (shell convention).
// - Output is decoded as UTF-8 (invalid bytes are repaired, never fatal).
//
// Caveat: `runCommand` returns when the child exits AND both pipes reach EOF.
// A command that leaves a daemon behind holding the pipes open would block;
// daemons that detach properly (postfix's master reopens stdio on /dev/null)
// are fine.

import Foundation

#if canImport(Glibc)
import Glibc
#endif

struct CommandResult: Sendable, CustomStringConvertible {
    var status: Int32
    var stdout: String
    var stderr: String

    var succeeded: Bool { status == 0 }

    var description: String {
        "status \(status)\n--- stdout ---\n\(stdout)\n--- stderr ---\n\(stderr)"
    }
}

struct CommandLaunchError: Error, CustomStringConvertible {
    var argv: [String]
    var reason: String
    var description: String { "cannot run \(argv): \(reason)" }
}

/// Run `argv` synchronously and collect its output. Throws only when the
/// command cannot be started (not found, not executable, bad directory);
/// a non-zero exit is reported through `CommandResult.status`.
func runCommand(
    _ argv: [String],
    stdin: String? = nil,
    environment: [String: String]? = nil,
    currentDirectory: String? = nil
) throws -> CommandResult {
    guard let name = argv.first, !name.isEmpty else {
        throw CommandLaunchError(argv: argv, reason: "empty argv")
    }

    var env = ProcessInfo.processInfo.environment
    if let environment {
        env.merge(environment) { _, new in new }
    }

    guard let executable = resolveExecutable(name, path: env["PATH"]) else {
        throw CommandLaunchError(argv: argv, reason: "\(name) not found on PATH or not executable")
    }

    let process = Process()
    process.executableURL = URL(fileURLWithPath: executable)
    process.arguments = Array(argv.dropFirst())
    process.environment = env
    if let currentDirectory {
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: currentDirectory, isDirectory: &isDir), isDir.boolValue else {
            throw CommandLaunchError(argv: argv, reason: "no such directory: \(currentDirectory)")
        }
        process.currentDirectoryURL = URL(fileURLWithPath: currentDirectory)
    }

    let outPipe = Pipe()
    let errPipe = Pipe()
    let inPipe: Pipe? = stdin == nil ? nil : Pipe()
    process.standardOutput = outPipe
    process.standardError = errPipe
    if let inPipe {
        process.standardInput = inPipe
    } else {
        process.standardInput = FileHandle.nullDevice
    }

    do {
        try process.run()
    } catch {
        throw CommandLaunchError(argv: argv, reason: "\(error)")
    }

    // Close our copies of the child's ends, so EOF arrives when the child exits.
    try? outPipe.fileHandleForWriting.close()
    try? errPipe.fileHandleForWriting.close()
    try? inPipe?.fileHandleForReading.close()

    // Dedicated threads, not GCD: blocking reads on the width-limited global
    // queues starve other tests' runners when many run in parallel.
    let stderrBox = DataBox()
    let errReader = errPipe.fileHandleForReading
    let errDone = spawnThread {
        stderrBox.set(readAll(errReader))
    }

    var stdinDone: DispatchSemaphore?
    if let inPipe, let stdin {
        let writer = inPipe.fileHandleForWriting
        let bytes = Data(stdin.utf8)
        stdinDone = spawnThread {
            // A child that exits without reading makes write fail with EPIPE;
            // SIGPIPE is ignored by the test process (see ignoreSIGPIPEOnce).
            writeAll(writer, bytes)
            try? writer.close()
        }
    }

    let stdoutData = readAll(outPipe.fileHandleForReading)
    errDone.wait()
    stdinDone?.wait()
    process.waitUntilExit()

    try? outPipe.fileHandleForReading.close()
    try? errPipe.fileHandleForReading.close()

    let status: Int32
    switch process.terminationReason {
    case .exit: status = process.terminationStatus
    case .uncaughtSignal: status = 128 + process.terminationStatus
    @unknown default: status = process.terminationStatus
    }

    return CommandResult(
        status: status,
        stdout: String(decoding: stdoutData, as: UTF8.self),
        stderr: String(decoding: stderrBox.get(), as: UTF8.self)
    )
}

// MARK: - helpers

private final class DataBox: @unchecked Sendable {
    private let lock = NSLock()
    private var data = Data()
    func set(_ d: Data) { lock.lock(); data = d; lock.unlock() }
    func get() -> Data { lock.lock(); defer { lock.unlock() }; return data }
}

/// Run `body` on a new thread; the semaphore is signalled when it returns.
private func spawnThread(_ body: @escaping @Sendable () -> Void) -> DispatchSemaphore {
    let done = DispatchSemaphore(value: 0)
    let thread = Thread {
        body()
        done.signal()
    }
    thread.stackSize = 256 * 1024
    thread.start()
    return done
}

/// Read until EOF with plain read(2), retrying on EINTR.
private func readAll(_ handle: FileHandle) -> Data {
    let fd = handle.fileDescriptor
    var result = Data()
    var buffer = [UInt8](repeating: 0, count: 65536)
    while true {
        let n = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
        if n > 0 {
            result.append(contentsOf: buffer[0..<n])
        } else if n == 0 {
            break
        } else if errno == EINTR {
            continue
        } else {
            break
        }
    }
    return result
}

private func writeAll(_ handle: FileHandle, _ data: Data) {
    _ = ignoreSIGPIPEOnce
    let fd = handle.fileDescriptor
    data.withUnsafeBytes { raw in
        guard var p = raw.baseAddress else { return }
        var left = raw.count
        while left > 0 {
            let n = write(fd, p, left)
            if n > 0 {
                p += n
                left -= n
            } else if n < 0 && errno == EINTR {
                continue
            } else {
                return  // EPIPE or other error: the child stopped reading
            }
        }
    }
}

/// Writing to a pipe whose reader is gone must not kill the test runner.
private let ignoreSIGPIPEOnce: Void = {
    signal(SIGPIPE, SIG_IGN)
}()

/// Resolve a command name the way execvp would, with a fallback to the usual
/// system directories (tests often run with a PATH lacking /usr/sbin).
private func resolveExecutable(_ name: String, path: String?) -> String? {
    if name.contains("/") {
        return access(name, X_OK) == 0 ? name : nil
    }
    var dirs = (path ?? "").split(separator: ":").map(String.init)
    dirs += ["/usr/local/sbin", "/usr/local/bin", "/usr/sbin", "/usr/bin", "/sbin", "/bin"]
    for dir in dirs where !dir.isEmpty {
        let candidate = dir + "/" + name
        var isDir: ObjCBool = false
        if FileManager.default.fileExists(atPath: candidate, isDirectory: &isDir), !isDir.boolValue,
           access(candidate, X_OK) == 0 {
            return candidate
        }
    }
    return nil
}
