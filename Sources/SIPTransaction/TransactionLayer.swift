import SIPCore

/// A server transaction, as the TU knows it. Unique for the lifetime of a `TransactionLayer`.
public struct ServerTransactionID: Hashable, Comparable, Sendable, CustomStringConvertible {
    public let rawValue: UInt64
    public init(rawValue: UInt64) { self.rawValue = rawValue }
    public static func < (a: Self, b: Self) -> Bool { a.rawValue < b.rawValue }
    public var description: String { "S\(rawValue)" }
}

/// A client transaction, as the TU knows it. Unique for the lifetime of a `TransactionLayer`.
public struct ClientTransactionID: Hashable, Comparable, Sendable, CustomStringConvertible {
    public let rawValue: UInt64
    public init(rawValue: UInt64) { self.rawValue = rawValue }
    public static func < (a: Self, b: Self) -> Bool { a.rawValue < b.rawValue }
    public var description: String { "C\(rawValue)" }
}

public enum TransactionID: Hashable, Sendable, CustomStringConvertible {
    case client(ClientTransactionID)
    case server(ServerTransactionID)
    public var description: String {
        switch self {
        case .client(let id): id.description
        case .server(let id): id.description
        }
    }
}

/// Why `TransactionLayer.send` refused a request.
public enum TransactionError: Error, Hashable, Sendable {
    /// An ACK is never a transaction of its own: the ACK for a 2xx is sent by the TU directly, the ACK for
    /// a non-2xx by the client INVITE transaction.
    case ackIsNotATransaction
    /// The request needs a top Via (the transport fills sent-by; the layer adds a branch when there is none).
    case missingVia
    /// The top Via has a `branch` parameter without a value.
    case emptyBranch
    case missingCSeq
    /// The CSeq method differs from the request method.
    case cseqMethodMismatch
    /// A client transaction with this branch and method exists already.
    case duplicateTransaction(ClientTransactionKey)
}

/// Branch IDs for requests sent by this element.
public enum SIPBranch {
    /// `z9hG4bK` followed by 128 random bits in hex (RFC 3261 §8.1.1.7: unique across space and time).
    public static func random() -> String {
        var rng = SecureRandom()
        let a: UInt64 = rng.next(), b: UInt64 = rng.next()
        return Via.magicCookie + String(a, radix: 16) + String(b, radix: 16)
    }
}

/// What the transaction layer asks its owner (transport + TU) to do.
public enum LayerAction<Peer: Hashable & Sendable>: Hashable, Sendable {
    /// Pass a message to the transport.
    case send(SIPMessage, to: Peer, reliable: Bool)
    /// Pass a message already serialized to the transport: the final response of a non-INVITE server
    /// transaction over an unreliable transport, kept as bytes while it waits out Timer J.
    case sendWire([UInt8], to: Peer, reliable: Bool)
    /// A new request (neither ACK nor CANCEL) for the TU, with the server transaction created for it.
    /// Answer it with `respond(_:_:now:)`.
    case request(SIPRequest, ServerTransactionID, from: Peer)
    /// A new CANCEL. `own` is its non-INVITE server transaction (answer 200, or 481 when `matchingInvite` is
    /// nil); `matchingInvite` is the INVITE server transaction it refers to (RFC 3261 §9.2).
    case cancel(SIPRequest, matchingInvite: ServerTransactionID?, own: ServerTransactionID, from: Peer)
    /// An ACK the TU must see: an ACK for a 2xx, either matched to an INVITE server transaction in the RFC 6026
    /// "Accepted" state (`transaction` set) or matching no transaction at all (stateless pass-through).
    /// ACKs for non-2xx finals are absorbed by their INVITE server transaction and never show up here.
    case ack(SIPRequest, from: Peer, transaction: ServerTransactionID?)
    /// A response for the TU from a client transaction (retransmissions are absorbed; every 2xx to an INVITE
    /// is passed up, RFC 6026).
    case response(SIPResponse, ClientTransactionID)
    /// A response that matches no client transaction (RFC 6026 §8.4: a UAC core may ACK/BYE a stray 2xx,
    /// a proxy forwards 2xx statelessly, the rest is dropped).
    case strayResponse(SIPResponse, from: Peer)
    /// Timer B or F fired: the request timed out. `response` is a synthetic 408 for the TU.
    case timeout(ClientTransactionID, response: SIPResponse)
    /// Timer H fired: the ACK for a non-2xx final never came (transaction failure, RFC 3261 §17.2.1).
    case ackTimeout(ServerTransactionID)
    /// A transport error ended (or, in the server "Accepted" state, affected) a transaction. For client
    /// transactions `response` is a synthetic 503 (RFC 3261 §8.1.3.1); nil for server transactions.
    case transportError(TransactionID, response: SIPResponse?)
    /// The transaction is gone. Always the last action about that transaction.
    case terminated(TransactionID)
    /// A message the layer could not handle (a request without a usable Via, or an RFC 2543 request without
    /// Call-ID or CSeq). No state was created.
    case discarded(SIPMessage, from: Peer, reason: String)
}

