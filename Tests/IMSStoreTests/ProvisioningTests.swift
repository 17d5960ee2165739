import Testing
@testable import IMSStore

@Suite struct ProvisioningTests {
    @Test func addGetListDelete() async throws {
        try await withStore { store, _ in
            try await store.addSubscriber(subscriber("6505550002"))
            try await store.addSubscriber(subscriber("6505550001", extra: ["tel:+16505550001"]))

            let record = try #require(try await store.subscriber(impi: "6505550001@example.com"))
            #expect(record.realm == "example.com")
            #expect(record.ha1MD5 == md5A)
            #expect(record.ha1SHA256 == sha256A)
            #expect(record.plaintextPassword == nil)
            #expect(record.implicitRegistrationSets.count == 1)
            #expect(record.publicIdentities == ["sip:6505550001@example.com", "tel:+16505550001"])
            #expect(record.implicitRegistrationSets[0].defaultPublicIdentity == "sip:6505550001@example.com")
            #expect(record.createdAt > 1_600_000_000 && record.updatedAt == record.createdAt)

            let list = try await store.listSubscribers(limit: 10, offset: 0)
            #expect(list.map(\.impi) == ["6505550001@example.com", "6505550002@example.com"])
            #expect(try await store.listSubscribers(limit: 1, offset: 1).map(\.impi) == ["6505550002@example.com"])
            #expect(try await store.listSubscribers(limit: 10, offset: 2).isEmpty)
            #expect(try await store.subscriberCount() == 2)
            #expect(try await store.privateIdentities(forPublicIdentity: "tel:+16505550001") == ["6505550001@example.com"])

            let removed = try await store.deleteSubscriber(impi: "6505550001@example.com")
            #expect(removed == ["sip:6505550001@example.com", "tel:+16505550001"])
            #expect(try await store.subscriber(impi: "6505550001@example.com") == nil)
            #expect(try await store.privateIdentities(forPublicIdentity: "tel:+16505550001").isEmpty)
            #expect(try await store.subscriberCount() == 1)
            let leftovers = try await store.pool.read { db in
                try Int.fetchOne(db, sql: """
                    SELECT (SELECT COUNT(*) FROM public_identity) + (SELECT COUNT(*) FROM implicit_registration_set)
                         + (SELECT COUNT(*) FROM private_identity_irs)
                    """)
            }
            #expect(leftovers == 3)  // the other subscriber's IMPU, set and link

            #expect(await storeError { try await store.deleteSubscriber(impi: "6505550001@example.com") }
                    == .privateIdentityNotFound("6505550001@example.com"))
        }
    }

    @Test func duplicatesAreRejectedAndNothingIsWritten() async throws {
        try await withStore { store, _ in
            try await store.addSubscriber(subscriber("6505550001"))
            let seq = try await store.latestChangeSeq()

            // Same IMPU under another IMPI (the second IMPU is new: the whole subscriber must be refused).
            var clash = subscriber("6505550009", extra: ["sip:6505550001@EXAMPLE.com"])
            #expect(await storeError { try await store.addSubscriber(clash) }
                    == .publicIdentityExists("sip:6505550001@example.com"))
            // Same IMPI with new IMPUs.
            clash = NewSubscriber(impi: "6505550001@example.com", realm: "example.com", ha1MD5: md5A,
                                  publicIdentities: ["sip:other@example.com"])
            let error = await storeError { try await store.addSubscriber(clash) }
            #expect(error == .privateIdentityExists("6505550001@example.com"))
            #expect(error?.description == "private id 6505550001@example.com already exists")
            #expect(StoreError.publicIdentityExists("sip:6505550001@example.com").description
                    == "subscriber sip:6505550001@example.com already exists")

            #expect(try await store.subscriberCount() == 1)
            #expect(try await store.subscriber(impi: "6505550009@example.com") == nil)
            #expect(try await store.privateIdentities(forPublicIdentity: "sip:other@example.com").isEmpty)
            #expect(try await store.latestChangeSeq() == seq)
        }
    }

    @Test func validation() async throws {
        try await withStore { store, _ in
            func refused(_ s: NewSubscriber) async -> String? {
                await storeError { try await store.addSubscriber(s) }?.description
            }
            var s = subscriber("1")
            s.publicIdentities = ["foo"]
            #expect(await refused(s) == "public id \"foo\" is not a SIP URI")
            for bad in ["sip:example.com", "sip:@example.com", "sip:a@", "sip:a@exa mple.com", "sip:a@host:5060",
                        "sip:a@host;transport=tcp", "sip:a:pw@host", "tel:6505550001", "tel:+", "tel:+1234567890123456",
                        "mailto:a@b", "sip:a b@host", "sip:a@-host", "sip:a@[zz]"] {
                s.publicIdentities = [bad]
                #expect(await refused(s) == "public id \"\(bad)\" is not a SIP URI", "\(bad) accepted")
            }
            s = subscriber("1", extra: ["sip:1@example.com"])
            #expect(await refused(s) == "public id sip:1@example.com is listed twice")
            s = subscriber("1"); s.publicIdentities = []
            #expect(await refused(s) == "a subscriber needs at least one public id")
            s = subscriber("1"); s.ha1MD5 = ""
            #expect(await refused(s) == "the MD5 HA1 is empty")
            s = subscriber("1"); s.ha1MD5 = "xyz"
            #expect(await refused(s) == "the MD5 HA1 must be 32 hex digits")
            s = subscriber("1"); s.ha1SHA256 = md5A
            #expect(await refused(s) == "the SHA-256 HA1 must be 64 hex digits")
            s = subscriber("1"); s.impi = ""
            #expect(await refused(s) == "private id is empty")
            s = subscriber("1"); s.impi = "a b@example.com"
            #expect(await refused(s)?.hasPrefix("private id \"a b@example.com\" may not contain") == true)
            s = subscriber("1"); s.realm = ""
            #expect(await refused(s) == "realm is empty")
            s = subscriber("1"); s.plaintextPassword = ""
            #expect(await refused(s) == "the password is empty")
            s = subscriber("1", ifc: "hello")
            #expect(await refused(s) == "iFC XML is not a TS 29.228 <ServiceProfile> document")
            #expect(try await store.subscriberCount() == 0)
            #expect(try await store.latestChangeSeq() == 0)

            // Accepted forms, canonicalised: scheme and host lower-case, user part as written.
            s = NewSubscriber(impi: "Alice@Example.com", realm: "example.com", ha1MD5: md5A.uppercased(),
                              publicIdentities: ["SIP:Alice@Example.COM", "sips:%41lice@[2001:DB8::1]",
                                                 "Tel:+16505550001", "sip:+1-650;npdi@10.0.0.1", "sip:bob@host.example."])
            try await store.addSubscriber(s)
            let record = try #require(try await store.subscriber(impi: "Alice@Example.com"))
            #expect(record.publicIdentities == ["sip:Alice@example.com", "sips:%41lice@[2001:db8::1]",
                                                "tel:+16505550001", "sip:+1-650;npdi@10.0.0.1", "sip:bob@host.example."])
            #expect(record.ha1MD5 == md5A)
        }
    }

    @Test func publicIdentitiesOfOneImpiShareItsImplicitRegistrationSet() async throws {
        try await withStore { store, _ in
            try await store.addSubscriber(subscriber("6505550001"))
            let added = try await store.addPublicIdentity("TEL:+16505550001", toPrivateIdentity: "6505550001@example.com")
            #expect(added == "tel:+16505550001")
            try await store.addPublicIdentity("sip:alias@example.com", toPrivateIdentity: "6505550001@example.com",
                                              barred: true)
            let record = try #require(try await store.subscriber(impi: "6505550001@example.com"))
            #expect(record.implicitRegistrationSets.count == 1)
            let set = record.implicitRegistrationSets[0]
            #expect(set.publicIdentities == [.init(uri: "sip:6505550001@example.com"), .init(uri: "tel:+16505550001"),
                                             .init(uri: "sip:alias@example.com", barred: true)])
            #expect(set.defaultPublicIdentity == "sip:6505550001@example.com")

            #expect(await storeError { try await store.addPublicIdentity("tel:+16505550001", toPrivateIdentity: "6505550001@example.com") }
                    == .publicIdentityExists("tel:+16505550001"))
            #expect(await storeError { try await store.addPublicIdentity("sip:x@example.com", toPrivateIdentity: "nobody@example.com") }
                    == .privateIdentityNotFound("nobody@example.com"))
            #expect(await storeError { try await store.addPublicIdentity("x", toPrivateIdentity: "6505550001@example.com") }
                    == .invalid("public id \"x\" is not a SIP URI"))

            try await store.setBarred("sip:alias@example.com", false)
            // Removing the default makes the next one the default.
            try await store.deletePublicIdentity("sip:6505550001@example.com")
            let after = try #require(try await store.subscriber(impi: "6505550001@example.com"))
            #expect(after.implicitRegistrationSets[0].defaultPublicIdentity == "tel:+16505550001")
            #expect(after.implicitRegistrationSets[0].publicIdentities.allSatisfy { !$0.barred })
            try await store.deletePublicIdentity("tel:+16505550001")
            #expect(await storeError { try await store.deletePublicIdentity("sip:alias@example.com") }
                    == .lastPublicIdentity(impu: "sip:alias@example.com", impi: "6505550001@example.com"))
            #expect(await storeError { try await store.deletePublicIdentity("sip:nobody@example.com") }
                    == .publicIdentityNotFound("sip:nobody@example.com"))
        }
    }

    @Test func deletingOneOfTwoImpisOfASharedSetKeepsTheSet() async throws {
        try await withStore { store, _ in
            try await store.addSubscriber(subscriber("6505550001"))
            try await store.addSubscriber(NewSubscriber(impi: "second@example.com", realm: "example.com",
                                                        ha1MD5: md5B, publicIdentities: ["sip:second@example.com"]))
            // Link the second IMPI to the first one's set too (many-to-many, as TS 23.228 allows).
            try await store.pool.write { db in
                let irs = try Int64.fetchOne(db, sql: "SELECT irs_id FROM public_identity WHERE impu = 'sip:6505550001@example.com'")!
                try db.execute(sql: "INSERT INTO private_identity_irs (impi, irs_id) VALUES (?, ?)",
                               arguments: ["second@example.com", irs])
            }
            try await store.saveBindings(upserts: [binding("sip:6505550001@example.com", "a")], deletes: [])
            let second = try #require(try await store.subscriber(impi: "second@example.com"))
            #expect(second.implicitRegistrationSets.map(\.defaultPublicIdentity)
                    == ["sip:6505550001@example.com", "sip:second@example.com"])
            #expect(try await store.privateIdentities(forPublicIdentity: "sip:6505550001@example.com")
                    == ["6505550001@example.com", "second@example.com"])

            #expect(try await store.deleteSubscriber(impi: "6505550001@example.com").isEmpty)
            #expect(try await store.loadBindings().count == 1)
            let kept = try #require(try await store.subscriber(impi: "second@example.com"))
            #expect(kept.publicIdentities == ["sip:6505550001@example.com", "sip:second@example.com"])

            #expect(try await store.deleteSubscriber(impi: "second@example.com")
                    == ["sip:6505550001@example.com", "sip:second@example.com"])
            #expect(try await store.loadBindings().isEmpty)
        }
    }

    @Test func setCredentials() async throws {
        try await withStore { store, _ in
            try await store.addSubscriber(subscriber("6505550001"))
            try await store.setCredentials(impi: "6505550001@example.com", realm: "other.example", ha1MD5: md5B,
                                           ha1SHA256: nil, plaintext: "secret")
            let record = try #require(try await store.subscriber(impi: "6505550001@example.com"))
            #expect(record.realm == "other.example")
            #expect(record.ha1MD5 == md5B)
            #expect(record.ha1SHA256 == nil)
            #expect(record.plaintextPassword == "secret")
            #expect(record.updatedAt >= record.createdAt)
            #expect(await storeError {
                try await store.setCredentials(impi: "nobody@example.com", realm: "example.com", ha1MD5: md5A,
                                               ha1SHA256: nil, plaintext: nil)
            } == .privateIdentityNotFound("nobody@example.com"))
            #expect(await storeError {
                try await store.setCredentials(impi: "6505550001@example.com", realm: "example.com", ha1MD5: "",
                                               ha1SHA256: nil, plaintext: nil)
            } == .invalid("the MD5 HA1 is empty"))
        }
    }

    @Test func loadAllShape() async throws {
        try await withStore { store, _ in
            let custom = "<ServiceProfile><InitialFilterCriteria><Priority>1</Priority></InitialFilterCriteria></ServiceProfile>"
            try await store.addSubscriber(subscriber("6505550003", ifc: custom))
            try await store.addSubscriber(subscriber("6505550001", extra: ["tel:+6505550001"]))
            try await store.addSubscriber(subscriber("6505550002"))
            try await store.setBarred("tel:+6505550001", true)

            let (seq, all) = try await store.snapshot()
            let latest = try await store.latestChangeSeq()
            let loaded = try await store.loadAll()
            #expect(seq == latest)
            #expect(all == loaded)
            #expect(all.map(\.impi) == ["6505550001@example.com", "6505550002@example.com", "6505550003@example.com"])
            #expect(all[0].implicitRegistrationSets.count == 1)
            #expect(all[0].implicitRegistrationSets[0].publicIdentities
                    == [.init(uri: "sip:6505550001@example.com"), .init(uri: "tel:+6505550001", barred: true)])
            #expect(all[0].implicitRegistrationSets[0].ifcXML == nil)
            #expect(all[0].implicitRegistrationSets[0].serviceProfileXML(homeDomain: "example.com")
                    == DefaultIFC.xml(homeDomain: "example.com"))
            #expect(all[2].implicitRegistrationSets[0].ifcXML == custom)
            #expect(all[2].implicitRegistrationSets[0].serviceProfileXML(homeDomain: "example.com") == custom)
            #expect(Set(all.flatMap(\.implicitRegistrationSets).map(\.id)).count == 3)
        }
    }

    @Test func defaultIFC() {
        let xml = DefaultIFC.xml(homeDomain: "example.com")
        #expect(xml == "<ServiceProfile><InitialFilterCriteria><Priority>0</Priority><TriggerPoint>"
                + "<ConditionTypeCNF>0</ConditionTypeCNF><SPT><ConditionNegated>0</ConditionNegated><Group>0</Group>"
                + "<Method>INVITE</Method></SPT></TriggerPoint><ApplicationServer>"
                + "<ServerName>sip:mmtel.example.com</ServerName><DefaultHandling>0</DefaultHandling>"
                + "</ApplicationServer></InitialFilterCriteria></ServiceProfile>")
        #expect(!xml.contains("SessionCase"))  // originating and terminating alike
        #expect(DefaultIFC.xml(homeDomain: "a&b").contains("sip:mmtel.a&amp;b"))
    }
}
