/// How long datagrams wait in the UDP socket before the loop reads them, measured rather than guessed:
/// every sample the element sends itself a small datagram carrying a sequence number, from a socket of
/// its own, into the back of the SIP socket's queue; when the loop reads it, the time since it was sent
/// is what every datagram queued with it waited (CoDel's sojourn time). One still unread is a lower
/// bound of the queue ahead of it.
///
/// Why not the kernel's figures: SO_MEMINFO gives the queue in bytes of kernel memory, and Linux
/// releases a UDP socket's receive memory lazily (up to a quarter of the buffer, 2 MB for the element's
/// 8 MB, ~100 ms of reading) so a queue that size is invisible; runs of read batches coming back full
/// say a queue exists, not how long it is (near capacity they lasted half a second while datagrams
/// waited a few milliseconds). Sans-IO: the caller sends and receives the bytes and passes time in.
public struct QueueProbe: Sendable {
    /// "CWQP", the per-process token, the sequence number: 20 bytes that no SIP message, CRLF
    /// keep-alive or STUN packet starts with.
    static let magic: [UInt8] = Array("CWQP".utf8)
    static let length = 20
    /// Probes unread after this long are taken as dropped (a full buffer also drops them).
    public var lostAfter: Double = 2

    private let token: UInt64
    private var nextSequence: UInt64 = 1
    /// Probes sent and not read yet, oldest first: (sequence, send time in seconds).
    private var inFlight: [(sequence: UInt64, sent: Double)] = []
    /// The longest wait of a probe read since the last ``takeDelay(now:)``.
    private var longestRead = 0.0

    public init(token: UInt64 = UInt64.random(in: 1...UInt64.max)) {
        self.token = token
    }

    /// The next probe's bytes, sent at `now` (seconds on a monotonic clock).
    public mutating func makeProbe(now: Double) -> [UInt8] {
        let sequence = nextSequence
        nextSequence &+= 1
        inFlight.append((sequence, now))
        if inFlight.count > 256 { inFlight.removeFirst(inFlight.count - 256) }
        var bytes = Self.magic
        bytes.reserveCapacity(Self.length)
        for v in [token, sequence] { withUnsafeBytes(of: v.bigEndian) { bytes.append(contentsOf: $0) } }
        return bytes
    }

    /// Whether `bytes` is one of this element's probes; if so its wait is recorded (and the bytes must
    /// not be handled as SIP). Anything else, a forged or replayed probe included, returns false or is
    /// ignored.
    public mutating func receive<C: Collection<UInt8>>(_ bytes: C, now: Double) -> Bool {
        guard bytes.count == Self.length, bytes.starts(with: Self.magic) else { return false }
        var fields = bytes.dropFirst(Self.magic.count)
        func next() -> UInt64 {
            let v = fields.prefix(8).reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
            fields = fields.dropFirst(8)
            return v
        }
        guard next() == token else { return false }
        let sequence = next()
        guard let i = inFlight.firstIndex(where: { $0.sequence == sequence }) else { return true }
        longestRead = max(longestRead, max(0, now - inFlight[i].sent))
        // Datagrams leave the queue in order: older probes still listed were dropped.
        inFlight.removeFirst(i + 1)
        return true
    }

    /// How long datagrams have been waiting since the last call (seconds): the longest wait of a probe
    /// read meanwhile, or the age of the oldest still unread, whichever is longer.
    public mutating func takeDelay(now: Double) -> Double {
        inFlight.removeAll { now - $0.sent > lostAfter }
        let unread = inFlight.first.map { max(0, now - $0.sent) } ?? 0
        defer { longestRead = 0 }
        return max(longestRead, unread)
    }
}
