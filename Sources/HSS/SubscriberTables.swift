import IMSModel

/// The HSS cache's storage: every private identity's credentials and every implicit registration set
/// in one byte arena, found through open-addressing indexes of small handles. About 200 bytes per
/// typical subscriber (one IMPI with four HA1s, one set with two IMPUs) where Dictionaries of
/// `AuthInfo` and `RegistrationSet` cost 1.3 KB: no per-subscriber heap objects, HA1s as raw digests,
/// realms and service profiles shared by index.
///
/// A value type of plain arrays, so it can be built off the SIP event loop (start-up, reload after a
/// bulk import) and handed to it. Lookups build fresh `AuthInfo`/`RegistrationSet` values.
///
/// Records never move in place: a changed record is appended and the old bytes counted as garbage;
/// the arena is compacted when garbage passes a third of it. Handles (indexes into `impiOffsets` and
/// `setOffsets`) stay put across rewrites and compaction, so the indexes hold handles.
///
/// Private identity record: `varint nameLength, name, flags, [varint realm, HA1s]`. Each HA1 is raw
/// (16 or 32 bytes) when it is lower-case hex of the digest's length, else `varint length, text`.
/// Set record: `varint id, varint profile+1 (0 = none), varint impuCount, impuCount ×
/// (varint length<<1|barred, bytes), varint impiCount, impiCount × UInt32 IMPI handle`.
public struct SubscriberTables: Sendable {
    private static let none = UInt32.max

    // Private identity record flags.
    private static let hasAuth: UInt8 = 0x01
    private static let md5Raw: UInt8 = 0x02
    private static let shaPresent: UInt8 = 0x04
    private static let shaRaw: UInt8 = 0x08
    private static let userMD5Present: UInt8 = 0x10
    private static let userMD5Raw: UInt8 = 0x20
    private static let userSHAPresent: UInt8 = 0x40
    private static let userSHARaw: UInt8 = 0x80

    private var arena: [UInt8] = []
    /// Bytes of `arena` no live record uses.
    private var garbage = 0

    /// Private identity handle → record offset (`none` = free handle).
    private var impiOffsets: [UInt32] = []
    /// The first set an IMPI may register (`none` = none); the others, for the rare IMPI in several.
    private var impiFirstSet: [UInt32] = []
    private var impiMoreSets: [UInt32: [UInt32]] = [:]
    private var freeIMPIs: [UInt32] = []
    /// Set handle → record offset (`none` = free handle).
    private var setOffsets: [UInt32] = []
    private var freeSets: [UInt32] = []

    /// IMPI → IMPI handle. An IMPI is here while it has credentials or belongs to a set.
    private var impiIndex = ProbeTable<UInt32>()
    /// IMPU → set handle | (offset of the IMPU inside the set record) << 32.
    private var impuIndex = ProbeTable<UInt64>()
    /// Set id → set handle.
    private var setIndex = ProbeTable<UInt32>()

    private var realms = InternTable()
    private var profiles = InternTable()
    private var authCount = 0

    /// Test knob: only these bits of every hash are kept (1 → every key collides).
    private let hashMask: Int
    /// Garbage below this is never worth a compaction.
    private let compactionFloor: Int

    public init() {
        self.init(hashBits: Int.bitWidth, compactionFloor: 256 * 1024)
    }

    init(hashBits: Int, compactionFloor: Int) {
        hashMask = hashBits >= Int.bitWidth ? -1 : (1 << hashBits) - 1
        self.compactionFloor = compactionFloor
    }

    /// A directory holding exactly these credentials and sets (later entries win).
    public init(auth: [AuthInfo], sets: [RegistrationSet]) {
        self.init()
        load(auth: auth, sets: sets)
    }

    mutating func load(auth: [AuthInfo], sets: [RegistrationSet]) {
        reserve(privateIdentities: auth.count, sets: sets.count)
        for info in auth { setAuth(info, impi: info.impi) }
        for set in sets {
            if let handle = setHandle(id: set.id) { removeSet(handle) }
            insertSet(set)
        }
        compactIfNeeded()
    }

    /// Private identities with credentials.
    public var privateIdentityCount: Int { authCount }
    public var publicIdentityCount: Int { impuIndex.count }
    public var registrationSetCount: Int { setIndex.count }

