import Foundation
import Testing
@testable import AutoConfig

@Suite struct DefaultsTests {
    @Test func defaultsWithNoFile() throws {
        let c = try defaults()
        #expect(c.homeDomain == "example.com")
        #expect(c.localIP == "10.1.2.3")
        #expect(c.resolvedLocalIP() == "10.1.2.3")
        #expect(c.localIPWasAutoDetected)
        #expect(c.localIPInterface == "eth0")
        #expect(c.publicIP == "10.1.2.3")
        #expect(c.sipPort == 5060)
        #expect(c.sipTLSPort == 5061)
        #expect(c.httpPort == 8080)
        #expect(c.hssPort == 8888)
        #expect(c.dataDir == "./data")
        #expect(c.logLevel == .info)
        #expect(c.sipBindAddress == "0.0.0.0")
        #expect(c.maxMessageSize == 65536)
        #expect(c.sipUDPReceiveBufferKB == 12288)
        #expect(c.tcpIdleTimeoutSeconds == 600)
        #expect(c.sipT1Ms == 500)
        #expect(c.sipT2Ms == 4000)
        #expect(c.sipT4Ms == 5000)
        #expect(c.tlsCertificate == "")
        #expect(c.tlsPrivateKey == "")
        #expect(c.usesGeneratedCertificate)
        #expect(c.regMaxExpires == 300)
        #expect(c.signupCode == "secret")
        #expect(c.ellisAPIKey == "secret")
        #expect(c.numberPoolStart == 6_505_550_000)
        #expect(c.numberPoolSize == 1000)
        #expect(c.numberPoolEnd == 6_505_550_999)
        #expect(c.eventLoopThreads == 0)
        #expect(c.resolvedEventLoopThreads == ProcessInfo.processInfo.activeProcessorCount)
    }

    @Test func emptyFileEqualsDefaults() throws {
        #expect(try load("") == defaults())
        #expect(try load("\n\n# nothing here\n") == defaults())
    }

    @Test func realMachineDefaultsLoad() throws {
        // Uses the real getifaddrs: whatever the machine has, the result is a usable literal.
        let c = try CWConfig.load(file: nil, overrides: [])
        #expect(c.localIPWasAutoDetected)
        #expect(IPAddress(c.localIP) != nil)
        #expect(c.localIP != "auto")
        #expect(CWConfig.defaults().sipPort == 5060)
    }

    @Test func everyDefaultPassesItsOwnValidator() throws {
        for key in CWConfig.keys {
            var c = CWConfig()
            #expect(throws: Never.self, "\(key.name)") { try key.apply(&c, key.defaultValue) }
            #expect(key.render(c) == key.defaultValue, "\(key.name)")
        }
    }

    @Test func keyTableHasUniqueLowercaseNamesAndOneLineSummaries() {
        let names = CWConfig.keys.map(\.name)
        #expect(Set(names).count == names.count)
        #expect(names.count == 29)
        for key in CWConfig.keys {
            #expect(key.name.allSatisfy { $0.isLowercase || $0 == "_" || $0.isNumber }, "\(key.name)")
            #expect(!key.summary.isEmpty && !key.summary.contains("\n"), "\(key.name)")
        }
    }

    @Test func helpTextListsEveryKeyWithDefaultAligned() {
        let help = CWConfig.helpText
        let lines = help.split(separator: "\n").dropFirst()
        #expect(lines.count == CWConfig.keys.count)
        var descriptionColumn: Int?
        for (line, key) in zip(lines, CWConfig.keys) {
            let fields = line.split(separator: " ", maxSplits: 2, omittingEmptySubsequences: true)
            #expect(fields[0] == key.name)
            #expect(fields[1] == (key.defaultValue.isEmpty ? "\"\"" : key.defaultValue))
            #expect(line.hasSuffix(key.summary))
            let column = line.count - key.summary.count
            if let descriptionColumn { #expect(column == descriptionColumn, "\(key.name) misaligned") }
            descriptionColumn = column
        }
        #expect(help.contains("--set key=value"))
    }

    @Test func sampleFileHasEveryKeyWithCommentAndParsesToDefaults() throws {
        let sample = CWConfig.sampleFile()
        let lines = sample.split(separator: "\n", omittingEmptySubsequences: false)
        for key in CWConfig.keys {
            let index = try #require(lines.firstIndex(of: Substring("\(key.name)=\(key.defaultValue)")), "\(key.name)")
            #expect(lines[index - 1] == Substring("# \(key.summary)"))
        }
        #expect(try load(sample) == defaults())
    }

    /// The committed /cw-aio.conf must be exactly `sampleFile()`.
    /// Regenerate with: CW_AIO_WRITE_SAMPLE_CONFIG=1 swift test --filter AutoConfigTests
    @Test func committedSampleFileIsCurrent() throws {
        // Resolve symlinks so this also works from a package that links Tests/ into the repository.
        let here = URL(fileURLWithPath: #filePath).resolvingSymlinksInPath()
        let path = here.deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("cw-aio.conf").path
        if ProcessInfo.processInfo.environment["CW_AIO_WRITE_SAMPLE_CONFIG"] == "1" {
            try CWConfig.sampleFile().write(toFile: path, atomically: true, encoding: .utf8)
        }
        let committed = try String(contentsOfFile: path, encoding: .utf8)
        #expect(committed == CWConfig.sampleFile(),
                "cw-aio.conf is stale; regenerate with CW_AIO_WRITE_SAMPLE_CONFIG=1 swift test --filter AutoConfigTests")
        let fromFile = try CWConfig.load(file: path, overrides: [], interfaces: { testInterfaces })
        #expect(fromFile == (try defaults()))
    }

    @Test func renderedFileRoundTrips() throws {
        let c = try load("""
            home_domain=ims.test
            public_ip=sbc.ims.test
            sip_port=5070
            log_level=DEBUG
            tls_certificate=" /etc/cw aio/cert.pem"
            tls_private_key=/etc/cw-aio/key.pem
            signup_code="\"quoted"
            event_loop_threads=3
            """)
        #expect(c.tlsCertificate == " /etc/cw aio/cert.pem")
        #expect(c.signupCode == "\"quoted")
        let again = try load(c.renderedFile())
        #expect(again == c)
        #expect(c.renderedFile().contains("\nlocal_ip=auto\n"))
        #expect(c.settings().map(\.key) == CWConfig.keys.map(\.name))
        #expect(c.settings().first { $0.key == "log_level" }?.value == "debug")
    }
}
