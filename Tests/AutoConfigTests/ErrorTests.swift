import Testing
@testable import AutoConfig

@Suite struct ErrorTests {
    /// Every invalid value, on line 3 of a file, must produce `cw-aio.conf:3: key: reason`.
    @Test(arguments: [
        ("home_domain=", #"home_domain: "" is not a valid domain name or IP address"#),
        ("home_domain=-bad.com", #"home_domain: "-bad.com" is not a valid domain name or IP address"#),
        ("home_domain=999.1.1.1", #"home_domain: "999.1.1.1" is not a valid domain name or IP address"#),
        ("home_domain=0.0.0.0", #"home_domain: "0.0.0.0" is the unspecified address; give a reachable address"#),
        ("local_ip=", #"local_ip: "" is not an IPv4 or IPv6 address"#),
        ("local_ip=myhost", #"local_ip: "myhost" is not an IPv4 or IPv6 address"#),
        ("local_ip=10.0.0.256", #"local_ip: "10.0.0.256" is not an IPv4 or IPv6 address"#),
        ("local_ip=0.0.0.0", #"local_ip: "0.0.0.0" is the unspecified address; give a real address of this machine"#),
        ("local_ip=::", #"local_ip: "::" is the unspecified address; give a real address of this machine"#),
        ("public_ip=not_a_host", #"public_ip: "not_a_host" is not a valid domain name or IP address"#),
        ("sip_port=70000", #"sip_port: "70000" is not a port (1-65535)"#),
        ("sip_port=0", #"sip_port: "0" is not a port (1-65535)"#),
        ("sip_port=-1", #"sip_port: "-1" is not a port (1-65535)"#),
        ("sip_port=+5060", #"sip_port: "+5060" is not a port (1-65535)"#),
        ("sip_port=5060 # SIP", #"sip_port: "5060 # SIP" is not a port (1-65535)"#),
        ("sip_port=", #"sip_port: "" is not a port (1-65535)"#),
        ("sip_tls_port=99999999999999999999999", #"sip_tls_port: "99999999999999999999999" is not a port (1-65535)"#),
        ("http_port=eighty", #"http_port: "eighty" is not a port (1-65535)"#),
        ("hss_port=1.5", #"hss_port: "1.5" is not a port (1-65535)"#),
        ("data_dir=", "data_dir: must not be empty"),
        ("log_level=verbose", #"log_level: "verbose" is not a log level (trace|debug|info|notice|warning|error|critical)"#),
        ("sip_bind_address=any", #"sip_bind_address: "any" is not an IPv4 or IPv6 address"#),
        ("max_message_size=1023", #"max_message_size: "1023" is out of range (1024-1048576)"#),
        ("max_message_size=64k", #"max_message_size: "64k" is not a whole number (1024-1048576)"#),
        ("sip_udp_receive_buffer_kb=63", #"sip_udp_receive_buffer_kb: "63" is out of range (64-262144)"#),
        ("sip_udp_receive_buffer_kb=4M", #"sip_udp_receive_buffer_kb: "4M" is not a whole number (64-262144)"#),
        ("tcp_idle_timeout=0", #"tcp_idle_timeout: "0" is out of range (1-86400)"#),
        ("sip_t1_ms=49", #"sip_t1_ms: "49" is out of range (50-10000)"#),
        ("sip_t2_ms=60001", #"sip_t2_ms: "60001" is out of range (50-60000)"#),
        ("sip_t4_ms=999", #"sip_t4_ms: "999" is out of range (1000-60000)"#),
        ("reg_max_expires=86401", #"reg_max_expires: "86401" is out of range (1-86400)"#),
        ("signup_code=", "signup_code: must not be empty"),
        ("ellis_api_key=\"\"", "ellis_api_key: must not be empty"),
        ("number_pool_start=1000000000000000", #"number_pool_start: "1000000000000000" is out of range (0-999999999999999)"#),
        ("number_pool_size=0", #"number_pool_size: "0" is out of range (1-1000000)"#),
        ("event_loop_threads=257", #"event_loop_threads: "257" is out of range (0-256)"#),
        ("data_dir=\"/tmp/x", #"data_dir: "\"/tmp/x" has an unterminated double quote"#),
        ("signup_code=\"", #"signup_code: "\"" has an unterminated double quote"#),
    ])
    func invalidValueNamesFileLineAndKey(line: String, expected: String) throws {
        let e = try #require(loadError("# header\n\n\(line)\n"))
        #expect(e.description == "cw-aio.conf:3: \(expected)")
        #expect(e.source == .file(path: "cw-aio.conf", line: 3))
        #expect(e.key == String(line.prefix { $0 != "=" }))
    }

    @Test func everyKeyHasAtLeastOneInvalidValueCase() {
        // Keys with no rejectable value by design: file paths (any text; consistency is checked separately).
        let accepting: Set = ["tls_certificate", "tls_private_key", "enum_file", "bgcf_file"]
        for key in CWConfig.keys where !accepting.contains(key.name) {
            var c = CWConfig()
            let rejectsSomething = ["", "x y", "-1", "99999999999999999"].contains { v in
                (try? key.apply(&c, v)) == nil
            }
            #expect(rejectsSomething, "\(key.name)")
        }
    }

    @Test func malformedLineWithoutEquals() throws {
        let e = try #require(loadError("sip_port=5060\nsip_port 5070\n"))
        #expect(e.description == #"cw-aio.conf:2: malformed line "sip_port 5070" (expected key=value)"#)
        #expect(e.kind == .malformedLine(text: "sip_port 5070"))
        #expect(e.key == nil)
    }

    @Test func emptyKey() throws {
        let e = try #require(loadError("\n  = 5060\n"))
        #expect(e.description == "cw-aio.conf:2: empty key (expected key=value)")
        #expect(e.kind == .emptyKey)
    }

    @Test func unknownKeyWithAndWithoutSuggestion() throws {
        let typo = try #require(loadError("sip_prot=5060"))
        #expect(typo.description == "cw-aio.conf:1: sip_prot: unknown key (did you mean sip_port?)")
        let upper = try #require(loadError("\nSIP_PORT=5060"))
        #expect(upper.description == "cw-aio.conf:2: SIP_PORT: unknown key (did you mean sip_port?)")
        let far = try #require(loadError("\n\nfrobnicate=1"))
        #expect(far.description == "cw-aio.conf:3: frobnicate: unknown key")
        #expect(far.kind == .unknownKey(suggestion: nil))
    }

    @Test func duplicateKeyNamesBothLines() throws {
        let e = try #require(loadError("sip_port=5060\n# x\nhttp_port=80\n sip_port = 5060\n"))
        #expect(e.description == "cw-aio.conf:4: sip_port: duplicate key (first set on line 1)")
        #expect(e.kind == .duplicateKey(first: .file(path: "cw-aio.conf", line: 1)))
    }

    @Test func controlCharactersRejected() throws {
        let e = try #require(loadError("signup_code=a\u{7}b"))
        #expect(e.description == #"cw-aio.conf:1: signup_code: "a\u{7}b" contains a control character"#)
    }

    @Test func firstErrorWins() throws {
        let e = try #require(loadError("sip_port=x\nhttp_port=y\n"))
        #expect(e.description.hasPrefix("cw-aio.conf:1: sip_port:"))
    }

    // MARK: Rules between keys: reported against the key of the pair that was set last.

    @Test func t2BelowT1() throws {
        let t1Set = try #require(loadError("sip_t1_ms=5000"))
        #expect(t1Set.description == "cw-aio.conf:1: sip_t1_ms: sip_t2_ms (4000) must not be less than sip_t1_ms (5000)")
        let t2Set = try #require(loadError("sip_t1_ms=300\n\nsip_t2_ms=200"))
        #expect(t2Set.description == "cw-aio.conf:3: sip_t2_ms: sip_t2_ms (200) must not be less than sip_t1_ms (300)")
        let t1Later = try #require(loadError("sip_t2_ms=200\nsip_t1_ms=300"))
        #expect(t1Later.description.hasPrefix("cw-aio.conf:2: sip_t1_ms: "))
    }

    @Test func tlsCertificateAndKeyTogether() throws {
        let e = try #require(loadError("tls_certificate=/c.pem"))
        #expect(e.description == "cw-aio.conf:1: tls_certificate: tls_certificate and tls_private_key must both be set, or both be empty (generate a self-signed certificate)")
        let k = try #require(loadError("\ntls_private_key=/k.pem"))
        #expect(k.description.hasPrefix("cw-aio.conf:2: tls_private_key: "))
    }

    @Test func listenerPortsMustDiffer() throws {
        let e = try #require(loadError("http_port=5060"))
        #expect(e.description == "cw-aio.conf:1: http_port: sip_port and http_port are both 5060; each listener needs its own port")
        let o = try #require(loadError("", ["hss_port=5061"]))
        #expect(o.description == "--set: hss_port: sip_tls_port and hss_port are both 5061; each listener needs its own port")
    }

    @Test func numberPoolMustFitFifteenDigits() throws {
        let e = try #require(loadError("number_pool_start=999999999999999"))
        #expect(e.description == "cw-aio.conf:1: number_pool_start: number pool 999999999999999+1000 runs past 999999999999999 (15 digits)")
    }

    // MARK: File-level errors

    @Test func namedFileThatIsMissing() throws {
        let dir = try TempDir()
        defer { dir.cleanUp() }
        let path = dir.path + "/nope.conf"
        #expect(throws: ConfigError(source: .file(path: path, line: 0), key: nil,
                                    kind: .unreadableFile(reason: "No such file or directory"))) {
            try CWConfig.load(file: path, overrides: [], interfaces: { testInterfaces })
        }
        do {
            _ = try CWConfig.load(file: path, overrides: [])
        } catch {
            #expect(error.description == "\(path): cannot read configuration file: No such file or directory")
        }
    }

    @Test func directoryAndInvalidUTF8() throws {
        let dir = try TempDir()
        defer { dir.cleanUp() }
        #expect(throws: ConfigError.self) { try CWConfig.load(file: dir.path, overrides: []) }
        let bad = try dir.write("bad.conf", [0x73, 0x69, 0x70, 0x3D, 0xFF, 0x0A])
        do {
            _ = try CWConfig.load(file: bad, overrides: [])
            Issue.record("loaded invalid UTF-8")
        } catch {
            #expect(error.description == "\(bad): cannot read configuration file: not valid UTF-8")
        }
    }

    @Test func errorsInARealFileUseItsPath() throws {
        let dir = try TempDir()
        defer { dir.cleanUp() }
        let path = try dir.write("site.conf", "# site\nsip_port=70000\n")
        do {
            _ = try CWConfig.load(file: path, overrides: [], interfaces: { testInterfaces })
            Issue.record("loaded")
        } catch {
            #expect(error.description == "\(path):2: sip_port: \"70000\" is not a port (1-65535)")
        }
    }
}
