import Foundation

/// Machine-readable output. The shapes are versioned; fields are only ever added.
public enum JSONReport {
    public static let schemaVersion = 1

    struct CheckDocument: Encodable {
        var schema = "mtaguard.check/\(JSONReport.schemaVersion)"
        var hosts: [HostEntry]
        struct HostEntry: Encodable {
            var host: String
            var error: String?
            /// The error's kind (`MTAGuardError.Code`): unreachable, permission, unreadable-file, …
            var errorCode: String?
            var findings: [Finding]
        }
    }

    public static func findings(_ plans: [HostPlan]) -> String {
        encode(CheckDocument(hosts: plans.map {
            .init(host: $0.host, error: $0.error?.description, errorCode: $0.error?.code.rawValue, findings: $0.findings)
        }))
    }

    struct RunDocument: Encodable {
        var schema = "mtaguard.run/\(JSONReport.schemaVersion)"
        var runID: String?
        var exitCode: Int32
        var hosts: [Manifest.HostRecord]
        var unchanged: [String]
        var errors: [String]
        /// Per planned host: seconds in each phase (`Phases`), as the control node timed them.
        var phases: [String: Phases]
    }

    /// `apply`/`rollback --format json`: the journal's records of the run, plus the hosts that
    /// needed nothing and the ones that could not be planned.
    public static func run(_ result: RunResult) -> String {
        let recorded = Set(result.hosts.map(\.name))
        return encode(RunDocument(
            runID: result.runID, exitCode: result.exitCode, hosts: result.hosts,
            unchanged: result.plans.filter { !recorded.contains($0.host) && $0.errors.isEmpty }.map(\.host),
            errors: result.errors.map(\.description),
            phases: Dictionary(result.plans.map { ($0.host, $0.phases) }, uniquingKeysWith: { a, _ in a })))
    }

    struct RunEntry: Encodable {
        var id: String
        var started: Date
        var finished: Date?
        var command: String
        var outcome: String
        var rollbackOf: String?
        var hosts: [String]
        /// The approved plan's SHA-256 (`apply --plan`).
        var plan: String?
    }

    public static func runs(_ manifests: [Manifest]) -> String {
        encode(manifests.map {
            RunEntry(
                id: $0.id, started: $0.started, finished: $0.finished, command: $0.command,
                outcome: $0.state, rollbackOf: $0.rollbackOf, hosts: $0.hosts.map(\.name), plan: $0.plan)
        })
    }

    static func encode<T: Encodable>(_ value: T) -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        encoder.dateEncodingStrategy = .iso8601
        let data = (try? encoder.encode(value)) ?? Data("null".utf8)
        return String(decoding: data, as: UTF8.self) + "\n"
    }
}
