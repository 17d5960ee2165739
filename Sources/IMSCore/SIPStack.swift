import AutoConfig
import Logging
import NIOCore
import BGCF
import LoadControl
import SIPCore
import SIPTransaction
import SIPTransport

/// Wires the transports to the transaction layer and the transaction layer to the element (the TU).
/// Everything here runs on one event loop: plain method calls, no locks, no hops.
final class SIPStack: SIPTransportDelegate, @unchecked Sendable {
    let eventLoop: EventLoop
    let transport: SIPTransportLayer
    var transactions: TransactionLayer<SIPEndpoint>
    let logger: Logger
    private(set) var element: SIPElement!
    /// REGISTER, reg-event and bindings; set once by the server before the listeners start.
    var registrations: RegistrationService?
    /// Calls and standalone requests through the CSCFs.
    var router: SessionRouter?
    /// ENUM / BGCF tables in force; replaced whole on SIGHUP.
    var routingTables = RoutingTables.empty
    private var timer: Scheduled<Void>?
    /// Admission control for initial requests (issue 5): excess gets a stateless 503.
    var load: LoadMonitor
    private var lagProbe: RepeatedTask?
    private var lagExpected = NIODeadline.now()
    private var cpuSample: (wall: NIODeadline, cpu: UInt64?, refusing: UInt64) = (NIODeadline.now(), nil, 0)
    private var udpDrops: UInt32?
    /// How long datagrams waited in the UDP socket over the last 20 ms sample (seconds, ``QueueProbe``).
    private var udpQueueDelay = 0.0
    /// Admission control's 503, for the Retry-After it was built with.
    private var overloadAnswer: (retryAfter: Int, answer: StatelessAnswer)?
    private var timerDeadline: SIPTime?
    private var loggedWindows = 0
    /// Refuse initial requests beyond what the load monitor admits (config `overload_control`).
    private var admissionControl = true

    init(eventLoop: EventLoop, settings: SIPTransportLayer.Settings, config: CWConfig, logger: Logger, metrics: SIPMetrics) {
        self.eventLoop = eventLoop
        self.metrics = metrics
        self.logger = logger
        self.transport = SIPTransportLayer(eventLoop: eventLoop, settings: settings, logger: logger)
        let timers = SIPTimerConfig(t1: .milliseconds(config.sipT1Ms), t2: .milliseconds(config.sipT2Ms), t4: .milliseconds(config.sipT4Ms))
        self.transactions = TransactionLayer(config: timers)
        self.load = LoadMonitor(settings: .init(targetLatency: Double(config.overloadTargetLatencyMs) / 1000,
                                                targetUtilisation: Double(config.overloadTargetCPUPercent) / 100))
        self.element = SIPElement(stack: self, config: config, logger: logger)
        transport.delegate = self
    }

    func start() -> EventLoopFuture<Void> {
        // Overload signals, sampled every 20 ms on the loop itself: how late the tick runs (messages
        // waiting behind others), how much of the interval the loop thread spent on the CPU and how
        // much of that refusing, and the UDP socket (how long datagrams wait in the kernel, where lag
        // alone never sees them; kernel drops).
        lagExpected = NIODeadline.now() + .milliseconds(20)
        cpuSample = (NIODeadline.now(), ThreadCPUClock.now(), 0)
        lagProbe = eventLoop.scheduleRepeatedTask(initialDelay: .milliseconds(20), delay: .milliseconds(20)) { [self] _ in
            let now = NIODeadline.now()
            let rateBefore = load.rate
            let lag = now > lagExpected ? Double((now - lagExpected).nanoseconds) / 1e9 : 0
            load.record(latency: lag, now: SIPTransportLayer.seconds(now))
            let cpu = ThreadCPUClock.now()
            let refusing = transport.preParseNanoseconds
            let wall = Double((now - cpuSample.wall).nanoseconds)
            if wall > 0, let cpu, let before = cpuSample.cpu {
                load.record(utilisation: Double(cpu - before) / wall, refusing: Double(refusing &- cpuSample.refusing) / wall,
                            now: SIPTransportLayer.seconds(now))
            }
            cpuSample = (now, cpu, refusing)
            lagExpected = now + .milliseconds(20)
            udpQueueDelay = transport.takeQueueDelay()
            transport.sendQueueProbe()
            transport.udpReceiveDrops { [self] drops in
                let newDrops = udpDrops.map { Int(drops &- $0) } ?? 0
                udpDrops = drops
                load.record(queueDelay: udpQueueDelay, drops: newDrops, now: SIPTransportLayer.seconds(now))
            }
            if load.windows != loggedWindows, let window = load.lastWindow, window.rateAfter != window.rateBefore {
                logger.debug("overload control: \(window)")
            }
            loggedWindows = load.windows
            if load.rate < rateBefore * 0.8 || (load.rate > rateBefore * 1.5 && load.rate > 1000) {
                logger.notice("overload control: admitting \(Int(load.rate)) initial requests/s (was \(Int(rateBefore)))",
                              metadata: ["sip_loop_cpu_percent": "\(Int(load.smoothedUtilisation * 100))",
                                         "sip_loop_lag_ms": "\(Int(load.smoothedLatency * 1000))",
                                         "udp_queue_ms": "\(Int(load.smoothedQueueDelay * 1000))",
                                         "rejected_total": "\(load.rejected)"])
            }
        }
        admissionControl = element.config.overloadControl
        return transport.start()
    }

