import Hummingbird
import Logging
import NIOCore

#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// The Homestead-compatible HTTP interface of the HSS cache (Project Clearwater's Homestead API):
///
/// - `GET /impi/<impi>/av[?impu=]`, `GET /impi/<impi>/av/digest[?impu=]` → `{"digest":{"ha1","realm","qop"}}`
/// - `GET /impi/<impi>/digest[?public_id=]` → `{"digest_ha1"}`
/// - `GET /impu/<impu>/reg-data` → `<ClearwaterRegData>` (`application/xml`)
/// - `PUT /impu/<impu>/reg-data[?private_id=]` with `{"reqtype": …}` → `<ClearwaterRegData>` after applying it
/// - `GET /ping` → `OK`
///
/// Path segments and query values are percent-decoded (`+` stays `+`). Every error is JSON
/// `{"error": true, "status": N, "message": "<reason phrase>", "reason": "…"}`: 400 bad input, 404 unknown
/// identity or route, 405 (with `Allow`) wrong method on a known route, 413 body over ``maxBodySize``,
/// 503 when the backend throws something other than ``HSSAPIError``.
public enum HSSAPIServer {
    public static let defaultHost = "127.0.0.1"
    /// Homestead's port.
    public static let defaultPort = 8888
    /// Largest `PUT` body read, in bytes.
    public static let maxBodySize = 16 * 1024

    /// The router with every Homestead route, for embedding in another Hummingbird application or for
    /// tests (`Application(router:)` + `app.test(.router)`).
    public static func makeRouter(backend: some HSSBackend, logger: Logger? = nil) -> Router<BasicRequestContext> {
        let logger = logger ?? Logger(label: "cw-aio.hssapi")
        let router = Router(context: BasicRequestContext.self, options: .autoGenerateHeadEndpoints)
        // Added first, so it also wraps the router's own not-found responder.
        router.add(middleware: HSSErrorMiddleware<BasicRequestContext>(logger: logger))
        let handlers = HSSAPIHandlers(backend: backend, logger: logger)

        router.get("/ping") { _, _ in
            Self.response(.ok, contentType: "text/plain; charset=utf-8", body: "OK")
        }
        router.get("/impi/:impi/av") { request, context in try await handlers.authVector(request, context) }
        router.get("/impi/:impi/av/digest") { request, context in try await handlers.authVector(request, context) }
        router.get("/impi/:impi/digest") { request, context in try await handlers.digest(request, context) }
        router.get("/impu/:impu/reg-data") { request, context in try await handlers.getRegData(request, context) }
        router.put("/impu/:impu/reg-data") { request, context in try await handlers.putRegData(request, context) }
        return router
    }

    /// A Hummingbird application serving ``makeRouter(backend:logger:)`` on `host:port`. It is a
    /// swift-service-lifecycle `Service`: add it to the process's `ServiceGroup` (or call `runService()`).
    ///
    /// - Parameters:
    ///   - eventLoopGroup: the group to accept and serve connections on. Pass the process's shared
    ///     `MultiThreadedEventLoopGroup` so SIP and HTTP share threads (it becomes Hummingbird's
    ///     `EventLoopGroupProvider.shared(group)`); the application never shuts it down. `nil` uses
    ///     `MultiThreadedEventLoopGroup.singleton`.
    ///   - onServerRunning: called with the listening channel once bound (its `localAddress` tells the
    ///     port when `port` is 0).
    public static func makeApplication(
        backend: some HSSBackend,
        host: String = defaultHost,
        port: Int = defaultPort,
        eventLoopGroup: (any EventLoopGroup)? = nil,
        logger: Logger? = nil,
        onServerRunning: @escaping @Sendable (any Channel) async -> Void = { _ in }
    ) -> Application<RouterResponder<BasicRequestContext>> {
        let logger = logger ?? Logger(label: "cw-aio.hssapi")
        let provider: EventLoopGroupProvider = eventLoopGroup.map { .shared($0) } ?? .singleton
        return Application(
            router: makeRouter(backend: backend, logger: logger),
            configuration: ApplicationConfiguration(address: .hostname(host, port: port)),
            onServerRunning: onServerRunning,
            eventLoopGroupProvider: provider,
            logger: logger
        )
    }

