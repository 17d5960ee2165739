import Testing
@testable import DigestAuth

@Suite("Nonces and opaque")
struct NonceTests {
    let realm = "ims.example.com"
    let t0: UInt64 = 1_700_000_000

    func manager(lifetime: UInt64 = 300) throws -> NonceManager {
        try NonceManager(secret: testSecret, lifetime: lifetime)
    }

    @Test("Issue then validate: format, valid within lifetime, issuedAt carried")
    func issueValidate() throws {
        let m = try manager()
        let nonce = m.issue(realm: realm, now: t0)
        #expect(nonce.utf8.count == NonceManager.nonceLength)
        #expect(nonce.utf8.allSatisfy { AuthGrammar.isTokenByte($0) })  // safe bare or quoted
        #expect(m.validate(nonce, realm: realm, now: t0) == .valid(issuedAt: t0))
        #expect(m.validate(nonce, realm: realm, now: t0 + 299) == .valid(issuedAt: t0))
        #expect(m.validate(nonce, realm: realm, now: t0 + 300) == .valid(issuedAt: t0))
    }

    /// Fixed values computed outside Swift from the documented construction (HMAC-SHA256 with the derived
    /// keys): nonces and opaques stay the same bytes however the MACs are computed, so nonces issued before
    /// an upgrade still validate after it.
    @Test("Wire format pinned: nonce and opaque bytes from the documented construction")
    func pinnedWireFormat() throws {
        struct Fixed: RandomNumberGenerator {
            var values: [UInt64] = [0x0102_0304_0506_0708, 0x1112_1314_1516_1718]
            mutating func next() -> UInt64 { values.removeFirst() }
        }
        let m = try manager()
        var g = Fixed()
        let plain = m.issue(realm: realm, now: t0, using: &g)
        #expect(plain == "AAAAAGVT8QAIBwYFBAMCARgXFhWDGxRfgA6yGg9fhsyYVvMg")
        g = Fixed()
        let bound = m.issue(realm: realm, now: t0, binding: Array("sip:alice@ims.example.com".utf8), using: &g)
        #expect(bound == "AAAAAGVT8QAIBwYFBAMCARgXFhVBezsr5DmwIPQaUqSjt45P")
        #expect(m.opaque(realm: realm) == "g4H9Y7C3T_3TwzU5WumwEFVt")
        // The keyed HMAC states are reused: many MACs in a row stay right.
        for _ in 0..<3 {
            #expect(m.validate(plain, realm: realm, now: t0) == .valid(issuedAt: t0))
            #expect(m.validate(bound, realm: realm, now: t0, binding: Array("sip:alice@ims.example.com".utf8)) == .valid(issuedAt: t0))
            #expect(m.validate(bound, realm: realm, now: t0) == .invalid)
            #expect(m.isValidOpaque("g4H9Y7C3T_3TwzU5WumwEFVt", realm: realm))
            #expect(!m.isValidOpaque("g4H9Y7C3T_3TwzU5WumwEFVt", realm: "other.example.com"))
        }
    }

    @Test("Nonces are unique")
    func unique() throws {
        let m = try manager()
        var seen: Set<String> = []
        for _ in 0..<1000 { seen.insert(m.issue(realm: realm, now: t0)) }
        #expect(seen.count == 1000)
    }

    @Test("Expired nonce is stale; configurable lifetime; future-dated beyond skew is stale")
    func expiry() throws {
        let m = try manager()
        let nonce = m.issue(realm: realm, now: t0)
        #expect(m.validate(nonce, realm: realm, now: t0 + 301) == .stale(issuedAt: t0))
        #expect(m.validate(nonce, realm: realm, now: t0 + 100_000) == .stale(issuedAt: t0))
        let short = try manager(lifetime: 30)
        let n2 = short.issue(realm: realm, now: t0)
        #expect(short.validate(n2, realm: realm, now: t0 + 30) == .valid(issuedAt: t0))
        #expect(short.validate(n2, realm: realm, now: t0 + 31) == .stale(issuedAt: t0))
        // Clock stepped back after issuing.
        #expect(m.validate(nonce, realm: realm, now: t0 - 5) == .valid(issuedAt: t0))
        #expect(m.validate(nonce, realm: realm, now: t0 - 6) == .stale(issuedAt: t0))
        #expect(m.validate(nonce, realm: realm, now: 0) == .stale(issuedAt: t0))
        #expect(NonceManager.defaultLifetime == 300)
    }