/// The RFC 3261 §17 transaction layer for one event loop: matches messages to transactions, runs the
/// four state machines and keeps all their timers in one queue.
///
/// Sans-IO and single-threaded: every call gets the current time, returns what to do, and never reads a
/// clock, sleeps or locks. The owner sends `.send` actions to the transport, hands the rest to the TU, and
/// calls `advance(to:)` when `nextDeadline` is reached (one scheduled task for the whole layer).
public final class TransactionLayer<Peer: Hashable & Sendable> {
    /// Used for transactions created from now on.
    public var config: SIPTimerConfig

    private enum ServerMachine {
        case invite(ServerInviteTransaction)
        case nonInvite(ServerNonInviteTransaction)

        mutating func handle(_ event: ServerTransactionEvent) -> [ServerTransactionAction] {
            switch self {
            case .invite(var t):
                let out = t.handle(event)
                self = .invite(t)
                return out
            case .nonInvite(var t):
                let out = t.handle(event)
                self = .nonInvite(t)
                return out
            }
        }

        var state: TransactionState {
            switch self {
            case .invite(let t): t.state
            case .nonInvite(let t): t.state
            }
        }

        var request: SIPRequest {
            switch self {
            case .invite(let t): t.request
            case .nonInvite(let t): t.request
            }
        }

        var isInvite: Bool { if case .invite = self { true } else { false } }
    }

    private enum ClientMachine {
        case invite(ClientInviteTransaction)
        case nonInvite(ClientNonInviteTransaction)

        mutating func handle(_ event: ClientTransactionEvent) -> [ClientTransactionAction] {
            switch self {
            case .invite(var t):
                let out = t.handle(event)
                self = .invite(t)
                return out
            case .nonInvite(var t):
                let out = t.handle(event)
                self = .nonInvite(t)
                return out
            }
        }

        var state: TransactionState {
            switch self {
            case .invite(let t): t.state
            case .nonInvite(let t): t.state
            }
        }

        var request: SIPRequest {
            switch self {
            case .invite(let t): t.request
            case .nonInvite(let t): t.request
            }
        }

        var isInvite: Bool { if case .invite = self { true } else { false } }
    }

    private struct ServerEntry {
        var machine: ServerMachine
        let peer: Peer
        let reliable: Bool
        let key: ServerTransactionKey
        /// RFC 2543 INVITE transactions: keys under which ACKs (carrying the To tag of a sent response) match.
        var ackKeys: [ServerTransactionKey] = []
        /// Sequence number of each armed timer's queue entry.
        var armed = ArmedTimers()
    }

    private struct ClientEntry {
        var machine: ClientMachine
        let peer: Peer
        let reliable: Bool
        let key: ClientTransactionKey
        var armed = ArmedTimers()
    }

    /// A non-INVITE server transaction over an unreliable transport in Completed (RFC 3261 §17.2.2): all
    /// it still does is answer retransmissions with its final response until Timer J (64*T1) ends it.
    /// Under load there are 32 s worth of them, so each keeps only what that takes: its key, where it
    /// answers, the response as bytes and its Timer J.
    private struct CompletedEntry {
        let key: ServerTransactionKey
        let peer: Peer
        let wire: [UInt8]
        let timerJ: UInt64
    }

    private var servers: [ServerTransactionID: ServerEntry] = [:]
    private var completed: [ServerTransactionID: CompletedEntry] = [:]
    private var clients: [ClientTransactionID: ClientEntry] = [:]
    private var serverIndex: [ServerTransactionKey: ServerTransactionID] = [:]
    private var ackIndex: [ServerTransactionKey: ServerTransactionID] = [:]
    private var clientIndex: [ClientTransactionKey: ClientTransactionID] = [:]
    private var timers = TimerQueue<TransactionID>()
    private var lastID: UInt64 = 0
    private var timerSequence: UInt64 = 0
    private let makeBranch: () -> String

