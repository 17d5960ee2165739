import Testing
@testable import SIPCore

/// The allocation-saving shortcuts on the message path give the same answers as the general code.
@Suite("Hot path shortcuts")
struct HotPathTests {
    static let listValues = [
        "a", " a ", "\ta\t", "", "  ", "a, b", "a,,b", ",a", "a,", "\"x,y\" <sip:a@b>, <sip:c@d;p=\",\">",
        "<sip:a@b,c>", "\"q\\\"uote,\" <sip:x@y>", "  <sip:a@b>  ", "a ,b , c",
    ]

    @Test func commaFreeValuesSplitLikeTheGeneralPath() {
        for v in Self.listValues {
            let parts = HeaderValueSplitter.split(v)
            #expect(HeaderValueSplitter.first(v) == parts.first, "\(v)")
            if !v.contains(",") {
                let trimmed = String(v.drop { $0 == " " || $0 == "\t" }.reversed().drop { $0 == " " || $0 == "\t" }.reversed())
                #expect(parts == (trimmed.isEmpty ? [] : [trimmed]), "\(v)")
            }
        }
        #expect(HeaderValueSplitter.split("a, b ,c") == ["a", "b", "c"])
        #expect(HeaderValueSplitter.split("\"x,y\" <sip:a@b>, <sip:c@d>") == ["\"x,y\" <sip:a@b>", "<sip:c@d>"])
    }

    /// The element splitting as written before it worked on the value's bytes: the reference.
    static func referenceSplit(_ value: String) -> [String] {
        var parts: [String] = [], current: [UInt8] = []
        var inQuotes = false, escaped = false, angle = 0
        func trim(_ b: [UInt8]) -> String {
            var s = b[...]
            while let f = s.first, [32, 9, 13, 10].contains(f) { s = s.dropFirst() }
            while let l = s.last, [32, 9, 13, 10].contains(l) { s = s.dropLast() }
            return String(decoding: s, as: UTF8.self)
        }
        for b in value.utf8 {
            if inQuotes {
                current.append(b)
                if escaped { escaped = false } else if b == UInt8(ascii: "\\") { escaped = true } else if b == UInt8(ascii: "\"") { inQuotes = false }
                continue
            }
            switch b {
            case UInt8(ascii: "\""): inQuotes = true; current.append(b)
            case UInt8(ascii: "<"): angle += 1; current.append(b)
            case UInt8(ascii: ">"): angle = max(0, angle - 1); current.append(b)
            case UInt8(ascii: ",") where angle == 0: parts.append(trim(current)); current.removeAll()
            default: current.append(b)
            }
        }
        parts.append(trim(current))
        return parts.filter { !$0.isEmpty }
    }

    @Test func byteSplittingMatchesTheReference() {
        var values = Self.listValues + ["<sip:a@b>,", "a,\"unterminated, b", "<a,<b,c>,d>, e", "\"\\\",\", x", "é, ü ,ß", " , , "]
        var rng = SystemRandomNumberGenerator()
        let alphabet = Array("ab ,\"\\<>\t;=é".unicodeScalars)
        for _ in 0..<2000 {
            var s = ""
            for _ in 0..<Int.random(in: 0...24, using: &rng) { s.unicodeScalars.append(alphabet.randomElement(using: &rng)!) }
            values.append(s)
        }
        for v in values {
            #expect(HeaderValueSplitter.split(v) == Self.referenceSplit(v), "\(v)")
            #expect(HeaderValueSplitter.first(v) == Self.referenceSplit(v).first, "\(v)")
        }
    }

    @Test func caseHelpersOnBytes() {
        #expect(SIPGrammar.lowercasedASCII("Via") == "via")
        #expect(SIPGrammar.lowercasedASCII("already-lower") == "already-lower")
        #expect(SIPGrammar.lowercasedASCII("ÉtÉ-X-Long-Header-Name-Over-15") == "ÉtÉ-x-long-header-name-over-15")
        #expect(SIPGrammar.equalsIgnoringCase("Branch", "bRANCH"))
        #expect(!SIPGrammar.equalsIgnoringCase("branch", "branc"))
        #expect(!SIPGrammar.equalsIgnoringCase("é", "É"))  // ASCII-only folding
        #expect(SIPGrammar.equalsIgnoringCase("a-much-longer-parameter-name", "A-MUCH-LONGER-PARAMETER-NAME"))
        for name in ["Via", "VIA", "via", "v", "To", "t", "CSeq", "CSEQ", "Call-ID", "call-id", "i", "Max-Forwards",
                     "Content-Length", "l", "Record-Route", "User-Agent", "X-Custom", "Authorization", "Contact", "m"] {
            let general = SIPGrammar.lowercasedASCII(name)
            #expect(HeaderName.canonical(name) == (general.utf8.count == 1 ? HeaderName.compact[general] ?? general : general), "\(name)")
        }
    }

