import Testing
import SIPCore
@testable import BGCF

@Suite("NumberNormalizer")
struct NumberNormalizerTests {
    static let home = "example.com"

    @Test(arguments: [
        ("sip:6505550002@example.com", "6505550002", nil as String?),
        ("sip:6505550002@EXAMPLE.com:5060;transport=tcp", "6505550002", nil),
        ("sip:+16505550002@example.com", "+16505550002", nil),
        ("sip:+16505550002@example.com;user=phone", "+16505550002", nil),
        ("sip:+1-650-555-0002@example.com;user=phone", "+16505550002", nil),
        ("sip:+1-650-555-0002@carrier.net;user=phone", "+16505550002", nil),
        ("sip:(650)555-0002@example.com", "6505550002", nil),
        ("sip:650.555.0002@example.com", "6505550002", nil),
        ("sip:650%20555%200002@example.com", "6505550002", nil),
        ("sips:6505550002@example.com", "6505550002", nil),
        ("sip:5550002;phone-context=example.com@example.com;user=phone", "5550002", "example.com"),
        ("tel:+1-650-555-0002", "+16505550002", nil),
        ("tel:+1.650.555.0002;isub=12", "+16505550002", nil),
        ("tel:5550002;phone-context=example.com", "5550002", "example.com"),
        ("tel:555-0002;phone-context=+1-650", "+16505550002", "+1-650"),
        ("tel:5550002", "5550002", nil),
        ("tel:*67;phone-context=example.com", "*67", "example.com"),
        ("tel:12ab;phone-context=+1650", "12AB", "+1650"),
    ])
    func numbers(uri: String, digits: String, context: String?) throws {
        let n = try #require(NumberNormalizer.normalize(uri: URI(parsing: uri), homeDomain: Self.home))
        #expect(n.digits == digits)
        #expect(n.phoneContext == context)
        #expect(n.isGlobal == digits.hasPrefix("+"))
    }

    @Test(arguments: [
        "sip:alice@example.com",
        "sip:example.com",
        "sip:6505550002@other.net",          // numeric user, foreign domain: an off-net SIP URI
        "sip:+16505550002@other.net",
        "sip:650555000a@example.com",
        "sip:+@example.com",
        "sip:1+2@example.com",
        "sip:*67@example.com",
        "sip:alice@carrier.net;user=phone",
        "mailto:6505550002@example.com",
        "urn:service:sos",
    ])
    func notNumbers(uri: String) throws {
        #expect(NumberNormalizer.normalize(uri: try URI(parsing: uri), homeDomain: Self.home) == nil)
    }

    @Test(arguments: [
        ("6505550002", "6505550002"), ("650 555 0002", "6505550002"), ("(650) 555-0002", "6505550002"),
        ("+1 (650) 555-0002", "+16505550002"), ("+1.650.555.0002", "+16505550002"), (" +44 20 7946 0000 ", "+442079460000"),
        ("0", "0"),
    ])
    func dialled(text: String, digits: String) throws {
        let n = try #require(NumberNormalizer.normalize(dialled: text))
        #expect(n.digits == digits)
        #expect(n.phoneContext == nil)
    }

    @Test(arguments: ["", "+", "  ", "()-", "650-555-000x", "1+650", "++1650", "alice", "#31#", "6505550002;x=y", "٦٥٠"])
    func notDialled(text: String) {
        #expect(NumberNormalizer.normalize(dialled: text) == nil)
    }

    @Test func derivedForms() throws {
        let g = try #require(NumberNormalizer.normalize(dialled: "+1 650 555 0002"))
        #expect(g.isGlobal)
        #expect(g.digitsWithoutPlus == "16505550002")
        #expect(g.description == "+16505550002")
        #expect(NumberNormalizer.toHomeSIPURI(g, homeDomain: "example.com") == "sip:+16505550002@example.com")
        let l = try #require(NumberNormalizer.normalize(dialled: "555 0002"))
        #expect(!l.isGlobal)
        #expect(l.digitsWithoutPlus == "5550002")
        #expect(NumberNormalizer.toHomeSIPURI("5550002", homeDomain: "example.com") == "sip:5550002@example.com")
        // The home SIP URI parses back to the same number.
        let back = NumberNormalizer.normalize(uri: try URI(parsing: NumberNormalizer.toHomeSIPURI(g, homeDomain: "example.com")),
                                              homeDomain: "example.com")
        #expect(back == g)
    }

    @Test func homeDomainComparisonIgnoresCaseAndTrailingDot() throws {
        #expect(NumberNormalizer.normalize(uri: try URI(parsing: "sip:123@Example.COM."), homeDomain: "example.com")?.digits == "123")
        #expect(NumberNormalizer.normalize(uri: try URI(parsing: "sip:123@example.com"), homeDomain: "EXAMPLE.com.")?.digits == "123")
        #expect(NumberNormalizer.normalize(uri: try URI(parsing: "sip:123@sub.example.com"), homeDomain: "example.com") == nil)
    }
}
