import Testing
import SIPCore

// RFC 4475 (SIP torture test messages): all 49 files, classified by the RFC's own sections.
//
// | file       | RFC §    | class             | what the RFC asks of an element              | SIPCore behaviour (asserted below)                                  |
// |------------|----------|-------------------|----------------------------------------------|---------------------------------------------------------------------|
// | wsinv      | 3.1.1.1  | valid             | parse                                        | accepted; folding, escapes, 3 Vias, odd params, leading zeros       |
// | intmeth    | 3.1.1.2  | valid             | parse                                        | accepted; odd method/URI/user/password/params/Call-ID/header name   |
// | esc01      | 3.1.1.3  | valid             | parse, %-escapes resolved                    | accepted; R-URI user "sips:user@example.com", Contact param values  |
// | escnull    | 3.1.1.4  | valid             | parse, %00 in user parts                     | accepted; users "null-\0-null", "\0", "\0\0"                       |
// | esc02      | 3.1.1.5  | valid             | % not an escape in method/display name       | accepted; method RE%47IST%45R ≠ REGISTER, 2 Contact values          |
// | lwsdisp    | 3.1.1.6  | valid             | no LWS between display name and <            | accepted; display name "caller"                                     |
// | longreq    | 3.1.1.7  | valid             | long values, 34 Vias                         | accepted; lengths and Via order checked                             |
// | dblreq     | 3.1.1.8  | valid             | UDP: octets after Content-Length discarded   | accepted as the REGISTER alone, empty body                          |
// | semiuri    | 3.1.1.9  | valid             | ";" in URI user part                         | accepted; user "user;par=u@example.net", no URI params              |
// | transports | 3.1.1.10 | valid             | unknown transports in Via                    | accepted; UDP/SCTP/TLS/UNKNOWN/TCP                                  |
// | mpart01    | 3.1.1.11 | valid             | multipart body kept opaque                   | accepted; 553-byte binary body intact                               |
// | unreason   | 3.1.1.12 | valid             | UTF-8 reason phrase                          | accepted; reason phrase decoded                                     |
// | noreason   | 3.1.1.13 | valid             | empty reason phrase                          | accepted; reason ""                                                 |
// | badinv01   | 3.1.2.1  | invalid           | 400                                          | 400 "Bad Header: Via"                                               |
// | clerr      | 3.1.2.2  | invalid           | UDP: 400                                     | 400 "Content-Length Exceeds Body"                                   |
// | ncl        | 3.1.2.3  | invalid           | error (UDP 400; TCP close)                   | 400 "Bad Header: Content-Length"; framer error too                  |
// | scalar02   | 3.1.2.4  | invalid           | 400 because of CSeq                          | 400 "Bad Header: CSeq" (CSeq checked before Max-Forwards)           |
// | scalarlg   | 3.1.2.5  | invalid response  | discard                                      | rejected "Bad Header: CSeq", no request attached                   |
// | quotbal    | 3.1.2.6  | invalid           | 400                                          | 400 "Bad Header: To"                                                |
// | ltgtruri   | 3.1.2.7  | invalid           | 400                                          | 400 "Bad Request-URI"                                               |
// | lwsruri    | 3.1.2.8  | invalid           | 400                                          | 400 "Malformed Request-Line"                                        |
// | lwsstart   | 3.1.2.9  | invalid           | may reject                                   | 400 "Malformed Request-Line"                                        |
// | trws       | 3.1.2.10 | invalid           | may reject                                   | 400 "Malformed Request-Line"                                        |
// | escruri    | 3.1.2.11 | invalid           | may reject with 400                          | 400 "Bad Request-URI" (headers not allowed in R-URI, RFC 3261 §19.1.1) |
// | baddate    | 3.1.2.12 | invalid           | 400 (non-GMT Date)                           | 400 "Bad Header: Date"                                              |
// | regbadct   | 3.1.2.13 | invalid           | 400 (URI with "?" not in <>)                 | 400 "Bad Header: Contact"                                           |
// | badaspec   | 3.1.2.14 | invalid           | 400 (spaces inside <>)                       | 400 "Bad Header: To"                                                |
// | baddn      | 3.1.2.15 | invalid           | 400 (unquoted non-token display names)       | 400 "Bad Header: From"                                              |
// | badvers    | 3.1.2.16 | invalid           | 505                                          | 505 "Version Not Supported"                                         |
// | mismatch01 | 3.1.2.17 | invalid           | 400                                          | 400 "CSeq Method Mismatch"                                          |
// | mismatch02 | 3.1.2.18 | invalid           | 501 (400 acceptable)                         | 501 "CSeq Method Mismatch" (unknown method)                         |
// | bigcode    | 3.1.2.19 | invalid response  | discard                                      | rejected "Bad Status-Code", no request attached                    |
// | badbranch  | 3.2.1    | transaction layer | must not break; 400 or RFC 2543 matching     | accepted; branch exactly "z9hG4bK", hasRFC3261TransactionID false   |
// | insuf      | 3.3.1    | application       | 400 (no Call-ID/From/To)                     | 400 "Missing Header: From"                                          |
// | unkscm     | 3.3.2    | application       | well-formed; 416                             | 416, error.request is the complete request                          |
// | novelsc    | 3.3.3    | application       | well-formed; 416 if scheme never routable    | 416 (soap.beep not in acceptedRequestURISchemes), request complete  |
// | unksm2     | 3.3.4    | application       | well-formed; registrar 400 (To not SIP)      | accepted; To/From/Contact are URI.other                            |
// | bext01     | 3.3.5    | application       | 420 with Unsupported                         | accepted; require/proxyRequire exposed                              |
// | invut      | 3.3.6    | application       | 415 with Accept                              | accepted; mediaType "application/unknownformat"                     |
// | regaut01   | 3.3.7    | application       | 401 (or ignore) unknown auth scheme          | accepted; Authorization stored verbatim, not comma-split            |
// | multi01    | 3.3.8    | application       | 400 (several CSeq/Call-ID/To/From)           | 400 "Duplicate Header: CSeq"                                        |
// | mcl01      | 3.3.9    | application       | error: body length unknowable                | 400 "Conflicting Content-Length"                                    |
// | bcast      | 3.3.10   | application       | well-formed; do not send to broadcast        | accepted; 2nd Via sent-by 255.255.255.255 exposed                   |
// | zeromf     | 3.3.11   | application       | proxy: 483; UAS may answer                   | accepted; maxForwards == 0                                          |
// | cparam01   | 3.3.12   | application       | unknownparam is a contact param              | accepted; header param, not URI param                               |
// | cparam02   | 3.3.13   | application       | unknownparam is a URI param                  | accepted; URI param, not header param                               |
// | regescrt   | 3.3.14   | application       | escaped header in Contact URI is fine        | accepted; URI header Route=<sip:sip.example.com>                    |
// | sdp01      | 3.3.15   | application       | Accept excludes SDP: 406 or answer w/o body  | accepted; Accept value exposed                                      |
// | inv2543    | 3.4.1    | backwards compat. | accept RFC 2543 syntax                       | accepted; no branch cookie, no Max-Forwards, body = rest (no CL)    |

