import AutoConfig
import BGCF
import HSSAPI
import Hummingbird
import UnixSignals
import ServiceLifecycle
import DigestAuth
import HSS
import ICSCF
import IMSModel
import IMSStore
import PCSCF
import SCSCF
import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOSSL
import NIOPosix
import SIPCore
import SIPTransaction
import SIPTransport

/// Why the server could not start (port in use, unreadable certificate...). Printed as is.
public struct AIOStartupError: Error, CustomStringConvertible {
    public var description: String
    init(_ description: String) { self.description = description }
}

/// The whole cw-aio process: one event-loop group, the SIP stack on one loop of it, and the roles.
public final class AIOServer: Sendable {
    public let config: CWConfig
    let logger: Logger
    let group: MultiThreadedEventLoopGroup
    let sipLoop: EventLoop
    private let stackBox: NIOLockedValueBox<SIPStack?> = NIOLockedValueBox(nil)
    private let storeBox: NIOLockedValueBox<IMSStore?> = NIOLockedValueBox(nil)
    private let reloadTask: NIOLockedValueBox<Task<Void, Never>?> = NIOLockedValueBox(nil)
    private let feedBox: NIOLockedValueBox<ProvisioningFeed?> = NIOLockedValueBox(nil)
    private let trimTask: NIOLockedValueBox<RepeatedTask?> = NIOLockedValueBox(nil)
    /// Listeners still to come up (SIP, HSS API) before the start-up pages are released.
    private let startupPending = NIOLockedValueBox(2)
    private var provisioningFeed: ProvisioningFeed? {
        get { feedBox.withLockedValue { $0 } }
        set { feedBox.withLockedValue { $0 = newValue } }
    }

    /// SIP counters and gauges, served on /metrics.
    public let metrics = SIPMetrics()

    public init(config: CWConfig, logger: Logger) {
        self.config = config
        self.logger = logger
        self.group = MultiThreadedEventLoopGroup(numberOfThreads: config.resolvedEventLoopThreads)
        self.sipLoop = group.next()
    }