    private func parsedRequest(_ text: String, sourceLocation: SourceLocation = #_sourceLocation) throws -> SIPRequest {
        guard case .request(let request) = try SIPParser.parse(Array(text.utf8)) else {
            Issue.record("not a request", sourceLocation: sourceLocation)
            throw SIPParseError.malformed("Request-Line")
        }
        return request
    }

    /// From, To and Contact parsed by the parser's validation are what later readers get, and a
    /// changed value is parsed afresh.
    @Test func validatedNameAddrsAreKeptAndDroppedOnChange() throws {
        let text = "REGISTER sip:example.com SIP/2.0\r\nVia: SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bKabc\r\n"
            + "From: \"Alice\" <sip:alice@example.com>;tag=f1\r\nTo: <sip:alice@example.com>\r\n"
            + "Call-ID: c1@10.0.0.1\r\nCSeq: 1 REGISTER\r\nMax-Forwards: 70\r\n"
            + "Contact: <sip:alice@10.0.0.1:5060>;expires=60, \"B, b\" <sip:alice@10.0.0.2>\r\n"
            + "m: <sip:alice@10.0.0.3;transport=tcp>;q=0.5\r\nContent-Length: 0\r\n\r\n"
        var request = try parsedRequest(text)
        #expect(request.headers.fields.filter { $0.parsed != nil }.count == 5)  // Via, From, To, Contact, m
        #expect(request.to == (try NameAddr(parsing: "<sip:alice@example.com>")))
        #expect(request.from?.tag == "f1")
        #expect(request.contacts == SIPRequest.nameAddrs(request.headers.values("Contact")))
        #expect(request.contacts.count == 3)
        #expect(request.headers.parsedNameAddrs("Contact")?.count == 3)
        let response = request.makeResponse(statusCode: 200, toTag: "t9")
        #expect(response.headers.first("To") == "<sip:alice@example.com>;tag=t9")

        request.headers.set("To", "<sip:bob@example.com>;tag=x")
        #expect(request.to?.uri.description == "sip:bob@example.com")
        #expect(request.makeResponse(statusCode: 200, toTag: "t9").headers.first("To") == "<sip:bob@example.com>;tag=x")
        request.headers.add("Contact", "*")
        #expect(request.headers.parsedNameAddrs("Contact") == nil)  // `*` is not parsed: readers parse the text

        // Equal text, equal fields, whatever was parsed on the way.
        var plain = SIPHeaders()
        for field in request.headers { plain.add(field.name, field.value) }
        #expect(plain == request.headers)
    }

