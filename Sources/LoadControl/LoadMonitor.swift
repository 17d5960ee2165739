/// Admission control for initial requests, in the spirit of Clearwater's load monitor: a token
/// bucket whose rate follows what the element can actually serve. Requests refused get a stateless
/// 503 with Retry-After, so overload never becomes a growing queue. Sans-IO: the caller passes time in.
///
/// The rate is set from the SIP thread's CPU budget: over each window the CPU the thread spent on
/// everything but refusals, divided by the initial requests admitted, is what one admission costs
/// (its follow-ups included: the 401, the authenticated REGISTER, the 200); the next window admits
/// what the budget left after refusals pays for. At the equilibrium that estimate is exactly the
/// admitted rate, above it the rate falls and below it the rate rises in proportion, so a flood is
/// cut to size within one window and a drained backlog does not keep cutting. Datagrams waiting in
/// the socket longer than the target (measured by the transport's queue probe), kernel drops, loop
/// lag above the target or slow commits mean the thread is behind whatever its CPU figure says (e.g.
/// it is not getting a core): the budget shrinks until they clear. Requests that waited in the socket
/// longer than a retransmission interval are refused outright.
public struct LoadMonitor: Sendable {
    public struct Settings: Sendable {
        /// Event-loop lag the element aims to keep. The initial rate is deliberately above what one box
        /// can do: only the measured signals bring it down.
        public var targetLatency: Double
        /// Fraction of one core the SIP thread may use (0...1) before the rate is cut.
        public var targetUtilisation: Double
        /// How long datagrams may wait in the socket before the element counts as behind, in seconds.
        /// Clearwater's latency target; a fifth of the retransmission interval (T1). At 50 ms the bench's
        /// 3x flood was cut every other second by queues of 50-90 ms that would have drained by
        /// themselves, and the rate's saw-tooth averaged 82 % of capacity.
        public var targetQueueDelay: Double = 0.1
        /// How long requests may take end to end (e.g. a REGISTER until its binding is on disk) on
        /// average before the element counts as behind, in seconds. Much longer than the loop lag
        /// target: a database checkpoint stalls commits now and then without anything being overloaded.
        public var targetCompletionLatency: Double = 1.0
        /// Initial requests that waited longer than this to be read are refused (seconds).
        public var maxQueueDelay: Double = 0.5
        public var initialRate: Double
        public var minRate: Double
        public var maxRate: Double
        /// Burst allowance in seconds of the current rate.
        public var burstSeconds: Double
        /// Re-evaluate the rate after this many latency samples or this many seconds, whichever comes
        /// first (by default time alone: per-request latency samples arrive at the request rate).
        public var adjustEverySamples: Int
        public var adjustEverySeconds: Double
        public init(targetLatency: Double = 0.100, targetUtilisation: Double = 0.98, initialRate: Double = 20_000,
                    minRate: Double = 50, maxRate: Double = 100_000, burstSeconds: Double = 0.1,
                    adjustEverySamples: Int = .max, adjustEverySeconds: Double = 0.25) {
            self.targetLatency = targetLatency
            self.targetUtilisation = targetUtilisation
            self.initialRate = initialRate
            self.minRate = minRate
            self.maxRate = maxRate
            self.burstSeconds = burstSeconds
            self.adjustEverySamples = adjustEverySamples
            self.adjustEverySeconds = adjustEverySeconds
        }
    }

