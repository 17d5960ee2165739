import GRDB

extension IMSStore {
    /// A synthetic change returned when the feed cannot tell what happened after `seq` (the entries
    /// were pruned, or the database is not the one `seq` came from): reload everything.
    public static let resyncKey = "resync"

    /// Provisioning changes with `seq > after`, oldest first, at most `limit`. `lastSeq` is the position
    /// to poll from next (`after` when nothing changed). A running server polls this about once a
    /// second to pick up changes another process (the CLI, the portal) committed.
    ///
    /// If entries after `after` have been pruned, or `after` is beyond the end of the feed, the answer is
    /// one ``StoreChange/Kind/bulk`` change with key ``resyncKey`` and the latest seq: reload everything.
    public func changes(after: Int64, limit: Int = 1000) async throws(StoreError)
        -> (lastSeq: Int64, changes: [StoreChange])
    {
        let limit = max(1, limit)
        return try await read { db in
            let latest = try Self.latestChangeSeq(db)
            if after == latest { return (after, []) }
            let first = try Int64.fetchOne(db, sql: "SELECT MIN(seq) FROM change_feed")
            if after > latest || after < (first ?? latest + 1) - 1 {
                let resync = StoreChange(seq: latest, kind: .bulk, key: Self.resyncKey, at: Self.now())
                return (latest, [resync])
            }
            let rows = try Row.fetchAll(
                db, sql: "SELECT seq, kind, key, at FROM change_feed WHERE seq > ? ORDER BY seq LIMIT ?",
                arguments: [after, limit])
            let changes = rows.map { row in
                StoreChange(seq: row[0], kind: .init(rawValue: row[1]), key: row[2], at: row[3])
            }
            return (changes.last?.seq ?? after, changes)
        }
    }

    /// The seq of the newest change ever written (0 for a new database), even if it was pruned.
    public func latestChangeSeq() async throws(StoreError) -> Int64 {
        try await read { db in try Self.latestChangeSeq(db) }
    }

    /// Deletes change-feed entries written before `at` (unix seconds), always keeping the newest one.
    /// Returns how many were deleted.
    @discardableResult
    public func pruneChanges(before at: Int64) async throws(StoreError) -> Int {
        try await write { db in
            try db.execute(sql: """
                DELETE FROM change_feed WHERE at < ? AND seq < (SELECT MAX(seq) FROM change_feed)
                """, arguments: [at])
            return db.changesCount
        }
    }

    static func latestChangeSeq(_ db: Database) throws -> Int64 {
        try Int64.fetchOne(db, sql: "SELECT seq FROM sqlite_sequence WHERE name = 'change_feed'") ?? 0
    }
}
