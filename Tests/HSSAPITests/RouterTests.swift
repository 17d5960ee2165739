import Foundation
import HSSAPI
import Hummingbird
import HummingbirdTesting
import Testing

@Suite("Homestead routes")
struct RouterTests {
    static let impi = "6505550001@example.com"
    static let impu = "sip:6505550001@example.com"
    static let encodedIMPI = "6505550001%40example.com"
    static let encodedIMPU = "sip%3A6505550001%40example.com"

    // MARK: ping

    @Test func ping() async throws {
        try await withRouter { client in
            try await client.execute(uri: "/ping", method: .get) { response in
                #expect(response.status == .ok)
                #expect(response.text == "OK")
            }
            try await client.execute(uri: "/ping", method: .head) { response in
                #expect(response.status == .ok)
            }
        }
    }

    // MARK: /impi/<impi>/av

    @Test(arguments: ["av", "av/digest"])
    func authVector(suffix: String) async throws {
        let backend = FakeBackend()
        try await withRouter(backend) { client in
            try await client.execute(uri: "/impi/\(Self.encodedIMPI)/\(suffix)?impu=\(Self.encodedIMPU)", method: .get) {
                response in
                #expect(response.status == .ok)
                #expect(response.headers[.contentType] == "application/json")
                let digest = response.jsonObject?["digest"] as? [String: Any]
                #expect(digest?["ha1"] as? String == "0123456789abcdef0123456789abcdef")
                #expect(digest?["realm"] as? String == "example.com")
                #expect(digest?["qop"] as? String == "auth")
                #expect(digest?.count == 3)
            }
            // impu is optional
            try await client.execute(uri: "/impi/\(Self.encodedIMPI)/\(suffix)", method: .get) { response in
                #expect(response.status == .ok)
            }
            // an empty impu counts as absent
            try await client.execute(uri: "/impi/\(Self.impi)/\(suffix)?impu=", method: .get) { response in
                #expect(response.status == .ok)
            }
        }
        let queries = await backend.digestQueries
        #expect(queries.map(\.impi) == [Self.impi, Self.impi, Self.impi])
        #expect(queries.map(\.impu) == [Self.impu, nil, nil])
    }

    @Test func authVectorNotFound() async throws {
        try await withRouter { client in
            try await client.execute(uri: "/impi/nobody%40example.com/av", method: .get) { response in
                expectJSONError(response, status: 404)
            }
            // known IMPI, IMPU of another subscriber
            try await client.execute(
                uri: "/impi/\(Self.encodedIMPI)/av?impu=sip%3A6505550002%40example.com", method: .get
            ) { response in
                expectJSONError(response, status: 404)
            }
            try await client.execute(uri: "/impi/\(Self.encodedIMPI)/av/digest?impu=sip%3Aother%40example.com",
                                     method: .get) { response in
                expectJSONError(response, status: 404)
            }
        }
    }

    // MARK: /impi/<impi>/digest

    @Test func digest() async throws {
        let backend = FakeBackend()
        try await withRouter(backend) { client in
            try await client.execute(uri: "/impi/\(Self.encodedIMPI)/digest?public_id=\(Self.encodedIMPU)",
                                     method: .get) { response in
                #expect(response.status == .ok)
                #expect(response.headers[.contentType] == "application/json")
                let object = response.jsonObject
                #expect(object?["digest_ha1"] as? String == "0123456789abcdef0123456789abcdef")
                #expect(object?.count == 1)
            }
            try await client.execute(uri: "/impi/6505550002%40example.com/digest", method: .get) { response in
                #expect(response.jsonObject?["digest_ha1"] as? String == "fedcba9876543210fedcba9876543210")
            }
            try await client.execute(uri: "/impi/unknown%40example.com/digest", method: .get) { response in
                expectJSONError(response, status: 404)
            }
            try await client.execute(uri: "/impi/\(Self.encodedIMPI)/digest?public_id=sip%3A6505550002%40example.com",
                                     method: .get) { response in
                expectJSONError(response, status: 404)
            }
        }
        let queries = await backend.digestQueries
        #expect(queries.first?.impu == Self.impu)
    }

