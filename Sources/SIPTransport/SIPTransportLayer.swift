import Logging
import NIOCore
import NIOPosix
import NIOSSL
import SIPCore

/// Receives what the transports read. Called on the SIP event loop only.
public protocol SIPTransportDelegate: AnyObject {
    /// A well-formed message. Requests already carry `received`/`rport` in their top Via.
    func transport(_ transport: SIPTransportLayer, received message: SIPMessage, from source: SIPEndpoint)
    /// A message that framed but did not parse; the delegate may answer it (e.g. 400) when `error.request` allows.
    func transport(_ transport: SIPTransportLayer, rejected error: SIPParseError, from source: SIPEndpoint)
    /// Before the full parse: the stateless response to send instead of handling the request (e.g. 503 +
    /// Retry-After under overload), an empty array when the delegate answered it itself (e.g. a
    /// retransmission), or nil to handle it.
    func transport(_ transport: SIPTransportLayer, answerBeforeParsing glance: RequestGlance, from source: SIPEndpoint) -> [UInt8]?
}

extension SIPTransportDelegate {
    public func transport(_ transport: SIPTransportLayer, answerBeforeParsing glance: RequestGlance, from source: SIPEndpoint) -> [UInt8]? { nil }
}

/// Listening sockets and open flows for UDP, TCP and TLS, all on one event loop.
///
/// Every method must be called on `eventLoop`; all state is confined to it (hence `@unchecked Sendable`:
/// NIO closures are `@Sendable`, but they only ever run on this loop).
public final class SIPTransportLayer: @unchecked Sendable {
    public struct Settings: Sendable {
        public var bindAddress: String
        public var udpPort: Int?
        public var tcpPort: Int?
        public var tlsPort: Int?
        public var maxMessageSize: Int
        public var idleTimeout: TimeAmount
        public var tlsContext: NIOSSLContext?
        /// UDP refusals (answers before parsing) leave from a thread of their own (``RefusalSender``):
        /// by default when there is more than one core to run it on (Linux only).
        public var offloadRefusals: Bool
        /// Refusals that may wait for that thread before the loop sends them itself.
        public var refusalQueueLimit: Int
        /// The SIP UDP socket's receive buffer, in bytes (see ``ReceiveBufferCheck``).
        public var udpReceiveBuffer: Int

        public init(bindAddress: String = "0.0.0.0", udpPort: Int? = 5060, tcpPort: Int? = 5060, tlsPort: Int? = 5061,
                    maxMessageSize: Int = 65536, idleTimeout: TimeAmount = .seconds(600), tlsContext: NIOSSLContext? = nil,
                    offloadRefusals: Bool = System.coreCount > 1, refusalQueueLimit: Int = 4096,
                    udpReceiveBuffer: Int = 12 << 20) {
            self.bindAddress = bindAddress
            self.udpPort = udpPort
            self.tcpPort = tcpPort
            self.tlsPort = tlsPort
            self.maxMessageSize = maxMessageSize
            self.idleTimeout = idleTimeout
            self.tlsContext = tlsContext
            self.offloadRefusals = offloadRefusals
            self.refusalQueueLimit = refusalQueueLimit
            self.udpReceiveBuffer = udpReceiveBuffer
        }
    }

    struct FlowKey: Hashable {
        var transport: SIPTransportProtocol
        var address: SocketAddress
    }

    public let eventLoop: EventLoop
    public let settings: Settings
    public weak var delegate: SIPTransportDelegate?
    let logger: Logger

