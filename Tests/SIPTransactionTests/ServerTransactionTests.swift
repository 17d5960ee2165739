import SIPCore
import Testing
@testable import SIPTransaction

@Suite("Server transactions")
struct ServerTransactionTests {
    let peer = "uac"

    /// Receives `request` on a fresh layer and returns the layer and the new transaction.
    func received(
        _ request: SIPRequest, config: SIPTimerConfig = .rfc3261, reliable: Bool = false
    ) throws -> (TransactionLayer<String>, ServerTransactionID, [Action]) {
        let layer = TransactionLayer<String>(config: config)
        let out = layer.receive(.request(request), from: peer, reliable: reliable, now: .zero)
        let id = try #require(out.newRequests.first?.1)
        return (layer, id, out)
    }

    // MARK: INVITE, Figure 7 / RFC 6026

    @Test func newInviteGoesToTUAnd100TryingFollowsAfter200ms() throws {
        let invite = makeRequest(.invite)
        var withTimestamp = invite
        withTimestamp.headers.add("Timestamp", "54")
        let (layer, id, out) = try received(withTimestamp)
        #expect(out == [.request(withTimestamp, id, from: peer)])
        #expect(layer.state(of: .server(id)) == .proceeding)
        #expect(layer.nextDeadline == ms(200))
        var log = TimedLog()
        log.run(layer, until: sec(1))
        let trying = try #require(log.actions.sentResponses.first)
        #expect(log.entries.map(\.time) == [ms(200)])
        #expect(trying.statusCode == 100)
        #expect(trying.headers.first("Via") == invite.headers.first("Via"))
        #expect(trying.headers.first("To") == invite.headers.first("To")) // no tag needed on 100
        #expect(trying.headers.first("Timestamp") == "54")               // §8.2.6.1
        #expect(trying.headers.first("CSeq") == "1 INVITE")
    }

    @Test func noTryingWhenTURespondsWithin200ms() throws {
        let invite = makeRequest(.invite)
        let (layer, id, _) = try received(invite)
        let ringing = makeResponse(to: invite, 180)
        #expect(layer.respond(id, ringing, now: ms(150)) == [.send(.response(ringing), to: peer, reliable: false)])
        #expect(layer.nextDeadline == nil) // the Trying timer is cancelled
        var log = TimedLog()
        log.run(layer, until: sec(1))
        #expect(log.entries.isEmpty)
    }

    @Test func tryingImmediatelyWhenConfigured() throws {
        let invite = makeRequest(.invite)
        let (layer, id, out) = try received(invite, config: SIPTimerConfig(inviteTryingDelay: .zero))
        #expect(out.sentStatusCodes == [100])
        #expect(out.last == .request(invite, id, from: peer))
        #expect(layer.nextDeadline == nil)
    }

    @Test func noTryingWhenDisabled() throws {
        let invite = makeRequest(.invite)
        let (layer, _, out) = try received(invite, config: SIPTimerConfig(inviteTryingDelay: nil))
        #expect(out.sentResponses.isEmpty)
        #expect(layer.receive(.request(invite), from: peer, reliable: false, now: ms(500)).isEmpty)
    }

    @Test func inviteRetransmissionsAreAbsorbedAndAnsweredWithTheLastResponse() throws {
        let invite = makeRequest(.invite)
        let (layer, id, _) = try received(invite)
        // Before any provisional: 100 Trying right away, the TU sees nothing.
        let r1 = layer.receive(.request(invite), from: peer, reliable: false, now: ms(100))
        #expect(r1.sentStatusCodes == [100])
        #expect(r1.newRequests.isEmpty)
        #expect(layer.nextDeadline == nil)
        #expect(layer.receive(.request(invite), from: peer, reliable: false, now: ms(150)).sentStatusCodes == [100])
        let ringing = makeResponse(to: invite, 180)
        _ = layer.respond(id, ringing, now: ms(200))
        #expect(layer.receive(.request(invite), from: peer, reliable: false, now: ms(500)) == [.send(.response(ringing), to: peer, reliable: false)])
        let busy = makeResponse(to: invite, 486)
        _ = layer.respond(id, busy, now: ms(600))
        #expect(layer.state(of: .server(id)) == .completed)
        #expect(layer.receive(.request(invite), from: peer, reliable: false, now: ms(700)) == [.send(.response(busy), to: peer, reliable: false)])
        #expect(layer.serverCount == 1)
    }

