/// An open-addressing hash index (linear probing) whose keys live elsewhere: a slot holds only a
/// small value (a handle), and the owner answers "is this the key?" and "what is this slot's hash?"
/// from its own storage. One control byte per slot (empty, deleted, or 7 bits of the hash) lets most
/// probes skip the owner's key comparison. About 7–13 bytes per entry instead of a Dictionary's
/// String keys and buckets.
struct ProbeTable<Slot: FixedWidthInteger & Sendable>: Sendable {
    private static var empty: UInt8 { 0 }
    private static var deleted: UInt8 { 1 }

    private var control: [UInt8]
    private var slots: [Slot]
    private(set) var count = 0
    private var tombstones = 0

    init() {
        control = []
        slots = []
    }

    var capacity: Int { control.count }

    /// Bucket from the low 32 bits (scaled to the capacity, which need not be a power of two),
    /// control tag from the top 7.
    @inline(__always)
    private static func split(_ hash: Int, capacity: Int) -> (bucket: Int, tag: UInt8) {
        let h = UInt64(bitPattern: Int64(hash))
        let bucket = Int(truncatingIfNeeded: ((h & 0xFFFF_FFFF) &* UInt64(capacity)) >> 32)
        return (bucket, UInt8(truncatingIfNeeded: h >> 57) | 0x80)
    }

    /// The slot index holding the entry for which `matches` is true, probing from `hash`.
    @inline(__always)
    func find(hash: Int, where matches: (Slot) -> Bool) -> Int? {
        let capacity = control.count
        guard capacity > 0 else { return nil }
        var (i, tag) = Self.split(hash, capacity: capacity)
        while true {
            let c = control[i]
            if c == Self.empty { return nil }
            if c == tag, matches(slots[i]) { return i }
            i += 1
            if i == capacity { i = 0 }
        }
    }

    subscript(index: Int) -> Slot {
        get { slots[index] }
        set { slots[index] = newValue }
    }

    mutating func remove(at index: Int) {
        control[index] = Self.deleted
        count -= 1
        tombstones += 1
    }

    /// Adds an entry the caller knows is absent. `rehash` gives the hash of an existing entry, for
    /// when the table grows, shrinks or sheds its tombstones.
    mutating func insert(_ slot: Slot, hash: Int, rehash: (Slot) -> Int) {
        // Rebuild past 85% use (tombstones count: they lengthen probes as entries do), sized so the
        // live entries fill two thirds of the new table. At least one slot always stays empty.
        if (count + tombstones + 1) * 20 > capacity * 17 {
            rebuild(capacity: Self.capacity(for: count + 1), rehash: rehash)
        }
        place(slot, hash: hash)
        count += 1
    }

    /// Sizes the table for `entries` (bulk loads: one rebuild instead of many).
    mutating func reserve(_ entries: Int, rehash: (Slot) -> Int) {
        let wanted = Self.capacity(for: entries)
        if wanted > capacity { rebuild(capacity: wanted, rehash: rehash) }
    }

    private static func capacity(for entries: Int) -> Int { max(8, entries + entries / 2 + 1) }

    private mutating func place(_ slot: Slot, hash: Int) {
        let capacity = control.count
        var (i, tag) = Self.split(hash, capacity: capacity)
        while control[i] > Self.deleted {
            i += 1
            if i == capacity { i = 0 }
        }
        if control[i] == Self.deleted { tombstones -= 1 }
        control[i] = tag
        slots[i] = slot
    }

    private mutating func rebuild(capacity newCapacity: Int, rehash: (Slot) -> Int) {
        let oldControl = control
        let oldSlots = slots
        control = [UInt8](repeating: Self.empty, count: newCapacity)
        slots = [Slot](repeating: 0, count: newCapacity)
        tombstones = 0
        for i in oldControl.indices where oldControl[i] > Self.deleted {
            place(oldSlots[i], hash: rehash(oldSlots[i]))
        }
    }
}
