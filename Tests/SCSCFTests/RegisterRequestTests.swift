import Testing
import SIPCore
@testable import SCSCF

@Suite("RegisterRequest.from")
struct RegisterRequestTests {
    @Test func extractsEverything() throws {
        let r = try Reg.request(
            contacts: ["<sip:alice@10.0.0.1:5060;transport=tcp>;expires=600;q=0.7;+sip.instance=\"\(Reg.instance1)\";reg-id=2;+g.3gpp.icsi-ref=\"urn%3Aurn-7%3A3gpp-service.ims.icsi.mmtel\""],
            expires: "1200", callID: "abc@ue", cseq: 42,
            extra: ["Path: <sip:term@pcscf.ims.example.com;lr>, <sip:edge@sbc.example.com;lr;ob>",
                    "Path: <sip:third@x.example.com;lr>", "User-Agent: TestUE/1.0 (Linux)"],
            flow: "tcp:10.0.0.1:40000#7")
        #expect(r.callID == "abc@ue")
        #expect(r.cseq == 42)
        #expect(r.expiresHeader == 1200)
        #expect(!r.wildcard)
        #expect(r.impi == Reg.impi)
        #expect(r.flow == "tcp:10.0.0.1:40000#7")
        #expect(r.userAgent == "TestUE/1.0 (Linux)")
        #expect(r.path == ["<sip:term@pcscf.ims.example.com;lr>", "<sip:edge@sbc.example.com;lr;ob>", "<sip:third@x.example.com;lr>"])
        try #require(r.contacts.count == 1)
        let c = r.contacts[0]
        #expect(c.uri == "sip:alice@10.0.0.1:5060;transport=tcp")
        #expect(c.expires == 600)
        #expect(c.q == 0.7)
        #expect(c.instance == Reg.instance1)
        #expect(c.regID == 2)
        #expect(c.parameters["+g.3gpp.icsi-ref"] == .some("\"urn%3Aurn-7%3A3gpp-service.ims.icsi.mmtel\""))
    }

    @Test func contactsFromListsAndSeveralLinesInOrder() throws {
        let r = try Reg.request(contacts: ["<sip:a@1.1.1.1>, sip:b@2.2.2.2;expires=60", "\"Alice\" <sip:c@3.3.3.3>;q=0"])
        #expect(r.contacts.map(\.uri) == ["sip:a@1.1.1.1", "sip:b@2.2.2.2", "sip:c@3.3.3.3"])
        #expect(r.contacts.map(\.expires) == [nil, 60, nil])
        #expect(r.contacts.map(\.q) == [nil, nil, 0])
        #expect(r.expiresHeader == nil)
        #expect(r.path.isEmpty)
        #expect(r.userAgent == nil)
    }

    @Test func compactHeaderForms() throws {
        let text = Reg.text(contacts: []).replacingFirst("Call-ID: reg-1@ue.example.com", with: "i: compact@ue")
            .replacingFirst("Content-Length: 0", with: "m: <sip:alice@10.0.0.9>\r\nContent-Length: 0")
        let r = try RegisterRequest.from(try Reg.parse(text), impi: Reg.impi, flow: nil, maxContacts: 5)
        #expect(r.callID == "compact@ue")
        #expect(r.contacts.map(\.uri) == ["sip:alice@10.0.0.9"])
    }

    @Test func noContactIsAQuery() throws {
        let r = try Reg.request(contacts: [])
        #expect(r.contacts.isEmpty)
        #expect(!r.wildcard)
    }

    @Test func sipsContactIsAccepted() throws {
        let r = try Reg.request(contacts: ["<sips:alice@ue.example.com>"])
        #expect(r.contacts.map(\.uri) == ["sips:alice@ue.example.com"])
    }

    // MARK: wildcard

    @Test func wildcardWithExpiresZero() throws {
        let r = try Reg.request(contacts: [" * "], expires: "0")
        #expect(r.wildcard)
        #expect(r.contacts.isEmpty)
        #expect(r.expiresHeader == 0)
    }

