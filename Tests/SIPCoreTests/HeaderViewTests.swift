import Testing
import SIPCore

@Suite("NameAddr, Via, CSeq and the typed header views")
struct HeaderViewTests {
    @Test func nameAddrVersusAddrSpecParameters() throws {
        // addr-spec: parameters after the URI belong to the header (RFC 3261 §20.10).
        let spec = try NameAddr(parsing: "sip:b@x;tag=1")
        #expect(spec.tag == "1")
        #expect(spec.uri.sipURI?.parameters.items.isEmpty == true)
        #expect(spec.displayName == nil)
        // name-addr: inside the brackets they are URI parameters.
        let inside = try NameAddr(parsing: "<sip:b@x;tag=1>")
        #expect(inside.tag == nil)
        #expect(inside.uri.sipURI?.parameters["tag"] == .some("1"))
        let both = try NameAddr(parsing: "\"Bob\" <sip:b@x;transport=tcp> ; tag = 1 ;expires=60;q=0.7")
        #expect(both.displayName == "Bob")
        #expect(both.uri.sipURI?.transport == "tcp")
        #expect(both.tag == "1")
        #expect(both.expires == 60)
        #expect(both.q == 0.7)
    }

    @Test func displayNames() throws {
        #expect(try NameAddr(parsing: "Bob Smith <sip:b@x>").displayName == "Bob Smith")
        #expect(try NameAddr(parsing: "caller<sip:b@x>").displayName == "caller")
        #expect(try NameAddr(parsing: "<sip:b@x>").displayName == nil)
        #expect(try NameAddr(parsing: "\"\" <sip:b@x>").displayName == "")
        #expect(try NameAddr(parsing: #""a\\b\"c" <sip:b@x>"#).displayName == #"a\b"c"#)
        #expect(try NameAddr(parsing: "\"J\u{00FC}rgen\"<sip:j@x>").displayName == "J\u{00FC}rgen")
        #expect(try NameAddr(parsing: "  <tel:+1234>;tag=x  ").uri.telURI?.number == "+1234")
    }

    @Test(arguments: ["", "<sip:b@x", "\"Bob <sip:b@x>", "Bob, Smith <sip:b@x>", "< sip:b@x>", "<sip:b@x >",
                      "sip:b@x?Route=y", "sip:a,b@x", "<sip:b@x>;", "<sip:b@x>;tag=", "<sip:b@x> junk",
                      "<sip:b@x>;tag=1;tag=2", "\"a\u{1}b\" <sip:b@x>", "<sip:b@x>;p=\"unterminated"])
    func invalidNameAddrs(_ text: String) {
        #expect(throws: SIPParseError.self) { try NameAddr(parsing: text) }
    }

    @Test func mediaTypeEndsAtTheFirstSemicolonByte() throws {
        func mediaType(_ contentType: String) throws -> String? {
            try SIPParser.parse(Support.request("MESSAGE", extra: ["Content-Type: \(contentType)"])).mediaType
        }
        #expect(try mediaType("Application/SDP ; charset=utf-8") == "application/sdp")
        #expect(try mediaType("text/plain") == "text/plain")
        #expect(try mediaType(" application / sdp") == "application/sdp")
        // ";\u{0301}" is one Character; the parameter still starts at the ";" byte.
        #expect(try mediaType("application/sdp;\u{0301}charset=utf-8") == "application/sdp")
        // SP/HTAB bytes are dropped even when a combining mark makes them part of a larger Character.
        #expect(try mediaType("application/sdp \u{0301}").map { Array($0.utf8) } == Array("application/sdp\u{0301}".utf8))
    }

