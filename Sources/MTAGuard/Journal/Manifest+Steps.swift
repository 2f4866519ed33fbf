/// The one mapping from what a step on a host reported to what the journal records, shared by
/// apply, its automatic undo and rollback: whatever the run, a step cut off mid-way is
/// `in-doubt` (read the host before trusting either image) and a failed one is `failed`.
extension Manifest.HostRecord {
    /// Records `results` (one per step, in the order `files`, `modes`, then `actions` were
    /// sent) and returns the first failure's message, if any.
    @discardableResult
    mutating func record(_ results: [StepResult]) -> String? {
        var failure: String?
        let modeCount = modeChanges.count
        for (i, r) in results.enumerated() {
            if i < files.count {
                files[i].state = Manifest.FileState(r.outcome)
            } else if i - files.count < modeCount {
                modes![i - files.count].state = Manifest.FileState(r.outcome)
            } else if i - files.count - modeCount < actions.count {
                let a = i - files.count - modeCount
                actions[a].state = Manifest.ActionState(r.outcome)
                actions[a].output = r.message.isEmpty ? nil : r.message
            }
            if r.outcome.isFailure, failure == nil { failure = r.message }
        }
        return failure
    }
}

extension Manifest.FileState {
    /// A file step's outcome as its journal state. A file replaced and then refused by the
    /// validator after the rename is `replaced`: its post-image is in place.
    init(_ outcome: StepResult.Outcome) {
        switch outcome {
        case .done, .failedAfterReplace: self = .replaced
        case .skipped: self = .planned
        case .failed, .drifted: self = .failed
        case .inDoubt: self = .inDoubt
        }
    }
}

extension Manifest.ActionState {
    init(_ outcome: StepResult.Outcome) {
        switch outcome {
        case .done: self = .done
        case .skipped: self = .skipped
        case .failed, .failedAfterReplace, .drifted: self = .failed
        case .inDoubt: self = .inDoubt
        }
    }
}
