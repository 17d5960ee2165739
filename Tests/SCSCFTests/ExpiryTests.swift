import Testing
import SIPCore
@testable import SCSCF

@Suite("ExpiryQueue")
struct ExpiryQueueTests {
    @Test func popsInDeadlineOrderOnlyWhenDue() {
        var q = ExpiryQueue()
        #expect(q.peekDeadline == nil)
        #expect(q.popDue(now: .max) == nil)
        for d: Int64 in [50, 10, 40, 10, 30, 20] { q.push(deadline: d, aor: "a", key: "k\(d)") }
        #expect(q.count == 6)
        #expect(q.peekDeadline == 10)
        #expect(q.popDue(now: 9) == nil)
        #expect(q.popDue(now: 10)?.deadline == 10)
        #expect(q.popDue(now: 10)?.deadline == 10)
        #expect(q.popDue(now: 10) == nil)
        #expect(q.popDue(now: 100)?.deadline == 20)
        #expect(q.pop()?.deadline == 30)
        #expect(q.count == 2)
        q.removeAll()
        #expect(q.isEmpty)
        #expect(q.pop() == nil)
    }

    @Test(arguments: [UInt64(1), 2, 3, 42, 0xDEAD_BEEF])
    func heapPropertyWithRandomPushesAndPops(seed: UInt64) {
        var rng = SeededRNG(seed: seed)
        var q = ExpiryQueue()
        var model: [Int64] = []
        for round in 0..<2000 {
            if model.isEmpty || Int.random(in: 0..<3, using: &rng) > 0 {
                let d = Int64.random(in: 0..<500, using: &rng)
                q.push(deadline: d, aor: "a\(round)", key: "k")
                model.append(d)
            } else {
                let now = Int64.random(in: 0..<500, using: &rng)
                let popped = q.popDue(now: now)
                let smallest = model.min()!
                if smallest <= now {
                    #expect(popped?.deadline == smallest)
                    model.remove(at: model.firstIndex(of: smallest)!)
                } else {
                    #expect(popped == nil)
                }
            }
            #expect(q.peekDeadline == model.min())
            #expect(q.count == model.count)
        }
        var drained: [Int64] = []
        while let e = q.popDue(now: .max) { drained.append(e.deadline) }
        #expect(drained == model.sorted())
    }
}

@Suite("Registrar: expiry")
struct RegistrarExpiryTests {
    let t0: Int64 = 7_000_000

    @Test func expireRemovesExactlyTheDueBindings() throws {
        var h = Harness()
        try h.register(["<sip:alice@10.0.0.1>;expires=60", "<sip:alice@10.0.0.2>;expires=120", "<sip:alice@10.0.0.3>;expires=180"],
                       cseq: 1, now: t0)
        try h.register(["<sip:bob@10.0.0.4>;expires=120"], cseq: 1, now: t0, aor: "sip:bob@ims.example.com")
        #expect(h.registrar.nextExpiry == t0 + 60)
        #expect(h.registrar.expire(now: t0 + 59).isEmpty)
        // Not yet collected, but no longer offered either: a binding is live strictly before its deadline.
        #expect(h.bindings(t0 + 60).count == 2)

        let first = h.registrar.expire(now: t0 + 60)
        #expect(first.map(\.aor) == [Reg.aor])
        #expect(first.first?.uris == ["sip:alice@10.0.0.1"])
        #expect(h.registrar.bindingCount == 3)
        #expect(h.registrar.nextExpiry == t0 + 120)

        let second = h.registrar.expire(now: t0 + 150)
        #expect(second.map(\.aor) == [Reg.aor, "sip:bob@ims.example.com"])
        #expect(second.allSatisfy { $0.events == [.expired] })
        #expect(h.registrar.aorCount == 1)
        #expect(h.registrar.nextExpiry == t0 + 180)

        let third = h.registrar.expire(now: t0 + 10_000)
        #expect(third.first?.uris == ["sip:alice@10.0.0.3"])
        #expect(h.registrar.aorCount == 0)
        #expect(h.registrar.bindingCount == 0)
        #expect(h.registrar.nextExpiry == nil)
        #expect(h.registrar.expiryQueue.isEmpty)
    }