    @Test("Restart-proof: another manager with the same secret accepts; another secret does not")
    func restart() throws {
        let nonce = try manager().issue(realm: realm, now: t0)
        #expect(try manager().validate(nonce, realm: realm, now: t0 + 10) == .valid(issuedAt: t0))
        let other = try NonceManager(secret: Array("another secret of 32 bytes......".utf8))
        #expect(other.validate(nonce, realm: realm, now: t0 + 10) == .invalid)
    }

    @Test("Secret rotation: previous secrets still validate, new nonces use the new secret")
    func rotation() throws {
        let oldSecret = Array("old secret old secret old secret".utf8)
        let old = try NonceManager(secret: oldSecret)
        let rotated = try NonceManager(secret: testSecret, previousSecrets: [oldSecret])
        let n = old.issue(realm: realm, now: t0)
        #expect(rotated.validate(n, realm: realm, now: t0) == .valid(issuedAt: t0))
        #expect(rotated.isValidOpaque(old.opaque(realm: realm), realm: realm))
        let fresh = rotated.issue(realm: realm, now: t0)
        #expect(try manager().validate(fresh, realm: realm, now: t0) == .valid(issuedAt: t0))
        #expect(old.validate(fresh, realm: realm, now: t0) == .invalid)
    }

    @Test("Short secrets are refused")
    func shortSecret() {
        #expect(throws: NonceManager.ConfigurationError.secretTooShort) { try NonceManager(secret: []) }
        #expect(throws: NonceManager.ConfigurationError.secretTooShort) { try NonceManager(secret: Array("15 bytes secret".utf8)) }
        #expect(throws: NonceManager.ConfigurationError.secretTooShort) {
            try NonceManager(secret: testSecret, previousSecrets: [[1, 2, 3]])
        }
        #expect((try? NonceManager(secret: Array("16 bytes secret!".utf8))) != nil)
    }

    @Test("Bound to realm and binding")
    func binding() throws {
        let m = try manager()
        let n = m.issue(realm: realm, now: t0, binding: Array("sip:alice@ims.example.com".utf8))
        #expect(m.validate(n, realm: realm, now: t0, binding: Array("sip:alice@ims.example.com".utf8)) == .valid(issuedAt: t0))
        #expect(m.validate(n, realm: realm, now: t0, binding: Array("sip:bob@ims.example.com".utf8)) == .invalid)
        #expect(m.validate(n, realm: realm, now: t0) == .invalid)
        #expect(m.validate(n, realm: "other.example.com", now: t0, binding: Array("sip:alice@ims.example.com".utf8)) == .invalid)
        // Realm/binding boundaries are length-prefixed: moving bytes between them changes the MAC.
        let a = m.issue(realm: "ab", now: t0, binding: Array("c".utf8))
        #expect(m.validate(a, realm: "a", now: t0, binding: Array("bc".utf8)) == .invalid)
    }

    @Test("Forged, tampered, truncated and garbage nonces are invalid")
    func forged() throws {
        let m = try manager()
        let nonce = m.issue(realm: realm, now: t0)
        var chars = Array(nonce.utf8)
        // Flip every position in turn (timestamp, random and MAC bytes).
        for i in chars.indices {
            let original = chars[i]
            chars[i] = original == UInt8(ascii: "A") ? UInt8(ascii: "B") : UInt8(ascii: "A")
            #expect(m.validate(String(decoding: chars, as: UTF8.self), realm: realm, now: t0) == .invalid)
            chars[i] = original
        }
        #expect(m.validate(String(nonce.dropLast()), realm: realm, now: t0) == .invalid)
        #expect(m.validate(String(nonce.dropLast(4)), realm: realm, now: t0) == .invalid)
        #expect(m.validate(nonce + "AAAA", realm: realm, now: t0) == .invalid)
        #expect(m.validate("", realm: realm, now: t0) == .invalid)
        #expect(m.validate(String(repeating: "A", count: 48), realm: realm, now: t0) == .invalid)
        #expect(m.validate(String(repeating: "=", count: 48), realm: realm, now: t0) == .invalid)
        #expect(m.validate(String(repeating: "\u{e9}", count: 24), realm: realm, now: t0) == .invalid)
        #expect(m.validate("dcd98b7102dd2f0e8b11d0f600bfb0c093", realm: realm, now: t0) == .invalid)
        #expect(m.validate(String(repeating: "x", count: 1_000_000), realm: realm, now: t0) == .invalid)

        // A forger who knows the format but not the secret: a fresh timestamp with a recomputed layout.
        var rng = SeededGenerator(seed: 7)
        for _ in 0..<200 {
            var raw: [UInt8] = []
            for i in 0..<8 { raw.append(UInt8(truncatingIfNeeded: t0 >> UInt64(56 - 8 * i))) }
            for _ in 0..<28 { raw.append(UInt8(truncatingIfNeeded: rng.next())) }
            #expect(m.validate(Base64URL.encode(raw), realm: realm, now: t0) == .invalid)
        }
    }

    @Test("Deterministic with an injected generator")
    func seeded() throws {
        let m = try manager()
        var a = SeededGenerator(seed: 1)
        var b = SeededGenerator(seed: 1)
        let n1 = m.issue(realm: realm, now: t0, using: &a)
        let n2 = m.issue(realm: realm, now: t0, using: &b)
        #expect(n1 == n2)
        #expect(m.validate(n1, realm: realm, now: t0) == .valid(issuedAt: t0))
        #expect(m.issue(realm: realm, now: t0, using: &a) != n1)
    }

    @Test("Opaque: fixed per server and realm, checkable")
    func opaque() throws {
        let m = try manager()
        let o = m.opaque(realm: realm)
        #expect(o.utf8.count == 24)
        #expect(o == (try manager()).opaque(realm: realm))
        #expect(o != m.opaque(realm: "other.example.com"))
        #expect(m.isValidOpaque(o, realm: realm))
        #expect(!m.isValidOpaque(o, realm: "other.example.com"))
        #expect(!m.isValidOpaque("", realm: realm))
        #expect(!m.isValidOpaque(String(o.dropLast()) + (o.hasSuffix("A") ? "B" : "A"), realm: realm))
        #expect(!m.isValidOpaque("5ccc069c403ebaf9f0171e9517f40e41", realm: realm))
        let other = try NonceManager(secret: Array("another secret of 32 bytes......".utf8))
        #expect(!other.isValidOpaque(o, realm: realm))
    }

    @Test("base64url: round trip every length, strict decoding")
    func base64url() {
        var rng = SeededGenerator(seed: 3)
        for n in 0..<40 {
            let bytes = (0..<n).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
            let s = Base64URL.encode(bytes)
            #expect(!s.contains("=") && !s.contains("+") && !s.contains("/"))
            #expect(Base64URL.decode(s) == bytes)
        }
        #expect(Base64URL.encode(Array("f".utf8)) == "Zg")
        #expect(Base64URL.encode(Array("foobar".utf8)) == "Zm9vYmFy")
        #expect(Base64URL.encode([0xFB, 0xFF]) == "-_8")
        #expect(Base64URL.decode("Zh") == nil)  // non-zero trailing bits
        #expect(Base64URL.decode("Z") == nil)
        #expect(Base64URL.decode("Zg==") == nil)
        #expect(Base64URL.decode("Z+8") == nil)
    }
}

