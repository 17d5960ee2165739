import HSSAPI
import Hummingbird
import HummingbirdTesting
import Logging
import NIOCore
import NIOPosix
import ServiceLifecycle
import Testing

@Suite("Application")
struct ApplicationTests {
    @Test func defaults() {
        let app = HSSAPIServer.makeApplication(backend: FakeBackend())
        #expect(app.configuration.address == .hostname("127.0.0.1", port: 8888))
        #expect(app.eventLoopGroup === MultiThreadedEventLoopGroup.singleton)
    }

    /// Runs the real server as a Service on a caller-owned event loop group, bound to 127.0.0.1.
    @Test func servesOnSharedEventLoopGroup() async throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let loop = group.next()
        let (bound, continuation) = AsyncStream.makeStream(of: (port: Int, ip: String?, onGroup: Bool).self)
        let app = HSSAPIServer.makeApplication(
            backend: FakeBackend(), host: "127.0.0.1", port: 0, eventLoopGroup: group,
            logger: Logger(label: "test")
        ) { channel in
            continuation.yield((channel.localAddress?.port ?? 0, channel.localAddress?.ipAddress,
                                channel.eventLoop === loop))
            continuation.finish()
        }
        #expect(app.eventLoopGroup === group)
        let services = ServiceGroup(services: [app], logger: Logger(label: "test"))
        try await withThrowingTaskGroup(of: Void.self) { tasks in
            tasks.addTask { try await services.run() }
            var iterator = bound.makeAsyncIterator()
            let server = try #require(await iterator.next())
            #expect(server.ip == "127.0.0.1")
            #expect(server.onGroup)
            let client = TestClient(host: "127.0.0.1", port: server.port, configuration: .init(), eventLoopGroupProvider: .shared(group))
            client.connect()
            let ping = try await client.get("/ping")
            #expect(ping.status == .ok)
            #expect(ping.body.map { String(buffer: $0) } == "OK")
            let put = try await client.put("/impu/sip%3A6505550001%40example.com/reg-data",
                                           body: ByteBuffer(string: #"{"reqtype":"reg"}"#))
            #expect(put.status == .ok)
            #expect(put.body.flatMap { ParsedXML.parse(String(buffer: $0))?["RegistrationState"]?.text } == "REGISTERED")
            let bad = try await client.put("/impu/x/reg-data", body: ByteBuffer(string: "{"))
            #expect(bad.status == .badRequest)
            try await client.shutdown()
            await services.triggerGracefulShutdown()
            try await tasks.waitForAll()
        }
        try await group.shutdownGracefully()
    }
}
