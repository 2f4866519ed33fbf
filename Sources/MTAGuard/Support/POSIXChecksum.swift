import Foundation

/// The checksum POSIX `cksum` prints ("CRC SIZE"), the one checksum every Unix host has
/// (AIX, HP-UX and Solaris 10 lack sha256sum). Remote scripts compare a file's `cksum` with
/// this value to see whether it is still the file the plan was made from.
enum POSIXChecksum {
    private static let table: [UInt32] = (0..<256).map { i in
        var c = UInt32(i) << 24
        for _ in 0..<8 { c = (c & 0x8000_0000) != 0 ? (c << 1) ^ 0x04C1_1DB7 : c << 1 }
        return c
    }

    static func crc(_ data: Data) -> UInt32 {
        var crc: UInt32 = 0
        for byte in data {
            crc = (crc << 8) ^ table[Int((crc >> 24) ^ UInt32(byte))]
        }
        var length = UInt64(data.count)
        while length != 0 {
            crc = (crc << 8) ^ table[Int((crc >> 24) ^ UInt32(length & 0xFF))]
            length >>= 8
        }
        return ~crc
    }

    /// What `cksum < FILE` prints for these bytes.
    static func line(_ data: Data) -> String { "\(crc(data)) \(data.count)" }
}
