import Foundation
import GRDB
import Testing
@testable import IMSStore

@Suite struct MigrationTests {
    @Test func freshDatabaseHasSchemaAndPragmas() async throws {
        try await withTemporaryDirectory { directory in
            let nested = directory + "/a/b"
            let store = try IMSStore(dataDirectory: nested)
            defer { try? store.close() }
            #expect(store.path == nested + "/cw-aio.sqlite")
            #expect(FileManager.default.fileExists(atPath: store.path))
            try await store.pool.read { db in
                let tables = Set(try String.fetchAll(db, sql: "SELECT name FROM sqlite_master WHERE type = 'table'"))
                for table in ["private_identity", "implicit_registration_set", "public_identity",
                              "private_identity_irs", "change_feed", "registration_binding", "number_pool",
                              "store_meta"] {
                    #expect(tables.contains(table), "missing table \(table)")
                }
                #expect(try String.fetchOne(db, sql: "PRAGMA journal_mode") == "wal")
                #expect(try Int.fetchOne(db, sql: "PRAGMA foreign_keys") == 1)
                #expect(try Int.fetchOne(db, sql: "PRAGMA synchronous") == 1)  // NORMAL
                #expect(try Schema.migrator.appliedMigrations(db) == [Schema.provisioning, Schema.registrarAndNumbers, Schema.userPartHA1])
            }
        }
    }

    @Test func reopeningKeepsDataAndRunsNothing() async throws {
        try await withTemporaryDirectory { directory in
            do {
                let store = try IMSStore(dataDirectory: directory)
                try await store.addSubscriber(subscriber("6505550001"))
                try store.close()
            }
            let store = try IMSStore(dataDirectory: directory)
            defer { try? store.close() }
            let record = try await store.subscriber(impi: "6505550001@example.com")
            #expect(record?.publicIdentities == ["sip:6505550001@example.com"])
            #expect(try await store.latestChangeSeq() == 1)
        }
    }

    @Test func olderDatabaseIsMigratedKeepingItsData() async throws {
        try await withTemporaryDirectory { directory in
            // A database written by a build that only knew the first migration.
            do {
                let pool = try DatabasePool(path: directory + "/cw-aio.sqlite")
                try Schema.migrator.migrate(pool, upTo: Schema.provisioning)
                try await pool.write { db in
                    try db.execute(sql: """
                        INSERT INTO private_identity VALUES ('old@example.com', 'example.com', ?, NULL, NULL, 1, 1);
                        INSERT INTO implicit_registration_set (id, ifc_xml, created_at) VALUES (7, NULL, 1);
                        INSERT INTO public_identity VALUES ('sip:old@example.com', 7, 0, 0, 1);
                        INSERT INTO private_identity_irs VALUES ('old@example.com', 7);
                        """, arguments: [md5A])
                }
                try pool.close()
            }
            let store = try IMSStore(dataDirectory: directory, numberPool: NumberPoolRange(start: 100, count: 3))
            defer { try? store.close() }
            let all = try await store.loadAll()
            #expect(all.count == 1)
            #expect(all.first?.implicitRegistrationSets.first?.id == 7)
            #expect(all.first?.publicIdentities == ["sip:old@example.com"])
            // The second migration's tables work.
            #expect(try await store.numberPoolCounts() == (3, 3))
            try await store.saveBindings(upserts: [binding("sip:old@example.com", "k")], deletes: [])
            #expect(try await store.loadBindings().count == 1)
        }
    }

    @Test func newerDatabaseIsRefused() async throws {
        try await withTemporaryDirectory { directory in
            do {
                let store = try IMSStore(dataDirectory: directory)
                try await store.pool.write { db in
                    try db.execute(sql: "INSERT INTO grdb_migrations (identifier) VALUES ('v99-from-the-future')")
                }
                try store.close()
            }
            #expect(throws: StoreError.newerSchema(path: directory + "/cw-aio.sqlite")) {
                _ = try IMSStore(dataDirectory: directory)
            }
        }
    }

    @Test func twoStoresOnOneDatabaseSeeEachOthersWrites() async throws {
        // As the CLI and a running server do: two independent pools on one file.
        try await withTemporaryDirectory { directory in
            let server = try IMSStore(dataDirectory: directory)
            let cli = try IMSStore(dataDirectory: directory)
            defer { try? server.close(); try? cli.close() }
            let start = try await server.latestChangeSeq()
            try await cli.addSubscriber(subscriber("6505550001"))
            let (last, changes) = try await server.changes(after: start)
            #expect(changes.map(\.kind) == [.subscriberAdded])
            #expect(last == changes.last?.seq)
            #expect(try await server.subscriber(impi: "6505550001@example.com") != nil)
        }
    }

    @Test func unwritableDirectoryIsAClearError() async throws {
        let error = await storeError { _ = try IMSStore(dataDirectory: "/proc/self/no/such/dir") }
        guard case .cannotOpen(let path, _)? = error else {
            Issue.record("expected cannotOpen, got \(String(describing: error))")
            return
        }
        #expect(path == "/proc/self/no/such/dir/cw-aio.sqlite")
        #expect(error?.description.hasPrefix("cannot open the subscriber database /proc/self/no/such/dir/cw-aio.sqlite: ") == true)
    }
}

func binding(_ aor: String, _ key: String, expiresAt: Int64 = 2_000_000_000, path: [String] = []) -> StoredBinding {
    StoredBinding(aor: aor, bindingKey: key, contact: "<sip:ue@203.0.113.5:5060>;expires=3600",
                  contactURI: "sip:ue@203.0.113.5:5060", expiresAt: expiresAt, q: "0.5", callID: "call-\(key)",
                  cseq: 7, path: path, instance: "<urn:uuid:00000000-0000-0000-0000-000000000001>", regID: 1,
                  flow: "udp:203.0.113.5:5060", impi: "6505550001@example.com", registeredAt: 1_700_000_000,
                  userAgent: "Test UA/1.0")
}
