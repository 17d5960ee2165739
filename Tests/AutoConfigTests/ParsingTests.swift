import Testing
@testable import AutoConfig

@Suite struct ParsingTests {
    @Test func commentsBlankLinesWhitespaceAndQuotes() throws {
        let c = try load("""
            # a comment
              # an indented comment

            \t
              sip_port   =   5070\t
            home_domain="ims.example.org"
            signup_code = "  spaced  "
            ellis_api_key=a#b # not a comment
            data_dir=/tmp/x"y"
            tls_certificate=""
            tls_private_key=
            number_pool_size=5
            """)
        #expect(c.sipPort == 5070)
        #expect(c.homeDomain == "ims.example.org")
        #expect(c.signupCode == "  spaced  ")
        #expect(c.ellisAPIKey == "a#b # not a comment")
        #expect(c.dataDir == "/tmp/x\"y\"")  // only a quote at the start opens a quoted value
        #expect(c.tlsCertificate == "")
        #expect(c.numberPoolSize == 5)
    }

    @Test func valueMayContainEqualsSigns() throws {
        #expect(try load("signup_code=a=b=c").signupCode == "a=b=c")
    }

    @Test func crlfLineEndingsAndBOM() throws {
        let c = try load("\u{FEFF}sip_port=5070\r\n# c\r\nhttp_port=81\r\n")
        #expect(c.sipPort == 5070)
        #expect(c.httpPort == 81)
        // Line numbers count CRLF as one line end.
        let e = try #require(loadError("sip_port=5070\r\n\r\nhttp_port=x\r\n"))
        #expect(e.description == "cw-aio.conf:3: http_port: \"x\" is not a port (1-65535)")
    }

    @Test func portsAcceptFullRange() throws {
        let c = try load("sip_port=1\nsip_tls_port=65535\nhttp_port=80\nhss_port=9999")
        #expect([c.sipPort, c.sipTLSPort, c.httpPort, c.hssPort] == [1, 65535, 80, 9999])
    }

    @Test func integersAtTheirBounds() throws {
        let low = try load("""
            max_message_size=1024
            sip_udp_receive_buffer_kb=64
            tcp_idle_timeout=1
            sip_t1_ms=50
            sip_t2_ms=50
            sip_t4_ms=1000
            reg_max_expires=1
            number_pool_start=0
            number_pool_size=1
            event_loop_threads=0
            """)
        #expect(low.maxMessageSize == 1024 && low.tcpIdleTimeoutSeconds == 1 && low.sipT1Ms == 50)
        #expect(low.sipUDPReceiveBufferKB == 64)
        #expect(low.sipT2Ms == 50 && low.sipT4Ms == 1000 && low.regMaxExpires == 1)
        #expect(low.numberPoolStart == 0 && low.numberPoolSize == 1 && low.eventLoopThreads == 0)
        let high = try load("""
            max_message_size=1048576
            sip_udp_receive_buffer_kb=262144
            tcp_idle_timeout=86400
            sip_t1_ms=10000
            sip_t2_ms=60000
            sip_t4_ms=60000
            reg_max_expires=86400
            number_pool_start=999999999000000
            number_pool_size=1000000
            event_loop_threads=256
            """)
        #expect(high.maxMessageSize == 1_048_576 && high.tcpIdleTimeoutSeconds == 86400 && high.sipT1Ms == 10000)
        #expect(high.sipUDPReceiveBufferKB == 262_144)
        #expect(high.sipT2Ms == 60000 && high.sipT4Ms == 60000 && high.regMaxExpires == 86400)
        #expect(high.numberPoolStart == 999_999_999_000_000 && high.numberPoolEnd == CWConfig.maxDirectoryNumber)
        #expect(high.eventLoopThreads == 256 && high.resolvedEventLoopThreads == 256)
    }

    @Test(arguments: ConfigLogLevel.allCases)
    func logLevels(level: ConfigLogLevel) throws {
        #expect(try load("log_level=\(level.rawValue)").logLevel == level)
        #expect(try load("log_level=\(level.rawValue.uppercased())").logLevel == level)
    }

    @Test func logLevelOrder() {
        #expect(ConfigLogLevel.trace < .debug && ConfigLogLevel.error < .critical)
    }

