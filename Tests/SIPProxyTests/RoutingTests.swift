import SIPCore
import Testing
@testable import SIPProxy

@Suite("Route preprocessing (RFC 3261 §16.4, RFC 5658)")
struct RoutePreprocessingTests {
    func bye(requestURI: String, routes: [String]) throws -> SIPRequest {
        var text = """
        BYE \(requestURI) SIP/2.0
        Via: SIP/2.0/TCP bob-pc.example.com;branch=z9hG4bKbye1
        Max-Forwards: 70
        From: Bob <sip:bob@example.com>;tag=b1
        To: Alice <sip:alice@example.com>;tag=a1
        Call-ID: dlg-1
        CSeq: 2 BYE
        """
        for r in routes { text += "\nRoute: " + r }
        return try sipRequest(text)
    }

    @Test func ownTopRouteIsRemovedLooseRouting() throws {
        let req = try bye(requestURI: "sip:alice@alice-pc.example.com", routes: ["<sip:proxy.example.com;lr>", "<sip:next.example.net;lr>"])
        let v = try validated(req)
        #expect(v.request.requestURI == "sip:alice@alice-pc.example.com")
        #expect(v.request.headers.values("Route") == ["<sip:next.example.net;lr>"])
        #expect(v.consumedRoutes.map(\.uri.description) == ["sip:proxy.example.com;lr"])
        #expect(!v.restoredFromStrictRoute)
    }

    @Test func commaJoinedRoutesAreHandled() throws {
        let req = try bye(requestURI: "sip:alice@alice-pc.example.com", routes: ["<sip:proxy.example.com;lr>,<sip:next.example.net;lr>"])
        let v = try validated(req)
        #expect(v.request.headers.values("Route") == ["<sip:next.example.net;lr>"])
    }

    @Test func strictRoutingPreviousHopRestoresRequestURI() throws {
        // The previous hop is a strict router: it put our Record-Route URI into the Request-URI and the real
        // Request-URI at the end of Route.
        let req = try bye(requestURI: "sip:proxy.example.com;lr", routes: ["<sip:next.example.net;lr>", "<sip:alice@alice-pc.example.com>"])
        let v = try validated(req)
        #expect(v.restoredFromStrictRoute)
        #expect(v.request.requestURI == "sip:alice@alice-pc.example.com")
        #expect(v.request.headers.values("Route") == ["<sip:next.example.net;lr>"])
        #expect(v.receivedRequestURI == "sip:proxy.example.com;lr")
        #expect(ProxyCore.nextHop(for: v.request) == (try uri("sip:next.example.net;lr")))
    }

    @Test func requestForOurDomainIsNotMistakenForStrictRoute() throws {
        // A local R-URI without lr (e.g. a user at our domain) is not one of our Record-Route URIs.
        let req = try bye(requestURI: "sip:alice@proxy.example.com", routes: ["<sip:next.example.net;lr>"])
        let v = try validated(req)
        #expect(!v.restoredFromStrictRoute)
        #expect(v.request.requestURI == "sip:alice@proxy.example.com")
    }

    @Test func doubleRecordRouteRemovesBothOwnEntries() throws {
        let req = try bye(requestURI: "sip:alice@alice-pc.example.com", routes: [
            "<sip:10.0.0.1:5060;transport=tcp;lr;r2=on>", "<sip:192.0.2.10:5060;transport=udp;lr;r2=on>", "<sip:edge.example.org;lr>",
        ])
        let v = try validated(req)
        #expect(v.consumedRoutes.count == 2)
        #expect(v.request.headers.values("Route") == ["<sip:edge.example.org;lr>"])
    }

    @Test func consecutiveOwnRoutesWithoutDoubleMarkerAreSeparateHops() throws {
        // P-CSCF and S-CSCF roles of one process: only the first is consumed now.
        let req = try bye(requestURI: "sip:alice@alice-pc.example.com", routes: ["<sip:proxy.example.com;lr>", "<sip:10.0.0.1;lr;orig>"])
        let v = try validated(req)
        #expect(v.consumedRoutes.count == 1)
        #expect(v.request.headers.values("Route") == ["<sip:10.0.0.1;lr;orig>"])
    }

    @Test func foreignTopRouteIsKept() throws {
        let req = try bye(requestURI: "sip:alice@alice-pc.example.com", routes: ["<sip:next.example.net;lr>", "<sip:proxy.example.com;lr>"])
        let v = try validated(req)
        #expect(v.consumedRoutes.isEmpty)
        #expect(v.request.headers.values("Route") == ["<sip:next.example.net;lr>", "<sip:proxy.example.com;lr>"])
    }

