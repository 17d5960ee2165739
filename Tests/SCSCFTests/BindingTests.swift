import Testing
import SIPCore
@testable import SCSCF

@Suite("Binding")
struct BindingTests {
    @Test func contactHeaderValueFromARegister() throws {
        var h = Harness(policy: RegistrarPolicy(maxExpires: 600))
        try h.register(["<sip:alice@10.0.0.1:5060;transport=tcp>;q=0.5;+sip.instance=\"\(Reg.instance1)\";reg-id=1;expires=600"],
                       cseq: 1, now: 1000)
        let b = try #require(h.bindings(1000).first)
        #expect(b.contactHeaderValue(now: 1000)
                == "<sip:alice@10.0.0.1:5060;transport=tcp>;+sip.instance=\"\(Reg.instance1)\";reg-id=1;q=0.5;expires=600")
        #expect(b.contactHeaderValue(now: 1450).hasSuffix(";expires=150"))
        #expect(b.contactHeaderValue(now: 5000).hasSuffix(";expires=0"))
        // What we send back parses as a Contact value with the same meaning.
        let parsed = try NameAddr(parsing: b.contactHeaderValue(now: 1100))
        #expect(parsed.uri.description == b.contactURI)
        #expect(parsed.expires == 500)
        #expect(parsed.q == 0.5)
    }

    @Test(arguments: [(1.0, "1.0"), (0.5, "0.5"), (0.0, "0.0"), (0.001, "0.001"), (0.05, "0.05"), (0.123, "0.123"),
                      (0.1, "0.1"), (0.9999, "1.0"), (0.1234, "0.123"), (2.0, "1.0"), (-1.0, "0.0"), (Double.nan, "0.0"),
                      (Double.infinity, "1.0")])
    func qFormatting(q: Double, text: String) {
        #expect(Binding.format(q) == text)
        let b = makeBinding(q: q)
        #expect(b.contactHeaderValue(now: 1000).contains(";q=\(text);"))
    }

    @Test func noQNoQParameter() {
        let b = makeBinding(uri: "sip:alice@10.0.0.1", expiresAt: 1060)
        #expect(b.contactHeaderValue(now: 1000) == "<sip:alice@10.0.0.1>;expires=60")
    }

    @Test func staleExpiresParameterIsReplaced() {
        let b = makeBinding(uri: "sip:alice@10.0.0.1", params: [("expires", "9999"), ("audio", nil)], expiresAt: 1060)
        #expect(b.contactHeaderValue(now: 1000) == "<sip:alice@10.0.0.1>;audio;expires=60")
    }

    @Test func pubGRUUIsQuoted() throws {
        let b = makeBinding(uri: "sip:alice@10.0.0.1", params: [("+sip.instance", "\"\(Reg.instance1)\"")], expiresAt: 1300,
                            instance: Reg.instance1)
        let gruu = RegInfo.pubGRUU(aor: Reg.aor, instance: Reg.instance1)
        #expect(gruu == "sip:alice@ims.example.com;gr=urn:uuid:00000000-0000-1000-8000-000000000001")
        let value = b.contactHeaderValue(now: 1000, pubGRUU: gruu)
        #expect(value == "<sip:alice@10.0.0.1>;+sip.instance=\"\(Reg.instance1)\";expires=300;pub-gruu=\"\(gruu)\"")
        let parsed = try NameAddr(parsing: value)
        #expect(parsed.parameters["pub-gruu"] == .some("\"\(gruu)\""))
        // A quote or backslash inside stays inside the quoted-string.
        let odd = b.contactHeaderValue(now: 1000, pubGRUU: "sip:a\"b\\c@x")
        #expect(odd.hasSuffix(";pub-gruu=\"sip:a\\\"b\\\\c@x\""))
        #expect((try? NameAddr(parsing: odd)) != nil)
    }

    @Test func remaining() {
        let b = makeBinding(expiresAt: 1300)
        #expect(b.remaining(at: 1000) == 300)
        #expect(b.remaining(at: 1300) == 0)
        #expect(b.remaining(at: 2000) == 0)
    }
}