    public let settings: Settings
    public private(set) var rate: Double
    public private(set) var smoothedLatency: Double = 0
    public private(set) var smoothedUtilisation: Double = 0
    /// End-to-end request latency (seconds), smoothed.
    public private(set) var smoothedCompletionLatency: Double = 0
    /// How long datagrams waited in the socket (seconds), smoothed.
    public private(set) var smoothedQueueDelay: Double = 0
    /// CPU seconds of the SIP thread per admitted initial request (with its follow-ups), smoothed: the
    /// lower of two estimates, one learned from busy windows (>= 80 % of the target), one from the
    /// rest. At light load a request costs ~30 % more (no batched reads or sends, a wake-up each), and
    /// that figure, carried into a flood, cut the bench's 3x step to ~6,000/s for its first two seconds
    /// where ~8,000 fit. The busy one alone is no better: learned from a few borderline windows of a
    /// slower step (191 us) and not refreshed while the thread stayed under 80 %, it cut the 6,000/s
    /// step to 4,617/s after one stall (822 calls refused). An estimate too low for a flood does not
    /// last: the flood's windows are busy and behind, and there it may only rise.
    public var costPerAdmission: Double? {
        switch (busyCost.value, lightCost.value) {
        case let (busy?, light?): min(busy, light)
        case let (busy, light): busy ?? light
        }
    }
    private var busyCost = CostEstimate()
    private var lightCost = CostEstimate()
    /// The rate the thread last fell behind at during a flood: the rise after the cut goes straight
    /// back to just under it and then creeps, instead of running into it again every second window.
    public private(set) var ceiling: Double?
    public private(set) var admitted: Int = 0
    public private(set) var rejected: Int = 0
    private var tokens: Double
    private var lastRefill: Double?
    /// What the current window has seen so far; starts over at each rate decision.
    private struct Tally {
        var latencySamples = 0
        var admitted = 0
        var rejected = 0
        /// Of the refusals, those shed for having waited too long (whatever the rate).
        var shed = 0
        var drops = 0
        /// The longest socket queue delay seen (seconds).
        var queueDelay = 0.0
        /// CPU time (busy, and of it spent refusing) and wall time covered by utilisation samples.
        var busy = 0.0
        var refusing = 0.0
        var sampled = 0.0
    }
    private var tally = Tally()
    /// One estimate of the cost per admission and the windows it is learned from.
    private struct CostEstimate {
        private(set) var value: Double?
        /// The last few windows' serving CPU (seconds) and admissions: a REGISTER's follow-up (the
        /// authenticated REGISTER, its commit) is served after it rejoins the socket queue, so one
        /// window's CPU pays partly for the window before; summed over a second the two agree.
        private var windows: [(cpu: Double, admitted: Int)] = []
        private static let span = 4

        /// One more window: the CPU over the admissions of the last few windows, moved halfway. Behind
        /// with nothing refused yet is a stall at a load the thread sustains (a checkpoint, a page-fault
        /// storm), not a flood: the windows catching up on its backlog look dear, and taken as the new
        /// cost they cut the bench's 8,000/s step below its offered load (503s); the estimate stays.
        /// Behind in a flood it may only rise; so may it from a window whose admitted rate jumped up
        /// (`rising`), which read the new rate's requests before their follow-ups.
        mutating func learn(cpu: Double, admitted: Int, behind: Bool, flood: Bool, rising: Bool = false) {
            windows.append((cpu, admitted))
            if windows.count > Self.span { windows.removeFirst() }
            let cost = windows.reduce(0) { $0 + $1.cpu } / Double(windows.reduce(0) { $0 + $1.admitted })
            guard let held = value else {
                value = cost
                return
            }
            let moved = held + 0.5 * (cost - held)
            if !behind, !rising {
                value = moved
            } else if rising || flood {
                value = max(moved, held)
            }
        }
    }
    /// Fewer admissions in a window than this say nothing of what one costs.
    private static let minAdmissionsToJudge = 20
    private var lastUtilisationAt: Double?
    private var lastAdjust: Double?
    /// Consecutive windows that ended behind.
    private var behindWindows = 0
    /// The figures behind the last rate decision (for logs).
    public private(set) var lastWindow: Window?
    /// Rate decisions taken so far.
    public private(set) var windows = 0
    public struct Window: Sendable, CustomStringConvertible {
        public var rateBefore, rateAfter: Double
        public var busy, refusing, queueDelay, lag, completion, admittedRate, offeredRate: Double
        public var cost: Double?
        public var behind: Bool
        public var description: String {
            "rate \(Int(rateBefore)) -> \(Int(rateAfter)) after busy=\(Int(busy * 100))% refusing=\(Int(refusing * 100))% queue_ms=\(Int(queueDelay * 1000)) lag_ms=\(Int(lag * 1000)) "
                + "completion_ms=\(Int(completion * 1000)) admitted=\(Int(admittedRate))/s offered=\(Int(offeredRate))/s "
                + "cost_us=\(cost.map { Int($0 * 1e6) } ?? -1) behind=\(behind)"
        }
    }
    /// Initial requests offered per second in the last window (admitted + refused).
    private var lastOffered = 0.0
    /// The longest socket queue delay of the last window (seconds).
    private var lastQueueDelay = 0.0
    /// Initial requests admitted per second in the last window.
    private var lastAdmittedRate = 0.0
    /// The SIP thread's CPU use (0...1) in the last window.
    private var lastBusy = 0.0

