import SIPCore

/// RFC 3261 §17.1.1 (Figure 5) as amended by RFC 6026 §7.2: the INVITE client transaction.
///
/// Calling --1xx--> Proceeding --300-699--> Completed (ACK sent, Timer D) --> Terminated;
/// Calling/Proceeding --2xx--> Accepted (Timer M; every 2xx goes to the TU) --> Terminated.
/// The ACK for a non-2xx final is built and sent here (§17.1.1.3); the ACK for a 2xx is the TU's.
public struct ClientInviteTransaction: Hashable, Sendable {
    /// The INVITE as passed to the transport (its top Via carries the branch); once a final response
    /// arrives, only the fields later states build from (``TxnMessages/finalRecord(of:)``).
    public private(set) var request: SIPRequest
    public let reliable: Bool
    public let config: SIPTimerConfig
    public private(set) var state: TransactionState = .idle
    /// Current Timer A interval.
    public private(set) var timerAInterval: Duration
    /// The ACK last sent for a non-2xx final response.
    public private(set) var lastAck: SIPRequest?

    public init(request: SIPRequest, reliable: Bool, config: SIPTimerConfig = .rfc3261) {
        self.request = request
        self.reliable = reliable
        self.config = config
        self.timerAInterval = config.timerA
    }

    public mutating func handle(_ event: ClientTransactionEvent) -> [ClientTransactionAction] {
        switch (state, event) {
        case (.idle, .start):
            state = .calling
            var out: [ClientTransactionAction] = [.send(.request(request))]
            if !reliable { out.append(.startTimer(.a, timerAInterval)) }
            out.append(.startTimer(.b, config.timerB))
            return out

        case (.calling, .timerFired(.a)):
            timerAInterval = timerAInterval * 2
            return [.send(.request(request)), .startTimer(.a, timerAInterval)]

        case (.calling, .timerFired(.b)):
            state = .terminated
            return [.timeout, .terminated]

        case (.calling, .response(let r)), (.proceeding, .response(let r)):
            return received(r)

        case (.completed, .response(let r)) where (300...699).contains(r.statusCode):
            // A retransmitted final: re-send the ACK, do not bother the TU.
            let ack = TxnMessages.ack(for: request, response: r)
            lastAck = ack
            return [.send(.request(ack))]

        case (.completed, .timerFired(.d)), (.accepted, .timerFired(.m)):
            state = .terminated
            return [.terminated]

        case (.accepted, .response(let r)) where (200...299).contains(r.statusCode):
            // RFC 6026: retransmitted or forked 2xx responses go to the TU, which ACKs each.
            return [.deliver(r)]

        case (.calling, .transportError), (.completed, .transportError):
            state = .terminated
            return [.transportError, .terminated]

        default:
            // Everything else is absorbed: stale timers, responses that make no sense in this state,
            // transport errors in states where nothing is being sent.
            return []
        }
    }

    private mutating func received(_ r: SIPResponse) -> [ClientTransactionAction] {
        var out: [ClientTransactionAction] = []
        let leavingCalling = state == .calling
        func stopCallingTimers() {
            guard leavingCalling else { return }
            if !reliable { out.append(.cancelTimer(.a)) }
            out.append(.cancelTimer(.b))
        }
        switch r.statusCode {
        case 100...199:
            stopCallingTimers()
            state = .proceeding
            out.append(.deliver(r))
        case 200...299:
            stopCallingTimers()
            state = .accepted
            request = TxnMessages.finalRecord(of: request)
            out.append(.deliver(r))
            out.append(.startTimer(.m, config.timerM))
        case 300...699:
            stopCallingTimers()
            request = TxnMessages.finalRecord(of: request)
            let ack = TxnMessages.ack(for: request, response: r)
            lastAck = ack
            out.append(.send(.request(ack)))
            out.append(.deliver(r))
            let d = config.timerD(reliable: reliable)
            if d > .zero {
                state = .completed
                out.append(.startTimer(.d, d))
            } else {
                state = .terminated
                out.append(.terminated)
            }
        default:
            break
        }
        return out
    }
}

/// RFC 3261 §17.1.2 (Figure 6): the non-INVITE client transaction.
///
/// Trying --1xx--> Proceeding; Trying/Proceeding --200-699--> Completed (Timer K) --> Terminated.
/// Timer E retransmits (T1 doubling to T2 in Trying, T2 in Proceeding); Timer F times out.
public struct ClientNonInviteTransaction: Hashable, Sendable {
    public let request: SIPRequest
    public let reliable: Bool
    public let config: SIPTimerConfig
    public private(set) var state: TransactionState = .idle
    /// Current Timer E interval.
    public private(set) var timerEInterval: Duration

    public init(request: SIPRequest, reliable: Bool, config: SIPTimerConfig = .rfc3261) {
        self.request = request
        self.reliable = reliable
        self.config = config
        self.timerEInterval = config.timerE
    }

    public mutating func handle(_ event: ClientTransactionEvent) -> [ClientTransactionAction] {
        switch (state, event) {
        case (.idle, .start):
            state = .trying
            var out: [ClientTransactionAction] = [.send(.request(request))]
            if !reliable { out.append(.startTimer(.e, timerEInterval)) }
            out.append(.startTimer(.f, config.timerF))
            return out

        case (.trying, .timerFired(.e)):
            timerEInterval = config.doubledCapped(timerEInterval)
            return [.send(.request(request)), .startTimer(.e, timerEInterval)]

        case (.proceeding, .timerFired(.e)):
            timerEInterval = config.t2
            return [.send(.request(request)), .startTimer(.e, timerEInterval)]

        case (.trying, .timerFired(.f)), (.proceeding, .timerFired(.f)):
            state = .terminated
            return [.timeout, .terminated]

        case (.trying, .response(let r)), (.proceeding, .response(let r)):
            switch r.statusCode {
            case 100...199:
                state = .proceeding
                return [.deliver(r)]
            case 200...699:
                var out: [ClientTransactionAction] = []
                if !reliable { out.append(.cancelTimer(.e)) }
                out.append(.cancelTimer(.f))
                out.append(.deliver(r))
                let k = config.timerK(reliable: reliable)
                if k > .zero {
                    state = .completed
                    out.append(.startTimer(.k, k))
                } else {
                    state = .terminated
                    out.append(.terminated)
                }
                return out
            default:
                return []
            }

        case (.completed, .timerFired(.k)):
            state = .terminated
            return [.terminated]

        case (.trying, .transportError), (.proceeding, .transportError):
            state = .terminated
            return [.transportError, .terminated]

        default:
            // Completed absorbs response retransmissions; stale timers and the rest are ignored.
            return []
        }
    }
}