    /// - Parameter branchGenerator: makes the branch added to requests whose top Via has none
    ///   (must start with `z9hG4bK` and be unique); tests inject a deterministic one.
    public init(config: SIPTimerConfig = .rfc3261, branchGenerator: @escaping () -> String = SIPBranch.random) {
        self.config = config
        self.makeBranch = branchGenerator
    }

    // MARK: - Inspection

    /// Live transactions (must return to 0 once everything settled and all timers fired).
    public var count: Int { servers.count + completed.count + clients.count }
    public var serverCount: Int { servers.count + completed.count }

    /// Whether a server transaction with this key exists (retransmission check before a full parse).
    public func hasServerTransaction(_ key: ServerTransactionKey) -> Bool { serverIndex[key] != nil }

    /// For a retransmission of the request of a Completed non-INVITE transaction kept as bytes: its final
    /// response and where to send it, which is all the transaction would do with it (RFC 3261 §17.2.2),
    /// so the request need not even be parsed.
    public func storedResponse(for key: ServerTransactionKey) -> (wire: [UInt8], peer: Peer)? {
        guard let id = serverIndex[key], let done = completed[id] else { return nil }
        return (done.wire, done.peer)
    }
    public var clientCount: Int { clients.count }
    /// Entries in the timer queue, including cancelled ones not yet skipped (0 when idle).
    public var scheduledTimerCount: Int { timers.count }
    /// When `advance(to:)` should be called next; nil when no timer is armed.
    public var nextDeadline: SIPTime? { timers.first?.deadline }

    public func state(of id: TransactionID) -> TransactionState? {
        switch id {
        case .client(let c): clients[c]?.machine.state
        case .server(let s): servers[s]?.machine.state ?? (completed[s] != nil ? .completed : nil)
        }
    }

    /// The request that created the transaction (for client transactions: as sent, with its branch). Nil
    /// for a non-INVITE server transaction over UDP once Completed (it keeps its response only); for an
    /// INVITE transaction with a final response, only its request line, Via, From, To, Call-ID, CSeq,
    /// Route and Max-Forwards (``TxnMessages/finalRecord(of:)``).
    public func request(of id: TransactionID) -> SIPRequest? {
        switch id {
        case .client(let c): clients[c]?.machine.request
        case .server(let s): servers[s]?.machine.request
        }
    }

    /// Where the transaction sends (client: the next hop; server: the source of the request).
    public func peer(of id: TransactionID) -> Peer? {
        switch id {
        case .client(let c): clients[c]?.peer
        case .server(let s): servers[s]?.peer ?? completed[s]?.peer
        }
    }

    public var serverTransactionIDs: [ServerTransactionID] { (Array(servers.keys) + Array(completed.keys)).sorted() }
    public var clientTransactionIDs: [ClientTransactionID] { clients.keys.sorted() }

    // MARK: - Matching helpers

    /// The server transaction a request (or ACK) belongs to, per RFC 3261 §17.2.3 with the RFC 2543 fallback.
    public func serverTransaction(matching request: SIPRequest) -> ServerTransactionID? {
        if request.method == .ack { return inviteTransaction(forAck: request) }
        guard let key = ServerTransactionKey(request: request, method: request.method) else { return nil }
        return serverIndex[key]
    }

    /// The INVITE server transaction a CANCEL refers to (RFC 3261 §9.2: matched like the CANCEL's own
    /// transaction, but with method INVITE). Nil: the TU answers the CANCEL with 481.
    public func matchingInvite(forCancel cancel: SIPRequest) -> ServerTransactionID? {
        guard let key = ServerTransactionKey(inviteCancelledBy: cancel), let id = serverIndex[key],
              servers[id]?.machine.isInvite == true else { return nil }
        return id
    }

    /// The client transaction a response belongs to (RFC 3261 §17.1.3: top Via branch and CSeq method).
    public func clientTransaction(matching response: SIPResponse) -> ClientTransactionID? {
        ClientTransactionKey(response: response).flatMap { clientIndex[$0] }
    }

    /// A CANCEL for a pending client INVITE transaction (RFC 3261 §9.1). Send it with `send(_:to:reliable:now:)`
    /// to `peer(of:)` once a provisional response has arrived.
    public func makeCancel(for id: ClientTransactionID) -> SIPRequest? {
        guard let entry = clients[id], entry.machine.isInvite else { return nil }
        return TxnMessages.cancel(for: entry.machine.request)
    }

