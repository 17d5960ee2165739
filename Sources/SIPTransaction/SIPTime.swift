/// A point on the transaction layer's clock: nanoseconds since an arbitrary epoch chosen by the caller.
///
/// The transaction layer never reads a clock. Every call that can start or fire a timer takes the
/// current time as a plain value, so tests drive it with a virtual clock and production code passes
/// `NIODeadline.now().uptimeNanoseconds` (or any other monotonic source).
public struct SIPTime: Hashable, Comparable, Sendable, CustomStringConvertible {
    public var nanoseconds: UInt64

    public init(nanoseconds: UInt64) { self.nanoseconds = nanoseconds }

    /// The epoch plus `duration` (negative durations clamp to the epoch).
    public init(_ sinceEpoch: Duration) { self.nanoseconds = sinceEpoch.sipNanoseconds }

    public static let zero = SIPTime(nanoseconds: 0)

    public static func < (lhs: SIPTime, rhs: SIPTime) -> Bool { lhs.nanoseconds < rhs.nanoseconds }

    /// Saturating addition: never wraps, negative durations count as zero.
    public static func + (lhs: SIPTime, rhs: Duration) -> SIPTime {
        let (sum, overflow) = lhs.nanoseconds.addingReportingOverflow(rhs.sipNanoseconds)
        return SIPTime(nanoseconds: overflow ? .max : sum)
    }

    public static func += (lhs: inout SIPTime, rhs: Duration) { lhs = lhs + rhs }

    /// The signed distance between two instants.
    public static func - (lhs: SIPTime, rhs: SIPTime) -> Duration {
        if lhs >= rhs {
            return .nanoseconds(Int64(clamping: lhs.nanoseconds - rhs.nanoseconds))
        }
        return .zero - .nanoseconds(Int64(clamping: rhs.nanoseconds - lhs.nanoseconds))
    }

    /// Seconds since the epoch with millisecond precision, e.g. `"12.500s"`.
    public var description: String {
        let ms = nanoseconds / 1_000_000
        let frac = ms % 1000
        let pad = frac < 10 ? "00" : frac < 100 ? "0" : ""
        return "\(ms / 1000).\(pad)\(frac)s"
    }
}

extension Duration {
    /// Whole nanoseconds, clamped to `0...UInt64.max`.
    var sipNanoseconds: UInt64 {
        let c = components
        if c.seconds < 0 || (c.seconds == 0 && c.attoseconds <= 0) { return 0 }
        let (whole, overflow) = UInt64(c.seconds).multipliedReportingOverflow(by: 1_000_000_000)
        if overflow { return .max }
        let (sum, overflow2) = whole.addingReportingOverflow(UInt64(max(0, c.attoseconds) / 1_000_000_000))
        return overflow2 ? .max : sum
    }
}

/// The RFC 3261 timers (Table 4) plus RFC 6026's L and M and the INVITE server's 100 Trying delay.
public enum SIPTimer: String, Hashable, Sendable, CaseIterable, CustomStringConvertible {
    /// INVITE request retransmission interval (unreliable only): T1, doubling, no cap.
    case a = "A"
    /// INVITE transaction timeout: 64*T1.
    case b = "B"
    /// Wait time for response retransmissions in the client INVITE "Completed" state: >= 32 s unreliable, 0 reliable.
    case d = "D"
    /// Non-INVITE request retransmission interval (unreliable only): T1, doubling up to T2.
    case e = "E"
    /// Non-INVITE transaction timeout: 64*T1.
    case f = "F"
    /// INVITE final response retransmission interval (unreliable only): T1, doubling up to T2.
    case g = "G"
    /// Wait time for ACK receipt: 64*T1.
    case h = "H"
    /// Wait time for ACK retransmissions: T4 unreliable, 0 reliable.
    case i = "I"
    /// Wait time for non-INVITE request retransmissions: 64*T1 unreliable, 0 reliable.
    case j = "J"
    /// Wait time for non-INVITE response retransmissions: T4 unreliable, 0 reliable.
    case k = "K"
    /// RFC 6026: wait time for INVITE retransmissions and ACKs in the server "Accepted" state: 64*T1.
    case l = "L"
    /// RFC 6026: wait time for 2xx retransmissions in the client "Accepted" state: 64*T1.
    case m = "M"
    /// Not an RFC timer name: the INVITE server transaction sends 100 Trying when it fires (RFC 3261 §17.2.1, 200 ms).
    case trying = "Trying"

    public var description: String { "Timer \(rawValue)" }
}

/// T1/T2/T4 and the values derived from them (RFC 3261 §17 and Table 4, RFC 6026 §8.11).
public struct SIPTimerConfig: Sendable, Hashable {
    /// RTT estimate (default 500 ms).
    public var t1: Duration
    /// Maximum retransmit interval for non-INVITE requests and INVITE responses (default 4 s).
    public var t2: Duration
    /// Maximum duration a message remains in the network (default 5 s).
    public var t4: Duration
    /// Timer D over unreliable transports is `max(timerDMinimum, 64*T1)`; RFC 3261 asks for at least 32 s.
    public var timerDMinimum: Duration
    /// How long the INVITE server transaction waits for a provisional or final response from the TU before
    /// sending 100 Trying itself. `.zero` sends it immediately when the INVITE arrives; `nil` never sends it
    /// (then the TU must send 100 itself). Default 200 ms (RFC 3261 §17.2.1).
    public var inviteTryingDelay: Duration?

    public init(
        t1: Duration = .milliseconds(500),
        t2: Duration = .seconds(4),
        t4: Duration = .seconds(5),
        timerDMinimum: Duration = .seconds(32),
        inviteTryingDelay: Duration? = .milliseconds(200)
    ) {
        self.t1 = t1
        self.t2 = t2
        self.t4 = t4
        self.timerDMinimum = timerDMinimum
        self.inviteTryingDelay = inviteTryingDelay
    }

    public static let rfc3261 = SIPTimerConfig()

    /// Initial Timer A (INVITE retransmission, doubles without cap).
    public var timerA: Duration { t1 }
    public var timerB: Duration { t1 * 64 }
    public func timerD(reliable: Bool) -> Duration { reliable ? .zero : max(timerDMinimum, t1 * 64) }
    /// Initial Timer E (non-INVITE retransmission, doubles up to T2).
    public var timerE: Duration { t1 }
    public var timerF: Duration { t1 * 64 }
    /// Initial Timer G (INVITE final response retransmission, doubles up to T2).
    public var timerG: Duration { t1 }
    public var timerH: Duration { t1 * 64 }
    public func timerI(reliable: Bool) -> Duration { reliable ? .zero : t4 }
    public func timerJ(reliable: Bool) -> Duration { reliable ? .zero : t1 * 64 }
    public func timerK(reliable: Bool) -> Duration { reliable ? .zero : t4 }
    public var timerL: Duration { t1 * 64 }
    public var timerM: Duration { t1 * 64 }

    /// The next E/G interval: doubled, capped at T2.
    public func doubledCapped(_ interval: Duration) -> Duration { min(interval * 2, t2) }
}
