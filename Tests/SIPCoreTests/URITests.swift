import Testing
import SIPCore

@Suite("SIP, tel and other URIs")
struct URITests {
    @Test func sipURIComponents() throws {
        let u = try SIPURI(parsing: "sip:alice:secretword@atlanta.com:5061;transport=TCP;lr;maddr=239.255.255.1?subject=project%20x&priority=urgent")
        #expect(u.scheme == "sip")
        #expect(u.user == "alice")
        #expect(u.password == "secretword")
        #expect(u.host == "atlanta.com")
        #expect(u.port == 5061)
        #expect(u.hostPort == "atlanta.com:5061")
        #expect(u.transport == "tcp")
        #expect(u.isLooseRouter)
        #expect(u.maddr == "239.255.255.1")
        #expect(u.headers == [SIPURIHeader(name: "subject", value: "project x"), SIPURIHeader(name: "priority", value: "urgent")])
        #expect(!u.isSecure)
        #expect(try SIPURI(parsing: u.description) == u)
    }

    @Test func schemeIsCaseInsensitiveAndSipsIsSecure() throws {
        let u = try SIPURI(parsing: "SIPS:Bob@Biloxi.COM")
        #expect(u.scheme == "sips")
        #expect(u.isSecure)
        #expect(u.host == "Biloxi.COM")
        #expect(u.addressOfRecord == "sips:Bob@biloxi.com")
    }

    @Test func hostOnlyAndTelephoneUser() throws {
        let u = try SIPURI(parsing: "sip:registrar.biloxi.com")
        #expect(u.user == nil)
        #expect(u.host == "registrar.biloxi.com")
        let phone = try SIPURI(parsing: "sip:+1-212-555-1212:1234@gateway.com;user=phone")
        #expect(phone.user == "+1-212-555-1212")
        #expect(phone.password == "1234")
        #expect(phone.userParameter == "phone")
    }

    @Test func ipv6References() throws {
        let u = try SIPURI(parsing: "sip:[2001:db8::10]:5070;transport=udp")
        #expect(u.host == "[2001:db8::10]")
        #expect(u.port == 5070)
        let v = try SIPURI(parsing: "sip:user@[2001:DB8::9:1]")
        #expect(v.host == "[2001:DB8::9:1]")
        #expect(v.port == nil)
        #expect(v.isEquivalent(to: try SIPURI(parsing: "sip:user@[2001:db8::9:1]")))
        #expect(v.description == "sip:user@[2001:DB8::9:1]")
        #expect(throws: SIPParseError.self) { try SIPURI(parsing: "sip:user@[2001:db8::10") }
        #expect(throws: SIPParseError.self) { try SIPURI(parsing: "sip:user@[]") }
        #expect(throws: SIPParseError.self) { try SIPURI(parsing: "sip:user@[zz::1]") }
    }

    @Test(arguments: ["sip:", "sip:user@", "sip:us er@host", "sip:user@host:", "sip:user@host:65536", "sip:user@host;",
                      "sip:user@host;=x", "sip:user@host;a=", "sip:user@host?", "sip:user@host?x", "sip:%4@host",
                      "sip:user@host>", "<sip:user@host>", "http://host", "sip:user@ho st", "sip:user@host;a=1;A=2",
                      "sip:@host", "sip:u\"@host"])
    func invalidSIPURIs(_ text: String) {
        #expect(throws: SIPParseError.self) { try SIPURI(parsing: text) }
    }

    @Test func percentEscapesAreDecodedAndReencoded() throws {
        let u = try SIPURI(parsing: "sip:I%20have%20spaces@example.net;n%61me=v%61lue%25%34%31?h%61=%3Cx%3E")
        #expect(u.user == "I have spaces")
        #expect(u.parameters["name"] == .some("value%41"))
        #expect(u.headers.first == SIPURIHeader(name: "ha", value: "<x>"))
        #expect(u.originalText == "sip:I%20have%20spaces@example.net;n%61me=v%61lue%25%34%31?h%61=%3Cx%3E")
        #expect(u.description == "sip:I%20have%20spaces@example.net;name=value%2541?ha=%3Cx%3E")
        #expect(try SIPURI(parsing: u.description) == u)
        // Building a URI in code escapes what must be escaped.
        let built = SIPURI(user: "a@b c", host: "example.com", parameters: SIPParameters([("x", "1;2")]))
        #expect(built.description == "sip:a%40b%20c@example.com;x=1%3B2")
        #expect(built.originalText == nil)
    }

