import SIPCore
@testable import SIPProxy

struct TestFailure: Error, CustomStringConvertible {
    var description: String
    init(_ d: String) { description = d }
}

/// Lines joined with CRLF, terminated by the empty line, parsed by SIPParser.
func sipMessage(_ text: String, body: String = "") throws -> SIPMessage {
    var lines = text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
    while let last = lines.last, last.isEmpty { lines.removeLast() }
    let wire = lines.joined(separator: "\r\n") + "\r\n\r\n" + body
    return try SIPParser.parse(Array(wire.utf8))
}

func sipRequest(_ text: String, body: String = "") throws -> SIPRequest {
    guard case .request(let r) = try sipMessage(text, body: body) else { throw TestFailure("not a request") }
    return r
}

/// Serialises and parses again, as if the message had crossed the network.
func wire(_ request: SIPRequest) throws -> SIPRequest {
    guard case .request(let r) = try SIPParser.parse(request.serialized()) else { throw TestFailure("not a request") }
    return r
}

func wire(_ response: SIPResponse) throws -> SIPResponse {
    guard case .response(let r) = try SIPParser.parse(response.serialized()) else { throw TestFailure("not a response") }
    return r
}

/// A downstream element's response to a forwarded request, through the parser.
func answer(_ forwarded: SIPRequest, _ code: Int, toTag: String? = "uas-tag", extra: [(String, String)] = []) throws -> SIPResponse {
    var r = forwarded.makeResponse(statusCode: code, toTag: code == 100 ? nil : toTag)
    for (n, v) in extra { r.headers.add(n, v) }
    return try wire(r)
}

/// The proxy under test: proxy.example.com / 192.0.2.10 (access side, UDP) and 10.0.0.1 (core side, TCP).
let localHosts: Set<String> = ["proxy.example.com", "192.0.2.10", "10.0.0.1"]

func isLocal(_ uri: URI) -> Bool {
    guard let sip = uri.sipURI else { return false }
    return localHosts.contains(sip.host.lowercased()) && (sip.port == nil || sip.port == 5060)
}

let ourVia = Via(transport: "UDP", host: "192.0.2.10", port: 5060)

func uri(_ s: String) throws -> URI { try URI(parsing: s) }

let inviteText = """
INVITE sip:bob@example.com SIP/2.0
Via: SIP/2.0/UDP alice-pc.example.com:5060;branch=z9hG4bK776asdhds
Max-Forwards: 70
To: Bob <sip:bob@example.com>
From: Alice <sip:alice@example.com>;tag=1928301774
Call-ID: a84b4c76e66710@alice-pc.example.com
CSeq: 314159 INVITE
Contact: <sip:alice@alice-pc.example.com>
Content-Type: application/sdp
"""

let sdp = "v=0\r\no=alice 1 1 IN IP4 192.0.2.1\r\ns=-\r\nc=IN IP4 192.0.2.1\r\nt=0 0\r\nm=audio 49170 RTP/AVP 0\r\n"

func invite() throws -> SIPRequest { try sipRequest(inviteText + "\nContent-Length: \(sdp.utf8.count)", body: sdp) }

func validated(_ request: SIPRequest, options: ProxyOptions = ProxyOptions()) throws -> ValidatedRequest {
    guard case .proceed(let v) = ProxyCore.validate(request, isLocalURI: isLocal, options: options) else {
        throw TestFailure("expected .proceed")
    }
    return v
}

func rejection(_ verdict: ProxyVerdict) -> SIPResponse? {
    if case .reject(let r) = verdict { return r }
    return nil
}

extension Array {
    func finals<ID>() -> [SIPResponse] where Element == ProxyAction<ID> {
        compactMap { if case .forwardFinal(let r) = $0 { r } else { nil } }
    }
    func provisionals<ID>() -> [SIPResponse] where Element == ProxyAction<ID> {
        compactMap { if case .forwardProvisional(let r) = $0 { r } else { nil } }
    }
    func cancelled<ID>() -> [ID] where Element == ProxyAction<ID> {
        flatMap { (a: ProxyAction<ID>) -> [ID] in if case .cancelBranches(let ids) = a { ids } else { [] } }
    }
}
