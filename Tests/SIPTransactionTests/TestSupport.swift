import SIPCore
@testable import SIPTransaction

typealias Action = LayerAction<String>

/// Milliseconds since the virtual epoch.
func ms(_ value: Int) -> SIPTime { SIPTime(.milliseconds(value)) }
/// Seconds since the virtual epoch.
func sec(_ value: Double) -> SIPTime { SIPTime(nanoseconds: UInt64(value * 1_000_000_000)) }

/// A test request with the mandatory header fields (RFC 3261 §8.1.1).
func makeRequest(
    _ method: SIPMethod,
    callID: String = "call-1@client.example.com",
    cseq: UInt32 = 1,
    cseqMethod: SIPMethod? = nil,
    branch: String? = "z9hG4bK-branch-1",
    sentBy: String = "client.example.com:5060",
    transport: String = "UDP",
    fromTag: String? = "from-tag-1",
    toTag: String? = nil,
    uri: String = "sip:bob@example.com",
    routes: [String] = [],
    lowerVias: [String] = []
) -> SIPRequest {
    var h = SIPHeaders()
    var via = "SIP/2.0/\(transport) \(sentBy)"
    if let branch { via += ";branch=\(branch)" }
    h.add("Via", via)
    for v in lowerVias { h.add("Via", v) }
    h.add("Max-Forwards", "70")
    for r in routes { h.add("Route", r) }
    h.add("From", "\"Alice\" <sip:alice@example.com>" + (fromTag.map { ";tag=\($0)" } ?? ""))
    h.add("To", "Bob <sip:bob@example.com>" + (toTag.map { ";tag=\($0)" } ?? ""))
    h.add("Call-ID", callID)
    h.add("CSeq", "\(cseq) \((cseqMethod ?? method).rawValue)")
    h.add("Contact", "<sip:alice@client.example.com>")
    h.add("Content-Length", "0")
    return SIPRequest(method: method, requestURI: uri, headers: h)
}

/// A response as a UAS builds it (RFC 3261 §8.2.6.2): Via, From, Call-ID, CSeq copied, To with a tag added.
func makeResponse(to request: SIPRequest, _ status: Int, toTag: String? = "uas-tag") -> SIPResponse {
    var h = SIPHeaders()
    for v in request.headers.rawValues("Via") { h.add("Via", v) }
    h.add("From", request.headers.first("From")!)
    var to = request.headers.first("To")!
    if let toTag, status != 100, !to.contains(";tag=") { to += ";tag=\(toTag)" }
    h.add("To", to)
    h.add("Call-ID", request.headers.first("Call-ID")!)
    h.add("CSeq", request.headers.first("CSeq")!)
    h.add("Content-Length", "0")
    return SIPResponse(statusCode: status, headers: h)
}

/// The ACK a UAC core sends for a 2xx (its own transaction: a new branch, RFC 3261 §13.2.2.4).
func makeAckFor2xx(_ invite: SIPRequest, _ response: SIPResponse, branch: String) -> SIPRequest {
    var h = SIPHeaders()
    let top = invite.headers.values("Via").first!
    let base = top.components(separatedBy: ";branch=").first!
    h.add("Via", base + ";branch=\(branch)")
    h.add("Max-Forwards", "70")
    h.add("From", invite.headers.first("From")!)
    h.add("To", response.headers.first("To")!)
    h.add("Call-ID", invite.headers.first("Call-ID")!)
    let seq = invite.headers.first("CSeq")!.split(separator: " ").first!
    h.add("CSeq", "\(seq) ACK")
    h.add("Content-Length", "0")
    return SIPRequest(method: .ack, requestURI: invite.requestURI, headers: h)
}

extension String {
    func components(separatedBy separator: String) -> [String] {
        var out: [String] = []
        var rest = Substring(self)
        while let r = rest.range(of: separator) {
            out.append(String(rest[..<r.lowerBound]))
            rest = rest[r.upperBound...]
        }
        out.append(String(rest))
        return out
    }
}

extension Substring {
    func range(of needle: String) -> Range<Substring.Index>? {
        guard !needle.isEmpty else { return nil }
        var i = startIndex
        while i < endIndex {
            if self[i...].hasPrefix(needle) { return i..<index(i, offsetBy: needle.count) }
            i = index(after: i)
        }
        return nil
    }
}

extension SIPMessage {
    var request: SIPRequest? { if case .request(let r) = self { r } else { nil } }
    var response: SIPResponse? { if case .response(let r) = self { r } else { nil } }
}

extension Array where Element == Action {
    var sent: [SIPMessage] {
        compactMap {
            switch $0 {
            case .send(let m, _, _): m
            case .sendWire(let bytes, _, _): try? SIPParser.parse(bytes)
            default: nil
            }
        }
    }
    var sentRequests: [SIPRequest] { sent.compactMap(\.request) }
    var sentResponses: [SIPResponse] { sent.compactMap(\.response) }
    var sentStatusCodes: [Int] { sentResponses.map(\.statusCode) }
    var delivered: [SIPResponse] { compactMap { if case .response(let r, _) = $0 { r } else { nil } } }
    var newRequests: [(SIPRequest, ServerTransactionID)] { compactMap { if case .request(let r, let id, _) = $0 { (r, id) } else { nil } } }
    var acks: [(SIPRequest, ServerTransactionID?)] { compactMap { if case .ack(let r, _, let id) = $0 { (r, id) } else { nil } } }
    var terminated: [TransactionID] { compactMap { if case .terminated(let id) = $0 { id } else { nil } } }
    var timeouts: [(ClientTransactionID, SIPResponse)] { compactMap { if case .timeout(let id, let r) = $0 { (id, r) } else { nil } } }
    var ackTimeouts: [ServerTransactionID] { compactMap { if case .ackTimeout(let id) = $0 { id } else { nil } } }
    var strays: [SIPResponse] { compactMap { if case .strayResponse(let r, _) = $0 { r } else { nil } } }
    var transportErrors: [(TransactionID, SIPResponse?)] { compactMap { if case .transportError(let id, let r) = $0 { (id, r) } else { nil } } }
}

/// Drives one layer through its timers on a virtual clock and records what happened when.
struct TimedLog {
    var entries: [(time: SIPTime, action: Action)] = []

    mutating func record(_ actions: [Action], at time: SIPTime) {
        for a in actions { entries.append((time, a)) }
    }

    var actions: [Action] { entries.map(\.action) }

    /// Times at which messages were sent.
    var sendTimes: [SIPTime] {
        entries.filter {
            switch $0.action {
            case .send, .sendWire: true
            default: false
            }
        }.map(\.time)
    }

    /// Fires every timer of `layer` due up to and including `limit`, stepping through each deadline.
    mutating func run(_ layer: TransactionLayer<String>, until limit: SIPTime) {
        while let next = layer.nextDeadline, next <= limit {
            record(layer.advance(to: next), at: next)
        }
    }
}

/// SplitMix64: small, seedable, deterministic.
struct SeededRNG: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
    mutating func chance(_ p: Double) -> Bool { p > 0 && Double.random(in: 0..<1, using: &self) < p }
}

/// Deterministic branch IDs for a layer under test.
func branchCounter(_ prefix: String) -> () -> String {
    final class Box: @unchecked Sendable { var n = 0 }
    let box = Box()
    return { box.n += 1; return "\(Via.magicCookie)-\(prefix)-\(box.n)" }
}
