/// A binary min-heap of timer deadlines, ordered by (deadline, sequence) so that timers due at the same
/// instant fire in the order they were started. Cancelled timers are not removed: the owner keeps the
/// sequence number of each armed timer and entries that no longer match are skipped (lazy deletion).
struct TimerQueue<Owner: Hashable & Sendable>: Sendable {
    struct Entry: Sendable {
        var deadline: SIPTime
        var sequence: UInt64
        var owner: Owner
        var timer: SIPTimer

        func precedes(_ other: Entry) -> Bool {
            deadline != other.deadline ? deadline < other.deadline : sequence < other.sequence
        }
    }

    private(set) var heap: [Entry] = []

    var count: Int { heap.count }
    var isEmpty: Bool { heap.isEmpty }
    var first: Entry? { heap.first }

    mutating func push(_ entry: Entry) {
        heap.append(entry)
        var child = heap.count - 1
        while child > 0 {
            let parent = (child - 1) / 2
            guard heap[child].precedes(heap[parent]) else { break }
            heap.swapAt(child, parent)
            child = parent
        }
    }

    @discardableResult
    mutating func popFirst() -> Entry? {
        guard !heap.isEmpty else { return nil }
        heap.swapAt(0, heap.count - 1)
        let top = heap.removeLast()
        var parent = 0
        while true {
            let left = 2 * parent + 1, right = left + 1
            var best = parent
            if left < heap.count, heap[left].precedes(heap[best]) { best = left }
            if right < heap.count, heap[right].precedes(heap[best]) { best = right }
            if best == parent { break }
            heap.swapAt(parent, best)
            parent = best
        }
        return top
    }
}

/// The queue sequence number of each armed timer of one transaction, nil when not armed. Fixed inline
/// storage, one slot per timer: a transaction arms a few timers over its life and a dictionary per
/// transaction costs an allocation and rehashing as it grows.
struct ArmedTimers: Equatable {
    // 0 = not armed (sequence numbers start at 1).
    private var slots: (UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64)
        = (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)

    init() {}

    private static func slot(_ timer: SIPTimer) -> Int {
        switch timer {
        case .a: 0
        case .b: 1
        case .d: 2
        case .e: 3
        case .f: 4
        case .g: 5
        case .h: 6
        case .i: 7
        case .j: 8
        case .k: 9
        case .l: 10
        case .m: 11
        case .trying: 12
        }
    }

    subscript(_ timer: SIPTimer) -> UInt64? {
        get {
            let i = Self.slot(timer)
            let v = withUnsafeBytes(of: slots) { $0.load(fromByteOffset: i * 8, as: UInt64.self) }
            return v == 0 ? nil : v
        }
        set {
            precondition(newValue != 0, "timer sequence numbers start at 1")
            let i = Self.slot(timer)
            withUnsafeMutableBytes(of: &slots) { $0.storeBytes(of: newValue ?? 0, toByteOffset: i * 8, as: UInt64.self) }
        }
    }

    static func == (a: ArmedTimers, b: ArmedTimers) -> Bool {
        withUnsafeBytes(of: a.slots) { x in withUnsafeBytes(of: b.slots) { y in x.elementsEqual(y) } }
    }
}