    @Test func refreshedBindingIsNotExpiredByItsStaleEntry() throws {
        var h = Harness()
        try h.register(["<sip:alice@10.0.0.1>"], expires: "60", cseq: 1, now: t0)
        try h.register(["<sip:alice@10.0.0.1>"], expires: "60", cseq: 2, now: t0 + 30)
        #expect(h.registrar.nextExpiry == t0 + 90)
        #expect(h.registrar.expire(now: t0 + 60).isEmpty)
        #expect(h.bindings(t0 + 60).map(\.expiresAt) == [t0 + 90])
        #expect(h.registrar.expire(now: t0 + 90).first?.events == [.expired])
        #expect(h.registrar.nextExpiry == nil)
    }

    @Test func shortenedBindingExpiresAtItsNewDeadline() throws {
        var h = Harness()
        try h.register(["<sip:alice@10.0.0.1>"], expires: "300", cseq: 1, now: t0)
        try h.register(["<sip:alice@10.0.0.1>"], expires: "30", cseq: 2, now: t0 + 10)
        #expect(h.registrar.nextExpiry == t0 + 40)
        #expect(h.registrar.expire(now: t0 + 40).first?.uris == ["sip:alice@10.0.0.1"])
        #expect(h.registrar.nextExpiry == nil)
        #expect(h.registrar.expire(now: t0 + 300).isEmpty)
    }

    @Test func removedThenReRegisteredWithTheSameDeadline() throws {
        var h = Harness()
        try h.register(["<sip:alice@10.0.0.1>"], expires: "60", cseq: 1, now: t0)
        try h.register(["<sip:alice@10.0.0.1>"], expires: "0", cseq: 2, now: t0)
        #expect(h.registrar.nextExpiry == nil)
        try h.register(["<sip:alice@10.0.0.1>"], expires: "60", cseq: 3, now: t0)
        #expect(h.registrar.nextExpiry == t0 + 60)
        let gone = h.registrar.expire(now: t0 + 60)
        #expect(gone.first?.changes.count == 1)
        #expect(h.registrar.bindingCount == 0)
    }

    @Test func nextExpiryFollowsRemovals() throws {
        var h = Harness()
        try h.register(["<sip:alice@10.0.0.1>;expires=60", "<sip:alice@10.0.0.2>;expires=120"], cseq: 1, now: t0)
        #expect(h.registrar.nextExpiry == t0 + 60)
        try h.register(["<sip:alice@10.0.0.1>;expires=0"], cseq: 2, now: t0 + 1)
        #expect(h.registrar.nextExpiry == t0 + 120)
        _ = h.registrar.removeAll(aor: Reg.aor, now: t0 + 2)
        #expect(h.registrar.nextExpiry == nil)
    }

    @Test func queueDoesNotGrowWithRefreshes() throws {
        var h = Harness(policy: RegistrarPolicy(maxExpires: 3600))
        try h.register(["<sip:alice@10.0.0.1>", "<sip:alice@10.0.0.2>", "<sip:alice@10.0.0.3>"], expires: "3600", cseq: 1, now: t0)
        for i in 1...1000 {
            // One contact refreshed every second (a stale entry each time); queries touch nothing.
            try h.register(["<sip:alice@10.0.0.1>"], expires: "3600", cseq: UInt32(i + 1), now: t0 + Int64(i))
            try h.register([], callID: "query-\(i)", cseq: 1, now: t0 + Int64(i))
        }
        #expect(h.registrar.bindingCount == 3)
        #expect(h.registrar.expiryQueue.count <= 2 * 3 + 64 + 1)
        #expect(h.registrar.nextExpiry == t0 + 3600)
        let expired = h.registrar.expire(now: t0 + 3600)
        #expect(expired.first?.uris == ["sip:alice@10.0.0.2", "sip:alice@10.0.0.3"])
        #expect(h.registrar.nextExpiry == t0 + 1000 + 3600)
    }

