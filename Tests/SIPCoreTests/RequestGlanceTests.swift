import Testing
import SIPCore

/// The pre-parse scanner behind overload control: it must agree with the full parser whenever it
/// answers, and answer nil rather than guess.
@Suite struct RequestGlanceTests {
    @Test func readsWhatAdmissionControlNeeds() throws {
        let register = Support.request("REGISTER", uri: "sip:example.com")
        let g = try #require(RequestGlance(register))
        #expect(g.method == .register)
        #expect(!g.hasCredentials)
        #expect(!g.hasToTag)
        #expect(g.branch == "z9hG4bK776asdhds")
        #expect(g.sentBy == "pc33.example.com")

        let withAuth = Support.request("REGISTER", extra: [#"Authorization: Digest username="a", realm="b""#])
        #expect(RequestGlance(withAuth)?.hasCredentials == true)
        let inDialog = Support.message([
            "BYE sip:bob@192.0.2.4 SIP/2.0", "v: SIP/2.0/TCP [2001:DB8::1]:5070 ;Branch = z9hG4bKx1;rport",
            "t: <sip:bob@example.com;tag=notme> ; TAG=abc", "f: <sip:a@example.com>;tag=1", "i: c1", "CSeq: 2 BYE",
        ])
        let b = try #require(RequestGlance(inDialog))
        #expect(b.method == .bye && b.hasToTag)
        #expect(b.sentBy == "[2001:db8::1]:5070")
        #expect(b.branch == "z9hG4bKx1")
        // A tag inside the URI is not the To tag.
        let uriTag = Support.message([
            "INVITE sip:bob@example.com SIP/2.0", "Via: SIP/2.0/UDP h;branch=z9hG4bK2",
            "To: <sip:bob@example.com;tag=inside>", "From: <sip:a@example.com>;tag=1", "Call-ID: c2", "CSeq: 1 INVITE",
        ])
        #expect(RequestGlance(uriTag)?.hasToTag == false)
    }

    @Test func declinesWhatItCannotReadSafely() {
        #expect(RequestGlance(Support.response()) == nil)
        #expect(RequestGlance(Support.message(["INVITE sip:b@example.com SIP/2.0", "Via: SIP/2.0/UDP h;branch=z9hG4bK1",
                                               " ;folded=1", "To: <sip:b@example.com>", "From: <sip:a@x>;tag=1",
                                               "Call-ID: c", "CSeq: 1 INVITE"])) == nil)
        #expect(RequestGlance(Support.message(["OPTIONS sip:b@example.com SIP/2.0", "Via: SIP/2.0/UDP h;branch=z9hG4bK1",
                                               "To: <sip:b@example.com>", "Call-ID: c", "CSeq: 1 OPTIONS"])) == nil)
        #expect(RequestGlance(Array("INVITE sip:b@example.com SIP/2.0\r\nVia: SIP/2.0/UDP h".utf8)) == nil)
        #expect(RequestGlance([]) == nil)
    }

    @Test func statelessResponseParsesAndCopiesTheRequestsHeaders() throws {
        var lines = ["INVITE sip:bob@example.com SIP/2.0", "Via: SIP/2.0/UDP a.example.com;branch=z9hG4bKa1;received=192.0.2.1",
                     "Via: SIP/2.0/TCP b.example.com;branch=z9hG4bKb2", "To: \"Bob;tag=no\" <sip:bob@example.com>",
                     "From: <sip:alice@example.com>;tag=f1", "Call-ID: abc@def", "CSeq: 7 INVITE", "Max-Forwards: 70"]
        let g = try #require(RequestGlance(Support.message(lines)))
        #expect(!g.hasToTag)
        let bytes = g.response(status: 503, reason: "Service Unavailable", toTag: "t99", extraHeaders: [("Retry-After", "4")])
        guard case .response(let r) = try SIPParser.parse(bytes, maxMessageSize: 65536) else {
            Issue.record("not a response"); return
        }
        #expect(r.statusCode == 503)
        #expect(r.headers.values("Via").count == 2)
        #expect(r.topVia?.branch == "z9hG4bKa1")
        #expect(r.toTag == "t99")
        #expect(r.fromTag == "f1")
        #expect(r.callID == "abc@def")
        #expect(r.cseq?.sequence == 7)
        #expect(r.headers.values("Retry-After") == ["4"])
        lines[3] = "To: <sip:bob@example.com>;tag=have"
        let tagged = try #require(RequestGlance(Support.message(lines)))
        guard case .response(let r2) = try SIPParser.parse(tagged.response(status: 503, reason: "x", toTag: "new"),
                                                            maxMessageSize: 65536) else { return }
        #expect(r2.toTag == "have")
    }

    /// Admission control's 503 is prepared once and tagged from the request: a retransmission gets
    /// the same tag (RFC 3261 §8.2.7), another request another one.
    @Test func preparedAnswerWithAStatelessTag() throws {
        let lines = ["REGISTER sip:example.com SIP/2.0", "Via: SIP/2.0/UDP 192.0.2.9:5060;branch=z9hG4bKr1",
                     "From: <sip:a@example.com>;tag=f1", "To: <sip:a@example.com>", "Call-ID: reg1", "CSeq: 1 REGISTER",
                     "Contact: <sip:a@192.0.2.9>", "Content-Length: 0"]
        let answer = StatelessAnswer(status: 503, reason: "Service Unavailable",
                                     extraHeaders: [("Retry-After", "3"), ("Server", "cw-aio")])
        let g = try #require(RequestGlance(Support.message(lines)))
        let bytes = g.response(answer)
        guard case .response(let r) = try SIPParser.parse(bytes, maxMessageSize: 65536) else {
            Issue.record("not a response"); return
        }
        #expect(r.statusCode == 503 && r.reasonPhrase == "Service Unavailable")
        #expect(r.headers.values("Retry-After") == ["3"])
        #expect(r.headers.values("Server") == ["cw-aio"])
        #expect(r.headers.values("Content-Length") == ["0"])
        #expect(r.toTag == g.statelessTag)
        let tag = try #require(r.toTag)
        #expect(tag.count == 10 && tag.allSatisfy { $0.isNumber || ("a"..."v").contains($0) })
        #expect(bytes == g.response(answer), "a retransmission is answered alike")
        #expect(try #require(RequestGlance(Support.message(lines))).statelessTag == tag)
        var other = lines
        other[4] = "Call-ID: reg2"
        #expect(try #require(RequestGlance(Support.message(other))).statelessTag != tag)
        // The prepared answer and the one-off builder give the same bytes.
        #expect(g.response(status: 503, reason: "Service Unavailable", toTag: tag,
                           extraHeaders: [("Retry-After", "3"), ("Server", "cw-aio")]) == bytes)
    }

    /// On every torture message the full parser accepts, a glance (when it answers) agrees with it.
    @Test func agreesWithTheFullParserOnTheTortureTests() throws {
        var answered = 0
        for name in try FileManagerShim.datFiles(in: Support.rfc4475Directory) {
            let bytes = Support.torture(name)
            guard let glance = RequestGlance(bytes) else { continue }
            guard case .request(let request) = try? SIPParser.parse(bytes, maxMessageSize: 65536) else { continue }
            answered += 1
            #expect(glance.method == request.method, "\(name)")
            #expect(glance.hasToTag == (request.toTag != nil), "\(name)")
            if let via = request.topVia, via.hasMagicCookie {
                #expect(glance.branch == via.branch, "\(name)")
                #expect(glance.sentBy == via.sentBy.lowercased(), "\(name)")
            }
        }
        #expect(answered > 10)
    }
}
