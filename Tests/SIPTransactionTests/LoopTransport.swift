import SIPCore
@testable import SIPTransaction

/// Connects a UAC-side and a UAS-side `TransactionLayer` through a simulated network on a virtual clock.
/// Deterministic for a given seed: drops, duplicates and delays (so reorders) messages, and plays both
/// TUs: the UAS answers per a plan, retransmits its 2xx until the ACK (RFC 3261 §13.3.1.4) and answers
/// CANCEL; the UAC ACKs every 2xx (§13.2.2.4), cancels when told and records everything.
final class LoopSimulation {
    struct Faults {
        var drop = 0.0
        var duplicate = 0.0
        var minDelay: Duration = .milliseconds(20)
        var maxDelay: Duration = .milliseconds(20)
        /// Reliable transport: nothing is dropped or duplicated and order is kept.
        var reliable = false
        /// Serialize and re-parse every message with SIPCore (bytes on the wire).
        var wire = false
    }

    /// What the UAS TU does with a request (keyed by Call-ID).
    struct Plan {
        var provisional: [Int] = []
        var final: Int = 200
        /// Time from the request reaching the UAS TU to the final response (provisionals evenly before).
        var delay: Duration = .milliseconds(50)
        /// The UAC cancels the INVITE this long after sending it, if no final arrived by then.
        var cancelAfter: Duration? = nil
    }

    struct Packet {
        var at: SIPTime
        var seq: Int
        var from: String
        var to: String
        var message: SIPMessage
    }

    struct Call {
        var callID: String
        var method: SIPMethod
        var start: SIPTime
        var plan: Plan
        var request: SIPRequest? = nil
        var clientID: ClientTransactionID? = nil
        var cancelID: ClientTransactionID? = nil
        // UAC side.
        var responses: [Int] = []
        var cancelResponses: [Int] = []
        var timedOut = false
        var stray: [Int] = []
        var acksSent = 0
        var abandoned = false
        // UAS side.
        var requestsSeen = 0
        var cancelsSeen = 0
        var serverID: ServerTransactionID? = nil
        var acked = false
        var acksSeen = 0
        var ackTimeout = false
        var finalSent: Int? = nil
    }

    let uac: TransactionLayer<String>
    let uas: TransactionLayer<String>
    var faults: Faults
    var rng: SeededRNG
    var now = SIPTime.zero
    var packets: [Packet] = []
    var tuWork: [(at: SIPTime, seq: Int, work: () -> Void)] = []
    var seq = 0
    /// Deterministic drop rule, checked before the random faults: return true to lose the message.
    var dropRule: ((SIPMessage, _ from: String, _ index: Int) -> Bool)?
    var calls: [String: Call] = [:]
    var order: [String] = []
    var log: [String] = []
    var unexpected: [String] = []
    var sentCount = 0, droppedCount = 0, duplicatedCount = 0
    /// Every message sent by the UAC / UAS, with the time.
    var wireLog: [(time: SIPTime, from: String, message: SIPMessage)] = []
    private var ackBranch = 0
    private var cancelBranch = 0

    init(seed: UInt64, faults: Faults = Faults(), config: SIPTimerConfig = .rfc3261) {
        self.faults = faults
        self.rng = SeededRNG(seed: seed)
        self.uac = TransactionLayer(config: config, branchGenerator: branchCounter("uac\(seed)"))
        self.uas = TransactionLayer(config: config, branchGenerator: branchCounter("uas\(seed)"))
    }

    // MARK: scenario

    func addCall(_ method: SIPMethod, callID: String, at start: SIPTime, plan: Plan = Plan()) {
        precondition(calls[callID] == nil)
        calls[callID] = Call(callID: callID, method: method, start: start, plan: plan)
        order.append(callID)
        schedule(at: start) { [unowned self] in self.startCall(callID) }
    }

    private func startCall(_ callID: String) {
        guard var call = calls[callID] else { return }
        let transport = faults.reliable ? "TCP" : "UDP"
        let request = makeRequest(call.method, callID: callID, cseq: 1, branch: nil, sentBy: "uac.example.com:5060", transport: transport, fromTag: "f-\(callID)")
        do {
            let (id, actions) = try uac.send(request, to: "uas", reliable: faults.reliable, now: now)
            call.clientID = id
            call.request = uac.request(of: .client(id))
            calls[callID] = call
            handleUAC(actions)
        } catch {
            unexpected.append("send failed: \(error)")
        }
        if call.method == .invite, let after = call.plan.cancelAfter {
            schedule(at: now + after) { [unowned self] in self.cancel(callID) }
        }
        // The UAC core gives up on an INVITE stuck in Proceeding (RFC 3261 §9.1 / Timer C-like guard).
        schedule(at: now + .seconds(180)) { [unowned self] in
            guard let id = self.calls[callID]?.clientID, self.uac.state(of: .client(id)) != nil else { return }
            self.calls[callID]?.abandoned = true
            self.handleUAC(self.uac.abandon(.client(id)))
        }
    }

