import SIPCore
import Testing
@testable import SIPTransaction

@Suite("Client transactions")
struct ClientTransactionTests {
    let peer = "uas"

    // MARK: INVITE, Figure 5

    @Test func timerAScheduleDoublesWithoutCapUntilTimerB() throws {
        let layer = TransactionLayer<String>()
        let invite = makeRequest(.invite)
        var log = TimedLog()
        let (id, first) = try layer.send(invite, to: peer, reliable: false, now: .zero)
        log.record(first, at: .zero)
        log.run(layer, until: sec(100))
        // INVITE at 0 and retransmissions after 0.5, 1, 2, 4, 8, 16 s (Timer A doubles without a T2 cap).
        #expect(log.sendTimes == [ms(0), ms(500), ms(1500), ms(3500), ms(7500), ms(15500), ms(31500)])
        #expect(log.actions.sentRequests.allSatisfy { $0 == invite })
        // Timer B at 64*T1: the TU gets a synthetic 408, then the transaction is gone.
        let timeouts = log.actions.timeouts
        #expect(timeouts.count == 1)
        #expect(timeouts.first?.0 == id)
        #expect(timeouts.first?.1.statusCode == 408)
        #expect(timeouts.first?.1.headers.first("Call-ID") == invite.headers.first("Call-ID"))
        #expect(timeouts.first?.1.headers.first("CSeq") == "1 INVITE")
        #expect(log.entries.last?.time == sec(32))
        #expect(log.actions.terminated == [.client(id)])
        #expect(layer.count == 0)
        #expect(layer.nextDeadline == nil)
        #expect(layer.scheduledTimerCount == 0)
    }

    @Test func machineTimerAIntervals() {
        var t = ClientInviteTransaction(request: makeRequest(.invite), reliable: false)
        #expect(t.handle(.start) == [.send(.request(t.request)), .startTimer(.a, .milliseconds(500)), .startTimer(.b, .seconds(32))])
        var intervals: [Duration] = []
        for _ in 0..<7 {
            for case .startTimer(.a, let d) in t.handle(.timerFired(.a)) { intervals.append(d) }
        }
        #expect(intervals == [.seconds(1), .seconds(2), .seconds(4), .seconds(8), .seconds(16), .seconds(32), .seconds(64)])
        #expect(t.handle(.timerFired(.b)) == [.timeout, .terminated])
        #expect(t.state == .terminated)
        #expect(t.handle(.timerFired(.a)) == [])
    }

    @Test func inviteOverReliableTransportNeverRetransmits() throws {
        let layer = TransactionLayer<String>()
        var log = TimedLog()
        let (id, first) = try layer.send(makeRequest(.invite, transport: "TCP"), to: peer, reliable: true, now: .zero)
        log.record(first, at: .zero)
        log.run(layer, until: sec(100))
        #expect(log.sendTimes == [.zero])
        #expect(log.actions.timeouts.map(\.0) == [id])
        #expect(log.entries.last?.time == sec(32))
        #expect(layer.count == 0)
    }

    @Test func provisionalStopsRetransmissionsAndTimerB() throws {
        let layer = TransactionLayer<String>()
        let invite = makeRequest(.invite)
        var log = TimedLog()
        let (id, first) = try layer.send(invite, to: peer, reliable: false, now: .zero)
        log.record(first, at: .zero)
        log.run(layer, until: ms(600)) // one retransmission at 0.5 s
        let ringing = makeResponse(to: invite, 180)
        let r = layer.receive(.response(ringing), from: peer, reliable: false, now: ms(700))
        #expect(r == [.response(ringing, id)])
        #expect(layer.state(of: .client(id)) == .proceeding)
        log.run(layer, until: sec(300))
        #expect(log.sendTimes == [ms(0), ms(500)])
        #expect(log.actions.timeouts.isEmpty)
        // Proceeding waits for the final response (the TU's business to CANCEL); no timer left armed.
        #expect(layer.nextDeadline == nil)
        #expect(layer.count == 1)
        let busy = makeResponse(to: invite, 486)
        let done = layer.receive(.response(busy), from: peer, reliable: false, now: sec(301))
        #expect(done.delivered == [busy])
        #expect(layer.state(of: .client(id)) == .completed)
    }