    /// Bytes reserved by the tables (arena, handle arrays, indexes; not the few shared strings).
    public var footprint: Int {
        arena.capacity + 4 * (impiOffsets.capacity + impiFirstSet.capacity + freeIMPIs.capacity
            + setOffsets.capacity + freeSets.capacity)
            + 5 * (impiIndex.capacity + setIndex.capacity) + 9 * impuIndex.capacity
    }

    /// Bytes the tables use: what is resident, as an array's unused capacity is never touched.
    public var bytesInUse: Int {
        arena.count + 4 * (impiOffsets.count + impiFirstSet.count + freeIMPIs.count + setOffsets.count
            + freeSets.count) + 5 * (impiIndex.capacity + setIndex.capacity) + 9 * impuIndex.capacity
    }

    /// IMPIs held: with credentials, or named by a set.
    var privateIdentityEntryCount: Int { impiIndex.count }
    var arenaBytes: Int { arena.count }
    var garbageBytes: Int { garbage }

    /// Sizes the indexes for a bulk load.
    public mutating func reserve(privateIdentities: Int, sets: Int) {
        withIMPIIndex { index, tables in index.reserve(privateIdentities) { tables.impiHash($0) } }
        withSetIndex { index, tables in index.reserve(sets) { tables.setIDHash($0) } }
        withIMPUIndex { index, tables in index.reserve(sets) { tables.impuHash($0) } }
    }

    // MARK: lookups

    public func authInfo(impi: String) -> AuthInfo? {
        var key = impi
        return key.withUTF8 { key in
            guard let handle = impiHandle(key, hash: hash(key)) else { return nil }
            return auth(handle, impi: impi)
        }
    }

    /// The set `impu` belongs to, as written or else in its normalised form.
    public func registrationSet(impu: String) -> RegistrationSet? {
        if let set = exactRegistrationSet(impu) { return set }
        guard let normalized = PublicIdentity.normalize(impu), normalized != impu else { return nil }
        return exactRegistrationSet(normalized)
    }

    private func exactRegistrationSet(_ impu: String) -> RegistrationSet? {
        var key = impu
        return key.withUTF8 { key in
            guard let slot = impuSlot(key, hash: hash(key)) else { return nil }
            return registrationSet(UInt32(truncatingIfNeeded: impuIndex[slot]))
        }
    }

    // MARK: changes

    /// One subscriber as loaded from the store: its credentials, and its sets; a set already present
    /// (shared with an IMPI loaded earlier) gains this IMPI instead of being replaced.
    public mutating func add(auth info: AuthInfo, sets: [RegistrationSet]) {
        setAuth(info, impi: info.impi)
        let name = Array(info.impi.utf8)
        let handle = name.withUnsafeBufferPointer { impiHandle($0, hash: hash($0)) }!
        for set in sets {
            if let existing = setHandle(id: set.id) {
                var members = setMembers(existing)
                guard !members.contains(handle) else { continue }
                members.append(handle)
                rewriteMembers(existing, members, reindex: false)
                addMembership(handle, existing)
            } else {
                insertSet(set)
            }
        }
        compactIfNeeded()
    }

    /// Replaces what is known about one private identity and the sets it may register: its
    /// credentials (nil = gone), the sets in `changed` replaced whole, and the IMPI dropped from any
    /// other set it was in (a set left with no IMPI goes). Costs the size of the change.
    public mutating func update(auth info: AuthInfo?, impi: String, sets changed: [RegistrationSet]) {
        setAuth(info, impi: impi)
        let name = Array(impi.utf8)
        let changedIDs = Set(changed.map(\.id))
        if let handle = name.withUnsafeBufferPointer({ impiHandle($0, hash: hash($0)) }) {
            for set in setsOf(handle) where !changedIDs.contains(setID(set)) {
                var members = setMembers(set)
                members.removeAll { $0 == handle }
                if members.isEmpty {
                    removeSet(set)
                } else {
                    removeMembership(handle, set)
                    // Re-registered under the set like a fresh insert (its IMPUs point here again).
                    rewriteMembers(set, members, reindex: true)
                }
            }
        }
        for set in changed {
            if let old = setHandle(id: set.id) { removeSet(old) }
            insertSet(set)
        }
        if let handle = name.withUnsafeBufferPointer({ impiHandle($0, hash: hash($0)) }) {
            dropIfUnused(handle)
        }
        compactIfNeeded()
    }

