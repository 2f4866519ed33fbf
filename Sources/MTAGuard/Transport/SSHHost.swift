import Foundation

/// A host reached over SSH: facts in one remote execution, an apply in one more. Nothing runs on
/// the host but the generated POSIX `sh` scripts.
public struct SSHHost: Host {
    public let name: String
    public let target: SSHTarget
    let transport: SSHTransport
    public let mode: Mode?
    public let variables: [String: String]

    public init(name: String, target: SSHTarget, transport: SSHTransport, mode: Mode? = nil, variables: [String: String] = [:]) {
        self.variables = variables
        self.name = name
        self.target = target
        self.transport = transport
        self.mode = mode
    }

    public var isLive: Bool { true }
    public var address: HostAddress { HostAddress(kind: .ssh, root: nil, ssh: target) }

    public func facts(_ request: FactsRequest) async throws -> HostFacts {
        let script = RemoteScript()
        let out = try await transport.execute(target, script: script.facts(request))
        try await checkConnection(out)
        do {
            return try script.parseFacts(
                out.stdout, paths: request.paths, metadata: request.metadata, folders: request.folders, host: name)
        } catch let error as MTAGuardError {
            if out.stdout.isEmpty || !out.stdout.contains(script.marker) {
                throw MTAGuardError(.hostProtocol, host: name, "the host did not run the facts script: \(out.combined.trimmed(300))")
            }
            throw error
        }
    }

    public var keepsRuns: Int { transport.options.hostRunsKept }

    public func apply(_ steps: [ApplyStep], runID: String) async throws -> [StepResult] {
        try await apply(steps, runID: runID, keep: nil)
    }

    public func apply(_ steps: [ApplyStep], runID: String, keep copy: RunCopy?) async throws -> [StepResult] {
        let script = RemoteScript()
        let controller = ProcessInfo.processInfo.hostName
        let keep = keepsRuns > 0 ? copy : nil
        let out = try await transport.execute(
            target, script: script.apply(steps, runID: runID, controller: controller, breakStaleLock: transport.options.breakStaleLock, keep: keep))
        let (results, finished) = try script.parseApply(out.stdout, host: name)
        if !finished, results.last.map({ $0.outcome.isFailure }) != true {
            // The connection dropped or the script died mid-way: the step in flight may or may
            // not have happened.
            var partial = results
            partial.append(StepResult(.inDoubt, "the connection ended during step \(results.count + 1): \(connectionText(out))"))
            return partial
        }
        return results
    }

    /// The host's part of the run is over: its session ends.
    public func end() async { await transport.end(target) }

    private func checkConnection(_ out: CommandOutput) async throws {
        guard out.status == 255 || out.status == 124 else { return }
        throw MTAGuardError(.unreachable, host: name, "unreachable: \(connectionText(out))", hint: hint(out.stderr))
    }

    private func connectionText(_ out: CommandOutput) -> String {
        if out.status == 124 { return "timed out after \(transport.options.commandTimeout) s" }
        let text = out.stderr.split(whereSeparator: \.isNewline).filter { !$0.hasPrefix("@") && !$0.isEmpty }.suffix(2).joined(separator: "; ")
        return text.isEmpty ? "ssh exited \(out.status)" : text
    }

    private func hint(_ stderr: String) -> String? {
        if stderr.contains("Host key verification failed") || stderr.contains("REMOTE HOST IDENTIFICATION HAS CHANGED") {
            return "the host key does not match known_hosts; verify the host, then update known_hosts"
        }
        if stderr.contains("Permission denied") { return "check the user and key (ansible_user, ansible_ssh_private_key_file)" }
        if stderr.contains("Connection refused") || stderr.contains("timed out") { return "is sshd running and the port right?" }
        return nil
    }
}
