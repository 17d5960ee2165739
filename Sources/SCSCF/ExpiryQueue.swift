/// A min-heap of binding deadlines with lazy deletion: a refresh pushes a new entry and the old one
/// is skipped when it surfaces. One timer on the loop serves every binding.
struct ExpiryQueue: Sendable {
    struct Entry: Sendable, Equatable {
        var deadline: Int64
        var aor: String
        var key: String
    }
    private var heap: [Entry] = []

    var peek: Entry? { heap.first }
    var peekDeadline: Int64? { heap.first?.deadline }
    var count: Int { heap.count }
    var isEmpty: Bool { heap.isEmpty }

    mutating func push(deadline: Int64, aor: String, key: String) {
        heap.append(Entry(deadline: deadline, aor: aor, key: key))
        var i = heap.count - 1
        while i > 0 {
            let parent = (i - 1) / 2
            if heap[parent].deadline <= heap[i].deadline { break }
            heap.swapAt(parent, i)
            i = parent
        }
    }

    /// Removes and returns the earliest entry.
    @discardableResult
    mutating func pop() -> Entry? {
        guard let first = heap.first else { return nil }
        let last = heap.removeLast()
        if !heap.isEmpty {
            heap[0] = last
            var i = 0
            while true {
                let l = 2 * i + 1, r = l + 1
                var m = i
                if l < heap.count && heap[l].deadline < heap[m].deadline { m = l }
                if r < heap.count && heap[r].deadline < heap[m].deadline { m = r }
                if m == i { break }
                heap.swapAt(i, m)
                i = m
            }
        }
        return first
    }

    /// The earliest entry when its deadline has come (`deadline <= now`), removed.
    mutating func popDue(now: Int64) -> Entry? {
        guard let first = heap.first, first.deadline <= now else { return nil }
        return pop()
    }

    /// Drops every entry (e.g. before rebuilding the queue when it holds mostly stale entries).
    mutating func removeAll() { heap.removeAll(keepingCapacity: true) }
}
