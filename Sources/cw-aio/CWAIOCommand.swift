import ArgumentParser
import AutoConfig
import IMSCore
import Logging
import ServiceLifecycle

@main
struct CWAIOCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "cw-aio",
        abstract: "cw-aio: an all-in-one IMS core (P/I/S-CSCF, BGCF, HSS cache, XDMS, provisioning) in one process.",
        discussion: """
        Configuration is read from --config FILE (one key=value per line, # comments) and then from
        each --set key=value, which overrides the file. With neither, the embedded defaults apply.

        KEYS
        \(CWConfig.helpText)
        """,
        subcommands: [SubscriberCommand.self])

    static func main() async {
        #if os(Linux)
        MallocTuning.applyByReexecuting()
        #endif
        await main(nil)
    }

    @Option(name: .customLong("config"), help: "Configuration file (key=value lines).")
    var configFile: String?

    @Option(name: .customLong("set"), help: ArgumentHelp("Override one key; repeatable.", valueName: "key=value"))
    var overrides: [String] = []

    func run() async throws {
        let config: CWConfig
        do {
            config = try CWConfig.load(file: configFile, overrides: overrides)
        } catch {
            printError("cw-aio: configuration error: \(error)")
            throw ExitCode(2)
        }
        let level = Logger.Level(rawValue: config.logLevel.rawValue) ?? .info
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = level
            return handler
        }
        let logger = Logger(label: "cw-aio")
        let server = AIOServer(config: config, logger: logger)
        let service = AIOService(server: server)
        let group = ServiceGroup(configuration: .init(
            services: [.init(service: service), .init(service: server.makeHSSService())],
            gracefulShutdownSignals: [.sigterm, .sigint],
            logger: logger))
        do {
            try await group.run()
        } catch let error as AIOStartupError {
            printError("cw-aio: \(error)")
            throw ExitCode(1)
        }
    }
}

/// Starts the server, prints the banner, and stops it on graceful shutdown (SIGTERM / SIGINT).
struct AIOService: Service {
    let server: AIOServer

    func run() async throws {
        let banner = try await server.start()
        print(banner)
        flushStandardOutput()
        try? await gracefulShutdown()
        await server.stop()
    }
}