    // MARK: routes known to the 405 logic

    /// Route shapes (`:` = one path segment) and their methods, mirroring ``makeRouter(backend:logger:)``.
    static let routes: [(segments: [String], methods: [HTTPRequest.Method])] = [
        (["ping"], [.get, .head]),
        (["impi", ":", "av"], [.get, .head]),
        (["impi", ":", "av", "digest"], [.get, .head]),
        (["impi", ":", "digest"], [.get, .head]),
        (["impu", ":", "reg-data"], [.get, .head, .put]),
    ]

    /// The methods a known route allows, `nil` when no route has this path (split like Hummingbird's
    /// trie: empty segments ignored).
    static func allowedMethods(path: String) -> [HTTPRequest.Method]? {
        let segments = path.split(separator: "/", omittingEmptySubsequences: true)
        for route in routes where route.segments.count == segments.count {
            let matches = zip(route.segments, segments).allSatisfy { pattern, segment in
                pattern == ":" || pattern == segment
            }
            if matches { return route.methods }
        }
        return nil
    }

    // MARK: responses

    static func response(_ status: HTTPResponse.Status, contentType: String, body: String,
                         headers extra: HTTPFields = [:]) -> Response {
        var headers = extra
        headers[.contentType] = contentType
        return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(string: body)))
    }

    static func json(_ body: String) -> Response {
        response(.ok, contentType: "application/json", body: body)
    }

    static func errorResponse(status code: Int, reason: String, headers: HTTPFields = [:]) -> Response {
        let code = (400...599).contains(code) ? code : 500
        let phrase = reasonPhrase(code)
        let body = "{\"error\": true, \"status\": \(code), \"message\": \(JSONText.string(phrase)), "
            + "\"reason\": \(JSONText.string(reason))}"
        return response(HTTPResponse.Status(code: code, reasonPhrase: phrase), contentType: "application/json",
                        body: body, headers: headers)
    }

    static func reasonPhrase(_ code: Int) -> String {
        switch code {
        case 400: "Bad Request"
        case 401: "Unauthorized"
        case 403: "Forbidden"
        case 404: "Not Found"
        case 405: "Method Not Allowed"
        case 408: "Request Timeout"
        case 409: "Conflict"
        case 411: "Length Required"
        case 413: "Content Too Large"
        case 414: "URI Too Long"
        case 415: "Unsupported Media Type"
        case 429: "Too Many Requests"
        case 500: "Internal Server Error"
        case 501: "Not Implemented"
        case 502: "Bad Gateway"
        case 503: "Service Unavailable"
        case 504: "Gateway Timeout"
        default: code < 500 ? "Client Error" : "Server Error"
        }
    }
}

/// The route handlers, generic over the backend so calls into it are direct.
struct HSSAPIHandlers<Backend: HSSBackend>: Sendable {
    let backend: Backend
    let logger: Logger

    /// `/impi/<impi>/av` and `/impi/<impi>/av/digest`.
    func authVector(_ request: Request, _ context: BasicRequestContext) async throws -> Response {
        let impi = try Self.pathParameter("impi", context)
        let impu = try QueryParameters(request.uri.query).nonEmpty("impu")
        let digest = try await call { try await backend.digest(impi: impi, impu: impu) }
        guard let digest else { throw Self.noDigest(impi: impi, impu: impu) }
        return HSSAPIServer.json("{\"digest\":{\"ha1\":\(JSONText.string(digest.ha1)),"
            + "\"realm\":\(JSONText.string(digest.realm)),\"qop\":\(JSONText.string(digest.qop))}}")
    }

