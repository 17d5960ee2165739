import Testing
@testable import AutoConfig

@Suite struct OverrideTests {
    @Test func overridesApplyAfterFileAndDefaults() throws {
        let c = try load("sip_port=5070\nhttp_port=81\n", ["sip_port=5080", "log_level=debug", "home_domain = \"ims.test\" "])
        #expect(c.sipPort == 5080)       // override beats file
        #expect(c.httpPort == 81)        // file beats default
        #expect(c.logLevel == .debug)    // override beats default
        #expect(c.homeDomain == "ims.test")
        #expect(c.hssPort == 8888)
    }

    @Test func overridesWithoutFile() throws {
        let c = try CWConfig.load(file: nil, overrides: ["local_ip=192.0.2.1", "public_ip=198.51.100.1"],
                                  interfaces: { testInterfaces })
        #expect(c.localIP == "192.0.2.1" && !c.localIPWasAutoDetected)
        #expect(c.publicIP == "198.51.100.1")
    }

    @Test func overrideCanFixACrossKeyProblemInTheFile() throws {
        #expect(try load("sip_t1_ms=5000", ["sip_t2_ms=8000"]).sipT2Ms == 8000)
    }

    @Test(arguments: [
        ("sip_port=70000", #"--set: sip_port: "70000" is not a port (1-65535)"#),
        ("sip_prot=5060", "--set: sip_prot: unknown key (did you mean sip_port?)"),
        ("sip_port", #"--set: malformed line "sip_port" (expected key=value)"#),
        ("", #"--set: malformed line "" (expected key=value)"#),
        ("=5060", "--set: empty key (expected key=value)"),
        ("log_level=loud", #"--set: log_level: "loud" is not a log level (trace|debug|info|notice|warning|error|critical)"#),
        ("signup_code=\"abc", #"--set: signup_code: "\"abc" has an unterminated double quote"#),
        ("signup_code=a\nb", #"--set: signup_code: "a\nb" contains a control character"#),
    ])
    func overrideErrorsNameSet(override: String, expected: String) throws {
        let e = try #require(loadError("sip_port=5070\n", [override]))
        #expect(e.description == expected)
        #expect(e.source == .override(index: 0))
    }

    @Test func overrideErrorReportsItsIndexButNotAFileLine() throws {
        let e = try #require(loadError("", ["sip_port=5070", "http_port=x"]))
        #expect(e.source == .override(index: 1))
        #expect(!e.description.contains("cw-aio.conf"))
    }

    @Test func sameKeyTwiceInOverridesIsAnError() throws {
        let e = try #require(loadError("", ["sip_port=5070", "sip_port=5080"]))
        #expect(e.description == "--set: sip_port: duplicate key (already set by an earlier --set)")
    }

    @Test func fileErrorsComeBeforeOverrides() throws {
        let e = try #require(loadError("sip_port=x", ["sip_port=5070"]))
        #expect(e.description.hasPrefix("cw-aio.conf:1: sip_port:"))
    }
}