    private func cancel(_ callID: String) {
        guard let id = calls[callID]?.clientID, uac.state(of: .client(id)) == .proceeding,
              let cancel = uac.makeCancel(for: id) else { return }
        do {
            let (cid, actions) = try uac.send(cancel, to: uac.peer(of: .client(id)) ?? "uas", reliable: faults.reliable, now: now)
            calls[callID]?.cancelID = cid
            handleUAC(actions)
        } catch {
            unexpected.append("CANCEL send failed: \(error)")
        }
    }

    // MARK: event loop

    func schedule(at time: SIPTime, _ work: @escaping () -> Void) {
        seq += 1
        tuWork.append((time, seq, work))
    }

    /// Runs until nothing is left to do (or `limit`).
    func run(until limit: SIPTime = SIPTime(.seconds(3600))) {
        while true {
            let nextPacket = packets.min { ($0.at, $0.seq) < ($1.at, $1.seq) }
            let nextWork = tuWork.min { ($0.at, $0.seq) < ($1.at, $1.seq) }
            let candidates = [nextPacket?.at, nextWork?.at, uac.nextDeadline, uas.nextDeadline].compactMap { $0 }
            guard let next = candidates.min(), next <= limit else { break }
            now = max(now, next)
            if let p = nextPacket, p.at == next {
                packets.removeAll { $0.seq == p.seq }
                deliver(p)
            } else if let w = nextWork, w.at == next {
                tuWork.removeAll { $0.seq == w.seq }
                w.work()
            } else if uac.nextDeadline == next {
                handleUAC(uac.advance(to: now))
            } else {
                handleUAS(uas.advance(to: now))
            }
        }
    }

    private func deliver(_ p: Packet) {
        var message = p.message
        if faults.wire {
            do {
                message = try SIPParser.parse(message.serialized())
            } catch {
                unexpected.append("wire round trip failed: \(error)")
                return
            }
        }
        if p.to == "uas" {
            handleUAS(uas.receive(message, from: p.from, reliable: faults.reliable, now: now))
        } else {
            handleUAC(uac.receive(message, from: p.from, reliable: faults.reliable, now: now))
        }
    }

    func transmit(_ message: SIPMessage, from: String, to: String) {
        sentCount += 1
        wireLog.append((now, from, message))
        if let rule = dropRule, rule(message, from, sentCount) {
            droppedCount += 1
            return
        }
        if faults.reliable {
            // In order, once.
            let last = packets.filter { $0.from == from }.map(\.at).max() ?? now
            seq += 1
            packets.append(Packet(at: max(now + faults.minDelay, last), seq: seq, from: from, to: to, message: message))
            return
        }
        if rng.chance(faults.drop) { droppedCount += 1; return }
        var copies = 1
        if rng.chance(faults.duplicate) { copies = 2; duplicatedCount += 1 }
        for _ in 0..<copies {
            seq += 1
            packets.append(Packet(at: now + randomDelay(), seq: seq, from: from, to: to, message: message))
        }
    }

    private func randomDelay() -> Duration {
        let lo = faults.minDelay.sipNanoseconds, hi = faults.maxDelay.sipNanoseconds
        guard hi > lo else { return faults.minDelay }
        return .nanoseconds(Int64(lo + rng.next() % (hi - lo + 1)))
    }

    private func callID(of headers: SIPHeaders) -> String { headers.first("Call-ID") ?? "?" }

    // MARK: UAC TU

