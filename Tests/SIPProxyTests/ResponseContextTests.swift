import SIPCore
import Testing
@testable import SIPProxy

@Suite("Response context (RFC 3261 §16.7-§16.10)")
struct ResponseContextTests {
    /// An INVITE server transaction forked to `count` contacts: branches b1, b2, ...
    func forked(_ count: Int, method: String = "INVITE", moreTargetsExpected: Bool = false) throws
        -> (ResponseContext<String>, [String: SIPRequest]) {
        var req = try invite()
        if method != "INVITE" {
            req = try sipRequest(inviteText.replacing("INVITE", with: method) + "\nContent-Length: 0")
        }
        var ctx = ResponseContext<String>(request: req, toTag: "prx", moreTargetsExpected: moreTargetsExpected)
        var out: [String: SIPRequest] = [:]
        for i in 1...count {
            let fwd = ProxyCore.forward(req, to: try uri("sip:bob@192.0.2.\(70 + i)"), via: ourVia)
            let r1 = ctx.addBranch("b\(i)", request: fwd)
            #expect(r1)
            out["b\(i)"] = fwd
        }
        return (ctx, out)
    }

    let aliceVia = ["SIP/2.0/UDP alice-pc.example.com:5060;branch=z9hG4bK776asdhds"]

    @Test func singleBranchTryingRingingOK() throws {
        var (ctx, f) = try forked(1)
        let b1 = try #require(f["b1"])
        #expect(ctx.needsTimerC("b1"))
        let r2 = ctx.received(try answer(b1, 100), on: "b1")
        #expect(r2 == [])
        let ringing = try answer(b1, 180)
        let a1 = ctx.received(ringing, on: "b1")
        #expect(a1 == [.restartTimerC("b1"), .forwardProvisional(ProxyCore.stripTopVia(ringing))])
        #expect(a1.provisionals().first?.headers.values("Via") == aliceVia)
        #expect(ctx.branch("b1")?.state == .proceeding)
        let ok = try answer(b1, 200)
        let a2 = ctx.received(ok, on: "b1")
        #expect(a2 == [.forwardFinal(ProxyCore.stripTopVia(ok))])
        #expect(a2.finals().first?.headers.values("Via") == aliceVia)
        #expect(a2.finals().first?.toTag == "uas-tag")
        #expect(ctx.finalResponseSent)
        #expect(!ctx.needsTimerC("b1"))
        let r3 = ctx.addBranch("late", request: b1)
        #expect(!r3)
    }

    @Test func forkFirst2xxCancelsTheOtherBranch() throws {
        var (ctx, f) = try forked(2)
        _ = ctx.received(try answer(f["b1"]!, 180, toTag: "t1"), on: "b1")
        _ = ctx.received(try answer(f["b2"]!, 183, toTag: "t2"), on: "b2")
        let ok = try answer(f["b1"]!, 200, toTag: "t1")
        let actions = ctx.received(ok, on: "b1")
        #expect(actions == [.forwardFinal(ProxyCore.stripTopVia(ok)), .cancelBranches(["b2"])])
        let cancel = try #require(ctx.cancelRequest(for: "b2"))
        #expect(cancel.method == .cancel)
        #expect(cancel.requestURI == "sip:bob@192.0.2.72")
        #expect(cancel.topVia?.branch == f["b2"]!.topVia?.branch)
        #expect(cancel.headers.first("Reason") == "SIP;cause=200;text=\"Call completed elsewhere\"")
        // The cancelled branch's 487 is absorbed.
        let r4 = ctx.received(try answer(f["b2"]!, 487, toTag: "t2"), on: "b2")
        #expect(r4 == [])
        #expect(ctx.pendingBranches.isEmpty)
    }

    @Test func cancelWaitsForAProvisionalResponse() throws {
        var (ctx, f) = try forked(2)
        let ok = try answer(f["b1"]!, 200, toTag: "t1")
        // b2 has not answered at all: no CANCEL yet (§9.1).
        let r5 = ctx.received(ok, on: "b1")
        #expect(r5 == [.forwardFinal(ProxyCore.stripTopVia(ok))])
        #expect(ctx.branch("b2")?.cancelRequested == true)
        #expect(ctx.branch("b2")?.cancelSent == false)
        // Its 100 Trying releases the CANCEL; the provisional itself is not forwarded after the final.
        let r6 = ctx.received(try answer(f["b2"]!, 100), on: "b2")
        #expect(r6 == [.cancelBranches(["b2"])])
        let r7 = ctx.received(try answer(f["b2"]!, 180, toTag: "t2"), on: "b2")
        #expect(r7 == [.restartTimerC("b2")])
    }