    /// Binds every listener and returns the banner to print.
    public func start() async throws -> String {
        let tlsContext: NIOSSLContextBox
        do {
            tlsContext = try NIOSSLContextBox.make(config: config)
        } catch {
            throw AIOStartupError("TLS: \(error)")
        }
        let settings = SIPTransportLayer.Settings(
            bindAddress: config.sipBindAddress,
            udpPort: config.sipPort,
            tcpPort: config.sipPort,
            tlsPort: config.sipTLSPort,
            maxMessageSize: config.maxMessageSize,
            idleTimeout: .seconds(Int64(config.tcpIdleTimeoutSeconds)),
            tlsContext: tlsContext.context,
            udpReceiveBuffer: config.sipUDPReceiveBufferKB * 1024)
        let config = self.config
        let logger = self.logger
        let store: IMSStore
        let feedSeq: Int64
        let directory: SubscriberTables
        let storedBindings: [StoredBinding]
        let secret: [UInt8]
        do {
            store = try await IMSStore.open(dataDirectory: config.dataDir,
                                            numberPool: NumberPoolRange(start: config.numberPoolStart, count: config.numberPoolSize))
            do {
                _ = try await store.deleteExpiredBindings(now: RegistrationService.wallClock())
            } catch {
                // A long `subscriber import` holds the write lock: start anyway (expired bindings are
                // not restored, and the rows go at the next start).
                guard error == .busy else { throw error }
                logger.notice("database busy: expired registrations not purged at start-up")
            }
            // The store's records die here; only the cache's compact shapes are kept.
            (feedSeq, directory) = try await SubscriberData.loadDirectory(store, homeDomain: config.homeDomain)
            storedBindings = try await store.loadBindings()
            secret = try ServerSecret.load(dataDir: config.dataDir)
        } catch {
            throw AIOStartupError("data directory \(config.dataDir): \(error)")
        }
        storeBox.withLockedValue { $0 = store }
        let tables: RoutingTables
        do {
            tables = try RoutingTables.load(enumPath: config.resolvedEnumFile, bgcfPath: config.resolvedBGCFFile)
        } catch {
            throw AIOStartupError("routing tables: \(error)")
        }
        let processStart = UInt64(RegistrationService.wallClock())
        let stack = try await sipLoop.submit {
            let stack = SIPStack(eventLoop: self.sipLoop, settings: settings, config: config, logger: logger,
                                 metrics: self.metrics)
            let hss = HSSCache(directory)
            let hostPort = "\(config.publicHostForURI):\(config.sipPort)"
            let nonces = try NonceManager(secret: secret)
            let scscf = SCSCFRegistrar(
                settings: .init(homeDomain: config.homeDomain, hostPort: hostPort,
                                policy: RegistrarPolicy(maxExpires: config.regMaxExpires),
                                domainAliases: stack.element.localHosts.subtracting([config.homeDomain.lowercased()])),
                directory: hss, nonces: nonces, processStart: processStart, newTag: SIPElement.newTag)
            let journal = RegistrationJournal(store: store, eventLoop: self.sipLoop, logger: logger)
            journal.answering = { [transport = stack.transport] body in transport.batchingSends(body) }
            let service = RegistrationService(
                stack: stack, hss: hss,
                pcscf: PCSCF(host: config.publicHostForURI, port: config.sipPort),
                icscf: ICSCF(candidates: [.init(name: "sip:\(hostPort)")], directory: hss),
                scscf: scscf,
                journal: journal,
                logger: logger, hostPort: hostPort)
            service.restore(storedBindings.map { ($0.aor, SubscriberData.binding($0)) })
            stack.registrations = service
            stack.routingTables = tables
            stack.router = SessionRouter(stack: stack, host: config.publicHostForURI, port: config.sipPort,
                                         tlsPort: config.sipTLSPort, logger: logger)
            return stack
        }.get()
        provisioningFeed = ProvisioningFeed(store: store, stack: stack, homeDomain: config.homeDomain,
                                            after: feedSeq, logger: logger)
        provisioningFeed?.start()
        startReloadOnSIGHUP(stack)
        do {
            try await sipLoop.flatSubmit { stack.start() }.get()
        } catch {
            _ = try? await sipLoop.flatSubmit { stack.stop() }.get()
            throw AIOStartupError("cannot listen for SIP on \(config.sipBindAddress):\(config.sipPort)/\(config.sipTLSPort): \(error)")
        }
        stackBox.withLockedValue { $0 = stack }
        MemoryTrim.release()   // the snapshot's records are gone; give their pages back
        // Bursts leave thousands of finished transactions to expire together (Timer J, 32 s); without
        // this their pages stay resident for good. Runs off the SIP loop.
        let trimLoop = housekeepingLoop
        trimTask.withLockedValue {
            $0 = trimLoop.scheduleRepeatedTask(initialDelay: .seconds(15), delay: .seconds(15)) { [logger] _ in
                let started = NIODeadline.now()
                MemoryTrim.release()
                // The trim locks each malloc arena while it works, the SIP thread's included.
                logger.debug("memory trim took \((NIODeadline.now() - started).nanoseconds / 1_000_000) ms")
            }
        }
        let bound = try await sipLoop.submit { stack.transport.boundAddresses }.get()
        listenerUp()
        return banner(bound: bound, certificate: tlsContext.paths)
    }

    /// A loop other than the SIP loop (the SIP loop itself with a one-thread group), for work that must
    /// not delay SIP: the periodic heap trim, the start-up page release.
    private var housekeepingLoop: EventLoop { group.makeIterator().first { $0 !== sipLoop } ?? sipLoop }

    /// Counts the listeners coming up; after the last one, start-up is over and the pages only it
    /// used are given back (`MemoryTrim.releaseStartupPages`), off the SIP loop.
    private func listenerUp() {
        let last = startupPending.withLockedValue { pending -> Bool in
            pending -= 1
            return pending == 0
        }
        guard last else { return }
        housekeepingLoop.execute { [logger] in
            let released = MemoryTrim.releaseStartupPages()
            func mb(_ bytes: Int) -> String { let tenths = bytes * 10 / 1_048_576; return "\(tenths / 10).\(tenths % 10)" }
            logger.debug("start-up over: resident \(mb(released.residentBefore)) MB -> \(mb(released.residentAfter)) MB (\(released.mappings) file mappings paged out)")
        }
    }

