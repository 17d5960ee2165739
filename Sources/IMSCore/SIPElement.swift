import AutoConfig
import Logging
import SIPCore
import SIPTransaction
import SIPTransport

/// The transaction user: decides the final answer to every request the stack receives.
///
/// This release serves OPTIONS to the element itself and gives every other request the proper
/// final response (RFC 3261 §8.2, §16.3), never silence. Registration and calls plug in here.
final class SIPElement {
    static let serverName = "cw-aio"
    /// Methods this element understands (RFC 3261 §20.5 Allow).
    static let allowed: [SIPMethod] = [.invite, .ack, .cancel, .bye, .options, .register, .prack, .update,
                                       .info, .subscribe, .notify, .refer, .message]
    /// Option tags we support (RFC 3261 §8.2.2.3: anything else in Require gets 420).
    static let supported: Set<String> = ["path", "outbound", "gruu"]

    unowned let stack: SIPStack
    let config: CWConfig
    let logger: Logger
    /// Hosts that mean "this element" in a Request-URI.
    let localHosts: Set<String>
    let localPorts: Set<Int>

    init(stack: SIPStack, config: CWConfig, logger: Logger) {
        self.stack = stack
        self.config = config
        self.logger = logger
        var hosts: Set<String> = [config.localIP.lowercased(), config.publicIP.lowercased(),
                                  config.homeDomain.lowercased(), "127.0.0.1", "localhost", "[::1]", "::1"]
        hosts.insert(config.publicHostForURI.lowercased())
        self.localHosts = hosts
        self.localPorts = [config.sipPort, config.sipTLSPort]
    }

    func handle(request: SIPRequest, transaction id: ServerTransactionID, from source: SIPEndpoint) {
        if let response = check(request) {
            stack.respond(id, response)
            return
        }
        switch request.method {
        case .register:
            if let registrations = stack.registrations {
                registrations.handleRegister(request, transaction: id, from: source)
            } else {
                stack.respond(id, reply(request, 503, reason: "Registrar Not Ready"))
            }
            return
        case .subscribe where request.headers.first("Event").map({ $0.lowercased().hasPrefix("reg") }) == true:
            if let registrations = stack.registrations {
                registrations.handleSubscribe(request, transaction: id, from: source)
            } else {
                stack.respond(id, reply(request, 503, reason: "Registrar Not Ready"))
            }
            return
        case .options where isForUs(request):
            stack.respond(id, optionsResponse(to: request))
        case .options, .invite, .message, .subscribe, .refer, .publish, .notify, .info, .update, .prack, .bye:
            if let router = stack.router {
                router.handle(request, transaction: id, from: source)
            } else {
                stack.respond(id, reply(request, request.toTag != nil ? 481 : 404))
            }
        default:
            var response = reply(request, 501)
            response.headers.add("Allow", Self.allowed.map(\.rawValue).joined(separator: ", "))
            stack.respond(id, response)
        }
    }

    func handle(ack: SIPRequest, from source: SIPEndpoint) {
        // ACK for a 2xx this element never sent: nothing to do (RFC 3261 §17.2.3 pass-through).
    }

    func handle(cancel: SIPRequest, invite: ServerTransactionID?, transaction id: ServerTransactionID, from source: SIPEndpoint) {
        guard let invite else {
            stack.respond(id, reply(cancel, 481))
            return
        }
        // RFC 3261 §9.2: 200 to the CANCEL, then 487 to the INVITE if it has no final response yet.
        stack.respond(id, reply(cancel, 200))
        if stack.transactions.state(of: .server(invite)) == .proceeding,
           let request = stack.transactions.request(of: .server(invite)) {
            stack.respond(invite, reply(request, 487))
        }
    }

    /// Request validation every element does before anything else (RFC 3261 §8.2.1-§8.2.2, §16.3).
    func check(_ request: SIPRequest) -> SIPResponse? {
        guard let uri = request.uri else {
            return reply(request, 400, reason: "Bad Request-URI")
        }
        switch uri {
        case .sip, .tel: break
        case .other: return reply(request, 416)
        }
        if let mf = request.maxForwards, mf == 0, !isForUs(request), request.method != .ack {
            return reply(request, 483)
        }
        if request.method != .ack && request.method != .cancel {
            let required = request.headers.values("Require").map { $0.lowercased() }
            let unsupported = required.filter { !Self.supported.contains($0) }
            if !unsupported.isEmpty {
                var response = reply(request, 420)
                response.headers.add("Unsupported", unsupported.joined(separator: ", "))
                return response
            }
        }
        return nil
    }

    /// True when the Request-URI names this element rather than a user it serves (no user part, our host).
    func isForUs(_ request: SIPRequest) -> Bool {
        guard case .sip(let uri)? = request.uri else { return false }
        if let user = uri.user, !user.isEmpty { return false }
        if let port = uri.port, !localPorts.contains(port) { return false }
        return localHosts.contains(uri.host.lowercased())
    }

    func optionsResponse(to request: SIPRequest) -> SIPResponse {
        var response = reply(request, 200)
        response.headers.add("Allow", Self.allowed.map(\.rawValue).joined(separator: ", "))
        response.headers.add("Accept", "application/sdp, application/reginfo+xml, text/plain, message/cpim")
        response.headers.add("Accept-Encoding", "identity")
        response.headers.add("Accept-Language", "en")
        response.headers.add("Supported", Self.supported.sorted().joined(separator: ", "))
        return response
    }

    func reply(_ request: SIPRequest, _ status: Int, reason: String? = nil) -> SIPResponse {
        var response = request.makeResponse(statusCode: status, reasonPhrase: reason, toTag: status == 100 ? nil : Self.newTag())
        response.headers.add("Server", Self.serverName)
        return response
    }

    static func newTag() -> String {
        var rng = SecureRandom()
        return String(rng.next() & 0xffff_ffff_ffff, radix: 36)
    }
}
