import Testing
import SIPCore

@Suite("Serialization, round trips and makeResponse")
struct SerializationTests {
    @Test func requestWireFormat() {
        var h = SIPHeaders()
        h.add("Via", "SIP/2.0/UDP a.example.com;branch=z9hG4bK1")
        h.add("l", "99")
        h.add("Subject", "hi")
        h.add("Content-Length", "7")
        let r = SIPRequest(method: .message, requestURI: "sip:b@example.com", headers: h, body: Array("abc".utf8))
        let text = String(decoding: r.serialized(), as: UTF8.self)
        // The first Content-Length is rewritten in place (name as written), later ones dropped.
        #expect(text == "MESSAGE sip:b@example.com SIP/2.0\r\nVia: SIP/2.0/UDP a.example.com;branch=z9hG4bK1\r\nl: 3\r\nSubject: hi\r\n\r\nabc")
        #expect(SIPMessage.request(r).serialized() == r.serialized())
    }

    @Test func contentLengthIsAddedWhenMissing() {
        let r = SIPResponse(statusCode: 486)
        let text = String(decoding: r.serialized(), as: UTF8.self)
        #expect(text == "SIP/2.0 486 Busy Here\r\nContent-Length: 0\r\n\r\n")
        #expect(String(decoding: SIPResponse(statusCode: 100, reasonPhrase: "").serialized(), as: UTF8.self)
            == "SIP/2.0 100 \r\nContent-Length: 0\r\n\r\n")
    }

    @Test func valuesCannotInjectLines() throws {
        var h = SIPHeaders()
        h.add("Subject", "a\r\nVia: injected")
        let text = String(decoding: SIPRequest(method: .options, requestURI: "sip:x", headers: h).serialized(), as: UTF8.self)
        #expect(text.contains("Subject: a  Via: injected\r\n"))
    }

    @Test func roundTripsOfHandBuiltMessages() throws {
        for bytes in [
            Support.request(body: "body\r\n\r\nwith blank lines"),
            Support.request("INVITE", uri: "sips:[2001:db8::1]:5061;transport=tls", extra: [
                "Route: <sip:p1;lr>,<sip:p2;lr>", "Subject:", "X-Folded: a\r\n b", "Contact: *",
            ]),
            Support.response("SIP/2.0 603 Decline", extra: ["Warning: 399 host \"text, with comma\""], body: "x"),
            Support.response("SIP/2.0 200 \u{00D6}K"),
        ] {
            let m = try SIPParser.parse(bytes)
            let again = try SIPParser.parse(m.serialized())
            #expect(Support.sameFields(m, again))
            #expect(again.serialized() == m.serialized())
        }
    }

    @Test func missingContentLengthDatagramGainsOne() throws {
        let m = try SIPParser.parse(Support.request(body: "xyz", contentLength: false))
        let again = try SIPParser.parse(m.serialized())
        #expect(again.contentLength == 3)
        #expect(Support.sameFields(m, again))
    }

    @Test func makeResponseCopiesTheRightFields() throws {
        let request = try #require(try SIPParser.parse(Support.request("INVITE", extra: [
            "Via: SIP/2.0/UDP second.example.com;branch=z9hG4bK2, SIP/2.0/UDP third.example.com;branch=z9hG4bK3",
            "Timestamp: 54",
            "Record-Route: <sip:rr.example.com;lr>",
            "Subject: not copied",
        ], body: "sdp")).request)
        let ringing = request.makeResponse(statusCode: 180, toTag: "as83kd")
        #expect(ringing.statusCode == 180)
        #expect(ringing.reasonPhrase == "Ringing")
        #expect(ringing.headers.rawValues("Via") == request.headers.rawValues("Via"))
        #expect(ringing.vias.map(\.sentBy) == ["pc33.example.com", "second.example.com", "third.example.com"])
        #expect(ringing.headers.first("From") == request.headers.first("From"))
        #expect(ringing.toTag == "as83kd")
        #expect(ringing.to?.uri == request.to?.uri)
        #expect(ringing.callID == request.callID)
        #expect(ringing.cseq == request.cseq)
        #expect(ringing.headers.first("Timestamp") == nil)
        #expect(ringing.headers.first("Subject") == nil)
        #expect(ringing.headers.first("Record-Route") == nil)
        #expect(ringing.headers.first("Content-Length") == "0")
        #expect(ringing.body.isEmpty)
        // The serialized response parses back.
        let parsed = try SIPParser.parse(ringing.serialized())
        #expect(parsed.response?.statusCode == 180)

        // 100 Trying: no To tag, Timestamp copied (RFC 3261 §8.2.6.1).
        let trying = request.makeResponse(statusCode: 100, toTag: "ignored")
        #expect(trying.toTag == nil)
        #expect(trying.headers.first("Timestamp") == "54")
        // An existing To tag is kept, not doubled.
        var tagged = request
        tagged.headers.set("To", "<sip:bob@example.com>;tag=existing")
        #expect(tagged.makeResponse(statusCode: 200, toTag: "new").toTag == "existing")
        #expect(tagged.makeResponse(statusCode: 200, reasonPhrase: "Fine").reasonPhrase == "Fine")
        // Without toTag nothing is added.
        #expect(request.makeResponse(statusCode: 404).toTag == nil)
    }

    @Test func makeResponseFromAPartialRequest() {
        // From a SIPParseError.request that lacks headers: whatever exists is copied.
        let r = SIPRequest(method: .options, requestURI: "sip:x")
        let resp = r.makeResponse(statusCode: 400, reasonPhrase: "Missing Header: Via", toTag: "t")
        #expect(resp.headers.fields.map(\.name) == ["Content-Length"])
        #expect(resp.reasonPhrase == "Missing Header: Via")
    }
}