    /// SIGHUP re-reads enum.json and bgcf.json; calls in progress are untouched, and a file with an
    /// error leaves the tables in force (the error is logged with the file and entry).
    private func startReloadOnSIGHUP(_ stack: SIPStack) {
        let config = self.config
        let logger = self.logger
        let task = Task {
            for await _ in await UnixSignalsSequence(trapping: .sighup) {
                do {
                    let tables = try RoutingTables.load(enumPath: config.resolvedEnumFile, bgcfPath: config.resolvedBGCFFile)
                    try await stack.eventLoop.submit { stack.routingTables = tables }.get()
                    logger.notice("SIGHUP: reloaded routing tables (\(tables.enumTable.blocks.count) ENUM blocks, \(tables.bgcfTable.routes.count) BGCF routes)")
                } catch {
                    logger.error("SIGHUP: routing tables not reloaded, keeping the old ones: \(error)")
                }
            }
        }
        reloadTask.withLockedValue { $0 = task }
    }

    /// The HSS cache's REST interface (Homestead paths) on `hss_port`, loopback only, on the shared
    /// event-loop group. A swift-service-lifecycle service: run it in the same ServiceGroup.
    public func makeHSSService() -> some Service {
        let box = stackBox
        let backend = HSSBackendAdapter(eventLoop: sipLoop, stack: { box.withLockedValue { $0 } })
        let router = HSSAPIServer.makeRouter(backend: backend, logger: logger)
        let loop = sipLoop
        // Liveness plus the state counts that must return to zero when traffic stops (leak checks).
        router.get("/health") { _, _ -> Response in
            guard let stack = box.withLockedValue({ $0 }) else {
                return Response(status: .serviceUnavailable, body: .init(byteBuffer: ByteBuffer(string: #"{"status":"starting"}"#)))
            }
            let counts = try await loop.submit { stack.stateCounts() }.get()
            let json = "{" + (["\"status\":\"ok\""] + counts.map { "\"\($0.0)\":\($0.1)" }).joined(separator: ",") + "}"
            var headers = HTTPFields()
            headers[.contentType] = "application/json"
            return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(string: json)))
        }
        let metrics = self.metrics
        // Prometheus text exposition (swift-prometheus registry).
        router.get("/metrics") { _, _ -> Response in
            if let stack = box.withLockedValue({ $0 }) {
                let counts = try await loop.submit { stack.stateCounts() }.get()
                metrics.updateState(counts)
            }
            var headers = HTTPFields()
            headers[.contentType] = "text/plain; version=0.0.4; charset=utf-8"
            return Response(status: .ok, headers: headers,
                            body: .init(byteBuffer: ByteBuffer(bytes: metrics.registry.emitToBuffer())))
        }
        return Application(router: router,
                           configuration: ApplicationConfiguration(address: .hostname("127.0.0.1", port: config.hssPort)),
                           onServerRunning: { [weak self] _ in self?.listenerUp() },
                           eventLoopGroupProvider: .shared(group), logger: logger)
    }

    public func stop() async {
        reloadTask.withLockedValue { $0?.cancel() }
        trimTask.withLockedValue { $0?.cancel() }
        provisioningFeed?.stop()
        let stack = stackBox.withLockedValue { s -> SIPStack? in defer { s = nil }; return s }
        if let stack {
            _ = try? await sipLoop.flatSubmit { stack.stop() }.get()
        }
        try? await group.shutdownGracefully()
        logger.info("cw-aio stopped")
    }

    private func banner(bound: [SIPTransportProtocol: SocketAddress], certificate: TLSIdentity.Paths) -> String {
        let host = config.publicHostForURI
        let auto = config.localIPWasAutoDetected ? " (auto-detected\(config.localIPInterface.map { " on \($0)" } ?? ""))" : ""
        func port(_ t: SIPTransportProtocol) -> String { bound[t]?.port.map(String.init) ?? "-" }
        return """
        cw-aio is up — all-in-one IMS core
          home domain    \(config.homeDomain)
          local address  \(config.localIP)\(auto), advertised as \(config.publicIP)
          SIP            udp \(host):\(port(.udp))  tcp \(host):\(port(.tcp))  tls \(host):\(port(.tls))
          TLS cert       \(certificate.certificate)\(certificate.generated ? " (generated, self-signed)" : "")
          data dir       \(config.dataDir)
          HSS API        http://127.0.0.1:\(config.hssPort)/impu/<impu>/reg-data   (health: /health)
        Add a subscriber:  cw-aio subscriber add --number 6505550001 --password <password>
        Point a softphone at outbound proxy sip:\(host):\(port(.udp)) with domain \(config.homeDomain),
        user name = the number, and its password. Check it answers:  sipsak -s sip:\(host):\(port(.udp))
        """
    }
}