    // MARK: percent-decoding

    @Test func percentDecoding() async throws {
        let backend = FakeBackend()
        try await withRouter(backend) { client in
            // '+' in a query value is kept (not a space); %2B decodes to '+' as well.
            try await client.execute(uri: "/impi/\(Self.encodedIMPI)/av?impu=tel:+16505550001", method: .get) {
                #expect($0.status == .ok)
            }
            try await client.execute(uri: "/impi/\(Self.encodedIMPI)/av?impu=tel%3A%2B16505550001", method: .get) {
                #expect($0.status == .ok)
            }
            // Lower-case hex and unencoded '@' / ':' in the path.
            try await client.execute(uri: "/impu/sip%3a6505550001%40example.com/reg-data", method: .get) {
                #expect($0.status == .ok)
            }
            try await client.execute(uri: "/impu/sip:6505550001@example.com/reg-data", method: .get) {
                #expect($0.status == .ok)
            }
            // An encoded '/' stays inside its segment.
            try await client.execute(uri: "/impu/sip%3Aa%2Fb%40example.com/reg-data", method: .get) {
                expectJSONError($0, status: 404)
            }
        }
        let digestIMPUs = await backend.digestQueries.map(\.impu)
        #expect(digestIMPUs == ["tel:+16505550001", "tel:+16505550001"])
        let regQueries = await backend.regDataQueries
        #expect(regQueries == [Self.impu, Self.impu, "sip:a/b@example.com"])
    }

    @Test(arguments: [
        "/impi/abc%4/av", "/impi/abc%zz/av", "/impi/%/digest", "/impu/sip%3Ax%C3/reg-data", "/impu/%FF%FE/reg-data",
        "/impi/\(encodedIMPI)/av?impu=sip%3", "/impi/\(encodedIMPI)/digest?public_id=%GG",
    ])
    func malformedPercentEncoding(uri: String) async throws {
        let backend = FakeBackend()
        try await withRouter(backend) { client in
            try await client.execute(uri: uri, method: .get) { expectJSONError($0, status: 400) }
        }
        #expect(await backend.digestQueries.isEmpty)
        #expect(await backend.regDataQueries.isEmpty)
    }

    // MARK: GET reg-data