    @Test func ownMaddrIsStripped() throws {
        let req = try bye(requestURI: "sip:alice@example.com;maddr=192.0.2.10;transport=udp", routes: [])
        let v = try validated(req)
        #expect(v.request.requestURI == "sip:alice@example.com")
        let other = try bye(requestURI: "sip:alice@example.com;maddr=198.51.100.1", routes: [])
        #expect(try validated(other).request.requestURI == "sip:alice@example.com;maddr=198.51.100.1")
    }
}

@Suite("Forwarding (RFC 3261 §16.6)")
struct ForwardingTests {
    @Test func forwardRetargetsDecrementsAndAddsVia() throws {
        let req = try invite()
        let fwd = ProxyCore.forward(req, to: try uri("sip:bob@192.0.2.77:5062;transport=tcp"), via: ourVia)
        #expect(fwd.requestURI == "sip:bob@192.0.2.77:5062;transport=tcp")
        #expect(fwd.headers.values("Max-Forwards") == ["69"])
        let vias = fwd.vias
        #expect(vias.count == 2)
        #expect(vias[0].sentBy == "192.0.2.10:5060")
        #expect(vias[0].transport == "UDP")
        let branch = try #require(vias[0].branch)
        #expect(branch.hasPrefix("z9hG4bK"))
        #expect(ProxyCore.loopPart(ofBranch: branch) == ProxyCore.loopDetectionBranch(for: req))
        #expect(fwd.headers.values("Via")[1] == req.headers.values("Via")[0])
        #expect(fwd.body == req.body)
        #expect(fwd.headers.first("Record-Route") == nil)
        // Every forward gets a fresh branch (forking).
        let again = ProxyCore.forward(req, to: try uri("sip:bob@192.0.2.78"), via: ourVia)
        #expect(again.topVia?.branch != branch)
        // It is a valid message on the wire.
        let parsed = try wire(fwd)
        #expect(parsed == fwd)
    }

    @Test func forwardKeepsRequestURIWithoutTarget() throws {
        var req = try invite()
        req.headers.set("Max-Forwards", "10")
        let fwd = ProxyCore.forward(req, via: ourVia)
        #expect(fwd.requestURI == req.requestURI)
        #expect(fwd.maxForwards == 9)
    }

    @Test func callerProvidedBranchIsUsed() throws {
        var via = ourVia
        via.branch = "z9hG4bKfixed1"
        via.hasRPort = true
        let fwd = ProxyCore.forward(try invite(), via: via)
        #expect(fwd.headers.values("Via").first == "SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bKfixed1;rport")
    }

    @Test func singleRecordRoute() throws {
        var req = try invite()
        req.headers.add("Record-Route", "<sip:upstream.example.net;lr>")
        let rr = RecordRoutePolicy(RecordRoutePolicy.uri(host: "192.0.2.10", port: 5060, transport: "UDP"))
        #expect(!rr.isDouble)
        let fwd = ProxyCore.forward(req, via: ourVia, recordRoute: rr)
        #expect(fwd.headers.values("Record-Route") == ["<sip:192.0.2.10:5060;transport=udp;lr>", "<sip:upstream.example.net;lr>"])
        // Same interface on both sides: still one entry.
        let same = RecordRoutePolicy(inbound: rr.inbound, outbound: rr.inbound)
        #expect(ProxyCore.forward(req, via: ourVia, recordRoute: same).recordRoutes.count == 2)
    }

    @Test func doubleRecordRouteWhenInterfacesDiffer() throws {
        let inbound = RecordRoutePolicy.uri(host: "192.0.2.10", port: 5060, transport: "udp")
        let outbound = RecordRoutePolicy.uri(host: "10.0.0.1", port: 5060, transport: "tcp")
        let rr = RecordRoutePolicy(inbound: inbound, outbound: outbound)
        #expect(rr.isDouble)
        let fwd = ProxyCore.forward(try invite(), via: Via(transport: "TCP", host: "10.0.0.1", port: 5060), recordRoute: rr)
        let values = fwd.headers.values("Record-Route")
        #expect(values == ["<sip:10.0.0.1:5060;transport=tcp;lr;r2=on>", "<sip:192.0.2.10:5060;transport=udp;lr;r2=on>"])

        // The UAS's route set is the Record-Route list in order: its BYE reaches us on the core side and both
        // of our entries are consumed.
        var byeText = """
        BYE sip:alice@alice-pc.example.com SIP/2.0
        Via: SIP/2.0/TCP bob-pc.example.com;branch=z9hG4bKbye2
        Max-Forwards: 70
        From: Bob <sip:bob@example.com>;tag=b1
        To: Alice <sip:alice@example.com>;tag=1928301774
        Call-ID: a84b4c76e66710@alice-pc.example.com
        CSeq: 1 BYE
        """
        for v in values { byeText += "\nRoute: " + v }
        let v = try validated(try sipRequest(byeText))
        #expect(v.consumedRoutes.count == 2)
        #expect(v.request.headers.values("Route").isEmpty)
        #expect(ProxyCore.nextHop(for: v.request) == (try uri("sip:alice@alice-pc.example.com")))
    }