@Suite("Nonce-count replay tracker")
struct NonceCountTrackerTests {
    let t0: UInt64 = 1_700_000_000

    @Test("nc must strictly increase per nonce")
    func strictlyIncreasing() {
        var t = NonceCountTracker()
        #expect(t.check(nonce: "A", issuedAt: t0, nonceCount: 1, now: t0) == .accepted)
        #expect(t.check(nonce: "A", issuedAt: t0, nonceCount: 1, now: t0) == .replay)
        #expect(t.check(nonce: "A", issuedAt: t0, nonceCount: 2, now: t0) == .accepted)
        #expect(t.check(nonce: "A", issuedAt: t0, nonceCount: 5, now: t0) == .accepted)  // gaps allowed
        #expect(t.check(nonce: "A", issuedAt: t0, nonceCount: 4, now: t0) == .replay)
        #expect(t.check(nonce: "A", issuedAt: t0, nonceCount: 5, now: t0) == .replay)
        #expect(t.check(nonce: "B", issuedAt: t0, nonceCount: 1, now: t0) == .accepted)  // per nonce
        #expect(t.check(nonce: "C", issuedAt: t0, nonceCount: 0, now: t0) == .replay)
        #expect(t.check(nonce: "A", issuedAt: t0, nonceCount: 0, now: t0) == .replay)
        #expect(t.count == 2)
    }