    @Test func bothFailBestResponseIsChosenWhenAllAreDone() throws {
        var (ctx, f) = try forked(3)
        let r8 = ctx.received(try answer(f["b1"]!, 486), on: "b1")
        #expect(r8 == [])
        let r9 = ctx.received(try answer(f["b2"]!, 503), on: "b2")
        #expect(r9 == [])
        let notFound = try answer(f["b3"]!, 404)
        let actions = ctx.received(notFound, on: "b3")
        #expect(actions == [.forwardFinal(ProxyCore.stripTopVia(notFound))])
        #expect(ctx.finalResponseSent)
    }

    @Test func busyBeatsServerError() throws {
        var (ctx, f) = try forked(2)
        let r10 = ctx.received(try answer(f["b1"]!, 503), on: "b1")
        #expect(r10 == [])
        let busy = try answer(f["b2"]!, 486)
        let r11 = ctx.received(busy, on: "b2")
        #expect(r11.finals().map(\.statusCode) == [486])
    }

    @Test func lone503IsForwardedAs500() throws {
        var (ctx, f) = try forked(2)
        _ = ctx.received(try answer(f["b1"]!, 503, extra: [("Retry-After", "30")]), on: "b1")
        let finals = ctx.received(try answer(f["b2"]!, 503), on: "b2").finals()
        #expect(finals.map(\.statusCode) == [500])
        #expect(finals.first?.reasonPhrase == "Server Internal Error")
        #expect(finals.first?.headers.values("Via") == aliceVia)
    }

    @Test func redirectionBeatsClientError() throws {
        var (ctx, f) = try forked(2)
        _ = ctx.received(try answer(f["b1"]!, 404), on: "b1")
        let moved = try answer(f["b2"]!, 302, extra: [("Contact", "<sip:bob@elsewhere.example.org>")])
        let r12 = ctx.received(moved, on: "b2")
        #expect(r12.finals().map(\.statusCode) == [302])
    }

    @Test func sixHundredStopsForkingAndWins() throws {
        var (ctx, f) = try forked(2)
        _ = ctx.received(try answer(f["b1"]!, 180, toTag: "t1"), on: "b1")
        _ = ctx.received(try answer(f["b2"]!, 180, toTag: "t2"), on: "b2")
        let decline = try answer(f["b1"]!, 603, toTag: "t1")
        let r13 = ctx.received(decline, on: "b1")
        #expect(r13 == [.cancelBranches(["b2"])])
        #expect(ctx.cancelRequest(for: "b2")?.headers.first("Reason") == "SIP;cause=603;text=\"Decline\"")
        #expect(!ctx.acceptsNewBranches)
        let r14 = ctx.addBranch("b3", request: f["b1"]!)
        #expect(!r14)
        let actions = ctx.received(try answer(f["b2"]!, 487, toTag: "t2"), on: "b2")
        #expect(actions == [.forwardFinal(ProxyCore.stripTopVia(decline))])
    }

    @Test func authenticationChallengesAreAggregated() throws {
        var (ctx, f) = try forked(3)
        _ = ctx.received(try answer(f["b1"]!, 407, extra: [("Proxy-Authenticate", "Digest realm=\"a.example.com\", nonce=\"n1\", algorithm=MD5")]), on: "b1")
        _ = ctx.received(try answer(f["b2"]!, 480), on: "b2")
        let unauthorized = try answer(f["b3"]!, 401, extra: [("WWW-Authenticate", "Digest realm=\"b.example.com\", nonce=\"n2\"")])
        let r15 = ctx.received(unauthorized, on: "b3")
        let final = try #require(r15.finals().first)
        #expect(final.statusCode == 401)
        #expect(final.headers.rawValues("WWW-Authenticate") == ["Digest realm=\"b.example.com\", nonce=\"n2\""])
        #expect(final.headers.rawValues("Proxy-Authenticate") == ["Digest realm=\"a.example.com\", nonce=\"n1\", algorithm=MD5"])
        #expect(try wire(final).headers.rawValues("Proxy-Authenticate").count == 1)
    }

    @Test func every2xxIsForwarded() throws {
        var (ctx, f) = try forked(2)
        _ = ctx.received(try answer(f["b1"]!, 180, toTag: "t1"), on: "b1")
        _ = ctx.received(try answer(f["b2"]!, 180, toTag: "t2"), on: "b2")
        let ok1 = try answer(f["b1"]!, 200, toTag: "t1")
        let ok2 = try answer(f["b2"]!, 200, toTag: "t2")
        let r16 = ctx.received(ok1, on: "b1")
        #expect(r16 == [.forwardFinal(ProxyCore.stripTopVia(ok1)), .cancelBranches(["b2"])])
        // The CANCEL crossed b2's 200: that 200 goes upstream too, as does a retransmission of the first.
        let r17 = ctx.received(ok2, on: "b2")
        #expect(r17 == [.forwardFinal(ProxyCore.stripTopVia(ok2))])
        let r18 = ctx.received(ok1, on: "b1")
        #expect(r18 == [.forwardFinal(ProxyCore.stripTopVia(ok1))])
    }