    // MARK: - Inputs

    /// A message from the transport.
    public func receive(_ message: SIPMessage, from peer: Peer, reliable: Bool, now: SIPTime) -> [LayerAction<Peer>] {
        var out: [LayerAction<Peer>] = []
        switch message {
        case .request(let r): receiveRequest(r, from: peer, reliable: reliable, now: now, into: &out)
        case .response(let r): receiveResponse(r, from: peer, now: now, into: &out)
        }
        purgeCancelledTimers()
        return out
    }

    /// The TU answers the request of a server transaction. Unknown (terminated) transactions ignore it.
    public func respond(_ id: ServerTransactionID, _ response: SIPResponse, now: SIPTime) -> [LayerAction<Peer>] {
        var out: [LayerAction<Peer>] = []
        runServer(id, .tuResponse(response), source: nil, now: now, into: &out)
        purgeCancelledTimers()
        return out
    }

    /// The TU sends a request (not ACK) through a new client transaction. A top Via without a branch gets one.
    public func send(
        _ request: SIPRequest, to peer: Peer, reliable: Bool, now: SIPTime
    ) throws(TransactionError) -> (ClientTransactionID, [LayerAction<Peer>]) {
        guard request.method != .ack else { throw .ackIsNotATransaction }
        var request = request
        guard let via = request.topVia, let viaText = request.headers.firstValue("Via") else { throw .missingVia }
        guard let cseq = request.cseq else { throw .missingCSeq }
        guard cseq.method == request.method else { throw .cseqMethodMismatch }
        if via.branch == nil {
            let top = TxnText.trimmed(viaText) + ";branch=" + makeBranch()
            request.headers = TxnMessages.replacingTopVia(in: request.headers, with: top)
        }
        guard let branch = request.topVia?.branch, !branch.isEmpty else { throw .emptyBranch }
        let key = ClientTransactionKey(branch: branch, method: request.method)
        guard clientIndex[key] == nil else { throw .duplicateTransaction(key) }

        lastID += 1
        let id = ClientTransactionID(rawValue: lastID)
        let machine: ClientMachine = request.method == .invite
            ? .invite(ClientInviteTransaction(request: request, reliable: reliable, config: config))
            : .nonInvite(ClientNonInviteTransaction(request: request, reliable: reliable, config: config))
        clients[id] = ClientEntry(machine: machine, peer: peer, reliable: reliable, key: key)
        clientIndex[key] = id
        var out: [LayerAction<Peer>] = []
        runClient(id, .start, now: now, into: &out)
        purgeCancelledTimers()
        return (id, out)
    }

    /// Fires every timer due at `now`. Timers started meanwhile count from `now`.
    public func advance(to now: SIPTime) -> [LayerAction<Peer>] {
        var out: [LayerAction<Peer>] = []
        while let top = timers.first, top.deadline <= now {
            timers.popFirst()
            guard isArmed(top) else { continue }
            switch top.owner {
            case .client(let id):
                clients[id]?.armed[top.timer] = nil
                runClient(id, .timerFired(top.timer), now: now, into: &out)
            case .server(let id):
                servers[id]?.armed[top.timer] = nil
                runServer(id, .timerFired(top.timer), source: nil, now: now, into: &out)
            }
        }
        purgeCancelledTimers()
        return out
    }

    /// The transport could not send a message of this transaction (RFC 3261 §17.1.4, §17.2.4).
    public func transportError(_ id: TransactionID, now: SIPTime) -> [LayerAction<Peer>] {
        var out: [LayerAction<Peer>] = []
        switch id {
        case .client(let c): runClient(c, .transportError, now: now, into: &out)
        case .server(let s): runServer(s, .transportError, source: nil, now: now, into: &out)
        }
        purgeCancelledTimers()
        return out
    }

    /// The transport lost a peer (failed connection, ICMP unreachable): every transaction sending to it gets
    /// a transport error (the state machines decide whether that ends them).
    public func transportError(peer: Peer, now: SIPTime) -> [LayerAction<Peer>] {
        var out: [LayerAction<Peer>] = []
        for id in clients.keys.sorted() where clients[id]?.peer == peer {
            runClient(id, .transportError, now: now, into: &out)
        }
        for id in serverTransactionIDs where servers[id]?.peer == peer || completed[id]?.peer == peer {
            runServer(id, .transportError, source: nil, now: now, into: &out)
        }
        purgeCancelledTimers()
        return out
    }

