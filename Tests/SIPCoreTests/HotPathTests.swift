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