    /// Initial requests are what admission control may refuse; in-dialog requests, ACK, CANCEL and
    /// REGISTERs carrying credentials (refreshes, second legs of a challenge) are never starved.
    static func isAdmissionControlled(_ glance: RequestGlance) -> Bool {
        switch glance.method {
        case .ack, .cancel, .bye, .prack, .update, .info, .notify: return false
        case .register: return !glance.hasCredentials
        default: return !glance.hasToTag
        }
    }

    func stop() -> EventLoopFuture<Void> {
        timer?.cancel()
        timer = nil
        lagProbe?.cancel()
        lagProbe = nil
        return transport.close()
    }

    static func now() -> SIPTime { SIPTime(nanoseconds: NIODeadline.now().uptimeNanoseconds) }

    // MARK: transport delegate

    func transport(_ transport: SIPTransportLayer, received message: SIPMessage, from source: SIPEndpoint) {
        if case .request(let request) = message, request.method == .register, !request.headers.contains("Authorization") {
            answerStatelessly(request, from: source)
            return
        }
        perform(transactions.receive(message, from: source, reliable: source.transport.isReliable, now: Self.now()))
    }

    // MARK: stateless answers (RFC 3261 §8.2.7)

    /// A REGISTER without credentials always gets a final response at once (a challenge, or 400/403/
    /// 503): it is answered without a server transaction, as §8.2.7 intends for challenges. A flood of
    /// unauthenticated REGISTERs then leaves no transaction state behind (§26.1.5), and half of every
    /// registration's transactions (and their 32 s of Timer J) are gone. A retransmission is simply
    /// answered again, with the same To tag (§8.2.7: tags generated statelessly) and a fresh nonce.
    private struct StatelessRequest {
        var source: SIPEndpoint
        /// The request's To, to put the stateless tag on.
        var to: String?
        var tag: String
    }
    private var statelessRequests: [ServerTransactionID: StatelessRequest] = [:]
    /// Stateless "transaction" IDs live in the top half of the ID space (the layer counts up from 1).
    static let statelessIDBase: UInt64 = 1 << 63
    private var lastStatelessID = SIPStack.statelessIDBase

    private func answerStatelessly(_ request: SIPRequest, from source: SIPEndpoint) {
        metrics.received(.register)
        lastStatelessID &+= 1
        let id = ServerTransactionID(rawValue: lastStatelessID)
        statelessRequests[id] = StatelessRequest(source: source, to: request.headers.first("To"), tag: Self.statelessTag(for: request))
        element.handle(request: request, transaction: id, from: source)
        // Every path for a REGISTER without credentials answers at once; should one ever not, the
        // client retransmits and is answered then.
        if statelessRequests.removeValue(forKey: id) != nil {
            logger.warning("REGISTER without credentials left unanswered", metadata: ["from": "\(source)"])
        }
    }