    public init(settings: Settings = Settings()) {
        self.settings = settings
        self.rate = settings.initialRate
        self.tokens = settings.initialRate * settings.burstSeconds
    }

    /// Takes a token for an initial request at `now` (seconds on a monotonic clock). False = refuse it.
    ///
    /// `queueDelay` is how long requests have been waiting to be read: past ``Settings/maxQueueDelay``
    /// a waiting initial request is refused whatever the rate allows, since its client has retransmitted
    /// it by then (RFC 3261 Timer A/E, T1 = 500 ms) and serving stale copies only makes the queue longer
    /// (CoDel-style shedding).
    public mutating func admit(now: Double, queueDelay: Double = 0) -> Bool {
        refill(now: now)
        adjustIfDue(now: now)
        let stale = queueDelay > settings.maxQueueDelay
        if tokens >= 1, !stale {
            tokens -= 1
            admitted += 1
            tally.admitted += 1
            return true
        }
        rejected += 1
        tally.rejected += 1
        if stale { tally.shed += 1 }
        return false
    }

    /// A latency observation (seconds): how late the loop ran a task, or how long a request took.
    public mutating func record(latency: Double, now: Double) {
        guard latency.isFinite, latency >= 0 else { return }
        // Exponentially weighted, reacting faster upward than downward.
        let alpha = latency > smoothedLatency ? 0.3 : 0.1
        smoothedLatency += alpha * (latency - smoothedLatency)
        tally.latencySamples += 1
        adjustIfDue(now: now)
    }

    /// How long one request took end to end (seconds), e.g. a REGISTER until its binding was committed.
    public mutating func record(completionLatency: Double, now: Double) {
        guard completionLatency.isFinite, completionLatency >= 0 else { return }
        // One sample per request: a slow average, so a single stall (a checkpoint) does not count.
        smoothedCompletionLatency += 0.02 * (completionLatency - smoothedCompletionLatency)
        adjustIfDue(now: now)
    }

    /// A CPU-use observation for the interval ending at `now`: the fraction (0...1) of it the SIP
    /// thread was running, and the fraction it spent refusing requests.
    public mutating func record(utilisation: Double, refusing: Double = 0, now: Double) {
        guard utilisation.isFinite, utilisation >= 0, refusing.isFinite, refusing >= 0 else { return }
        let u = min(utilisation, 1)
        smoothedUtilisation += 0.2 * (u - smoothedUtilisation)
        if let last = lastUtilisationAt, now > last {
            let dt = now - last
            tally.busy += u * dt
            tally.refusing += min(refusing, u) * dt
            tally.sampled += dt
        }
        lastUtilisationAt = max(lastUtilisationAt ?? now, now)
        adjustIfDue(now: now)
    }

    /// A socket observation: how long datagrams waited in it lately (seconds), and how many the kernel
    /// dropped since the last observation because the receive buffer was full.
    public mutating func record(queueDelay: Double, drops: Int, now: Double) {
        guard queueDelay.isFinite, queueDelay >= 0 else { return }
        smoothedQueueDelay += 0.2 * (queueDelay - smoothedQueueDelay)
        tally.queueDelay = max(tally.queueDelay, queueDelay)
        tally.drops += max(0, drops)
        adjustIfDue(now: now)
    }

