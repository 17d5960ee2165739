import GRDB

extension IMSStore {
    /// Adds `count` numbers from `start` (`6505550000`, `6505550001`, ...) to the pool; numbers already
    /// there keep their allocation. Returns how many were new.
    @discardableResult
    public func seedNumberPool(start: Int, count: Int) async throws(StoreError) -> Int {
        let range = NumberPoolRange(start: start, count: count)
        try Numbers.validate(range)
        return try await write { db in try Numbers.seed(db, range: range) }
    }

    /// Allocates the lowest free number to `owner` (e.g. a portal account) and returns it; nil when the
    /// pool is exhausted. A number some public identity already uses (`sip:N@...`, `tel:+N`) is never
    /// handed out: it is marked as allocated to that identity and the next one is tried.
    public func allocateNumber(owner: String) async throws(StoreError) -> String? {
        guard !owner.isEmpty else { throw .invalid("a number's owner may not be empty") }
        return try await write { db in
            let now = Self.now()
            let candidate = try db.cachedStatement(sql: """
                SELECT number FROM number_pool WHERE owner IS NULL ORDER BY length(number), number LIMIT 1
                """)
            let user = try db.cachedStatement(sql: """
                SELECT impu FROM public_identity
                WHERE (impu >= 'sip:' || ?1 || '@' AND impu < 'sip:' || ?1 || 'A')
                   OR (impu >= 'sips:' || ?1 || '@' AND impu < 'sips:' || ?1 || 'A')
                   OR impu = 'tel:+' || ?1
                LIMIT 1
                """)
            let take = try db.cachedStatement(sql: "UPDATE number_pool SET owner = ?, allocated_at = ? WHERE number = ?")
            while let number = try String.fetchOne(candidate) {
                user.setUncheckedArguments([number])
                let inUseBy = try String.fetchOne(user)
                take.setUncheckedArguments([inUseBy ?? owner, now, number])
                try take.execute()
                if inUseBy == nil { return number }
            }
            return nil
        }
    }

    /// Returns a number to the pool; false if it was not allocated (or is not in the pool).
    @discardableResult
    public func releaseNumber(_ number: String) async throws(StoreError) -> Bool {
        try await write { db in
            try db.execute(sql: """
                UPDATE number_pool SET owner = NULL, allocated_at = NULL WHERE number = ? AND owner IS NOT NULL
                """, arguments: [number])
            return db.changesCount > 0
        }
    }

    /// The owner of a pool number: nil if free; throws if it is not in the pool.
    public func numberOwner(_ number: String) async throws(StoreError) -> String? {
        try await read { db in
            guard let row = try Row.fetchOne(db, sql: "SELECT owner FROM number_pool WHERE number = ?",
                                             arguments: [number]) else {
                throw StoreError.invalid("\(number) is not in the number pool")
            }
            return row[0]
        }
    }

    /// Pool size and how many numbers are free.
    public func numberPoolCounts() async throws(StoreError) -> (total: Int, free: Int) {
        try await read { db in
            let row = try Row.fetchOne(db, sql: """
                SELECT COUNT(*), COUNT(*) FILTER (WHERE owner IS NULL) FROM number_pool
                """)
            return (row?[0] ?? 0, row?[1] ?? 0)
        }
    }
}

enum Numbers {
    static let seededKey = "number_pool_seeded"

    static func validate(_ range: NumberPoolRange) throws(StoreError) {
        guard range.start >= 0, range.count >= 0, range.count <= 10_000_000,
              range.start <= 999_999_999_999_999 - max(0, range.count - 1) else {
            throw .invalid("number pool \(range.start)+\(range.count) is not a range of up-to-15-digit numbers")
        }
    }

    /// Seeds `range` unless exactly that range was seeded before (so a changed `number_pool_*`
    /// configuration adds its new numbers once, and an unchanged one costs one lookup per open).
    static func seedIfNeeded(_ db: Database, range: NumberPoolRange) throws {
        try validate(range)
        guard try needsSeeding(db, range: range) else { return }
        try seed(db, range: range)
        try db.execute(sql: "INSERT OR REPLACE INTO store_meta (key, value) VALUES (?, ?)",
                       arguments: [seededKey, marker(range)])
    }

    static func needsSeeding(_ db: Database, range: NumberPoolRange) throws -> Bool {
        try String.fetchOne(db, sql: "SELECT value FROM store_meta WHERE key = ?", arguments: [seededKey])
            != marker(range)
    }

    private static func marker(_ range: NumberPoolRange) -> String { "\(range.start)+\(range.count)" }

    @discardableResult
    static func seed(_ db: Database, range: NumberPoolRange) throws -> Int {
        let insert = try db.cachedStatement(sql: "INSERT OR IGNORE INTO number_pool (number) VALUES (?)")
        var added = 0
        for offset in 0..<range.count {
            insert.setUncheckedArguments([String(range.start + offset)])
            try insert.execute()
            added += db.changesCount
        }
        return added
    }
}
