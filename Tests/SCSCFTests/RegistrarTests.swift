import Testing
import SIPCore
@testable import SCSCF

@Suite("Registrar: expiry rules (RFC 3261 §10.3 steps 6-7)")
struct ExpiryRuleTests {
    let t0: Int64 = 1_000_000

    @Test func contactParameterWinsOverExpiresHeader() throws {
        var h = Harness()
        try h.register(["<sip:alice@10.0.0.1>;expires=120"], expires: "60", cseq: 1, now: t0)
        #expect(h.bindings(t0).map(\.expiresAt) == [t0 + 120])
    }

    @Test func expiresHeaderWhenNoParameter() throws {
        var h = Harness()
        try h.register(["<sip:alice@10.0.0.1>", "<sip:alice@10.0.0.2>;expires=30"], expires: "60", cseq: 1, now: t0)
        #expect(h.binding("sip:alice@10.0.0.1", t0)?.expiresAt == t0 + 60)
        #expect(h.binding("sip:alice@10.0.0.2", t0)?.expiresAt == t0 + 30)
    }

    @Test func policyMaximumWhenNothingAsked() throws {
        var h = Harness(policy: RegistrarPolicy(maxExpires: 300))
        try h.register(["<sip:alice@10.0.0.1>"], cseq: 1, now: t0)
        #expect(h.bindings(t0).map(\.expiresAt) == [t0 + 300])
    }

    @Test func cappedAtMaximum() throws {
        var h = Harness(policy: RegistrarPolicy(maxExpires: 300))
        try h.register(["<sip:alice@10.0.0.1>", "<sip:alice@10.0.0.2>;expires=7200"], expires: "3600", cseq: 1, now: t0)
        #expect(h.bindings(t0).map(\.expiresAt) == [t0 + 300, t0 + 300])
        #expect(h.bindings(t0).map { $0.remaining(at: t0) } == [300, 300])
    }

    @Test func zeroRemovesByHeaderOrParameter() throws {
        var h = Harness()
        try h.register(["<sip:alice@10.0.0.1>", "<sip:alice@10.0.0.2>", "<sip:alice@10.0.0.3>"], cseq: 1, now: t0)
        let byHeader = try h.register(["<sip:alice@10.0.0.1>"], expires: "0", cseq: 2, now: t0 + 1)
        #expect(byHeader.events == [.unregistered])
        #expect(byHeader.uris == ["sip:alice@10.0.0.1"])
        let byParam = try h.register(["<sip:alice@10.0.0.2>;expires=0"], expires: "600", cseq: 3, now: t0 + 2)
        #expect(byParam.events == [.unregistered])
        #expect(h.bindings(t0 + 2).map(\.contactURI) == ["sip:alice@10.0.0.3"])
    }

    @Test func zeroForAnUnknownContactIsANoOp() throws {
        var h = Harness()
        try h.register(["<sip:alice@10.0.0.1>"], cseq: 1, now: t0)
        let change = try h.register(["<sip:alice@10.0.0.9>;expires=0"], cseq: 2, now: t0)
        #expect(change.isEmpty)
        #expect(h.registrar.bindingCount == 1)
    }

    @Test func belowMinimumIs423WithMinExpires() throws {
        var h = Harness(policy: RegistrarPolicy(maxExpires: 3600, minExpires: 60))
        let e = Reg.error { try h.register(["<sip:alice@10.0.0.1>"], expires: "30", cseq: 1, now: t0) }
        #expect(e?.status == 423)
        #expect(e?.reason == "Interval Too Brief")
        #expect(e?.headers == [SIPHeader(name: "Min-Expires", value: "60")])
        #expect(h.registrar.bindingCount == 0)
        #expect(h.registrar.nextExpiry == nil)
        // Exactly the minimum is fine; so is 0 (removal is never "too brief").
        try h.register(["<sip:alice@10.0.0.1>"], expires: "60", cseq: 2, now: t0)
        try h.register(["<sip:alice@10.0.0.1>"], expires: "0", cseq: 3, now: t0)
        #expect(h.registrar.bindingCount == 0)
    }

