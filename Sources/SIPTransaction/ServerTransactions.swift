import SIPCore

/// RFC 3261 §17.2.1 (Figure 7) as amended by RFC 6026 §7.1: the INVITE server transaction.
///
/// Proceeding --300-699 from TU--> Completed (Timers G, H) --ACK--> Confirmed (Timer I) --> Terminated;
/// Proceeding --2xx from TU--> Accepted (Timer L): INVITE retransmissions absorbed, further 2xx from the TU
/// sent, ACKs passed to the TU; never retransmits a 2xx on its own.
///
/// Responses are kept only while a state can resend them: the provisional in Proceeding, the non-2xx
/// final in Completed. Accepted and Confirmed resend nothing, and under call load there are 32 s
/// (Timer L) of Accepted transactions: each holding its 180 and its 200 with SDP would be most of the
/// memory calls use.
///
/// 100 Trying: sent when the TU has not sent a provisional or final response within
/// `config.inviteTryingDelay` (200 ms by default, `.zero` = at once), and at once when an INVITE
/// retransmission arrives before any provisional response went out (unless the delay is `nil`: never).
public struct ServerInviteTransaction: Hashable, Sendable {
    /// The INVITE; once a final response is sent, only the fields later states build from (``TxnMessages/finalRecord(of:)``).
    public private(set) var request: SIPRequest
    public let reliable: Bool
    public let config: SIPTimerConfig
    public private(set) var state: TransactionState = .idle
    /// The most recent provisional response, while in Proceeding.
    public private(set) var lastProvisional: SIPResponse?
    /// The non-2xx final response, while in Completed (retransmitted on Timer G and INVITE retransmissions).
    public private(set) var lastFinal: SIPResponse?
    /// Current Timer G interval.
    public private(set) var timerGInterval: Duration
    private var tryingArmed = false

    public init(request: SIPRequest, reliable: Bool, config: SIPTimerConfig = .rfc3261) {
        self.request = request
        self.reliable = reliable
        self.config = config
        self.timerGInterval = config.timerG
    }

    public mutating func handle(_ event: ServerTransactionEvent) -> [ServerTransactionAction] {
        switch (state, event) {
        case (.idle, .start):
            state = .proceeding
            var out: [ServerTransactionAction] = []
            if let delay = config.inviteTryingDelay {
                if delay <= .zero {
                    out.append(.send(makeTrying()))
                } else {
                    tryingArmed = true
                    out.append(.startTimer(.trying, delay))
                }
            }
            out.append(.deliverRequest(request))
            return out

        case (.proceeding, .timerFired(.trying)):
            tryingArmed = false
            guard lastProvisional == nil else { return [] }
            return [.send(makeTrying())]

        case (.proceeding, .request):
            // "the most recent provisional response ... MUST be passed to the transport layer for retransmission";
            // when there is none yet the client is already retransmitting, so answer with 100 Trying now.
            if let p = lastProvisional { return [.send(p)] }
            guard config.inviteTryingDelay != nil else { return [] }
            var out = cancelTrying()
            out.append(.send(makeTrying()))
            return out

        case (.proceeding, .tuResponse(let r)):
            var out = cancelTrying()
            switch r.statusCode {
            case 100...199:
                lastProvisional = r
                out.append(.send(r))
            case 200...299:
                state = .accepted
                lastProvisional = nil
                request = TxnMessages.finalRecord(of: request)
                out.append(.send(r))
                out.append(.startTimer(.l, config.timerL))
            case 300...699:
                state = .completed
                lastProvisional = nil
                lastFinal = r
                request = TxnMessages.finalRecord(of: request)
                out.append(.send(r))
                if !reliable { out.append(.startTimer(.g, timerGInterval)) }
                out.append(.startTimer(.h, config.timerH))
            default:
                return []
            }
            return out

        case (.completed, .request):
            guard let f = lastFinal else { return [] }
            return [.send(f)]

        case (.completed, .timerFired(.g)):
            guard let f = lastFinal else { return [] }
            timerGInterval = config.doubledCapped(timerGInterval)
            return [.send(f), .startTimer(.g, timerGInterval)]

        case (.completed, .timerFired(.h)):
            state = .terminated
            return [.timeout, .terminated]

        case (.completed, .ack):
            var out: [ServerTransactionAction] = []
            if !reliable { out.append(.cancelTimer(.g)) }
            out.append(.cancelTimer(.h))
            lastFinal = nil
            let i = config.timerI(reliable: reliable)
            if i > .zero {
                state = .confirmed
                out.append(.startTimer(.i, i))
            } else {
                state = .terminated
                out.append(.terminated)
            }
            return out

        case (.confirmed, .timerFired(.i)), (.accepted, .timerFired(.l)):
            state = .terminated
            return [.terminated]

        case (.accepted, .tuResponse(let r)) where (200...299).contains(r.statusCode):
            // RFC 6026: 2xx retransmissions (and further 2xx) from the TU go out; none are generated here.
            return [.send(r)]

        case (.accepted, .ack(let ack)):
            return [.deliverAck(ack)]

        case (.accepted, .transportError):
            // RFC 6026 draws no exit here: tell the TU (its 2xx did not go out) and keep absorbing
            // retransmissions until Timer L.
            return [.transportError]

        case (.proceeding, .transportError), (.completed, .transportError):
            state = .terminated
            return [.transportError, .terminated]

        default:
            // Confirmed absorbs ACKs and INVITEs, Accepted absorbs INVITEs, stale timers are ignored,
            // responses from the TU after the final one are dropped.
            return []
        }
    }