@Suite("RFC 4475 torture tests")
struct RFC4475Tests {
    static let valid = ["wsinv", "intmeth", "esc01", "escnull", "esc02", "lwsdisp", "longreq", "dblreq", "semiuri",
                        "transports", "mpart01", "unreason", "noreason"]
    static let invalid = ["badinv01", "clerr", "ncl", "scalar02", "scalarlg", "quotbal", "ltgtruri", "lwsruri",
                          "lwsstart", "trws", "escruri", "baddate", "regbadct", "badaspec", "baddn", "badvers",
                          "mismatch01", "mismatch02", "bigcode"]
    static let transactionLayer = ["badbranch"]
    static let applicationLayer = ["insuf", "unkscm", "novelsc", "unksm2", "bext01", "invut", "regaut01", "multi01",
                                   "mcl01", "bcast", "zeromf", "cparam01", "cparam02", "regescrt", "sdp01"]
    static let backwardsCompatibility = ["inv2543"]

    @Test func everyFileIsClassifiedExactlyOnce() throws {
        let all = Self.valid + Self.invalid + Self.transactionLayer + Self.applicationLayer + Self.backwardsCompatibility
        #expect(all.count == 49)
        #expect(Set(all).count == 49)
        let onDisk = try FileManagerShim.datFiles(in: Support.rfc4475Directory)
        #expect(Set(onDisk) == Set(all))
    }