    @Test("Without qop a nonce is single-use")
    func noQop() {
        var t = NonceCountTracker()
        #expect(t.check(nonce: "A", issuedAt: t0, nonceCount: nil, now: t0) == .accepted)
        #expect(t.check(nonce: "A", issuedAt: t0, nonceCount: nil, now: t0) == .replay)
        #expect(t.check(nonce: "A", issuedAt: t0, nonceCount: 7, now: t0) == .replay)
    }

    @Test("Bounded: capacity evicts the oldest, evicted nonces cannot come back")
    func capacity() {
        var t = NonceCountTracker(capacity: 3)
        for (i, n) in ["A", "B", "C"].enumerated() {
            #expect(t.check(nonce: n, issuedAt: t0 + UInt64(i), nonceCount: 1, now: t0 + 3) == .accepted)
        }
        #expect(t.count == 3)
        #expect(t.check(nonce: "D", issuedAt: t0 + 3, nonceCount: 1, now: t0 + 3) == .accepted)
        #expect(t.count == 3)
        // A was evicted: replaying it with its first nc must not be accepted again.
        #expect(t.check(nonce: "A", issuedAt: t0, nonceCount: 1, now: t0 + 3) == .replay)
        #expect(t.check(nonce: "A", issuedAt: t0, nonceCount: 2, now: t0 + 3) == .replay)
        // Still-tracked ones behave normally.
        #expect(t.check(nonce: "C", issuedAt: t0 + 2, nonceCount: 2, now: t0 + 3) == .accepted)
        // A nonce issued after the evicted one is fine.
        #expect(t.check(nonce: "E", issuedAt: t0 + 4, nonceCount: 1, now: t0 + 4) == .accepted)

        var big = NonceCountTracker(capacity: 100)
        for i in 0..<10_000 {
            _ = big.check(nonce: "n\(i)", issuedAt: t0 + UInt64(i), nonceCount: 1, now: t0 + UInt64(i))
            #expect(big.count <= 100)
        }
        #expect(NonceCountTracker(capacity: 0).capacity == 1)
    }

    /// The bench's overload step: ~10,000 challenges a second, each answered up to 1.5 s later (queues
    /// under load), crossing second boundaries. The default capacity vouches for all of them; the old
    /// 10,000 slots turned over within the round trip and refused some as replays.
    @Test("A challenge round trip at 12,000 nonces/s is never taken for a replay")
    func roundTripsAtPeakRate() {
        func replays(capacity: Int) -> Int {
            var t = NonceCountTracker(capacity: capacity)
            // answers[j]: the challenges (by issue step) answered at step j, 0.5-1.5 s after they were issued.
            let rate = 12_000, steps = 12_000 * 10
            var answers = [[Int]](repeating: [], count: steps)
            var refused = 0
            for k in 0..<steps {
                let at = k + rate / 2 + (k % 11) * rate / 10
                if at < steps { answers[at].append(k) }
                for i in answers[k] {
                    let issuedAt = t0 + UInt64(i / rate)
                    if t.check(nonce: "n\(i)", issuedAt: issuedAt, nonceCount: 1, now: t0 + UInt64(k / rate)) == .replay {
                        refused += 1
                    }
                }
            }
            return refused
        }
        #expect(replays(capacity: NonceCountTracker.defaultCapacity) == 0)
        #expect(replays(capacity: 10_000) > 0)
    }