    private var udpChannel: Channel?
    /// Datagrams read so far in the read batch being handled (0 between batches). While a batch is
    /// open, datagrams written go out together when it ends (one sendmmsg instead of a sendmsg each;
    /// the answers to a batch wait for at most the batch itself).
    private var udpBatchSize = 0
    private var udpFlushPending = false
    /// Nesting depth of ``batchingSends(_:)``.
    private var heldSends = 0
    /// Measures how long datagrams wait in the UDP socket (see ``QueueProbe``), sending from its own socket.
    private var queueProbe = QueueProbe()
    private var probeChannel: Channel?
    private var probeTarget: SocketAddress?
    /// Time spent answering requests before parsing (refusals, retransmissions), nanoseconds so far:
    /// the answering itself, and their share of the read batch's own cost (see ``endUDPBatch()``).
    public private(set) var preParseNanoseconds: UInt64 = 0
    /// The read batch in progress: when its first datagram arrived, the time its datagrams spent in
    /// `deliver`, and how many of them were answered before parsing.
    private var batchStarted = NIODeadline.uptimeNanoseconds(0)
    private var batchDelivering: Int64 = 0
    private var batchAnsweredEarly = 0
    #if os(Linux)
    /// Sends UDP refusals off the loop (nil: the loop sends them, as on one core).
    private var refusalSender: RefusalSender?
    #endif
    /// The read batch's refusals, handed to `refusalSender` when the batch ends.
    private var batchRefusals: [RefusalDatagram] = []
    /// Refusals the refusal thread sent so far (the rest of them the loop sent itself).
    public private(set) var refusalsOffloaded = 0
    /// What the SIP UDP socket's receive buffer came out as (nil before it is bound, or off Linux).
    public private(set) var receiveBuffer: ReceiveBufferCheck?
    private var listeners: [Channel] = []
    private var connections: [Int: Channel] = [:]
    private var flows: [FlowKey: Int] = [:]
    private var pendingConnects: [FlowKey: [ByteBuffer]] = [:]
    private var nextConnectionID = 1
    private let clientTLSContext: NIOSSLContext?

    /// Bound addresses after `start()` (the real ports when 0 was asked).
    public private(set) var boundAddresses: [SIPTransportProtocol: SocketAddress] = [:]

    public init(eventLoop: EventLoop, settings: Settings, logger: Logger) {
        self.eventLoop = eventLoop
        self.settings = settings
        self.logger = logger
        var clientConfig = TLSConfiguration.makeClientConfiguration()
        // Lab peers (softphones, trunks in a classroom) present self-signed certificates.
        clientConfig.certificateVerification = .none
        self.clientTLSContext = try? NIOSSLContext(configuration: clientConfig)
    }

    public var openConnectionCount: Int { connections.count }

    // MARK: start and stop

    static let udpVectorRead = 16
    static let udpReadsPerBatch = 2

    public func start() -> EventLoopFuture<Void> {
        var futures: [EventLoopFuture<Void>] = []
        if let port = settings.udpPort {
            // No SO_REUSEADDR on UDP: it would let another local process bind the same port and steal traffic.
            // The receive buffer is set once bound (``sizeReceiveBuffer``): SO_RCVBUF here would undo
            // SO_RCVBUFFORCE there.
            let bootstrap = DatagramBootstrap(group: eventLoop)
                // recvmmsg: up to 16 datagrams per system call, each slot able to hold the largest
                // message allowed (+1 byte, so an oversized one is seen as such, not cut to fit).
                .channelOption(.datagramVectorReadMessageCount, value: Self.udpVectorRead)
                .channelOption(.recvAllocator, value: FixedSizeRecvByteBufferAllocator(
                    capacity: (max(settings.maxMessageSize, 2048) + 1) * Self.udpVectorRead))
                .channelOption(.maxMessagesPerRead, value: UInt(Self.udpReadsPerBatch))
                .channelInitializer { [self] channel in
                    channel.eventLoop.makeCompletedFuture {
                        try channel.pipeline.syncOperations.addHandler(SIPDatagramHandler(transport: self))
                    }
                }
            futures.append(bindUDP(bootstrap, port: port).flatMap { [self] channel in
                udpChannel = channel
                boundAddresses[.udp] = channel.localAddress
                return sizeReceiveBuffer(of: channel).flatMap { [self] in startQueueProbe(to: channel.localAddress) }
            })
        }
        if let port = settings.tcpPort {
            futures.append(listen(.tcp, port: port))
        }
        if let port = settings.tlsPort, settings.tlsContext != nil {
            futures.append(listen(.tls, port: port))
        }
        return EventLoopFuture.andAllSucceed(futures, on: eventLoop)
    }