    /// The same tag for the same request (Call-ID, CSeq, From, top Via), unpredictable across processes
    /// (`Hasher` is seeded per process). 48 bits in base 36, like every other tag of this element.
    static func statelessTag(for request: SIPRequest) -> String {
        var hasher = Hasher()
        hasher.combine(request.headers.first("Call-ID"))
        hasher.combine(request.headers.first("CSeq"))
        hasher.combine(request.headers.first("From"))
        hasher.combine(request.headers.firstValue("Via"))
        return String(UInt64(UInt(bitPattern: hasher.finalize())) & 0xffff_ffff_ffff, radix: 36)
    }

    /// Sends a final response to a request answered statelessly; provisional ones are not sent (§8.2.7).
    private func respondStatelessly(_ pending: StatelessRequest, _ response: SIPResponse) {
        guard response.statusCode >= 200 else { return }
        var response = response
        if let to = pending.to, let sent = response.headers.first("To"), sent != to {
            // The element tagged the To with a random tag: the stateless one replaces it.
            response.headers.set("To", ByteSplitter.trimmingWSP(Substring(to)) + ";tag=" + pending.tag)
        }
        transport.send(response, requestSource: pending.source)
    }

    func transport(_ transport: SIPTransportLayer, answerBeforeParsing glance: RequestGlance, from source: SIPEndpoint) -> [UInt8]? {
        // A REGISTER without credentials never has a transaction (it is answered statelessly, see
        // `answerStatelessly`): nothing to look up, and the refusal of a registration storm stays cheap.
        let stateless = glance.method == .register && !glance.hasCredentials
        let key = stateless ? nil : ServerTransactionKey(glance: glance)
        // A retransmission for a finished non-INVITE transaction: its stored final response, unparsed.
        if let key, let (wire, peer) = transactions.storedResponse(for: key) {
            transport.send(wire, to: peer)
            return []
        }
        guard admissionControl, Self.isAdmissionControlled(glance) else { return nil }
        // Retransmissions of requests already admitted belong to their transaction.
        if let key, transactions.hasServerTransaction(key) { return nil }
        let now = NIODeadline.now()
        let waited = source.transport == .udp ? udpQueueDelay : 0
        if load.admit(now: SIPTransportLayer.seconds(now), queueDelay: waited) { return nil }
        // Overload (RFC 3261 §21.5.4, TS 24.229 §5.4.3, RFC 6357): refuse statelessly, no state kept.
        metrics.overloadRejections.increment()
        metrics.sent(503)
        // The To tag is derived from the request (the same for its retransmissions, §8.2.7), and the
        // rest of the 503 is built once per Retry-After value: refusing must cost far less than serving.
        let retryAfter = load.retryAfter
        if overloadAnswer?.retryAfter != retryAfter {
            overloadAnswer = (retryAfter, StatelessAnswer(status: 503, reason: "Service Unavailable",
                                                          extraHeaders: [("Retry-After", String(retryAfter)),
                                                                         ("Server", SIPElement.serverName)]))
        }
        return glance.response(overloadAnswer!.answer)
    }

    func transport(_ transport: SIPTransportLayer, rejected error: SIPParseError, from source: SIPEndpoint) {
        // RFC 3261 §16.3 / §8.2: answer a malformed request statelessly when it can be routed back;
        // never answer an ACK or a response.
        guard let request = error.request, request.method != .ack else { return }
        var response = request.makeResponse(statusCode: error.statusCode, reasonPhrase: error.reason)
        response.headers.add("Server", SIPElement.serverName)
        if error.statusCode == 505 || error.statusCode == 416 || error.statusCode == 400 {
            response.headers.add("Warning", "399 \(element.config.homeDomain) \"\(error.reason.replacingQuotes())\"")
        }
        if request.topVia != nil {
            transport.send(response, requestSource: source)
        } else {
            // The Via itself is unusable (RFC 4475 §3.1.2.1): answer the packet's source, the only
            // address known to reach the sender.
            transport.send(.response(response), to: source)
        }
    }

    // MARK: TU side

    func respond(_ id: ServerTransactionID, _ response: SIPResponse) {
        metrics.sent(response.statusCode)
        if id.rawValue > Self.statelessIDBase {
            if let pending = statelessRequests.removeValue(forKey: id) { respondStatelessly(pending, response) }
            return
        }
        perform(transactions.respond(id, response, now: Self.now()))
    }

