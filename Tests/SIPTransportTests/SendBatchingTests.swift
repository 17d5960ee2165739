#if canImport(Glibc)
import Glibc
#endif
import Logging
import NIOCore
import NIOPosix
import SIPCore
import SIPTransport
import Testing

/// `batchingSends` holds UDP sends made inside it and flushes them together when it returns (the
/// answers to a group commit leave in one `sendmmsg`); outside it a send leaves at once.
/// A real UDP socket on 127.0.0.1 receives what the transport sends.
@Suite struct SendBatchingTests {
    /// A plain UDP socket on 127.0.0.1 with a receive timeout; closed by the caller.
    final class Receiver: Sendable {
        let fd: Int32
        let port: Int
        init() throws {
            let fd = socket(AF_INET, Int32(SOCK_DGRAM.rawValue), 0)
            var addr = sockaddr_in()
            addr.sin_family = sa_family_t(AF_INET)
            addr.sin_addr.s_addr = inet_addr("127.0.0.1")
            addr.sin_port = 0
            let bound = withUnsafePointer(to: &addr) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
            }
            #expect(bound == 0)
            var len = socklen_t(MemoryLayout<sockaddr_in>.size)
            _ = withUnsafeMutablePointer(to: &addr) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &len) }
            }
            var timeout = timeval(tv_sec: 5, tv_usec: 0)
            setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
            self.fd = fd
            self.port = Int(UInt16(bigEndian: addr.sin_port))
        }
        /// One datagram, waiting up to the timeout (`wait: false`: only if one is queued already).
        func receive(wait: Bool = true) -> String? {
            var buffer = [UInt8](repeating: 0, count: 2048)
            let n = recv(fd, &buffer, buffer.count, wait ? 0 : Int32(MSG_DONTWAIT))
            return n > 0 ? String(decoding: buffer[..<n], as: UTF8.self) : nil
        }
        /// One datagram and the port it came from, waiting up to the timeout.
        func receiveWithSource() -> (text: String, port: Int)? {
            var buffer = [UInt8](repeating: 0, count: 2048)
            var from = sockaddr_in()
            var length = socklen_t(MemoryLayout<sockaddr_in>.size)
            let n = withUnsafeMutablePointer(to: &from) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { recvfrom(fd, &buffer, buffer.count, 0, $0, &length) }
            }
            guard n > 0 else { return nil }
            return (String(decoding: buffer[..<n], as: UTF8.self), Int(UInt16(bigEndian: from.sin_port)))
        }
        deinit { close(fd) }
    }

    @Test func sendsInsideABatchLeaveTogetherWhenItEnds() async throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let loop = group.next()
        let transport = SIPTransportLayer(eventLoop: loop, settings: .init(bindAddress: "127.0.0.1", udpPort: 0, tcpPort: nil, tlsPort: nil),
                                          logger: Logger(label: "test"))
        try await transport.start().get()
        let receiver = try Receiver()
        let peer = SIPEndpoint(transport: .udp, address: try SocketAddress(ipAddress: "127.0.0.1", port: receiver.port))

        // Inside the batch nothing has left yet; all three leave when it ends, in order.
        let heldInside = try await loop.submit {
            var seen: [String] = []
            transport.batchingSends {
                for i in 1...3 { transport.send(Array("held \(i)".utf8), to: peer) }
                // Same thread, socket unflushed: the receiver has nothing queued.
                if let early = receiver.receive(wait: false) { seen.append(early) }
            }
            return seen
        }.get()
        #expect(heldInside.isEmpty)
        #expect(receiver.receive() == "held 1")
        #expect(receiver.receive() == "held 2")
        #expect(receiver.receive() == "held 3")

        // Nested batches flush once, when the outermost ends; a send outside any batch leaves at once.
        let nestedInside = try await loop.submit {
            var seen: [String] = []
            transport.batchingSends {
                transport.batchingSends { transport.send(Array("inner".utf8), to: peer) }
                if let early = receiver.receive(wait: false) { seen.append(early) }
            }
            transport.send(Array("alone".utf8), to: peer)
            return seen
        }.get()
        #expect(nestedInside.isEmpty)
        #expect(receiver.receive() == "inner")
        #expect(receiver.receive() == "alone")

        try await transport.close().get()
        try await group.shutdownGracefully()
    }
}

/// The IPv4 text of an endpoint matches the system's formatting; IPv6 keeps the general path.
@Suite struct EndpointTextTests {
    @Test func ipv4TextMatchesInetNtop() throws {
        var rng = SystemRandomNumberGenerator()
        var addresses = ["0.0.0.0", "127.0.0.1", "255.255.255.255", "10.0.0.9", "192.168.100.10", "1.22.103.4"]
        for _ in 0..<500 { addresses.append((0..<4).map { _ in String(Int.random(in: 0...255, using: &rng)) }.joined(separator: ".")) }
        for text in addresses {
            let address = try SocketAddress(ipAddress: text, port: 5060)
            let endpoint = SIPEndpoint(transport: .udp, address: address)
            #expect(endpoint.ipAddress == address.ipAddress, "\(text)")
            #expect(endpoint.ipAddress == text)
        }
        let v6 = SIPEndpoint(transport: .tcp, address: try SocketAddress(ipAddress: "2001:db8::1", port: 5060))
        #expect(v6.ipAddress == "2001:db8::1")
        #expect(v6.description == "tcp:[2001:db8::1]:5060")
    }
}