    @Test func tooBriefContactAbortsTheWholeRequest() throws {
        var h = Harness(policy: RegistrarPolicy(maxExpires: 3600, minExpires: 60))
        try h.register(["<sip:alice@10.0.0.1>"], expires: "600", cseq: 1, now: t0)
        let e = Reg.error {
            try h.register(["<sip:alice@10.0.0.2>", "<sip:alice@10.0.0.1>;expires=10"], expires: "600", cseq: 2, now: t0 + 5)
        }
        #expect(e?.status == 423)
        #expect(h.bindings(t0 + 5).map(\.contactURI) == ["sip:alice@10.0.0.1"])
        #expect(h.bindings(t0 + 5).first?.cseq == 1)
    }

    @Test func queryLeavesBindingsAlone() throws {
        var h = Harness()
        try h.register(["<sip:alice@10.0.0.1>"], cseq: 1, now: t0)
        let change = try h.register([], cseq: 2, now: t0 + 10)
        #expect(change.isEmpty)
        #expect(change.aor == Reg.aor)
        #expect(h.bindings(t0 + 10).map(\.expiresAt) == [t0 + 300])
    }
}

@Suite("Registrar: wildcard")
struct WildcardTests {
    let t0: Int64 = 2_000_000

    @Test func removesEveryBinding() throws {
        var h = Harness()
        try h.register(["<sip:alice@10.0.0.1>", "<sip:alice@10.0.0.2>"], callID: "first@ue", cseq: 5, now: t0)
        try h.register(["<sip:alice@10.0.0.3>"], callID: "other@ue", cseq: 1, now: t0)
        let change = try h.register(["*"], expires: "0", callID: "third@ue", cseq: 1, now: t0 + 10)
        #expect(change.events == [.unregistered, .unregistered, .unregistered])
        #expect(Set(change.uris) == ["sip:alice@10.0.0.1", "sip:alice@10.0.0.2", "sip:alice@10.0.0.3"])
        #expect(h.bindings(t0 + 10).isEmpty)
        #expect(h.registrar.aorCount == 0)
        #expect(h.registrar.bindingCount == 0)
        #expect(h.registrar.nextExpiry == nil)
        #expect(h.registrar.expire(now: t0 + 10_000).isEmpty)
    }

    @Test func sameCallIDNeedsAHigherCSeq() throws {
        var h = Harness()
        try h.register(["<sip:alice@10.0.0.1>"], callID: "c@ue", cseq: 5, now: t0)
        for stale: UInt32 in [4, 5] {
            let e = Reg.error { try h.register(["*"], expires: "0", callID: "c@ue", cseq: stale, now: t0 + 1) }
            #expect(e == RegistrarError(400, "CSeq Out Of Order"))
            #expect(h.bindings(t0 + 1).count == 1)
        }
        let change = try h.register(["*"], expires: "0", callID: "c@ue", cseq: 6, now: t0 + 1)
        #expect(change.events == [.unregistered])
        #expect(h.registrar.bindingCount == 0)
    }

    @Test func staleCSeqOnOneBindingAbortsForAll() throws {
        var h = Harness()
        try h.register(["<sip:alice@10.0.0.1>"], callID: "a@ue", cseq: 1, now: t0)
        try h.register(["<sip:alice@10.0.0.2>"], callID: "b@ue", cseq: 9, now: t0)
        #expect(Reg.error { try h.register(["*"], expires: "0", callID: "b@ue", cseq: 9, now: t0) }?.status == 400)
        #expect(h.bindings(t0).count == 2)
    }

    @Test func nothingRegisteredIsAnEmptyChange() throws {
        var h = Harness()
        let change = try h.register(["*"], expires: "0", cseq: 1, now: t0)
        #expect(change.isEmpty)
        #expect(h.registrar.aorCount == 0)
    }
}

@Suite("Registrar: Call-ID / CSeq ordering (RFC 3261 §10.3 step 8)")
struct OrderingTests {
    let t0: Int64 = 3_000_000

