/// Changes a parsed file so that its setting passes, through Augeas only: the lens writes the
/// bytes, so every line the fix does not touch stays as it was.
struct Remediator {
    let target: Target
    var judge: Judge { Judge(target: target) }
    var fix: Fix { target.fix }

    /// Edits `tree` in place; returns whether anything changed.
    @discardableResult
    func apply(to tree: ConfigTree) throws -> Bool {
        let reading = try judge.read(tree)
        if judge.passes(reading) { return false }
        let check = target.check
        let all = try tree.match(check.node)
        if case .rename(let label) = fix.operation {
            // Every matching node: with union semantics one left active would still count.
            let before = try tree.render(restoringLineEndings: false)
            try tree.wrap { for node in all.reversed() { try tree.augeas.rename(node, to: label) } }
            guard judge.passes(try judge.read(tree)) else {
                throw MTAGuardError(host: tree.host, file: tree.file, "renaming \(check.node) did not make the check pass")
            }
            // Augeas gives a renamed node the spacing of the next line under its new label: where
            // spacing differs between lines, others would change too. Refuse rather than do that.
            let old = before.split(separator: "\n", omittingEmptySubsequences: false)
            let new = try tree.render(restoringLineEndings: false).split(separator: "\n", omittingEmptySubsequences: false)
            let changed = zip(old, new).filter { $0 != $1 }.count
            guard old.count == new.count, changed == all.count else {
                throw MTAGuardError(
                    host: tree.host, file: tree.file,
                    "commenting out \(check.node) would also change the spacing of \(changed - all.count) other line(s)",
                    hint: "nothing was changed; edit the line by hand")
            }
            return true
        }
        let created = all.isEmpty
        let node = try all.last ?? create(in: tree)
        let augeas = tree.augeas
        try tree.wrap {
            switch fix.operation {
            case .set(let value):
                try augeas.set(check.valuePath.map { node + "/" + $0 } ?? node, value)
            case .rename:
                break
            case .addFlags(let wanted):
                let current = created ? fix.initial : reading.flags
                let missing = (created ? fix.initial : []) + judge.missingFlags(current, wanted: wanted)
                if let items = check.items {
                    for flag in missing {
                        try augeas.set(node + "/" + items + "[last()+1]", flag)
                    }
                } else {
                    let valueNode = check.valuePath.map { node + "/" + $0 } ?? node
                    let old = created ? "" : (try augeas.get(valueNode) ?? "")
                    let separator = String(check.separators?.first ?? ",")
                    let trimmed = old.trimmingTrailing(in: check.separators ?? ", \t")
                    let joined = missing.joined(separator: separator)
                    try augeas.set(valueNode, trimmed.isEmpty ? joined : trimmed + separator + joined)
                }
            }
        }
        let after = try judge.read(tree)
        guard judge.passes(after) else {
            throw MTAGuardError(
                host: tree.host, file: tree.file,
                "the fix in \(target.file)'s playbook did not make the check pass",
                hint: "the playbook's fix and check disagree; report this playbook")
        }
        return true
    }

    /// Creates the setting's node where the playbook says (before/after an anchor, else at the
    /// end) and returns its path.
    private func create(in tree: ConfigTree) throws -> String {
        let c = fix.create
        let augeas = tree.augeas
        return try tree.wrap {
            var node: String
            if let before = c.before, let anchor = try tree.match(before).first {
                try augeas.insert(c.label, at: anchor, before: true)
                node = anchor + "/preceding-sibling::" + c.label + "[1]"
            } else if let after = c.after, let anchor = try tree.match(after).last {
                try augeas.insert(c.label, at: anchor, before: false)
                node = anchor + "/following-sibling::" + c.label + "[1]"
            } else {
                node = tree.path + "/" + c.label + "[last()+1]"
                try augeas.set(node, c.value)
                node = tree.path + "/" + c.label + "[last()]"
            }
            // Resolve to a concrete path now: later inserts would shift the relative one.
            guard let concrete = try augeas.match(node).first else {
                throw MTAGuardError(host: tree.host, file: tree.file, "could not create \(c.label)")
            }
            if let value = c.value { try augeas.set(concrete, value) }
            return concrete
        }
    }
}

extension String {
    func trimmingTrailing(in characters: String) -> String {
        var s = Substring(self)
        while let last = s.last, characters.contains(last) { s = s.dropLast() }
        return String(s)
    }
}