    @Test func timerGRetransmitsFinalUntilTimerH() throws {
        let invite = makeRequest(.invite)
        let (layer, id, _) = try received(invite)
        let busy = makeResponse(to: invite, 486)
        var log = TimedLog()
        log.record(layer.respond(id, busy, now: ms(100)), at: ms(100))
        log.run(layer, until: sec(100))
        // Sent at 0.1 s, then G after 0.5, 1, 2, 4, 4, 4, ... s until H at 0.1 + 32 s.
        let expected = [100, 600, 1600, 3600, 7600, 11600, 15600, 19600, 23600, 27600, 31600].map(ms)
        #expect(log.sendTimes == expected)
        #expect(log.actions.sentResponses.allSatisfy { $0 == busy })
        #expect(log.actions.ackTimeouts == [id])
        #expect(log.actions.terminated == [.server(id)])
        #expect(log.entries.last?.time == ms(32_100))
        #expect(layer.count == 0)
        #expect(layer.scheduledTimerCount == 0)
    }

    @Test func ackConfirmsThenTimerI() throws {
        let invite = makeRequest(.invite)
        let (layer, id, _) = try received(invite)
        let busy = makeResponse(to: invite, 486)
        var log = TimedLog()
        log.record(layer.respond(id, busy, now: ms(100)), at: ms(100))
        log.run(layer, until: ms(1700)) // G retransmissions at 0.6 and 1.6
        let ack = TxnMessages.ack(for: invite, response: busy)
        let out = layer.receive(.request(ack), from: peer, reliable: false, now: ms(1800))
        #expect(out.isEmpty) // absorbed: the TU never sees the ACK for a non-2xx
        #expect(layer.state(of: .server(id)) == .confirmed)
        // Confirmed absorbs ACK and INVITE retransmissions.
        #expect(layer.receive(.request(ack), from: peer, reliable: false, now: ms(1900)).isEmpty)
        #expect(layer.receive(.request(invite), from: peer, reliable: false, now: ms(2000)).isEmpty)
        log.run(layer, until: sec(100))
        #expect(log.sendTimes == [100, 600, 1600].map(ms)) // G stopped
        #expect(log.actions.ackTimeouts.isEmpty)
        #expect(log.entries.last?.time == ms(1800) + .seconds(5)) // Timer I = T4
        #expect(log.actions.terminated == [.server(id)])
        #expect(layer.count == 0)
    }

    @Test func reliableInviteServerHasNoTimerGAndNoTimerI() throws {
        let invite = makeRequest(.invite, transport: "TCP")
        let (layer, id, _) = try received(invite, reliable: true)
        let busy = makeResponse(to: invite, 603)
        _ = layer.respond(id, busy, now: ms(10))
        #expect(layer.nextDeadline == ms(10) + .seconds(32)) // only H
        let out = layer.receive(.request(TxnMessages.ack(for: invite, response: busy)), from: peer, reliable: true, now: ms(20))
        #expect(out == [.terminated(.server(id))])
        #expect(layer.count == 0)
        #expect(layer.nextDeadline == nil)
    }