    @Test(arguments: [UInt32(9), 10])
    func sameCallIDLowerOrEqualCSeqIs400AndChangesNothing(cseq: UInt32) throws {
        var h = Harness()
        try h.register(["<sip:alice@10.0.0.1>"], expires: "100", callID: "c@ue", cseq: 10, now: t0)
        let before = h.bindings(t0)
        let e = Reg.error { try h.register(["<sip:alice@10.0.0.1>"], expires: "300", callID: "c@ue", cseq: cseq, now: t0 + 5) }
        #expect(e == RegistrarError(400, "CSeq Out Of Order"))
        #expect(h.bindings(t0) == before)
        let e0 = Reg.error { try h.register(["<sip:alice@10.0.0.1>"], expires: "0", callID: "c@ue", cseq: cseq, now: t0 + 5) }
        #expect(e0?.status == 400)
        #expect(h.bindings(t0) == before)
    }

    @Test func sameCallIDHigherCSeqUpdates() throws {
        var h = Harness()
        try h.register(["<sip:alice@10.0.0.1>"], expires: "100", callID: "c@ue", cseq: 10, now: t0)
        let change = try h.register(["<sip:alice@10.0.0.1>"], expires: "200", callID: "c@ue", cseq: 11, now: t0 + 5)
        #expect(change.events == [.refreshed])
        let b = try #require(h.bindings(t0 + 5).first)
        #expect(b.cseq == 11)
        #expect(b.expiresAt == t0 + 205)
        #expect(b.registeredAt == t0)
    }

    @Test func differentCallIDReplacesWhateverTheCSeq() throws {
        var h = Harness()
        try h.register(["<sip:alice@10.0.0.1>"], callID: "old@ue", cseq: 500, now: t0)
        let change = try h.register(["<sip:alice@10.0.0.1>"], callID: "new@ue", cseq: 1, now: t0 + 1)
        #expect(change.events == [.refreshed])
        let b = try #require(h.bindings(t0 + 1).first)
        #expect(b.callID == "new@ue")
        #expect(b.cseq == 1)
        #expect(h.registrar.bindingCount == 1)
    }

    @Test func errorInSecondContactLeavesTheFirstUnchanged() throws {
        var h = Harness()
        try h.register(["<sip:alice@10.0.0.1>"], expires: "100", callID: "c@ue", cseq: 7, now: t0)
        try h.register(["<sip:alice@10.0.0.2>"], expires: "100", callID: "d@ue", cseq: 20, now: t0)
        let before = h.bindings(t0)
        // First contact (new Call-ID for .1) would be fine; second (.2, same Call-ID, stale CSeq) fails.
        let e = Reg.error {
            try h.register(["<sip:alice@10.0.0.1>;expires=250, <sip:alice@10.0.0.3>", "<sip:alice@10.0.0.2>"],
                           callID: "d@ue", cseq: 20, now: t0 + 1)
        }
        #expect(e == RegistrarError(400, "CSeq Out Of Order"))
        #expect(h.bindings(t0) == before)
        #expect(h.registrar.bindingCount == 2)
        #expect(h.registrar.nextExpiry == t0 + 100)
    }

    @Test func sameContactTwiceInOneRequestIsProcessedInOrder() throws {
        // Not a CSeq replay: the second value applies to the binding the first one just wrote.
        var h = Harness()
        let change = try h.register(["<sip:alice@ue.example.com>;expires=60, <sip:alice@UE.example.com>;expires=120"],
                                    callID: "c@ue", cseq: 1, now: t0)
        #expect(change.events == [.registered, .refreshed])
        #expect(h.bindings(t0).map(\.expiresAt) == [t0 + 120])
        let gone = try h.register(["<sip:alice@ue.example.com>;expires=200", "<sip:alice@ue.example.com>;expires=0"],
                                  callID: "c@ue", cseq: 2, now: t0 + 1)
        #expect(gone.events == [.refreshed, .unregistered])
        #expect(h.registrar.bindingCount == 0)
        #expect(h.registrar.nextExpiry == nil)
        // The replay check still uses what was stored before the request.
        try h.register(["<sip:alice@ue.example.com>"], callID: "c@ue", cseq: 3, now: t0 + 2)
        #expect(Reg.error {
            try h.register(["<sip:alice@ue.example.com>", "<sip:alice@ue.example.com>"], callID: "c@ue", cseq: 3, now: t0 + 3)
        } == RegistrarError(400, "CSeq Out Of Order"))
    }
}

@Suite("Registrar: binding identity (RFC 3261 §19.1.4, RFC 5626, RFC 5627)")
struct BindingKeyTests {
    let t0: Int64 = 4_000_000
    let i1 = Reg.instance1, i2 = Reg.instance2