    /// The ring grows with use up to its capacity, also after expiry has moved its head (wrapped): it
    /// behaves like a plain first-in-first-out list of the same capacity.
    @Test("Growing ring agrees with a simple FIFO model")
    func growingRingMatchesModel() {
        var rng = SeededGenerator(seed: 7)
        for capacity in [1, 2, 5, 16] {
            var t = NonceCountTracker(capacity: capacity, lifetime: 3)
            var model: [(nonce: String, issuedAt: UInt64, nc: UInt32)] = []
            var floor: UInt64? = nil
            var now = t0
            for i in 0..<2_000 {
                now += rng.next() % 3 == 0 ? 1 : 0
                // Model: expire, then look up / insert exactly as documented.
                while let first = model.first, first.issuedAt + 3 < now {
                    floor = max(floor ?? 0, first.issuedAt); model.removeFirst()
                }
                let reuse = !model.isEmpty && rng.next() % 3 == 0
                let nonce = reuse ? model[Int(rng.next() % UInt64(model.count))].nonce : "n\(i)"
                let issuedAt = reuse ? model.first { $0.nonce == nonce }!.issuedAt : now
                let nc = UInt32(rng.next() % 4 + 1)
                var expected = NonceCountCheck.replay
                if let k = model.firstIndex(where: { $0.nonce == nonce }) {
                    if nc > model[k].nc { model[k].nc = nc; expected = .accepted }
                } else if floor.map({ issuedAt > $0 }) ?? true {
                    if model.count == capacity { floor = max(floor ?? 0, model[0].issuedAt); model.removeFirst() }
                    model.append((nonce, issuedAt, nc))
                    expected = .accepted
                }
                #expect(t.check(nonce: nonce, issuedAt: issuedAt, nonceCount: nc, now: now) == expected, "capacity \(capacity) step \(i)")
                #expect(t.count == model.count)
            }
        }
    }

    @Test("Entries expire with the nonce lifetime")
    func expiry() {
        var t = NonceCountTracker(capacity: 10, lifetime: 300)
        #expect(t.check(nonce: "A", issuedAt: t0, nonceCount: 1, now: t0) == .accepted)
        #expect(t.check(nonce: "B", issuedAt: t0 + 200, nonceCount: 1, now: t0 + 200) == .accepted)
        #expect(t.count == 2)
        #expect(t.check(nonce: "C", issuedAt: t0 + 301, nonceCount: 1, now: t0 + 301) == .accepted)
        #expect(t.count == 2)  // A gone
        #expect(t.check(nonce: "A", issuedAt: t0, nonceCount: 2, now: t0 + 301) == .replay)
        #expect(t.check(nonce: "B", issuedAt: t0 + 200, nonceCount: 2, now: t0 + 301) == .accepted)
    }

    @Test("notBefore refuses nonces issued before a restart")
    func notBefore() {
        var t = NonceCountTracker(notBefore: t0)
        #expect(t.check(nonce: "A", issuedAt: t0 - 1, nonceCount: 1, now: t0) == .replay)
        #expect(t.check(nonce: "B", issuedAt: t0, nonceCount: 1, now: t0) == .accepted)
    }

    @Test("Over-long nonce keys are never stored")
    func longKey() {
        var t = NonceCountTracker()
        #expect(t.check(nonce: String(repeating: "x", count: 10_000), issuedAt: t0, nonceCount: 1, now: t0) == .replay)
        #expect(t.count == 0)
    }
}
