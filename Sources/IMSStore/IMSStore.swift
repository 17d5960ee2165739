import Foundation
import GRDB

/// The cw-aio persistent store: subscribers (IMPI / IMPU / implicit registration sets / iFC), the
/// provisioning change feed, registrar bindings and the number pool, in ONE SQLite database,
/// `<data_dir>/cw-aio.sqlite`. All SQL of cw-aio lives in this module.
///
/// The database is opened as a GRDB `DatabasePool` in WAL mode (readers never block the writer),
/// `synchronous=NORMAL`, foreign keys on and a 5 s busy timeout, so the provisioning CLI can write
/// while a server process has it open. Every write runs in one IMMEDIATE transaction: a change is
/// either entirely visible, with its change-feed entry, or not at all. Migrations run on open.
///
/// Errors are ``StoreError`` values whose `description` is a user-facing sentence.
public final class IMSStore: Sendable {
    /// The database file name inside the data directory.
    public static let fileName = "cw-aio.sqlite"
    /// How long a write waits for another connection's lock before failing with ``StoreError/busy``.
    public static let busyTimeout: TimeInterval = 5

    /// Full path of the database file.
    public let path: String
    let pool: DatabasePool

    /// Opens (creating the directory and the database if needed) `<dataDirectory>/cw-aio.sqlite`, runs
    /// pending migrations, and, when `numberPool` is given and that range has not been seeded yet,
    /// seeds the number pool with it (existing numbers and their allocations are kept).
    public init(dataDirectory: String, numberPool: NumberPoolRange? = nil) throws(StoreError) {
        let directory = dataDirectory.isEmpty ? "." : dataDirectory
        let path = directory.hasSuffix("/") ? directory + Self.fileName : directory + "/" + Self.fileName
        self.path = path
        do {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        } catch {
            throw .cannotOpen(path: path, reason: Self.reason(error))
        }

        var configuration = Configuration()
        configuration.label = "IMSStore"
        configuration.foreignKeysEnabled = true
        configuration.busyMode = .timeout(Self.busyTimeout)
        configuration.prepareDatabase { db in
            try db.execute(sql: "PRAGMA synchronous = NORMAL")
        }
        do {
            pool = try DatabasePool(path: path, configuration: configuration)
        } catch {
            throw .cannotOpen(path: path, reason: Self.reason(error))
        }

        do {
            let migrator = Schema.migrator
            if try pool.read({ try migrator.hasBeenSuperseded($0) }) {
                throw StoreError.newerSchema(path: path)
            }
            do {
                try migrator.migrate(pool)
            } catch {
                // Another process may have applied the same migration between GRDB's check and its
                // IMMEDIATE transaction (two processes opening a fresh database at once). Once it has
                // committed, a second pass finds the migration applied and has nothing to do.
                try migrator.migrate(pool)
            }
            // Checked in a read first: an open that has nothing to seed takes no write lock.
            if let numberPool, try pool.read({ try Numbers.needsSeeding($0, range: numberPool) }) {
                try pool.write { db in try Numbers.seedIfNeeded(db, range: numberPool) }
            }
        } catch {
            try? pool.close()
            throw Self.wrap(error)
        }
    }

    /// As ``init(dataDirectory:numberPool:)``, off the caller's executor (opening may wait on locks
    /// and run migrations).
    public static func open(dataDirectory: String, numberPool: NumberPoolRange? = nil) async throws(StoreError)
        -> IMSStore
    {
        do {
            return try await Task.detached {
                try IMSStore(dataDirectory: dataDirectory, numberPool: numberPool)
            }.value
        } catch {
            throw wrap(error)
        }
    }

    /// Closes the database. Later calls fail; closing twice is harmless.
    public func close() throws(StoreError) {
        do { try pool.close() } catch { throw Self.wrap(error) }
    }

    // MARK: Internals shared by the extensions

    /// Runs `updates` in one IMMEDIATE transaction; any thrown error rolls it back.
    func write<T: Sendable>(_ updates: @escaping @Sendable (Database) throws -> T) async throws(StoreError) -> T {
        do {
            return try await pool.write(updates)
        } catch {
            throw Self.wrap(error)
        }
    }

    /// Runs `value` in one read transaction (a consistent snapshot).
    func read<T: Sendable>(_ value: @escaping @Sendable (Database) throws -> T) async throws(StoreError) -> T {
        do {
            return try await pool.read(value)
        } catch {
            throw Self.wrap(error)
        }
    }

    /// Current time, unix seconds.
    static func now() -> Int64 { Int64(Date().timeIntervalSince1970) }

    static func wrap(_ error: any Error) -> StoreError {
        if let error = error as? StoreError { return error }
        if let error = error as? DatabaseError {
            if error.resultCode == .SQLITE_BUSY || error.resultCode == .SQLITE_LOCKED { return .busy }
            return .database(error.message ?? error.description)
        }
        if error is CancellationError { return .database("the operation was cancelled") }
        return .database(reason(error))
    }

    static func reason(_ error: any Error) -> String {
        if let error = error as? DatabaseError { return error.message ?? error.description }
        return (error as NSError).localizedDescription
    }
}