    @Test func distinctRegIDsAreDistinctFlows() throws {
        var h = Harness()
        try h.register(["<sip:alice@10.0.0.1:5060;transport=tcp>;+sip.instance=\"\(i1)\";reg-id=1"],
                       callID: "f1@ue", cseq: 1, now: t0, flow: "tcp:1.1.1.1:1000#1")
        try h.register(["<sip:alice@10.0.0.1:5060;transport=tcp>;+sip.instance=\"\(i1)\";reg-id=2"],
                       callID: "f2@ue", cseq: 1, now: t0, flow: "tcp:2.2.2.2:2000#2")
        let list = h.bindings(t0)
        #expect(list.count == 2)
        #expect(list.map(\.regID) == [1, 2])
        #expect(list.map(\.flow) == ["tcp:1.1.1.1:1000#1", "tcp:2.2.2.2:2000#2"])
        #expect(list.allSatisfy { $0.instance == i1 })
        // Same instance and reg-id: the same binding, whatever the contact URI (NAT rebinding).
        let change = try h.register(["<sip:alice@10.9.9.9:6000;transport=tcp>;+sip.instance=\"\(i1)\";reg-id=1"],
                                    callID: "f1@ue", cseq: 2, now: t0 + 1, flow: "tcp:1.1.1.1:1001#3")
        #expect(change.changes.count == 1)
        #expect(h.registrar.bindingCount == 2)
        let updated = try #require(h.bindings(t0 + 1).first { $0.regID == 1 })
        #expect(updated.contactURI == "sip:alice@10.9.9.9:6000;transport=tcp")
        #expect(updated.flow == "tcp:1.1.1.1:1001#3")
        #expect(updated.registeredAt == t0)
    }

    @Test func instanceAloneIdentifiesTheBinding() throws {
        var h = Harness()
        try h.register(["<sip:alice@10.0.0.1>;+sip.instance=\"\(i1)\""], callID: "a@ue", cseq: 1, now: t0)
        try h.register(["<sip:alice@10.0.0.2>;+sip.instance=\"\(i1)\""], callID: "b@ue", cseq: 1, now: t0 + 1)
        #expect(h.bindings(t0 + 1).map(\.contactURI) == ["sip:alice@10.0.0.2"])
        try h.register(["<sip:alice@10.0.0.2>;+sip.instance=\"\(i2)\""], callID: "b@ue", cseq: 2, now: t0 + 2)
        #expect(h.registrar.bindingCount == 2)
        // An instance binding and an instance+reg-id binding of the same instance are different bindings.
        try h.register(["<sip:alice@10.0.0.2>;+sip.instance=\"\(i2)\";reg-id=1"], callID: "b@ue", cseq: 3, now: t0 + 3)
        #expect(h.registrar.bindingCount == 3)
    }

    @Test func uriComparisonHostIsCaseInsensitive() throws {
        var h = Harness()
        try h.register(["<sip:alice@UE.Example.COM:5060>"], callID: "a@ue", cseq: 1, now: t0)
        let change = try h.register(["<sip:alice@ue.example.com:5060>"], callID: "a@ue", cseq: 2, now: t0 + 10)
        #expect(change.events == [.refreshed])
        #expect(h.registrar.bindingCount == 1)
        // Host case is not a new contact, but the stored URI follows the latest REGISTER.
        #expect(h.bindings(t0 + 10).first?.contactURI == "sip:alice@ue.example.com:5060")
        #expect(h.bindings(t0 + 10).first?.expiresAt == t0 + 310)
    }

    @Test func uriComparisonDistinguishesUserPortTransportAndScheme() throws {
        var h = Harness()
        let contacts = ["<sip:alice@h.example.com>", "<sip:Alice@h.example.com>", "<sip:alice@h.example.com:5060>",
                        "<sip:alice@h.example.com;transport=tcp>", "<sips:alice@h.example.com>",
                        "<sip:alice@h.example.com;maddr=239.1.1.1>", "<sip:alice@h.example.com;user=phone>"]
        try h.register(contacts, callID: "a@ue", cseq: 1, now: t0)
        #expect(h.registrar.bindingCount == contacts.count)
    }

