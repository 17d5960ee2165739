import IMSModel
import PCSCF
import SIPCore
import Testing

/// The identity keys and the P-CSCF's flow token, both rebuilt byte-wise for the REGISTER path.
@Suite struct PublicIdentityTests {
    @Test func normalizesSchemeHostAndPort() throws {
        #expect(PublicIdentity.normalize("sip:6505550001@Example.COM") == "sip:6505550001@example.com")
        #expect(PublicIdentity.normalize("SIP:Alice@EXAMPLE.com:5060;transport=udp") == "sip:Alice@example.com:5060")
        #expect(PublicIdentity.normalize("<sips:bob@example.com>") == "sips:bob@example.com")
        #expect(PublicIdentity.normalize("sip:example.com") == "sip:example.com")
        #expect(PublicIdentity.normalize("tel:+1-650-555-0001") == "tel:+16505550001")
        #expect(PublicIdentity.normalize("not a uri") == nil)
    }

    @Test func aliasesOfTheHomeDomainLoseHostAndPort() {
        let aliases: Set<String> = ["10.0.0.5", "ims.local"]
        #expect(PublicIdentity.normalize("sip:6505550001@10.0.0.5:5060", homeDomain: "Example.com", aliases: aliases)
                == "sip:6505550001@example.com")
        #expect(PublicIdentity.normalize("sip:6505550001@IMS.local", homeDomain: "example.com", aliases: aliases)
                == "sip:6505550001@example.com")
        // Not an alias: kept, port included.
        #expect(PublicIdentity.normalize("sip:6505550001@other.org:5070", homeDomain: "example.com", aliases: aliases)
                == "sip:6505550001@other.org:5070")
        // Without a home domain aliases do not apply.
        #expect(PublicIdentity.normalize("sip:6505550001@10.0.0.5:5060", homeDomain: nil, aliases: aliases)
                == "sip:6505550001@10.0.0.5:5060")
    }

    @Test func flowTokenEscapesAndRoundTrips() {
        let flows = ["udp:127.0.0.1:5060", "tcp:[2001:db8::1]:5061", "tls:host.example.com:5061#7", "a b%c", "é"]
        for flow in flows {
            let token = PCSCF.flowToken(flow)
            #expect(token.hasPrefix("f-"))
            #expect(token.utf8.dropFirst(2).allSatisfy { b in
                (b >= 0x30 && b <= 0x39) || (b >= 0x41 && b <= 0x5A) || (b >= 0x61 && b <= 0x7A)
                    || b == UInt8(ascii: ".") || b == UInt8(ascii: "-") || b == UInt8(ascii: "_") || b == UInt8(ascii: "%")
            })
            #expect(PCSCF.flow(fromToken: token) == flow)
        }
        #expect(PCSCF.flowToken("udp:1.2.3.4:5") == "f-udp%3A1.2.3.4%3A5")
    }
}
