import NIOCore

/// A refusal and where it goes.
struct RefusalDatagram: Sendable {
    var address: SocketAddress
    var bytes: [UInt8]
}

#if os(Linux)
import Glibc
import Logging
import NIOConcurrencyHelpers
import NIOPosix

/// Sends the stateless refusals of the SIP UDP socket (503 + Retry-After under overload) from a thread
/// of its own, on a duplicate of the socket's descriptor, so they leave from the SIP port like any answer.
///
/// Why: on the SIP thread a refusal costs ~9 us, and ~40 % of it is the send (sendmmsg, NIO's write
/// bookkeeping and, on loopback, the delivery into the peer's socket, which the kernel runs in the
/// sender's context). At 3x capacity two of every three requests are refused, so that share decides
/// how much of the core is left for the admitted ones (goodput <= (1 - 3r/c) / (1 - r/c) of capacity
/// for a refusal costing r and an admission c). Only refusals come here: a refused request has no
/// state, so nothing orders its answer against other messages; admitted traffic is never handed to
/// another thread. The loop hands over a read batch's refusals at once (one lock, at most one wake-up
/// per batch). When `limit` are already waiting (the other cores are busy too), `take` declines and
/// the loop sends them itself, as it did before: no answer is dropped for a full queue.
final class RefusalSender: Sendable {
    private let fd: CInt
    private let pool: NIOThreadPool
    private let limit: Int
    private let logger: Logger
    /// Datagrams handed over and not sent yet.
    private let waiting = NIOLockedValueBox(0)

    /// `socket`: the SIP UDP socket; a duplicate is kept, so closing the channel does not pull it away
    /// from a batch in flight.
    init(socket: CInt, limit: Int, logger: Logger) throws {
        let copy = fcntl(socket, F_DUPFD_CLOEXEC, 0)
        guard copy >= 0 else { throw IOError(errnoCode: errno, reason: "fcntl(F_DUPFD_CLOEXEC)") }
        fd = copy
        self.limit = limit
        self.logger = logger
        pool = NIOThreadPool(numberOfThreads: 1)
        pool.start()
    }

    /// Queues a read batch's refusals for the sending thread; false (nothing queued) when `limit`
    /// datagrams are already waiting.
    func take(_ batch: [RefusalDatagram]) -> Bool {
        let count = batch.count
        let queued = waiting.withLockedValue { waiting -> Bool in
            guard waiting + count <= limit else { return false }
            waiting += count
            return true
        }
        guard queued else { return false }
        pool.submit { [self] work in
            if work == .active {
                let (failed, error) = Self.send(batch, on: fd)
                // Like a datagram lost on the way: the client retransmits and is answered again.
                if failed > 0 { logger.debug("refusals not sent: \(failed) of \(count) (errno \(error))") }
            }
            waiting.withLockedValue { $0 -= count }
        }
        return true
    }

    /// Stops the thread after what is queued, then closes the duplicate descriptor.
    func shutdown() {
        let fd = self.fd
        pool.shutdownGracefully { _ in close(fd) }
    }

    /// sendto for each datagram; returns how many could not be sent and the last error. The descriptor
    /// shares the SIP socket's O_NONBLOCK: a full send buffer is waited for (up to 50 ms) rather than
    /// dropped at once.
    private static func send(_ batch: [RefusalDatagram], on fd: CInt) -> (failed: Int, errno: CInt) {
        var failed = 0
        var lastError: CInt = 0
        for datagram in batch {
            var tries = 0
            while true {
                let rc = UDPSocket.withSockAddr(datagram.address) { address, length in
                    datagram.bytes.withUnsafeBytes { sendto(fd, $0.baseAddress, $0.count, CInt(MSG_NOSIGNAL), address, length) }
                } ?? -1
                if rc >= 0 { break }
                let error = errno
                if error == EINTR { continue }
                if (error == EAGAIN || error == EWOULDBLOCK), tries == 0 {
                    tries += 1
                    var poller = pollfd(fd: fd, events: Int16(POLLOUT), revents: 0)
                    _ = poll(&poller, 1, 50)
                    continue
                }
                failed += 1
                lastError = error
                break
            }
        }
        return (failed, lastError)
    }
}
#endif