    @Test func rfc6026AcceptedState() throws {
        let invite = makeRequest(.invite)
        let (layer, id, _) = try received(invite)
        let ok = makeResponse(to: invite, 200)
        #expect(layer.respond(id, ok, now: ms(100)) == [.send(.response(ok), to: peer, reliable: false)])
        #expect(layer.state(of: .server(id)) == .accepted)
        // INVITE retransmissions are absorbed (neither re-answered nor passed up as a new request).
        #expect(layer.receive(.request(invite), from: peer, reliable: false, now: ms(500)).isEmpty)
        // The transaction never retransmits the 2xx itself; the TU's retransmissions go out.
        var log = TimedLog()
        log.run(layer, until: sec(10))
        #expect(log.entries.isEmpty)
        #expect(layer.respond(id, ok, now: sec(10)) == [.send(.response(ok), to: peer, reliable: false)])
        // The ACK for the 2xx (new branch) matches no transaction: stateless pass-through to the TU.
        let ack = makeAckFor2xx(invite, ok, branch: "z9hG4bK-ack-1")
        #expect(layer.receive(.request(ack), from: peer, reliable: false, now: sec(11)) == [.ack(ack, from: peer, transaction: nil)])
        // An ACK that matches the INVITE transaction in Accepted goes to the TU too (RFC 6026 §7.1).
        let sameBranchAck = makeAckFor2xx(invite, ok, branch: "z9hG4bK-branch-1")
        #expect(layer.receive(.request(sameBranchAck), from: "other", reliable: false, now: sec(12)) == [.ack(sameBranchAck, from: "other", transaction: id)])
        // Other finals from the TU are dropped.
        #expect(layer.respond(id, makeResponse(to: invite, 500), now: sec(13)).isEmpty)
        // Timer L (64*T1 after the first 2xx) ends it.
        log.run(layer, until: sec(100))
        #expect(log.entries.map(\.time) == [ms(32_100)])
        #expect(log.actions == [.terminated(.server(id))])
        #expect(layer.count == 0)
        // Later ACKs and 2xx from the TU: pass-through / ignored.
        #expect(layer.receive(.request(sameBranchAck), from: peer, reliable: false, now: sec(101)) == [.ack(sameBranchAck, from: peer, transaction: nil)])
        #expect(layer.respond(id, ok, now: sec(101)).isEmpty)
        // A late INVITE retransmission would now be a new transaction (why Accepted lasts 64*T1).
        #expect(layer.receive(.request(invite), from: peer, reliable: false, now: sec(102)).newRequests.count == 1)
    }

    /// Responses are kept only while a state can resend them: under call load 32 s of Accepted INVITE
    /// transactions (Timer L) would otherwise each hold a 180 and a 200 with SDP.
    @Test func responsesAreReleasedOnceNoStateCanResendThem() {
        let invite = makeRequest(.invite)
        var accepted = ServerInviteTransaction(request: invite, reliable: false)
        _ = accepted.handle(.start)
        let ringing = makeResponse(to: invite, 180)
        _ = accepted.handle(.tuResponse(ringing))
        #expect(accepted.lastProvisional == ringing)
        #expect(accepted.handle(.request(invite)) == [.send(ringing)])   // Proceeding resends the 180
        let ok = makeResponse(to: invite, 200)
        _ = accepted.handle(.tuResponse(ok))
        #expect(accepted.state == .accepted)
        #expect(accepted.lastProvisional == nil && accepted.lastFinal == nil)
        #expect(accepted.handle(.tuResponse(ok)) == [.send(ok)])          // the TU's 2xx still go out
        #expect(accepted.lastFinal == nil)

        var refused = ServerInviteTransaction(request: invite, reliable: false)
        _ = refused.handle(.start)
        _ = refused.handle(.tuResponse(ringing))
        let busy = makeResponse(to: invite, 486)
        _ = refused.handle(.tuResponse(busy))
        #expect(refused.lastProvisional == nil && refused.lastFinal == busy)
        #expect(refused.handle(.request(invite)) == [.send(busy)])        // Completed resends the 486
        _ = refused.handle(.ack(TxnMessages.ack(for: invite, response: busy)))
        #expect(refused.state == .confirmed)
        #expect(refused.lastFinal == nil)
        #expect(refused.handle(.request(invite)) == [])                   // Confirmed absorbs
    }

