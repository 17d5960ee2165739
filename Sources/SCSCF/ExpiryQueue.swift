/// A min-heap of binding deadlines with lazy deletion: a refresh pushes a new entry and the old one
/// is skipped when it surfaces. One timer on the loop serves every binding.
struct ExpiryQueue: Sendable {
    struct Entry: Sendable {
        var deadline: Int64
        var aor: String
        var key: String
    }
    private var heap: [Entry] = []

    var peekDeadline: Int64? { heap.first?.deadline }
    var count: Int { heap.count }

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

    mutating func popDue(now: Int64) -> Entry? {
        guard let first = heap.first, first.deadline <= now else { return nil }
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
}