    /// Destroys a transaction at once, whatever its state (e.g. a client INVITE still in Proceeding 64*T1
    /// after its CANCEL, RFC 3261 §9.1, or a proxy's Timer C). Returns `.terminated` when it existed.
    public func abandon(_ id: TransactionID) -> [LayerAction<Peer>] {
        switch id {
        case .client(let c):
            guard let entry = clients.removeValue(forKey: c) else { return [] }
            if clientIndex[entry.key] == c { clientIndex[entry.key] = nil }
        case .server(let s):
            if removeCompleted(s) == nil {
                guard let entry = servers.removeValue(forKey: s) else { return [] }
                removeIndexes(of: s, entry)
            }
        }
        purgeCancelledTimers()
        return [.terminated(id)]
    }

    // MARK: - Internals

    private func receiveRequest(_ r: SIPRequest, from peer: Peer, reliable: Bool, now: SIPTime, into out: inout [LayerAction<Peer>]) {
        if r.method == .ack {
            if let id = inviteTransaction(forAck: r) {
                runServer(id, .ack(r), source: peer, now: now, into: &out)
            } else {
                out.append(.ack(r, from: peer, transaction: nil))
            }
            return
        }
        guard let key = ServerTransactionKey(request: r, method: r.method) else {
            let reason = r.topVia == nil ? "no usable Via" : "RFC 2543 request without Call-ID or CSeq"
            out.append(.discarded(.request(r), from: peer, reason: reason))
            return
        }
        if let id = serverIndex[key] {
            runServer(id, .request(r), source: peer, now: now, into: &out)
            return
        }
        lastID += 1
        let id = ServerTransactionID(rawValue: lastID)
        let machine: ServerMachine = r.method == .invite
            ? .invite(ServerInviteTransaction(request: r, reliable: reliable, config: config))
            : .nonInvite(ServerNonInviteTransaction(request: r, reliable: reliable, config: config))
        servers[id] = ServerEntry(machine: machine, peer: peer, reliable: reliable, key: key)
        serverIndex[key] = id
        runServer(id, .start, source: peer, now: now, into: &out)
    }

    private func receiveResponse(_ r: SIPResponse, from peer: Peer, now: SIPTime, into out: inout [LayerAction<Peer>]) {
        if let key = ClientTransactionKey(response: r), let id = clientIndex[key] {
            runClient(id, .response(r), now: now, into: &out)
        } else {
            out.append(.strayResponse(r, from: peer))
        }
    }

    private func inviteTransaction(forAck ack: SIPRequest) -> ServerTransactionID? {
        guard let key = ServerTransactionKey(request: ack, method: .invite) else { return nil }
        if let id = serverIndex[key], servers[id]?.machine.isInvite == true { return id }
        // RFC 2543: the ACK's To tag is the one of the response the transaction sent.
        if key.isRFC2543, let id = ackIndex[key] { return id }
        return nil
    }

    private func schedule(_ owner: TransactionID, _ timer: SIPTimer, at deadline: SIPTime) -> UInt64 {
        timerSequence += 1
        timers.push(.init(deadline: deadline, sequence: timerSequence, owner: owner, timer: timer))
        return timerSequence
    }

    private func isArmed(_ entry: TimerQueue<TransactionID>.Entry) -> Bool {
        switch entry.owner {
        case .client(let id): clients[id]?.armed[entry.timer] == entry.sequence
        case .server(let id):
            servers[id]?.armed[entry.timer] == entry.sequence
                || (entry.timer == .j && completed[id]?.timerJ == entry.sequence)
        }
    }

    private func purgeCancelledTimers() {
        while let top = timers.first, !isArmed(top) { timers.popFirst() }
    }

    /// Drops a transaction kept as bytes and its index entry.
    @discardableResult
    private func removeCompleted(_ id: ServerTransactionID) -> CompletedEntry? {
        guard let done = completed.removeValue(forKey: id) else { return nil }
        if serverIndex[done.key] == id { serverIndex[done.key] = nil }
        return done
    }

    private func removeIndexes(of id: ServerTransactionID, _ entry: ServerEntry) {
        if serverIndex[entry.key] == id { serverIndex[entry.key] = nil }
        for k in entry.ackKeys where ackIndex[k] == id { ackIndex[k] = nil }
    }

