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
            var findings: [Finding]
        }
    }

    public static func findings(_ plans: [HostPlan]) -> String {
        encode(CheckDocument(hosts: plans.map {
            .init(host: $0.host, error: $0.error?.description, findings: $0.findings)
        }))
    }

    struct RunEntry: Encodable {
        var id: String
        var started: Date
        var finished: Date?
        var command: String
        var outcome: String
        var rollbackOf: String?
        var hosts: [String]
    }

    public static func runs(_ manifests: [Manifest]) -> String {
        encode(manifests.map {
            RunEntry(
                id: $0.id, started: $0.started, finished: $0.finished, command: $0.command,
                outcome: $0.outcome.rawValue, rollbackOf: $0.rollbackOf, hosts: $0.hosts.map(\.name))
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
