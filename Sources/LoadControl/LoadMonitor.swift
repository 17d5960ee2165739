/// Admission control for initial requests, in the spirit of Clearwater's load monitor: a token
/// bucket whose rate follows what the element can actually serve. Requests refused get a stateless
/// 503 with Retry-After, so overload never becomes a growing queue. Sans-IO: the caller passes time in.
///
/// The rate is set from the SIP thread's CPU budget: over each window the CPU the thread spent on
/// everything but refusals, divided by the initial requests admitted, is what one admission costs
/// (its follow-ups included: the 401, the authenticated REGISTER, the 200); the next window admits
/// what the budget left after refusals pays for. At the equilibrium that estimate is exactly the
/// admitted rate, above it the rate falls and below it the rate rises in proportion, so a flood is
/// cut to size within one window and a drained backlog does not keep cutting. A backlog in the
/// socket (read batches coming back full), kernel drops or loop lag above the target mean the
/// thread is behind whatever its CPU figure says (e.g. it is not getting a core): the budget shrinks
/// until they clear.
public struct LoadMonitor: Sendable {
    public struct Settings: Sendable {
        /// Event-loop lag the element aims to keep. The initial rate is deliberately above what one box
        /// can do: only the measured signals bring it down.
        public var targetLatency: Double
        /// Fraction of one core the SIP thread may use (0...1) before the rate is cut.
        public var targetUtilisation: Double
        /// Fraction of socket read batches that may come back full (more datagrams were waiting than
        /// one batch takes) before the element counts as behind.
        public var targetBacklog: Double = 0.5
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
    /// Fraction of read batches that came back full, smoothed.
    public private(set) var smoothedBacklog: Double = 0
    /// CPU seconds of the SIP thread per admitted initial request (with its follow-ups), smoothed.
    public private(set) var costPerAdmission: Double?
    public private(set) var admitted: Int = 0
    public private(set) var rejected: Int = 0
    private var tokens: Double
    private var lastRefill: Double?
    private var samples = 0
    private var rejectedSinceAdjust = 0
    private var admittedSinceAdjust = 0
    private var dropsSinceAdjust = 0
    private var backlogSinceAdjust = 0.0
    private var backlogSamples = 0
    /// CPU time (busy, and of it spent refusing) and wall time covered by utilisation samples this window.
    private var busySinceAdjust = 0.0
    private var refusingSinceAdjust = 0.0
    private var sampledSinceAdjust = 0.0
    private var lastUtilisationAt: Double?
    private var lastAdjust: Double?
    /// Initial requests offered per second in the last window (admitted + refused).
    private var lastOffered = 0.0

    public init(settings: Settings = Settings()) {
        self.settings = settings
        self.rate = settings.initialRate
        self.tokens = settings.initialRate * settings.burstSeconds
    }

    /// Takes a token for an initial request at `now` (seconds on a monotonic clock). False = refuse it.
    public mutating func admit(now: Double) -> Bool {
        refill(now: now)
        adjustIfDue(now: now)
        if tokens >= 1 {
            tokens -= 1
            admitted += 1
            admittedSinceAdjust += 1
            return true
        }
        rejected += 1
        rejectedSinceAdjust += 1
        return false
    }

    /// A latency observation (seconds): how late the loop ran a task, or how long a request took.
    public mutating func record(latency: Double, now: Double) {
        guard latency.isFinite, latency >= 0 else { return }
        // Exponentially weighted, reacting faster upward than downward.
        let alpha = latency > smoothedLatency ? 0.3 : 0.1
        smoothedLatency += alpha * (latency - smoothedLatency)
        samples += 1
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
            busySinceAdjust += u * dt
            refusingSinceAdjust += min(refusing, u) * dt
            sampledSinceAdjust += dt
        }
        lastUtilisationAt = max(lastUtilisationAt ?? now, now)
        adjustIfDue(now: now)
    }

