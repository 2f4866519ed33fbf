import Crypto
import Foundation

extension Data {
    /// Lower-case hex SHA-256 of these bytes, as recorded in journals and compared for drift.
    public var sha256Hex: String {
        SHA256.hash(data: self).map { String(format: "%02x", $0) }.joined()
    }
}
