@testable import HSS
import IMSModel
import Testing

private let md5 = "0123456789abcdef0123456789abcdef"
private let sha = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff"
private let profile = "<ServiceProfile><InitialFilterCriteria/></ServiceProfile>"

private func subscriber(_ n: Int, setID: Int64? = nil) -> (AuthInfo, RegistrationSet) {
    let impi = "65055\(n)@example.com"
    let auth = AuthInfo(impi: impi, realm: "example.com", ha1MD5: md5, ha1SHA256: sha,
                        userPartHA1MD5: md5, userPartHA1SHA256: sha)
    let set = RegistrationSet(id: setID ?? Int64(n), publicIdentities: ["sip:65055\(n)@example.com", "tel:+165055\(n)"],
                              privateIdentities: [impi], serviceProfileXML: profile)
    return (auth, set)
}

@Suite struct SubscriberTablesTests {
    @Test func lookupsAcceptEveryFormOfAPublicIdentity() {
        let set = RegistrationSet(id: 7, publicIdentities: ["sip:Alice@example.com", "tel:+16505550001", "sip:bob@example.com:5070"],
                                  barred: ["tel:+16505550001"], privateIdentities: ["alice@example.com"],
                                  serviceProfileXML: profile)
        let cache = HSSCache()
        cache.replaceAll(auth: [], sets: [set])
        for form in ["sip:Alice@example.com", "sip:Alice@EXAMPLE.com", "SIP:Alice@example.com;transport=udp",
                     "<sip:Alice@Example.COM>", " sip:Alice@example.com ", "tel:+16505550001", "tel:+1-650-555-0001",
                     "tel:+1.650.555.0001", "sip:bob@Example.com:5070"] {
            #expect(cache.registrationSet(impu: form) == set, "\(form)")
        }
        for form in ["sip:alice@example.com", "sip:Alice@example.org", "tel:+16505550002", "sip:bob@example.com",
                     "", "nonsense", "sip:", "tel:"] {
            #expect(cache.registrationSet(impu: form) == nil, "\(form)")
        }
        #expect(cache.registrationSet(impu: "tel:+16505550001")?.barred == ["tel:+16505550001"])
        #expect(cache.registrationSet(impu: "tel:+16505550001")?.associatedIdentities
            == ["sip:Alice@example.com", "sip:bob@example.com:5070"])
        #expect(cache.publicIdentityCount == 3)
        #expect(cache.privateIdentityCount == 0)
    }

    @Test func credentialsComeBackAsTheyWentIn() {
        let cases = [
            AuthInfo(impi: "a@example.com", realm: "example.com", ha1MD5: md5, ha1SHA256: sha,
                     userPartHA1MD5: md5, userPartHA1SHA256: sha),
            AuthInfo(impi: "b@example.com", realm: "other.realm", ha1MD5: md5, ha1SHA256: nil),
            // Not lower-case hex of the digest's length: kept as text, not normalised.
            AuthInfo(impi: "c@example.com", realm: "example.com", ha1MD5: md5.uppercased(), ha1SHA256: "abc",
                     userPartHA1MD5: "", userPartHA1SHA256: sha + "0"),
            AuthInfo(impi: "", realm: "", ha1MD5: "x", ha1SHA256: nil, userPartHA1MD5: nil, userPartHA1SHA256: md5),
            AuthInfo(impi: "ü@exämple.com", realm: "exämple.com", ha1MD5: String(repeating: "g", count: 32), ha1SHA256: nil),
        ]
        var tables = SubscriberTables(auth: cases, sets: [])
        for info in cases { #expect(tables.authInfo(impi: info.impi) == info) }
        #expect(tables.authInfo(impi: "d@example.com") == nil)
        #expect(tables.authInfo(impi: "a@example.co") == nil)
        #expect(tables.privateIdentityCount == cases.count)
        // Realms are shared and released: changing every realm leaves the right ones.
        for info in cases {
            var changed = info
            changed.realm += ".new"
            tables.update(auth: changed, impi: info.impi, sets: [])
            #expect(tables.authInfo(impi: info.impi) == changed)
        }
    }

    @Test func updatesDeletesAndSharedSets() {
        let cache = HSSCache()
        let (a, setA) = subscriber(1)
        let (b, _) = subscriber(2)
        // b shares a's set (e.g. a second device's IMPI).
        var shared = setA
        shared.privateIdentities = [a.impi, b.impi]
        cache.update(auth: a, impi: a.impi, sets: [setA])
        cache.update(auth: b, impi: b.impi, sets: [shared])
        #expect(cache.registrationSet(impu: "sip:650551@example.com")?.privateIdentities == [a.impi, b.impi])

        // A new password for a.
        var a2 = a
        a2.ha1MD5 = String(repeating: "f", count: 32)
        cache.update(auth: a2, impi: a.impi, sets: [shared])
        #expect(cache.authInfo(impi: a.impi) == a2)

        // a is deleted: the set stays, b's.
        cache.update(auth: nil, impi: a.impi, sets: [])
        #expect(cache.authInfo(impi: a.impi) == nil)
        var onlyB = shared
        onlyB.privateIdentities = [b.impi]
        #expect(cache.registrationSet(impu: "tel:+1650551") == onlyB)

        // b moves to a set of its own: the old one, left without an IMPI, goes.
        let (_, own) = subscriber(2, setID: 99)
        cache.update(auth: b, impi: b.impi, sets: [own])
        #expect(cache.registrationSet(impu: "sip:650551@example.com") == nil)
        #expect(cache.registrationSet(impu: "sip:650552@example.com") == own)
        #expect(cache.publicIdentityCount == 2)

        // b is deleted: nothing is left.
        cache.update(auth: nil, impi: b.impi, sets: [])
        #expect(cache.registrationSet(impu: "sip:650552@example.com") == nil)
        #expect(cache.privateIdentityCount == 0)
        #expect(cache.publicIdentityCount == 0)
    }

    @Test func startupLoadMergesSharedSets() {
        var tables = SubscriberTables()
        let (a, setA) = subscriber(1)
        let (b, setB) = subscriber(2, setID: 1)  // the same set id, as the store gives it for b
        tables.add(auth: a, sets: [setA])
        tables.add(auth: b, sets: [setB])
        tables.add(auth: b, sets: [setB])  // twice is still one member
        var expected = setA
        expected.privateIdentities = [a.impi, b.impi]
        #expect(tables.registrationSet(impu: "sip:650551@example.com") == expected)
        #expect(tables.registrationSet(impu: "sip:650552@example.com") == nil)
        #expect(tables.registrationSetCount == 1)
    }

    @Test func anIdentityInTwoSetsResolvesToTheLastInserted() {
        let cache = HSSCache()
        let a = RegistrationSet(id: 1, publicIdentities: ["sip:x@h", "sip:a@h"], privateIdentities: ["a"])
        let b = RegistrationSet(id: 2, publicIdentities: ["sip:x@h", "sip:b@h"], privateIdentities: ["b"])
        cache.update(auth: nil, impi: "a", sets: [a])
        cache.update(auth: nil, impi: "b", sets: [b])
        #expect(cache.registrationSet(impu: "sip:x@h")?.id == 2)
        cache.remove(setID: 1)  // does not take x from b
        #expect(cache.registrationSet(impu: "sip:x@h")?.id == 2)
        cache.update(auth: nil, impi: "a", sets: [a])
        #expect(cache.registrationSet(impu: "sip:x@h")?.id == 1)
        cache.remove(setID: 1)  // x was a's: now nobody's, as before
        #expect(cache.registrationSet(impu: "sip:x@h") == nil)
        #expect(cache.registrationSet(impu: "sip:b@h")?.id == 2)
    }

    @Test func everyKeyCollidingStillWorks() {
        // One hash bit: every key lands in the same bucket with the same control tag, so every probe
        // compares keys, across deletes (tombstones) and rebuilds.
        var tables = SubscriberTables(hashBits: 1, compactionFloor: 0)
        let model = ReferenceDirectory()
        for round in 0..<3 {
            for n in 0..<300 {
                let (auth, set) = subscriber(n)
                tables.update(auth: auth, impi: auth.impi, sets: [set])
                model.update(auth: auth, impi: auth.impi, sets: [set])
            }
            for n in stride(from: round, to: 300, by: 2) {
                tables.update(auth: nil, impi: subscriber(n).0.impi, sets: [])
                model.update(auth: nil, impi: subscriber(n).0.impi, sets: [])
            }
            for n in 0..<301 {
                let (auth, set) = subscriber(n)
                #expect(tables.authInfo(impi: auth.impi) == model.authInfo(impi: auth.impi))
                for impu in set.publicIdentities {
                    #expect(tables.registrationSet(impu: impu) == model.registrationSet(impu: impu))
                }
            }
            #expect(tables.publicIdentityCount == model.setByIMPU.count)
        }
    }

    @Test func churnKeepsMemoryBounded() {
        var tables = SubscriberTables()
        let count = 10_000
        var peaks: [Int] = []
        for round in 0..<8 {
            for n in 0..<count {
                let (auth, set) = subscriber(round * count + n)
                tables.update(auth: auth, impi: auth.impi, sets: [set])
            }
            // Garbage stays under a third of the arena (or the floor below which compaction waits).
            #expect(tables.garbageBytes * 3 <= tables.arenaBytes || tables.garbageBytes <= 256 * 1024)
            peaks.append(tables.footprint)
            for n in 0..<count {
                tables.update(auth: nil, impi: subscriber(round * count + n).0.impi, sets: [])
            }
            #expect(tables.privateIdentityCount == 0)
            #expect(tables.publicIdentityCount == 0)
            #expect(tables.registrationSetCount == 0)
            #expect(tables.privateIdentityEntryCount == 0)
            #expect(tables.arenaBytes == tables.garbageBytes)
        }
        // Round after round of 10k in, 10k out: memory does not grow with the number of rounds.
        #expect(peaks.dropFirst(2).allSatisfy { $0 <= peaks[1] * 3 / 2 }, "\(peaks)")
        #expect(tables.footprint < 8 * 1024 * 1024)
    }

    @Test func aTypicalSubscriberCostsUnder250Bytes() {
        var tables = SubscriberTables()
        let count = 100_000
        tables.reserve(privateIdentities: count, sets: count)
        for n in 0..<count {
            let (auth, set) = subscriber(1_000_000 + n)
            tables.add(auth: auth, sets: [set])
        }
        let perSubscriber = tables.bytesInUse / count
        #expect(perSubscriber <= 250, "\(perSubscriber) bytes per subscriber")
        let (auth, set) = subscriber(1_000_000 + 4242)
        #expect(tables.authInfo(impi: auth.impi) == auth)
        #expect(tables.registrationSet(impu: "tel:+1-650-551-004242") == set)
    }
}