    @Test func getRegData() async throws {
        try await withRouter { client in
            try await client.execute(uri: "/impu/\(Self.encodedIMPU)/reg-data", method: .get) { response in
                #expect(response.status == .ok)
                #expect(response.headers[.contentType] == "application/xml")
                let root = try #require(ParsedXML.parse(response.text), "not well-formed: \(response.text)")
                #expect(root.name == "ClearwaterRegData")
                #expect(root["RegistrationState"]?.text == "NOT_REGISTERED")
                #expect(root["IMSSubscription", "PrivateID"]?.text == Self.impi)
                let profile = try #require(root["IMSSubscription", "ServiceProfile"])
                let identities = profile.all("PublicIdentity")
                #expect(identities.compactMap { $0["Identity"]?.text } ==
                    ["sip:6505550001@example.com", "tel:+16505550001", "sip:barred@example.com"])
                #expect(identities.map { $0["BarringIndication"]?.text } == [nil, nil, "1"])
                let ifcs = profile.all("InitialFilterCriteria")
                #expect(ifcs.count == 2)  // the commented-out one is not copied
                #expect(ifcs.map { $0["Priority"]?.text } == ["0", "1"])
                #expect(ifcs.first?["ApplicationServer", "ServerName"]?.text == "sip:mmtel.example.com")
                #expect(ifcs.last?["TriggerPoint", "SPT", "RequestURI"]?.text == "a&b")
                #expect(root["ChargingAddresses"] != nil)
            }
        }
    }

    @Test func getRegDataNotFound() async throws {
        try await withRouter { client in
            try await client.execute(uri: "/impu/sip%3Anobody%40example.com/reg-data", method: .get) {
                expectJSONError($0, status: 404)
            }
        }
    }

    @Test func getRegDataWithoutServiceProfile() async throws {
        try await withRouter(FakeBackend(serviceProfileXML: nil)) { client in
            try await client.execute(uri: "/impu/\(Self.encodedIMPU)/reg-data", method: .get) { response in
                let root = try #require(ParsedXML.parse(response.text))
                #expect(root["IMSSubscription", "ServiceProfile"]?.all("InitialFilterCriteria").isEmpty == true)
                #expect(root["IMSSubscription", "ServiceProfile"]?.all("PublicIdentity").count == 3)
            }
        }
    }

    // MARK: PUT reg-data

    @Test(arguments: HSSRegistrationRequestType.allCases)
    func putEachReqtype(type: HSSRegistrationRequestType) async throws {
        let backend = FakeBackend()
        let expected: HSSRegistrationState = switch type {
        case .register: .registered
        case .call: .unregistered
        default: .notRegistered
        }
        try await withRouter(backend) { client in
            try await client.execute(uri: "/impu/\(Self.encodedIMPU)/reg-data", method: .put,
                                     body: jsonBody("{\"reqtype\": \"\(type.rawValue)\"}")) { response in
                #expect(response.status == .ok)
                #expect(response.headers[.contentType] == "application/xml")
                let root = try #require(ParsedXML.parse(response.text), "not well-formed: \(response.text)")
                #expect(root["RegistrationState"]?.text == expected.rawValue)
                #expect(root["IMSSubscription", "ServiceProfile"]?.all("PublicIdentity").count == 3)
            }
        }
        let updates = await backend.updates
        #expect(updates == [.init(impu: Self.impu, privateID: nil, request: .init(type: type))])
    }

    @Test func registrationLifecycle() async throws {
        let backend = FakeBackend()
        @Sendable func put(_ client: any TestClientProtocol, _ reqtype: String) async throws -> String? {
            try await client.execute(uri: "/impu/\(Self.encodedIMPU)/reg-data", method: .put,
                                     body: jsonBody("{\"reqtype\":\"\(reqtype)\"}")) { response in
                ParsedXML.parse(response.text)?["RegistrationState"]?.text
            }
        }
        try await withRouter(backend) { client in
            #expect(try await put(client, "call") == "UNREGISTERED")
            #expect(try await put(client, "reg") == "REGISTERED")
            #expect(try await put(client, "call") == "REGISTERED")  // call leaves a registered set alone
            try await client.execute(uri: "/impu/tel%3A%2B16505550001/reg-data", method: .get) { response in
                #expect(ParsedXML.parse(response.text)?["RegistrationState"]?.text == "REGISTERED")
            }
            #expect(try await put(client, "dereg-timeout") == "NOT_REGISTERED")
        }
    }

    @Test func putWithPrivateIDAndServerName() async throws {
        let backend = FakeBackend()
        try await withRouter(backend) { client in
            try await client.execute(
                uri: "/impu/\(Self.encodedIMPU)/reg-data?private_id=\(Self.encodedIMPI)", method: .put,
                body: jsonBody(#"{"reqtype": "reg", "server_name": "sip:scscf.example.com:5054;transport=tcp", "x": [1]}"#)
            ) { response in
                #expect(response.status == .ok)
                let root = try #require(ParsedXML.parse(response.text))
                #expect(root["IMSSubscription", "PrivateID"]?.text == Self.impi)
            }
            // private ID not associated with the IMPU
            try await client.execute(
                uri: "/impu/\(Self.encodedIMPU)/reg-data?private_id=6505550002%40example.com", method: .put,
                body: jsonBody(#"{"reqtype": "reg"}"#)
            ) { expectJSONError($0, status: 404) }
            // unknown IMPU
            try await client.execute(uri: "/impu/sip%3Anobody%40example.com/reg-data", method: .put,
                                     body: jsonBody(#"{"reqtype": "dereg-user"}"#)) { expectJSONError($0, status: 404) }
        }
        let updates = await backend.updates
        #expect(updates.first == .init(impu: Self.impu, privateID: Self.impi,
                                       request: .init(type: .register, serverName: "sip:scscf.example.com:5054;transport=tcp")))
        #expect(updates.count == 3)
    }

    @Test(arguments: [
        "", "{", "not json", "[]", "[\"reg\"]", "\"reg\"", "null", "{}", "{\"reqtype\": 1}", "{\"reqtype\": null}",
        "{\"reqtype\": [\"reg\"]}", "{\"reqtype\": \"reg\", \"server_name\": 5}", "{\"reqtype\": \"reg\"",
        "\u{FF}\u{FE}",
    ])
    func putBadJSON(body: String) async throws {
        let backend = FakeBackend()
        try await withRouter(backend) { client in
            try await client.execute(uri: "/impu/\(Self.encodedIMPU)/reg-data", method: .put, body: jsonBody(body)) {
                expectJSONError($0, status: 400)
            }
        }
        #expect(await backend.updates.isEmpty)
    }

    @Test(arguments: ["register", "REG", "dereg", "dereg-everything", " reg", ""])
    func putUnknownReqtype(reqtype: String) async throws {
        let backend = FakeBackend()
        try await withRouter(backend) { client in
            try await client.execute(uri: "/impu/\(Self.encodedIMPU)/reg-data", method: .put,
                                     body: jsonBody("{\"reqtype\": \"\(reqtype)\"}")) { response in
                expectJSONError(response, status: 400)
                #expect((response.jsonObject?["reason"] as? String)?.contains("reqtype") == true)
            }
        }
        #expect(await backend.updates.isEmpty)
    }

    @Test func putBodyTooLarge() async throws {
        let big = "{\"reqtype\": \"reg\", \"pad\": \"" + String(repeating: "x", count: HSSAPIServer.maxBodySize) + "\"}"
        try await withRouter { client in
            try await client.execute(uri: "/impu/\(Self.encodedIMPU)/reg-data", method: .put, body: jsonBody(big)) {
                expectJSONError($0, status: 413)
            }
        }
    }

    // MARK: unknown routes and wrong methods

    @Test(arguments: [
        "/", "/nope", "/impi", "/impi/x", "/impi/x/av/aka", "/impi/x/av/digest/more", "/impu/x", "/impu/x/reg-datax",
        "/impu/x/location", "/impi//av", "/private/x", "/PING",
    ])
    func unknownRoute(uri: String) async throws {
        try await withRouter { client in
            try await client.execute(uri: uri, method: .get) { expectJSONError($0, status: 404) }
        }
    }

    @Test(arguments: [
        ("/ping", HTTPRequest.Method.post), ("/ping", .put), ("/ping", .delete),
        ("/impi/x/av", .put), ("/impi/x/av", .post), ("/impi/x/av/digest", .delete), ("/impi/x/digest", .patch),
        ("/impu/x/reg-data", .post), ("/impu/x/reg-data", .delete), ("/impu/x/reg-data", .options),
        ("/impu/x/reg-data", HTTPRequest.Method("FROB")!),
    ])
    func wrongMethod(uri: String, method: HTTPRequest.Method) async throws {
        let backend = FakeBackend()
        try await withRouter(backend) { client in
            try await client.execute(uri: uri, method: method, body: jsonBody("{\"reqtype\":\"reg\"}")) { response in
                expectJSONError(response, status: 405)
                let allow = response.headers[.allow] ?? ""
                #expect(allow.contains("GET"))
                #expect(allow.contains("PUT") == uri.hasSuffix("reg-data"))
            }
        }
        #expect(await backend.updates.isEmpty)
    }

    // MARK: backend failures

    @Test func backendFailure() async throws {
        let backend = FakeBackend()
        await backend.setFailure(BackendDown())
        try await withRouter(backend) { client in
            try await client.execute(uri: "/impi/\(Self.encodedIMPI)/av", method: .get) { expectJSONError($0, status: 503) }
            try await client.execute(uri: "/impu/\(Self.encodedIMPU)/reg-data", method: .get) {
                expectJSONError($0, status: 503)
            }
        }
        await backend.setFailure(HSSAPIError(status: 409, reason: "Registration in progress"))
        try await withRouter(backend) { client in
            try await client.execute(uri: "/impu/\(Self.encodedIMPU)/reg-data", method: .put,
                                     body: jsonBody(#"{"reqtype":"reg"}"#)) { response in
                expectJSONError(response, status: 409)
                #expect(response.jsonObject?["reason"] as? String == "Registration in progress")
            }
        }
        // A status outside 4xx/5xx from a backend cannot produce a success response.
        await backend.setFailure(HSSAPIError(status: 200, reason: "oops"))
        try await withRouter(backend) { client in
            try await client.execute(uri: "/impi/\(Self.encodedIMPI)/digest", method: .get) {
                expectJSONError($0, status: 500)
            }
        }
    }

    // MARK: escaping

    @Test func xmlEscaping() async throws {
        let nasty = "sip:a<b>&\"c'\u{1}]]>@example.com"
        let backend = FakeBackend(
            subscribers: [.init(impi: "x&y<z>@example.com", realm: "r\"ealm", ha1: "h\\a\n1", impus: [nasty])],
            barred: [nasty], serviceProfileXML: "<ServiceProfile><InitialFilterCriteria>broken</ServiceProfile>")
        let encoded = "sip%3Aa%3Cb%3E%26%22c'%01%5D%5D%3E%40example.com"
        try await withRouter(backend) { client in
            try await client.execute(uri: "/impu/\(encoded)/reg-data", method: .get) { response in
                #expect(response.status == .ok)
                let root = try #require(ParsedXML.parse(response.text), "not well-formed: \(response.text)")
                #expect(root["IMSSubscription", "PrivateID"]?.text == "x&y<z>@example.com")
                let identity = root["IMSSubscription", "ServiceProfile", "PublicIdentity"]
                #expect(identity?["Identity"]?.text == "sip:a<b>&\"c'\u{FFFD}]]>@example.com")
                #expect(identity?["BarringIndication"]?.text == "1")
                // The malformed stored profile contributes no iFCs rather than breaking the document.
                #expect(root["IMSSubscription", "ServiceProfile"]?.all("InitialFilterCriteria").isEmpty == true)
            }
            try await client.execute(uri: "/impi/x%26y%3Cz%3E%40example.com/av", method: .get) { response in
                #expect(response.status == .ok)
                let digest = response.jsonObject?["digest"] as? [String: Any]
                #expect(digest?["realm"] as? String == "r\"ealm")
                #expect(digest?["ha1"] as? String == "h\\a\n1")
            }
        }
    }
}

@Suite("Response samples")
struct ResponseSampleTests {
    /// Prints one of each response when HSSAPI_PRINT is set (for eyeballing the wire format).
    @Test func samples() async throws {
        try await withRouter { client in
            for (uri, method, body) in [
                ("/impu/sip%3A6505550001%40example.com/reg-data", HTTPRequest.Method.get, nil),
                ("/impi/6505550001%40example.com/av", .get, nil),
                ("/impu/x/reg-data", .delete, nil),
                ("/impu/x/reg-data", .put, "{\"reqtype\":\"bogus\"}"),
            ] as [(String, HTTPRequest.Method, String?)] {
                try await client.execute(uri: uri, method: method, body: body.map(jsonBody)) { response in
                    #expect(!response.body.readableBytesView.isEmpty)
                    if ProcessInfo.processInfo.environment["HSSAPI_PRINT"] != nil {
                        print("\(method) \(uri) → \(response.status.code) \(response.headers)\n\(response.text)")
                    }
                }
            }
        }
    }
}