    /// Binds the SIP UDP socket: created here when refusals get their own thread (it needs the
    /// descriptor), else by NIO.
    private func bindUDP(_ bootstrap: DatagramBootstrap, port: Int) -> EventLoopFuture<Channel> {
        #if os(Linux)
        if settings.offloadRefusals {
            let fd: CInt
            do {
                fd = try UDPSocket.bound(to: SocketAddress.makeAddressResolvingHost(settings.bindAddress, port: port))
            } catch {
                return eventLoop.makeFailedFuture(error)
            }
            return bootstrap.withBoundSocket(fd).flatMapThrowing { [self] channel in
                do {
                    refusalSender = try RefusalSender(socket: fd, limit: settings.refusalQueueLimit, logger: logger)
                } catch {
                    logger.warning("refusals stay on the SIP thread: \(error)")
                }
                return channel
            }
        }
        #endif
        return bootstrap.bind(host: settings.bindAddress, port: port)
    }

    /// Sets the SIP UDP socket's receive buffer: SO_RCVBUFFORCE (past net.core.rmem_max, with
    /// CAP_NET_ADMIN), else SO_RCVBUF; logs what came of it, as a warning when the kernel capped it.
    private func sizeReceiveBuffer(of channel: Channel) -> EventLoopFuture<Void> {
        let size = settings.udpReceiveBuffer
        #if os(Linux)
        let force = ChannelOptions.Types.SocketOption(level: .socket, name: .init(rawValue: SO_RCVBUFFORCE))
        let set = channel.setOption(force, value: SocketOptionValue(size)).map { true }.flatMapError { _ in
            channel.setOption(.socketOption(.so_rcvbuf), value: SocketOptionValue(size)).map { false }
        }
        #else
        let set = channel.setOption(.socketOption(.so_rcvbuf), value: SocketOptionValue(size)).map { false }
        #endif
        return set.flatMap { forced in
            channel.getOption(.socketOption(.so_rcvbuf)).map { [self] granted in
                let check = ReceiveBufferCheck(requested: size, granted: Int(granted), forced: forced,
                                               rmemMax: ReceiveBufferCheck.readRmemMax())
                receiveBuffer = check
                if check.isCapped { logger.warning("\(check.message)") } else { logger.info("\(check.message)") }
            }
        }.recover { [self] error in
            logger.warning("SIP UDP receive buffer left at the system default: \(error)")
        }
    }

    /// The queue probe's socket: on the SIP socket's address (loopback when that is a wildcard), so the
    /// probes never leave the host. Without it the element simply has no queue figure.
    private func startQueueProbe(to bound: SocketAddress?) -> EventLoopFuture<Void> {
        guard let bound, let port = bound.port else { return eventLoop.makeSucceededVoidFuture() }
        let host: String
        switch bound {
        case .v4 where bound.ipAddress == "0.0.0.0": host = "127.0.0.1"
        case .v6 where bound.ipAddress == "::": host = "::1"
        default: host = bound.ipAddress ?? "127.0.0.1"
        }
        return DatagramBootstrap(group: eventLoop).bind(host: host, port: 0).flatMapThrowing { [self] channel in
            probeChannel = channel
            probeTarget = try SocketAddress(ipAddress: host, port: port)
        }.recover { [self] error in
            logger.warning("no UDP queue probe: \(error)")
        }
    }

    private func listen(_ transport: SIPTransportProtocol, port: Int) -> EventLoopFuture<Void> {
        let bootstrap = ServerBootstrap(group: eventLoop, childGroup: eventLoop)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .serverChannelOption(.backlog, value: 1024)
            .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
            .childChannelInitializer { [self] channel in
                channel.eventLoop.makeCompletedFuture {
                    try addStreamHandlers(to: channel, transport: transport, server: true, hostname: nil)
                }
            }
        return bootstrap.bind(host: settings.bindAddress, port: port).map { [self] channel in
            listeners.append(channel)
            boundAddresses[transport] = channel.localAddress
        }
    }

