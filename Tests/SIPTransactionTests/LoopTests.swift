import SIPCore
import Testing
@testable import SIPTransaction

@Suite("UAC and UAS layers over a loop transport")
struct LoopTests {
    /// Checks that both layers are empty (no transaction or timer left).
    func expectSettled(_ sim: LoopSimulation, sourceLocation: SourceLocation = #_sourceLocation) {
        #expect(sim.uac.count == 0, "UAC leaked \(sim.uac.clientTransactionIDs) \(sim.uac.serverTransactionIDs)", sourceLocation: sourceLocation)
        #expect(sim.uas.count == 0, "UAS leaked \(sim.uas.clientTransactionIDs) \(sim.uas.serverTransactionIDs)", sourceLocation: sourceLocation)
        #expect(sim.uac.scheduledTimerCount == 0, sourceLocation: sourceLocation)
        #expect(sim.uas.scheduledTimerCount == 0, sourceLocation: sourceLocation)
        #expect(sim.uac.nextDeadline == nil && sim.uas.nextDeadline == nil, sourceLocation: sourceLocation)
        #expect(sim.unexpected.isEmpty, "\(sim.unexpected)", sourceLocation: sourceLocation)
    }

    func sends(_ sim: LoopSimulation, from: String, method: SIPMethod) -> [SIPTime] {
        sim.wireLog.filter { $0.from == from && $0.message.request?.method == method }.map(\.time)
    }

    @Test func inviteHappyPath() throws {
        let sim = LoopSimulation(seed: 1)
        sim.addCall(.invite, callID: "c1", at: .zero, plan: .init(provisional: [180], final: 200, delay: .seconds(2)))
        sim.run()
        let call = try #require(sim.calls["c1"])
        #expect(call.responses == [100, 180, 200]) // every 1xx goes to the TU (Figure 5)
        #expect(call.requestsSeen == 1)
        #expect(call.acked)
        #expect(call.acksSent == 1)
        #expect(!call.timedOut)
        // 100 Trying went out after 200 ms (TU silent until 1 s), then 180 and 200.
        let uasSent = sim.wireLog.filter { $0.from == "uas" }.compactMap { $0.message.response?.statusCode }
        #expect(uasSent == [100, 180, 200])
        // The 100 Trying stopped Timer A before its first retransmission.
        #expect(sends(sim, from: "uac", method: .invite) == [.zero])
        expectSettled(sim)
    }

    @Test func droppedFirstInviteIsRecoveredByTimerA() throws {
        let sim = LoopSimulation(seed: 2)
        sim.dropRule = { m, from, _ in from == "uac" && m.request?.method == .invite && true }
        var dropped = false
        sim.dropRule = { m, from, _ in
            guard !dropped, from == "uac", m.request?.method == .invite else { return false }
            dropped = true
            return true
        }
        sim.addCall(.invite, callID: "c1", at: .zero, plan: .init(final: 200, delay: .milliseconds(100)))
        sim.run()
        let call = try #require(sim.calls["c1"])
        #expect(sends(sim, from: "uac", method: .invite) == [.zero, ms(500)])
        #expect(call.requestsSeen == 1)
        #expect(call.responses == [200])
        #expect(call.acked)
        expectSettled(sim)
    }

    @Test func droppedFirstNonInviteIsRecoveredByTimerE() throws {
        let sim = LoopSimulation(seed: 3)
        var dropped = 0
        sim.dropRule = { m, from, _ in
            guard dropped < 2, from == "uac", m.request?.method == .options else { return false }
            dropped += 1
            return true
        }
        sim.addCall(.options, callID: "o1", at: .zero)
        sim.run()
        let call = try #require(sim.calls["o1"])
        #expect(sends(sim, from: "uac", method: .options) == [.zero, ms(500), ms(1500)])
        #expect(call.requestsSeen == 1)
        #expect(call.responses == [200])
        expectSettled(sim)
    }

    @Test func lostFinalIsRetransmittedByTimerGAndAcked() throws {
        let sim = LoopSimulation(seed: 4)
        var dropped = false
        sim.dropRule = { m, _, _ in
            guard !dropped, m.response?.statusCode == 486 else { return false }
            dropped = true
            return true
        }
        sim.addCall(.invite, callID: "c1", at: .zero, plan: .init(final: 486, delay: .milliseconds(400)))
        sim.run()
        let call = try #require(sim.calls["c1"])
        #expect(call.responses == [100, 486])
        #expect(call.requestsSeen == 1)
        // 100 Trying at 0.22 s stopped Timer A; the 486 left at 0.42 s (lost) and again with Timer G at 0.92 s,
        // and the client transaction ACKed the one that arrived.
        let finals = sim.wireLog.filter { $0.message.response?.statusCode == 486 }.map(\.time)
        #expect(finals == [ms(420), ms(920)])
        #expect(sends(sim, from: "uac", method: .invite) == [.zero])
        let acks = sim.wireLog.filter { $0.message.request?.method == .ack }
        #expect(acks.count == 1)
        #expect(acks.first?.message.request?.headers.first("CSeq") == "1 ACK")
        #expect(!call.ackTimeout)
        #expect(call.acksSeen == 0) // absorbed by the server transaction
        expectSettled(sim)
    }

