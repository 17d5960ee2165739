#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// CPU time consumed by the calling thread, in nanoseconds: the overload controller's measure of
/// how busy the SIP event loop is (it samples this on the loop thread itself).
enum ThreadCPUClock {
    static func now() -> UInt64? {
        var ts = timespec()
        guard clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts) == 0 else { return nil }
        return UInt64(ts.tv_sec) * 1_000_000_000 + UInt64(ts.tv_nsec)
    }
}
