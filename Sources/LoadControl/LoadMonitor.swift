/// Admission control for initial requests, in the spirit of Clearwater's load monitor: a token
/// bucket whose rate adapts to the latency the element actually achieves. When latency rises above
/// the target the rate is cut multiplicatively; while latency is comfortably below it and requests
/// were being refused, the rate grows additively. Requests refused get a stateless 503 with
/// Retry-After, so overload never becomes a growing queue. Sans-IO: the caller passes time in.
public struct LoadMonitor: Sendable {
    public struct Settings: Sendable {
        /// Event-loop lag the element aims to keep. The initial rate is deliberately above what one box
        /// can do: only the measured signals bring it down.
        public var targetLatency: Double
        /// Fraction of one core the SIP thread may use (0...1) before the rate is cut.
        public var targetUtilisation: Double
        /// Fraction of the UDP receive buffer that may hold unread datagrams before the rate is cut.
        public var targetQueueFill: Double = 0.25
        public var initialRate: Double
        public var minRate: Double
        public var maxRate: Double
        /// Burst allowance in seconds of the current rate.
        public var burstSeconds: Double
        /// Re-evaluate the rate after this many samples or this many seconds, whichever comes first.
        public var adjustEverySamples: Int
        public var adjustEverySeconds: Double
        public init(targetLatency: Double = 0.100, targetUtilisation: Double = 0.98, initialRate: Double = 20_000,
                    minRate: Double = 50, maxRate: Double = 100_000, burstSeconds: Double = 0.5,
                    adjustEverySamples: Int = 25, adjustEverySeconds: Double = 0.5) {
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
    /// Fraction of the UDP receive buffer in use, smoothed; drops seen since the last adjustment.
    public private(set) var smoothedQueueFill: Double = 0
    private var dropsSinceAdjust = 0
    public private(set) var admitted: Int = 0
    public private(set) var rejected: Int = 0
    private var tokens: Double
    private var lastRefill: Double?
    private var samples = 0
    private var rejectedSinceAdjust = 0
    private var admittedSinceAdjust = 0
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

    /// A CPU-use observation: the fraction (0...1) of the last interval the SIP thread was running.
    public mutating func record(utilisation: Double, now: Double) {
        guard utilisation.isFinite, utilisation >= 0 else { return }
        smoothedUtilisation += 0.2 * (min(utilisation, 1) - smoothedUtilisation)
        adjustIfDue(now: now)
    }

    /// A receive-queue observation: the fraction (0...1) of the socket buffer holding datagrams not
    /// yet read, and how many the kernel dropped since the last observation. A queue that builds up
    /// means requests wait (and UDP clients retransmit into the queue); drops mean they are lost.
    public mutating func record(queueFill: Double, drops: Int, now: Double) {
        guard queueFill.isFinite, queueFill >= 0 else { return }
        let alpha = queueFill > smoothedQueueFill ? 0.5 : 0.2
        smoothedQueueFill += alpha * (min(queueFill, 1) - smoothedQueueFill)
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
        let target = settings.targetLatency
        let cpuTarget = settings.targetUtilisation
        let elapsed = max(now - last, 0.001)
        let admittedRate = Double(admittedSinceAdjust) / elapsed
        lastOffered = Double(admittedSinceAdjust + rejectedSinceAdjust) / elapsed
        if smoothedLatency > target {
            // Multiplicative decrease, deeper the further above target (at most 30 % per window).
            let excess = min(1, (smoothedLatency - target) / target)
            rate = max(settings.minRate, rate * (1 - 0.3 * excess))
        } else if smoothedUtilisation > cpuTarget || smoothedQueueFill > settings.targetQueueFill || dropsSinceAdjust > 50 {
            // Saturated (CPU) or falling behind (socket queue, drops): what was admitted in this window
            // was already too much, so step down from it by 5-15 %, deeper the hotter the thread. The
            // rate itself loses at most 30 % per window: a drowning loop admits little, which must not
            // collapse the rate.
            let step = min(0.95, max(0.85, cpuTarget / max(smoothedUtilisation, 0.01) - 0.02))
            let cut = max(rate * 0.7, min(rate, admittedRate) * step)
            rate = max(settings.minRate, cut)
        } else if smoothedLatency < target * 0.8 && smoothedUtilisation < cpuTarget - 0.04
                    && smoothedQueueFill < settings.targetQueueFill / 4 && rejectedSinceAdjust > 0 {
            // Room below every target and demand we refused: step up, fast when the loop is mostly idle
            // and nothing is queued, since a rate cut during a flood must not outlast the flood by long.
            let idle = smoothedUtilisation < cpuTarget * 0.7 && smoothedQueueFill < settings.targetQueueFill / 10
            let cap = idle ? 1.6 : 1.25
            let room = smoothedUtilisation > 0 ? min(cap, cpuTarget / smoothedUtilisation) : cap
            rate = min(settings.maxRate, max(rate + max(10, rate * 0.05), min(lastOffered, rate * room)))
        }
        tokens = min(tokens, rate * settings.burstSeconds + 1)
        samples = 0
        dropsSinceAdjust = 0
        rejectedSinceAdjust = 0
        admittedSinceAdjust = 0
        lastAdjust = now
    }
}
