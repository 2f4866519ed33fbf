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
    /// - Parameter timeout: seconds after which the program is terminated (then killed); the
    ///   result then has status 124, as timeout(1) reports it.
    static func run(
        _ argv: [String], stdin: Data? = nil, environment: [String: String]? = nil, timeout: Int? = nil
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
        let expired = TimeoutFlag()
        if let timeout {
            let pid = process.processIdentifier
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
        nonisolated(unsafe) var errData = Data()
        group.enter()
        // Threads of their own: Dispatch's pool is as wide as the machine has cores, and a fleet
        // run has many of these blocking reads at once.
        Thread.detachNewThread {
            errData = err.fileHandleForReading.readDataToEndOfFile()
            group.leave()
        }
        let outData = out.fileHandleForReading.readDataToEndOfFile()
        group.wait()
        process.waitUntilExit()
        return CommandOutput(
            status: expired.isSet ? 124 : process.terminationStatus,
            stdout: String(decoding: outData, as: UTF8.self),
            stderr: String(decoding: errData, as: UTF8.self))
    }
}

/// Set once, read after: whether a timeout fired.
final class TimeoutFlag: @unchecked Sendable {
    private let lock = NSLock()
    private var value = false
    func set() { lock.withLock { value = true } }
    var isSet: Bool { lock.withLock { value } }
}