    @Test func uriComparisonIgnoresCaseOfTransportAndOtherParameters() throws {
        var h = Harness()
        try h.register(["<sip:alice@h.example.com;transport=TCP;ob>"], callID: "a@ue", cseq: 1, now: t0)
        try h.register(["<sip:alice@h.example.com;transport=tcp>"], callID: "a@ue", cseq: 2, now: t0 + 1)
        try h.register(["<sip:%61lice@h.example.com;transport=tcp;foo=bar>"], callID: "a@ue", cseq: 3, now: t0 + 2)
        #expect(h.registrar.bindingCount == 1)
    }

    @Test func regIDWithoutInstanceIsAPlainBinding() throws {
        var h = Harness()
        try h.register(["<sip:alice@10.0.0.1>;reg-id=1"], cseq: 1, now: t0, flow: "udp:10.0.0.1:5060")
        let b = try #require(h.bindings(t0).first)
        #expect(b.regID == nil)
        #expect(b.key == Registrar.bindingKey(RegisterRequest.Contact(uri: "sip:alice@10.0.0.1", parameters: SIPParameters(),
                                                                     expires: nil, q: nil, instance: nil, regID: nil)))
        // Not an outbound flow binding: a failing flow does not take it away.
        #expect(h.registrar.removeFlow("udp:10.0.0.1:5060", now: t0).isEmpty)
        #expect(h.registrar.bindingCount == 1)
    }

    @Test func regIDRequestMayRegisterOneContactOnly() throws {
        // RFC 5626 §6: several non-zero contacts with a reg-id among them → 400.
        var h = Harness()
        let e = Reg.error {
            try h.register(["<sip:a@10.0.0.1>;+sip.instance=\"\(i1)\";reg-id=1", "<sip:a@10.0.0.2>"], cseq: 1, now: t0)
        }
        #expect(e?.status == 400)
        #expect(h.registrar.bindingCount == 0)
        // One flow plus removals is fine.
        try h.register(["<sip:a@10.0.0.2>"], callID: "x@ue", cseq: 1, now: t0)
        let change = try h.register(["<sip:a@10.0.0.1>;+sip.instance=\"\(i1)\";reg-id=1", "<sip:a@10.0.0.2>;expires=0"],
                                    cseq: 2, now: t0 + 1)
        #expect(change.events == [.registered, .unregistered])
        #expect(h.bindings(t0 + 1).map(\.regID) == [1])
    }

    @Test func storedParametersDropExpiresAndQ() throws {
        var h = Harness()
        try h.register(["<sip:alice@10.0.0.1>;expires=60;q=0.4;+sip.instance=\"\(i1)\";audio;+g.3gpp.smsip"], cseq: 1, now: t0)
        let b = try #require(h.bindings(t0).first)
        #expect(b.contactParameters.items.map(\.name) == ["+sip.instance", "audio", "+g.3gpp.smsip"])
        #expect(b.q == 0.4)
        #expect(b.impi == Reg.impi)
    }

    @Test func pathAndUserAgentAreStored() throws {
        var h = Harness()
        try h.register(["<sip:alice@10.0.0.1>"], cseq: 1, now: t0,
                       extra: ["Path: <sip:term@pcscf.example.com;lr>", "User-Agent: UE/2"])
        let b = try #require(h.bindings(t0).first)
        #expect(b.path == ["<sip:term@pcscf.example.com;lr>"])
        #expect(b.userAgent == "UE/2")
        try h.register(["<sip:alice@10.0.0.1>"], cseq: 2, now: t0 + 1, extra: ["Path: <sip:other@pcscf2.example.com;lr>"])
        #expect(h.bindings(t0 + 1).first?.path == ["<sip:other@pcscf2.example.com;lr>"])
        #expect(h.bindings(t0 + 1).first?.userAgent == nil)
    }

    @Test func aorsAreIndependent() throws {
        var h = Harness()
        try h.register(["<sip:alice@10.0.0.1>"], callID: "c@ue", cseq: 5, now: t0)
        try h.register(["<sip:alice@10.0.0.1>"], callID: "c@ue", cseq: 1, now: t0, aor: "sip:bob@ims.example.com")
        #expect(h.registrar.aorCount == 2)
        #expect(h.registrar.bindingCount == 2)
        #expect(Set(h.registrar.allAoRs) == [Reg.aor, "sip:bob@ims.example.com"])
    }
}

