import Foundation

/// What the SIP UDP socket's receive buffer came out as, against what was asked for.
///
/// Why it matters: under a flood the socket is the queue that overload control works against, and it
/// must hold the ~100-200 ms the controller needs to react. The 12 MB default (24 MB as the kernel
/// counts it) holds the bench's 3x flood's peaks; at 4 MB the kernel dropped ~2,000 datagrams a
/// second of it, follow-ups of admitted requests among them, which came back as retransmissions.
/// The memory is the kernel's, used only while a queue exists, not the process's RSS. Linux caps
/// `SO_RCVBUF` at `net.core.rmem_max`, 208 kB on a stock Debian 12, which holds ~300 REGISTERs: the
/// bench's 10,000/s step then lost 2,374 datagrams to kernel drops and failed. `SO_RCVBUFFORCE`
/// ignores that cap but needs CAP_NET_ADMIN, so the element tries it first and says so plainly when
/// neither got the size.
public struct ReceiveBufferCheck: Sendable, Equatable {
    /// Bytes asked for (`sip_udp_receive_buffer_kb`).
    public var requested: Int
    /// Bytes the kernel reports back (`getsockopt(SO_RCVBUF)`: on Linux twice the granted value, the
    /// other half being its bookkeeping allowance).
    public var granted: Int
    /// Whether `SO_RCVBUFFORCE` was accepted.
    public var forced: Bool
    /// `net.core.rmem_max` when it could be read.
    public var rmemMax: Int?

    public init(requested: Int, granted: Int, forced: Bool, rmemMax: Int?) {
        self.requested = requested
        self.granted = granted
        self.forced = forced
        self.rmemMax = rmemMax
    }

    /// Whether the kernel cut the size (it doubles what it grants, so full size reads back as 2x).
    public var isCapped: Bool { granted < 2 * requested }

    /// The start-up log line: a notice when the size was granted, a warning naming the fix when not.
    public var message: String {
        let how = forced ? "SO_RCVBUFFORCE" : "SO_RCVBUF"
        guard isCapped else {
            return "SIP UDP receive buffer: \(granted / 1024) kB (asked \(requested / 1024) kB, \(how))"
        }
        let limit = rmemMax.map { "net.core.rmem_max=\($0)" } ?? "net.core.rmem_max"
        return "SIP UDP receive buffer is only \(granted / 1024) kB of the \(2 * requested / 1024) kB wanted (sip_udp_receive_buffer_kb="
            + "\(requested / 1024)): \(limit) caps it and SO_RCVBUFFORCE needs CAP_NET_ADMIN. Under load the kernel will drop "
            + "datagrams before overload control can refuse them; raise it with `sysctl -w net.core.rmem_max=\(requested)` "
            + "or run as root"
    }

    /// `net.core.rmem_max` from procfs (nil where there is none).
    public static func readRmemMax(path: String = "/proc/sys/net/core/rmem_max") -> Int? {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { return nil }
        return Int(text.trimmingCharacters(in: .whitespacesAndNewlines))
    }
}