    @Test func strictNextHopRewritesRequestURI() throws {
        var req = try invite()
        req.headers.add("Route", "<sip:strict.example.net>")
        req.headers.add("Route", "<sip:p2.example.net;lr>")
        let prepared = ProxyCore.prepareForward(req, via: ourVia)
        let fwd = prepared.request
        #expect(fwd.requestURI == "sip:strict.example.net")
        #expect(fwd.headers.values("Route") == ["<sip:p2.example.net;lr>", "<sip:bob@example.com>"])
        #expect(prepared.toStrictRouter)
        #expect(prepared.nextHop == (try uri("sip:strict.example.net")))
        let sameVia = try Via(parsing: fwd.headers.values("Via")[0])
        #expect(fwd == ProxyCore.forward(req, via: sameVia))
    }

    @Test func nextHopIsLooseTopRouteOrRequestURI() throws {
        var req = try invite()
        #expect(ProxyCore.nextHop(for: req) == (try uri("sip:bob@example.com")))
        req.headers.add("Route", "<sip:pcscf.example.net:5070;transport=tcp;lr>")
        let prepared = ProxyCore.prepareForward(req, via: ourVia)
        let fwd = prepared.request
        #expect(!prepared.toStrictRouter)
        #expect(prepared.nextHop == (try uri("sip:pcscf.example.net:5070;transport=tcp;lr")))
        #expect(ProxyCore.nextHop(for: fwd) == prepared.nextHop)
        #expect(fwd.requestURI == "sip:bob@example.com")
    }

    @Test func stripTopViaRemovesOnlyOurs() throws {
        let fwd = ProxyCore.forward(try invite(), via: ourVia)
        let ringing = try answer(fwd, 180)
        let up = ProxyCore.stripTopVia(ringing)
        #expect(up.headers.values("Via") == ["SIP/2.0/UDP alice-pc.example.com:5060;branch=z9hG4bK776asdhds"])
    }
}

@Suite("CANCEL and ACK construction")
struct MessageBuilderTests {
    @Test func cancelMatchesTheForwardedBranch() throws {
        var req = try invite()
        req.headers.add("Route", "<sip:next.example.net;lr>")
        let fwd = ProxyCore.forward(req, to: try uri("sip:bob@192.0.2.77"), via: ourVia)
        let cancel = ProxyCore.cancel(for: fwd, reason: "SIP;cause=200;text=\"Call completed elsewhere\"")
        #expect(cancel.method == .cancel)
        #expect(cancel.requestURI == "sip:bob@192.0.2.77")
        #expect(cancel.headers.values("Via") == [fwd.headers.values("Via")[0]])
        #expect(cancel.headers.first("CSeq") == "314159 CANCEL")
        #expect(cancel.headers.first("To") == fwd.headers.first("To"))
        #expect(cancel.headers.first("From") == fwd.headers.first("From"))
        #expect(cancel.headers.first("Call-ID") == fwd.headers.first("Call-ID"))
        #expect(cancel.headers.values("Route") == ["<sip:next.example.net;lr>"])
        #expect(cancel.headers.first("Reason") == "SIP;cause=200;text=\"Call completed elsewhere\"")
        #expect(cancel.body.isEmpty)
        let parsed = try wire(cancel)
        #expect(parsed.topVia?.branch == fwd.topVia?.branch)
    }

    @Test func ackForNonSuccessFinal() throws {
        let fwd = ProxyCore.forward(try invite(), to: try uri("sip:bob@192.0.2.77"), via: ourVia)
        let busy = try answer(fwd, 486, toTag: "busy1")
        let ack = try wire(ProxyCore.ack(for: fwd, response: busy))
        #expect(ack.method == .ack)
        #expect(ack.requestURI == "sip:bob@192.0.2.77")
        #expect(ack.headers.values("Via") == [fwd.headers.values("Via")[0]])
        #expect(ack.toTag == "busy1")
        #expect(ack.headers.first("CSeq") == "314159 ACK")
    }
}
