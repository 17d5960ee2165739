import Foundation
import Testing
import SIPCore

@Suite("SIPParser: message syntax")
struct SIPParserTests {
    @Test func minimalRequest() throws {
        let m = try SIPParser.parse(Support.request())
        let r = try #require(m.request)
        #expect(r.method == .options)
        #expect(r.requestURI == "sip:bob@example.com")
        #expect(r.version == "SIP/2.0")
        #expect(r.headers.count == 7)
        #expect(r.body.isEmpty)
        #expect(r.callID == "a84b4c76e66710@pc33.example.com")
        #expect(r.fromTag == "1928301774")
        #expect(r.toTag == nil)
        #expect(r.maxForwards == 70)
    }

    @Test func compactHeaderForms() throws {
        let bytes = Support.message([
            "INVITE sip:bob@example.com SIP/2.0",
            "v: SIP/2.0/UDP pc33.example.com;branch=z9hG4bKnashds8",
            "t: <sip:bob@example.com>",
            "f: <sip:alice@example.com>;tag=88",
            "i: compact@example.com",
            "CSeq: 1 INVITE",
            "m: <sip:alice@pc33.example.com>",
            "c: application/sdp",
            "s: hello",
            "k: 100rel",
            "e: gzip",
            "l: 4",
        ], body: "abcd")
        let m = try SIPParser.parse(bytes)
        #expect(m.callID == "compact@example.com")
        #expect(m.topVia?.host == "pc33.example.com")
        #expect(m.to?.uri.sipURI?.user == "bob")
        #expect(m.fromTag == "88")
        #expect(m.contacts.count == 1)
        #expect(m.contentType == "application/sdp")
        #expect(m.headers.first("Subject") == "hello")
        #expect(m.supported == ["100rel"])
        #expect(m.headers.first("Content-Encoding") == "gzip")
        #expect(m.contentLength == 4)
        #expect(m.body == Array("abcd".utf8))
        #expect(HeaderName.canonical("I") == "call-id")
        #expect(HeaderName.canonical("Call-ID") == "call-id")
        #expect(m.headers.fields[1].canonicalName == "to")
    }

    @Test func headerNamesAreCaseInsensitiveAndMayHaveSpaceBeforeColon() throws {
        let m = try SIPParser.parse(Support.message([
            "OPTIONS sip:bob@example.com SIP/2.0",
            "vIA  : SIP/2.0/UDP h.example.com;branch=z9hG4bK1",
            "TO\t: <sip:bob@example.com>",
            "FROM:<sip:alice@example.com>;tag=1",
            "CALL-ID:x@y",
            "cseq:1 OPTIONS",
        ]))
        #expect(m.headers.fields.map(\.name) == ["vIA", "TO", "FROM", "CALL-ID", "cseq"])
        #expect(m.callID == "x@y")
        #expect(m.cseq?.sequence == 1)
        #expect(m.headers.contains("Via"))
        #expect(m.headers.contains("v"))
    }

    @Test func lineFoldingBecomesOneSpace() throws {
        let m = try SIPParser.parse(Support.request(extra: [
            "Subject: first\t \r\n   second\r\n\tthird",
            "X-Empty-Then-Folded:\r\n value",
        ]))
        #expect(m.headers.first("Subject") == "first second third")
        #expect(m.headers.first("X-Empty-Then-Folded") == "value")
    }

    @Test func emptyHeaderValuesAreAllowed() throws {
        let m = try SIPParser.parse(Support.request(extra: ["Subject:", "X-Blank:   "]))
        #expect(m.headers.first("Subject") == "")
        #expect(m.headers.first("X-Blank") == "")
        #expect(m.headers.contains("Subject"))
    }