    @Test(arguments: [300, 302, 404, 486, 503, 603])
    func nonSuccessFinalIsAcknowledgedByTheTransaction(status: Int) throws {
        let layer = TransactionLayer<String>()
        let invite = makeRequest(
            .invite, cseq: 4711, uri: "sip:bob@biloxi.example.com;transport=udp",
            routes: ["<sip:p1.example.com;lr>", "<sip:p2.example.com;lr>"],
            lowerVias: ["SIP/2.0/UDP upstream.example.com;branch=z9hG4bK-upstream"])
        let (id, _) = try layer.send(invite, to: peer, reliable: false, now: .zero)
        let final = makeResponse(to: invite, status, toTag: "remote-42")
        let out = layer.receive(.response(final), from: peer, reliable: false, now: ms(100))
        #expect(out.delivered == [final])
        let ack = try #require(out.sentRequests.first)
        #expect(out.sentRequests.count == 1)
        // RFC 3261 §17.1.1.3.
        #expect(ack.method == .ack)
        #expect(ack.requestURI == invite.requestURI)
        #expect(ack.headers.rawValues("Via") == ["SIP/2.0/UDP client.example.com:5060;branch=z9hG4bK-branch-1"])
        #expect(ack.headers.first("Call-ID") == invite.headers.first("Call-ID"))
        #expect(ack.headers.first("From") == invite.headers.first("From"))
        #expect(ack.headers.first("To") == final.headers.first("To"))
        #expect(ack.headers.first("To")?.hasSuffix(";tag=remote-42") == true)
        #expect(ack.headers.first("CSeq") == "4711 ACK")
        #expect(ack.headers.rawValues("Route") == ["<sip:p1.example.com;lr>", "<sip:p2.example.com;lr>"])
        #expect(ack.headers.first("Max-Forwards") == "70")
        #expect(ack.body.isEmpty)
        #expect(layer.state(of: .client(id)) == .completed)

        // A retransmitted final re-sends the ACK, and the TU does not see it again.
        let again = layer.receive(.response(final), from: peer, reliable: false, now: ms(600))
        #expect(again.delivered.isEmpty)
        #expect(again.sentRequests == [ack])

        // Timer D (32 s) ends the transaction; nothing was retransmitted meanwhile.
        var log = TimedLog()
        log.run(layer, until: sec(100))
        #expect(log.entries.map(\.time) == [ms(100) + .seconds(32)])
        #expect(log.actions.terminated == [.client(id)])
        #expect(layer.count == 0)
        // After that a retransmission is stray.
        #expect(layer.receive(.response(final), from: peer, reliable: false, now: sec(200)) == [.strayResponse(final, from: peer)])
    }

    @Test func nonSuccessFinalOverReliableTransportTerminatesAtOnce() throws {
        let layer = TransactionLayer<String>()
        let invite = makeRequest(.invite, transport: "TCP")
        let (id, _) = try layer.send(invite, to: peer, reliable: true, now: .zero)
        let out = layer.receive(.response(makeResponse(to: invite, 404)), from: peer, reliable: true, now: ms(10))
        #expect(out.sentRequests.map(\.method) == [.ack])
        #expect(out.terminated == [.client(id)])
        #expect(layer.count == 0)
        #expect(layer.nextDeadline == nil)
    }

    @Test func rfc6026AcceptedPassesEvery2xxUntilTimerM() throws {
        let layer = TransactionLayer<String>()
        let invite = makeRequest(.invite)
        let (id, _) = try layer.send(invite, to: peer, reliable: false, now: .zero)
        let ok = makeResponse(to: invite, 200, toTag: "a")
        let out = layer.receive(.response(ok), from: peer, reliable: false, now: ms(200))
        #expect(out == [.response(ok, id)]) // no ACK: that's the TU's job for a 2xx
        #expect(layer.state(of: .client(id)) == .accepted)
        // Retransmission and a forked 2xx from another UAS both go to the TU.
        #expect(layer.receive(.response(ok), from: peer, reliable: false, now: ms(700)) == [.response(ok, id)])
        let forked = makeResponse(to: invite, 200, toTag: "b")
        #expect(layer.receive(.response(forked), from: peer, reliable: false, now: sec(1)) == [.response(forked, id)])
        // Non-2xx after a 2xx is absorbed.
        #expect(layer.receive(.response(makeResponse(to: invite, 486)), from: peer, reliable: false, now: sec(2)).isEmpty)
        var log = TimedLog()
        log.run(layer, until: sec(100))
        #expect(log.entries.map(\.time) == [ms(200) + .seconds(32)])
        #expect(log.actions == [.terminated(.client(id))])
        #expect(layer.count == 0)
        #expect(layer.receive(.response(ok), from: peer, reliable: false, now: sec(101)) == [.strayResponse(ok, from: peer)])
    }

