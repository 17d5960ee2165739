import NIOCore

/// The transport protocols a SIP message can travel on (RFC 3261 §18).
public enum SIPTransportProtocol: String, Sendable, Hashable, CaseIterable {
    case udp = "UDP"
    case tcp = "TCP"
    case tls = "TLS"

    /// Reliable transports get no retransmissions from the transaction layer (RFC 3261 §17).
    public var isReliable: Bool { self != .udp }

    /// The lower-case token, as in flow names and `transport=` URI parameters (literals: no
    /// lower-casing per message).
    public var lowercasedToken: String {
        switch self {
        case .udp: "udp"
        case .tcp: "tcp"
        case .tls: "tls"
        }
    }

    /// Parses a Via transport token or a `transport=` URI parameter (case-insensitive).
    public init?(token: String) {
        switch token.uppercased() {
        case "UDP": self = .udp
        case "TCP": self = .tcp
        case "TLS": self = .tls
        default: return nil
        }
    }
}

/// Where a message came from or goes to: a transport, a remote socket address and, for
/// connection-oriented transports, the connection (flow) that carried it.
public struct SIPEndpoint: Hashable, Sendable, CustomStringConvertible {
    public var transport: SIPTransportProtocol
    public var address: SocketAddress
    /// The connection a stream message arrived on; nil for UDP and for not-yet-connected targets.
    public var connectionID: Int?

    public init(transport: SIPTransportProtocol, address: SocketAddress, connectionID: Int? = nil) {
        self.transport = transport
        self.address = address
        self.connectionID = connectionID
    }

    /// The remote IP address as text (no port, no brackets). IPv4 is formatted here: the general path
    /// (inet_ntop, sprintf per octet) showed in REGISTER profiles, where Via stamping, flow tokens and
    /// logs ask for it several times per message.
    public var ipAddress: String {
        guard case .v4(let v4) = address else { return address.ipAddress ?? "" }
        return Self.dottedQuad(UInt32(bigEndian: v4.address.sin_addr.s_addr))
    }

    /// `a.b.c.d` for a host-order IPv4 address.
    static func dottedQuad(_ ip: UInt32) -> String {
        String(unsafeUninitializedCapacity: 15) { out in
            var n = 0
            for shift in stride(from: 24, through: 0, by: -8) {
                let octet = Int((ip >> UInt32(shift)) & 0xFF)
                if octet >= 100 { out[n] = UInt8(48 + octet / 100); n += 1 }
                if octet >= 10 { out[n] = UInt8(48 + octet / 10 % 10); n += 1 }
                out[n] = UInt8(48 + octet % 10); n += 1
                if shift > 0 { out[n] = UInt8(ascii: "."); n += 1 }
            }
            return n
        }
    }
    public var port: Int { address.port ?? 0 }

    public var description: String {
        let host = address.protocol == .inet6 ? "[\(ipAddress)]" : ipAddress
        var text = transport.lowercasedToken
        text += ":"
        text += host
        text += ":"
        text += String(port)
        if let connectionID { text += "#" + String(connectionID) }
        return text
    }
}

extension SIPEndpoint {
    /// Parses the text form `description` produces (`udp:1.2.3.4:5060`, `tcp:[::1]:40000#7`): how the
    /// P-CSCF names a flow in Path and Record-Route flow tokens and in stored bindings.
    public init?(flow: String) {
        guard let colon = flow.firstIndex(of: ":"),
              let transport = SIPTransportProtocol(token: String(flow[..<colon])) else { return nil }
        var rest = flow[flow.index(after: colon)...]
        var connectionID: Int?
        if let hash = rest.lastIndex(of: "#") {
            guard let id = Int(rest[rest.index(after: hash)...]) else { return nil }
            connectionID = id
            rest = rest[..<hash]
        }
        guard let portColon = rest.lastIndex(of: ":"), let port = Int(rest[rest.index(after: portColon)...]),
              (1...65535).contains(port) else { return nil }
        var host = rest[..<portColon]
        if host.hasPrefix("["), host.hasSuffix("]") { host = host.dropFirst().dropLast() }
        guard let address = try? SocketAddress(ipAddress: String(host), port: port) else { return nil }
        self.init(transport: transport, address: address, connectionID: connectionID)
    }
}
