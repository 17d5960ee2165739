import Testing
@testable import IMSStore

@Suite struct ChangeFeedTests {
    @Test func everyProvisioningChangeIsRecorded() async throws {
        try await withStore { store, directory in
            #expect(try await store.changes(after: 0) == (0, []))
            try await store.addSubscriber(subscriber("6505550001"))
            try await store.addPublicIdentity("tel:+16505550001", toPrivateIdentity: "6505550001@example.com")
            try await store.setBarred("tel:+16505550001", true)
            try await store.setCredentials(impi: "6505550001@example.com", realm: "example.com", ha1MD5: md5B,
                                           ha1SHA256: nil, plaintext: nil)
            try await store.deletePublicIdentity("tel:+16505550001")
            try await store.deleteSubscriber(impi: "6505550001@example.com")
            let path = try writeFile(directory, "i.csv", "sip:a@example.com,a@example.com,example.com,pw\n")
            try await store.importCSV(path: path, homeDomain: "example.com", hashing: fakeHA1)
            // Failed operations add nothing.
            _ = await storeError { try await store.deleteSubscriber(impi: "nobody") }

            let (last, changes) = try await store.changes(after: 0)
            #expect(changes.map(\.kind) == [
                .subscriberAdded, .subscriberChanged, .subscriberChanged, .credentialsChanged, .subscriberChanged,
                .publicIdentityRemoved, .subscriberDeleted, .publicIdentityRemoved, .bulk,
            ])
            #expect(changes.map(\.key) == [
                "6505550001@example.com", "6505550001@example.com", "6505550001@example.com",
                "6505550001@example.com", "6505550001@example.com", "tel:+16505550001",
                "6505550001@example.com", "sip:6505550001@example.com", path,
            ])
            #expect(changes.map(\.seq) == Array(1...9))
            #expect(last == 9)
            #expect(changes.allSatisfy { $0.at > 1_600_000_000 })

            // Paging.
            let first = try await store.changes(after: 0, limit: 4)
            #expect(first.lastSeq == 4 && first.changes.count == 4)
            let rest = try await store.changes(after: first.lastSeq, limit: 100)
            #expect(rest.changes.map(\.seq) == [5, 6, 7, 8, 9])
            #expect(try await store.changes(after: 9) == (9, []))
        }
    }

    @Test func prunedOrForeignPositionsAskForAResync() async throws {
        try await withStore { store, _ in
            for i in 1...3 { try await store.addSubscriber(subscriber("650555000\(i)")) }
            #expect(try await store.pruneChanges(before: Int64.max) == 2)  // the newest is always kept
            let resync = try await store.changes(after: 0)
            #expect(resync.lastSeq == 3)
            #expect(resync.changes.map(\.kind) == [.bulk])
            #expect(resync.changes.first?.key == IMSStore.resyncKey)
            #expect(try await store.changes(after: 2).changes.map(\.seq) == [3])
            #expect(try await store.changes(after: 42).changes.first?.key == IMSStore.resyncKey)
            // seq is never reused after pruning.
            try await store.addSubscriber(subscriber("6505550009"))
            #expect(try await store.changes(after: 3).changes.map(\.seq) == [4])
        }
    }
}

@Suite struct BindingTests {
    @Test func saveLoadUpdateDelete() async throws {
        try await withStore { store, _ in
            let aor = "sip:6505550001@example.com"
            var a = binding(aor, "<urn:uuid:1>;1", path: ["<sip:pcscf.example.com;lr>", "<sip:x\"y\\z@e;lr>"])
            let b = binding(aor, "sip:ue@203.0.113.5:5061")
            var c = binding("sip:6505550002@example.com", "sip:other@198.51.100.1", expiresAt: 100)
            c.q = nil; c.instance = nil; c.regID = nil; c.flow = nil; c.impi = nil; c.userAgent = nil
            try await store.saveBindings(upserts: [a, b, c], deletes: [])
            #expect(try await store.loadBindings() == [a, b, c])

            // One group commit: refresh a, drop b.
            a.expiresAt += 3600
            a.cseq += 1
            a.path = []
            try await store.saveBindings(upserts: [a], deletes: [(aor: aor, bindingKey: b.bindingKey)])
            #expect(try await store.loadBindings() == [a, c])

            #expect(try await store.deleteExpiredBindings(now: 100) == 1)
            #expect(try await store.loadBindings() == [a])
            try await store.saveBindings(upserts: [], deletes: [])
            try await store.saveBindings(upserts: [], deletes: [(aor: "sip:none@example.com", bindingKey: "x")])
            #expect(try await store.loadBindings() == [a])
        }
    }

