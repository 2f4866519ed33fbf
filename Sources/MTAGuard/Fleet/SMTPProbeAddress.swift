import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Where the SMTP probe connects for one host: an IPv4 or IPv6 address (an IPv6 one with or
/// without brackets) or a host name (RFC 1123 labels of letters, digits and '-', at most 253
/// characters), nothing else. It comes from `--smtp-host` on one host, or from each host's
/// `mtaguard_smtp_host` inventory variable in a fleet: a service address of that host.
public struct SMTPProbeAddress: Sendable, Equatable, CustomStringConvertible {
    /// The address as the probe takes it (IPv6 without brackets).
    public let text: String

    /// The inventory variable that gives a host's probe address.
    public static let variable = "mtaguard_smtp_host"

    public init?(_ value: String) {
        let bare = value.hasPrefix("[") && value.hasSuffix("]") && value.count > 2 ? String(value.dropFirst().dropLast()) : value
        if Self.isIP(bare) {
            text = bare
        } else if bare == value, Self.isHostName(value) {
            text = value
        } else {
            return nil
        }
    }

    public var description: String { text }

    static func isIP(_ s: String) -> Bool {
        var v4 = in_addr(), v6 = in6_addr()
        return inet_pton(AF_INET, s, &v4) == 1 || inet_pton(AF_INET6, s, &v6) == 1
    }

    static func isHostName(_ s: String) -> Bool {
        let name = s.hasSuffix(".") ? String(s.dropLast()) : s
        guard !name.isEmpty, name.utf8.count <= 253 else { return false }
        let labels = name.split(separator: ".", omittingEmptySubsequences: false)
        // All digits and dots is an IPv4 address or nothing: "10.0.0.300" is no name.
        guard !labels.allSatisfy({ !$0.isEmpty && $0.allSatisfy(\.isASCII) && $0.allSatisfy(\.isNumber) }) else { return false }
        return labels.allSatisfy { label in
            (1...63).contains(label.utf8.count) && !label.hasPrefix("-") && !label.hasSuffix("-")
                && label.unicodeScalars.allSatisfy { $0.isASCII && (CharacterSet.alphanumerics.contains($0) || $0 == "-") }
        }
    }

    /// Why `value` is no probe address (for the inventory's error), or nil when it is one.
    static func problem(_ value: String) -> String? {
        SMTPProbeAddress(value) == nil ? "is neither an IP address nor a host name" : nil
    }

    /// The address to probe `host` at: `override` (`--smtp-host`), else the host's
    /// `mtaguard_smtp_host`, else the address mtaguard reaches it at, else 127.0.0.1 (this host).
    static func forHost(_ host: any Host, override: String?) -> String {
        if let override, let a = SMTPProbeAddress(override) { return a.text }
        if let v = host.variables[variable], let a = SMTPProbeAddress(v) { return a.text }
        return host.address.ssh?.address ?? "127.0.0.1"
    }
}