    func handleUAC(_ actions: [Action]) {
        for action in actions {
            switch action {
            case .send(let m, let to, _):
                transmit(m, from: "uac", to: to)
            case .sendWire(let bytes, let to, _):
                if let m = try? SIPParser.parse(bytes) { transmit(m, from: "uac", to: to) }
            case .response(let r, let id):
                let cid = callID(of: r.headers)
                guard var call = calls[cid] else { unexpected.append("response for unknown call \(cid)"); continue }
                if id == call.cancelID {
                    call.cancelResponses.append(r.statusCode)
                } else if id == call.clientID {
                    call.responses.append(r.statusCode)
                    if call.method == .invite, (200...299).contains(r.statusCode), let invite = call.request {
                        call.acksSent += 1
                        sendAck(invite, r)
                    }
                } else {
                    unexpected.append("response for foreign transaction \(id)")
                }
                calls[cid] = call
            case .strayResponse(let r, _):
                let cid = callID(of: r.headers)
                calls[cid]?.stray.append(r.statusCode)
                // RFC 6026 §8.4 lets the UAC core ACK a 2xx that arrives after its transaction is gone.
                if (200...299).contains(r.statusCode), r.headers.first("CSeq")?.hasSuffix("INVITE") == true,
                   let invite = calls[cid]?.request {
                    calls[cid]?.acksSent += 1
                    sendAck(invite, r)
                }
            case .timeout(let id, let r):
                let cid = callID(of: r.headers)
                if calls[cid]?.clientID == id { calls[cid]?.timedOut = true }
                log.append("\(now) UAC timeout \(cid) \(id)")
            case .terminated:
                break
            default:
                unexpected.append("UAC got \(action)")
            }
        }
    }

    private func sendAck(_ invite: SIPRequest, _ response: SIPResponse) {
        ackBranch += 1
        let ack = makeAckFor2xx(invite, response, branch: "\(Via.magicCookie)-ack-\(ackBranch)")
        transmit(.request(ack), from: "uac", to: "uas")
    }

    // MARK: UAS TU

    func handleUAS(_ actions: [Action]) {
        for action in actions {
            switch action {
            case .send(let m, let to, _):
                transmit(m, from: "uas", to: to)
            case .sendWire(let bytes, let to, _):
                if let m = try? SIPParser.parse(bytes) { transmit(m, from: "uas", to: to) }
            case .request(let r, let id, _):
                let cid = callID(of: r.headers)
                guard var call = calls[cid] else { unexpected.append("request for unknown call \(cid)"); continue }
                call.requestsSeen += 1
                call.serverID = id
                calls[cid] = call
                answer(r, id, call.plan)
            case .cancel(let r, let matching, let own, _):
                let cid = callID(of: r.headers)
                calls[cid]?.cancelsSeen += 1
                handleUAS(uas.respond(own, makeResponse(to: r, matching == nil ? 481 : 200, toTag: "uas-\(cid)"), now: now))
                if let m = matching, uas.state(of: .server(m)) == .proceeding, let invite = uas.request(of: .server(m)) {
                    calls[cid]?.finalSent = 487
                    handleUAS(uas.respond(m, makeResponse(to: invite, 487, toTag: "uas-\(cid)"), now: now))
                }
            case .ack(let r, _, _):
                let cid = callID(of: r.headers)
                calls[cid]?.acked = true
                calls[cid]?.acksSeen += 1
            case .ackTimeout(let id):
                if let cid = calls.values.first(where: { $0.serverID == id })?.callID { calls[cid]?.ackTimeout = true }
                log.append("\(now) UAS ack timeout \(id)")
            case .terminated:
                break
            default:
                unexpected.append("UAS got \(action)")
            }
        }
    }

    private func answer(_ request: SIPRequest, _ id: ServerTransactionID, _ plan: Plan) {
        let cid = callID(of: request.headers)
        let steps = plan.provisional.count + 1
        for (i, code) in plan.provisional.enumerated() {
            schedule(at: now + plan.delay * (i + 1) / steps) { [unowned self] in
                self.handleUAS(self.uas.respond(id, makeResponse(to: request, code, toTag: "uas-\(cid)"), now: self.now))
            }
        }
        schedule(at: now + plan.delay) { [unowned self] in
            guard self.uas.state(of: .server(id)).map({ $0 == .trying || $0 == .proceeding }) == true else { return }
            let final = makeResponse(to: request, plan.final, toTag: "uas-\(cid)")
            self.calls[cid]?.finalSent = plan.final
            self.handleUAS(self.uas.respond(id, final, now: self.now))
            if request.method == .invite, (200...299).contains(plan.final) {
                self.retransmit2xx(final, id, cid, interval: self.uas.config.t1, until: self.now + self.uas.config.t1 * 64)
            }
        }
    }

    /// RFC 3261 §13.3.1.4: the UAS core retransmits its 2xx (T1 doubling to T2) until the ACK or 64*T1.
    private func retransmit2xx(_ ok: SIPResponse, _ id: ServerTransactionID, _ cid: String, interval: Duration, until end: SIPTime) {
        schedule(at: now + interval) { [unowned self] in
            guard self.calls[cid]?.acked == false, self.now < end else { return }
            self.handleUAS(self.uas.respond(id, ok, now: self.now))
            self.retransmit2xx(ok, id, cid, interval: self.uas.config.doubledCapped(interval), until: end)
        }
    }
}