    /// Once answered, an INVITE transaction keeps only the fields its later messages are built from.
    @Test func answeredInvitesKeepOnlyTheirRecord() {
        var invite = makeRequest(.invite, routes: ["<sip:p1.example.com;lr>"], lowerVias: ["SIP/2.0/UDP lower.example.com;branch=z9hG4bK-low"])
        invite.headers.add("Contact", "<sip:alice@192.0.2.1>")
        invite.headers.add("Content-Type", "application/sdp")
        invite.body = Array("v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\ns=-\r\n".utf8)
        let record = TxnMessages.finalRecord(of: invite)
        #expect(record.body.isEmpty && record.requestURI == invite.requestURI && record.method == .invite)
        #expect(Set(record.headers.map(\.canonicalName)) == ["via", "from", "to", "call-id", "cseq", "route", "max-forwards"])
        #expect(record.headers.rawValues("Via") == invite.headers.rawValues("Via"))
        // What later states build from the record is what they built from the whole INVITE.
        let busy = makeResponse(to: invite, 486)
        #expect(TxnMessages.ack(for: record, response: busy) == TxnMessages.ack(for: invite, response: busy))
        #expect(TxnMessages.cancel(for: record) == TxnMessages.cancel(for: invite))
        #expect(record.makeResponse(statusCode: 408) == invite.makeResponse(statusCode: 408))

        var server = ServerInviteTransaction(request: invite, reliable: false)
        _ = server.handle(.start)
        #expect(server.request == invite)
        _ = server.handle(.tuResponse(makeResponse(to: invite, 200)))
        #expect(server.request == record)

        var client = ClientInviteTransaction(request: invite, reliable: false)
        _ = client.handle(.start)
        _ = client.handle(.response(makeResponse(to: invite, 180)))
        #expect(client.request == invite)
        let sent = client.handle(.response(busy))
        #expect(client.request == record)
        #expect(sent.contains(.send(.request(TxnMessages.ack(for: invite, response: busy)))))
        // A retransmitted final gets the same ACK again.
        #expect(client.handle(.response(busy)) == [.send(.request(TxnMessages.ack(for: invite, response: busy)))])
    }

    @Test func serverTransportErrors() throws {
        let invite = makeRequest(.invite)
        let (layer, id, _) = try received(invite)
        _ = layer.respond(id, makeResponse(to: invite, 200), now: ms(1))
        // Accepted: the TU is told, the transaction keeps absorbing until Timer L.
        #expect(layer.transportError(.server(id), now: ms(2)) == [.transportError(.server(id), response: nil)])
        #expect(layer.state(of: .server(id)) == .accepted)

        let (layer2, id2, _) = try received(invite)
        _ = layer2.respond(id2, makeResponse(to: invite, 404), now: ms(1))
        #expect(layer2.transportError(.server(id2), now: ms(2)) == [.transportError(.server(id2), response: nil), .terminated(.server(id2))])
        #expect(layer2.count == 0)

        let (layer3, id3, _) = try received(makeRequest(.options))
        #expect(layer3.transportError(peer: peer, now: ms(1)).isEmpty) // Trying: nothing was sent
        _ = layer3.respond(id3, makeResponse(to: makeRequest(.options), 200), now: ms(2))
        #expect(layer3.transportError(peer: peer, now: ms(3)).terminated == [.server(id3)])
    }

    // MARK: non-INVITE, Figure 8

