import NIOCore
import Testing
@testable import SIPTransport

/// The flow text (`udp:1.2.3.4:5060`, `tcp:[::1]:40000#7`) names flows in Path and Record-Route flow
/// tokens and in stored bindings: it must stay stable and parse back to the same endpoint.
@Suite struct SIPEndpointTests {
    @Test(arguments: [
        (SIPTransportProtocol.udp, "192.0.2.10", 5060, nil as Int?, "udp:192.0.2.10:5060"),
        (.tcp, "10.0.0.1", 40000, 7, "tcp:10.0.0.1:40000#7"),
        (.tls, "::1", 5061, 12, "tls:[::1]:5061#12"),
        (.udp, "2001:db8::5", 5070, nil, "udp:[2001:db8::5]:5070"),
    ])
    func flowTextRoundTrips(transport: SIPTransportProtocol, ip: String, port: Int, connection: Int?, text: String) throws {
        let endpoint = SIPEndpoint(transport: transport, address: try SocketAddress(ipAddress: ip, port: port),
                                   connectionID: connection)
        #expect(endpoint.description == text)
        let parsed = try #require(SIPEndpoint(flow: text))
        #expect(parsed == endpoint)
        #expect(parsed.description == text)
    }

    @Test(arguments: ["", "udp", "udp:1.2.3.4", "sctp:1.2.3.4:5060", "udp:1.2.3.4:0", "udp:1.2.3.4:70000", "tcp:1.2.3.4:5060#x"])
    func malformedFlowTextIsRefused(_ text: String) {
        #expect(SIPEndpoint(flow: text) == nil)
    }
}
