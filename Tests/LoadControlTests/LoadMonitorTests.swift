import Testing
@testable import LoadControl

@Suite struct LoadMonitorTests {
    @Test func admitsWithinRateAndRefusesBeyondIt() {
        var m = LoadMonitor(settings: .init(initialRate: 100, burstSeconds: 0.1, adjustEverySeconds: 1000))
        // 1 s of 300 requests/s evenly spread: about 100 (+ burst) admitted.
        var admitted = 0
        for i in 0..<300 { if m.admit(now: Double(i) / 300) { admitted += 1 } }
        #expect(admitted >= 95 && admitted <= 115, "admitted \(admitted)")
        #expect(m.rejected == 300 - admitted)
    }

    @Test func highLatencyCutsTheRateAndLowLatencyWithDemandRaisesIt() {
        var m = LoadMonitor(settings: .init(targetLatency: 0.1, initialRate: 1000, minRate: 50,
                                            adjustEverySamples: 10, adjustEverySeconds: 1000))
        var t = 0.0
        for _ in 0..<50 {
            t += 0.01
            m.record(latency: 0.4, now: t)
        }
        #expect(m.rate < 1000)
        let cut = m.rate
        #expect(cut >= 50)
        #expect(m.retryAfter > 1)
        // Latency recovers; demand above the rate is refused, then the rate climbs again.
        for _ in 0..<400 {
            t += 0.001
            _ = m.admit(now: t)
            m.record(latency: 0.001, now: t)
        }
        #expect(m.rate > cut)
        #expect(m.retryAfter == 1)
    }

    @Test func rateStaysWithinBounds() {
        var m = LoadMonitor(settings: .init(initialRate: 100, minRate: 50, maxRate: 200, adjustEverySamples: 1,
                                            adjustEverySeconds: 1000))
        var t = 0.0
        for _ in 0..<1000 { t += 0.01; m.record(latency: 10, now: t) }
        #expect(m.rate == 50)
        for _ in 0..<5000 { t += 0.0001; _ = m.admit(now: t); m.record(latency: 0, now: t) }
        #expect(m.rate <= 200)
    }

    @Test func ignoresNonsenseSamplesAndTimeGoingBackwards() {
        var m = LoadMonitor()
        m.record(latency: -1, now: 1)
        m.record(latency: .nan, now: 1)
        #expect(m.smoothedLatency == 0)
        let first = m.admit(now: 10)
        let second = m.admit(now: 5)  // an earlier clock reading never adds tokens, never crashes
        #expect(first && second)
    }
}
