import Foundation

/// What a kind says of one target (or an item check of one item) on one host: the evidence,
/// judged on the files exactly as the host sent them, and, apart from it, the remedy it
/// proposes. Judging changes nothing: the planner composes the remedies of every failing item
/// afterwards, on trees of its own, so no item's evidence can show another item's fix.
struct Judgement {
    var evidence: Evidence
    /// Nil where nothing is to be done (a pass, or a failure mtaguard leaves to a person).
    var remedy: Remedy?

    init(_ evidence: Evidence, remedy: Remedy? = nil) {
        self.evidence = evidence
        self.remedy = remedy
    }
}

/// A fix, carried out on the planner's composed trees after every item was judged: an edit of
/// a parsed file, a mode change, a service step, an upgrade. It reads the composed tree again
/// (another item's remedy may have done part of its work) and throws where it cannot make its
/// target pass.
struct Remedy {
    let apply: (inout Planner.Build) throws -> Void

    init(_ apply: @escaping (inout Planner.Build) throws -> Void) {
        self.apply = apply
    }
}

/// What a kind may read while it judges: the host's facts and the files as read, parsed once
/// and shared by every item, never edited. It offers no way to record a fix.
struct JudgeContext {
    let host: String
    let facts: HostFacts
    let mode: Mode
    /// The host's inventory variables (`Host.variables`), for fixes that take one.
    let variables: [String: String]
    let trees: TreeStore

    /// The file at `path` parsed with `lens`, or nil where the host has no such file.
    func tree(_ path: String, lens: String, mta: String?) throws -> ConfigTree? {
        try trees.tree(path, lens: lens, mta: mta)
    }
}

/// Parsed files of one host by path, each parsed once on first use (or all at once by
/// `parse(_:)`), with the error where a file could not be parsed. The planner keeps two: the
/// files as read, which judgements see, and the composed ones, which remedies edit.
final class TreeStore {
    let host: String
    let facts: HostFacts
    private(set) var trees: [String: Result<ConfigTree, MTAGuardError>] = [:]

    init(host: String, facts: HostFacts) {
        self.host = host
        self.facts = facts
    }

    func tree(_ path: String, lens: String, mta: String?) throws -> ConfigTree? {
        if let parsed = trees[path] {
            let tree = try parsed.get()
            guard tree.lens == lens else {
                throw MTAGuardError(.invalidInput, file: path, "is read with \(tree.lens) by another item and \(lens) here")
            }
            return tree
        }
        guard let snapshot = try facts.file(path) else { return nil }
        let result = Result { try Self.parse(snapshot, path: path, lens: lens, mta: mta, host: host) }
            .mapError(Planner.Build.asMTAGuardError)
        trees[path] = result
        return try result.get()
    }

    /// Parses the present files of `files` (path, lens, and the MTA named in a lens error) on
    /// as many threads as there are cores.
    func parse(_ files: [(file: String, lens: String, mta: String?)]) {
        let host = self.host, facts = self.facts
        let todo = files.filter { trees[$0.file] == nil && (try? facts.file($0.file)) != nil }
        let results = Planner.Build.concurrently(todo) { item -> ConfigTree in
            try Self.parse(facts.file(item.file)!, path: item.file, lens: item.lens, mta: item.mta, host: host)
        }
        for (item, result) in zip(todo, results) { trees[item.file] = result }
    }

    /// A file's bytes parsed with `lens`; text files only.
    static func parse(_ snapshot: FileSnapshot, path: String, lens: String, mta: String?, host: String) throws -> ConfigTree {
        guard let text = String(data: snapshot.bytes, encoding: .utf8) else {
            throw TextPosition.notUTF8(
                file: path, bytes: snapshot.bytes, host: host, what: "mtaguard edits text files only",
                hint: "the file was left as it is; look at it by hand")
        }
        return try ConfigWorkspace().parse(text, lens: lens, file: path, host: host, mta: mta)
    }
}