    @Test func multipleFieldsAndCommaJoinedValues() throws {
        let m = try SIPParser.parse(Support.request(extra: [
            "Route: <sip:p1.example.com;lr>, <sip:p2.example.com;lr>",
            "Route: <sip:p3.example.com;lr>",
            "Contact: \"Doe, John\" <sip:john@example.com>;q=0.5, <sip:j2,x@example.com>",
            "Supported: 100rel,timer , path",
            "Subject: a, b",
        ]))
        #expect(m.headers.rawValues("Route").count == 2)
        #expect(m.headers.values("Route").count == 3)
        #expect(m.routes.compactMap { $0.uri.sipURI?.host } == ["p1.example.com", "p2.example.com", "p3.example.com"])
        // Commas in quoted strings and inside <...> do not split.
        #expect(m.contacts.count == 2)
        #expect(m.contacts[0].displayName == "Doe, John")
        #expect(m.contacts[1].uri.sipURI?.host == "example.com")
        #expect(m.supported == ["100rel", "timer", "path"])
        // Subject is not a list header.
        #expect(m.headers.values("Subject") == ["a, b"])
    }

    @Test func escapesInQuotedStrings() throws {
        let m = try SIPParser.parse(Support.message([
            "OPTIONS sip:bob@example.com SIP/2.0",
            "Via: SIP/2.0/UDP h.example.com;branch=z9hG4bK1",
            #"To: "A \"quoted\" \\ name" <sip:bob@example.com>"#,
            #"From: "x" <sip:alice@example.com>;tag=1;note="semi;colon, comma\"""#,
            "Call-ID: q@h",
            "CSeq: 2 OPTIONS",
        ]))
        #expect(m.to?.displayName == #"A "quoted" \ name"#)
        #expect(m.from?.parameters["note"] == .some(#""semi;colon, comma\"""#))
        #expect(m.fromTag == "1")
    }

    @Test func leadingCRLFsAndBareLFLineEndingsAreTolerated() throws {
        let crlf = Support.request()
        let m1 = try SIPParser.parse(Array("\r\n\r\n".utf8) + crlf)
        #expect(m1.request?.method == .options)
        let lf = Array(String(decoding: crlf, as: UTF8.self).replacingCRLF().utf8)
        let m2 = try SIPParser.parse(lf)
        #expect(Support.sameFields(m1, m2))
    }

    @Test func headerSectionWithoutFinalEmptyLine() throws {
        // A datagram that just ends after the last header line (RFC 4475 baddn.dat is stored like that).
        var bytes = Support.request()
        bytes.removeLast(2)
        let m = try SIPParser.parse(bytes)
        #expect(m.body.isEmpty)
        #expect(m.cseq?.method == .options)
    }

    @Test func datagramBodyFollowsContentLength() throws {
        // Extra bytes beyond Content-Length are discarded (RFC 3261 §18.3).
        var bytes = Support.request(body: "hello")
        bytes += Array("garbage".utf8)
        #expect(try SIPParser.parse(bytes).body == Array("hello".utf8))
        // Missing Content-Length on a datagram: the rest.
        let noCL = Support.request(body: "rest of it", contentLength: false)
        #expect(try SIPParser.parse(noCL).body == Array("rest of it".utf8))
        // Fewer bytes than Content-Length: error.
        let short = Support.request(extra: ["Content-Length: 10"], body: "short", contentLength: false)
        #expect(Support.rejection(short)?.reason == "Content-Length Exceeds Body")
        // Identical duplicates are not ambiguous.
        let dup = Support.request(extra: ["Content-Length: 2", "l: 2"], body: "ok", contentLength: false)
        #expect(try SIPParser.parse(dup).body == Array("ok".utf8))
    }

    @Test func mandatoryHeaders() throws {
        for name in ["Via", "From", "To", "Call-ID", "CSeq"] {
            var lines = String(decoding: Support.request(), as: UTF8.self).components(separatedBy: "\r\n")
            lines.removeAll { $0.hasPrefix(name + ":") }
            let e = Support.rejection(Array(lines.joined(separator: "\r\n").utf8))
            #expect(e?.statusCode == 400)
            #expect(e?.reason == "Missing Header: \(name)")
            #expect(e?.headerName == name)
            #expect(e?.request != nil)
        }
    }