    @Test func lostAckMakesTheServerRetransmitAndTheClientReAck() throws {
        let sim = LoopSimulation(seed: 5)
        var dropped = false
        sim.dropRule = { m, _, _ in
            guard !dropped, m.request?.method == .ack else { return false }
            dropped = true
            return true
        }
        sim.addCall(.invite, callID: "c1", at: .zero, plan: .init(final: 603, delay: .milliseconds(100)))
        sim.run()
        let call = try #require(sim.calls["c1"])
        #expect(call.responses == [603])
        #expect(sim.wireLog.filter { $0.message.request?.method == .ack }.count == 2)
        #expect(sim.wireLog.filter { $0.message.response?.statusCode == 603 }.count == 2)
        #expect(!call.ackTimeout)
        expectSettled(sim)
    }

    @Test func lost2xxIsRetransmittedByTheUASCore() throws {
        let sim = LoopSimulation(seed: 6)
        var dropped = 0
        sim.dropRule = { m, _, _ in
            guard dropped < 2, m.response?.statusCode == 200 else { return false }
            dropped += 1
            return true
        }
        sim.addCall(.invite, callID: "c1", at: .zero, plan: .init(final: 200, delay: .milliseconds(100)))
        sim.run()
        let call = try #require(sim.calls["c1"])
        #expect(call.responses == [200])
        #expect(call.acked)
        // 2xx at 0.12 s (lost), 0.62 s (lost), 1.62 s (arrives); the server transaction sent what the TU gave it.
        #expect(sim.wireLog.filter { $0.message.response?.statusCode == 200 }.map(\.time) == [ms(120), ms(620), ms(1620)])
        // The INVITE retransmissions (Calling: no response arrived) were absorbed by the server's Proceeding
        // and Accepted states: the TU saw one INVITE.
        #expect(call.requestsSeen == 1)
        expectSettled(sim)
    }