    @Test(arguments: [UInt64(7), 99, 12345])
    func manyBindingsInRandomOrder(seed: UInt64) throws {
        var rng = SeededRNG(seed: seed)
        var registrar = Registrar(policy: RegistrarPolicy(maxExpires: 3600, maxBindingsPerAoR: 50))
        var deadlines: [String: Int64] = [:]   // "aor|uri" → deadline
        for n in 0..<400 {
            let aor = "sip:user\(Int.random(in: 0..<40, using: &rng))@ims.example.com"
            let uri = "sip:ue\(n)@10.1.\(n / 256).\(n % 256)"
            let expires = Int.random(in: 1...3600, using: &rng)
            let request = try Reg.request(contacts: ["<\(uri)>;expires=\(expires)"], callID: "c\(n)@ue")
            _ = try registrar.register(request, aor: aor, now: t0)
            deadlines["\(aor)|\(uri)"] = t0 + Int64(expires)
        }
        // Refresh a random quarter (new deadlines, stale queue entries left behind).
        for (name, _) in deadlines.sorted(by: { $0.key < $1.key }) where Int.random(in: 0..<4, using: &rng) == 0 {
            let parts = name.split(separator: "|").map(String.init)
            let expires = Int.random(in: 1...3600, using: &rng)
            let request = try Reg.request(contacts: ["<\(parts[1])>;expires=\(expires)"], callID: "refresh@ue")
            _ = try registrar.register(request, aor: parts[0], now: t0 + 1)
            deadlines[name] = t0 + 1 + Int64(expires)
        }
        var now = t0 + 1
        var remaining = deadlines
        while !remaining.isEmpty {
            let next = try #require(registrar.nextExpiry)
            #expect(next == remaining.values.min())
            now = max(now, next) + Int64.random(in: 0..<30, using: &rng)
            let due = Set(remaining.filter { $0.value <= now }.keys)
            let changes = registrar.expire(now: now)
            var got = Set<String>()
            for change in changes {
                for (event, binding) in change.changes {
                    #expect(event == .expired)
                    #expect(binding.expiresAt <= now)
                    got.insert("\(change.aor)|\(binding.contactURI)")
                }
            }
            #expect(got == due)
            #expect(changes.map(\.aor) == changes.map(\.aor).sorted())
            for name in due { remaining[name] = nil }
            #expect(registrar.bindingCount == remaining.count)
        }
        #expect(registrar.nextExpiry == nil)
        #expect(registrar.aorCount == 0)
    }
}

@Suite("Registrar: restore / removeFlow / removeAll")
struct MaintenanceTests {
    let t0: Int64 = 8_000_000

    func key(_ contact: String) throws -> String {
        Registrar.bindingKey(try Reg.request(contacts: [contact]).contacts[0])
    }

    @Test func restoreSkipsExpiredAndDuplicates() throws {
        var r = Registrar()
        let live1 = makeBinding(key: try key("<sip:alice@10.0.0.1>"), uri: "sip:alice@10.0.0.1", expiresAt: t0 + 100)
        let live2 = makeBinding(key: try key("<sip:alice@10.0.0.2>"), uri: "sip:alice@10.0.0.2", expiresAt: t0 + 50)
        let dead = makeBinding(key: try key("<sip:alice@10.0.0.3>"), uri: "sip:alice@10.0.0.3", expiresAt: t0)
        var dup = live1
        dup.expiresAt = t0 + 999
        r.restore(aor: Reg.aor, bindings: [live1, dead, live2, dup], now: t0)
        #expect(r.bindings(for: Reg.aor, now: t0) == [live1, live2])
        #expect(r.bindingCount == 2)
        #expect(r.nextExpiry == t0 + 50)
        // Restoring again adds nothing.
        r.restore(aor: Reg.aor, bindings: [live1, live2], now: t0)
        #expect(r.bindingCount == 2)
        // Only expired ones: no AoR appears.
        r.restore(aor: "sip:bob@ims.example.com", bindings: [dead], now: t0)
        #expect(r.aorCount == 1)
        // A REGISTER refreshes a restored binding (same key), and restored bindings expire on time.
        let request = try Reg.request(contacts: ["<sip:alice@10.0.0.1>"], expires: "200", callID: "other@ue")
        let change = try r.register(request, aor: Reg.aor, now: t0 + 1)
        #expect(change.events == [.refreshed])
        #expect(change.changes.first?.binding.registeredAt == live1.registeredAt)
        #expect(r.expire(now: t0 + 50).first?.uris == ["sip:alice@10.0.0.2"])
        #expect(r.nextExpiry == t0 + 201)
    }