@Suite("Registrar: limits")
struct LimitTests {
    let t0: Int64 = 5_000_000

    @Test func tooManyBindingsIs403AndChangesNothing() throws {
        var h = Harness(policy: RegistrarPolicy(maxBindingsPerAoR: 2))
        try h.register(["<sip:alice@10.0.0.1>", "<sip:alice@10.0.0.2>"], cseq: 1, now: t0)
        let e = Reg.error { try h.register(["<sip:alice@10.0.0.1>", "<sip:alice@10.0.0.3>"], cseq: 2, now: t0 + 1) }
        #expect(e == RegistrarError(403, "Too Many Bindings (max 2)"))
        #expect(h.bindings(t0 + 1).map(\.cseq) == [1, 1])
        // Refreshing at the limit, or replacing one contact by another, is fine.
        try h.register(["<sip:alice@10.0.0.1>", "<sip:alice@10.0.0.2>"], cseq: 3, now: t0 + 2)
        try h.register(["<sip:alice@10.0.0.1>;expires=0", "<sip:alice@10.0.0.3>"], cseq: 4, now: t0 + 3)
        #expect(Set(h.bindings(t0 + 3).map(\.contactURI)) == ["sip:alice@10.0.0.2", "sip:alice@10.0.0.3"])
    }

    @Test func tooManyContactsUsesThePolicy() {
        var h = Harness(policy: RegistrarPolicy(maxContactsPerRequest: 1))
        #expect(Reg.error { try h.register(["<sip:a@1.1.1.1>, <sip:b@1.1.1.1>"], cseq: 1, now: t0) }?.status == 403)
    }

    @Test func refreshIsAllowedWhenRestoreOverfilled() throws {
        var h = Harness(policy: RegistrarPolicy(maxBindingsPerAoR: 1))
        h.registrar.restore(aor: Reg.aor, bindings: [
            makeBinding(uri: "sip:alice@10.0.0.1", expiresAt: t0 + 100, callID: "c@ue"),
            makeBinding(uri: "sip:alice@10.0.0.2", expiresAt: t0 + 100, callID: "c@ue"),
        ], now: t0)
        #expect(h.registrar.bindingCount == 2)
        // Keys of restored bindings must match what the registrar computes for a REGISTER (they came from it).
        var fixed = Harness(policy: RegistrarPolicy(maxBindingsPerAoR: 1))
        let key1 = Registrar.bindingKey(try Reg.request(contacts: ["<sip:alice@10.0.0.1>"]).contacts[0])
        let key2 = Registrar.bindingKey(try Reg.request(contacts: ["<sip:alice@10.0.0.2>"]).contacts[0])
        fixed.registrar.restore(aor: Reg.aor, bindings: [
            makeBinding(key: key1, uri: "sip:alice@10.0.0.1", expiresAt: t0 + 100, callID: "c@ue"),
            makeBinding(key: key2, uri: "sip:alice@10.0.0.2", expiresAt: t0 + 100, callID: "c@ue"),
        ], now: t0)
        let change = try fixed.register(["<sip:alice@10.0.0.1>"], callID: "c@ue", cseq: 2, now: t0 + 1)
        #expect(change.events == [.refreshed])
        #expect(fixed.registrar.bindingCount == 2)
        #expect(Reg.error { try fixed.register(["<sip:alice@10.0.0.3>"], callID: "c@ue", cseq: 3, now: t0 + 2) }?.status == 403)
    }
}

@Suite("Registrar: events")
struct EventTests {
    let t0: Int64 = 6_000_000