    @Test func nameAddrDescriptionRoundTrips() throws {
        for text in ["sip:b@x;tag=1", "\"Q \\\"uote\\\"\" <sip:b@x;lr>;p=\"v;,\"", "Bob <sips:b@[::1]:5061>", "<urn:service:sos>"] {
            let n = try NameAddr(parsing: text)
            #expect(try NameAddr(parsing: n.description) == n)
        }
        #expect(try NameAddr(parsing: "sip:b@x;tag=1").description == "<sip:b@x>;tag=1")
        var n = NameAddr(displayName: "Line\nBreak \"x\"", uri: .sip(SIPURI(user: "b", host: "x")))
        n.tag = "t1"
        #expect(n.description == "\"Line Break \\\"x\\\"\" <sip:b@x>;tag=t1")
        n.tag = nil
        #expect(n.parameters.items.isEmpty)
    }

    @Test func viaParsing() throws {
        let v = try Via(parsing: "SIP / 2.0 / udp [2001:db8::1] : 5062 ;branch=z9hG4bK77;rport;received=2001:db8::9;ttl=16;maddr=224.2.0.1;x=\"q\"")
        #expect(v.protocolName == "SIP")
        #expect(v.protocolVersion == "2.0")
        #expect(v.transport == "UDP")
        #expect(v.host == "[2001:db8::1]")
        #expect(v.port == 5062)
        #expect(v.sentBy == "[2001:db8::1]:5062")
        #expect(v.branch == "z9hG4bK77")
        #expect(v.hasMagicCookie && v.hasRFC3261TransactionID)
        #expect(v.hasRPort && v.rport == nil)
        #expect(v.received == "2001:db8::9")
        #expect(v.ttl == 16)
        #expect(v.maddr == "224.2.0.1")
        #expect(v.parameters["x"] == .some("\"q\""))
        #expect(try Via(parsing: v.description) == v)
        let w = try Via(parsing: "SIP/2.0/TCP client.example.com;rport=5066")
        #expect(w.rport == 5066 && w.port == nil && w.branch == nil)
    }

    @Test func viaMutation() throws {
        var v = Via(transport: "tls", host: "proxy.example.com", port: 5061, branch: "z9hG4bKabc")
        #expect(v.description == "SIP/2.0/TLS proxy.example.com:5061;branch=z9hG4bKabc")
        v.hasRPort = true
        v.received = "192.0.2.7"
        #expect(v.description == "SIP/2.0/TLS proxy.example.com:5061;branch=z9hG4bKabc;rport;received=192.0.2.7")
        v.rport = 40000
        #expect(v.description.contains(";rport=40000;"))
        v.hasRPort = false
        v.branch = nil
        v.ttl = 3
        v.maddr = "x.example.com"
        #expect(v.description == "SIP/2.0/TLS proxy.example.com:5061;received=192.0.2.7;ttl=3;maddr=x.example.com")
        #expect(try Via(parsing: v.description) == v)
    }

    @Test(arguments: ["", "SIP/2.0/UDP", "SIP/2.0 host", "SIP//UDP host", "SIP/2.0/UDP host:", "SIP/2.0/UDP host:70000",
                      "SIP/2.0/UDPhost", "SIP/2.0/UDP host;", "SIP/2.0/UDP host;branch", "SIP/2.0/UDP host;ttl=256",
                      "SIP/2.0/UDP host;rport=x", "SIP/2.0/UDP host;received", "SIP/2.0/UDP [::1", "SIP/2.0/UDP host junk",
                      "SIP/2.0/UDP host;branch=a;branch=b"])
    func invalidVias(_ text: String) {
        #expect(throws: SIPParseError.self) { try Via(parsing: text) }
    }

    @Test func viaParseAll() throws {
        let vias = try Via.parseAll("SIP/2.0/UDP a;branch=z9hG4bK1, SIP/2.0/TCP b:5060 ;branch=z9hG4bK2")
        #expect(vias.map(\.sentBy) == ["a", "b:5060"])
    }