    @Test func nonSuccessAndProvisionalAfterFinalAreAbsorbed() throws {
        var (ctx, f) = try forked(2)
        _ = ctx.received(try answer(f["b1"]!, 180, toTag: "t1"), on: "b1")
        _ = ctx.received(try answer(f["b2"]!, 180, toTag: "t2"), on: "b2")
        _ = ctx.received(try answer(f["b1"]!, 200, toTag: "t1"), on: "b1")
        let r19 = ctx.received(try answer(f["b2"]!, 183, toTag: "t2"), on: "b2")
        #expect(r19 == [.restartTimerC("b2")])
        let r20 = ctx.received(try answer(f["b2"]!, 486, toTag: "t2"), on: "b2")
        #expect(r20 == [])
        let r21 = ctx.received(try answer(f["b1"]!, 486), on: "unknown")
        #expect(r21 == [])
    }

    @Test func timeoutsGive408() throws {
        var (ctx, f) = try forked(2)
        _ = f
        let r22 = ctx.branchTimedOut("b1")
        #expect(r22 == [])
        let r23 = ctx.branchTimedOut("b2")
        let final = try #require(r23.finals().first)
        #expect(final.statusCode == 408)
        #expect(final.toTag == "prx")
        #expect(final.headers.values("Via") == aliceVia)
        #expect(final.headers.first("CSeq") == "314159 INVITE")
    }

    @Test func receivedResponseBeatsSyntheticTimeout() throws {
        var (ctx, f) = try forked(3)
        _ = ctx.branchTimedOut("b1")
        _ = ctx.branchTransportError("b2")
        let unavailable = try answer(f["b3"]!, 503)
        let r24 = ctx.received(unavailable, on: "b3")
        #expect(r24.finals().map(\.statusCode) == [500])
        #expect(ctx.branch("b1")?.isSynthetic == true)
    }

    @Test func transportErrorAloneGives500AndTimeoutBeatsIt() throws {
        var (single, _) = try forked(1)
        let r25 = single.branchTransportError("b1")
        #expect(r25.finals().map(\.statusCode) == [500])
        var (two, _) = try forked(2)
        _ = two.branchTransportError("b1")
        let r26 = two.branchTimedOut("b2")
        #expect(r26.finals().map(\.statusCode) == [408])
    }

    @Test func cancelBeforeAnyResponse() throws {
        var (ctx, f) = try forked(2)
        // Nothing heard yet: the CANCELs wait for provisional responses; no 487 from us, the branches answer it.
        let r27 = ctx.cancelReceived(reason: "SIP;cause=480;text=\"User left\"")
        #expect(r27 == [])
        #expect(ctx.isCancelled)
        let r28 = ctx.addBranch("b3", request: f["b1"]!)
        #expect(!r28)
        let ringing = try answer(f["b1"]!, 180, toTag: "t1")
        let r29 = ctx.received(ringing, on: "b1")
        #expect(r29 == [.cancelBranches(["b1"]), .restartTimerC("b1"), .forwardProvisional(ProxyCore.stripTopVia(ringing))])
        #expect(ctx.cancelRequest(for: "b1")?.headers.first("Reason") == "SIP;cause=480;text=\"User left\"")
        let r30 = ctx.received(try answer(f["b2"]!, 100), on: "b2")
        #expect(r30 == [.cancelBranches(["b2"])])
        let r31 = ctx.received(try answer(f["b1"]!, 487, toTag: "t1"), on: "b1")
        #expect(r31 == [])
        let terminated = try answer(f["b2"]!, 487, toTag: "t2")
        let r32 = ctx.received(terminated, on: "b2")
        #expect(r32.finals().map(\.statusCode) == [487])
    }

    @Test func cancelWithProvisionalBranchesCancelsAllAtOnce() throws {
        var (ctx, f) = try forked(2)
        _ = ctx.received(try answer(f["b1"]!, 180, toTag: "t1"), on: "b1")
        _ = ctx.received(try answer(f["b2"]!, 100), on: "b2")
        let r33 = ctx.cancelReceived()
        #expect(r33 == [.cancelBranches(["b1", "b2"])])
        #expect(ctx.cancelRequest(for: "b1")?.headers.first("Reason") == nil)
        let r34 = ctx.cancelReceived()
        #expect(r34 == [])
    }