    @Test func rfc6026AcceptedAlsoOverReliableTransport() throws {
        let layer = TransactionLayer<String>()
        let invite = makeRequest(.invite, transport: "TCP")
        let (id, _) = try layer.send(invite, to: peer, reliable: true, now: .zero)
        _ = layer.receive(.response(makeResponse(to: invite, 200)), from: peer, reliable: true, now: ms(5))
        #expect(layer.state(of: .client(id)) == .accepted)
        #expect(layer.nextDeadline == ms(5) + .seconds(32))
    }

    @Test func transportErrorInCallingGivesSynthetic503() throws {
        let layer = TransactionLayer<String>()
        let invite = makeRequest(.invite)
        let (id, _) = try layer.send(invite, to: peer, reliable: false, now: .zero)
        let out = layer.transportError(.client(id), now: ms(1))
        #expect(out.transportErrors.map(\.0) == [.client(id)])
        #expect(out.transportErrors.first?.1?.statusCode == 503)
        #expect(out.terminated == [.client(id)])
        #expect(layer.count == 0)
    }

    @Test func transportErrorInProceedingIsIgnoredPerFigure5() throws {
        let layer = TransactionLayer<String>()
        let invite = makeRequest(.invite)
        let (id, _) = try layer.send(invite, to: peer, reliable: false, now: .zero)
        _ = layer.receive(.response(makeResponse(to: invite, 180)), from: peer, reliable: false, now: ms(1))
        #expect(layer.transportError(.client(id), now: ms(2)).isEmpty)
        #expect(layer.state(of: .client(id)) == .proceeding)
        #expect(layer.abandon(.client(id)) == [.terminated(.client(id))])
        #expect(layer.count == 0)
        #expect(layer.abandon(.client(id)).isEmpty)
    }

    @Test func transportErrorInCompletedEndsTheInviteTransaction() throws {
        let layer = TransactionLayer<String>()
        let invite = makeRequest(.invite)
        let (id, _) = try layer.send(invite, to: peer, reliable: false, now: .zero)
        _ = layer.receive(.response(makeResponse(to: invite, 500)), from: peer, reliable: false, now: ms(1))
        #expect(layer.state(of: .client(id)) == .completed)
        let out = layer.transportError(peer: peer, now: ms(2)) // the ACK could not be sent
        #expect(out.transportErrors.map(\.0) == [.client(id)])
        #expect(out.terminated == [.client(id)])
        #expect(layer.count == 0)
        #expect(layer.nextDeadline == nil)
    }

    @Test func lateAdvanceRestartsTimersFromNow() throws {
        let layer = TransactionLayer<String>()
        let (_, _) = try layer.send(makeRequest(.options), to: peer, reliable: false, now: .zero)
        // The event loop was busy: the 0.5 s deadline is served at 2 s. One retransmission, next one 1 s later.
        let out = layer.advance(to: sec(2))
        #expect(out.sentRequests.count == 1)
        #expect(layer.nextDeadline == sec(3))
    }

    @Test func configAppliesToNewTransactions() throws {
        let layer = TransactionLayer<String>(config: SIPTimerConfig(t1: .milliseconds(100), t2: .milliseconds(400)))
        var log = TimedLog()
        let (_, first) = try layer.send(makeRequest(.options), to: peer, reliable: false, now: .zero)
        log.record(first, at: .zero)
        log.run(layer, until: sec(100))
        #expect(log.sendTimes.prefix(5) == [0, 100, 300, 700, 1100].map(ms)[...])
        #expect(log.actions.timeouts.count == 1)
        #expect(log.entries.last?.time == ms(6400)) // F = 64*T1
        layer.config = .rfc3261
        let (_, _) = try layer.send(makeRequest(.options, branch: "z9hG4bK-2"), to: peer, reliable: false, now: sec(200))
        #expect(layer.nextDeadline == sec(200) + .milliseconds(500))
    }