    private func addStreamHandlers(to channel: Channel, transport: SIPTransportProtocol, server: Bool, hostname: String?) throws {
        let ops = channel.pipeline.syncOperations
        if transport == .tls {
            if server, let ctx = settings.tlsContext {
                try ops.addHandler(NIOSSLServerHandler(context: ctx))
            } else if !server, let ctx = clientTLSContext {
                try ops.addHandler(NIOSSLClientHandler(context: ctx, serverHostname: hostname))
            }
        }
        try ops.addHandler(IdleStateHandler(allTimeout: settings.idleTimeout))
        try ops.addHandler(SIPStreamHandler(transport: self, protocol: transport, maxMessageSize: settings.maxMessageSize))
    }

    public func close() -> EventLoopFuture<Void> {
        let all = listeners + Array(connections.values) + [udpChannel, probeChannel].compactMap { $0 }
        listeners.removeAll()
        udpChannel = nil
        #if os(Linux)
        refusalSender?.shutdown()
        refusalSender = nil
        #endif
        probeChannel = nil
        let closes = all.map { $0.close().recover { _ in } }
        return EventLoopFuture.andAllComplete(closes, on: eventLoop)
    }

    // MARK: flows

    func register(connection channel: Channel, transport: SIPTransportProtocol) -> SIPEndpoint? {
        guard let remote = channel.remoteAddress else { return nil }
        let id = nextConnectionID
        nextConnectionID += 1
        connections[id] = channel
        let key = FlowKey(transport: transport, address: remote)
        flows[key] = id
        if let queued = pendingConnects.removeValue(forKey: key) {
            for buffer in queued { channel.write(buffer, promise: nil) }
            channel.flush()
        }
        return SIPEndpoint(transport: transport, address: remote, connectionID: id)
    }

    func unregister(_ endpoint: SIPEndpoint) {
        guard let id = endpoint.connectionID else { return }
        connections[id] = nil
        let key = FlowKey(transport: endpoint.transport, address: endpoint.address)
        if flows[key] == id { flows[key] = nil }
    }

    /// True when the flow a message arrived on is still open.
    public func isOpen(_ endpoint: SIPEndpoint) -> Bool {
        guard endpoint.transport.isReliable else { return true }
        if let id = endpoint.connectionID { return connections[id] != nil }
        return flows[FlowKey(transport: endpoint.transport, address: endpoint.address)] != nil
    }

    // MARK: inbound (called by the handlers)

    func udpDatagramRead() {
        if udpBatchSize == 0 {
            batchStarted = .now()
            batchDelivering = 0
            batchAnsweredEarly = 0
        }
        udpBatchSize += 1
    }

    /// Sends the next queue probe into the back of the UDP socket's queue (call every sample interval).
    public func sendQueueProbe() {
        guard let channel = probeChannel, let target = probeTarget else { return }
        let bytes = queueProbe.makeProbe(now: Self.seconds(.now()))
        var buffer = channel.allocator.buffer(capacity: bytes.count)
        buffer.writeBytes(bytes)
        channel.writeAndFlush(AddressedEnvelope(remoteAddress: target, data: buffer), promise: nil)
    }

    /// How long datagrams have waited in the UDP socket since the last call, in seconds (0 without UDP).
    public func takeQueueDelay() -> Double {
        queueProbe.takeDelay(now: Self.seconds(.now()))
    }

    /// True for one of our own queue probes (handled here, not SIP).
    func consumeQueueProbe(_ bytes: ByteBufferView, from source: SocketAddress) -> Bool {
        guard bytes.count == QueueProbe.length, source == probeChannel?.localAddress else { return false }
        return queueProbe.receive(bytes, now: Self.seconds(.now()))
    }

    /// A monotonic instant as seconds of uptime: the clock of the queue probe and of the load monitor.
    public static func seconds(_ d: NIODeadline) -> Double { Double(d.uptimeNanoseconds) / 1e9 }

