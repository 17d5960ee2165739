import AutoConfig
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
            tlsContext: tlsContext.context)
        let config = self.config
        let logger = self.logger
        let stack = try await sipLoop.submit {
            SIPStack(eventLoop: self.sipLoop, settings: settings, config: config, logger: logger)
        }.get()
        do {
            try await sipLoop.flatSubmit { stack.start() }.get()
        } catch {
            _ = try? await sipLoop.flatSubmit { stack.stop() }.get()
            throw AIOStartupError("cannot listen for SIP on \(config.sipBindAddress):\(config.sipPort)/\(config.sipTLSPort): \(error)")
        }
        stackBox.withLockedValue { $0 = stack }
        let bound = try await sipLoop.submit { stack.transport.boundAddresses }.get()
        return banner(bound: bound, certificate: tlsContext.paths)
    }

    public func stop() async {
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
        Point a softphone at outbound proxy sip:\(host):\(port(.udp)) with domain \(config.homeDomain).
        Check it answers:  sipsak -s sip:\(host):\(port(.udp))
        """
    }
}