    @Test func cseq() throws {
        #expect(try CSeq(parsing: " 0009 \t INVITE ") == CSeq(sequence: 9, method: .invite))
        #expect(try CSeq(parsing: "4294967295 ACK").sequence == UInt32.max)
        #expect(CSeq(sequence: 7, method: .bye).description == "7 BYE")
        for bad in ["", "1", "INVITE", "1INVITE", "4294967296 ACK", "1 INV ITE", "x 1", "-1 ACK", "1 INV@ITE"] {
            #expect(throws: SIPParseError.self) { try CSeq(parsing: bad) }
        }
    }

    @Test func typedViewsOnAMessage() throws {
        let m = try SIPParser.parse(Support.request("REGISTER", uri: "sip:example.com", extra: [
            "Contact: <sip:a@192.0.2.1>;expires=60, <sip:a@192.0.2.2>;q=0.1",
            "Record-Route: <sip:rr1.example.com;lr>",
            "Record-Route: <sip:rr2.example.com;lr>",
            "Expires: 3600",
            "Content-Type: Application/SDP ; charset=utf-8",
            "Require: path",
            "Proxy-Require: sec-agree",
        ]))
        #expect(m.contacts.count == 2)
        #expect(m.contacts[0].expires == 60)
        #expect(!m.isContactWildcard)
        #expect(m.recordRoutes.count == 2)
        #expect(m.routes.isEmpty)
        #expect(m.expires == 3600)
        #expect(m.contentType == "Application/SDP ; charset=utf-8")
        #expect(m.mediaType == "application/sdp")
        #expect(m.require == ["path"])
        #expect(m.proxyRequire == ["sec-agree"])
        #expect(m.request?.uri?.sipURI?.host == "example.com")
        let wildcard = try SIPParser.parse(Support.request("REGISTER", uri: "sip:example.com", extra: ["Contact: *", "Expires: 0"]))
        #expect(wildcard.isContactWildcard)
        #expect(wildcard.contacts.isEmpty)
        #expect(wildcard.expires == 0)
    }

    @Test func viewsAreNilWhenHeadersAreMissingOrBroken() throws {
        var r = SIPRequest(method: .options, requestURI: "not a uri")
        #expect(r.uri == nil)
        #expect(r.vias.isEmpty && r.topVia == nil && r.cseq == nil && r.from == nil && r.callID == nil)
        r.headers.add("Via", "SIP/2.0/UDP ok;branch=z9hG4bK1")
        r.headers.add("Via", "broken")
        #expect(r.vias.isEmpty)
        #expect(r.topVia?.host == "ok")
        r.headers.add("Max-Forwards", "300")
        r.headers.add("Expires", "99999999999")
        #expect(r.maxForwards == nil)
        #expect(r.expires == nil)
    }

    @Test func headersCollection() {
        var h = SIPHeaders()
        h.add("Via", "SIP/2.0/UDP a")
        h.add("v", "SIP/2.0/UDP b, SIP/2.0/UDP c")
        h.prepend("Via", "SIP/2.0/UDP top")
        #expect(h.values("Via") == ["SIP/2.0/UDP top", "SIP/2.0/UDP a", "SIP/2.0/UDP b", "SIP/2.0/UDP c"])
        #expect(h.removeFirstValue("Via") == "SIP/2.0/UDP top")
        #expect(h.removeFirstValue("Via") == "SIP/2.0/UDP a")
        #expect(h.removeFirstValue("Via") == "SIP/2.0/UDP b")
        #expect(h.rawValues("Via") == ["SIP/2.0/UDP c"])
        h.set("Max-Forwards", "70")
        h.add("max-forwards", "69")
        h.set("MAX-FORWARDS", "68")
        #expect(h.rawValues("Max-Forwards") == ["68"])
        h.remove("via")
        #expect(!h.contains("Via"))
        var field = SIPHeader(name: "l", value: "0")
        #expect(field.canonicalName == "content-length")
        field.name = "Subject"
        #expect(field.canonicalName == "subject")
    }
}