    @Test func removeFlowTakesOnlyOutboundBindingsOfThatFlow() throws {
        var h = Harness()
        let i1 = Reg.instance1, i2 = Reg.instance2
        try h.register(["<sip:alice@10.0.0.1;transport=tcp>;+sip.instance=\"\(i1)\";reg-id=1"], callID: "a1", cseq: 1, now: t0, flow: "tcp:X")
        try h.register(["<sip:alice@10.0.0.1;transport=tcp>;+sip.instance=\"\(i1)\";reg-id=2"], callID: "a2", cseq: 1, now: t0, flow: "tcp:Y")
        try h.register(["<sip:alice@10.0.0.5>"], callID: "a3", cseq: 1, now: t0, flow: "tcp:X")               // plain RFC 3261
        try h.register(["<sip:alice@10.0.0.6>;+sip.instance=\"\(i2)\""], callID: "a4", cseq: 1, now: t0, flow: "tcp:X") // GRUU, no reg-id
        try h.register(["<sip:bob@10.0.0.7;transport=tcp>;+sip.instance=\"\(i2)\";reg-id=1"], callID: "b1", cseq: 1, now: t0,
                       flow: "tcp:X", aor: "sip:bob@ims.example.com")
        try h.register(["<sip:carol@10.0.0.8>;+sip.instance=\"\(i2)\";reg-id=1"], callID: "c1", cseq: 1, now: t0,
                       flow: "tcp:Z", aor: "sip:carol@ims.example.com")

        #expect(h.registrar.removeFlow("tcp:nowhere", now: t0 + 1).isEmpty)
        let changes = h.registrar.removeFlow("tcp:X", now: t0 + 1)
        try #require(changes.map(\.aor) == [Reg.aor, "sip:bob@ims.example.com"])
        try #require(changes.allSatisfy { $0.events == [.deactivated] })
        #expect(changes[0].changes[0].binding.regID == 1)
        #expect(h.bindings(t0 + 1).map(\.contactURI) == ["sip:alice@10.0.0.1;transport=tcp", "sip:alice@10.0.0.5", "sip:alice@10.0.0.6"])
        #expect(h.bindings(t0 + 1).first?.regID == 2)
        #expect(h.bindings(t0 + 1, aor: "sip:bob@ims.example.com").isEmpty)
        #expect(h.registrar.aorCount == 2)
        #expect(h.registrar.bindingCount == 4)
    }

    @Test func removeAllReportsAndForgets() throws {
        var h = Harness()
        try h.register(["<sip:alice@10.0.0.1>", "<sip:alice@10.0.0.2>"], cseq: 1, now: t0)
        try h.register(["<sip:bob@10.0.0.3>;expires=30"], cseq: 1, now: t0, aor: "sip:bob@ims.example.com")
        let change = h.registrar.removeAll(aor: Reg.aor, now: t0 + 1)
        #expect(change.events == [.deactivated, .deactivated])
        #expect(change.uris == ["sip:alice@10.0.0.1", "sip:alice@10.0.0.2"])
        #expect(h.registrar.aorCount == 1)
        #expect(h.registrar.nextExpiry == t0 + 30)
        let custom = h.registrar.removeAll(aor: "sip:bob@ims.example.com", now: t0 + 2, event: .unregistered)
        #expect(custom.events == [.unregistered])
        #expect(h.registrar.removeAll(aor: "sip:nobody@ims.example.com", now: t0).isEmpty)
        #expect(h.registrar.aorCount == 0)
        #expect(h.registrar.nextExpiry == nil)
        // Re-registering after a removal is a fresh binding.
        let again = try h.register(["<sip:alice@10.0.0.1>"], cseq: 1, now: t0 + 3)
        #expect(again.events == [.registered])
        #expect(again.changes.first?.binding.registeredAt == t0 + 3)
    }
}