    @Test(arguments: [
        ("Via: SIP/2.0/UDP", "Bad Header: Via"),
        ("Via: SIP/2.0 h.example.com", "Bad Header: Via"),
        ("Via: SIP/2.0/UDP h.example.com:99999", "Bad Header: Via"),
        ("From: <sip:alice@example.com", "Bad Header: From"),
        ("To: bob", "Bad Header: To"),
        // A bare tag (no "=token") names no dialog; a response would carry two tags (SIPFuzz finding).
        ("To: <sip:bob@example.com>;tag", "Bad Header: To"),
        ("To: sip:bob@example.com ;   tag   ;nm", "Bad Header: To"),
        ("From: <sip:alice@example.com>;tag", "Bad Header: From"),
        ("Call-ID: has space", "Bad Header: Call-ID"),
        ("Call-ID: a@b@c", "Bad Header: Call-ID"),
        ("CSeq: 1", "Bad Header: CSeq"),
        ("CSeq: -1 OPTIONS", "Bad Header: CSeq"),
        ("CSeq: 2147483648 OPTIONS", "Bad Header: CSeq"),
        ("Max-Forwards: 256", "Bad Header: Max-Forwards"),
        ("Max-Forwards: ten", "Bad Header: Max-Forwards"),
        ("Contact: <sip:x@y>;;", "Bad Header: Contact"),
        ("Date: Sat, 15 Oct 2005 04:44:56 UTC", "Bad Header: Date"),
    ])
    func malformedMandatoryFieldsAreNamed(_ line: String, _ reason: String) throws {
        let name = String(line.prefix { $0 != ":" })
        var lines = String(decoding: Support.request(), as: UTF8.self).components(separatedBy: "\r\n")
        if let i = lines.firstIndex(where: { $0.hasPrefix(name + ":") }) { lines[i] = line } else { lines.insert(line, at: 1) }
        let e = Support.rejection(Array(lines.joined(separator: "\r\n").utf8))
        #expect(e?.statusCode == 400)
        #expect(e?.reason == reason)
    }