    public mutating func remove(setID: Int64) {
        guard let handle = setHandle(id: setID) else { return }
        removeSet(handle)
        compactIfNeeded()
    }

    // MARK: private identities

    private mutating func setAuth(_ info: AuthInfo?, impi: String) {
        let name = Array(impi.utf8)
        let keyHash = name.withUnsafeBufferPointer { hash($0) }
        guard let handle = name.withUnsafeBufferPointer({ impiHandle($0, hash: keyHash) }) else {
            guard let info else { return }
            _ = insertIMPI(name: name, hash: keyHash, auth: info)
            authCount += 1
            return
        }
        let old = Int(impiOffsets[Int(handle)])
        let (oldFlags, oldRealm) = flagsAndRealm(atIMPIRecord: old)
        let hadAuth = oldFlags & Self.hasAuth != 0
        if info == nil && !hadAuth { return }
        // The new record interns its realm before the old one lets go of it.
        let offset = appendIMPIRecord(name: name, auth: info)
        if hadAuth, let oldRealm { realms.release(oldRealm) }
        garbage += impiRecordEnd(old) - old
        impiOffsets[Int(handle)] = offset
        authCount += (info == nil ? 0 : 1) - (hadAuth ? 1 : 0)
        if info == nil { dropIfUnused(handle) }
    }

    private mutating func appendIMPIRecord(name: [UInt8], auth: AuthInfo?) -> UInt32 {
        let offset = arenaEnd()
        appendVarint(UInt64(name.count))
        arena.append(contentsOf: name)
        guard let auth else {
            arena.append(0)
            return offset
        }
        var flags = Self.hasAuth
        let flagsAt = arena.count
        arena.append(0)
        appendVarint(UInt64(realms.retain(auth.realm)))
        if appendHA1(auth.ha1MD5, digestLength: 16) { flags |= Self.md5Raw }
        if let sha = auth.ha1SHA256 {
            flags |= Self.shaPresent
            if appendHA1(sha, digestLength: 32) { flags |= Self.shaRaw }
        }
        if let md5 = auth.userPartHA1MD5 {
            flags |= Self.userMD5Present
            if appendHA1(md5, digestLength: 16) { flags |= Self.userMD5Raw }
        }
        if let sha = auth.userPartHA1SHA256 {
            flags |= Self.userSHAPresent
            if appendHA1(sha, digestLength: 32) { flags |= Self.userSHARaw }
        }
        arena[flagsAt] = flags
        return offset
    }

    /// Raw digest when `text` is exactly its lower-case hex (what the store keeps), else the text as
    /// it is, so what comes back out is always what went in. True if raw.
    private mutating func appendHA1(_ text: String, digestLength: Int) -> Bool {
        let utf8 = text.utf8
        if utf8.count == 2 * digestLength, utf8.allSatisfy({ Self.lowerHexValue($0) != nil }) {
            var i = utf8.startIndex
            while i != utf8.endIndex {
                let high = Self.lowerHexValue(utf8[i])!
                i = utf8.index(after: i)
                let low = Self.lowerHexValue(utf8[i])!
                i = utf8.index(after: i)
                arena.append(high << 4 | low)
            }
            return true
        }
        appendVarint(UInt64(utf8.count))
        arena.append(contentsOf: utf8)
        return false
    }

