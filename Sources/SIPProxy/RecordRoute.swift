import SIPCore

/// How `ProxyCore.forward` record-routes (RFC 3261 §16.6 step 4, RFC 5658).
///
/// With one interface (or `inbound` equivalent to `outbound`) a single `Record-Route: <inbound;lr>` is added.
/// When the request leaves on another interface or transport than it arrived on, two entries are added, the
/// outbound-side one on top (the UAS reaches us there) and the inbound-side one below (the UAC reaches us
/// there), both with `lr` and the `r2` marker so that `ProxyCore.preprocessRoutes` removes both later. Give each
/// URI its `transport` parameter (`RecordRoutePolicy.uri(host:port:transport:)` does), as RFC 5658 requires.
public struct RecordRoutePolicy: Sendable, Hashable {
    /// Our URI on the interface the request arrived on.
    public var inbound: SIPURI
    /// Our URI on the interface the request leaves on; nil for single-interface routing.
    public var outbound: SIPURI?

    /// The parameter marking the two halves of a double Record-Route (the convention Kamailio uses).
    public static let doubleMarker = "r2"

    public init(_ uri: SIPURI) {
        inbound = uri
        outbound = nil
    }

    public init(inbound: SIPURI, outbound: SIPURI) {
        self.inbound = inbound
        self.outbound = outbound
    }

    /// Two entries are needed: the interfaces differ in host, port or transport.
    public var isDouble: Bool {
        guard let outbound else { return false }
        return !inbound.isEquivalent(to: outbound)
    }

    /// Header values, top first.
    public func recordRouteValues() -> [String] {
        guard isDouble, let outbound else { return ["<" + Self.withLR(inbound, double: false).description + ">"] }
        return ["<" + Self.withLR(outbound, double: true).description + ">", "<" + Self.withLR(inbound, double: true).description + ">"]
    }

    /// `sip:[user@]host[:port];transport=<t>` (transport lower-cased) plus `parameters`.
    public static func uri(host: String, port: Int? = nil, transport: String, user: String? = nil,
                           parameters: SIPParameters = SIPParameters(), secure: Bool = false) -> SIPURI {
        var params = SIPParameters([("transport", ProxyText.lowercasedASCII(transport))])
        for item in parameters.items where !ProxyText.equalsIgnoringCase(item.name, "transport") { params.items.append(item) }
        return SIPURI(scheme: secure ? "sips" : "sip", user: user, host: host, port: port, parameters: params)
    }

    static func withLR(_ uri: SIPURI, double: Bool) -> SIPURI {
        var u = uri
        if !u.parameters.contains("lr") { u.parameters.set("lr", nil) }
        if double, !u.parameters.contains(doubleMarker) { u.parameters.set(doubleMarker, "on") }
        return u
    }
}