    /// What is in flight or stored, for /health and leak checks.
    func stateCounts() -> [(String, Int)] {
        [("server_transactions", transactions.serverCount), ("client_transactions", transactions.clientCount),
         ("proxy_contexts", router?.activeContexts ?? 0),
         ("bindings", registrations?.scscf.registrar.bindingCount ?? 0),
         ("reg_event_subscriptions", registrations?.regEvents.count ?? 0),
         ("open_connections", transport.openConnectionCount),
         // Overload controller: admitted initial requests/s, refusals, and its signals.
         ("overload_admit_rate", Int(load.rate)), ("overload_rejected", load.rejected),
         ("sip_loop_cpu_percent", Int((load.smoothedUtilisation * 100).rounded())),
         ("sip_loop_lag_ms", Int((load.smoothedLatency * 1000).rounded())),
         ("udp_queue_ms", Int((load.smoothedQueueDelay * 1000).rounded())),
         ("udp_receive_drops", Int(udpDrops ?? 0)),
         // As the kernel reports it (twice what it granted); below twice sip_udp_receive_buffer_kb it was capped.
         ("udp_receive_buffer_kb", (transport.receiveBuffer?.granted ?? 0) / 1024)]
    }

    /// Sends a request we originate (e.g. a NOTIFY) through a client transaction.
    func sendRequest(_ request: SIPRequest, to peer: SIPEndpoint) -> ClientTransactionID? {
        do {
            let (id, actions) = try transactions.send(request, to: peer, reliable: peer.transport.isReliable, now: Self.now())
            perform(actions)
            return id
        } catch {
            logger.error("cannot send \(request.method): \(error)")
            return nil
        }
    }

    let metrics: SIPMetrics

    func perform(_ actions: [LayerAction<SIPEndpoint>]) {
        for action in actions {
            switch action {
            case .send(let message, let peer, _):
                transport.send(message, to: peer)
            case .sendWire(let bytes, let peer, _):
                transport.send(bytes, to: peer)
            case .request(let request, let id, let peer):
                metrics.received(request.method)
                element.handle(request: request, transaction: id, from: peer)
            case .ack(let request, let peer, _):
                metrics.received(.ack)
                router?.handleAck(request, from: peer)
            case .cancel(let request, let invite, let own, let peer):
                metrics.received(.cancel)
                if let router, let invite, router.owns(invite) {
                    router.handleCancel(request, invite: invite, transaction: own)
                } else {
                    element.handle(cancel: request, invite: invite, transaction: own, from: peer)
                }
            case .discarded(_, let peer, let reason):
                logger.debug("discarded message", metadata: ["from": "\(peer)", "reason": "\(reason)"])
            case .response(let response, let id):
                if router?.handleBranchResponse(response, branch: id) == true { break }
                if response.statusCode >= 200 { registrations?.handleNotifyResult(id, status: response.statusCode) }
            case .timeout(let id, _):
                if router?.handleBranchFailure(id, timeout: true) == true { break }
                registrations?.handleNotifyResult(id, status: 408)
            case .transportError(.client(let id), _):
                if router?.handleBranchFailure(id, timeout: false) == true { break }
                registrations?.handleNotifyResult(id, status: 503)
            case .strayResponse, .ackTimeout, .transportError, .terminated:
                break
            }
        }
        scheduleTimer()
    }

    /// One scheduled task for the earliest transaction deadline, not one per timer.
    private func scheduleTimer() {
        guard let next = transactions.nextDeadline else {
            timer?.cancel(); timer = nil; timerDeadline = nil
            return
        }
        if let current = timerDeadline, current <= next, timer != nil { return }
        timer?.cancel()
        timerDeadline = next
        timer = eventLoop.scheduleTask(deadline: NIODeadline.uptimeNanoseconds(next.nanoseconds)) { [self] in
            timer = nil
            timerDeadline = nil
            perform(transactions.advance(to: Self.now()))
        }
    }
}

extension String {
    func replacingQuotes() -> String {
        String(unicodeScalars.map { $0 == "\"" ? "'" : Character($0) })
    }
}