    private mutating func makeTrying() -> SIPResponse {
        let trying = request.makeResponse(statusCode: 100)
        lastProvisional = trying
        return trying
    }

    private mutating func cancelTrying() -> [ServerTransactionAction] {
        guard tryingArmed else { return [] }
        tryingArmed = false
        return [.cancelTimer(.trying)]
    }
}

/// RFC 3261 §17.2.2 (Figure 8): the non-INVITE server transaction.
///
/// Trying --1xx from TU--> Proceeding; Trying/Proceeding --200-699 from TU--> Completed (Timer J) --> Terminated.
/// Retransmissions are absorbed in Trying and answered with the last response otherwise.
public struct ServerNonInviteTransaction: Hashable, Sendable {
    public let request: SIPRequest
    public let reliable: Bool
    public let config: SIPTimerConfig
    public private(set) var state: TransactionState = .idle
    public private(set) var lastProvisional: SIPResponse?
    public private(set) var lastFinal: SIPResponse?

    public init(request: SIPRequest, reliable: Bool, config: SIPTimerConfig = .rfc3261) {
        self.request = request
        self.reliable = reliable
        self.config = config
    }

    public mutating func handle(_ event: ServerTransactionEvent) -> [ServerTransactionAction] {
        switch (state, event) {
        case (.idle, .start):
            state = .trying
            return [.deliverRequest(request)]

        case (.proceeding, .request):
            guard let p = lastProvisional else { return [] }
            return [.send(p)]

        case (.completed, .request):
            guard let f = lastFinal else { return [] }
            return [.send(f)]

        case (.trying, .tuResponse(let r)), (.proceeding, .tuResponse(let r)):
            switch r.statusCode {
            case 100...199:
                state = .proceeding
                lastProvisional = r
                return [.send(r)]
            case 200...699:
                lastFinal = r
                var out: [ServerTransactionAction] = [.send(r)]
                let j = config.timerJ(reliable: reliable)
                if j > .zero {
                    state = .completed
                    out.append(.startTimer(.j, j))
                } else {
                    state = .terminated
                    out.append(.terminated)
                }
                return out
            default:
                return []
            }

        case (.completed, .timerFired(.j)):
            state = .terminated
            return [.terminated]

        case (.proceeding, .transportError), (.completed, .transportError):
            state = .terminated
            return [.transportError, .terminated]

        default:
            // Trying absorbs retransmissions; Completed discards further final responses from the TU.
            return []
        }
    }
}
