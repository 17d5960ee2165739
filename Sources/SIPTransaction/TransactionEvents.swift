import SIPCore

/// The states of RFC 3261 Figures 5-8 as amended by RFC 6026 (each machine uses a subset).
public enum TransactionState: String, Hashable, Sendable, CustomStringConvertible {
    /// Created, `.start` not handled yet.
    case idle
    /// Client INVITE: request sent, no response yet.
    case calling
    /// Non-INVITE (client and server): request sent / received, no response yet.
    case trying
    case proceeding
    case completed
    /// Server INVITE: ACK for the non-2xx final received.
    case confirmed
    /// RFC 6026: INVITE 2xx sent (server) or received (client).
    case accepted
    case terminated

    public var description: String { rawValue }
}

/// Inputs of the two client state machines.
public enum ClientTransactionEvent: Hashable, Sendable {
    /// The TU hands the request over: send it and start the timers.
    case start
    /// A response matched this transaction (RFC 3261 §17.1.3).
    case response(SIPResponse)
    case timerFired(SIPTimer)
    /// The transport failed to send (RFC 3261 §17.1.4).
    case transportError
}

/// Outputs of the two client state machines.
public enum ClientTransactionAction: Hashable, Sendable {
    /// Pass a message to the transport, addressed like the original request (request, retransmission or ACK).
    case send(SIPMessage)
    /// Pass a response up to the TU.
    case deliver(SIPResponse)
    /// (Re)arm a timer; a timer of the same name already armed is replaced.
    case startTimer(SIPTimer, Duration)
    case cancelTimer(SIPTimer)
    /// Timer B or F fired: the TU must be told the request timed out (it gets a synthetic 408).
    case timeout
    /// Inform the TU of a transport failure (RFC 3261 §8.1.3.1 treats it as a 503).
    case transportError
    /// The transaction is over; every timer it armed is void.
    case terminated
}

/// Inputs of the two server state machines.
public enum ServerTransactionEvent: Hashable, Sendable {
    /// The request that creates the transaction arrived.
    case start
    /// A retransmission of the request matched this transaction (RFC 3261 §17.2.3).
    case request(SIPRequest)
    /// An ACK matched this (INVITE) transaction.
    case ack(SIPRequest)
    /// The TU passes a response down.
    case tuResponse(SIPResponse)
    case timerFired(SIPTimer)
    /// The transport failed to send a response (RFC 3261 §17.2.4).
    case transportError
}

/// Outputs of the two server state machines.
public enum ServerTransactionAction: Hashable, Sendable {
    /// Pass a response to the transport, to the source of the request.
    case send(SIPResponse)
    /// Pass the request up to the TU (only the request that created the transaction).
    case deliverRequest(SIPRequest)
    /// RFC 6026: an ACK received in the "Accepted" state goes to the TU.
    case deliverAck(SIPRequest)
    case startTimer(SIPTimer, Duration)
    case cancelTimer(SIPTimer)
    /// Timer H fired: the ACK never came; the TU must be told of the transaction failure.
    case timeout
    case transportError
    case terminated
}
