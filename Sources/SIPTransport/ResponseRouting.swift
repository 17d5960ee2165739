import SIPCore

/// Pure rules for the server transport (RFC 3261 §18.2, RFC 3581): how to stamp the top Via of a
/// received request, and where a response goes.
public enum ResponseRouting {
    /// RFC 3261 §18.2.1 `received` and RFC 3581 §4 `rport`: record the source address in the top Via
    /// so responses find their way back through NAT. Returns nil when the request has no usable Via.
    public static func stamp(_ request: inout SIPRequest, sourceIP: String, sourcePort: Int) {
        guard var via = request.topVia else { return }
        var changed = false
        if via.hasRPort && via.rport == nil {
            via.rport = sourcePort
            via.received = sourceIP
            changed = true
        } else if normalizedHost(via.host) != normalizedHost(sourceIP) {
            via.received = sourceIP
            changed = true
        }
        guard changed else { return }
        request.headers.replaceTopVia(with: via)
    }

    /// The destination of a response per RFC 3261 §18.2.2 and RFC 3581 §4.
    /// - For a reliable transport, the connection the request came on (when still open; the caller
    ///   falls back to a new connection to `received`/sent-by port otherwise).
    /// - For UDP: `maddr` when present, else the source IP (`received`) and `rport` when present,
    ///   else `received` and the sent-by port (5060 by default).
    public static func destination(for response: SIPResponse, requestSource: SIPEndpoint) -> ResponseTarget {
        guard let via = response.topVia else { return .connection(requestSource) }
        let transport = SIPTransportProtocol(token: via.transport) ?? requestSource.transport
        if transport.isReliable, requestSource.transport.isReliable {
            let fallbackHost = via.received ?? via.host
            let fallbackPort = via.port ?? (transport == .tls ? 5061 : 5060)
            return .connection(requestSource, fallbackHost: fallbackHost, fallbackPort: fallbackPort)
        }
        if let maddr = via.maddr {
            return .address(transport: .udp, host: maddr, port: via.port ?? 5060)
        }
        let host = via.received ?? via.host
        if via.hasRPort, let rport = via.rport {
            return .address(transport: .udp, host: host, port: rport)
        }
        return .address(transport: .udp, host: host, port: via.port ?? 5060)
    }

    static func normalizedHost(_ host: String) -> String {
        var h = host.lowercased()
        if h.hasPrefix("["), h.hasSuffix("]") { h = String(h.dropFirst().dropLast()) }
        return h
    }
}

/// Where a response is sent.
public enum ResponseTarget: Sendable, Equatable {
    /// Back on the flow the request arrived on; if it is gone, connect to the fallback.
    case connection(SIPEndpoint, fallbackHost: String? = nil, fallbackPort: Int? = nil)
    case address(transport: SIPTransportProtocol, host: String, port: Int)
}