    @Test(arguments: [nil, "60", "3600"] as [String?])
    func wildcardNeedsExpiresZero(expires: String?) {
        let e = Reg.error { _ = try Reg.request(contacts: ["*"], expires: expires) }
        #expect(e == RegistrarError(400, "Wildcard Contact requires Expires: 0"))
    }

    @Test func wildcardMustBeAlone() {
        // Two Contact lines pass the parser (each is valid on its own); the registrar rejects the mix.
        #expect(Reg.error { _ = try Reg.request(contacts: ["*", "<sip:alice@10.0.0.1>"], expires: "0") }
                == RegistrarError(400, "Wildcard Contact must be alone"))
        #expect(Reg.error { _ = try Reg.request(contacts: ["<sip:alice@10.0.0.1>", "*"], expires: "0") }
                == RegistrarError(400, "Wildcard Contact must be alone"))
        #expect(Reg.error { _ = try Reg.request(contacts: ["*", "*"], expires: "0") }
                == RegistrarError(400, "Wildcard Contact must be alone"))
    }

    @Test func wildcardInAListIsRejectedByTheParserAndByFrom() throws {
        let text = Reg.text(contacts: ["*, <sip:alice@10.0.0.1>"], expires: "0")
        do {
            _ = try SIPParser.parse(Array(text.utf8))
            Issue.record("parser accepted a wildcard in a list")
        } catch {
            #expect(error.reason == "Bad Header: Contact")
            let request = try #require(error.request)
            #expect(Reg.error { _ = try RegisterRequest.from(request, impi: Reg.impi, flow: nil, maxContacts: 20) }
                    == RegistrarError(400, "Wildcard Contact must be alone"))
        }
    }

    // MARK: malformed input

    @Test(arguments: ["<sip:alice@10.0.0.1", "<sip:alice@10.0.0.1>;expires=60;", "sip:alice@[::1", "<>", "\"unterminated <sip:a@b>"])
    func malformedContactIs400BadHeader(contact: String) throws {
        let text = Reg.text(contacts: [contact])
        do {
            _ = try SIPParser.parse(Array(text.utf8))
            Issue.record("parser accepted \(contact)")
        } catch {
            let request = try #require(error.request)
            #expect(Reg.error { _ = try RegisterRequest.from(request, impi: Reg.impi, flow: nil, maxContacts: 20) }
                    == RegistrarError(400, "Bad Header: Contact"))
        }
    }

    @Test(arguments: ["abc", "-1", "1.5", "99999999999", "", "6 0"])
    func malformedExpiresHeaderIs400(expires: String) {
        let e = Reg.error { _ = try Reg.request(contacts: ["<sip:alice@10.0.0.1>"], expires: expires) }
        #expect(e?.status == 400)
        #expect(e?.reason.hasPrefix("Bad Header: Expires") == true)
    }

    @Test func expiresHeaderWithSpacesAndMaximum() throws {
        #expect(try Reg.request(contacts: ["<sip:a@h>"], expires: "  60  ").expiresHeader == 60)
        #expect(try Reg.request(contacts: ["<sip:a@h>"], expires: "4294967295").expiresHeader == 4_294_967_295)
    }

    @Test(arguments: ["expires=abc", "expires", "expires=-5", "expires=1e3", "expires=99999999999"])
    func malformedContactExpiresIs400(param: String) {
        let e = Reg.error { _ = try Reg.request(contacts: ["<sip:alice@10.0.0.1>;\(param)"]) }
        #expect(e?.status == 400)
        #expect(e?.reason.hasPrefix("Bad Contact expires") == true)
    }

    @Test(arguments: [("0", 0.0), ("0.5", 0.5), ("0.123", 0.123), ("1", 1.0), ("1.000", 1.0), ("0.", 0.0), ("0.05", 0.05)])
    func validQValues(text: String, value: Double) throws {
        let r = try Reg.request(contacts: ["<sip:alice@10.0.0.1>;q=\(text)"])
        #expect(r.contacts.first?.q == value)
    }

    @Test(arguments: ["1.5", "-0.1", "2", "0.1234", "1.001", "1e-1", "abc", "nan", "inf", ".5", "+0.5", ""])
    func invalidQValuesAre400(text: String) {
        let contact = text.isEmpty ? "<sip:alice@10.0.0.1>;q" : "<sip:alice@10.0.0.1>;q=\(text)"
        #expect(Reg.error { _ = try Reg.request(contacts: [contact]) } == RegistrarError(400, "Bad Contact q-value"))
    }

    @Test(arguments: ["<tel:+15551234567>", "tel:+15551234567", "<mailto:alice@example.com>", "<urn:uuid:1234>"])
    func nonSIPContactIs400(contact: String) {
        #expect(Reg.error { _ = try Reg.request(contacts: [contact]) } == RegistrarError(400, "Bad Contact URI scheme"))
    }

    @Test func tooManyContactsIs403() throws {
        let e = Reg.error {
            _ = try Reg.request(contacts: ["<sip:a@1.1.1.1>, <sip:b@1.1.1.2>", "<sip:c@1.1.1.3>"], maxContacts: 2)
        }
        #expect(e == RegistrarError(403, "Too Many Contacts (max 2)"))
        #expect(try Reg.request(contacts: ["<sip:a@1.1.1.1>, <sip:b@1.1.1.2>"], maxContacts: 2).contacts.count == 2)
    }

    @Test func instanceIsUnquoted() throws {
        let quoted = try Reg.request(contacts: ["<sip:a@h>;+sip.instance=\"\(Reg.instance1)\""])
        #expect(quoted.contacts.first?.instance == Reg.instance1)
        let bare = try Reg.request(contacts: ["<sip:a@h>;+sip.instance=token-instance"])
        #expect(bare.contacts.first?.instance == "token-instance")
        let valueless = try Reg.request(contacts: ["<sip:a@h>;+sip.instance"])
        #expect(valueless.contacts.first?.instance == nil)
    }

    @Test(arguments: ["0", "abc", "+1", "-1", "99999999999", "2147483648", ""])
    func badRegIDIs400(regID: String) {
        let param = regID.isEmpty ? "reg-id" : "reg-id=\(regID)"
        let e = Reg.error { _ = try Reg.request(contacts: ["<sip:a@h>;+sip.instance=\"\(Reg.instance1)\";\(param)"]) }
        #expect(e == RegistrarError(400, "Bad Contact reg-id"))
    }

    @Test func regIDWithoutInstanceIsIgnored() throws {
        // RFC 5626 §6: without +sip.instance the registrar applies the RFC 3261 rules; reg-id means nothing.
        let r = try Reg.request(contacts: ["<sip:a@h>;reg-id=1", "<sip:b@h>;reg-id=junk"])
        #expect(r.contacts.map(\.regID) == [nil, nil])
        #expect(r.contacts.map(\.instance) == [nil, nil])
    }

    @Test func missingCallIDAndBadCSeqOnHandBuiltRequests() {
        // The parser never lets these through; `from` still defends itself for requests built in code.
        var headers = SIPHeaders()
        headers.add("CSeq", "1 REGISTER")
        let noCallID = SIPRequest(method: .register, requestURI: "sip:ims.example.com", headers: headers)
        #expect(Reg.error { _ = try RegisterRequest.from(noCallID, impi: Reg.impi, flow: nil, maxContacts: 5) }
                == RegistrarError(400, "Missing Call-ID"))
        var headers2 = SIPHeaders()
        headers2.add("Call-ID", "x@y")
        headers2.add("CSeq", "one REGISTER")
        let badCSeq = SIPRequest(method: .register, requestURI: "sip:ims.example.com", headers: headers2)
        #expect(Reg.error { _ = try RegisterRequest.from(badCSeq, impi: Reg.impi, flow: nil, maxContacts: 5) }
                == RegistrarError(400, "Bad Header: CSeq"))
    }
}

extension String {
    func replacingFirst(_ target: String, with replacement: String) -> String {
        guard let range = firstRange(of: target) else { return self }
        var copy = self
        copy.replaceSubrange(range, with: replacement)
        return copy
    }
}