    @Test func deletingTheSubscriberDeletesItsBindings() async throws {
        try await withStore { store, _ in
            try await store.addSubscriber(subscriber("6505550001", extra: ["tel:+16505550001"]))
            try await store.addSubscriber(subscriber("6505550002"))
            try await store.saveBindings(upserts: [
                binding("sip:6505550001@example.com", "a"), binding("sip:6505550001@example.com", "b"),
                binding("sip:6505550002@example.com", "a"),
            ], deletes: [])
            try await store.deleteSubscriber(impi: "6505550001@example.com")
            #expect(try await store.loadBindings().map(\.aor) == ["sip:6505550002@example.com"])
        }
    }

    @Test func pathJSON() {
        let path = ["<sip:a;lr>", "q\"uote\\back\nnl\u{1}ctl", "ünï"]
        let text = PathJSON.encode(path)
        #expect(text == #"["<sip:a;lr>","q\"uote\\back\nnl\u0001ctl","ünï"]"#)
        #expect(PathJSON.decode(text) == path)
        #expect(PathJSON.encode([]) == "[]")
        #expect(PathJSON.decode("[]").isEmpty)
    }
}

@Suite struct NumberPoolTests {
    @Test func seededOnFirstOpenAndAllocated() async throws {
        try await withTemporaryDirectory { directory in
            let range = NumberPoolRange(start: 6_505_550_000, count: 5)
            do {
                let store = try IMSStore(dataDirectory: directory, numberPool: range)
                defer { try? store.close() }
                #expect(try await store.numberPoolCounts() == (5, 5))
                // Provisioning a pool number takes it out of the pool...
                try await store.addSubscriber(subscriber("6505550000"))
                #expect(try await store.numberOwner("6505550000") == "sip:6505550000@example.com")
                // ...and one already used by a public identity is skipped (here: added before seeding).
                try await store.pool.write { db in
                    try db.execute(sql: "UPDATE number_pool SET owner = NULL WHERE number = '6505550000'")
                }
                #expect(try await store.allocateNumber(owner: "alice") == "6505550001")
                #expect(try await store.numberOwner("6505550000") == "sip:6505550000@example.com")
                #expect(try await store.allocateNumber(owner: "bob") == "6505550002")
                #expect(try await store.releaseNumber("6505550001"))
                #expect(try await store.releaseNumber("6505550001") == false)
                #expect(try await store.allocateNumber(owner: "carol") == "6505550001")
                #expect(try await store.allocateNumber(owner: "dave") == "6505550003")
                #expect(try await store.allocateNumber(owner: "erin") == "6505550004")
                #expect(try await store.allocateNumber(owner: "frank") == nil)
                #expect(try await store.numberOwner("6505550004") == "erin")
                #expect(await storeError { _ = try await store.numberOwner("1") } == .invalid("1 is not in the number pool"))
                #expect(await storeError { _ = try await store.allocateNumber(owner: "") } != nil)
                // Deleting the subscriber frees its number.
                try await store.deleteSubscriber(impi: "6505550000@example.com")
                #expect(try await store.numberOwner("6505550000") == nil)
            }
            // Reopening with the same range seeds nothing; a bigger range adds only the new numbers.
            do {
                let store = try IMSStore(dataDirectory: directory, numberPool: range)
                #expect(try await store.numberPoolCounts() == (5, 1))
                try store.close()
            }
            let store = try IMSStore(dataDirectory: directory, numberPool: NumberPoolRange(start: 6_505_550_000, count: 8))
            defer { try? store.close() }
            #expect(try await store.numberPoolCounts() == (8, 4))
            #expect(try await store.seedNumberPool(start: 10, count: 3) == 3)
            #expect(try await store.allocateNumber(owner: "x") == "10")  // shorter numbers first
            #expect(await storeError { try await store.seedNumberPool(start: -1, count: 3) } != nil)
        }
    }
}