    // MARK: non-INVITE, Figure 6

    @Test func timerEScheduleCapsAtT2UntilTimerF() throws {
        let layer = TransactionLayer<String>()
        let options = makeRequest(.options)
        var log = TimedLog()
        let (id, first) = try layer.send(options, to: peer, reliable: false, now: .zero)
        log.record(first, at: .zero)
        log.run(layer, until: sec(100))
        let expected = [0, 500, 1500, 3500, 7500, 11500, 15500, 19500, 23500, 27500, 31500].map(ms)
        #expect(log.sendTimes == expected)
        #expect(log.actions.timeouts.map(\.0) == [id])
        #expect(log.actions.timeouts.first?.1.statusCode == 408)
        #expect(log.entries.last?.time == sec(32))
        #expect(layer.count == 0)
        #expect(layer.scheduledTimerCount == 0)
    }

    @Test func timerEUsesT2InProceeding() throws {
        let layer = TransactionLayer<String>()
        let register = makeRequest(.register)
        var log = TimedLog()
        let (id, first) = try layer.send(register, to: peer, reliable: false, now: .zero)
        log.record(first, at: .zero)
        let trying = makeResponse(to: register, 100)
        log.record(layer.receive(.response(trying), from: peer, reliable: false, now: ms(200)), at: ms(200))
        #expect(layer.state(of: .client(id)) == .proceeding)
        log.run(layer, until: sec(100))
        // E armed for T1 at the start fires at 0.5 s in Proceeding; from then on it is T2 until F at 32 s.
        #expect(log.sendTimes == [0, 500, 4500, 8500, 12500, 16500, 20500, 24500, 28500].map(ms))
        #expect(log.actions.delivered == [trying])
        #expect(log.actions.timeouts.map(\.0) == [id])
        #expect(log.entries.last?.time == sec(32))
    }

    @Test func nonInviteFinalCompletesThenTimerK() throws {
        let layer = TransactionLayer<String>()
        let bye = makeRequest(.bye, toTag: "uas-tag")
        let (id, _) = try layer.send(bye, to: peer, reliable: false, now: .zero)
        let ok = makeResponse(to: bye, 200)
        #expect(layer.receive(.response(ok), from: peer, reliable: false, now: ms(300)) == [.response(ok, id)])
        #expect(layer.state(of: .client(id)) == .completed)
        // Retransmissions are absorbed in Completed.
        #expect(layer.receive(.response(ok), from: peer, reliable: false, now: ms(400)).isEmpty)
        var log = TimedLog()
        log.run(layer, until: sec(100))
        #expect(log.entries.map(\.time) == [ms(300) + .seconds(5)]) // Timer K = T4, no retransmission
        #expect(log.actions == [.terminated(.client(id))])
        #expect(layer.count == 0)
    }

    @Test func nonInviteOverReliableTransport() throws {
        let layer = TransactionLayer<String>()
        let msg = makeRequest(.message, transport: "TLS")
        var log = TimedLog()
        let (id, first) = try layer.send(msg, to: peer, reliable: true, now: .zero)
        log.record(first, at: .zero)
        log.run(layer, until: sec(10))
        #expect(log.sendTimes == [.zero])
        let out = layer.receive(.response(makeResponse(to: msg, 202)), from: peer, reliable: true, now: sec(10))
        #expect(out.delivered.map(\.statusCode) == [202])
        #expect(out.terminated == [.client(id)]) // K = 0
        #expect(layer.count == 0)
        #expect(layer.nextDeadline == nil)
    }

    @Test func nonInviteTransportError() throws {
        let layer = TransactionLayer<String>()
        let (a, _) = try layer.send(makeRequest(.options, branch: "z9hG4bK-1"), to: "x", reliable: false, now: .zero)
        let (b, _) = try layer.send(makeRequest(.options, branch: "z9hG4bK-2"), to: "y", reliable: false, now: .zero)
        let out = layer.transportError(peer: "x", now: ms(5))
        #expect(out.transportErrors.map(\.0) == [.client(a)])
        #expect(layer.state(of: .client(b)) == .trying)
        #expect(layer.count == 1)
    }