    /// The top Via parsed by the validation serves response routing and transaction matching; a stamp
    /// keeps its own parse; a changed value is parsed afresh.
    @Test func validatedViaIsKeptThroughStampAndResponse() throws {
        let text = "REGISTER sip:example.com SIP/2.0\r\n"
            + "Via: SIP/2.0/UDP 10.0.0.1:5060;rport;branch=z9hG4bKabc, SIP/2.0/UDP 10.0.0.9;branch=z9hG4bKdef\r\n"
            + "v: SIP/2.0/TCP 10.0.0.2;branch=z9hG4bKghi\r\n"
            + "From: <sip:alice@example.com>;tag=f1\r\nTo: <sip:alice@example.com>\r\n"
            + "Call-ID: c1@10.0.0.1\r\nCSeq: 1 REGISTER\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n"
        var request = try parsedRequest(text)
        let viaFields = request.headers.fields.filter { $0.canonicalName == "via" }
        #expect(viaFields.map { $0.parsed?.vias.count } == [2, 1])
        #expect(request.topVia == (try Via(parsing: "SIP/2.0/UDP 10.0.0.1:5060;rport;branch=z9hG4bKabc")))

        var stamped = try #require(request.topVia)
        stamped.rport = 40000
        stamped.received = "192.0.2.7"
        request.headers.replaceTopVia(with: stamped)
        #expect(request.topVia == stamped)
        #expect(request.headers.values("Via") == [stamped.description, "SIP/2.0/UDP 10.0.0.9;branch=z9hG4bKdef",
                                                   "SIP/2.0/TCP 10.0.0.2;branch=z9hG4bKghi"])
        // What the cache says is what the text says.
        #expect(request.topVia == (try Via(parsing: request.headers.firstValue("Via")!)))

        let response = request.makeResponse(statusCode: 200, toTag: "t1")
        #expect(response.topVia == stamped)
        #expect(response.headers.values("Via") == request.headers.values("Via"))

        request.headers.set("Via", "SIP/2.0/TCP other.example.com;branch=z9hG4bKnew")
        #expect(request.topVia?.host == "other.example.com")
        var empty = SIPHeaders()
        #expect(empty.topVia == nil)
        empty.add("Via", "not a via")
        #expect(empty.topVia == nil)
    }

    @Test func firstValueIsTheFirstOfAllValues() {
        var h = SIPHeaders()
        h.add("Via", " ")
        h.add("v", "SIP/2.0/UDP a;branch=z9hG4bK1, SIP/2.0/UDP b")
        h.add("Via", "SIP/2.0/UDP c")
        h.add("Call-ID", "x, y")
        #expect(h.firstValue("Via") == h.values("Via").first)
        #expect(h.firstValue("Via") == "SIP/2.0/UDP a;branch=z9hG4bK1")
        #expect(h.firstValue("Call-ID") == "x, y")  // not a list header: never split
        #expect(h.firstValue("Route") == nil)
    }

    @Test func serializerKeepsValuesOnOneLine() {
        var h = SIPHeaders()
        h.add("Subject", "a\r\nInjected: yes")
        h.add("Content-Length", "99")
        let out = String(decoding: SIPResponse(statusCode: 486, reasonPhrase: "Busy\r\nHere", headers: h, body: Array("hello".utf8))
            .serialized(), as: UTF8.self)
        #expect(out == "SIP/2.0 486 Busy  Here\r\nSubject: a  Injected: yes\r\nContent-Length: 5\r\n\r\nhello")
        let r = SIPRequest(method: .register, requestURI: "sip:example.com")
        #expect(String(decoding: r.serialized(), as: UTF8.self) == "REGISTER sip:example.com SIP/2.0\r\nContent-Length: 0\r\n\r\n")
    }

    @Test func decimalDigits() {
        for n in [0, 7, 10, 99, 100, 1000, 65535, 1_234_567, -5] {
            var out: [UInt8] = []
            SIPSerializer.appendDecimal(&out, n)
            #expect(String(decoding: out, as: UTF8.self) == String(n))
        }
    }

    @Test func duplicateParametersAreFoundBelowAndAboveTheScanLimit() {
        for count in [2, ParameterNameSet.scanLimit - 1, ParameterNameSet.scanLimit, ParameterNameSet.scanLimit + 5] {
            let params = (0..<count).map { ";p\($0)=\($0)" }.joined()
            #expect((try? NameAddr(parsing: "<sip:a@b>" + params)) != nil)
            #expect((try? NameAddr(parsing: "<sip:a@b>" + params + ";P0=x")) == nil, "\(count)")
            #expect((try? NameAddr(parsing: "<sip:a@b>" + params + ";p\(count - 1)")) == nil, "\(count)")
            #expect((try? SIPURI(parsing: "sip:a@b" + params)) != nil)
            #expect((try? SIPURI(parsing: "sip:a@b" + params + ";P\(count - 1)=y")) == nil, "\(count)")
        }
    }

    @Test func percentDecodedStringMatchesPercentDecode() {
        for text in ["alice", "al%69ce", "a%zz", "a b", "%41%42", "", "x%2"] {
            let bytes = Array(text.utf8)[...]
            let expected = SIPGrammar.percentDecode(bytes, allowed: SIPGrammar.user).map { SIPGrammar.string($0) }
            #expect(SIPGrammar.percentDecodedString(bytes, allowed: SIPGrammar.user) == expected, "\(text)")
        }
    }

    @Test func callIDSyntax() {
        for good in ["abc", "a@b", "1-2.3!%*_+`'~()<>:\\\"/[]?{}", "x@y.example"] { #expect(SIPParser.isCallID(good), "\(good)") }
        for bad in ["", "@", "a@", "@b", "a@b@c", "a b", "a;b", "é"] { #expect(!SIPParser.isCallID(bad), "\(bad)") }
    }
}