    /// `/impi/<impi>/digest`.
    func digest(_ request: Request, _ context: BasicRequestContext) async throws -> Response {
        let impi = try Self.pathParameter("impi", context)
        let impu = try QueryParameters(request.uri.query).nonEmpty("public_id")
        let digest = try await call { try await backend.digest(impi: impi, impu: impu) }
        guard let digest else { throw Self.noDigest(impi: impi, impu: impu) }
        return HSSAPIServer.json("{\"digest_ha1\":\(JSONText.string(digest.ha1))}")
    }

    func getRegData(_ request: Request, _ context: BasicRequestContext) async throws -> Response {
        let impu = try Self.pathParameter("impu", context)
        _ = try QueryParameters(request.uri.query)  // malformed query → 400 like every other route
        let data = try await call { try await backend.registrationData(impu: impu) }
        guard let data else { throw HSSAPIError.notFound("Public identity \(impu) not found") }
        return Self.xml(data)
    }

    func putRegData(_ request: Request, _ context: BasicRequestContext) async throws -> Response {
        let impu = try Self.pathParameter("impu", context)
        let privateID = try QueryParameters(request.uri.query).nonEmpty("private_id")
        let body = try await request.body.collect(upTo: HSSAPIServer.maxBodySize)
        let registration = try Self.decodeRegistrationRequest(body)
        let data = try await call {
            try await backend.updateRegistration(impu: impu, privateID: privateID, request: registration)
        }
        guard let data else {
            if let privateID {
                throw HSSAPIError.notFound("Public identity \(impu) not found or not associated with \(privateID)")
            }
            throw HSSAPIError.notFound("Public identity \(impu) not found")
        }
        return Self.xml(data)
    }

    // MARK: helpers

    /// Runs a backend call: ``HSSAPIError`` passes through, anything else becomes 503.
    private func call<T: Sendable>(_ body: () async throws -> T) async throws -> T {
        do {
            return try await body()
        } catch let error as HSSAPIError {
            throw error
        } catch {
            logger.error("HSS backend failed: \(String(describing: error))")
            throw HSSAPIError.unavailable("HSS backend unavailable")
        }
    }

    private static func xml(_ data: HSSRegistrationData) -> Response {
        HSSAPIServer.response(.ok, contentType: "application/xml", body: ClearwaterRegDataXML.render(data))
    }

    private static func noDigest(impi: String, impu: String?) -> HSSAPIError {
        if let impu {
            return .notFound("Private identity \(impi) not found or not associated with \(impu)")
        }
        return .notFound("Private identity \(impi) not found")
    }

    private static func pathParameter(_ name: String, _ context: BasicRequestContext) throws -> String {
        guard let raw = context.parameters.get(name) else {
            throw HSSAPIError.notFound("Missing \(name)")
        }
        guard let decoded = PercentDecoding.decode(raw[...]) else {
            throw HSSAPIError.badRequest("Malformed percent-encoding in \(name)")
        }
        return decoded
    }

    private struct RegistrationBody: Decodable {
        var reqtype: String?
        var server_name: String?
    }

    static func decodeRegistrationRequest(_ buffer: ByteBuffer) throws -> HSSRegistrationRequest {
        guard buffer.readableBytes > 0 else {
            throw HSSAPIError.badRequest("Missing JSON body with reqtype")
        }
        let body: RegistrationBody
        do {
            body = try JSONDecoder().decode(RegistrationBody.self, from: Data(buffer.readableBytesView))
        } catch {
            throw HSSAPIError.badRequest("Body is not a JSON object with string fields reqtype and server_name")
        }
        guard let reqtype = body.reqtype else {
            throw HSSAPIError.badRequest("Missing reqtype")
        }
        guard let type = HSSRegistrationRequestType(rawValue: reqtype) else {
            let known = HSSRegistrationRequestType.allCases.map(\.rawValue).joined(separator: ", ")
            throw HSSAPIError.badRequest("Unknown reqtype \(reqtype) (expected one of \(known))")
        }
        return HSSRegistrationRequest(type: type, serverName: body.server_name)
    }
}

/// Renders every failure as the Clearwater JSON error, including the router's own 404 (which becomes
/// 405 with `Allow` when the path is a known route and only the method is wrong).
struct HSSErrorMiddleware<Context: RequestContext>: RouterMiddleware {
    let logger: Logger

