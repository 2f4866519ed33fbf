// A loopback TCP port chosen by the kernel.
//
// Binds a socket to 127.0.0.1 port 0, reads back the port the kernel picked,
// and closes the socket. The port is then free for a daemon to bind; there is
// an unavoidable window in which something else could take it, so callers
// that start a daemon on it should retry with a new port if the bind fails
// (PostfixInstance.start does).

import Foundation

#if canImport(Glibc)
import Glibc
#endif

struct LoopbackSocketError: Error, CustomStringConvertible {
    var operation: String
    var code: Int32
    var description: String { "\(operation): \(String(cString: strerror(code))) (errno \(code))" }
}

/// A kernel-chosen free port on 127.0.0.1. Within one test process it never
/// returns the same port twice (parallel tests must not be handed one port).
func freeLoopbackPort() throws -> UInt16 {
    for _ in 0..<50 {
        let port = try kernelChosenLoopbackPort()
        if handedOutPorts.insert(port) { return port }
    }
    throw LoopbackSocketError(operation: "no fresh loopback port after 50 tries", code: EADDRINUSE)
}

private let handedOutPorts = PortRegistry()

private final class PortRegistry: @unchecked Sendable {
    private let lock = NSLock()
    private var ports = Set<UInt16>()
    /// True if `port` was not handed out before.
    func insert(_ port: UInt16) -> Bool {
        lock.lock()
        defer { lock.unlock() }
        return ports.insert(port).inserted
    }
}

private func kernelChosenLoopbackPort() throws -> UInt16 {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    guard fd >= 0 else { throw LoopbackSocketError(operation: "socket", code: errno) }
    defer { close(fd) }

    var addr = loopbackAddress(port: 0)
    let bound = withUnsafePointer(to: &addr) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
            bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
        }
    }
    guard bound == 0 else { throw LoopbackSocketError(operation: "bind 127.0.0.1:0", code: errno) }

    var len = socklen_t(MemoryLayout<sockaddr_in>.size)
    let named = withUnsafeMutablePointer(to: &addr) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
            getsockname(fd, $0, &len)
        }
    }
    guard named == 0 else { throw LoopbackSocketError(operation: "getsockname", code: errno) }

    let port = UInt16(bigEndian: addr.sin_port)
    guard port != 0 else { throw LoopbackSocketError(operation: "getsockname returned port 0", code: EADDRNOTAVAIL) }
    return port
}

/// sockaddr_in for 127.0.0.1:port (port in host byte order).
func loopbackAddress(port: UInt16) -> sockaddr_in {
    var addr = sockaddr_in()
    addr.sin_family = sa_family_t(AF_INET)
    addr.sin_port = port.bigEndian
    addr.sin_addr.s_addr = UInt32(0x7F00_0001).bigEndian
    return addr
}

/// sockaddr_in for a dotted IPv4 `address`:port (port in host byte order); nil when `address`
/// is not one.
func ipv4Address(_ address: String, port: UInt16) -> sockaddr_in? {
    var addr = loopbackAddress(port: port)
    guard inet_pton(AF_INET, address, &addr.sin_addr) == 1 else { return nil }
    return addr
}