    private func runServer(
        _ id: ServerTransactionID, _ event: ServerTransactionEvent, source: Peer?, now: SIPTime,
        into out: inout [LayerAction<Peer>]
    ) {
        if let done = completed[id] {
            runCompleted(id, done, event, into: &out)
            return
        }
        guard var entry = servers[id] else { return }
        let actions = entry.machine.handle(event)
        // A non-INVITE transaction over UDP that has just completed is kept as its final response's
        // bytes (``CompletedEntry``): serialized once here, and this batch's only send is that final.
        var finalWire: [UInt8]?
        if !entry.reliable, case .nonInvite(let t) = entry.machine, t.state == .completed, let final = t.lastFinal {
            finalWire = SIPMessage.response(final).serialized()
        }
        var terminated = false
        for action in actions {
            switch action {
            case .send(let response):
                if entry.key.isRFC2543, entry.machine.isInvite,
                   let tag = response.toTag {
                    let k = entry.key.withToTag(tag)
                    if k != entry.key, ackIndex[k] == nil {
                        ackIndex[k] = id
                        entry.ackKeys.append(k)
                    }
                }
                if let finalWire {
                    out.append(.sendWire(finalWire, to: entry.peer, reliable: false))
                } else {
                    out.append(.send(.response(response), to: entry.peer, reliable: entry.reliable))
                }
            case .deliverRequest(let r):
                if r.method == .cancel {
                    out.append(.cancel(r, matchingInvite: matchingInvite(forCancel: r), own: id, from: source ?? entry.peer))
                } else {
                    out.append(.request(r, id, from: source ?? entry.peer))
                }
            case .deliverAck(let ack):
                out.append(.ack(ack, from: source ?? entry.peer, transaction: id))
            case .startTimer(let timer, let duration):
                entry.armed[timer] = schedule(.server(id), timer, at: now + duration)
            case .cancelTimer(let timer):
                entry.armed[timer] = nil
            case .timeout:
                out.append(.ackTimeout(id))
            case .transportError:
                out.append(.transportError(.server(id), response: nil))
            case .terminated:
                terminated = true
            }
        }
        if terminated {
            servers[id] = nil
            removeIndexes(of: id, entry)
            out.append(.terminated(.server(id)))
        } else if let finalWire, let timerJ = entry.armed[.j] {
            servers[id] = nil
            completed[id] = CompletedEntry(key: entry.key, peer: entry.peer, wire: finalWire, timerJ: timerJ)
        } else {
            servers[id] = entry
        }
    }

    /// The Completed non-INVITE server transaction kept as bytes: Figure 8 of RFC 3261 from there on.
    private func runCompleted(_ id: ServerTransactionID, _ done: CompletedEntry, _ event: ServerTransactionEvent,
                              into out: inout [LayerAction<Peer>]) {
        switch event {
        case .request:
            out.append(.sendWire(done.wire, to: done.peer, reliable: false))
        case .timerFired(.j):
            removeCompleted(id)
            out.append(.terminated(.server(id)))
        case .transportError:
            removeCompleted(id)
            out.append(.transportError(.server(id), response: nil))
            out.append(.terminated(.server(id)))
        default:
            // Further responses from the TU are discarded; ACKs do not match non-INVITE transactions.
            break
        }
    }

    private func runClient(_ id: ClientTransactionID, _ event: ClientTransactionEvent, now: SIPTime, into out: inout [LayerAction<Peer>]) {
        guard var entry = clients[id] else { return }
        let actions = entry.machine.handle(event)
        var terminated = false
        for action in actions {
            switch action {
            case .send(let message):
                out.append(.send(message, to: entry.peer, reliable: entry.reliable))
            case .deliver(let response):
                out.append(.response(response, id))
            case .startTimer(let timer, let duration):
                entry.armed[timer] = schedule(.client(id), timer, at: now + duration)
            case .cancelTimer(let timer):
                entry.armed[timer] = nil
            case .timeout:
                out.append(.timeout(id, response: entry.machine.request.makeResponse(statusCode: 408)))
            case .transportError:
                out.append(.transportError(.client(id), response: entry.machine.request.makeResponse(statusCode: 503)))
            case .terminated:
                terminated = true
            }
        }
        if terminated {
            clients[id] = nil
            if clientIndex[entry.key] == id { clientIndex[entry.key] = nil }
            out.append(.terminated(.client(id)))
        } else {
            clients[id] = entry
        }
    }
}