    @Test func cancelWithoutBranchesAnswers487() throws {
        var ctx = ResponseContext<String>(request: try invite(), toTag: "prx")
        let actions = ctx.cancelReceived()
        let final = try #require(actions.finals().first)
        #expect(actions.count == 1)
        #expect(final.statusCode == 487)
        #expect(final.toTag == "prx")
        #expect(final.headers.first("CSeq") == "314159 INVITE")
        #expect(ctx.finalResponseSent)
        let r35 = ctx.cancelReceived()
        #expect(r35 == [])
    }

    @Test func cancelAfterFinalDoesNothing() throws {
        var (ctx, f) = try forked(1)
        _ = ctx.received(try answer(f["b1"]!, 200), on: "b1")
        let r36 = ctx.cancelReceived()
        #expect(r36 == [])
    }

    @Test func timerCWithProvisionalCancelsTheBranch() throws {
        var (ctx, f) = try forked(1)
        _ = ctx.received(try answer(f["b1"]!, 180, toTag: "t1"), on: "b1")
        let r37 = ctx.timerCFired("b1")
        #expect(r37 == [.cancelBranches(["b1"])])
        let r38 = ctx.timerCFired("b1")
        #expect(r38 == [])
        #expect(ctx.needsTimerC("b1"))
        let terminated = try answer(f["b1"]!, 487, toTag: "t1")
        let r39 = ctx.received(terminated, on: "b1")
        #expect(r39 == [.forwardFinal(ProxyCore.stripTopVia(terminated))])
        #expect(!ctx.needsTimerC("b1"))
    }

    @Test func timerCWithoutProvisionalActsAs408() throws {
        var (ctx, _) = try forked(1)
        let r40 = ctx.timerCFired("b1")
        #expect(r40.finals().map(\.statusCode) == [408])
        let r41 = ctx.timerCFired("b1")
        #expect(r41 == [])
    }

    @Test func timerCIsForInviteOnly() throws {
        var (ctx, f) = try forked(1, method: "MESSAGE")
        #expect(!ctx.needsTimerC("b1"))
        let r42 = ctx.received(try answer(f["b1"]!, 180, toTag: "t"), on: "b1")
        #expect(r42.count == 1)
        let r43 = ctx.timerCFired("b1")
        #expect(r43 == [])
    }

    @Test func forkedMessageForwardsFirst2xxOnlyAndNeverCancels() throws {
        var (ctx, f) = try forked(2, method: "MESSAGE")
        let accepted = try answer(f["b1"]!, 202)
        let r44 = ctx.received(accepted, on: "b1")
        #expect(r44 == [.forwardFinal(ProxyCore.stripTopVia(accepted))])
        let r45 = ctx.received(try answer(f["b2"]!, 200), on: "b2")
        #expect(r45 == [])
    }

    @Test func serialForkingAsksForMoreTargets() throws {
        var (ctx, f) = try forked(1, moreTargetsExpected: true)
        let busy = try answer(f["b1"]!, 486)
        let r46 = ctx.received(busy, on: "b1")
        #expect(r46 == [.branchesCompleted])
        let next = ProxyCore.forward(ctx.request, to: try uri("sip:bob@voicemail.example.com"), via: ourVia)
        let r47 = ctx.addBranch("b2", request: next)
        #expect(r47)
        let r48 = ctx.received(try answer(next, 404), on: "b2")
        #expect(r48 == [.branchesCompleted])
        let actions = ctx.targetsExhausted()
        #expect(actions.finals().map(\.statusCode) == [404])
        let r49 = ctx.targetsExhausted()
        #expect(r49 == [])
    }

    @Test func emptyTargetSetGives480() throws {
        var ctx = ResponseContext<Int>(request: try invite(), toTag: "prx", moreTargetsExpected: true)
        let r50 = ctx.targetsExhausted()
        let final = try #require(r50.finals().first)
        #expect(final.statusCode == 480)
        #expect(final.toTag == "prx")
    }

    @Test func cancelWhileWaitingForMoreTargetsAnswers487() throws {
        var (ctx, f) = try forked(1, moreTargetsExpected: true)
        _ = ctx.received(try answer(f["b1"]!, 486), on: "b1")
        let r51 = ctx.cancelReceived()
        #expect(r51.finals().map(\.statusCode) == [487])
    }

    @Test func duplicateBranchIdIsRefused() throws {
        var (ctx, f) = try forked(1)
        let r52 = ctx.addBranch("b1", request: f["b1"]!)
        #expect(!r52)
        #expect(ctx.branchOrder == ["b1"])
    }
}
