import SIPCore
import Testing
@testable import SIPTransaction

@Suite("Matching")
struct MatchingTests {
    let peer = "uac"

    // MARK: header fields

    @Test func keysFromCompactAndFoldedHeaders() throws {
        var h = SIPHeaders()
        h.add("v", "SIP/2.0/UDP Client.Example.COM:5060;branch=z9hG4bK1, SIP/2.0/UDP b.example;branch=z9hG4bK2")
        h.add("i", "abc@def")
        h.add("f", "\"Bob; the <one>\" <sip:a@b;tag=uri-param>;tag=1")
        h.add("t", "<sip:c@d;tag=uri-param>")
        h.add("CSeq", "7 REGISTER")
        let request = SIPRequest(method: .register, requestURI: "sip:d", headers: h)
        #expect(ServerTransactionKey(request: request) == .rfc3261(branch: "z9hG4bK1", sentBy: "client.example.com:5060", method: .register))
        var old = request
        old.headers = TxnMessages.replacingTopVia(in: h, with: "SIP/2.0/UDP Client.Example.COM:5060 ")
        #expect(old.headers.first("Via") == "SIP/2.0/UDP Client.Example.COM:5060 , SIP/2.0/UDP b.example;branch=z9hG4bK2")
        #expect(old.headers.fields.first?.name == "v") // kept in place, as written
        #expect(ServerTransactionKey(request: old) == .rfc2543(
            requestURI: "sip:d", toTag: nil, fromTag: "1", callID: "abc@def", sequence: 7, method: .register,
            topVia: "SIP/2.0/UDP Client.Example.COM:5060"))
        var response = SIPResponse(statusCode: 200, headers: h)
        #expect(ClientTransactionKey(response: response) == ClientTransactionKey(branch: "z9hG4bK1", method: .register))
        response.headers.remove("CSeq")
        #expect(ClientTransactionKey(response: response) == nil)
    }

    @Test func sentByComparesHostsCaseInsensitively() {
        let a = makeRequest(.options, sentBy: "Client.Example.com:5060")
        let b = makeRequest(.options, sentBy: "client.EXAMPLE.com:5060")
        #expect(ServerTransactionKey(request: a) == ServerTransactionKey(request: b))
        #expect(ServerTransactionKey(request: makeRequest(.options, sentBy: "[2001:DB8::1]:5061"))
            == .rfc3261(branch: "z9hG4bK-branch-1", sentBy: "[2001:db8::1]:5061", method: .options))
    }

    @Test func branchWithoutMagicCookieIsNotATransactionID() {
        let r = makeRequest(.options, branch: "1234")
        guard case .rfc2543? = ServerTransactionKey(request: r) else {
            Issue.record("expected RFC 2543 matching")
            return
        }
    }

    // MARK: RFC 3261 §17.2.3

    @Test func serverKeysUseBranchSentByAndMethod() {
        let invite = makeRequest(.invite)
        let key = ServerTransactionKey(request: invite)
        #expect(key == .rfc3261(branch: "z9hG4bK-branch-1", sentBy: "client.example.com:5060", method: .invite))
        // ACK maps to the INVITE, CANCEL is its own method.
        #expect(ServerTransactionKey(request: makeRequest(.ack)) == key)
        #expect(ServerTransactionKey(request: makeRequest(.cancel)) != key)
        #expect(ServerTransactionKey(inviteCancelledBy: makeRequest(.cancel)) == key)
        #expect(ServerTransactionKey(request: makeRequest(.invite, sentBy: "other.example.com:5060")) != key)
    }

    @Test func sameBranchFromAnotherSentByIsAnotherTransaction() {
        let layer = TransactionLayer<String>()
        let a = layer.receive(.request(makeRequest(.options)), from: peer, reliable: false, now: .zero)
        let b = layer.receive(.request(makeRequest(.options, sentBy: "evil.example.com")), from: "x", reliable: false, now: .zero)
        #expect(a.newRequests.count == 1)
        #expect(b.newRequests.count == 1)
        #expect(a.newRequests.first?.1 != b.newRequests.first?.1)
        #expect(layer.serverCount == 2)
    }

    @Test func serverTransactionLookupHelper() throws {
        let layer = TransactionLayer<String>()
        let invite = makeRequest(.invite)
        let id = try #require(layer.receive(.request(invite), from: peer, reliable: false, now: .zero).newRequests.first?.1)
        #expect(layer.serverTransaction(matching: invite) == id)
        #expect(layer.serverTransaction(matching: makeRequest(.ack)) == id)
        #expect(layer.serverTransaction(matching: makeRequest(.cancel)) == nil)
        #expect(layer.serverTransaction(matching: makeRequest(.invite, branch: "z9hG4bK-2")) == nil)
    }

    // MARK: CANCEL, RFC 3261 §9.2

    @Test func cancelFindsItsInviteAndHasItsOwnTransaction() throws {
        let layer = TransactionLayer<String>()
        let invite = makeRequest(.invite)
        let inviteID = try #require(layer.receive(.request(invite), from: peer, reliable: false, now: .zero).newRequests.first?.1)
        let cancel = TxnMessages.cancel(for: invite)
        let out = layer.receive(.request(cancel), from: peer, reliable: false, now: ms(300))
        guard case .cancel(let r, let matching, let own, let from)? = out.first, out.count == 1 else {
            Issue.record("expected one .cancel, got \(out)")
            return
        }
        #expect(r == cancel)
        #expect(matching == inviteID)
        #expect(own != inviteID)
        #expect(from == peer)
        #expect(layer.matchingInvite(forCancel: cancel) == inviteID)
        #expect(layer.serverCount == 2)
        // The CANCEL retransmission hits the CANCEL transaction, not the INVITE one.
        #expect(layer.receive(.request(cancel), from: peer, reliable: false, now: ms(400)).isEmpty)
        // The TU answers 200 to the CANCEL and 487 to the INVITE.
        #expect(layer.respond(own, makeResponse(to: cancel, 200), now: ms(500)).sentStatusCodes == [200])
        #expect(layer.respond(inviteID, makeResponse(to: invite, 487), now: ms(500)).sentStatusCodes == [487])
        #expect(layer.receive(.request(cancel), from: peer, reliable: false, now: ms(600)).sentStatusCodes == [200])
        #expect(layer.state(of: .server(inviteID)) == .completed)
    }

    @Test func cancelWithoutInvite() throws {
        let layer = TransactionLayer<String>()
        _ = layer.receive(.request(makeRequest(.invite, branch: "z9hG4bK-a")), from: peer, reliable: false, now: .zero)
        let cancel = makeRequest(.cancel, branch: "z9hG4bK-b")
        let out = layer.receive(.request(cancel), from: peer, reliable: false, now: .zero)
        guard case .cancel(_, let matching, let own, _)? = out.first else {
            Issue.record("expected .cancel, got \(out)")
            return
        }
        #expect(matching == nil)
        #expect(layer.respond(own, makeResponse(to: cancel, 481), now: ms(1)).sentStatusCodes == [481])
        // A non-INVITE transaction with the same branch is not a CANCEL target.
        let opt = makeRequest(.options, branch: "z9hG4bK-c")
        _ = layer.receive(.request(opt), from: peer, reliable: false, now: .zero)
        #expect(layer.matchingInvite(forCancel: makeRequest(.cancel, branch: "z9hG4bK-c")) == nil)
    }

    // MARK: RFC 2543 fallback

    @Test func rfc2543RequestsMatchOnTheOldFields() throws {
        let layer = TransactionLayer<String>()
        let invite = makeRequest(.invite, branch: nil, sentBy: "old.example.com")
        let out = layer.receive(.request(invite), from: peer, reliable: false, now: .zero)
        let id = try #require(out.newRequests.first?.1)
        if case .rfc2543(let uri, let toTag, let fromTag, let callID, let seq, let method, let via)? = ServerTransactionKey(request: invite) {
            #expect(uri == "sip:bob@example.com")
            #expect(toTag == nil)
            #expect(fromTag == "from-tag-1")
            #expect(callID == "call-1@client.example.com")
            #expect(seq == 1)
            #expect(method == .invite)
            #expect(via == "SIP/2.0/UDP old.example.com")
        } else {
            Issue.record("expected an RFC 2543 key")
        }
        // Retransmission: same fields.
        #expect(layer.receive(.request(invite), from: peer, reliable: false, now: ms(100)).sentStatusCodes == [100])
        // A branch without the magic cookie is no transaction id either: the old rules still apply.
        let oldBranch = makeRequest(.invite, branch: "123abc", sentBy: "old.example.com")
        #expect(layer.receive(.request(oldBranch), from: peer, reliable: false, now: ms(100)).newRequests.count == 1)
        // Another CSeq, Call-ID, From tag or Request-URI: new transactions.
        #expect(layer.receive(.request(makeRequest(.invite, cseq: 2, branch: nil, sentBy: "old.example.com")), from: peer, reliable: false, now: ms(200)).newRequests.count == 1)
        #expect(layer.receive(.request(makeRequest(.invite, callID: "x", branch: nil, sentBy: "old.example.com")), from: peer, reliable: false, now: ms(200)).newRequests.count == 1)
        #expect(layer.receive(.request(makeRequest(.invite, branch: nil, sentBy: "old.example.com", fromTag: "other")), from: peer, reliable: false, now: ms(200)).newRequests.count == 1)
        #expect(layer.receive(.request(makeRequest(.invite, branch: nil, sentBy: "old.example.com", uri: "sip:carol@example.com")), from: peer, reliable: false, now: ms(200)).newRequests.count == 1)
        #expect(layer.serverCount == 6)

        // The ACK matches by the To tag of the response the transaction sent.
        let busy = makeResponse(to: invite, 486, toTag: "resp-tag")
        _ = layer.respond(id, busy, now: ms(300))
        let wrongTag = TxnMessages.ack(for: invite, response: makeResponse(to: invite, 486, toTag: "other-tag"))
        #expect(layer.receive(.request(wrongTag), from: peer, reliable: false, now: ms(350)) == [.ack(wrongTag, from: peer, transaction: nil)])
        #expect(layer.state(of: .server(id)) == .completed)
        let ack = TxnMessages.ack(for: invite, response: busy)
        #expect(layer.receive(.request(ack), from: peer, reliable: false, now: ms(400)).isEmpty)
        #expect(layer.state(of: .server(id)) == .confirmed)
        var log = TimedLog()
        log.run(layer, until: sec(100))
        #expect(log.actions.terminated == [.server(id)]) // Timer I
        #expect(layer.state(of: .server(id)) == nil)
        #expect(layer.serverCount == 5) // the others still wait for their TU
    }

    @Test func rfc2543CancelAndNonInvite() throws {
        let layer = TransactionLayer<String>()
        let invite = makeRequest(.invite, branch: nil, sentBy: "old.example.com")
        let inviteID = try #require(layer.receive(.request(invite), from: peer, reliable: false, now: .zero).newRequests.first?.1)
        let cancel = TxnMessages.cancel(for: invite)
        guard case .cancel(_, let matching, let own, _)? = layer.receive(.request(cancel), from: peer, reliable: false, now: ms(1)).first else {
            Issue.record("expected .cancel")
            return
        }
        #expect(matching == inviteID)
        #expect(own != inviteID)
        let bye = makeRequest(.bye, cseq: 2, branch: nil, sentBy: "old.example.com", toTag: "t")
        let byeID = try #require(layer.receive(.request(bye), from: peer, reliable: false, now: ms(2)).newRequests.first?.1)
        _ = layer.respond(byeID, makeResponse(to: bye, 200), now: ms(3))
        #expect(layer.receive(.request(bye), from: peer, reliable: false, now: ms(4)).sentStatusCodes == [200])
        // 2xx to an RFC 2543 INVITE: the ACK for it (same Via, response To tag) reaches the TU with the transaction.
        let ok = makeResponse(to: invite, 200, toTag: "ok-tag")
        _ = layer.respond(inviteID, ok, now: ms(5))
        let ack = TxnMessages.ack(for: invite, response: ok)
        #expect(layer.receive(.request(ack), from: peer, reliable: false, now: ms(6)) == [.ack(ack, from: peer, transaction: inviteID)])
    }

    @Test func unusableRequestsAreDiscarded() {
        let layer = TransactionLayer<String>()
        var noVia = makeRequest(.options)
        noVia.headers.remove("Via")
        #expect(layer.receive(.request(noVia), from: peer, reliable: false, now: .zero) == [.discarded(.request(noVia), from: peer, reason: "no usable Via")])
        var noCSeq = makeRequest(.options, branch: nil)
        noCSeq.headers.remove("CSeq")
        #expect(layer.receive(.request(noCSeq), from: peer, reliable: false, now: .zero).count == 1)
        #expect(layer.count == 0)
        // An ACK that matches nothing is passed through even when malformed: the TU decides.
        var ack = makeRequest(.ack)
        ack.headers.remove("Via")
        #expect(layer.receive(.request(ack), from: peer, reliable: false, now: .zero) == [.ack(ack, from: peer, transaction: nil)])
    }
}