    @Test(arguments: valid + transactionLayer + ["unksm2", "bext01", "invut", "regaut01", "bcast", "zeromf",
                                                   "cparam01", "cparam02", "regescrt", "sdp01"] + backwardsCompatibility)
    func acceptedMessagesRoundTrip(_ name: String) throws {
        try Support.acceptAndRoundTrip(Support.torture(name)) { m in
            // Everything an element needs to answer is reachable through the typed views.
            #expect(m.topVia != nil)
            #expect(m.callID != nil)
            #expect(m.cseq != nil)
            #expect(m.from != nil)
            #expect(m.to != nil)
            if case .request(let r) = m { #expect(r.uri != nil) }
        }
    }

    @Test(arguments: invalid + ["insuf", "unkscm", "novelsc", "multi01", "mcl01"])
    func rejectedMessagesNeverCrashAndNameTheCulprit(_ name: String) throws {
        let error = try #require(Support.rejection(Support.torture(name)))
        #expect(!error.reason.isEmpty)
        #expect([400, 416, 501, 505].contains(error.statusCode))
        // Requests keep enough to be answered statelessly (RFC 3261 §8.2.6).
        if let request = error.request {
            let response = request.makeResponse(statusCode: error.statusCode, reasonPhrase: error.reason)
            #expect(response.statusCode == error.statusCode)
            _ = try? SIPParser.parse(response.serialized())
        }
    }

    // MARK: 3.1.1 Valid messages

    @Test func wsinv_3_1_1_1() throws {
        try Support.acceptAndRoundTrip(Support.torture("wsinv")) { m in
            let r = try #require(m.request)
            #expect(r.method == .invite)
            let ruri = try #require(r.uri?.sipURI)
            #expect(ruri.user == "vivekg")
            #expect(ruri.host == "chair-dnrc.example.com")
            #expect(ruri.parameters["unknownparam"] == .some(nil))
            // To: folded, LWS around ";" and "=".
            let to = try #require(m.to)
            #expect(to.uri.sipURI?.user == "vivekg")
            #expect(to.tag == "1918181833n")
            #expect(to.displayName == nil)
            // From: quoted display name with escaped backslash and quote, folded params.
            let from = try #require(m.from)
            #expect(from.displayName == "J Rosenberg \\\"")
            #expect(from.uri.sipURI?.user == "jdrosen")
            #expect(from.tag == "98asjd8")
            // Leading zeros in scalar fields.
            #expect(m.maxForwards == 68)
            #expect(m.cseq == CSeq(sequence: 9, method: .invite))
            #expect(m.callID == "wsinv.ndaksdj@192.0.2.1")
            // One Via field plus a comma-separated, folded one with LWS everywhere.
            let vias = m.vias
            #expect(vias.count == 3)
            #expect(vias.map(\.transport) == ["UDP", "TCP", "UDP"])
            #expect(vias.map(\.host) == ["192.0.2.2", "spindle.example.com", "192.168.255.111"])
            #expect(vias.map(\.branch) == ["390skdjuw", "z9hG4bK9ikj8", "z9hG4bK30239"])
            #expect(vias[0].protocolName == "SIP" && vias[0].protocolVersion == "2.0")
            #expect(!vias[0].hasMagicCookie && vias[1].hasMagicCookie)
            // Empty Subject (compact "s"), unknown headers kept verbatim, folding unfolded to one SP.
            #expect(m.headers.first("Subject") == "")
            #expect(m.headers.first("NewFangledHeader") == "newfangled value continued newfangled value")
            #expect(m.headers.first("UnknownHeaderWithUnusualValue") == ";;,,;;,;")
            // Route with unknown URI params, with and without value.
            let route = try #require(m.routes.first?.uri.sipURI)
            #expect(route.host == "services.example.com")
            #expect(route.isLooseRouter)
            #expect(route.parameters["unknownwith"] == .some("value"))
            #expect(route.parameters["unknown-no-value"] == .some(nil))
            // Contact (compact "m") with escaped quotes and odd header params.
            let contact = try #require(m.contacts.first)
            #expect(m.contacts.count == 1)
            #expect(contact.displayName == "Quoted string \"\"")
            #expect(contact.uri.sipURI?.user == "jdrosen")
            #expect(contact.parameters["newparam"] == .some("newvalue"))
            #expect(contact.parameters["secondparam"] == .some(nil))
            #expect(contact.parameters["q"] == .some("0.33"))
            #expect(contact.q == 0.33)
            #expect(m.contentType == "application/sdp")
            #expect(m.body.count == 150)
            #expect(m.body.starts(with: Array("v=0\r\n".utf8)))
        }
    }

    @Test func intmeth_3_1_1_2() throws {
        let method = "!interesting-Method0123456789_*+`.%indeed'~"
        try Support.acceptAndRoundTrip(Support.torture("intmeth")) { m in
            let r = try #require(m.request)
            #expect(r.method.rawValue == method)
            let ruri = try #require(r.uri?.sipURI)
            #expect(ruri.user == "1_unusual.URI~(to-be!sure)&isn't+it$/crazy?,/;;*")
            #expect(ruri.password == "&it+has=1,weird!*pas$wo~d_too.(doesn't-it)")
            #expect(ruri.host == "example.com")
            #expect(m.topVia?.branch == "z9hG4bK-.!%66*_+`'~")
            let to = try #require(m.to)
            #expect(to.displayName == "BEL:\u{07} NUL:\u{00} DEL:\u{7F}")
            #expect(to.uri.sipURI?.user == "1_unusual.URI~(to-be!sure)&isn't+it$/crazy?,/;;*")
            let from = try #require(m.from)
            #expect(from.displayName == "token1~` token2'+_ token3*%!.-")
            #expect(from.uri.sipURI?.user == "mundane")
            #expect(from.parameters["fromParam''~+*_!.-%"] == .some("\"\u{0440}\u{0430}\u{0431}\u{043E}\u{0442}\u{0430}\u{044E}\u{0449}\u{0438}\u{0439}\""))
            #expect(from.tag == "_token~1'+`*%!-.")
            #expect(m.callID == "intmeth.word%ZK-!.*_+'@word`~)(><:\\/\"][?}{")
            #expect(m.cseq == CSeq(sequence: 139_122_385, method: SIPMethod(method)))
            #expect(m.maxForwards == 255)
            #expect(m.headers.first("extensionHeader-!.%*+_`'~") == "\u{FEFF}\u{5927}\u{505C}\u{96FB}")
            #expect(m.body.isEmpty)
        }
    }

    @Test func esc01_3_1_1_3() throws {
        try Support.acceptAndRoundTrip(Support.torture("esc01")) { m in
            let r = try #require(m.request)
            let ruri = try #require(r.uri?.sipURI)
            // The Request-URI has sips:user@example.com embedded in its userpart.
            #expect(ruri.user == "sips:user@example.com")
            #expect(ruri.host == "example.net")
            #expect(r.requestURI == "sip:sips%3Auser%40example.com@example.net")
            #expect(ruri.originalText == r.requestURI)
            // From and To have escaped characters in their userparts.
            #expect(m.to?.uri.sipURI?.user == "user")
            #expect(m.from?.uri.sipURI?.user == "I have spaces")
            // The Contact URI has escaped characters in the URI parameters: "%6C%72" is "lr" and the value of
            // "name" is "value%41" (decoded once), not "valueA".
            let contact = try #require(m.contacts.first?.uri.sipURI)
            #expect(contact.user == "caller")
            #expect(contact.isLooseRouter)
            #expect(contact.parameters["lr"] == .some(nil))
            #expect(contact.parameters["name"] == .some("value%41"))
            // Re-serialised URI decodes to the same values.
            let again = try SIPURI(parsing: contact.description)
            #expect(again == contact)
            #expect(again.isEquivalent(to: contact))
            // Compact i: and C: forms.
            #expect(m.callID == "esc01.239409asdfakjkn23onasd0-3234")
            #expect(m.contentType == "application/sdp")
            #expect(m.body.count == 150)
        }
    }

    @Test func escnull_3_1_1_4() throws {
        try Support.acceptAndRoundTrip(Support.torture("escnull")) { m in
            #expect(m.request?.method == .register)
            #expect(m.to?.uri.sipURI?.user == "null-\u{0}-null")
            #expect(m.from?.uri.sipURI?.user == "null-\u{0}-null")
            #expect(m.fromTag == "839923423")
            let contacts = m.contacts
            #expect(contacts.count == 2)
            #expect(contacts.first?.uri.sipURI?.user == "\u{0}")
            #expect(contacts.last?.uri.sipURI?.user == "\u{0}\u{0}")
            // Escaping again gives the %00 form back.
            #expect(contacts.first?.uri.description == "sip:%00@host5.example.com")
            #expect(m.contentLength == 0)
        }
    }

    @Test func esc02_3_1_1_5() throws {
        try Support.acceptAndRoundTrip(Support.torture("esc02")) { m in
            let r = try #require(m.request)
            // The method is unknown: %-escapes mean nothing in a method.
            #expect(r.method.rawValue == "RE%47IST%45R")
            #expect(r.method != .register)
            #expect(m.cseq?.method.rawValue == "RE%47IST%45R")
            #expect(m.to?.displayName == "%Z%45")
            #expect(m.from?.displayName == "%Z%45")
            #expect(m.topVia?.branch == "z9hG4bK209%fzsnel234")
            // "C%6Fntact" is an unknown header, not Contact: two Contact values, not three.
            #expect(m.contacts.count == 2)
            #expect(m.contacts.compactMap { $0.uri.sipURI?.host } == ["host1.example.com", "host3.example.com"])
            #expect(m.headers.first("C%6Fntact") == "<sip:alias2@host2.example.com>")
        }
    }

    @Test func lwsdisp_3_1_1_6() throws {
        try Support.acceptAndRoundTrip(Support.torture("lwsdisp")) { m in
            let from = try #require(m.from)
            #expect(from.displayName == "caller")
            #expect(from.uri.sipURI?.user == "caller")
            #expect(from.tag == "323")
            #expect(m.to?.displayName == nil)
        }
    }

    @Test func longreq_3_1_1_7() throws {
        try Support.acceptAndRoundTrip(Support.torture("longreq")) { m in
            let to = try #require(m.to)
            #expect(to.displayName?.hasPrefix("I have a user name of extremeextreme") == true)
            let toURI = try #require(to.uri.sipURI)
            #expect(toURI.port == 6000)
            #expect(toURI.parameters["unknownparam1"]??.hasSuffix("longlongvalue") == true)
            #expect(toURI.parameters.items.count == 3)
            #expect(toURI.parameters.items[2].value == nil)
            let from = try #require(m.from)
            #expect(from.tag?.count == 155)
            #expect(from.parameters.items.count == 3)
            #expect(from.uri.sipURI?.user?.hasPrefix("amazinglylongcallername") == true)
            #expect(m.callID?.hasSuffix("reallylongcallid") == true)
            let vias = m.vias
            #expect(vias.count == 34)
            #expect(vias.first?.host == "sip33.example.com")
            #expect(vias.last?.host == "host.example.com")
            #expect(vias.last?.received == "192.0.2.5")
            #expect(vias.last?.branch?.hasSuffix("longbranchvalue") == true)
            #expect(m.headers.rawValues("Via").count == 34)
            #expect(m.contacts.count == 1)
            #expect(m.body.count == 150)
        }
    }

    @Test func dblreq_3_1_1_8() throws {
        try Support.acceptAndRoundTrip(Support.torture("dblreq")) { m in
            // Only the REGISTER: the INVITE after Content-Length bytes is discarded (RFC 3261 §18.3).
            #expect(m.request?.method == .register)
            #expect(m.body.isEmpty)
            #expect(m.callID == "dblreq.0ha0isndaksdj99sdfafnl3lk233412")
            #expect(m.headers.first("Content-Type") == nil)
            #expect(m.contacts.first?.uri.sipURI?.host == "host.example.com")
        }
    }

    @Test func semiuri_3_1_1_9() throws {
        try Support.acceptAndRoundTrip(Support.torture("semiuri")) { m in
            let ruri = try #require(m.request?.uri?.sipURI)
            #expect(ruri.user == "user;par=u@example.net")
            #expect(ruri.host == "example.com")
            #expect(ruri.parameters.items.isEmpty)
            // Folded, comma-separated Accept.
            #expect(m.headers.values("Accept") == ["application/sdp", "application/pkcs7-mime", "multipart/mixed",
                                                   "multipart/signed", "message/sip", "message/sipfrag"])
        }
    }

    @Test func transports_3_1_1_10() throws {
        try Support.acceptAndRoundTrip(Support.torture("transports")) { m in
            #expect(m.vias.map(\.transport) == ["UDP", "SCTP", "TLS", "UNKNOWN", "TCP"])
            #expect(m.vias.map(\.host) == ["t1.example.com", "t2.example.com", "t3.example.com", "t4.example.com", "t5.example.com"])
            #expect(m.vias.allSatisfy { $0.hasMagicCookie })
            #expect(m.callID == "transports.kijh4akdnaqjkwendsasfdj")
        }
    }

    @Test func mpart01_3_1_1_11() throws {
        let raw = Support.torture("mpart01")
        try Support.acceptAndRoundTrip(raw) { m in
            #expect(m.request?.method == .message)
            #expect(m.mediaType == "multipart/mixed")
            #expect(m.contentType == "multipart/mixed;boundary=7a9cbec02ceef655")
            #expect(m.body.count == 553)
            #expect(m.body == Array(raw.suffix(553)))
            #expect(m.body.starts(with: Array("--7a9cbec02ceef655\r\n".utf8)))
            let via = try #require(m.topVia)
            #expect(via.port == 5070)
            #expect(via.hasRPort && via.rport == nil)
            #expect(m.routes.first?.uri.sipURI?.port == 5080)
            #expect(m.headers.first("Date") == "Sat, 15 Oct 2005 04:44:56 GMT")
        }
    }

    @Test func unreason_3_1_1_12() throws {
        try Support.acceptAndRoundTrip(Support.torture("unreason")) { m in
            let r = try #require(m.response)
            #expect(r.statusCode == 200)
            #expect(r.reasonPhrase == "= 2**3 * 5**2 \u{043D}\u{043E} \u{0441}\u{0442}\u{043E} \u{0434}\u{0435}\u{0432}\u{044F}\u{043D}\u{043E}\u{0441}\u{0442}\u{043E} \u{0434}\u{0435}\u{0432}\u{044F}\u{0442}\u{044C} - \u{043F}\u{0440}\u{043E}\u{0441}\u{0442}\u{043E}\u{0435}")
            #expect(m.body.count == 154)
            #expect(m.toTag == "2229")
        }
    }

    @Test func noreason_3_1_1_13() throws {
        try Support.acceptAndRoundTrip(Support.torture("noreason")) { m in
            let r = try #require(m.response)
            #expect(r.statusCode == 100)
            #expect(r.reasonPhrase == "")
            #expect(m.toTag == "902jndnke3")
        }
        let m = try SIPParser.parse(Support.torture("noreason"))
        #expect(m.serialized().starts(with: Array("SIP/2.0 100 \r\n".utf8)))
    }

    // MARK: 3.1.2 Invalid messages

    func expectRejected(_ name: String, status: Int, reason: String, header: String? = nil, hasRequest: Bool = true,
                        sourceLocation: SourceLocation = #_sourceLocation) -> SIPParseError? {
        guard let e = Support.rejection(Support.torture(name), sourceLocation: sourceLocation) else { return nil }
        #expect(e.statusCode == status, sourceLocation: sourceLocation)
        #expect(e.reason == reason, sourceLocation: sourceLocation)
        if let header { #expect(e.headerName == header, sourceLocation: sourceLocation) }
        #expect((e.request != nil) == hasRequest, sourceLocation: sourceLocation)
        return e
    }

    @Test func badinv01_3_1_2_1() throws {
        let e = try #require(expectRejected("badinv01", status: 400, reason: "Bad Header: Via", header: "Via"))
        // The rest is usable for the 400.
        #expect(e.request?.callID == "badinv01.0ha0isndaksdjasdf3234nas")
        #expect(throws: SIPParseError.self) { try Via.parseAll("SIP/2.0/UDP 192.0.2.15;;,;,,") }
        #expect(throws: SIPParseError.self) { try Via(parsing: "SIP/2.0/UDP 192.0.2.15;;") }
        #expect(throws: SIPParseError.self) { try NameAddr(parsing: "\"Joe\" <sip:joe@example.org>;;;;") }
    }

    @Test func clerr_3_1_2_2() throws {
        let e = try #require(expectRejected("clerr", status: 400, reason: "Content-Length Exceeds Body", header: "Content-Length"))
        #expect(e.request?.method == .invite)
        #expect(e.request?.cseq?.sequence == 8)
        // Over a stream the framer simply waits for the 9999 bytes.
        var framer = SIPStreamFramer()
        framer.append(Support.torture("clerr"))
        #expect(try framer.next() == nil)
    }

    @Test func ncl_3_1_2_3() throws {
        _ = expectRejected("ncl", status: 400, reason: "Bad Header: Content-Length", header: "Content-Length")
        // Over a stream the framing error is not recoverable: the framer fails (and keeps failing).
        var framer = SIPStreamFramer()
        framer.append(Support.torture("ncl"))
        #expect(throws: SIPParseError.self) { try framer.next() }
        #expect(throws: SIPParseError.self) { try framer.next() }
        // "Content-Length: five" is the same error.
        let five = Support.request(extra: ["Content-Length: five"], contentLength: false)
        #expect(Support.rejection(five)?.reason == "Bad Header: Content-Length")
    }

    @Test func scalar02_3_1_2_4() throws {
        let e = try #require(expectRejected("scalar02", status: 400, reason: "Bad Header: CSeq", header: "CSeq"))
        let r = try #require(e.request)
        // The other overlarge values are visible as "absent/default" to whoever processes the request anyway.
        #expect(r.cseq == nil)
        #expect(r.maxForwards == nil)
        #expect(r.expires == nil)
        #expect(r.contacts.first?.expires == nil)
        #expect(r.contacts.first?.parameters["expires"] == .some("280297596632815"))
    }

    @Test func scalarlg_3_1_2_5() throws {
        _ = expectRejected("scalarlg", status: 400, reason: "Bad Header: CSeq", header: "CSeq", hasRequest: false)
    }

    @Test func quotbal_3_1_2_6() throws {
        let e = try #require(expectRejected("quotbal", status: 400, reason: "Bad Header: To", header: "To"))
        #expect(e.request?.headers.first("To") == "\"Mr. J. User <sip:j.user@example.com>")
        #expect(throws: SIPParseError.self) { try NameAddr(parsing: "\"Mr. J. User <sip:j.user@example.com>") }
    }

    @Test func ltgtruri_3_1_2_7() throws {
        let e = try #require(expectRejected("ltgtruri", status: 400, reason: "Bad Request-URI"))
        #expect(e.request?.requestURI == "<sip:user@example.com>")
    }

    @Test func lwsruri_3_1_2_8() throws {
        let e = try #require(expectRejected("lwsruri", status: 400, reason: "Malformed Request-Line"))
        // Best effort for the 400: LWS dropped, method and headers available.
        #expect(e.request?.method == .invite)
        #expect(e.request?.requestURI == "sip:user@example.com;lr")
        #expect(e.request?.toTag == "3xfe-9921883-z9f")
    }

    @Test func lwsstart_3_1_2_9() throws {
        let e = try #require(expectRejected("lwsstart", status: 400, reason: "Malformed Request-Line"))
        #expect(e.request?.requestURI == "sip:user@example.com")
        #expect(e.request?.version == "SIP/2.0")
    }

    @Test func trws_3_1_2_10() throws {
        let e = try #require(expectRejected("trws", status: 400, reason: "Malformed Request-Line"))
        #expect(e.request?.method == .options)
        #expect(e.request?.requestURI == "sip:remote-target@example.com")
    }

    @Test func escruri_3_1_2_11() throws {
        _ = expectRejected("escruri", status: 400, reason: "Bad Request-URI")
        // The URI itself is a fine SIP URI (its header would be Route: <sip:example.com>), just not as R-URI.
        let uri = try SIPURI(parsing: "sip:user@example.com?Route=%3Csip:example.com%3E")
        #expect(uri.headers == [SIPURIHeader(name: "Route", value: "<sip:example.com>")])
    }

    @Test func baddate_3_1_2_12() throws {
        let e = try #require(expectRejected("baddate", status: 400, reason: "Bad Header: Date", header: "Date"))
        #expect(e.request?.headers.first("Date") == "Fri, 01 Jan 2010 16:00:00 EST")
    }

    @Test func regbadct_3_1_2_13() throws {
        _ = expectRejected("regbadct", status: 400, reason: "Bad Header: Contact", header: "Contact")
        // In angle brackets the same URI is fine (that is regescrt, 3.3.14).
        #expect(throws: SIPParseError.self) { try NameAddr(parsing: "sip:user@example.com?Route=%3Csip:sip.example.com%3E") }
        #expect(throws: Never.self) { try NameAddr(parsing: "<sip:user@example.com?Route=%3Csip:sip.example.com%3E>") }
    }

    @Test func badaspec_3_1_2_14() throws {
        let e = try #require(expectRejected("badaspec", status: 400, reason: "Bad Header: To", header: "To"))
        // From (a quoted display name with a comma) is fine.
        #expect(e.request?.from?.displayName == "Bell, Alexander")
    }

    @Test func baddn_3_1_2_15() throws {
        _ = expectRejected("baddn", status: 400, reason: "Bad Header: From", header: "From")
        #expect(throws: SIPParseError.self) { try NameAddr(parsing: "Watson, Thomas <sip:t.watson@example.org>") }
    }

    @Test func badvers_3_1_2_16() throws {
        let e = try #require(expectRejected("badvers", status: 505, reason: "Version Not Supported"))
        #expect(e.request?.version == "SIP/7.0")
        #expect(e.request?.method == .options)
    }

    @Test func mismatch01_3_1_2_17() throws {
        let e = try #require(expectRejected("mismatch01", status: 400, reason: "CSeq Method Mismatch", header: "CSeq"))
        #expect(e.request?.method == .options)
        #expect(e.request?.cseq?.method == .invite)
    }

    @Test func mismatch02_3_1_2_18() throws {
        let e = try #require(expectRejected("mismatch02", status: 501, reason: "CSeq Method Mismatch", header: "CSeq"))
        #expect(e.request?.method.rawValue == "NEWMETHOD")
    }

    @Test func bigcode_3_1_2_19() throws {
        _ = expectRejected("bigcode", status: 400, reason: "Bad Status-Code", hasRequest: false)
    }

    // MARK: 3.2 Transaction layer semantics

    @Test func badbranch_3_2_1() throws {
        try Support.acceptAndRoundTrip(Support.torture("badbranch")) { m in
            let via = try #require(m.topVia)
            #expect(via.branch == "z9hG4bK")
            #expect(via.hasMagicCookie)
            // Cookie without an identifier: the transaction layer can refuse it or fall back to RFC 2543 matching.
            #expect(!via.hasRFC3261TransactionID)
        }
    }

    // MARK: 3.3 Application layer semantics

    @Test func insuf_3_3_1() throws {
        let e = try #require(expectRejected("insuf", status: 400, reason: "Missing Header: From", header: "From"))
        let r = try #require(e.request)
        #expect(r.callID == nil && r.from == nil && r.to == nil && r.maxForwards == nil)
        #expect(r.topVia?.branch == "z9hG4bKkdj.insuf")
    }

    @Test func unkscm_3_3_2() throws {
        let e = try #require(expectRejected("unkscm", status: 416, reason: "Unsupported URI Scheme"))
        // Well-formed: the whole request is there, and the element must not route on To.
        let r = try #require(e.request)
        #expect(r.uri == .other(scheme: "nobodyknowsthisscheme", value: "totallyopaquecontent"))
        #expect(r.uri?.scheme == "nobodyknowsthisscheme")
        #expect(r.cseq?.sequence == 3_923_423)
        #expect(r.to?.uri.sipURI?.user == "user")
        #expect(r.makeResponse(statusCode: 416, toTag: "x").statusCode == 416)
    }

    @Test func novelsc_3_3_3() throws {
        let e = try #require(expectRejected("novelsc", status: 416, reason: "Unsupported URI Scheme"))
        let r = try #require(e.request)
        #expect(r.uri == .other(scheme: "soap.beep", value: "//192.0.2.103:3002"))
        #expect(r.callID == "novelsc.asdfasser0q239nwsdfasdkl34")
    }

    @Test func unksm2_3_3_4() throws {
        try Support.acceptAndRoundTrip(Support.torture("unksm2")) { m in
            #expect(m.request?.uri?.sipURI?.host == "example.com")
            #expect(m.to?.uri == .other(scheme: "isbn", value: "2983792873"))
            #expect(m.from?.uri == .other(scheme: "http", value: "//www.example.com"))
            #expect(m.fromTag == "3234233")
            #expect(m.contacts.first?.uri == .other(scheme: "name", value: "John_Smith"))
            // A registrar answers 400: the To is not a SIP/SIPS AOR.
            #expect(m.to?.uri.sipURI == nil)
        }
    }

    @Test func bext01_3_3_5() throws {
        try Support.acceptAndRoundTrip(Support.torture("bext01")) { m in
            #expect(m.require == ["nothingSupportsThis", "nothingSupportsThisEither"])
            #expect(m.proxyRequire == ["noProxiesSupportThis", "norDoAnyProxiesSupportThis"])
            #expect(m.topVia?.transport == "TLS")
        }
    }

    @Test func invut_3_3_6() throws {
        try Support.acceptAndRoundTrip(Support.torture("invut")) { m in
            #expect(m.mediaType == "application/unknownformat")
            #expect(m.body.count == 40)
            #expect(m.body.starts(with: Array("<audio>".utf8)))
        }
    }

    @Test func regaut01_3_3_7() throws {
        try Support.acceptAndRoundTrip(Support.torture("regaut01")) { m in
            #expect(m.headers.first("Authorization") == "NoOneKnowsThisScheme opaque-data=here")
            #expect(m.headers.values("Authorization").count == 1)
            #expect(m.contentLength == 0)
        }
    }

    @Test func multi01_3_3_8() throws {
        let e = try #require(expectRejected("multi01", status: 400, reason: "Duplicate Header: CSeq", header: "CSeq"))
        #expect(e.request?.headers.rawValues("Call-ID").count == 2)
        #expect(e.request?.headers.rawValues("To").count == 2)
    }

    @Test func mcl01_3_3_9() throws {
        _ = expectRejected("mcl01", status: 400, reason: "Conflicting Content-Length", header: "Content-Length")
        var framer = SIPStreamFramer()
        framer.append(Support.torture("mcl01"))
        #expect(throws: SIPParseError.self) { try framer.next() }
    }

    @Test func bcast_3_3_10() throws {
        try Support.acceptAndRoundTrip(Support.torture("bcast")) { m in
            #expect(m.response?.statusCode == 200)
            #expect(m.vias.count == 2)
            #expect(m.vias[0].host == "192.0.2.198")
            #expect(m.vias[1].host == "255.255.255.255")
            #expect(m.vias[1].sentBy == "255.255.255.255")
        }
    }

    @Test func zeromf_3_3_11() throws {
        try Support.acceptAndRoundTrip(Support.torture("zeromf")) { m in
            #expect(m.maxForwards == 0)
            #expect(m.request?.method == .options)
        }
    }

    @Test func cparam01_3_3_12() throws {
        try Support.acceptAndRoundTrip(Support.torture("cparam01")) { m in
            let contact = try #require(m.contacts.first)
            #expect(contact.parameters["unknownparam"] == .some(nil))
            #expect(contact.uri.sipURI?.parameters.items.isEmpty == true)
            #expect(contact.uri.sipURI?.user == "+19725552222")
        }
    }

    @Test func cparam02_3_3_13() throws {
        try Support.acceptAndRoundTrip(Support.torture("cparam02")) { m in
            let contact = try #require(m.contacts.first)
            #expect(contact.parameters.items.isEmpty)
            #expect(contact.uri.sipURI?.parameters["unknownparam"] == .some(nil))
        }
    }

    @Test func regescrt_3_3_14() throws {
        try Support.acceptAndRoundTrip(Support.torture("regescrt")) { m in
            let uri = try #require(m.contacts.first?.uri.sipURI)
            #expect(uri.headers == [SIPURIHeader(name: "Route", value: "<sip:sip.example.com>")])
            #expect(uri.description == "sip:user@example.com?Route=%3Csip:sip.example.com%3E")
        }
    }

    @Test func sdp01_3_3_15() throws {
        try Support.acceptAndRoundTrip(Support.torture("sdp01")) { m in
            #expect(m.headers.values("Accept") == ["text/nobodyKnowsThis"])
            #expect(m.mediaType == "application/sdp")
            #expect(m.body.count == 150)
        }
    }

    // MARK: 3.4 Backwards compatibility

    @Test func inv2543_3_4_1() throws {
        let raw = Support.torture("inv2543")
        try Support.acceptAndRoundTrip(raw) { m in
            let via = try #require(m.topVia)
            #expect(via.branch == nil)
            #expect(!via.hasMagicCookie)
            #expect(m.maxForwards == nil)
            #expect(m.from?.uri.sipURI?.userParameter == "phone")
            // The To is an addr-spec, so ";user=phone" is a header parameter there (RFC 3261 §20.10).
            #expect(m.to?.parameters["user"] == .some("phone"))
            #expect(m.to?.uri.sipURI?.parameters.items.isEmpty == true)
            #expect(m.recordRoutes.first?.uri.sipURI?.maddr == "ss1.example.com")
            // No Content-Length on a datagram: the body is the rest of it.
            #expect(m.body.starts(with: Array("v=0\r\n".utf8)))
        }
        let m = try SIPParser.parse(raw)
        #expect(m.body.count == 105)
        #expect(m.headers.first("Content-Length") == nil)
        // Over a stream the missing Content-Length is fatal (RFC 3261 §18.3).
        var framer = SIPStreamFramer()
        framer.append(raw)
        #expect(throws: SIPParseError.self) { try framer.next() }
    }
}