    @Test func nonInviteServerTryingProceedingCompletedTimerJ() throws {
        let req = makeRequest(.subscribe)
        let (layer, id, out) = try received(req)
        #expect(out == [.request(req, id, from: peer)])
        #expect(layer.state(of: .server(id)) == .trying)
        #expect(layer.nextDeadline == nil) // no 100 Trying for non-INVITE
        // Trying: retransmissions are absorbed silently.
        #expect(layer.receive(.request(req), from: peer, reliable: false, now: ms(500)).isEmpty)
        // Proceeding: the last provisional answers retransmissions.
        let p = makeResponse(to: req, 100)
        #expect(layer.respond(id, p, now: ms(600)).sentStatusCodes == [100])
        #expect(layer.state(of: .server(id)) == .proceeding)
        #expect(layer.receive(.request(req), from: peer, reliable: false, now: ms(1500)).sentResponses == [p])
        // Completed: the final answers them; further finals from the TU are discarded.
        let ok = makeResponse(to: req, 202)
        // Over UDP the final goes out as bytes, kept for retransmissions while Timer J runs.
        #expect(layer.respond(id, ok, now: sec(2)) == [.sendWire(SIPMessage.response(ok).serialized(), to: peer, reliable: false)])
        #expect(layer.state(of: .server(id)) == .completed)
        #expect(layer.request(of: .server(id)) == nil)
        #expect(layer.peer(of: .server(id)) == peer)
        #expect(layer.serverCount == 1)
        #expect(layer.respond(id, makeResponse(to: req, 500), now: sec(3)).isEmpty)
        #expect(layer.receive(.request(req), from: peer, reliable: false, now: sec(4)).sentResponses == [ok])
        var log = TimedLog()
        log.run(layer, until: sec(100))
        #expect(log.entries.map(\.time) == [sec(34)]) // Timer J = 64*T1, no retransmission of its own
        #expect(log.actions == [.terminated(.server(id))])
        #expect(layer.count == 0)
    }

    @Test func completedNonInviteOverUDPKeepsOnlyItsResponseBytes() throws {
        let req = makeRequest(.register)
        let (layer, id, _) = try received(req)
        let key = try #require(ServerTransactionKey(request: req))
        #expect(layer.storedResponse(for: key) == nil)      // Trying: nothing to resend yet
        let ok = makeResponse(to: req, 200)
        _ = layer.respond(id, ok, now: ms(10))
        let stored = try #require(layer.storedResponse(for: key))
        #expect(stored.wire == SIPMessage.response(ok).serialized())
        #expect(stored.peer == peer)
        // Once Timer J ends the transaction, a late copy of the request is a new request again.
        var log = TimedLog()
        log.run(layer, until: sec(40))
        #expect(layer.storedResponse(for: key) == nil)
        #expect(layer.hasServerTransaction(key) == false)
        // An abandoned one goes at once.
        let (layer2, id2, _) = try received(req)
        _ = layer2.respond(id2, ok, now: ms(10))
        #expect(layer2.abandon(.server(id2)) == [.terminated(.server(id2))])
        #expect(layer2.storedResponse(for: key) == nil)
        #expect(layer2.count == 0)
    }

    @Test func nonInviteServerOverReliableTerminatesWithTheFinal() throws {
        let req = makeRequest(.register, transport: "TCP")
        let (layer, id, _) = try received(req, reliable: true)
        let out = layer.respond(id, makeResponse(to: req, 200), now: ms(3))
        #expect(out.sentStatusCodes == [200])
        #expect(out.terminated == [.server(id)]) // J = 0
        #expect(layer.count == 0)
    }

    @Test func machinesIgnoreEventsThatDoNotApply() {
        var s = ServerNonInviteTransaction(request: makeRequest(.options), reliable: false)
        #expect(s.handle(.timerFired(.j)) == [])
        #expect(s.handle(.ack(makeRequest(.ack))) == [])
        _ = s.handle(.start)
        #expect(s.handle(.tuResponse(SIPResponse(statusCode: 42))) == [])
        #expect(s.handle(.timerFired(.g)) == [])
        var i = ServerInviteTransaction(request: makeRequest(.invite), reliable: false)
        _ = i.handle(.start)
        #expect(i.handle(.ack(makeRequest(.ack))) == [])
        #expect(i.handle(.timerFired(.h)) == [])
        #expect(i.state == .proceeding)
    }
}
