import CAugeas

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// libaugeas is not safe across threads even with a handle each: it compiles lens regexps
/// lazily, after setting glibc's process-wide `re_syntax_options` (regexp.c), so two handles
/// compiling at once can get each other's syntax (case-insensitive, or `|` taken literally) and
/// fail, e.g. "None of the alternatives in the union match". Every call into the library that
/// may compile one holds this lock.
enum AugeasSerial {
    nonisolated(unsafe) static let mutex: UnsafeMutablePointer<pthread_mutex_t> = {
        let m = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
        pthread_mutex_init(m, nil)
        return m
    }()

    static func run<T>(_ body: () throws -> T) rethrows -> T {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        return try body()
    }
}

/// One Augeas handle: the only owner of the C pointer, closed when this object goes away.
///
/// Every call reads `aug_error` afterwards and turns a failure into an ``AugeasError``;
/// after `load`, `save` and `parse`, the tree's own error nodes (`/augeas//error`) are
/// read too, because Augeas reports file-level failures there and not through `aug_error`.
/// A handle is not thread-safe: use one per task.
public final class Augeas {
    public struct Flags: OptionSet, Sendable {
        public let rawValue: UInt32
        public init(rawValue: UInt32) { self.rawValue = rawValue }

        public static let typeCheck = Flags(rawValue: UInt32(AUG_TYPE_CHECK.rawValue))
        public static let noStandardInclude = Flags(rawValue: UInt32(AUG_NO_STDINC.rawValue))
        public static let noLoad = Flags(rawValue: UInt32(AUG_NO_LOAD.rawValue))
        public static let noModuleAutoload = Flags(rawValue: UInt32(AUG_NO_MODL_AUTOLOAD.rawValue))
        public static let enableSpan = Flags(rawValue: UInt32(AUG_ENABLE_SPAN.rawValue))
        public static let saveNoop = Flags(rawValue: UInt32(AUG_SAVE_NOOP.rawValue))
    }

    /// Where a node came from in its text: byte offsets, end exclusive.
    public struct Span: Sendable, Equatable {
        public var filename: String?
        public var labelRange: Range<Int>
        public var valueRange: Range<Int>
        public var nodeRange: Range<Int>
    }

    private let handle: OpaquePointer

    /// - Parameters:
    ///   - root: the file-system root Augeas reads and writes under (`-r`); `nil` is `/`.
    ///   - loadPath: extra folders searched for lenses before the standard ones.
    ///   - flags: by default no lens is loaded until a transform or a text parse asks for it.
    public init(root: String? = nil, loadPath: [String] = [], flags: Flags = [.noModuleAutoload]) throws {
        let joined = loadPath.isEmpty ? nil : loadPath.joined(separator: ":")
        let raw = UInt32(AUG_NO_ERR_CLOSE.rawValue) | flags.rawValue
        guard let h = AugeasSerial.run({ aug_init(root, joined, raw) }) else {
            throw AugeasError(code: .noMemory, message: "aug_init failed")
        }
        handle = h
        if aug_error(h) != Int32(AUG_NOERROR.rawValue) {
            let error = currentError()
            AugeasSerial.run { aug_close(h) }
            throw error
        }
    }

    deinit { AugeasSerial.run { aug_close(handle) } }

    // MARK: Reading

    /// The value of the single node at `path`; `nil` when there is no such node or it has no value.
    public func get(_ path: String) throws -> String? {
        var value: UnsafePointer<CChar>?
        let r = AugeasSerial.run { aug_get(handle, path, &value) }
        try check(r < 0)
        guard r == 1, let value else { return nil }
        return String(cString: value)
    }

    /// Whether exactly one node matches `path`.
    public func exists(_ path: String) throws -> Bool {
        var value: UnsafePointer<CChar>?
        let r = AugeasSerial.run { aug_get(handle, path, &value) }
        try check(r < 0)
        return r == 1
    }

    /// The label of the single node at `path`.
    public func label(_ path: String) throws -> String? {
        var value: UnsafePointer<CChar>?
        let r = AugeasSerial.run { aug_label(handle, path, &value) }
        try check(r < 0)
        guard r == 1, let value else { return nil }
        return String(cString: value)
    }

    /// Every node matching `path`, as full paths, in document order.
    public func match(_ path: String) throws -> [String] {
        var matches: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?
        let n = AugeasSerial.run { aug_match(handle, path, &matches) }
        try check(n < 0)
        guard let matches else { return [] }
        defer { free(matches) }
        var result: [String] = []
        result.reserveCapacity(Int(n))
        for i in 0..<Int(n) {
            if let p = matches[i] {
                result.append(String(cString: p))
                free(p)
            }
        }
        return result
    }

    /// Where the node at `path` sits in its source text; needs `.enableSpan`.
    public func span(_ path: String) throws -> Span {
        var filename: UnsafeMutablePointer<CChar>?
        var ls: UInt32 = 0, le: UInt32 = 0, vs: UInt32 = 0, ve: UInt32 = 0, s: UInt32 = 0, e: UInt32 = 0
        let r = AugeasSerial.run { aug_span(handle, path, &filename, &ls, &le, &vs, &ve, &s, &e) }
        defer { free(filename) }
        try check(r < 0)
        return Span(
            filename: filename.map { String(cString: $0) },
            labelRange: Int(ls)..<Int(le), valueRange: Int(vs)..<Int(ve), nodeRange: Int(s)..<Int(e))
    }

