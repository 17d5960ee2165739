import Testing
@testable import SIPTransport

@Suite struct QueueProbeTests {
    @Test func aProbeReadBackGivesTheTimeItWaited() {
        var probe = QueueProbe(token: 42)
        let bytes = probe.makeProbe(now: 10.0)
        #expect(bytes.count == 20 && bytes.starts(with: Array("CWQP".utf8)))
        let ours = probe.receive(bytes, now: 10.030)
        let waited = probe.takeDelay(now: 10.031)
        let next = probe.takeDelay(now: 10.05)
        #expect(ours)
        #expect(abs(waited - 0.030) < 1e-9)
        #expect(next == 0)  // taken: the next sample starts from nothing
    }

    @Test func anUnreadProbeIsALowerBoundAndLostOnesExpire() {
        var probe = QueueProbe(token: 7)
        let first = probe.makeProbe(now: 1.0)
        _ = probe.makeProbe(now: 1.02)
        // Neither read yet: the queue is at least as old as the oldest.
        let unread = probe.takeDelay(now: 1.3)
        // The first read: the second (younger) is still out and keeps ageing.
        let read = probe.receive(first, now: 1.31)
        let afterRead = probe.takeDelay(now: 1.32)
        let later = probe.takeDelay(now: 1.5)
        // Never read (dropped): forgotten after lostAfter, not an ever-growing delay.
        let expired = probe.takeDelay(now: 5)
        #expect(abs(unread - 0.3) < 1e-9)
        #expect(read)
        #expect(abs(afterRead - 0.31) < 1e-9)
        #expect(abs(later - 0.48) < 1e-9)
        #expect(expired == 0)
    }

    @Test func readingALaterProbeRetiresEarlierOnesAsDropped() {
        var probe = QueueProbe(token: 7)
        _ = probe.makeProbe(now: 1.0)
        let second = probe.makeProbe(now: 1.02)
        _ = probe.receive(second, now: 1.03)
        let waited = probe.takeDelay(now: 1.04)
        let after = probe.takeDelay(now: 1.5)
        #expect(abs(waited - 0.01) < 1e-9)
        #expect(after == 0)
    }

    @Test func otherDatagramsAndForgedProbesAreNotTakenForProbes() {
        var probe = QueueProbe(token: 7)
        var other = QueueProbe(token: 8)
        let forged = other.makeProbe(now: 0)
        let sent = probe.makeProbe(now: 0)
        let results = [
            probe.receive(forged, now: 0.5),                                          // another token
            probe.receive(Array("OPTIONS sip:a SIP/2.0\r\n".utf8), now: 0.5),
            probe.receive([UInt8](), now: 0.5),
            probe.receive(Array("CWQP".utf8) + [UInt8](repeating: 0, count: 17), now: 0.5),
        ]
        #expect(results == [false, false, false, false])
        // None of them counted: the real probe is still out.
        let unread = probe.takeDelay(now: 0.5)
        #expect(abs(unread - 0.5) < 1e-9)
        // Ours read twice (a replay): consumed both times, counted once.
        let once = probe.receive(sent, now: 0.6)
        let twice = probe.receive(sent, now: 0.9)
        let waited = probe.takeDelay(now: 1.0)
        #expect(once && twice)
        #expect(abs(waited - 0.6) < 1e-9)
    }
}