    @Test func duplicatedMessages() throws {
        let sim = LoopSimulation(seed: 7, faults: .init(duplicate: 1.0, minDelay: .milliseconds(10), maxDelay: .milliseconds(30)))
        sim.addCall(.invite, callID: "ok", at: .zero, plan: .init(provisional: [180], final: 200, delay: .seconds(1)))
        sim.addCall(.invite, callID: "busy", at: .zero, plan: .init(provisional: [180], final: 486, delay: .seconds(1)))
        sim.addCall(.options, callID: "opt", at: .zero)
        sim.addCall(.register, callID: "reg", at: .zero, plan: .init(provisional: [100], final: 200, delay: .seconds(1)))
        sim.run()
        let ok = try #require(sim.calls["ok"]), busy = try #require(sim.calls["busy"])
        let opt = try #require(sim.calls["opt"]), reg = try #require(sim.calls["reg"])
        for call in [ok, busy, opt, reg] { #expect(call.requestsSeen == 1, "\(call.callID)") }
        // Non-2xx finals reach the TU once; 2xx every time (RFC 6026); 1xx every time (Figure 5/6).
        #expect(busy.responses.filter { $0 >= 200 } == [486])
        #expect(opt.responses == [200])
        #expect(reg.responses.filter { $0 >= 200 } == [200])
        #expect(ok.responses.filter { $0 >= 200 }.count >= 2)
        #expect(ok.responses.allSatisfy { [100, 180, 200].contains($0) })
        #expect(ok.acked)
        #expect(busy.acksSeen == 0)
        expectSettled(sim)
    }

    @Test func cancelOfAPendingInvite() throws {
        let sim = LoopSimulation(seed: 8)
        sim.addCall(.invite, callID: "c1", at: .zero, plan: .init(provisional: [180], final: 200, delay: .seconds(60), cancelAfter: .seconds(2)))
        sim.run()
        let call = try #require(sim.calls["c1"])
        #expect(call.cancelsSeen == 1)
        #expect(call.cancelResponses == [200])
        #expect(call.responses.last == 487)
        #expect(call.responses.filter { $0 >= 200 } == [487])
        #expect(call.finalSent == 487)
        #expect(!call.abandoned)
        let cancel = try #require(sim.wireLog.first { $0.message.request?.method == .cancel }?.message.request)
        let invite = try #require(call.request)
        #expect(cancel.headers.first("Via") == invite.headers.first("Via"))
        expectSettled(sim)
    }

    @Test func reliableTransportSendsEverythingOnce() throws {
        let sim = LoopSimulation(seed: 9, faults: .init(minDelay: .milliseconds(5), maxDelay: .milliseconds(5), reliable: true))
        sim.addCall(.invite, callID: "ok", at: .zero, plan: .init(provisional: [180], final: 200, delay: .seconds(1)))
        sim.addCall(.invite, callID: "busy", at: ms(10), plan: .init(final: 486, delay: .seconds(1)))
        sim.addCall(.options, callID: "opt", at: ms(20))
        sim.run()
        #expect(sends(sim, from: "uac", method: .invite) == [.zero, ms(10)])
        #expect(sends(sim, from: "uac", method: .options) == [ms(20)])
        #expect(sim.calls["ok"]?.responses == [100, 180, 200])
        #expect(sim.calls["busy"]?.responses == [100, 486])
        #expect(sim.calls["opt"]?.responses == [200])
        // Over TCP the UAS core still retransmits 2xx until the ACK: here the ACK came first.
        #expect(sim.wireLog.filter { $0.message.response?.statusCode == 200 }.count == 2) // INVITE 200 + OPTIONS 200
        expectSettled(sim)
    }

    @Test func timeoutWhenTheUASNeverAnswers() throws {
        let sim = LoopSimulation(seed: 10)
        sim.dropRule = { _, from, _ in from == "uac" }
        sim.addCall(.invite, callID: "inv", at: .zero)
        sim.addCall(.message, callID: "msg", at: .zero)
        sim.run()
        #expect(sim.calls["inv"]?.timedOut == true)
        #expect(sim.calls["msg"]?.timedOut == true)
        #expect(sim.calls["inv"]?.requestsSeen == 0)
        #expect(sends(sim, from: "uac", method: .invite).count == 7)
        #expect(sends(sim, from: "uac", method: .message).count == 11)
        expectSettled(sim)
    }

    @Test func bytesOnTheWire() throws {
        let sim = LoopSimulation(seed: 11, faults: .init(drop: 0.2, duplicate: 0.2, minDelay: .milliseconds(5), maxDelay: .milliseconds(80), wire: true))
        sim.addCall(.invite, callID: "a", at: .zero, plan: .init(provisional: [180], final: 200, delay: .seconds(1)))
        sim.addCall(.invite, callID: "b", at: ms(5), plan: .init(provisional: [183], final: 480, delay: .milliseconds(700)))
        sim.addCall(.options, callID: "c", at: ms(7))
        sim.run()
        #expect(sim.calls.values.allSatisfy { $0.requestsSeen == 1 })
        expectSettled(sim)
    }

    // MARK: random faults

    struct Outcome {
        var calls = 0, timeouts = 0, ackTimeouts = 0
        var sent = 0, dropped = 0, duplicated = 0, cancelled = 0, strays = 0
    }

    static func randomScenario(seed: UInt64, reliable: Bool) -> LoopSimulation {
        var setup = SeededRNG(seed: seed &* 7919)
        let drops = [0.0, 0.1, 0.2, 0.3]
        let dups = [0.0, 0.1, 0.25]
        var faults = LoopSimulation.Faults()
        if reliable {
            faults.reliable = true
            faults.minDelay = .milliseconds(Int(5 + setup.next() % 50))
        } else {
            faults.drop = drops[Int(setup.next() % UInt64(drops.count))]
            faults.duplicate = dups[Int(setup.next() % UInt64(dups.count))]
            faults.minDelay = .milliseconds(Int(1 + setup.next() % 20))
            faults.maxDelay = faults.minDelay + .milliseconds(Int(setup.next() % 250))
        }
        let sim = LoopSimulation(seed: seed, faults: faults)
        for n in 0..<14 {
            let start = ms(Int(setup.next() % 5000))
            let delay = Duration.milliseconds(Int(setup.next() % 3000))
            let id = "s\(seed)-\(n)"
            switch setup.next() % 9 {
            case 0: sim.addCall(.invite, callID: id, at: start, plan: .init(provisional: [180], final: 200, delay: delay))
            case 1: sim.addCall(.invite, callID: id, at: start, plan: .init(final: 486, delay: delay / 4))
            case 2: sim.addCall(.invite, callID: id, at: start, plan: .init(final: 200, delay: .milliseconds(5)))
            case 3: sim.addCall(.invite, callID: id, at: start, plan: .init(provisional: [180, 183], final: 603, delay: delay * 2))
            case 4: sim.addCall(.invite, callID: id, at: start, plan: .init(provisional: [180], final: 200, delay: .seconds(50), cancelAfter: .seconds(3) + delay))
            case 5: sim.addCall(.options, callID: id, at: start, plan: .init(final: 200, delay: delay / 30))
            case 6: sim.addCall(.register, callID: id, at: start, plan: .init(provisional: [100], final: 200, delay: .seconds(2) + delay))
            case 7: sim.addCall(.message, callID: id, at: start, plan: .init(final: 404, delay: delay / 10))
            default: sim.addCall(.bye, callID: id, at: start, plan: .init(final: 481, delay: .milliseconds(1)))
            }
        }
        return sim
    }

    /// The invariants every run must keep, whatever was lost, duplicated or reordered.
    static func check(_ sim: LoopSimulation, seed: UInt64, into outcome: inout Outcome) {
        for id in sim.order {
            let call = sim.calls[id]!
            outcome.calls += 1
            let tag = "seed \(seed) \(id) \(call.method) \(call.plan.final): \(call)"
            // The UAS TU never sees a request twice (retransmissions are absorbed).
            #expect(call.requestsSeen <= 1, "\(tag)")
            #expect(call.cancelsSeen <= 1, "\(tag)")
            let finals = call.responses.filter { $0 >= 200 }
            if call.timedOut {
                outcome.timeouts += 1
                #expect(finals.isEmpty, "\(tag)")
            } else {
                #expect(!finals.isEmpty, "no final and no timeout: \(tag)")
                #expect(call.requestsSeen == 1, "\(tag)")
            }
            #expect(!call.abandoned, "\(tag)")
            if let final = finals.first {
                // What the UAS TU decided is what the UAC TU got.
                #expect(final == call.finalSent, "\(tag)")
                if (200...299).contains(final) && call.method == .invite {
                    #expect(finals.allSatisfy { $0 == final }, "\(tag)")
                } else {
                    #expect(finals.count == 1, "non-2xx final delivered more than once: \(tag)")
                }
            }
            // Only 2xx (late retransmissions by the UAS core) or answers after a timeout may be stray.
            #expect(call.stray.allSatisfy { (200...299).contains($0) } || call.timedOut, "\(tag)")
            if call.ackTimeout {
                outcome.ackTimeouts += 1
                #expect(call.finalSent.map { $0 >= 300 } == true, "\(tag)")
            } else if let final = call.finalSent, final >= 300, call.method == .invite {
                // ACKs for non-2xx never reach the TU.
                #expect(call.acksSeen == 0, "\(tag)")
            }
        }
        outcome.sent += sim.sentCount
        outcome.dropped += sim.droppedCount
        outcome.duplicated += sim.duplicatedCount
        outcome.cancelled += sim.calls.values.filter { $0.cancelsSeen > 0 }.count
        outcome.strays += sim.calls.values.map(\.stray.count).reduce(0, +)
        #expect(sim.uac.count == 0, "seed \(seed): UAC leaked")
        #expect(sim.uas.count == 0, "seed \(seed): UAS leaked")
        #expect(sim.uac.scheduledTimerCount == 0 && sim.uas.scheduledTimerCount == 0, "seed \(seed)")
        #expect(sim.unexpected.isEmpty, "seed \(seed): \(sim.unexpected)")
    }

    @Test(arguments: 0..<8)
    func randomFaultsUnreliable(batch: Int) {
        var outcome = Outcome()
        for seed in UInt64(batch * 25)..<UInt64(batch * 25 + 25) {
            let sim = Self.randomScenario(seed: seed, reliable: false)
            sim.run()
            Self.check(sim, seed: seed, into: &outcome)
        }
        // Losing every retransmission is possible but must stay rare.
        // The faults really happened.
        #expect(outcome.dropped > 0 && outcome.duplicated > 0 && outcome.cancelled > 0, "\(outcome)")
        #expect(outcome.timeouts * 50 <= outcome.calls, "\(outcome)")
        #expect(outcome.ackTimeouts * 50 <= outcome.calls, "\(outcome)")
    }

    @Test func randomFaultsReliable() {
        var outcome = Outcome()
        for seed in UInt64(1000)..<1040 {
            let sim = Self.randomScenario(seed: seed, reliable: true)
            sim.run()
            Self.check(sim, seed: seed, into: &outcome)
            // No retransmission from either transaction layer over a reliable transport.
            let requests = sim.wireLog.filter { $0.from == "uac" && $0.message.request.map { $0.method != .ack } == true }
            #expect(requests.count == Set(requests.map { "\($0.message.request!.headers.first("Call-ID")!) \($0.message.request!.method)" }).count, "seed \(seed)")
        }
        #expect(outcome.timeouts == 0)
        #expect(outcome.ackTimeouts == 0)
    }
}