    // MARK: send() validation

    @Test func sendAddsBranchWhenMissing() throws {
        let layer = TransactionLayer<String>(branchGenerator: branchCounter("t"))
        let (id, out) = try layer.send(makeRequest(.options, branch: nil), to: peer, reliable: false, now: .zero)
        let sent = try #require(out.sentRequests.first)
        #expect(sent.headers.first("Via") == "SIP/2.0/UDP client.example.com:5060;branch=z9hG4bK-t-1")
        #expect(layer.request(of: .client(id)) == sent)
        #expect(layer.peer(of: .client(id)) == peer)
        let response = makeResponse(to: sent, 200)
        #expect(layer.clientTransaction(matching: response) == id)
    }

    @Test func sendRejectsBadRequests() throws {
        let layer = TransactionLayer<String>()
        #expect(throws: TransactionError.ackIsNotATransaction) {
            try layer.send(makeRequest(.ack), to: peer, reliable: false, now: .zero)
        }
        var noVia = makeRequest(.options)
        noVia.headers.remove("Via")
        #expect(throws: TransactionError.missingVia) { try layer.send(noVia, to: peer, reliable: false, now: .zero) }
        var noCSeq = makeRequest(.options)
        noCSeq.headers.remove("CSeq")
        #expect(throws: TransactionError.missingCSeq) { try layer.send(noCSeq, to: peer, reliable: false, now: .zero) }
        #expect(throws: TransactionError.cseqMethodMismatch) {
            try layer.send(makeRequest(.options, cseqMethod: .invite), to: peer, reliable: false, now: .zero)
        }
        _ = try layer.send(makeRequest(.options), to: peer, reliable: false, now: .zero)
        #expect(throws: TransactionError.duplicateTransaction(ClientTransactionKey(branch: "z9hG4bK-branch-1", method: .options))) {
            try layer.send(makeRequest(.options), to: peer, reliable: false, now: .zero)
        }
        #expect(layer.count == 1)
    }

    @Test func responseMatchingUsesBranchAndCSeqMethod() throws {
        let layer = TransactionLayer<String>()
        let invite = makeRequest(.invite)
        let (inviteID, _) = try layer.send(invite, to: peer, reliable: false, now: .zero)
        _ = layer.receive(.response(makeResponse(to: invite, 180)), from: peer, reliable: false, now: ms(1))
        // CANCEL shares the INVITE's branch but is a transaction of its own (§9.1, §17.1.3).
        let cancel = try #require(layer.makeCancel(for: inviteID))
        #expect(cancel.method == .cancel)
        #expect(cancel.requestURI == invite.requestURI)
        #expect(cancel.headers.rawValues("Via") == [invite.headers.first("Via")!])
        #expect(cancel.headers.first("CSeq") == "1 CANCEL")
        #expect(cancel.headers.first("To") == invite.headers.first("To"))
        #expect(cancel.headers.first("From") == invite.headers.first("From"))
        #expect(cancel.headers.first("Call-ID") == invite.headers.first("Call-ID"))
        let (cancelID, _) = try layer.send(cancel, to: peer, reliable: false, now: ms(2))
        #expect(cancelID != inviteID)
        let cancelOK = makeResponse(to: cancel, 200)
        #expect(layer.receive(.response(cancelOK), from: peer, reliable: false, now: ms(3)) == [.response(cancelOK, cancelID)])
        let terminated = makeResponse(to: invite, 487)
        let out = layer.receive(.response(terminated), from: peer, reliable: false, now: ms(4))
        #expect(out.delivered == [terminated])
        #expect(out.sentRequests.map(\.method) == [.ack])
        // A response with another branch, or with a CSeq method of no transaction, is stray.
        var otherBranch = makeResponse(to: makeRequest(.invite, branch: "z9hG4bK-other"), 200)
        #expect(layer.receive(.response(otherBranch), from: peer, reliable: false, now: ms(5)) == [.strayResponse(otherBranch, from: peer)])
        otherBranch = makeResponse(to: makeRequest(.bye), 200)
        #expect(layer.receive(.response(otherBranch), from: peer, reliable: false, now: ms(5)).strays.count == 1)
        #expect(layer.makeCancel(for: cancelID) == nil)
    }
}