    // MARK: Changing the tree

    /// Sets the value of the node at `path`, creating it (and its parents) if needed.
    public func set(_ path: String, _ value: String?) throws {
        try check(AugeasSerial.run { aug_set(handle, path, value) } < 0)
    }

    /// Inserts a new node labelled `label` before or after the single node at `path`.
    public func insert(_ label: String, at path: String, before: Bool) throws {
        try check(AugeasSerial.run { aug_insert(handle, path, label, before ? 1 : 0) } < 0)
    }

    /// Removes every node matching `path` and their children; returns how many went.
    @discardableResult
    public func remove(_ path: String) throws -> Int {
        let r = AugeasSerial.run { aug_rm(handle, path) }
        try check(r < 0)
        return Int(r)
    }

    /// Relabels every node matching `path`; returns how many.
    @discardableResult
    public func rename(_ path: String, to label: String) throws -> Int {
        let r = AugeasSerial.run { aug_rename(handle, path, label) }
        try check(r < 0)
        return Int(r)
    }

    /// Moves the node at `source` to `destination`.
    public func move(_ source: String, to destination: String) throws {
        try check(AugeasSerial.run { aug_mv(handle, source, destination) } < 0)
    }

    // MARK: Files

    /// Adds a transform: `file` (relative to the root, a glob allowed) is read with `lens`.
    public func addTransform(lens: String, file: String) throws {
        try check(AugeasSerial.run { aug_transform(handle, lens, file, 0) } < 0)
    }

    /// Loads every file of the transforms; a file a lens cannot parse is an error.
    public func load() throws {
        try check(AugeasSerial.run { aug_load(handle) } < 0)
        try throwTreeError(under: "/augeas/files")
    }

    /// Writes back every changed file.
    public func save() throws {
        let r = AugeasSerial.run { aug_save(handle) }
        try throwTreeError(under: "/augeas/files")
        try check(r < 0)
    }

    // MARK: Text without files

    /// Parses `text` with `lens` into the tree at `path`. Line and position of a parse failure
    /// come back in the error. Nothing touches the file system.
    public func parse(text: String, lens: String, into path: String) throws {
        let source = "/mtaguard/text" + path
        try set(source, text)
        try check(AugeasSerial.run { aug_text_store(handle, lens, source, path) } < 0, textError: path)
        try throwTreeError(under: "/augeas/text" + path)
    }

    /// Writes the tree at `path` back to text with `lens`, keeping everything of the text it was
    /// parsed from (`parse(text:lens:into:)` with the same `path`) that the tree did not change.
    public func render(lens: String, from path: String) throws -> String {
        let source = "/mtaguard/text" + path
        let output = "/mtaguard/out" + path
        try check(AugeasSerial.run { aug_text_retrieve(handle, lens, source, path, output) } < 0, textError: path)
        try throwTreeError(under: "/augeas/text" + path)
        return try get(output) ?? ""
    }

    // MARK: Errors

    private func check(_ failed: Bool, textError path: String? = nil) throws {
        guard failed || aug_error(handle) != Int32(AUG_NOERROR.rawValue) else { return }
        if let path { try throwTreeError(under: "/augeas/text" + path) }
        throw currentError()
    }

    private func currentError() -> AugeasError {
        func str(_ p: UnsafePointer<CChar>?) -> String? { p.map { String(cString: $0) } }
        let code = AugeasError.Code(rawValue: Int(aug_error(handle))) ?? .internalError
        return AugeasError(
            code: code,
            message: str(aug_error_message(handle)) ?? "unknown Augeas error",
            minor: str(aug_error_minor_message(handle)),
            details: str(aug_error_details(handle)))
    }

    /// Augeas leaves load, save and text failures as `error` nodes rather than in `aug_error`;
    /// turn the first one under `base` into an error with its file, line and position.
    private func throwTreeError(under base: String) throws {
        var matches: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?
        let n = AugeasSerial.run { aug_match(handle, base + "//error", &matches) }
        guard n > 0, let matches else {
            if let matches { free(matches) }
            return
        }
        var paths: [String] = []
        for i in 0..<Int(n) {
            if let p = matches[i] { paths.append(String(cString: p)); free(p) }
        }
        free(matches)
        guard let errorPath = paths.first else { return }
        func value(_ sub: String) -> String? {
            var v: UnsafePointer<CChar>?
            return AugeasSerial.run { aug_get(handle, errorPath + sub, &v) } == 1 ? v.map { String(cString: $0) } : nil
        }
        let nodePath = String(errorPath.dropLast("/error".count))
        var file: String? = nil
        if nodePath.hasPrefix("/augeas/files") {
            file = String(nodePath.dropFirst("/augeas/files".count))
        }
        throw AugeasError(
            code: .fileError,
            message: value("/message") ?? value("") ?? "error",
            minor: value(""),
            details: value("/lens"),
            file: file,
            line: value("/line").flatMap { Int($0) },
            character: value("/char").flatMap { Int($0) },
            position: value("/pos").flatMap { Int($0) })
    }
}