    /// Runs `body` with UDP sends held and flushes them together afterwards (one `sendmmsg` for all):
    /// for work that answers many requests at once outside a read batch, e.g. the REGISTERs whose
    /// group commit just completed.
    public func batchingSends(_ body: () -> Void) {
        heldSends += 1
        body()
        heldSends -= 1
        if heldSends == 0, udpBatchSize == 0, udpFlushPending {
            udpFlushPending = false
            udpChannel?.flush()
        }
    }

    func endUDPBatch() {
        if !batchRefusals.isEmpty { handOverRefusals() }
        let datagrams = udpBatchSize
        udpBatchSize = 0
        if udpFlushPending, heldSends == 0 {
            udpFlushPending = false
            udpChannel?.flush()
        }
        // What the batch cost beyond `deliver` (NIO's second recvmmsg, building each datagram's
        // envelope and address, the pipeline, the sendmmsg of the answers and the kernel's delivery of
        // them) is per datagram: the early answers' share of it is part of what refusing costs. Timing
        // only the glance and the 503 saw a sixth of it (3 % "refusing" at 3x capacity where the thread
        // spent ~25 %), the rest was taken for the cost of admissions, and the estimate rose as the
        // admissions fell, cutting the rate further.
        if datagrams > 0, batchAnsweredEarly > 0 {
            let overhead = (NIODeadline.now() - batchStarted).nanoseconds - batchDelivering
            if overhead > 0 {
                preParseNanoseconds &+= UInt64(overhead) * UInt64(batchAnsweredEarly) / UInt64(datagrams)
            }
        }
    }

    /// The batch's refusals go to the refusal thread; the loop sends them itself when there is none or
    /// its queue is full.
    private func handOverRefusals() {
        let refusals = batchRefusals
        batchRefusals = []
        #if os(Linux)
        if let sender = refusalSender, sender.take(refusals) {
            refusalsOffloaded += refusals.count
            return
        }
        #endif
        for refusal in refusals { send(refusal.bytes, to: SIPEndpoint(transport: .udp, address: refusal.address)) }
    }

    func deliver(_ bytes: [UInt8], from source: SIPEndpoint) {
        let started = NIODeadline.now()
        let inBatch = udpBatchSize > 0
        if let glance = RequestGlance(bytes), let answer = delegate?.transport(self, answerBeforeParsing: glance, from: source) {
            // Answered before parsing: a fraction of what serving would cost.
            if !answer.isEmpty {
                if inBatch, source.transport == .udp {
                    batchRefusals.append(RefusalDatagram(address: source.address, bytes: answer))
                } else {
                    send(answer, to: source)
                }
            }
            let spent = max(0, (NIODeadline.now() - started).nanoseconds)
            preParseNanoseconds &+= UInt64(spent)
            if inBatch {
                batchDelivering += spent
                batchAnsweredEarly += 1
            }
            return
        }
        defer { if inBatch { batchDelivering += (NIODeadline.now() - started).nanoseconds } }
        do {
            var message = try SIPParser.parse(bytes, maxMessageSize: settings.maxMessageSize)
            if case .request(var request) = message {
                ResponseRouting.stamp(&request, sourceIP: source.ipAddress, sourcePort: source.port)
                message = .request(request)
            }
            delegate?.transport(self, received: message, from: source)
        } catch {
            var error = error
            // The answer to a malformed request is routed like any other response: stamp its Via too.
            if var request = error.request {
                ResponseRouting.stamp(&request, sourceIP: source.ipAddress, sourcePort: source.port)
                error.request = request
            }
            logger.debug("rejected message", metadata: ["from": "\(source)", "reason": "\(error.reason)"])
            delegate?.transport(self, rejected: error, from: source)
        }
    }

    // MARK: outbound

    /// Datagrams the kernel dropped so far because the UDP receive buffer was full (Linux SO_MEMINFO):
    /// excess that never reached the loop.
    public func udpReceiveDrops(_ body: @escaping @Sendable (_ drops: UInt32) -> Void) {
        #if os(Linux)
        guard let provider = udpChannel as? SocketOptionProvider else { return }
        typealias MemInfo = (UInt32, UInt32, UInt32, UInt32, UInt32, UInt32, UInt32, UInt32, UInt32)
        let future: EventLoopFuture<MemInfo> = provider.unsafeGetSocketOption(level: SocketOptionLevel(SOL_SOCKET),
                                                                              name: SocketOptionName(55))  // SO_MEMINFO
        // SK_MEMINFO_DROPS = 8 (linux/sock_diag.h)
        future.whenSuccess { m in body(m.8) }
        #endif
    }

