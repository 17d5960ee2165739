import IMSModel
import SIPCore

/// The P-CSCF: the UE's first hop and the edge of the trust domain (TS 24.229 §5.2).
///
/// For registration it adds a `Path` that leads back to the flow the REGISTER came on (RFC 3327,
/// RFC 5626 §5.1 `ob`), remembers which flows registered which identities, and learns the
/// Service-Route the S-CSCF returns (RFC 3608).
public final class PCSCF {
    /// A flow the UE used to register (UDP 5-tuple or a TCP/TLS connection), as text: `udp:1.2.3.4:5060`.
    public struct RegisteredFlow: Sendable, Hashable {
        public var flow: String
        public var publicIdentities: [String]
        public var serviceRoute: [String]
        public var expiresAt: Int64
    }

    public let host: String
    public let port: Int
    private(set) var flows: [String: RegisteredFlow] = [:]

    public init(host: String, port: Int) {
        self.host = host
        self.port = port
    }

    public var registeredFlowCount: Int { flows.count }

    /// TS 24.229 §5.2.2.1: on an initial or refreshing REGISTER from a UE.
    /// - strips identities the UE may not assert (the trust domain starts here),
    /// - adds a Path with a flow token so terminating requests come back over this flow, with `ob`
    ///   when the UE asked for outbound (RFC 5626 §5.1: Supported: outbound and a reg-id contact).
    public func processRegister(_ request: inout SIPRequest, flow: String) {
        request.headers.remove("P-Asserted-Identity")
        request.headers.remove("P-Charging-Vector")
        let wantsOutbound = request.supported.contains { $0.lowercased() == "outbound" }
            && request.contacts.contains { $0.parameters.contains("reg-id") }
        var path = "<sip:\(Self.flowToken(flow))@\(host):\(port);lr"
        if wantsOutbound { path += ";ob" }
        path += ">"
        request.headers.prepend("Path", path)
        if !request.supported.contains(where: { $0.lowercased() == "path" }) {
            request.headers.add("Supported", "path")
        }
        request.headers.set("P-Visited-Network-ID", "\"\(host)\"")
    }

    /// On the REGISTER's 200 OK: remember the flow, its identities and the Service-Route (RFC 3608).
    public func processRegisterResponse(_ response: SIPResponse, flow: String, now: Int64) {
        guard response.statusCode == 200 else { return }
        let identities = response.headers.values("P-Associated-URI").compactMap { value -> String? in
            (try? NameAddr(parsing: value)).flatMap { PublicIdentity.normalize($0.uri) }
        }
        let contactExpiry = response.contacts.compactMap(\.expires).max() ?? 0
        if identities.isEmpty || contactExpiry == 0 {
            flows[flow] = nil
            return
        }
        flows[flow] = RegisteredFlow(flow: flow, publicIdentities: identities,
                                     serviceRoute: response.headers.values("Service-Route"),
                                     expiresAt: now + Int64(contactExpiry))
    }

    public func registeredFlow(_ flow: String, now: Int64) -> RegisteredFlow? {
        guard let f = flows[flow], f.expiresAt > now else { return nil }
        return f
    }

    public func flowClosed(_ flow: String) { flows[flow] = nil }

    /// The user part of the Path URI: the flow, made safe for a SIP URI user part (RFC 5626 §5.2 flow token).
    public static func flowToken(_ flow: String) -> String {
        // Written straight into the new string's storage: it runs for every REGISTER and its response.
        var flow = flow
        return flow.withUTF8 { bytes in
            String(unsafeUninitializedCapacity: 2 + bytes.count * 3) { out in
                out[0] = UInt8(ascii: "f")
                out[1] = UInt8(ascii: "-")
                var n = 2
                for b in bytes {
                    switch b {
                    case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
                         UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "."), UInt8(ascii: "-"), UInt8(ascii: "_"):
                        out[n] = b
                        n += 1
                    default:
                        out[n] = UInt8(ascii: "%")
                        out[n + 1] = hexDigit(b >> 4)
                        out[n + 2] = hexDigit(b & 15)
                        n += 3
                    }
                }
                return n
            }
        }
    }

    private static func hexDigit(_ nibble: UInt8) -> UInt8 {
        nibble < 10 ? UInt8(ascii: "0") + nibble : UInt8(ascii: "A") + nibble - 10
    }

    /// The inverse of `flowToken`, for terminating requests that arrive with our Path as Route.
    public static func flow(fromToken token: String) -> String? {
        guard token.hasPrefix("f-") else { return nil }
        var bytes: [UInt8] = []
        var it = Array(token.utf8.dropFirst(2))[...]
        while let b = it.first {
            it = it.dropFirst()
            if b == UInt8(ascii: "%") {
                guard it.count >= 2, let v = UInt8(String(decoding: it.prefix(2), as: UTF8.self), radix: 16) else { return nil }
                bytes.append(v)
                it = it.dropFirst(2)
            } else {
                bytes.append(b)
            }
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}