    @Test func lifecycle() throws {
        var h = Harness(policy: RegistrarPolicy(maxExpires: 3600))
        let created = try h.register(["<sip:alice@10.0.0.1>"], expires: "600", cseq: 1, now: t0)
        #expect(created.events == [.registered])
        #expect(created.aor == Reg.aor)
        #expect(created.changes.first?.binding.expiresAt == t0 + 600)

        let refreshed = try h.register(["<sip:alice@10.0.0.1>"], expires: "600", cseq: 2, now: t0 + 100)
        #expect(refreshed.events == [.refreshed])
        #expect(refreshed.changes.first?.binding.expiresAt == t0 + 700)

        let same = try h.register(["<sip:alice@10.0.0.1>"], expires: "600", cseq: 3, now: t0 + 100)
        #expect(same.events == [.refreshed])

        let shortened = try h.register(["<sip:alice@10.0.0.1>"], expires: "60", cseq: 4, now: t0 + 200)
        #expect(shortened.events == [.refreshed])
        #expect(shortened.changes.first?.binding.expiresAt == t0 + 260)

        let unregistered = try h.register(["<sip:alice@10.0.0.1>"], expires: "0", cseq: 5, now: t0 + 210)
        #expect(unregistered.events == [.unregistered])
        // The change carries the binding as it was.
        #expect(unregistered.changes.first?.binding.expiresAt == t0 + 260)
        #expect(unregistered.changes.first?.binding.cseq == 4)
    }

    @Test func newContactURIForAnInstanceIsReportedAsCreated() throws {
        var h = Harness()
        try h.register(["<sip:alice@10.0.0.1>;+sip.instance=\"\(Reg.instance1)\""], cseq: 1, now: t0)
        let change = try h.register(["<sip:alice@10.0.0.2>;+sip.instance=\"\(Reg.instance1)\""], cseq: 2, now: t0 + 1)
        #expect(change.events == [.registered])
    }

    @Test func mixedRequest() throws {
        var h = Harness()
        try h.register(["<sip:alice@10.0.0.1>", "<sip:alice@10.0.0.2>"], expires: "300", cseq: 1, now: t0)
        let change = try h.register(["<sip:alice@10.0.0.1>;expires=0", "<sip:alice@10.0.0.2>", "<sip:alice@10.0.0.3>"],
                                    expires: "300", cseq: 2, now: t0 + 50)
        #expect(change.events == [.unregistered, .refreshed, .registered])
        #expect(change.uris == ["sip:alice@10.0.0.1", "sip:alice@10.0.0.2", "sip:alice@10.0.0.3"])
    }

    @Test func expiredAndDeactivated() throws {
        var h = Harness()
        try h.register(["<sip:alice@10.0.0.1>;expires=60", "<sip:alice@10.0.0.2>;expires=120"], cseq: 1, now: t0)
        let expired = h.registrar.expire(now: t0 + 60)
        #expect(expired.count == 1)
        #expect(expired.first?.events == [.expired])
        #expect(expired.first?.uris == ["sip:alice@10.0.0.1"])
        let deactivated = h.registrar.removeAll(aor: Reg.aor, now: t0 + 61)
        #expect(deactivated.events == [.deactivated])
        #expect(deactivated.uris == ["sip:alice@10.0.0.2"])
    }

    @Test func dueBindingsNotYetCollectedAreReportedAsExpired() throws {
        // The expiry timer has not run yet when the next REGISTER (or an administrative removal) arrives.
        var h = Harness()
        try h.register(["<sip:alice@10.0.0.1>;expires=60", "<sip:alice@10.0.0.2>;expires=300"], cseq: 1, now: t0)
        let change = try h.register(["<sip:alice@10.0.0.1>"], expires: "300", cseq: 2, now: t0 + 90)
        try #require(change.events == [.expired, .registered])
        #expect(change.changes[0].binding.expiresAt == t0 + 60)
        #expect(change.changes[1].binding.registeredAt == t0 + 90)
        #expect(h.registrar.bindingCount == 2)
        #expect(h.registrar.expire(now: t0 + 90).isEmpty)

        let removal = h.registrar.removeAll(aor: Reg.aor, now: t0 + 10_000, event: .rejected)
        #expect(removal.events == [.expired, .expired])
        #expect(h.registrar.bindingCount == 0)
    }

    @Test func registrationChangeEquality() {
        var a = RegistrationChange(aor: "sip:a@x")
        var b = RegistrationChange(aor: "sip:a@x")
        #expect(a == b)
        #expect(a.isEmpty)
        let binding = makeBinding()
        a.changes.append((.created, binding))
        #expect(a != b)
        b.changes.append((.refreshed, binding))
        #expect(a != b)
        b.changes[0].event = .created
        #expect(a == b)
        #expect(RegistrationChange(aor: "sip:b@x") != RegistrationChange(aor: "sip:a@x"))
    }
}