    private static func lowerHexValue(_ c: UInt8) -> UInt8? {
        switch c {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): c - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): c - UInt8(ascii: "a") + 10
        default: nil
        }
    }

    private func flagsAndRealm(atIMPIRecord offset: Int) -> (flags: UInt8, realm: UInt32?) {
        var p = offset
        p += Int(varint(&p))
        let flags = arena[p]
        p += 1
        guard flags & Self.hasAuth != 0 else { return (flags, nil) }
        return (flags, UInt32(varint(&p)))
    }

    private func auth(_ handle: UInt32, impi: String) -> AuthInfo? {
        var p = Int(impiOffsets[Int(handle)])
        p += Int(varint(&p))
        let flags = arena[p]
        p += 1
        guard flags & Self.hasAuth != 0 else { return nil }
        let realm = realms[UInt32(varint(&p))]
        let md5 = ha1(&p, raw: flags & Self.md5Raw != 0, digestLength: 16)
        let sha = flags & Self.shaPresent == 0 ? nil : ha1(&p, raw: flags & Self.shaRaw != 0, digestLength: 32)
        let userMD5 = flags & Self.userMD5Present == 0
            ? nil : ha1(&p, raw: flags & Self.userMD5Raw != 0, digestLength: 16)
        let userSHA = flags & Self.userSHAPresent == 0
            ? nil : ha1(&p, raw: flags & Self.userSHARaw != 0, digestLength: 32)
        return AuthInfo(impi: impi, realm: realm, ha1MD5: md5, ha1SHA256: sha,
                        userPartHA1MD5: userMD5, userPartHA1SHA256: userSHA)
    }

    private func ha1(_ p: inout Int, raw: Bool, digestLength: Int) -> String {
        if !raw {
            let length = Int(varint(&p))
            defer { p += length }
            return text(p, length)
        }
        let start = p
        p += digestLength
        return String(unsafeUninitializedCapacity: 2 * digestLength) { out in
            let digits: StaticString = "0123456789abcdef"
            let hex = digits.utf8Start
            for i in 0..<digestLength {
                let byte = arena[start + i]
                out[2 * i] = hex[Int(byte >> 4)]
                out[2 * i + 1] = hex[Int(byte & 0x0F)]
            }
            return 2 * digestLength
        }
    }

    private func impiRecordEnd(_ offset: Int) -> Int {
        var p = offset
        p += Int(varint(&p))
        let flags = arena[p]
        p += 1
        guard flags & Self.hasAuth != 0 else { return p }
        _ = varint(&p)
        func skip(_ present: UInt8, _ raw: UInt8, _ digestLength: Int) {
            guard flags & present != 0 else { return }
            p += flags & raw != 0 ? digestLength : Int(varint(&p))
        }
        skip(Self.hasAuth, Self.md5Raw, 16)
        skip(Self.shaPresent, Self.shaRaw, 32)
        skip(Self.userMD5Present, Self.userMD5Raw, 16)
        skip(Self.userSHAPresent, Self.userSHARaw, 32)
        return p
    }

    private func impiName(_ handle: UInt32) -> (start: Int, length: Int) {
        var p = Int(impiOffsets[Int(handle)])
        let length = Int(varint(&p))
        return (p, length)
    }

    private func impiHandle(_ key: UnsafeBufferPointer<UInt8>, hash: Int) -> UInt32? {
        impiSlot(key, hash: hash).map { impiIndex[$0] }
    }

    private func impiSlot(_ key: UnsafeBufferPointer<UInt8>, hash: Int) -> Int? {
        impiIndex.find(hash: hash) { handle in
            let (start, length) = impiName(handle)
            return bytes(start, length, equal: key)
        }
    }

    private func impiHash(_ handle: UInt32) -> Int {
        let (start, length) = impiName(handle)
        return hash(start, length)
    }

    /// Forgets an IMPI that has neither credentials nor a set.
    private mutating func dropIfUnused(_ handle: UInt32) {
        let offset = Int(impiOffsets[Int(handle)])
        guard impiFirstSet[Int(handle)] == Self.none, !hasAuth(handle) else { return }
        if let slot = impiIndex.find(hash: impiHash(handle), where: { $0 == handle }) { impiIndex.remove(at: slot) }
        garbage += impiRecordEnd(offset) - offset
        impiOffsets[Int(handle)] = Self.none
        freeIMPIs.append(handle)
    }

    private func hasAuth(_ handle: UInt32) -> Bool {
        flagsAndRealm(atIMPIRecord: Int(impiOffsets[Int(handle)])).flags & Self.hasAuth != 0
    }

    private func setsOf(_ handle: UInt32) -> [UInt32] {
        let first = impiFirstSet[Int(handle)]
        guard first != Self.none else { return [] }
        return [first] + (impiMoreSets[handle] ?? [])
    }

    private mutating func addMembership(_ handle: UInt32, _ set: UInt32) {
        if impiFirstSet[Int(handle)] == Self.none {
            impiFirstSet[Int(handle)] = set
        } else {
            impiMoreSets[handle, default: []].append(set)
        }
    }

    private mutating func removeMembership(_ handle: UInt32, _ set: UInt32) {
        if impiFirstSet[Int(handle)] == set {
            if var more = impiMoreSets.removeValue(forKey: handle), !more.isEmpty {
                impiFirstSet[Int(handle)] = more.removeFirst()
                if !more.isEmpty { impiMoreSets[handle] = more }
            } else {
                impiFirstSet[Int(handle)] = Self.none
            }
        } else if var more = impiMoreSets.removeValue(forKey: handle) {
            more.removeAll { $0 == set }
            if !more.isEmpty { impiMoreSets[handle] = more }
        }
    }

    /// The handle of an IMPI named in a set, created without credentials if it is new.
    private mutating func memberHandle(_ impi: String) -> UInt32 {
        let name = Array(impi.utf8)
        let keyHash = name.withUnsafeBufferPointer { hash($0) }
        if let handle = name.withUnsafeBufferPointer({ impiHandle($0, hash: keyHash) }) { return handle }
        return insertIMPI(name: name, hash: keyHash, auth: nil)
    }

    /// A new IMPI record (a freed handle reused when there is one), indexed under `hash`.
    private mutating func insertIMPI(name: [UInt8], hash keyHash: Int, auth: AuthInfo?) -> UInt32 {
        let offset = appendIMPIRecord(name: name, auth: auth)
        let handle: UInt32
        if let reused = freeIMPIs.popLast() {
            handle = reused
            impiOffsets[Int(handle)] = offset
            impiFirstSet[Int(handle)] = Self.none
        } else {
            handle = UInt32(impiOffsets.count)
            impiOffsets.append(offset)
            impiFirstSet.append(Self.none)
        }
        withIMPIIndex { index, tables in index.insert(handle, hash: keyHash) { tables.impiHash($0) } }
        return handle
    }

    // MARK: registration sets

    /// Adds a set whose id is not present. Its IMPUs point to it, even those another set also lists.
    private mutating func insertSet(_ set: RegistrationSet) {
        let profile = set.serviceProfileXML.map { profiles.retain($0) }
        var members: [UInt32] = []
        for impi in set.privateIdentities {
            let handle = memberHandle(impi)
            if !members.contains(handle) { members.append(handle) }
        }
        let offset = arenaEnd()
        appendVarint(UInt64(bitPattern: set.id))
        appendVarint(profile.map { UInt64($0) + 1 } ?? 0)
        appendVarint(UInt64(set.publicIdentities.count))
        var entries: [UInt32] = []
        entries.reserveCapacity(set.publicIdentities.count)
        for impu in set.publicIdentities {
            entries.append(UInt32(arena.count - Int(offset)))
            let utf8 = impu.utf8
            appendVarint(UInt64(utf8.count) << 1 | (set.barred.contains(impu) ? 1 : 0))
            arena.append(contentsOf: utf8)
        }
        appendMembers(members)
        let handle: UInt32
        if let reused = freeSets.popLast() {
            handle = reused
            setOffsets[Int(handle)] = offset
        } else {
            handle = UInt32(setOffsets.count)
            setOffsets.append(offset)
        }
        let idHash = setIDHash(set.id)
        withSetIndex { index, tables in index.insert(handle, hash: idHash) { tables.setIDHash($0) } }
        for member in members { addMembership(member, handle) }
        for entry in entries { pointIMPU(set: handle, entry: entry) }
    }

    /// Makes the IMPU at `entry` of a set's record resolve to that set.
    private mutating func pointIMPU(set: UInt32, entry: UInt32) {
        let (start, length, _) = impuEntry(set: set, entry: entry)
        let keyHash = hash(start, length)
        let value = UInt64(set) | UInt64(entry) << 32
        let slot = arena.withUnsafeBufferPointer { arena in
            impuSlot(UnsafeBufferPointer(rebasing: arena[start..<start + length]), hash: keyHash)
        }
        if let slot {
            impuIndex[slot] = value
        } else {
            withIMPUIndex { index, tables in index.insert(value, hash: keyHash) { tables.impuHash($0) } }
        }
    }

    private mutating func appendMembers(_ members: [UInt32]) {
        appendVarint(UInt64(members.count))
        for member in members {
            withUnsafeBytes(of: member.littleEndian) { arena.append(contentsOf: $0) }
        }
    }

    private mutating func removeSet(_ handle: UInt32) {
        let offset = Int(setOffsets[Int(handle)])
        var p = offset
        let id = Int64(bitPattern: varint(&p))
        let profile = varint(&p)
        let count = Int(varint(&p))
        for _ in 0..<count {
            let entry = UInt32(p - offset)
            let length = Int(varint(&p) >> 1)
            // Only if it still resolves here: a later set listing the same IMPU keeps it.
            let value = UInt64(handle) | UInt64(entry) << 32
            if let slot = impuIndex.find(hash: hash(p, length), where: { $0 == value }) { impuIndex.remove(at: slot) }
            p += length
        }
        let members = setMembers(handle)
        if let slot = setIndex.find(hash: setIDHash(id), where: { $0 == handle }) { setIndex.remove(at: slot) }
        if profile > 0 { profiles.release(UInt32(profile - 1)) }
        garbage += setRecordEnd(offset) - offset
        setOffsets[Int(handle)] = Self.none
        freeSets.append(handle)
        for member in members {
            removeMembership(member, handle)
            dropIfUnused(member)
        }
    }

    /// Rewrites a set with other IMPIs (the IMPU part, and so the IMPU entry offsets, are unchanged).
    private mutating func rewriteMembers(_ handle: UInt32, _ members: [UInt32], reindex: Bool) {
        let offset = Int(setOffsets[Int(handle)])
        let (membersAt, end) = setMembersRange(offset)
        let prefix = Array(arena[offset..<membersAt])
        let fresh = arenaEnd()
        arena.append(contentsOf: prefix)
        appendMembers(members)
        garbage += end - offset
        setOffsets[Int(handle)] = fresh
        if reindex {
            var p = Int(fresh)
            _ = varint(&p)
            _ = varint(&p)
            let count = Int(varint(&p))
            for _ in 0..<count {
                let entry = UInt32(p - Int(fresh))
                p += Int(varint(&p) >> 1)
                pointIMPU(set: handle, entry: entry)
            }
        }
    }

    private func setHandle(id: Int64) -> UInt32? {
        setIndex.find(hash: setIDHash(id)) { setID($0) == id }.map { setIndex[$0] }
    }

    private func setID(_ handle: UInt32) -> Int64 {
        var p = Int(setOffsets[Int(handle)])
        return Int64(bitPattern: varint(&p))
    }

    private func setIDHash(_ handle: UInt32) -> Int { setIDHash(setID(handle)) }

    private func setIDHash(_ id: Int64) -> Int {
        var hasher = Hasher()
        hasher.combine(id)
        return hasher.finalize() & hashMask
    }

    /// Where a set record's IMPI list starts, and where the record ends.
    private func setMembersRange(_ offset: Int) -> (members: Int, end: Int) {
        var p = offset
        _ = varint(&p)
        _ = varint(&p)
        let count = Int(varint(&p))
        for _ in 0..<count { p += Int(varint(&p) >> 1) }
        let membersAt = p
        let members = Int(varint(&p))
        return (membersAt, p + 4 * members)
    }

    private func setRecordEnd(_ offset: Int) -> Int { setMembersRange(offset).end }

    private func setMembers(_ handle: UInt32) -> [UInt32] {
        var p = setMembersRange(Int(setOffsets[Int(handle)])).members
        let count = Int(varint(&p))
        return (0..<count).map { _ in u32(&p) }
    }

    private func impuEntry(set: UInt32, entry: UInt32) -> (start: Int, length: Int, barred: Bool) {
        var p = Int(setOffsets[Int(set)]) + Int(entry)
        let header = varint(&p)
        return (p, Int(header >> 1), header & 1 != 0)
    }

    private func impuSlot(_ key: UnsafeBufferPointer<UInt8>, hash: Int) -> Int? {
        impuIndex.find(hash: hash) { value in
            let (start, length, _) = impuEntry(set: UInt32(truncatingIfNeeded: value), entry: UInt32(value >> 32))
            return bytes(start, length, equal: key)
        }
    }

    private func impuHash(_ value: UInt64) -> Int {
        let (start, length, _) = impuEntry(set: UInt32(truncatingIfNeeded: value), entry: UInt32(value >> 32))
        return hash(start, length)
    }

    private func registrationSet(_ handle: UInt32) -> RegistrationSet {
        var p = Int(setOffsets[Int(handle)])
        let id = Int64(bitPattern: varint(&p))
        let profile = varint(&p)
        let count = Int(varint(&p))
        var impus: [String] = []
        impus.reserveCapacity(count)
        var barred: Set<String> = []
        for _ in 0..<count {
            let header = varint(&p)
            let length = Int(header >> 1)
            let impu = text(p, length)
            p += length
            impus.append(impu)
            if header & 1 != 0 { barred.insert(impu) }
        }
        let members = Int(varint(&p))
        var impis: [String] = []
        impis.reserveCapacity(members)
        for _ in 0..<members {
            let (start, length) = impiName(u32(&p))
            impis.append(text(start, length))
        }
        return RegistrationSet(id: id, publicIdentities: impus, barred: barred, privateIdentities: impis,
                               serviceProfileXML: profile == 0 ? nil : profiles[UInt32(profile - 1)])
    }

    // MARK: arena

    private func arenaEnd() -> UInt32 {
        guard let offset = UInt32(exactly: arena.count), offset != Self.none else {
            fatalError("HSS arena beyond 4 GiB")
        }
        return offset
    }

    private mutating func appendVarint(_ value: UInt64) {
        var v = value
        while v >= 0x80 {
            arena.append(UInt8(truncatingIfNeeded: v) | 0x80)
            v >>= 7
        }
        arena.append(UInt8(v))
    }

    private func varint(_ p: inout Int) -> UInt64 {
        var value: UInt64 = 0
        var shift: UInt64 = 0
        while true {
            let byte = arena[p]
            p += 1
            value |= UInt64(byte & 0x7F) << shift
            if byte < 0x80 { return value }
            shift += 7
        }
    }

    private func u32(_ p: inout Int) -> UInt32 {
        defer { p += 4 }
        return UInt32(arena[p]) | UInt32(arena[p + 1]) << 8 | UInt32(arena[p + 2]) << 16 | UInt32(arena[p + 3]) << 24
    }

    private func text(_ start: Int, _ length: Int) -> String {
        arena.withUnsafeBufferPointer { String(decoding: UnsafeBufferPointer(rebasing: $0[start..<start + length]), as: UTF8.self) }
    }

    private func bytes(_ start: Int, _ length: Int, equal key: UnsafeBufferPointer<UInt8>) -> Bool {
        guard length == key.count else { return false }
        return arena.withUnsafeBufferPointer { UnsafeBufferPointer(rebasing: $0[start..<start + length]).elementsEqual(key) }
    }

    private func hash(_ key: UnsafeBufferPointer<UInt8>) -> Int {
        var hasher = Hasher()
        hasher.combine(bytes: UnsafeRawBufferPointer(key))
        return hasher.finalize() & hashMask
    }

    private func hash(_ start: Int, _ length: Int) -> Int {
        arena.withUnsafeBufferPointer { hash(UnsafeBufferPointer(rebasing: $0[start..<start + length])) }
    }

    /// Copies the live records into a fresh arena once garbage passes a third of it, so memory
    /// follows the live data under churn. Handles, and so the indexes, are unaffected.
    private mutating func compactIfNeeded() {
        guard garbage > compactionFloor, garbage * 3 > arena.count else { return }
        compact()
    }

    mutating func compact() {
        var fresh: [UInt8] = []
        fresh.reserveCapacity(arena.count - garbage)
        for handle in impiOffsets.indices where impiOffsets[handle] != Self.none {
            let start = Int(impiOffsets[handle])
            impiOffsets[handle] = UInt32(fresh.count)
            fresh.append(contentsOf: arena[start..<impiRecordEnd(start)])
        }
        for handle in setOffsets.indices where setOffsets[handle] != Self.none {
            let start = Int(setOffsets[handle])
            setOffsets[handle] = UInt32(fresh.count)
            fresh.append(contentsOf: arena[start..<setRecordEnd(start)])
        }
        arena = fresh
        garbage = 0
    }

    // The indexes' rehash callbacks read the arena: the index is moved out while it changes, so the
    // callback's read of `self` does not overlap the index's mutation.
    private mutating func withIMPIIndex(_ body: (inout ProbeTable<UInt32>, Self) -> Void) {
        var index = ProbeTable<UInt32>()
        swap(&index, &impiIndex)
        body(&index, self)
        swap(&index, &impiIndex)
    }

    private mutating func withSetIndex(_ body: (inout ProbeTable<UInt32>, Self) -> Void) {
        var index = ProbeTable<UInt32>()
        swap(&index, &setIndex)
        body(&index, self)
        swap(&index, &setIndex)
    }

    private mutating func withIMPUIndex(_ body: (inout ProbeTable<UInt64>, Self) -> Void) {
        var index = ProbeTable<UInt64>()
        swap(&index, &impuIndex)
        body(&index, self)
        swap(&index, &impuIndex)
    }
}
