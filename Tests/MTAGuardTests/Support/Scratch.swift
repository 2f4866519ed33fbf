import Foundation

/// Folders for generated cases: on tmpfs where there is one, since every apply and rollback
/// fsyncs its journal and files several times, and 80 cases of that on a disk take a minute.
enum Scratch {
    static func make(_ label: String) throws -> TempDir {
        var template = Array("/dev/shm/mtaguard-\(label)-XXXXXX".utf8CString)
        guard access("/dev/shm", W_OK) == 0,
            let p = template.withUnsafeMutableBufferPointer({ mkdtemp($0.baseAddress!) })
        else { return try TempDir(label) }
        return TempDir(existing: String(cString: p))
    }
}

extension TempDir {
    init(existing path: String) {
        self.path = path
    }
}

/// A small, fast, seedable generator (SplitMix64); `stream` gives each case its own sequence.
struct SplitMix64: RandomNumberGenerator {
    var state: UInt64

    init(seed: UInt64, stream: UInt64) {
        state = seed ^ (stream &* 0xD1B5_4A32_D192_ED03)
    }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// The seed and case count of a generated-case suite, from the environment (`seedVariable`,
/// `casesVariable`), else a random seed and `defaultCases`.
enum CaseSeed {
    static func seed(_ seedVariable: String) -> UInt64 {
        ProcessInfo.processInfo.environment[seedVariable].flatMap { UInt64($0) } ?? UInt64.random(in: 1...UInt64(UInt32.max))
    }

    static func cases(_ casesVariable: String, default defaultCases: Int) -> Int {
        ProcessInfo.processInfo.environment[casesVariable].flatMap { Int($0) } ?? defaultCases
    }
}
