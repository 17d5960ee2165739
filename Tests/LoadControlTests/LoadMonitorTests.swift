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
        // 500 requests/s admitted while the thread is flat out: the rate drops to ~450/s at once.
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
        // Cut to what fits at once (a flood against a high rate), but never below half of what was
        // actually admitted, so one bad window does not collapse the rate.
        let cuts = rates.drop { $0 >= 10_000 }
        #expect(cuts.first! >= 440 && cuts.first! <= 460, "first cut to \(cuts.first!)")
        // A thread that stays flat out whatever is admitted keeps cutting, by a tenth per window at most.
        for (a, b) in zip(cuts, cuts.dropFirst()) { #expect(b >= a * 0.85) }
        #expect(m.smoothedUtilisation > 0.9)
    }

    /// A model element: a UDP socket queue in front of one loop thread that gets `core` of a CPU; an
    /// admitted initial request costs 1 ms of it (with its follow-ups), a refusal 0.03 ms; 3x what the
    /// thread can serve is offered, from the first tick (a flood against the initial rate). The
    /// controller sees only what the element sees: thread CPU use, the part spent refusing, how long the
    /// socket queue takes to read, kernel drops.
    struct Model {
        var monitor: LoadMonitor
        let core: Double
        let capacity = 1000.0, rejectCost = 0.03, step = 0.001, queueLimit = 4000
        var queue = 0, dropped = 0, maxQueue = 0
        var t = 0.0
        /// Arrivals not yet whole (rates that are not a multiple of 1000/s).
        var pending = 0.0
        var debt = 0.0

        init(core: Double) {
            self.core = core
            monitor = LoadMonitor(settings: .init(targetUtilisation: 0.95))
        }

        /// Runs `ticks` 20 ms ticks at `offered` requests/s; returns what was served (admitted and handled).
        /// Within a tick the model moves in 1 ms steps: arrivals join the socket queue, the thread works
        /// through it with its share of the millisecond; at the end of the tick the element's signals
        /// are recorded (the thread's CPU use and the part of it refusing, the longest the socket queue
        /// took to read at the thread's pace, drops).
        mutating func run(ticks: Int, offered: Double) -> Int {
            var served = 0
            for _ in 0..<ticks {
                var used = 0.0, refusing = 0.0, longestWait = 0.0, drops = 0
                for _ in 0..<20 {
                    pending += offered * step
                    let arrivals = Int(pending)
                    pending -= Double(arrivals)
                    let room = queueLimit - queue
                    queue += min(arrivals, room)
                    drops += max(0, arrivals - room)
                    // In units of one admitted request's cost; a request that did not fit in the last step
                    // finishes first.
                    let allowance = core * step * capacity
                    var cpu = allowance - debt
                    while queue > 0, cpu > 0 {
                        queue -= 1
                        let at = t + step * (1 - max(cpu, 0) / allowance)
                        if monitor.admit(now: at) {
                            cpu -= 1
                            served += 1
                        } else {
                            cpu -= rejectCost
                            refusing += rejectCost
                        }
                    }
                    used += allowance - max(cpu, 0)
                    debt = max(-cpu, 0)
                    longestWait = max(longestWait, Double(queue) / (core * capacity))
                    maxQueue = max(maxQueue, queue)
                    t += step
                }
                dropped += drops
                let tick = 20 * step * capacity
                monitor.record(utilisation: used / tick, refusing: refusing / tick, now: t)
                monitor.record(queueDelay: longestWait, drops: drops, now: t)
                monitor.record(latency: 0.001, now: t)
            }
            return served
        }

        /// Admitted requests/s the thread's share allows at the 95 % target, with `offered`/s refused or not.
        func best(offered: Double) -> Double {
            (0.95 * core * capacity - rejectCost * offered) / (1 - rejectCost)
        }
    }

    /// The element as a registrar sees it: an admitted REGISTER without credentials is challenged at
    /// 40 % of the pair's cost; the client answers the 401 at once, and its authenticated REGISTER
    /// (never refused: it carries credentials) joins the back of the socket queue and costs the other
    /// 60 %. Initial requests are admitted knowing the queue delay of the last 20 ms sample, as in the
    /// element (past `maxQueueDelay` they are shed whatever the rate). So the CPU a window spends is
    /// not the work of the requests it admitted: a window that sheds admits few, yet serves the
    /// follow-ups of the windows before.
    struct ChallengeModel {
        var monitor: LoadMonitor
        let capacity = 1000.0, rejectCost = 0.03, step = 0.001, challengeShare = 0.4
        /// Datagrams the socket holds (here 3 s of reading at the flood's pace).
        var queueLimit = 6000
        /// Milliseconds the thread is busy with something else (a checkpoint, a page-fault storm)
        /// before it reads the socket again.
        var stallSteps = 0
        /// FIFO of the socket: true = an authenticated follow-up.
        var queue: [Bool] = []
        var head = 0
        var t = 0.0, pending = 0.0, debt = 0.0
        var sampledDelay = 0.0
        var replies = 0
        /// Datagrams the socket had no room for, and the longest it took to read it (seconds).
        var dropped = 0
        var maxDelay = 0.0

        init(_ settings: LoadMonitor.Settings = .init(targetUtilisation: 0.95)) { monitor = LoadMonitor(settings: settings) }

        var depth: Int { queue.count - head }

        /// Runs `ticks` 20 ms ticks at `offered` initial requests/s; returns the pairs completed.
        mutating func run(ticks: Int, offered: Double) -> Int {
            var completed = 0
            for _ in 0..<ticks {
                var used = 0.0, refusing = 0.0, drops = 0
                for _ in 0..<20 {
                    pending += offered * step
                    let arrivals = Int(pending)
                    pending -= Double(arrivals)
                    // Last step's challenges come back first (the client answered at once), then new requests.
                    for (n, followUp) in [(replies, true), (arrivals, false)] {
                        let room = queueLimit - depth
                        queue.append(contentsOf: repeatElement(followUp, count: min(n, room)))
                        drops += max(0, n - room)
                    }
                    replies = 0
                    if stallSteps > 0 {
                        stallSteps -= 1
                        used += step * capacity
                        t += step
                        continue
                    }
                    let allowance = step * capacity
                    var cpu = allowance - debt
                    while head < queue.count, cpu > 0 {
                        let followUp = queue[head]
                        head += 1
                        let at = t + step * (1 - max(cpu, 0) / allowance)
                        if followUp {
                            cpu -= 1 - challengeShare
                            completed += 1
                        } else if monitor.admit(now: at, queueDelay: sampledDelay) {
                            cpu -= challengeShare
                            replies += 1
                        } else {
                            cpu -= rejectCost
                            refusing += rejectCost
                        }
                    }
                    if head > 4096 { queue.removeFirst(head); head = 0 }
                    used += allowance - max(cpu, 0)
                    debt = max(-cpu, 0)
                    t += step
                }
                let tick = 20 * step * capacity
                monitor.record(utilisation: used / tick, refusing: refusing / tick, now: t)
                // The socket sampled at the end of the tick: its queue at the pace of pairs half served.
                sampledDelay = Double(depth) / (capacity * 2)
                dropped += drops
                maxDelay = max(maxDelay, sampledDelay)
                monitor.record(queueDelay: sampledDelay, drops: drops, now: t)
                monitor.record(latency: 0.001, now: t)
            }
            return completed
        }

        /// Pairs/s the thread can complete at the 95 % target with `offered`/s initial requests, the excess refused.
        func best(offered: Double) -> Double {
            (0.95 * capacity - rejectCost * offered) / (1 - rejectCost)
        }
    }

    /// The bench's failure: at 1.25x capacity a window that shed stale requests admitted few while its
    /// CPU went to earlier admissions' follow-ups; taken as the cost of one admission, that cut the rate
    /// to a fifth and the registrar idled behind 503s for seconds. Goodput must stay near capacity
    /// through the step up, at 1.25x and at 3x.
    @Test(arguments: [1.25, 3.0])
    func challengedRegistrationsKeepGoodputNearCapacity(overload: Double) {
        var model = ChallengeModel()
        _ = model.run(ticks: 250, offered: 800)                      // 5 s at 80 %: the rate opens up
        let offered = overload * 1000
        var worst = Double.infinity
        var total = 0
        for _ in 0..<20 {                                            // then 10 s of overload, by half-seconds
            let served = model.run(ticks: 25, offered: offered)
            total += served
            worst = min(worst, Double(served) * 2)
        }
        let best = model.best(offered: offered)
        let goodput = Double(total) / 10
        #expect(goodput >= 0.9 * best, "\(overload)x: goodput \(goodput)/s, best \(best)/s")
        #expect(worst >= 0.6 * best, "\(overload)x: a half-second at \(worst)/s, best \(best)/s")
        #expect(model.monitor.rejected > 0)
    }

    /// The bench's 8,000/s step (~80 % of the thread) failed with 503s: a stall left a queue (76 ms),
    /// the windows catching up on it looked dear, and the estimate, allowed to rise while behind (meant
    /// for floods, whose follow-ups land later), cut the rate below the offered load. A stall (150 ms
    /// here) at a load the thread sustains must refuse nothing.
    @Test func aStallAtSustainableLoadRefusesNothing() {
        var model = ChallengeModel()
        _ = model.run(ticks: 250, offered: 800)
        #expect(model.monitor.rejected == 0)
        model.stallSteps = 150
        let completed = model.run(ticks: 250, offered: 800)
        #expect(model.monitor.rejected == 0, "refused \(model.monitor.rejected) after the stall")
        #expect(completed >= 3900)
    }

    /// A registration avalanche on an element just started (every phone re-registering after a restart):
    /// no cost learned yet and the rate at its initial value, far above what the thread serves. At onset
    /// the thread reads only initial requests (their follow-ups are still on the way), so an admission
    /// looks cheap and the windows behind refuse nothing. Once that read as a stall at a sustainable load,
    /// so the rate never came under what arrived: in the bench nothing was refused, the socket overflowed
    /// (a million kernel drops in 10 s) and the clients' retransmissions kept it full. The flood must be
    /// refused within a second or so and goodput stay near capacity.
    /// (The flood begins at a window's start, and 10 ms before its end: that window reads a few initial
    /// requests, none of their follow-ups, and must not teach the cost.)
    @Test(arguments: [(2_000.0, 100), (20_000.0, 112)])
    func aFloodOnAnElementJustStartedIsRefusedNotQueued(initialRate: Double, idleTicks: Int) {
        var model = ChallengeModel(.init(targetUtilisation: 0.95, initialRate: initialRate))
        // The element's socket (4 MB, ~6,500 REGISTERs) holds ~300 ms at the pace it is read in a flood:
        // it overflows before anything has waited the half-second after which requests are shed as stale.
        model.queueLimit = 600
        _ = model.run(ticks: idleTicks, offered: 2)                 // 2 s nearly idle
        #expect(model.monitor.rate <= initialRate, "rate \(model.monitor.rate) while idle")
        var total = 0
        var halves: [Int] = []
        var onset = 0
        for half in 0..<20 {                                         // 10 s at 3x capacity, by half-seconds
            let served = model.run(ticks: 25, offered: 3000)
            total += served
            halves.append(served * 2)
            if half == 3 { (onset, model.maxDelay) = (model.dropped, 0) }
        }
        let best = model.best(offered: 3000)
        #expect(model.monitor.rejected > 0)
        #expect(Double(total) / 10 >= 0.9 * best, "goodput \(Double(total) / 10)/s, best \(best)/s, by half-seconds \(halves)")
        #expect(halves.suffix(16).allSatisfy { Double($0) >= 0.8 * best }, "by half-seconds \(halves), best \(best)/s")
        // Before the fix: 19,398 dropped, the queue at the socket's 300 ms throughout.
        #expect(onset < 2000, "\(onset) dropped in the first 2 s")
        #expect(model.dropped == onset, "\(model.dropped - onset) dropped after the first 2 s")
        #expect(model.maxDelay < 0.1, "queue up to \(Int(model.maxDelay * 1000)) ms after the first 2 s")
    }

    @Test(arguments: [1.0, 0.6])
    func threeTimesCapacityKeepsGoodputNearCapacity(core: Double) {
        var model = Model(core: core)
        let offered = 3 * core * 1000
        _ = model.run(ticks: 500, offered: offered)                 // 10 s to settle after the flood
        var queueAfterSettling = 0
        let served = model.run(ticks: 1000, offered: offered)       // then 20 s measured
        queueAfterSettling = model.maxQueue
        let goodput = Double(served) / 20
        let best = model.best(offered: offered)
        #expect(goodput >= 0.9 * best, "core \(core): goodput \(goodput)/s, best \(best)/s")
        #expect(goodput <= core * 1000)
        #expect(model.monitor.rejected > 0)
        #expect(model.monitor.retryAfter >= 1 && model.monitor.retryAfter <= 30)
        _ = queueAfterSettling
    }

    @Test func backlogDrainsAndStaysShortOnceSettled() {
        var model = Model(core: 1.0)
        _ = model.run(ticks: 500, offered: 3000)
        model.maxQueue = 0
        _ = model.run(ticks: 500, offered: 3000)
        // Settled: requests wait less than ~100 ms worth of work in the socket, none are dropped for lack of room.
        #expect(model.maxQueue < 100, "queue peaked at \(model.maxQueue)")
    }

    @Test func rateRecoversWhenTheFloodEnds() {
        var model = Model(core: 1.0)
        _ = model.run(ticks: 500, offered: 3000)
        // Load falls to half of capacity: everything offered is admitted again within a few seconds.
        _ = model.run(ticks: 150, offered: 500)
        let before = model.monitor.rejected
        let served = model.run(ticks: 100, offered: 500)
        #expect(model.monitor.rejected == before)
        #expect(served == 1000)
    }

    @Test func busyButNotOverloadedRefusesNothing() {
        // Offered 92 % of what the thread can do: reads often come back full for a moment, which is
        // not overload; nothing may be refused.
        var model = Model(core: 1.0)
        let served = model.run(ticks: 1500, offered: 920)
        #expect(model.monitor.rejected == 0)
        #expect(served >= 27_500)
    }

    @Test func aCommitStallIsNotOverloadButASlowDatabaseIs() {
        var m = LoadMonitor(settings: .init(initialRate: 1000))
        var t = 0.0
        // 2 s at 800 requests/s with demand above the rate now and then; a 300 ms stall delays 240
        // completions by up to 300 ms: no cut.
        for i in 0..<1600 {
            t += 1.0 / 800
            _ = m.admit(now: t)
            m.record(completionLatency: (400..<640).contains(i) ? 0.3 : 0.002, now: t)
            m.record(utilisation: 0.5, now: t)
        }
        #expect(m.rate >= 1000)
        let before = m.rate
        // Completions taking 2 s on end (the database locked by a long import): cut.
        for _ in 0..<1600 {
            t += 1.0 / 800
            _ = m.admit(now: t)
            m.record(completionLatency: 2, now: t)
            m.record(utilisation: 0.5, now: t)
        }
        #expect(m.rate < before)
    }

    @Test func requestsThatWaitedTooLongAreRefusedWhateverTheRate() {
        var settings = LoadMonitor.Settings(initialRate: 1000)
        settings.maxQueueDelay = 0.5
        var m = LoadMonitor(settings: settings)
        let fresh = m.admit(now: 0.001, queueDelay: 0.2)
        let stale = m.admit(now: 0.002, queueDelay: 0.7)
        let next = m.admit(now: 0.003, queueDelay: 0)
        #expect(fresh && !stale && next)
        #expect(m.rejected == 1)
    }

    @Test func aStepUpInLoadFindsTheRoomAlreadyOpen() {
        // The rate sits below what the thread can do (here: it started there); light load that is
        // never refused still opens it up to what the CPU budget pays for, so a later step to 85 % of
        // capacity is admitted in full from its first moment.
        var model = Model(core: 1.0)
        model.monitor = LoadMonitor(settings: .init(targetUtilisation: 0.95, initialRate: 400))
        _ = model.run(ticks: 250, offered: 350)
        #expect(model.monitor.rejected == 0)
        #expect(model.monitor.rate > 850)
        _ = model.run(ticks: 250, offered: 850)
        #expect(model.monitor.rejected == 0)
    }

    @Test func aStallAtStartUpWithAFewRequestsDoesNotCollapseTheRate() {
        // Seen in a debug build at 50 calls/s: in the first window six requests were admitted while the
        // thread, warming up, was 32 % busy, and the socket queue read 64 ms. Six admissions say nothing
        // of what one costs; extrapolated, they cut the rate from its initial 20,000/s to 64/s and the
        // next seconds of calls got 503.
        var m = LoadMonitor(settings: .init(initialRate: 20_000))
        var t = 0.0
        for i in 0..<15 {
            t += 0.02
            if i % 2 == 0 { _ = m.admit(now: t) }
            m.record(utilisation: 0.32, now: t)
            m.record(queueDelay: i == 6 ? 0.064 : 0.001, drops: 0, now: t)
        }
        #expect(m.windows >= 1)
        #expect(m.rate >= 10_000, "rate \(m.rate)")
        #expect(m.rejected == 0)
    }

    /// Drives the monitor's API a 0.25 s window at a time: `offered` initial requests/s spread over
    /// it, each admitted one costing `cost` seconds of the thread and `refusing` of the thread spent on
    /// refusals; work beyond the thread waits (the socket's queue, reported as `queue` or the backlog
    /// in seconds of work, whichever is longer).
    struct Driver {
        var m: LoadMonitor
        var t = 0.0
        var backlog = 0.0
        init(_ settings: LoadMonitor.Settings) { m = LoadMonitor(settings: settings) }

        @discardableResult
        mutating func window(offered: Double, cost: Double, refusing: Double = 0, queue: Double = 0.001) -> Int {
            var admitted = 0
            var carry = 0.0
            for _ in 0..<13 {
                carry += offered * 0.02
                let n = Int(carry)
                carry -= Double(n)
                var inTick = 0
                for i in 0..<n where m.admit(now: t + 0.02 * Double(i) / Double(max(n, 1))) { inTick += 1 }
                admitted += inTick
                t += 0.02
                let work = backlog + Double(inTick) * cost + refusing * 0.02
                backlog = max(0, work - 0.02)
                m.record(utilisation: min(1, work / 0.02), refusing: refusing, now: t)
                m.record(queueDelay: max(queue, backlog), drops: 0, now: t)
                m.record(latency: 0.001, now: t)
            }
            return admitted
        }

        /// One 20 ms tick driven by hand: `admitting` initial requests offered over it, the thread `busy`,
        /// the socket queue at `queue` (the backlog model is not used).
        mutating func tick(busy: Double, admitting perTick: Int, queue: Double) {
            for i in 0..<perTick { _ = m.admit(now: t + 0.02 * Double(i) / Double(perTick)) }
            t += 0.02
            m.record(utilisation: busy, now: t)
            m.record(queueDelay: queue, drops: 0, now: t)
            m.record(latency: 0.001, now: t)
        }

        /// Ticks as ``tick(busy:admitting:queue:)`` until the monitor has taken its next rate decision.
        mutating func tickThroughWindow(busy: Double, admitting perTick: Int, queue: Double) {
            let w = m.windows
            while m.windows == w { tick(busy: busy, admitting: perTick, queue: queue) }
        }
    }

    /// The bench's 3x step starts after a step at half the peak, where an admission costs ~30 % more
    /// (no batched reads or sends): that light-load figure, carried into the flood, cut the first
    /// seconds to ~6,000/s where ~8,000 fit. The cut must use what an admission cost when the thread
    /// was last busy.
    @Test func aFloodAfterLightLoadIsCutByTheCostOfBusyWindows() throws {
        var d = Driver(.init(targetUtilisation: 0.98))
        for _ in 0..<8 { d.window(offered: 8000, cost: 119e-6) }      // busy (95 %)
        let busyCost = try #require(d.m.costPerAdmission)
        #expect(abs(busyCost - 119e-6) < 3e-6, "busy cost \(busyCost)")
        for _ in 0..<8 { d.window(offered: 3000, cost: 167e-6) }      // light (50 %)
        #expect(d.m.costPerAdmission == busyCost)
        #expect(d.m.rejected == 0)
        d.window(offered: 24_000, cost: 119e-6, refusing: 0.02, queue: 0.12)   // the flood, behind
        // 0.98 x 0.9 - 0.02 of a core at ~119 us: ~7,200/s (the light figure would give ~5,200/s).
        #expect(d.m.rate > 6800 && d.m.rate < 7600, "rate \(d.m.rate) \(d.m.lastWindow!)")
    }

    /// After a cut for falling behind in a flood, the rate goes straight back to just under where it
    /// fell behind and then creeps (1 % a window), instead of running into it again every other
    /// window; a thread with room left (under 90 % of the target busy) rises at the usual pace.
    @Test func afterACutTheRateReturnsToJustUnderWhereItFellBehind() throws {
        var d = Driver(.init(targetUtilisation: 0.98))
        let cost = 110e-6
        for _ in 0..<8 { d.window(offered: 8000, cost: cost) }
        // The flood's first seconds drain what the open rate let in; then the rate settles.
        for _ in 0..<40 { d.window(offered: 24_000, cost: cost, refusing: 0.05) }
        #expect(d.m.rejected > 0)
        #expect(d.backlog < 0.01 && d.m.lastWindow?.behind == false, "\(String(describing: d.m.lastWindow))")
        let fellBehindAt = d.m.rate
        d.window(offered: 24_000, cost: cost, refusing: 0.05, queue: 0.15)
        let ceiling = try #require(d.m.ceiling)
        #expect(ceiling <= fellBehindAt && ceiling > 0.9 * fellBehindAt)
        #expect(d.m.rate < 0.95 * ceiling, "cut to \(d.m.rate) from \(ceiling)")
        var rates: [Double] = []
        for _ in 0..<8 {
            d.window(offered: 24_000, cost: cost, refusing: 0.05)
            rates.append(d.m.rate)
        }
        // Back within three windows (to 97 % of it, or what the cost estimate says fits if that is less):
        // the cut's backlog costs a second window's cut, then it rises by a tenth a window.
        #expect(rates[2] >= 0.96 * ceiling, "rates \(rates.map(Int.init)) ceiling \(Int(ceiling))")
        for (a, b) in zip(rates.dropFirst(), rates.dropFirst(2)) where a >= 0.96 * ceiling {
            #expect(b <= a * 1.0101 + 10, "rates \(rates.map(Int.init)) ceiling \(Int(ceiling))")
        }
        // Room left (the machine got faster, a quarter of the thread idles): the ceiling does not hold
        // the rise back (it held one run's flood at 5,700-7,500/s for seconds, the thread 75-85 % busy).
        // Held to 1 % a window, three windows would give 3 %; the cost estimate, still catching up with
        // the faster machine, is what limits the rise here.
        let before = d.m.rate
        for _ in 0..<3 { d.window(offered: 24_000, cost: 80e-6, refusing: 0.05) }
        #expect(d.m.rate >= before * 1.05, "from \(Int(before)) to \(Int(d.m.rate)) with a quarter of the thread idle")
    }

    /// Seen in a full bench: a few windows of the 5,000/s step just over 80 % busy left a busy-window
    /// estimate of 191 us, never refreshed while the thread then stayed under 80 %; a stall in the
    /// 6,000/s step (queue 55 ms, then past the target, nothing refused) cut the rate to what that
    /// estimate paid for, 4,617/s, and 822 calls got 503. The lighter windows' fresher figure must count.
    @Test func aStaleBusyEstimateDoesNotCutASustainableLoadAfterAStall() {
        var d = Driver(.init(targetUtilisation: 0.98))
        for _ in 0..<2 { d.window(offered: 4200, cost: 190e-6) }        // ~80 % busy at a dear cost
        for _ in 0..<40 { d.window(offered: 5000, cost: 125e-6) }       // ~63 %: light windows
        d.window(offered: 6000, cost: 125e-6, queue: 0.11)              // a stall: behind, nothing refused
        for _ in 0..<40 { d.window(offered: 6000, cost: 125e-6) }       // ~75 %
        #expect(d.m.rejected == 0, "refused \(d.m.rejected) at a load the thread sustains")
    }

    /// A full bench's step up from 8,000 to 10,000/s (97 % of the thread) began with a 130 ms queue
    /// (SIPp starting at full rate) and nothing refused; taken for a flood's first window, it cut the rate
    /// to half what was read, 5,179/s, and 3,742 registrations got 503: the ramp stopped at 8,000.
    /// One such window is not a flood.
    @Test func aStepUpThatStartsWithAQueueIsNotCutToHalf() {
        var d = Driver(.init(targetUtilisation: 0.98))
        for _ in 0..<40 { d.window(offered: 8000, cost: 97e-6) }
        // Then, tick by tick: idle between the steps until a window has passed with nothing in it, and
        // the step's first window, the thread 99 % busy, the socket queue at 130 ms, everything admitted.
        for _ in 0..<2 { d.tickThroughWindow(busy: 0.01, admitting: 0, queue: 0.001) }
        d.tickThroughWindow(busy: 0.99, admitting: 200, queue: 0.13)
        #expect(d.m.rejected == 0)
        #expect(d.m.lastWindow?.behind == true)
        // Cut by what the cost says fits (~9,100/s), not to half.
        #expect(d.m.rate >= 8500, "cut to \(Int(d.m.rate)) after \(String(describing: d.m.lastWindow))")
    }

    /// A step just over capacity (the bench's 10,000/s where an admission cost 105 us: 1.05 of a core)
    /// is unbound too once its queue passes the target, nothing refused; cut to half what was read, it
    /// refused 7,568 of the step. Its queue is short and nothing overflows: the cut stays mild.
    @Test func aStepJustOverCapacityIsNotCutToHalf() {
        var d = Driver(.init(targetUtilisation: 0.98))
        for _ in 0..<40 { d.window(offered: 9000, cost: 105e-6) }        // 95 %: the rate opens to ~9,300/s
        #expect(d.m.rejected == 0 && d.m.rate > 9100, "rate \(Int(d.m.rate))")
        // Then, tick by tick: 9,000/s read and admitted, the thread 99 % busy; the window in progress at
        // a 50 ms queue, then two whole windows past the target and growing (110, then 145 ms) as in
        // the bench.
        for queue in [0.05, 0.11, 0.145] { d.tickThroughWindow(busy: 0.99, admitting: 180, queue: queue) }
        #expect(d.m.rejected == 0)
        #expect(d.m.rate >= 7000, "cut to \(Int(d.m.rate)) after \(String(describing: d.m.lastWindow))")
    }

    /// The full bench's 10,000/s step at 87 us an admission (87 % of the thread): it starts with a
    /// 131 ms queue and 12,070/s read in one window (SIPp catching up), nothing refused. Cut to what
    /// 90 % of the budget pays for, 9,621/s, it refused 474 registrations and the step failed.
    @Test func aStepUnderCapacityThatStartsWithAQueueKeepsItsRate() {
        var d = Driver(.init(targetUtilisation: 0.98))
        for _ in 0..<40 { d.window(offered: 8000, cost: 87e-6) }         // 70 %
        #expect(d.m.rejected == 0)
        d.tickThroughWindow(busy: 0.99, admitting: 214, queue: 0.02)     // 10,700/s read, the burst
        d.tickThroughWindow(busy: 0.99, admitting: 241, queue: 0.131)    // behind: 12,050/s read
        let behind = d.m.lastWindow
        d.tickThroughWindow(busy: 0.93, admitting: 200, queue: 0.021)    // 10,000/s, drained
        #expect(behind?.behind == true)
        #expect(d.m.rejected == 0, "\(d.m.rejected) refused after \(String(describing: behind))")
        // Never under the 10,000/s offered (cut by the tenth: ~9,780/s, the bucket's burst allowance
        // covering the first windows' shortfall, then refusals).
        #expect(d.m.rate >= 10_000, "cut to \(Int(d.m.rate)) after \(String(describing: d.m.lastWindow))")
    }

    /// The full bench's warm flood: behind for a window at 88 % of a core, then one at 70 % (the
    /// journal committing the onset's burst and the refusal thread had the other core). Taking the 70 %
    /// alone as what the thread gets cut the rate to 4,336/s, and climbing back took two seconds; one
    /// window short of the CPU is a stall until a second one in a row says otherwise.
    @Test func oneWindowShortOfCPUDoesNotSetTheBudgetAlone() throws {
        var d = Driver(.init(targetUtilisation: 0.98))
        for _ in 0..<40 { d.window(offered: 9000, cost: 100e-6) }        // ~90 %
        #expect(d.m.rejected == 0)
        // The flood, tick by tick, 30,000/s offered, the queue growing: behind at 94 % (the cuts), then a
        // window at 88 %, then one at 70 %.
        d.tickThroughWindow(busy: 0.94, admitting: 600, queue: 0.15)
        d.tickThroughWindow(busy: 0.94, admitting: 600, queue: 0.15)
        d.tickThroughWindow(busy: 0.88, admitting: 600, queue: 0.20)
        #expect(d.m.rejected > 0)
        let second = try #require(d.m.lastWindow)
        d.tickThroughWindow(busy: 0.70, admitting: 600, queue: 0.25)
        let third = try #require(d.m.lastWindow)
        #expect(second.behind && third.behind)
        // The 88 % window held the rate at ~7,960/s; the 70 % one taken alone cut it to 6,435/s.
        #expect(d.m.rate >= 7500, "cut to \(Int(d.m.rate)) after \(second) then \(third)")
        // Two windows in a row short of the CPU are the new normal.
        d.tickThroughWindow(busy: 0.70, admitting: 600, queue: 0.30)
        #expect(d.m.rate < 7000, "rate \(Int(d.m.rate)) after \(String(describing: d.m.lastWindow))")
    }

    /// The full bench's 3x step after ~10,000/s: the rate had opened to what the budget paid for at
    /// the step's cost (~11,600/s at 85 us), and under the flood an admission costs more (sipp and the
    /// refusals take the other core). Cut by 10 % a window alone, the socket queue stayed at ~300 ms
    /// for two seconds: 31,000 kernel drops, an admitted p99 of 3.5 s, 27 registrations timed out. A
    /// busy thread whose queue is past 100 ms and not shrinking must also leave room to work it off. (Without that, this model's backlog stays over 100 ms for 16 windows and peaks at 526 ms.)
    @Test func aFloodOnsetWorksOffItsBacklogWithinASecondOrTwo() {
        var d = Driver(.init(targetUtilisation: 0.98))
        for _ in 0..<40 { d.window(offered: 10_000, cost: 85e-6) }       // ~85 % busy: the rate opens up
        #expect(d.m.rejected == 0)
        #expect(d.m.rate > 11_000, "rate \(d.m.rate)")
        var backlogs: [Double] = []
        var admitted = 0
        for _ in 0..<24 {                                                 // 6 s of flood, the cost up 30 %
            admitted += d.window(offered: 30_000, cost: 110e-6, refusing: 0.05)
            backlogs.append(d.backlog)
        }
        let slow = backlogs.filter { $0 > 0.1 }.count
        #expect(slow <= 6, "backlog over 100 ms for \(slow) windows: \(backlogs.map { Int($0 * 1000) })")
        #expect(backlogs.max()! < 0.4, "\(backlogs.map { Int($0 * 1000) })")
        #expect(backlogs.suffix(16).allSatisfy { $0 < 0.05 }, "\(backlogs.map { Int($0 * 1000) })")
        // Goodput: what 93 % of the thread pays for at 110 us is ~8,450/s; over the 6 s, at least 85 % of it.
        #expect(Double(admitted) / 6 >= 0.85 * 8450, "admitted \(Double(admitted) / 6)/s")
    }
}
