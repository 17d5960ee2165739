// SIPTransaction: the RFC 3261 §17 transaction layer with the RFC 6026 corrections, Sans-IO.
//
// - `SIPTime` / `SIPTimerConfig` / `SIPTimer`: an injected clock value and T1/T2/T4 with timers A-M.
// - `ClientInviteTransaction`, `ClientNonInviteTransaction`, `ServerInviteTransaction`,
//   `ServerNonInviteTransaction`: value-type state machines (Figures 5-8 + RFC 6026), each
//   `mutating func handle(event) -> [action]`, timers expressed as start/cancel actions.
// - `ServerTransactionKey` / `ClientTransactionKey`: §17.2.3 (with the RFC 2543 fallback) and §17.1.3 matching.
// - `TransactionLayer<Peer>`: owns the transactions of one event loop, matches messages, keeps every timer in
//   one heap, and turns machine actions into `LayerAction`s for the transport and the TU.
//
// Choices where the RFCs leave room:
// - 100 Trying: the INVITE server transaction sends it 200 ms after the INVITE when the TU has sent nothing yet
//   (`SIPTimerConfig.inviteTryingDelay`; `.zero` = at once, nil = never), and at once when an INVITE
//   retransmission arrives before any provisional response.
// - Timer D = max(32 s, 64*T1) over unreliable transports; D, I, J, K of zero terminate the transaction at once.
// - Timers started while firing due timers count from the `now` given to `advance(to:)`, not from the deadline.
// - A transport error in the server "Accepted" state is reported to the TU but does not end the transaction.
