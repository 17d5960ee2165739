import SIPCore

/// What identifies a server transaction (RFC 3261 §17.2.3).
///
/// A request whose top Via branch starts with the magic cookie `z9hG4bK` is keyed by branch, sent-by and
/// method (ACK counts as INVITE, CANCEL is its own method). Anything else falls back to the RFC 2543 rule:
/// Request-URI, To tag, From tag, Call-ID, CSeq number and method, and the whole top Via value.
public enum ServerTransactionKey: Hashable, Sendable, CustomStringConvertible {
    case rfc3261(branch: String, sentBy: String, method: SIPMethod)
    case rfc2543(requestURI: String, toTag: String?, fromTag: String?, callID: String, sequence: UInt32, method: SIPMethod, topVia: String)

    /// The key of the transaction `request` belongs to (an ACK yields its INVITE transaction's key; for RFC 2543
    /// ACKs the To tag is the one of the response being acknowledged). Nil when the request has no usable top
    /// Via, or, for RFC 2543 requests, no Call-ID or CSeq.
    public init?(request: SIPRequest) {
        self.init(request: request, method: request.method == .ack ? .invite : request.method)
    }

    /// The key of the transaction a request seen only by ``RequestGlance`` (before parsing) belongs to:
    /// RFC 3261 keys only (the RFC 2543 fallback needs the parsed request); the glance's sent-by is
    /// already lower-cased.
    public init?(glance: RequestGlance) {
        guard let branch = glance.branch, branch.hasPrefix(Via.magicCookie) else { return nil }
        self = .rfc3261(branch: branch, sentBy: glance.sentBy, method: glance.method == .ack ? .invite : glance.method)
    }

    /// The key of the INVITE server transaction a CANCEL refers to (RFC 3261 §9.2: matched like any request,
    /// but with method INVITE).
    public init?(inviteCancelledBy cancel: SIPRequest) {
        self.init(request: cancel, method: .invite)
    }

    init?(request: SIPRequest, method: SIPMethod) {
        guard let via = request.topVia else { return nil }
        if via.hasMagicCookie, let branch = via.branch {
            // Hosts compare case-insensitively.
            self = .rfc3261(branch: branch, sentBy: via.sentBy.lowercased(), method: method)
            return
        }
        guard let viaText = request.headers.firstValue("Via"), let callID = request.callID,
              let cseq = request.cseq else { return nil }
        self = .rfc2543(
            requestURI: request.requestURI, toTag: request.toTag, fromTag: request.fromTag, callID: callID,
            sequence: cseq.sequence, method: method, topVia: TxnText.trimmed(viaText))
    }

    /// The same RFC 2543 key with another To tag (ACKs carry the tag of the response they acknowledge).
    func withToTag(_ tag: String?) -> ServerTransactionKey {
        switch self {
        case .rfc3261: return self
        case let .rfc2543(uri, _, fromTag, callID, seq, method, via):
            return .rfc2543(requestURI: uri, toTag: tag, fromTag: fromTag, callID: callID, sequence: seq, method: method, topVia: via)
        }
    }

    var isRFC2543: Bool { if case .rfc2543 = self { true } else { false } }

    /// Hashes the one field that tells transactions apart (the branch; Call-ID and CSeq for RFC 2543):
    /// equal keys still hash equal, and the index hashes every key on insert, lookup, removal and resize.
    public func hash(into h: inout Hasher) {
        switch self {
        case .rfc3261(let branch, _, _):
            h.combine(0 as UInt8)
            h.combine(branch)
        case .rfc2543(_, _, _, let callID, let sequence, _, _):
            h.combine(1 as UInt8)
            h.combine(callID)
            h.combine(sequence)
        }
    }

    public var description: String {
        switch self {
        case let .rfc3261(branch, sentBy, method): "\(method) \(branch)@\(sentBy)"
        case let .rfc2543(uri, _, _, callID, seq, method, _): "2543 \(method) \(uri) \(callID) \(seq)"
        }
    }
}

/// What identifies a client transaction (RFC 3261 §17.1.3): the branch of the top Via and the CSeq method.
public struct ClientTransactionKey: Hashable, Sendable, CustomStringConvertible {
    public var branch: String
    public var method: SIPMethod

    public init(branch: String, method: SIPMethod) {
        self.branch = branch
        self.method = method
    }

    /// The key a response matches: top Via branch and CSeq method. Nil without a branch or a CSeq.
    public init?(response: SIPResponse) {
        guard let branch = response.topVia?.branch, let cseq = response.cseq else { return nil }
        self.init(branch: branch, method: cseq.method)
    }

    public var description: String { "\(method) \(branch)" }
}