    @Test(arguments: [
        ("example.com", "example.com"), ("localhost", "localhost"), ("a-b.c-d.example", "a-b.c-d.example"),
        ("IMS.Example.ORG", "IMS.Example.ORG"), ("192.0.2.7", "192.0.2.7"), ("2001:DB8::0:1", "2001:db8::1"),
        ("[2001:db8::1]", "2001:db8::1"), ("x1.example.123abc", "x1.example.123abc"),
    ])
    func homeDomainAcceptsNamesAndIPs(input: String, stored: String) throws {
        #expect(try load("home_domain=\(input)").homeDomain == stored)
    }

    @Test func explicitLocalIP() throws {
        let v4 = try load("local_ip=192.0.2.10")
        #expect(v4.localIP == "192.0.2.10" && !v4.localIPWasAutoDetected && v4.localIPInterface == nil)
        #expect(v4.publicIP == "192.0.2.10")
        let v6 = try load("local_ip=2001:db8:0::5")
        #expect(v6.localIP == "2001:db8::5" && v6.publicIP == "2001:db8::5")
        #expect(v6.publicHostForURI == "[2001:db8::5]")
        #expect(try load("local_ip=[::1]").localIP == "::1")
        #expect(try load("local_ip=AUTO").localIPWasAutoDetected)
    }

    @Test func publicIPOverridesAdvertisedAddress() throws {
        let c = try load("local_ip=10.0.0.2\npublic_ip=203.0.113.9")
        #expect(c.localIP == "10.0.0.2" && c.publicIP == "203.0.113.9")
        #expect(c.publicHostForURI == "203.0.113.9")
        #expect(try load("public_ip=sbc.example.net").publicIP == "sbc.example.net")
        #expect(try load("public_ip=").publicIP == "10.1.2.3")
    }

    @Test func sipBindAddressAcceptsWildcardsAndLiterals() throws {
        #expect(try load("sip_bind_address=::").sipBindAddress == "::")
        #expect(try load("sip_bind_address=127.0.0.1").sipBindAddress == "127.0.0.1")
        #expect(try load("sip_bind_address=[fe80::1]").sipBindAddress == "fe80::1")
    }

    @Test func pathsAndSecrets() throws {
        let c = try load("""
            data_dir=/var/lib/cw-aio
            tls_certificate=/etc/cw-aio/cert.pem
            tls_private_key="/etc/cw aio/key.pem"
            signup_code=s3cr3t!
            ellis_api_key="k e y"
            """)
        #expect(c.dataDir == "/var/lib/cw-aio")
        #expect(c.tlsCertificate == "/etc/cw-aio/cert.pem")
        #expect(c.tlsPrivateKey == "/etc/cw aio/key.pem")
        #expect(!c.usesGeneratedCertificate)
        #expect(c.signupCode == "s3cr3t!" && c.ellisAPIKey == "k e y")
    }

    @Test func loadsFromFile() throws {
        let dir = try TempDir()
        defer { dir.cleanUp() }
        let path = try dir.write("cw-aio.conf", "sip_port=5070\n")
        let c = try CWConfig.load(file: path, overrides: [], interfaces: { testInterfaces })
        #expect(c.sipPort == 5070)
    }

    @Test func ipAddressParsing() {
        #expect(IPAddress("1.2.3.4")?.family == .ipv4)
        #expect(IPAddress("::ffff:1.2.3.4")?.family == .ipv6)
        for bad in ["", "1.2.3", "1.2.3.4.5", "256.1.1.1", "01.2.3.4", "[1.2.3.4]", "fe80::1%eth0", "host", "[]", "1.2.3.4 "] {
            #expect(IPAddress(bad) == nil, "\(bad)")
        }
        #expect(IPAddress("0.0.0.0")?.isUnspecified == true)
        #expect(IPAddress("127.9.9.9")?.isLoopback == true)
        #expect(IPAddress("169.254.1.1")?.isLinkLocal == true)
        #expect(IPAddress("FE80::1")?.isLinkLocal == true)
        #expect(IPAddress("2001:db8::1")?.isLinkLocal == false)
    }

    @Test func domainNameRules() {
        for good in ["a", "example.com", "x-1.example", "a.b.c.d.e", String(repeating: "a", count: 63) + ".com"] {
            #expect(isValidDomainName(good), "\(good)")
        }
        for bad in ["", ".", "example.com.", "-a.com", "a-.com", "a..b", "a_b.com", "ex ample.com", "999.1.1.1",
                    String(repeating: "a", count: 64) + ".com", String(repeating: "a.", count: 127) + "ab", "ünï.com"] {
            #expect(!isValidDomainName(bad), "\(bad)")
        }
    }
}
