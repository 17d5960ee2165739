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

    @Test func saturatedThreadCutsTheRateToWhatFitsTheTarget() {
        var m = LoadMonitor(settings: .init(targetUtilisation: 0.9, initialRate: 10_000, adjustEverySamples: 1_000_000,
                                            adjustEverySeconds: 1))
        // 500 requests/s admitted while the thread is flat out: the rate drops to ~450/s, never below.
        var t = 0.0
        var rates: [Double] = []
        for i in 0..<5000 {
            t += 0.002
            _ = m.admit(now: t)
            m.record(utilisation: 1.0, now: t)
            if i % 500 == 499 { rates.append(m.rate) }
        }
        #expect(m.rate < 600)
        #expect(m.rate >= 50)
        // Never more than 30 % lost per window, so a drowning loop does not collapse the rate.
        for (a, b) in zip(rates, rates.dropFirst()) { #expect(b >= a * 0.7 - 1) }
        #expect(m.smoothedUtilisation > 0.9)
    }

    /// A model element: one core, an admitted request costs 1 ms, a refusal 0.03 ms; 3x its capacity
    /// is offered. The controller must settle where the thread is busy but not beyond its target and
    /// goodput is close to what the refusals leave room for.
    @Test func threeTimesCapacityKeepsGoodputNearCapacity() {
        var m = LoadMonitor(settings: .init(targetUtilisation: 0.95))
        let capacity = 1000.0, offered = 3000.0, rejectCost = 0.03, tick = 0.02
        var t = 0.0, goodputLate = 0, busy = 0.0
        for step in 0..<1500 {           // 30 s of 20 ms ticks
            var admittedNow = 0, rejectedNow = 0
            let arrivals = Int(offered * tick)
            for i in 0..<arrivals {
                if m.admit(now: t + tick * Double(i) / Double(arrivals)) { admittedNow += 1 } else { rejectedNow += 1 }
            }
            busy = (Double(admittedNow) + rejectCost * Double(rejectedNow)) / (capacity * tick)
            // What the core could not run this tick is lost (UDP drops), not queued forever.
            let served = busy > 1 ? Int(Double(admittedNow) / busy) : admittedNow
            if step >= 1000 { goodputLate += served }
            t += tick
            m.record(utilisation: min(busy, 1), now: t)
        }
        let goodput = Double(goodputLate) / 10   // per second over the last 10 s
        let best = (0.95 * capacity - rejectCost * offered) / (1 - rejectCost)   // what the target allows
        #expect(goodput >= 0.9 * best, "goodput \(goodput)/s, best \(best)/s")
        #expect(goodput <= capacity)
        #expect(m.rejected > 0)
        #expect(m.retryAfter >= 1 && m.retryAfter <= 30)
    }
}
