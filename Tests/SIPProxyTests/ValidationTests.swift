import SIPCore
import Testing
@testable import SIPProxy

@Suite("Request validation (RFC 3261 §16.3)")
struct ValidationTests {
    @Test func validInviteProceedsUnchanged() throws {
        let req = try invite()
        let v = try validated(req)
        #expect(v.request == req)
        #expect(v.consumedRoutes.isEmpty)
        #expect(v.restoredFromStrictRoute == false)
        #expect(v.receivedRequestURI == "sip:bob@example.com")
    }

    @Test func maxForwardsZeroGives483WithToTag() throws {
        var req = try invite()
        req.headers.set("Max-Forwards", "0")
        let r = try #require(rejection(ProxyCore.validate(req, isLocalURI: isLocal, toTag: "p1")))
        #expect(r.statusCode == 483)
        #expect(r.reasonPhrase == "Too Many Hops")
        #expect(r.toTag == "p1")
        #expect(r.headers.values("Via") == req.headers.values("Via"))
        #expect(r.headers.first("CSeq") == "314159 INVITE")
    }

    @Test func optionsWithMaxForwardsZeroMayBeAnsweredLocally() throws {
        let req = try sipRequest("""
        OPTIONS sip:proxy.example.com SIP/2.0
        Via: SIP/2.0/UDP ua.example.com;branch=z9hG4bKopt1
        Max-Forwards: 0
        To: <sip:proxy.example.com>
        From: <sip:alice@example.com>;tag=o1
        Call-ID: opt-1
        CSeq: 1 OPTIONS
        """)
        #expect(ProxyCore.validate(req, isLocalURI: isLocal) == .answerLocally(req))
    }

    @Test func missingMaxForwardsIsTreatedAs70() throws {
        var req = try invite()
        req.headers.remove("Max-Forwards")
        let v = try validated(req)
        let fwd = ProxyCore.forward(v.request, via: ourVia)
        #expect(fwd.headers.values("Max-Forwards") == ["70"])
    }

    @Test func unsupportedSchemeGives416() throws {
        var req = try invite()
        req.requestURI = "mailto:bob@example.com"
        #expect(rejection(ProxyCore.validate(req, isLocalURI: isLocal))?.statusCode == 416)

        let tel = try sipRequest(inviteText.replacingFirstLine("INVITE tel:+15551234567 SIP/2.0"))
        #expect(rejection(ProxyCore.validate(tel, isLocalURI: isLocal))?.statusCode == nil)
        let sipOnly = ProxyOptions(supportedSchemes: ["sip", "sips"])
        let r = try #require(rejection(ProxyCore.validate(tel, isLocalURI: isLocal, options: sipOnly)))
        #expect(r.statusCode == 416)
        #expect(r.reasonPhrase == "Unsupported URI Scheme")
    }

    @Test func unsupportedProxyRequireGives420WithUnsupported() throws {
        var req = try invite()
        req.headers.add("Proxy-Require", "sec-agree, foo")
        let options = ProxyOptions(supportedOptionTags: ["Sec-Agree"])
        let r = try #require(rejection(ProxyCore.validate(req, isLocalURI: isLocal, options: options)))
        #expect(r.statusCode == 420)
        #expect(r.headers.values("Unsupported") == ["foo"])
        // Survives the wire.
        #expect(try wire(r).headers.first("Unsupported") == "foo")

        req.headers.set("Proxy-Require", "sec-agree")
        #expect(rejection(ProxyCore.validate(req, isLocalURI: isLocal, options: options)) == nil)
    }

    @Test func invalidAckIsDiscardedNotAnswered() throws {
        let ack = try sipRequest("""
        ACK sip:bob@example.com SIP/2.0
        Via: SIP/2.0/UDP alice-pc.example.com;branch=z9hG4bKack1
        Max-Forwards: 0
        To: <sip:bob@example.com>;tag=b1
        From: <sip:alice@example.com>;tag=a1
        Call-ID: ack-1
        CSeq: 1 ACK
        """)
        guard case .discard = ProxyCore.validate(ack, isLocalURI: isLocal) else {
            Issue.record("ACK must be discarded")
            return
        }
    }

    @Test func missingCallIDGives400() throws {
        var req = try invite()
        req.headers.remove("Call-ID")
        #expect(rejection(ProxyCore.validate(req, isLocalURI: isLocal))?.statusCode == 400)
    }
}

@Suite("Loop detection (RFC 3261 §16.3 step 4)")
struct LoopDetectionTests {
    /// The request after it went through us and came back through `other.example.net`.
    func cameBack(_ forwarded: SIPRequest, requestURI: String? = nil) throws -> SIPRequest {
        var back = forwarded
        back.headers.prepend("Via", "SIP/2.0/TCP other.example.net;branch=z9hG4bKother1")
        back.headers.set("Max-Forwards", String((forwarded.maxForwards ?? 70) - 1))
        if let requestURI { back.requestURI = requestURI }
        return try wire(back)
    }

    @Test func requestReturningUnchangedIsALoop() throws {
        let v = try validated(try invite())
        let fwd = ProxyCore.forward(v.request, via: ourVia)
        let back = try cameBack(fwd)
        let r = try #require(rejection(ProxyCore.validate(back, isLocalURI: isLocal)))
        #expect(r.statusCode == 482)
        #expect(r.reasonPhrase == "Loop Detected")
    }

    @Test func retargetedRequestIsASpiral() throws {
        let v = try validated(try invite())
        let fwd = ProxyCore.forward(v.request, via: ourVia)
        let back = try cameBack(fwd, requestURI: "sip:bob@192.0.2.77:5062")
        #expect(rejection(ProxyCore.validate(back, isLocalURI: isLocal)) == nil)
    }