    // RFC 3261 §19.1.4 examples.
    @Test(arguments: [
        ("sip:%61lice@atlanta.com;transport=TCP", "sip:alice@AtLanTa.CoM;Transport=tcp"),
        ("sip:carol@chicago.com", "sip:carol@chicago.com;newparam=5"),
        ("sip:carol@chicago.com", "sip:carol@chicago.com;security=on"),
        ("sip:carol@chicago.com;newparam=5", "sip:carol@chicago.com;security=on"),
        ("sip:biloxi.com;transport=tcp;method=REGISTER?to=sip:bob%40biloxi.com",
         "sip:biloxi.com;method=REGISTER;transport=tcp?to=sip:bob%40biloxi.com"),
        ("sip:alice@atlanta.com?subject=project%20x&priority=urgent",
         "sip:alice@atlanta.com?priority=urgent&subject=project%20x"),
    ])
    func equivalentURIs(_ a: String, _ b: String) throws {
        let x = try SIPURI(parsing: a), y = try SIPURI(parsing: b)
        #expect(x.isEquivalent(to: y))
        #expect(y.isEquivalent(to: x))
        #expect(try URI(parsing: a).isEquivalent(to: URI(parsing: b)))
    }

    @Test(arguments: [
        ("SIP:ALICE@AtLanTa.CoM;Transport=udp", "sip:alice@AtLanTa.CoM;Transport=UDP"),
        ("sip:bob@biloxi.com", "sip:bob@biloxi.com:5060"),
        ("sip:bob@biloxi.com", "sip:bob@biloxi.com;transport=udp"),
        ("sip:bob@biloxi.com", "sip:bob@biloxi.com:6000;transport=tcp"),
        ("sip:carol@chicago.com", "sip:carol@chicago.com?Subject=next%20meeting"),
        ("sip:bob@phone21.boxesbybob.com", "sip:bob@192.0.2.4"),
        ("sip:bob@biloxi.com", "sips:bob@biloxi.com"),
        ("sip:bob:pw@biloxi.com", "sip:bob@biloxi.com"),
        ("sip:bob@biloxi.com;maddr=1.2.3.4", "sip:bob@biloxi.com"),
        ("sip:bob@biloxi.com;foo=1", "sip:bob@biloxi.com;foo=2"),
    ])
    func nonEquivalentURIs(_ a: String, _ b: String) throws {
        let x = try SIPURI(parsing: a), y = try SIPURI(parsing: b)
        #expect(!x.isEquivalent(to: y))
        #expect(!y.isEquivalent(to: x))
    }

    @Test func telURIs() throws {
        let g = try TelURI(parsing: "tel:+1-201-555-0123")
        #expect(g.isGlobal)
        #expect(g.number == "+1-201-555-0123")
        #expect(g.normalizedNumber == "+12015550123")
        #expect(g.description == "tel:+1-201-555-0123")
        let l = try TelURI(parsing: "tel:7042;phone-context=example.com")
        #expect(!l.isGlobal)
        #expect(l.phoneContext == "example.com")
        let ext = try TelURI(parsing: "TEL:+1.201.555.0123;ext=1234;isub=x%20y")
        #expect(ext.parameters["ext"] == .some("1234"))
        #expect(ext.parameters["isub"] == .some("x y"))
        #expect(try TelURI(parsing: ext.description) == ext)
        #expect(try TelURI(parsing: "tel:+1(201)5550123").isEquivalent(to: g))
        #expect(try TelURI(parsing: "tel:+12015550123;b=2;a=1").isEquivalent(to: TelURI(parsing: "tel:+1-201-555-0123;A=1;b=2")))
        #expect(try !TelURI(parsing: "tel:+12015550123;a=1").isEquivalent(to: g))
        #expect(try TelURI(parsing: "tel:*21#;phone-context=+1").number == "*21#")
        for bad in ["tel:", "tel:+", "tel:+12a4", "tel:12 34", "tel:123;", "tel:123;=x", "tel:123;p=", "tel:--", "sip:123", "tel:1;a;a"] {
            #expect(throws: SIPParseError.self) { try TelURI(parsing: bad) }
        }
    }

    @Test func uriEnum() throws {
        #expect(try URI(parsing: "sip:a@b").sipURI?.user == "a")
        #expect(try URI(parsing: "tel:+1234").telURI?.number == "+1234")
        let other = try URI(parsing: "Mailto:Bob@Example.com")
        #expect(other == .other(scheme: "mailto", value: "Bob@Example.com"))
        #expect(other.scheme == "mailto")
        #expect(other.description == "mailto:Bob@Example.com")
        #expect(other.sipURI == nil && other.telURI == nil)
        for bad in ["", ":x", "1x:y", "x:", "noscheme", "im:a b", "x:<y>", "sip:", "tel:"] {
            #expect(throws: SIPParseError.self) { try URI(parsing: bad) }
        }
        #expect(try !URI(parsing: "sip:a@b").isEquivalent(to: URI(parsing: "tel:+1")))
    }
}
