/// Digest brute-force throttle per source address: after `maxFailures` failed authentications
/// within `window` seconds, the source is refused for `penalty` seconds whatever it sends (so a
/// guessing run learns nothing, not even when it guesses right). Other sources are unaffected.
/// Memory is bounded: at most `capacity` sources are tracked, the stalest dropped first.
public struct AuthThrottle: Sendable {
    public var maxFailures: Int
    public var window: Int64
    public var penalty: Int64
    public var capacity: Int

    struct Entry: Sendable {
        var failures: [Int64] = []
        var blockedUntil: Int64 = 0
        var lastSeen: Int64 = 0
    }

    private var entries: [String: Entry] = [:]

    public init(maxFailures: Int = 5, window: Int64 = 60, penalty: Int64 = 120, capacity: Int = 10_000) {
        self.maxFailures = maxFailures
        self.window = window
        self.penalty = penalty
        self.capacity = capacity
    }

    public var trackedSources: Int { entries.count }

    /// Seconds the source must still wait, or nil when it may try.
    public func blocked(_ source: String, now: Int64) -> Int64? {
        guard let e = entries[source], e.blockedUntil > now else { return nil }
        return e.blockedUntil - now
    }

    /// Records a failed authentication; returns true when this failure starts a block.
    @discardableResult
    public mutating func recordFailure(_ source: String, now: Int64) -> Bool {
        var e = entries[source] ?? Entry()
        e.failures.removeAll { $0 <= now - window }
        e.failures.append(now)
        e.lastSeen = now
        var started = false
        if e.failures.count >= maxFailures {
            e.blockedUntil = now + penalty
            e.failures.removeAll()
            started = true
        }
        entries[source] = e
        if entries.count > capacity { evict(now: now) }
        return started
    }

    /// A success clears the source's failure history (a user who mistyped once is not penalised later).
    public mutating func recordSuccess(_ source: String) {
        if let e = entries[source], e.blockedUntil == 0 || e.failures.isEmpty { entries[source] = nil }
    }

    private mutating func evict(now: Int64) {
        // Drop entries that are neither blocked nor recent, then the oldest if still too many.
        entries = entries.filter { $0.value.blockedUntil > now || $0.value.lastSeen > now - window }
        if entries.count > capacity {
            let keep = entries.sorted { $0.value.lastSeen > $1.value.lastSeen }.prefix(capacity)
            entries = Dictionary(uniqueKeysWithValues: keep.map { ($0.key, $0.value) })
        }
    }
}