/// Requests answered before parsing (the overload path) get their answer from a read batch, and the
/// transport's count of time spent refusing moves (it feeds the load monitor's cost split); the
/// delegate never sees them parsed. Every answer leaves from the SIP port (symmetric response routing,
/// RFC 3581), whether the refusal thread sends it, the loop sends it because that thread's queue is
/// full (limit 0), or there is no such thread (one core).
@Suite struct EarlyAnswerTests {
    final class Refuser: SIPTransportDelegate, @unchecked Sendable {
        var parsed = 0
        var glanced = 0
        func transport(_ transport: SIPTransportLayer, received message: SIPMessage, from source: SIPEndpoint) { parsed += 1 }
        func transport(_ transport: SIPTransportLayer, rejected error: SIPParseError, from source: SIPEndpoint) { parsed += 1 }
        func transport(_ transport: SIPTransportLayer, answerBeforeParsing glance: RequestGlance, from source: SIPEndpoint) -> [UInt8]? {
            glanced += 1
            return glance.response(StatelessAnswer(status: 503, reason: "Service Unavailable", extraHeaders: [("Retry-After", "2")]))
        }
    }

    @Test(arguments: [(true, 4096), (true, 0), (false, 4096)])
    func refusedRequestsAreAnsweredAndTheirCostCounted(offload: Bool, queueLimit: Int) async throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let loop = group.next()
        let transport = SIPTransportLayer(eventLoop: loop, settings: .init(bindAddress: "127.0.0.1", udpPort: 0, tcpPort: nil, tlsPort: nil,
                                                                           offloadRefusals: offload, refusalQueueLimit: queueLimit),
                                          logger: Logger(label: "test"))
        let refuser = Refuser()
        try await loop.submit { transport.delegate = refuser }.get()
        try await transport.start().get()
        let port = try #require(try await loop.submit { transport.boundAddresses[.udp]?.port }.get())
        let client = try SendBatchingTests.Receiver()
        var to = sockaddr_in()
        to.sin_family = sa_family_t(AF_INET)
        to.sin_addr.s_addr = inet_addr("127.0.0.1")
        to.sin_port = in_port_t(UInt16(port).bigEndian)
        let count = 20
        for i in 0..<count {
            let request = Array(("REGISTER sip:example.com SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:\(client.port);branch=z9hG4bKe\(i)\r\n"
                + "From: <sip:a@example.com>;tag=f\(i)\r\nTo: <sip:a@example.com>\r\nCall-ID: early\(i)\r\n"
                + "CSeq: 1 REGISTER\r\nContent-Length: 0\r\n\r\n").utf8)
            let sent = withUnsafePointer(to: &to) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    sendto(client.fd, request, request.count, 0, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
                }
            }
            #expect(sent == request.count)
        }
        var answers: [String] = []
        for _ in 0..<count {
            guard let (text, from) = client.receiveWithSource() else { break }
            #expect(from == port, "answer sent from port \(from), not the SIP port \(port)")
            answers.append(text)
        }
        #expect(answers.count == count)
        #expect(answers.allSatisfy { $0.hasPrefix("SIP/2.0 503 Service Unavailable\r\n") && $0.contains("Retry-After: 2\r\n") })
        // Each answer once: the Call-IDs of the 503s are those of the requests.
        #expect(Set(answers.compactMap { $0.split(separator: "\r\n").first { $0.hasPrefix("Call-ID:") } }).count == count)
        let (parsed, glanced, refusing, offloaded) = try await loop.submit {
            (refuser.parsed, refuser.glanced, transport.preParseNanoseconds, transport.refusalsOffloaded)
        }.get()
        #expect(parsed == 0 && glanced == count)
        #expect(refusing > 0)
        #expect(offloaded == (offload && queueLimit > 0 ? count : 0))
        try await transport.close().get()
        try await group.shutdownGracefully()
    }

    /// The SIP UDP socket is created by the transport itself when refusals have their own thread: a
    /// port already taken must still fail the start with the system's reason, and leave nothing bound.
    @Test(arguments: [true, false])
    func aTakenPortFailsTheStartWithTheReason(offload: Bool) async throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let loop = group.next()
        let first = SIPTransportLayer(eventLoop: loop, settings: .init(bindAddress: "127.0.0.1", udpPort: 0, tcpPort: nil, tlsPort: nil),
                                      logger: Logger(label: "test"))
        try await first.start().get()
        let port = try #require(try await loop.submit { first.boundAddresses[.udp]?.port }.get())
        let second = SIPTransportLayer(eventLoop: loop, settings: .init(bindAddress: "127.0.0.1", udpPort: port, tcpPort: nil, tlsPort: nil,
                                                                        offloadRefusals: offload),
                                       logger: Logger(label: "test"))
        do {
            try await second.start().get()
            Issue.record("a second transport bound UDP port \(port)")
        } catch {
            #expect("\(error)".contains("Address already in use"), "\(error)")
        }
        try await second.close().get()
        try await first.close().get()
        try await group.shutdownGracefully()
    }
}