    func handle(
        _ request: Request,
        context: Context,
        next: (Request, Context) async throws -> Response
    ) async throws -> Response {
        do {
            return try await next(request, context)
        } catch let error as HSSAPIError {
            return HSSAPIServer.errorResponse(status: error.status, reason: error.reason)
        } catch let error as HTTPError where error.status == .notFound {
            // Only the router's not-found responder throws this: our handlers throw HSSAPIError.
            if let allowed = HSSAPIServer.allowedMethods(path: request.uri.path) {
                var headers = HTTPFields()
                headers[.allow] = allowed.map(\.rawValue).joined(separator: ", ")
                return HSSAPIServer.errorResponse(
                    status: 405, reason: "Method \(request.method.rawValue) not allowed", headers: headers)
            }
            return HSSAPIServer.errorResponse(status: 404, reason: "No such resource")
        } catch let error as HTTPError {
            return HSSAPIServer.errorResponse(
                status: error.status.code, reason: error.body ?? HSSAPIServer.reasonPhrase(error.status.code))
        } catch let error as any HTTPResponseError {
            let code = error.status.code
            let reason = code == 413 ? "Body larger than \(HSSAPIServer.maxBodySize) bytes" : HSSAPIServer.reasonPhrase(code)
            return HSSAPIServer.errorResponse(status: code, reason: reason)
        } catch {
            logger.error("HSS API request failed: \(String(describing: error))")
            return HSSAPIServer.errorResponse(status: 500, reason: "Internal error")
        }
    }
}

/// Query string parameters, percent-decoded (`+` is kept: identities such as `tel:+1…` often arrive
/// unencoded). The first occurrence of a name wins.
struct QueryParameters {
    private var pairs: [(name: String, value: String)] = []

    init(_ query: String?) throws {
        guard let query, !query.isEmpty else { return }
        for part in query.split(separator: "&", omittingEmptySubsequences: true) {
            let name: Substring
            let value: Substring
            if let equals = part.firstIndex(of: "=") {
                name = part[..<equals]
                value = part[part.index(after: equals)...]
            } else {
                name = part
                value = ""
            }
            guard let decodedName = PercentDecoding.decode(name), let decodedValue = PercentDecoding.decode(value) else {
                throw HSSAPIError.badRequest("Malformed percent-encoding in query parameter \(name)")
            }
            pairs.append((decodedName, decodedValue))
        }
    }

    subscript(name: String) -> String? {
        pairs.first { $0.name == name }?.value
    }

    /// The parameter's value; absent or empty → `nil`.
    func nonEmpty(_ name: String) -> String? {
        guard let value = self[name], !value.isEmpty else { return nil }
        return value
    }
}

enum PercentDecoding {
    /// `%XX` → byte; `nil` on a truncated or non-hex escape, or when the bytes are not UTF-8.
    static func decode(_ text: Substring) -> String? {
        guard text.utf8.contains(UInt8(ascii: "%")) else { return String(text) }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(text.utf8.count)
        var iterator = text.utf8.makeIterator()
        while let byte = iterator.next() {
            guard byte == UInt8(ascii: "%") else {
                bytes.append(byte)
                continue
            }
            guard let high = iterator.next().flatMap(hexValue), let low = iterator.next().flatMap(hexValue) else {
                return nil
            }
            bytes.append(high << 4 | low)
        }
        return String(validating: bytes, as: UTF8.self)
    }

    private static func hexValue(_ byte: UInt8) -> UInt8? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): byte - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): byte - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): byte - UInt8(ascii: "A") + 10
        default: nil
        }
    }
}

enum JSONText {
    /// A JSON string literal.
    static func string(_ text: String) -> String {
        var out = "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            default:
                if scalar.value < 0x20 {
                    let hex = String(scalar.value, radix: 16)
                    out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
                } else {
                    out.unicodeScalars.append(scalar)
                }
            }
        }
        return out + "\""
    }
}
