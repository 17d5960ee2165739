@testable import HSS
import IMSModel
import Testing

/// Reproducible randomness (SplitMix64).
struct SeededGenerator: RandomNumberGenerator {
    var state: UInt64
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// Random provisioning against the old Dictionary-based cache: after every operation both answer
/// every identity alike. Set ids own disjoint IMPUs (as the store's unique IMPUs guarantee), so the
/// model's own answers do not depend on its Dictionary order.
@Suite struct EquivalenceTests {
    static let impis = (0..<24).map { "user\($0)@example.com" }
    static let setIDs: [Int64] = Array(1...16) + [-5, 1 << 40]
    static let profiles: [String?] = [nil, "<ServiceProfile>a</ServiceProfile>", "<ServiceProfile>b</ServiceProfile>"]

    /// Every IMPU any version of the set may have, normalised.
    static func impuPool(_ id: Int64) -> [String] {
        (0..<4).map { "sip:s\(id)-\($0)@example.com" } + (0..<2).map { "tel:+1555\(id < 0 ? -id : id)0\($0)" }
    }

    /// Forms a client may write them in.
    static func queries(_ impu: String) -> [String] {
        if impu.hasPrefix("tel:") {
            let digits = impu.dropFirst(5)
            return [impu, "tel:+\(digits.prefix(2))-\(digits.dropFirst(2))", "<\(impu)>"]
        }
        return [impu, impu.replacing("example.com", with: "EXAMPLE.com") + ";transport=tcp", "<\(impu)>"]
    }

    static func randomAuth(_ impi: String, _ g: inout SeededGenerator) -> AuthInfo {
        func hex(_ n: Int) -> String { String((0..<n).map { _ in "0123456789abcdef".randomElement(using: &g)! }) }
        let md5: String = Int.random(in: 0..<8, using: &g) == 0 ? hex(32).uppercased() : hex(32)
        return AuthInfo(impi: impi, realm: ["example.com", "other.net"].randomElement(using: &g)!,
                        ha1MD5: md5, ha1SHA256: Bool.random(using: &g) ? hex(64) : nil,
                        userPartHA1MD5: Bool.random(using: &g) ? hex(32) : nil,
                        userPartHA1SHA256: Int.random(in: 0..<4, using: &g) == 0 ? "x" : nil)
    }

    static func randomSet(_ id: Int64, including impi: String?, _ g: inout SeededGenerator) -> RegistrationSet {
        let impus = Array(impuPool(id).shuffled(using: &g).prefix(Int.random(in: 1...4, using: &g)))
        let barred = Set(impus.filter { _ in Int.random(in: 0..<4, using: &g) == 0 })
        var members = Array(impis.shuffled(using: &g).prefix(Int.random(in: 0...2, using: &g)))
        if let impi { members.removeAll { $0 == impi }; members.insert(impi, at: Int.random(in: 0...members.count, using: &g)) }
        return RegistrationSet(id: id, publicIdentities: impus, barred: barred, privateIdentities: members,
                               serviceProfileXML: profiles.randomElement(using: &g)!)
    }

    static func randomSets(including impi: String?, _ g: inout SeededGenerator) -> [RegistrationSet] {
        let ids = setIDs.shuffled(using: &g).prefix([0, 1, 1, 1, 2, 3].randomElement(using: &g)!)
        return ids.map { randomSet($0, including: impi, &g) }
    }

    func check(_ tables: SubscriberTables, _ model: ReferenceDirectory, step: Int) {
        for impi in Self.impis {
            #expect(tables.authInfo(impi: impi) == model.authInfo(impi: impi), "step \(step) \(impi)")
        }
        for id in Self.setIDs {
            for impu in Self.impuPool(id) {
                for query in Self.queries(impu) {
                    #expect(tables.registrationSet(impu: query) == model.registrationSet(impu: query), "step \(step) \(query)")
                }
            }
        }
        #expect(tables.privateIdentityCount == model.auth.count)
        #expect(tables.publicIdentityCount == model.setByIMPU.count)
        #expect(tables.registrationSetCount == model.sets.count)
        #expect(tables.privateIdentityEntryCount == model.knownPrivateIdentities.count)
    }

    @Test(arguments: [(64, 1), (64, 2), (1, 3), (3, 4)])
    func randomOperationsMatchTheModel(hashBits: Int, seed: UInt64) {
        var g = SeededGenerator(state: seed)
        var tables = SubscriberTables(hashBits: hashBits, compactionFloor: 0)
        let model = ReferenceDirectory()
        for step in 0..<1500 {
            let impi = Self.impis.randomElement(using: &g)!
            switch Int.random(in: 0..<100, using: &g) {
            case 0..<45:
                let auth = Self.randomAuth(impi, &g)
                let sets = Self.randomSets(including: impi, &g)
                tables.update(auth: auth, impi: impi, sets: sets)
                model.update(auth: auth, impi: impi, sets: sets)
            case 45..<65:
                tables.update(auth: nil, impi: impi, sets: [])
                model.update(auth: nil, impi: impi, sets: [])
            case 65..<72:
                // Sets without credentials, or sets not naming the IMPI (edge cases the model allows).
                let sets = Self.randomSets(including: Bool.random(using: &g) ? impi : nil, &g)
                tables.update(auth: nil, impi: impi, sets: sets)
                model.update(auth: nil, impi: impi, sets: sets)
            case 72..<85:
                let auth = Self.randomAuth(impi, &g)
                let sets = Self.randomSets(including: impi, &g).map {
                    RegistrationSet(id: $0.id, publicIdentities: $0.publicIdentities, barred: $0.barred,
                                    privateIdentities: [impi], serviceProfileXML: $0.serviceProfileXML)
                }
                tables.add(auth: auth, sets: sets)
                model.add(auth: auth, sets: sets)
            case 85..<93:
                let id = Self.setIDs.randomElement(using: &g)!
                tables.remove(setID: id)
                model.remove(setID: id)
            case 93..<96:
                let auth = Self.impis.filter { _ in Bool.random(using: &g) }.map { Self.randomAuth($0, &g) }
                let sets = Self.setIDs.filter { _ in Bool.random(using: &g) }.map { Self.randomSet($0, including: nil, &g) }
                tables = SubscriberTables(hashBits: hashBits, compactionFloor: 0)
                tables.load(auth: auth, sets: sets)
                model.replaceAll(auth: auth, sets: sets)
            default:
                // Garbage accounting is exact: compaction keeps exactly the live bytes.
                let live = tables.arenaBytes - tables.garbageBytes
                tables.compact()
                #expect(tables.arenaBytes == live)
                #expect(tables.garbageBytes == 0)
            }
            check(tables, model, step: step)
        }
    }
}
