/// `body` for every element, at most `limit` at once, each in its own task; results in input
/// order. A slow element holds up nobody: the next starts as soon as any one ends.
func boundedMap<T: Sendable, R: Sendable>(_ items: [T], limit: Int, _ body: @escaping @Sendable (Int, T) async -> R) async -> [R?] {
    await withTaskGroup(of: (Int, R).self) { group in
        var results = [R?](repeating: nil, count: items.count)
        var next = 0
        func launch() {
            let i = next
            let item = items[i]
            next += 1
            group.addTask { (i, await body(i, item)) }
        }
        while next < min(max(1, limit), items.count) { launch() }
        while let (i, r) = await group.next() {
            results[i] = r
            if next < items.count { launch() }
        }
        return results
    }
}
