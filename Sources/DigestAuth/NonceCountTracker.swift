/// What `NonceCountTracker.check` decided.
public enum NonceCountCheck: Sendable, Hashable {
    /// First use of this nonce, or an `nc` above every one seen for it. Recorded.
    case accepted
    /// `nc` not above the last one seen (a replay), `nc` = 0, a second use of a nonce without qop, or a nonce
    /// the tracker can no longer vouch for (forgotten under memory pressure, or issued before `notBefore`).
    /// Answer with a new challenge carrying `stale=true`.
    case replay
}

/// Replay protection for Digest: remembers the highest `nc` used with each nonce (RFC 7616 §3.4.5 /
/// RFC 2617 §3.2.2), in bounded memory.
///
/// Entries live in insertion order in a ring of up to `capacity` slots (grown as needed). An entry leaves when it expires (its nonce
/// is older than `lifetime`) or, when the ring is full, the oldest entry is evicted. A nonce that is not in
/// the table is accepted as new only if it was issued after every entry that ever left the table (the
/// "floor"): otherwise it might be an evicted nonce coming back, and it is refused as `.replay` (the client
/// then gets a fresh nonce). Memory is O(capacity) whatever the traffic.
///
/// The capacity must hold every nonce issued during a challenge round trip at the element's peak rate,
/// since the floor has the nonces' one-second resolution: with 10,000 slots, at ~10,000 registrations/s
/// the ring turned over every second, and an answer to a challenge that crossed a second boundary was
/// refused as a replay (stale=true, one more round for a client, seen in the bench's overload step).
/// The default, 65,536, keeps six seconds at that rate; the slots grow with use, so an idle element does
/// not hold them.
///
/// Nonces used without qop (RFC 2069) have no `nc`: they are single-use.
///
/// After a restart the table is empty; pass the process start time as `notBefore` to refuse (as stale)
/// nonces issued before it, which closes the replay window across restarts at the cost of one extra
/// challenge round per client. Leave it 0 to accept them (replays then possible within one lifetime).
///
/// Record a use only after the response verified, so forged requests cannot burn nonce counts.
public struct NonceCountTracker: Sendable {
    private struct Entry: Sendable {
        var lastCount: UInt32
        var issuedAt: UInt64
    }

    public let capacity: Int
    public let lifetime: UInt64
    private var entries: [String: Entry] = [:]
    private var ring: [String?]
    private var head = 0
    private var size = 0
    /// Nonces issued at or before this are refused unless present in the table.
    private var floor: UInt64?

    /// Nonces longer than this are never tracked (refused): issued nonces are 48 characters.
    static let maxNonceLength = 256

    public static let defaultCapacity = 65_536

    public init(capacity: Int = NonceCountTracker.defaultCapacity, lifetime: UInt64 = NonceManager.defaultLifetime,
                notBefore: UInt64 = 0) {
        self.capacity = max(1, capacity)
        self.lifetime = lifetime
        self.ring = []
        self.floor = notBefore > 0 ? notBefore - 1 : nil
    }

    /// Number of nonces currently remembered.
    public var count: Int { entries.count }

    /// Checks and records one use of `nonce` (issued at `issuedAt`, from `NonceManager.validate`) with
    /// `nonceCount` (`nc`; nil when the request had no qop).
    public mutating func check(nonce: String, issuedAt: UInt64, nonceCount: UInt32?, now: UInt64) -> NonceCountCheck {
        guard nonce.utf8.count <= NonceCountTracker.maxNonceLength else { return .replay }
        expire(now: now)
        if var entry = entries[nonce] {
            guard let nc = nonceCount, entry.lastCount != .max, nc > entry.lastCount else { return .replay }
            entry.lastCount = nc
            entries[nonce] = entry
            return .accepted
        }
        if let floor, issuedAt <= floor { return .replay }
        if nonceCount == 0 { return .replay }
        if size == capacity { evictOldest() }
        entries[nonce] = Entry(lastCount: nonceCount ?? .max, issuedAt: issuedAt)
        append(nonce)
        return .accepted
    }

    /// Drops entries at the head of the ring whose nonce has expired.
    private mutating func expire(now: UInt64) {
        while size > 0, let key = ring[head] {
            guard let entry = entries[key] else {
                popHead()
                continue
            }
            let expiresAt = entry.issuedAt.addingReportingOverflow(lifetime)
            guard !expiresAt.overflow, expiresAt.partialValue < now else { break }
            popHead()
        }
    }

    /// Puts `nonce` at the tail, growing the ring while it is below `capacity` and every slot is taken.
    private mutating func append(_ nonce: String) {
        if size == ring.count, ring.count < capacity {
            if head != 0 {   // wrapped: straighten it first, so the new slot goes at the logical end
                ring = Array(ring[head...] + ring[..<head])
                head = 0
            }
            ring.append(nonce)
        } else {
            ring[(head + size) % ring.count] = nonce
        }
        size += 1
    }

    private mutating func evictOldest() {
        guard size > 0 else { return }
        popHead()
    }

    private mutating func popHead() {
        if let key = ring[head], let entry = entries.removeValue(forKey: key) {
            floor = Swift.max(floor ?? 0, entry.issuedAt)
        }
        ring[head] = nil
        head = (head + 1) % ring.count
        size -= 1
    }
}
