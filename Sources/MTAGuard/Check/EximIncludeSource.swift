/// Where `EximConfigReading` finds the files exim's `.include` lines name: the host's facts
/// (which of them exist, which could not be read, `EximIncludeFacts`) and the store that
/// parses them (the files as read for a judgement, the composed ones for a remedy).
struct EximIncludeSource {
    let facts: HostFacts
    let store: TreeStore
    let lens: String
    let mta: String

    init(facts: HostFacts, store: TreeStore, lens: String = "Exim.lns", mta: String = "exim") {
        self.facts = facts
        self.store = store
        self.lens = lens
        self.mta = mta
    }

    /// For a judgement: the files as read.
    init(_ context: JudgeContext) {
        self.init(facts: context.facts, store: context.trees)
    }

    /// For a remedy: the composed files, which it edits.
    init(_ plan: Planner.Build) {
        self.init(facts: plan.facts, store: plan.composed)
    }
}

extension Planner.Build {
    /// An included file a fix changed is checked by exim as part of the whole configuration:
    /// the main file's `before_replace` command (`exim4 -C {file} -bV`) run on the main file
    /// right after the included one is in place; a configuration exim rejects is rolled back.
    mutating func validateIncluded(_ included: String, main: String, with check: Validation?) {
        guard included != main, let check, check.argv.contains("{file}"), !check.stages, validations[included] == nil else { return }
        var whole = check
        whole.argv = check.argv.map { $0.replacingOccurrences(of: "{file}", with: main) }
        validations[included] = (nil, whole)
    }
}