    /// How long a refused client should wait before retrying (RFC 3261 §20.33), in seconds.
    public var retryAfter: Int {
        let overload = settings.targetLatency > 0 ? smoothedLatency / settings.targetLatency : 1
        // Refusing most of the offered load: spread the retries out further.
        let spread = lastOffered > 0 && rate > 0 ? lastOffered / rate : 1
        return min(30, max(1, Int(max(overload, spread).rounded(.up))))
    }

    private mutating func refill(now: Double) {
        if let last = lastRefill, now > last {
            tokens = min(rate * settings.burstSeconds + 1, tokens + (now - last) * rate)
        }
        lastRefill = max(lastRefill ?? now, now)
    }

    private mutating func adjustIfDue(now: Double) {
        let last = lastAdjust ?? now
        if lastAdjust == nil { lastAdjust = now }
        guard tally.latencySamples >= settings.adjustEverySamples || now - last >= settings.adjustEverySeconds else { return }
        let elapsed = max(now - last, 0.001)
        let admittedRate = Double(tally.admitted) / elapsed
        let rateBefore = rate
        lastOffered = Double(tally.admitted + tally.rejected) / elapsed
        let target = settings.targetLatency
        let lagging = smoothedLatency > target
        // This window's queue, not a smoothed one: a drained queue must stop the cuts at once.
        let queueDelay = tally.queueDelay
        let behind = lagging || queueDelay > settings.targetQueueDelay || tally.drops > 0
            || smoothedCompletionLatency > settings.targetCompletionLatency

        // The window's CPU figures (sample-weighted), when utilisation was sampled in it.
        let hasCPU = tally.sampled > elapsed * 0.5
        let busy = hasCPU ? tally.busy / tally.sampled : smoothedUtilisation
        let refusing = hasCPU ? tally.refusing / tally.sampled : 0
        let serving = max(busy - refusing, 0)
        // Only windows with enough admissions say what one costs, and not those that shed stale requests:
        // they admit few while their CPU goes to the follow-ups of earlier admissions, and taken at face
        // value they made one admission look several times dearer, cutting the rate to a fraction of
        // what the thread serves (the bench's 1.25x step fell to half its goodput). The estimate is the
        // CPU over the admissions of the last few such windows, and moves halfway each time. A window
        // spent catching up may only raise it: its admissions' follow-ups land in later windows, so early
        // in a flood the cost looks too low, and must not drift down while the thread is behind.
        // And where the admitted rate jumped, the CPU paid for another rate's follow-ups: after a drop
        // it reads high (nothing learned), after a rise low, and there the busy estimate may only rise
        // and the light one learns nothing. A flood's first window (the thread idle until its last
        // milliseconds) read a couple of hundred initial REGISTERs and nothing else: its 21 us an
        // admission, a fifth of the cost, held as the lower of the two estimates, kept the rate at twice
        // what the thread served for the whole bench step (the socket full, 42,000 kernel drops).
        let rising = admittedRate > 1.4 * lastAdmittedRate
        let falling = admittedRate < 0.7 * lastAdmittedRate
        if hasCPU, !falling, tally.admitted >= Self.minAdmissionsToJudge, serving > 0.02, tally.shed == 0 {
            if busy >= settings.targetUtilisation * 0.8 {
                busyCost.learn(cpu: serving * elapsed, admitted: tally.admitted, behind: behind, flood: tally.rejected > 0,
                               rising: rising)
            } else if !behind, !rising {
                // Light and behind is a flood's first window too (a thread that was idle, then a queue).
                lightCost.learn(cpu: serving * elapsed, admitted: tally.admitted, behind: behind, flood: tally.rejected > 0)
            }
        }
        // CPU the admitted traffic may use: the target, or when behind no more than the thread actually
        // got (it may not be getting a whole core) less room for the backlog to drain, less more the
        // further the lag is above target; and of that, what refusing does not take.
        var usable = settings.targetUtilisation
        if behind {
            // A thread behind without being busy did not get the CPU; one such window can be a stall
            // (preempted, a page fault storm), so only a second one in a row is taken as the new normal:
            // the more it got of the two. Taking the second window's figure alone cut the bench's warm
            // flood to 4,336/s on one window at 70 % (the journal's commits of the onset's burst and the
            // refusal thread had the other core) after one at 88 %, and the rate took two seconds to
            // climb back.
            let got = behindWindows >= 1 ? max(busy, lastBusy) : max(busy, settings.targetUtilisation)
            // Less a tenth for the backlog to drain, except in a first window behind, nothing refused, at
            // an admitted rate the budget (nearly) pays for: a step up just under capacity starts with a
            // queue (SIPp's catch-up, read at up to ~10 % over the budget), and the tenth alone cut the
            // bench's 10,000/s step to 9,801/s at 87 us (71 registrations refused) and, after a 12,070/s
            // first window, to 9,621/s (474 refused): the step failed. A flood's first window admits
            // 40 % and more over the budget.
            let sustainable = costPerAdmission.map { admittedRate * $0 <= usable * 1.15 } ?? false
            let firstStall = behindWindows == 0 && tally.rejected == 0 && sustainable
            usable = min(usable, got) * (firstStall ? 1 : 0.9)
            // A busy thread that took in more than that pays for, its queue past the target (100 ms) and
            // not shrinking by a quarter a window, is in a flood, not a stall at a load it sustains: it
            // also gives up the queue's excess over that as CPU (at most half), so the backlog is worked
            // off in a second or two. With the 10 % alone, a flood's first windows kept the socket
            // queue at ~300 ms for two seconds (the bench's 3x step after the rate had opened to
            // 11,600/s: 31,000 kernel drops, an admitted p99 of 3.5 s, 27 registrations timed out).
            let backlog = queueDelay - settings.targetQueueDelay
            if backlog > 0, queueDelay > 0.75 * lastQueueDelay, busy >= settings.targetUtilisation * 0.9,
               let cost = costPerAdmission, admittedRate * cost > usable {
                usable = max(usable - min(backlog, 0.5), usable * 0.5)
            }
        }
        // Behind a second window running, busy, the queue still growing (or overflowing) and the bucket
        // refused nothing: the rate is above what the thread reads at all, so no cost figure can bring it
        // down (the rate it pays for is above what arrives). Typical of a flood on an element just
        // started: at onset the thread reads only initial requests, their follow-ups still on the way,
        // so an admission looks cheap (a quarter of its cost in the bench), and the windows behind refuse
        // nothing. Taken for a stall, that once kept the rate over the flood for good: the socket
        // overflowed (a million kernel drops in 10 s) and retransmissions kept it full. A stall's
        // backlog shrinks from its second window on, and it overflows the socket only when it is long.
        // (A first window admitting far more than the one before is no flood sign: the bench's step up
        // from 8,000 to 10,000/s starts with a queue of 130 ms, and cutting there refused 3,742.)
        let unbound = behind && (behindWindows >= 1 || tally.drops > 0) && tally.rejected == 0
            && queueDelay > settings.targetQueueDelay && (queueDelay > lastQueueDelay || tally.drops > 0)
            && busy >= settings.targetUtilisation * 0.9
        // The rate that ran into it: the first window of an episode (those after it are the cuts).
        if behind, behindWindows == 0, tally.rejected > 0 {
            ceiling = min(rate, max(admittedRate, settings.minRate))
        } else if !behind, tally.rejected == 0 {
            ceiling = nil
        }
        behindWindows = behind ? behindWindows + 1 : 0
        if lagging { usable *= 1 - 0.3 * min(1, (smoothedLatency - target) / target) }
        let budget = max(usable - refusing, usable * 0.05)
        let saturated = behind || busy > settings.targetUtilisation

        if saturated {
            // What the budget pays for, from what one admission costs; at most half lost per window of
            // the rate or of what was actually admitted (a flood against a high rate admits far less
            // than the rate), so one noisy window never collapses it.
            var next = rate * 0.7
            // Behind in a flood, the busy windows' figure: it is learned in these very windows, while
            // the light one (the lower of the two otherwise) may be from a calmer step. At the bench's
            // 3x flood after the half-peak step, the light 90 us held the rate at ~9,800/s where the
            // thread served ~9,200: the queue stayed at 130-185 ms for seconds, 22,500 kernel drops.
            let floodCost = behind && tally.rejected > 0 ? busyCost.value : nil
            if let cost = floodCost ?? costPerAdmission, cost > 0 {
                next = budget / cost
            } else if tally.admitted >= Self.minAdmissionsToJudge, serving > 0 {
                // Before any cost estimate, the window's own figures, on the same terms: a handful of
                // admissions in a warming-up thread say nothing of what one costs (six at start-up once
                // cut 20,000/s to 64/s).
                next = admittedRate * budget / serving
            }
            // Unbound: at most half what was read when the queue is past twice the target or overflowing
            // (the follow-ups of what it admits are still to come), else 15 % under it: a step just over
            // capacity (the bench's 10,000/s at 105 us an admission) was cut to half and refused 7,568.
            if unbound {
                next = min(next, admittedRate * (tally.drops > 0 || queueDelay > 2 * settings.targetQueueDelay ? 0.5 : 0.85))
            }
            // Still behind after a cut, but the queue shrinking by a sixth a window and nothing else
            // wrong: the cut is working, and the rate holds while the backlog drains. Cut again each
            // window until it was gone, the bench's 3x flood went from 10,200/s to 6,200/s in six windows
            // (the queue takes a second or so to drain), then climbed back: a saw-tooth averaging 82 %.
            let draining = behindWindows >= 2 && queueDelay < 0.85 * lastQueueDelay && tally.drops == 0
                && !lagging && smoothedCompletionLatency <= settings.targetCompletionLatency
            if draining, !unbound { next = rate }
            let floor = min(rate, max(admittedRate, settings.minRate)) * 0.5
            rate = max(settings.minRate, floor, min(next, rate))
        } else {
            // Room below every target. With demand refused: rise toward what the budget pays for, by
            // half again per window while the thread is mostly idle and nothing waits, else by a tenth
            // (a thread that was just behind must not swing straight back into it); always by a little,
            // so a stale estimate cannot pin the rate. Without refusals: open up to what the budget
            // pays for anyway, so a step up in load finds the room already there.
            let idle = busy < settings.targetUtilisation * 0.7 && queueDelay < settings.targetQueueDelay / 10
            let fits = costPerAdmission.map { $0 > 0 ? budget / $0 : settings.maxRate } ?? settings.maxRate
            if tally.rejected > 0 {
                var next = min(rate * (idle ? 1.5 : 1.1), fits)
                var step = 0.02
                // Near the ceiling only while the thread is nearly as busy as when it fell behind there:
                // a thread with room left is below it whatever the figure says (or the machine changed).
                if let ceiling, busy >= settings.targetUtilisation * 0.9 {
                    next = min(next, max(ceiling * 0.97, rate * 1.01))
                    step = 0.01
                }
                rate = min(settings.maxRate, max(rate + max(10, rate * step), next))
            } else if costPerAdmission != nil {
                // Without a cost learned yet and no demand refused nothing says what fits, and the rate
                // stays (it once opened to the 100,000/s maximum on an idle element: a flood right after
                // start-up found no limit).
                rate = min(settings.maxRate, max(rate, min(rate * 1.5, fits)))
            }
        }
        windows += 1
        lastWindow = Window(rateBefore: rateBefore, rateAfter: rate, busy: busy, refusing: refusing, queueDelay: queueDelay, lag: smoothedLatency,
                            completion: smoothedCompletionLatency, admittedRate: admittedRate, offeredRate: lastOffered,
                            cost: costPerAdmission, behind: behind)
        tokens = min(tokens, rate * settings.burstSeconds + 1)
        lastQueueDelay = queueDelay
        lastAdmittedRate = admittedRate
        lastBusy = busy
        tally = Tally()
        lastAdjust = now
    }
}