    /// Sends a message to an endpoint, reusing an open flow to it when there is one (connection reuse).
    public func send(_ message: SIPMessage, to endpoint: SIPEndpoint) {
        send(message.serialized(), to: endpoint)
    }

    public func send(_ bytes: [UInt8], to endpoint: SIPEndpoint) {
        var buffer = ByteBufferAllocator().buffer(capacity: bytes.count)
        buffer.writeBytes(bytes)
        send(buffer, to: endpoint)
    }

    public func send(_ buffer: ByteBuffer, to endpoint: SIPEndpoint) {
        switch endpoint.transport {
        case .udp:
            guard let channel = udpChannel else { return }
            let envelope = AddressedEnvelope(remoteAddress: endpoint.address, data: buffer)
            if udpBatchSize > 0 || heldSends > 0 {
                channel.write(envelope, promise: nil)
                udpFlushPending = true
            } else {
                channel.writeAndFlush(envelope, promise: nil)
            }
        case .tcp, .tls:
            if let id = endpoint.connectionID, let channel = connections[id] {
                channel.writeAndFlush(buffer, promise: nil)
                return
            }
            let key = FlowKey(transport: endpoint.transport, address: endpoint.address)
            if let id = flows[key], let channel = connections[id] {
                channel.writeAndFlush(buffer, promise: nil)
                return
            }
            connect(key, first: buffer)
        }
    }

    /// Sends a response where RFC 3261 §18.2.2 / RFC 3581 say, given where its request came from.
    public func send(_ response: SIPResponse, requestSource: SIPEndpoint) {
        switch ResponseRouting.destination(for: response, requestSource: requestSource) {
        case .connection(let endpoint, let fallbackHost, let fallbackPort):
            if isOpen(endpoint) || fallbackHost == nil {
                send(.response(response), to: endpoint)
            } else if let host = fallbackHost, let port = fallbackPort {
                send(.response(response), host: host, port: port, transport: endpoint.transport)
            }
        case .address(let transport, let host, let port):
            send(.response(response), host: host, port: port, transport: transport)
        }
    }

    /// Sends to a host given as text. IP literals go straight out; names are resolved off the loop.
    public func send(_ message: SIPMessage, host: String, port: Int, transport: SIPTransportProtocol) {
        let bare = host.hasPrefix("[") && host.hasSuffix("]") ? String(host.dropFirst().dropLast()) : host
        if let address = try? SocketAddress(ipAddress: bare, port: port) {
            send(message, to: SIPEndpoint(transport: transport, address: address))
            return
        }
        let loop = eventLoop
        NIOThreadPool.singleton.runIfActive(eventLoop: loop) {
            try SocketAddress.makeAddressResolvingHost(bare, port: port)
        }.whenComplete { [self] result in
            switch result {
            case .success(let address): send(message, to: SIPEndpoint(transport: transport, address: address))
            case .failure(let error): logger.info("cannot resolve \(bare): \(error)")
            }
        }
    }

    private func connect(_ key: FlowKey, first buffer: ByteBuffer) {
        if pendingConnects[key] != nil {
            pendingConnects[key]!.append(buffer)
            return
        }
        pendingConnects[key] = [buffer]
        let transport = key.transport
        ClientBootstrap(group: eventLoop)
            .channelOption(.socketOption(.tcp_nodelay), value: 1)
            .connectTimeout(.seconds(10))
            .channelInitializer { [self] channel in
                channel.eventLoop.makeCompletedFuture {
                    try addStreamHandlers(to: channel, transport: transport, server: false, hostname: nil)
                }
            }
            .connect(to: key.address)
            .whenFailure { [self] error in
                logger.info("connect to \(key.address) failed: \(error)")
                pendingConnects[key] = nil
            }
    }
}