    @Test func retargetedRequestForwardedUnchangedLoopsOnItsReturn() throws {
        // We retargeted to bob's contact; the request comes back (misconfigured downstream) with that R-URI.
        let v = try validated(try invite())
        let fwd = ProxyCore.forward(v.request, to: try uri("sip:bob@192.0.2.77"), via: ourVia)
        // Hash is over the request as we received it, so the same retargeted R-URI coming back is a spiral...
        let back = try cameBack(fwd)
        #expect(rejection(ProxyCore.validate(back, isLocalURI: isLocal)) == nil)
        // ...and when we forward that one unchanged again, the next return is a loop.
        let v2 = try validated(back)
        let fwd2 = ProxyCore.forward(v2.request, via: ourVia)
        let back2 = try cameBack(fwd2)
        #expect(rejection(ProxyCore.validate(back2, isLocalURI: isLocal))?.statusCode == 482)
    }

    @Test func differentRoleContextIsASpiral() throws {
        // Originating S-CSCF and terminating I-CSCF in the same process.
        let orig = ProxyOptions(loopContext: "scscf-orig")
        let v = try validated(try invite(), options: orig)
        let fwd = ProxyCore.forward(v.request, via: ourVia, loopContext: "scscf-orig")
        let back = try cameBack(fwd)
        #expect(rejection(ProxyCore.validate(back, isLocalURI: isLocal, options: ProxyOptions(loopContext: "icscf"))) == nil)
        #expect(rejection(ProxyCore.validate(back, isLocalURI: isLocal, options: orig))?.statusCode == 482)
        #expect(rejection(ProxyCore.validate(back, isLocalURI: isLocal, options: ProxyOptions(detectLoops: false))) == nil)
    }

    @Test func returnFromApplicationServerIsASpiral() throws {
        // S-CSCF pushes Route: AS, then itself with an orig-dialog-id; the AS sends the request back unchanged.
        let v = try validated(try invite())
        var toAS = v.request
        toAS.headers.add("Route", "<sip:as.example.com;lr>, <sip:proxy.example.com;lr;odi=abc123>")
        let fwd = ProxyCore.forward(toAS, via: ourVia)
        #expect(ProxyCore.nextHop(for: fwd) == (try uri("sip:as.example.com;lr")))
        var back = fwd
        back.headers.removeFirstValue("Route") // the AS consumed its own Route
        back = try cameBack(back)
        let v2 = try validated(back)
        #expect(v2.consumedRoutes.map { $0.uri.sipURI?.parameters["odi"] } == [.some("abc123")])
        #expect(v2.request.headers.values("Route").isEmpty)
    }

    @Test func loopDetectionBranchCoversTheRFCFields() throws {
        let req = try invite()
        let h = ProxyCore.loopDetectionBranch(for: req)
        #expect(h.count == 16)
        #expect(ProxyCore.loopDetectionBranch(for: try invite()) == h)

        var other = req
        other.requestURI = "sip:carol@example.com"
        #expect(ProxyCore.loopDetectionBranch(for: other) != h)
        other = req
        other.headers.set("To", "Bob <sip:bob@example.com>;tag=x")
        #expect(ProxyCore.loopDetectionBranch(for: other) != h)
        other = req
        other.headers.set("From", "Alice <sip:alice@example.com>;tag=y")
        #expect(ProxyCore.loopDetectionBranch(for: other) != h)
        other = req
        other.headers.set("Call-ID", "zzz")
        #expect(ProxyCore.loopDetectionBranch(for: other) != h)
        other = req
        other.headers.set("CSeq", "314160 INVITE")
        #expect(ProxyCore.loopDetectionBranch(for: other) != h)
        other = req
        other.headers.set("Via", "SIP/2.0/UDP elsewhere.example.com;branch=z9hG4bKzz")
        #expect(ProxyCore.loopDetectionBranch(for: other) != h)
        other = req
        other.headers.add("Proxy-Require", "foo")
        #expect(ProxyCore.loopDetectionBranch(for: other) != h)
        // Not covered: Max-Forwards, the body, the CSeq method (a CANCEL shares the INVITE's branch).
        other = req
        other.headers.set("Max-Forwards", "12")
        other.body = []
        other.headers.set("CSeq", "314159 CANCEL")
        #expect(ProxyCore.loopDetectionBranch(for: other) == h)
    }

    @Test func foreignBranchFormatNeverLoops() throws {
        let v = try validated(try invite())
        var via = ourVia
        via.branch = "z9hG4bK-caller-chosen"
        let fwd = ProxyCore.forward(v.request, via: via)
        #expect(fwd.topVia?.branch == "z9hG4bK-caller-chosen")
        let back = try cameBack(fwd)
        #expect(rejection(ProxyCore.validate(back, isLocalURI: isLocal)) == nil)
    }

    @Test func statelessBranchIsDeterministic() throws {
        let req = try invite()
        let b = ProxyCore.statelessBranch(for: req)
        #expect(b.hasPrefix("z9hG4bK"))
        #expect(ProxyCore.statelessBranch(for: try invite()) == b)
        #expect(ProxyCore.loopPart(ofBranch: b) == ProxyCore.loopDetectionBranch(for: req))
        var other = req
        other.headers.set("Via", "SIP/2.0/UDP alice-pc.example.com:5060;branch=z9hG4bK776asdhdX")
        #expect(ProxyCore.statelessBranch(for: other) != b)
    }
}

extension String {
    func replacingFirstLine(_ line: String) -> String {
        let rest = split(separator: "\n", maxSplits: 1, omittingEmptySubsequences: false)
        return rest.count == 2 ? line + "\n" + rest[1] : line
    }
}
