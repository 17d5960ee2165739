#if os(Linux)
import Glibc
import NIOCore

/// The SIP UDP socket, created here rather than by NIO's bootstrap so that the refusal thread can
/// have a duplicate of its descriptor.
enum UDPSocket {
    /// A non-blocking, close-on-exec UDP socket bound to `address` (errors name the call that failed).
    static func bound(to address: SocketAddress) throws -> CInt {
        let family: CInt
        switch address {
        case .v4: family = AF_INET
        case .v6: family = AF_INET6
        default: throw IOError(errnoCode: EAFNOSUPPORT, reason: "socket")
        }
        let fd = socket(family, CInt(SOCK_DGRAM.rawValue) | CInt(SOCK_NONBLOCK.rawValue) | CInt(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw IOError(errnoCode: errno, reason: "socket") }
        let rc = withSockAddr(address) { Glibc.bind(fd, $0, $1) } ?? -1
        guard rc == 0 else {
            let error = errno
            close(fd)
            throw IOError(errnoCode: error, reason: "bind to \(address)")
        }
        return fd
    }

    /// Runs `body` with the libc form of an IPv4 or IPv6 address (nil for other kinds).
    static func withSockAddr<R>(_ address: SocketAddress, _ body: (UnsafePointer<sockaddr>, socklen_t) -> R) -> R? {
        switch address {
        case .v4(let v4):
            var raw = v4.address
            return withUnsafePointer(to: &raw) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { body($0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
            }
        case .v6(let v6):
            var raw = v6.address
            return withUnsafePointer(to: &raw) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { body($0, socklen_t(MemoryLayout<sockaddr_in6>.size)) }
            }
        default:
            return nil
        }
    }
}
#endif