    /// The SIPFuzz finding itself: every request that parses gets a response that parses.
    @Test func bareToTagIsRefusedNotAnsweredWithTwoTags() throws {
        func invite(to: String) -> [UInt8] {
            Support.message([
                "INVITE sip:bob@example.com SIP/2.0",
                "Via: SIP/2.0/UDP 192.0.2.2;branch=z9hG4bK1",
                "To: " + to,
                "From: <sip:jdrosen@example.com>;tag=98asjd8",
                "Call-ID: c",
                "CSeq: 9 INVITE",
                "Max-Forwards: 70",
            ])
        }
        let e = try #require(Support.rejection(invite(to: "sip:vivekg@example.com ;   tag   ;nm")))
        #expect(e.statusCode == 400 && e.reason == "Bad Header: To")
        // The 400 itself is built from the request without its To tag handling going wrong.
        if let r = e.request { #expect((try? SIPParser.parse(r.makeResponse(statusCode: 400, toTag: "t").serialized())) != nil) }
        // A proper tag is still fine.
        guard case .request(let r) = try SIPParser.parse(invite(to: "<sip:vivekg@example.com>;tag=abc;nm")) else {
            Issue.record("not a request"); return
        }
        #expect(r.headers.nameAddr("To")?.tag == "abc")
    }

    @Test func largestCSeqAndMaxForwardsAreAccepted() throws {
        let m = try SIPParser.parse(Support.message([
            "OPTIONS sip:bob@example.com SIP/2.0",
            "Via: SIP/2.0/UDP h.example.com;branch=z9hG4bK1",
            "To: <sip:bob@example.com>",
            "From: <sip:alice@example.com>;tag=1",
            "Call-ID: c",
            "CSeq: 2147483647 OPTIONS",
            "Max-Forwards: 255",
        ]))
        #expect(m.cseq?.sequence == 2_147_483_647)
        #expect(m.maxForwards == 255)
    }

    @Test func duplicateSingleValueHeaders() throws {
        for line in ["From: <sip:x@example.com>;tag=2", "To: <sip:y@example.com>", "Call-ID: other", "CSeq: 5 OPTIONS", "Max-Forwards: 3"] {
            let name = String(line.prefix { $0 != ":" })
            let e = Support.rejection(Support.request(extra: [line]))
            #expect(e?.reason == "Duplicate Header: \(name)")
        }
    }

    @Test func headerLineWithoutColonKeepsTheRestAnswerable() throws {
        let e = try #require(Support.rejection(Support.request(extra: ["This line is broken"])))
        #expect(e.statusCode == 400)
        #expect(e.reason == "Malformed Header Line")
        let r = try #require(e.request)
        #expect(r.headers.count == 7)
        let response = r.makeResponse(statusCode: 400, reasonPhrase: e.reason, toTag: "srv")
        let parsed = try SIPParser.parse(response.serialized())
        #expect(parsed.response?.reasonPhrase == "Malformed Header Line")
        #expect(parsed.toTag == "srv")
    }

    @Test func bareCRInsideAHeaderIsRejected() throws {
        let e = Support.rejection(Support.request(extra: ["X-Bad: a\rb"]))
        #expect(e?.reason == "Malformed Header Line")
        let e2 = Support.rejection(Support.request(extra: [" folded-without-field"]).spliced())
        #expect(e2?.statusCode == 400)
    }

    @Test(arguments: [
        "OPTIONS sip:bob@example.com",
        "OPTIONS  sip:bob@example.com SIP/2.0",
        "OPTIONS sip:bob@example.com SIP/2.0 ",
        "OPTIONS sip:bob@example.com SIP/2",
        "OPTIONS sip:bob@example.com HTTP/1.1",
        "OPT<IONS sip:bob@example.com SIP/2.0",
        "OPTIONS\tsip:bob@example.com SIP/2.0",
    ])
    func malformedRequestLines(_ line: String) throws {
        var bytes = Support.request()
        let firstLineEnd = bytes.firstIndex(of: 0x0D)!
        bytes.replaceSubrange(0..<firstLineEnd, with: Array(line.utf8))
        let e = Support.rejection(bytes)
        #expect(e?.statusCode == 400)
        #expect(e?.reason == "Malformed Request-Line")
    }

    @Test func versionOtherThan2_0Gives505() throws {
        var bytes = Support.request()
        let firstLineEnd = bytes.firstIndex(of: 0x0D)!
        bytes.replaceSubrange(0..<firstLineEnd, with: Array("OPTIONS sip:bob@example.com SIP/3.0".utf8))
        #expect(Support.rejection(bytes)?.statusCode == 505)
        // "SIP" is case-insensitive.
        bytes = Support.request()
        bytes.replaceSubrange(0..<firstLineEnd, with: Array("OPTIONS sip:bob@example.com sip/2.0".utf8))
        #expect(try SIPParser.parse(bytes).request?.version == "sip/2.0")
        #expect(Support.rejection(Support.response("SIP/1.0 200 OK"))?.statusCode == 505)
    }

    @Test func requestURISchemes() throws {
        #expect(try SIPParser.parse(Support.request(uri: "sips:bob@example.com")).request?.uri?.sipURI?.isSecure == true)
        #expect(try SIPParser.parse(Support.request(uri: "tel:+1-201-555-0123")).request?.uri?.telURI?.isGlobal == true)
        #expect(try SIPParser.parse(Support.request(uri: "urn:service:sos")).request?.uri == .other(scheme: "urn", value: "service:sos"))
        let e = try #require(Support.rejection(Support.request(uri: "mailto:bob@example.com")))
        #expect(e.statusCode == 416)
        #expect(e.request?.uri?.scheme == "mailto")
        // 416 only when everything else is fine.
        #expect(Support.rejection(Support.request(uri: "mailto:bob@example.com", extra: ["CSeq: 9 OPTIONS"]))?.statusCode == 400)
        #expect(Support.rejection(Support.request(uri: "sip:bob@example.com?Subject=x"))?.reason == "Bad Request-URI")
        #expect(Support.rejection(Support.request(uri: "sip:"))?.reason == "Bad Request-URI")
        #expect(Support.rejection(Support.request(uri: "1sip:x"))?.reason == "Bad Request-URI")
        #expect(Support.rejection(Support.request(uri: "*"))?.reason == "Bad Request-URI")
    }

    @Test func unknownMethodWithMatchingCSeqIsAccepted() throws {
        let m = try SIPParser.parse(Support.request("FOO"))
        #expect(m.request?.method == SIPMethod("FOO"))
        #expect(m.cseq?.method.rawValue == "FOO")
    }

    @Test func responses() throws {
        let m = try SIPParser.parse(Support.response("SIP/2.0 180 Ringing", body: "xy"))
        let r = try #require(m.response)
        #expect(r.statusCode == 180)
        #expect(r.reasonPhrase == "Ringing")
        #expect(r.body == Array("xy".utf8))
        #expect(r.toTag == "a6c85cf")
        #expect(try SIPParser.parse(Support.response("SIP/2.0 699")).response?.reasonPhrase == "")
        #expect(try SIPParser.parse(Support.response("SIP/2.0 100 ")).response?.statusCode == 100)
        // Max-Forwards is not checked in responses.
        #expect(throws: Never.self) { try SIPParser.parse(Support.response(extra: ["Max-Forwards: x"])) }
    }

    @Test(arguments: ["SIP/2.0 099 Low", "SIP/2.0 700 High", "SIP/2.0 20x OK", "SIP/2.0 2000 OK", "SIP/2.0 OK",
                      "SIP/2.0  200 OK", "SIP/2.0 4294967496 OK", "SIP/2.0"])
    func badStatusLines(_ line: String) throws {
        let e = try #require(Support.rejection(Support.response(line)))
        #expect(e.statusCode == 400)
        #expect(e.request == nil)
        #expect(e.reason == "Bad Status-Code" || e.reason == "Malformed Status-Line")
    }

    @Test func sizeLimitAndGarbage() throws {
        let body = String(repeating: "x", count: 70_000)
        let big = Support.request(body: body)
        #expect(Support.rejection(big)?.statusCode == 513)
        #expect(try SIPParser.parse(big, maxMessageSize: 100_000).body.count == 70_000)
        #expect(Support.rejection([])?.reason == "Empty Message")
        #expect(Support.rejection(Array("\r\n\r\n".utf8))?.reason == "Empty Message")
        let garbage = Support.rejection([0x16, 0x03, 0x01, 0x00, 0xFF, 0x0D, 0x0A])
        #expect(garbage?.statusCode == 400)
        #expect(garbage?.request == nil)
    }

    @Test func parseOverloads() throws {
        let bytes = Support.request(body: "b")
        let padded = [0x41] + bytes + [0x42]
        let fromSlice = try SIPParser.parse(padded[1..<(padded.count - 1)])
        let fromBuffer = try bytes.withUnsafeBytes { buffer throws(SIPParseError) in try SIPParser.parse(buffer) }
        let fromArray = try SIPParser.parse(bytes)
        #expect(fromSlice == fromArray)
        #expect(fromBuffer == fromArray)
    }

    @Test func errorDescription() throws {
        let e = SIPParseError(statusCode: 400, reason: "Bad Header: CSeq", headerName: "CSeq")
        #expect(e.description == "400 Bad Header: CSeq")
    }
}

extension String {
    func replacingCRLF() -> String {
        var out = ""
        var it = makeIterator()
        while let c = it.next() {
            if c == "\r\n" { out.append("\n") } else { out.append(c) }
        }
        return out
    }
}

extension [UInt8] {
    /// Inserts the test's extra line right after the start line (to make it a continuation of nothing).
    func spliced() -> [UInt8] {
        let text = String(decoding: self, as: UTF8.self)
        var lines = text.components(separatedBy: "\r\n")
        if let i = lines.firstIndex(of: " folded-without-field") {
            let l = lines.remove(at: i)
            lines.insert(l, at: 1)
        }
        return Array(lines.joined(separator: "\r\n").utf8)
    }
}