    /// A socket observation: the fraction (0...1) of read batches since the last one that came back
    /// full, and how many datagrams the kernel dropped meanwhile because the receive buffer was full.
    public mutating func record(backlog: Double, drops: Int, now: Double) {
        guard backlog.isFinite, backlog >= 0 else { return }
        smoothedBacklog += 0.2 * (min(backlog, 1) - smoothedBacklog)
        backlogSinceAdjust += min(backlog, 1)
        backlogSamples += 1
        dropsSinceAdjust += max(0, drops)
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
        guard samples >= settings.adjustEverySamples || now - last >= settings.adjustEverySeconds else { return }
        let elapsed = max(now - last, 0.001)
        let admittedRate = Double(admittedSinceAdjust) / elapsed
        lastOffered = Double(admittedSinceAdjust + rejectedSinceAdjust) / elapsed
        let target = settings.targetLatency
        let lagging = smoothedLatency > target
        // This window's backlog, not a smoothed one: a drained queue must stop the cuts at once.
        let backlog = backlogSamples > 0 ? backlogSinceAdjust / Double(backlogSamples) : smoothedBacklog
        let behind = lagging || backlog > settings.targetBacklog || dropsSinceAdjust > 0

        // The window's CPU figures (sample-weighted), when utilisation was sampled in it.
        let hasCPU = sampledSinceAdjust > elapsed * 0.5
        let busy = hasCPU ? busySinceAdjust / sampledSinceAdjust : smoothedUtilisation
        let refusing = hasCPU ? refusingSinceAdjust / sampledSinceAdjust : 0
        let serving = max(busy - refusing, 0)
        // Only windows with enough admissions say what one costs; the estimate moves halfway each time.
        if hasCPU, admittedSinceAdjust >= 20, serving > 0.02 {
            let cost = serving / admittedRate
            costPerAdmission = costPerAdmission.map { $0 + 0.5 * (cost - $0) } ?? cost
        }
        // CPU the admitted traffic may use: the target, or when behind no more than the thread actually
        // got (it may not be getting a whole core) less room for the backlog to drain, less more the
        // further the lag is above target; and of that, what refusing does not take.
        var usable = settings.targetUtilisation
        if behind { usable = min(usable, busy) * 0.85 }
        if lagging { usable *= 1 - 0.3 * min(1, (smoothedLatency - target) / target) }
        let budget = max(usable - refusing, usable * 0.05)
        let saturated = behind || busy > settings.targetUtilisation

        if saturated {
            // What the budget pays for, from what one admission costs; at most half lost per window of
            // the rate or of what was actually admitted (a flood against a high rate admits far less
            // than the rate), so one noisy window never collapses it.
            var next = rate * 0.7
            if let cost = costPerAdmission, cost > 0 {
                next = budget / cost
            } else if admittedSinceAdjust > 0, serving > 0 {
                next = admittedRate * budget / serving
            }
            rate = max(settings.minRate, max(min(rate, max(admittedRate, settings.minRate)) * 0.5, min(next, rate)))
        } else if rejectedSinceAdjust > 0 {
            // Room below every target and demand refused: rise toward what the budget pays for, by half
            // again per window while the thread is mostly idle and nothing waits, else by a tenth (a
            // thread that was just behind must not swing straight back into it); always by a little,
            // so a stale estimate cannot pin the rate.
            let idle = busy < settings.targetUtilisation * 0.7 && backlog < 0.05
            var next = rate * (idle ? 1.5 : 1.1)
            if let cost = costPerAdmission, cost > 0 { next = min(next, budget / cost) }
            rate = min(settings.maxRate, max(rate + max(10, rate * 0.02), next))
        }
        tokens = min(tokens, rate * settings.burstSeconds + 1)
        samples = 0
        dropsSinceAdjust = 0
        backlogSinceAdjust = 0
        backlogSamples = 0
        rejectedSinceAdjust = 0
        admittedSinceAdjust = 0
        busySinceAdjust = 0
        refusingSinceAdjust = 0
        sampledSinceAdjust = 0
        lastAdjust = now
    }
}
