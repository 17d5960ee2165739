/// One configuration key: the single source of its name, default, description and validation.
public struct ConfigKey: Sendable {
    /// The key as written in the file and in `--set` (`sip_port`).
    public let name: String
    /// The default, as it would be written in the file (`5060`, `auto`, or empty).
    public let defaultValue: String
    /// One-line description, used by ``CWConfig/helpText`` and as the comment in ``CWConfig/sampleFile()``.
    public let summary: String
    /// Validates a value and stores it in the configuration.
    let apply: @Sendable (inout CWConfig, String) throws(ValueError) -> Void
    /// The stored value written back as file text (inverse of `apply`).
    let render: @Sendable (CWConfig) -> String
}

extension CWConfig {
    /// Every configuration key, in the order of the help text and the sample file.
    public static let keys: [ConfigKey] = [
        ConfigKey(
            name: "home_domain", defaultValue: "example.com",
            summary: "Home domain (SIP realm) this node serves: a domain name or IP address",
            apply: { c, v throws(ValueError) in c.homeDomain = try Parse.hostOrAddress(v) },
            render: { $0.homeDomain }),
        ConfigKey(
            name: "local_ip", defaultValue: "auto",
            summary: "This machine's IP address; auto = first up, non-loopback interface (IPv4 preferred), else 127.0.0.1",
            apply: { c, v throws(ValueError) in
                c.localIPSetting = v.lowercased() == "auto" ? "auto" : try Parse.ipAddress(v, allowUnspecified: false)
            },
            render: { $0.localIPSetting }),
        ConfigKey(
            name: "public_ip", defaultValue: "",
            summary: "Address or host name advertised in Via/Record-Route/Contact; empty = same as local_ip",
            apply: { c, v throws(ValueError) in c.publicIPSetting = v.isEmpty ? v : try Parse.hostOrAddress(v) },
            render: { $0.publicIPSetting }),
        ConfigKey(
            name: "sip_port", defaultValue: "5060",
            summary: "SIP port for UDP and TCP (1-65535)",
            apply: { c, v throws(ValueError) in c.sipPort = try Parse.port(v) },
            render: { String($0.sipPort) }),
        ConfigKey(
            name: "sip_tls_port", defaultValue: "5061",
            summary: "SIP over TLS port (1-65535)",
            apply: { c, v throws(ValueError) in c.sipTLSPort = try Parse.port(v) },
            render: { String($0.sipTLSPort) }),
        ConfigKey(
            name: "http_port", defaultValue: "8080",
            summary: "HTTP port of the provisioning (Ellis) API; Clearwater used 80, 8080 needs no root (1-65535)",
            apply: { c, v throws(ValueError) in c.httpPort = try Parse.port(v) },
            render: { String($0.httpPort) }),
        ConfigKey(
            name: "hss_port", defaultValue: "8888",
            summary: "HTTP port of the HSS (Homestead) interface (1-65535)",
            apply: { c, v throws(ValueError) in c.hssPort = try Parse.port(v) },
            render: { String($0.hssPort) }),
        ConfigKey(
            name: "data_dir", defaultValue: "./data",
            summary: "Directory for persistent data and generated TLS keys",
            apply: { c, v throws(ValueError) in c.dataDir = try Parse.nonEmpty(v) },
            render: { $0.dataDir }),
        ConfigKey(
            name: "log_level", defaultValue: "info",
            summary: "Log level: trace, debug, info, notice, warning, error or critical",
            apply: { c, v throws(ValueError) in c.logLevel = try Parse.logLevel(v) },
            render: { $0.logLevel.rawValue }),
        ConfigKey(
            name: "sip_bind_address", defaultValue: "0.0.0.0",
            summary: "IP address the SIP listeners bind to; 0.0.0.0 or :: = all interfaces",
            apply: { c, v throws(ValueError) in c.sipBindAddress = try Parse.ipAddress(v, allowUnspecified: true) },
            render: { $0.sipBindAddress }),
        ConfigKey(
            name: "max_message_size", defaultValue: "65536",
            summary: "Largest SIP message accepted, in bytes (1024-1048576)",
            apply: { c, v throws(ValueError) in c.maxMessageSize = try Parse.integer(v, in: 1024...1_048_576) },
            render: { String($0.maxMessageSize) }),
        ConfigKey(
            name: "sip_udp_receive_buffer_kb", defaultValue: "12288",
            summary: "SIP UDP socket receive buffer in kB (64-262144): holds bursts while overload control reacts; above net.core.rmem_max it needs root",
            apply: { c, v throws(ValueError) in c.sipUDPReceiveBufferKB = try Parse.integer(v, in: 64...262_144) },
            render: { String($0.sipUDPReceiveBufferKB) }),
        ConfigKey(
            name: "tcp_idle_timeout", defaultValue: "600",
            summary: "Seconds before an idle SIP TCP/TLS connection is closed (1-86400)",
            apply: { c, v throws(ValueError) in c.tcpIdleTimeoutSeconds = try Parse.integer(v, in: 1...86400) },
            render: { String($0.tcpIdleTimeoutSeconds) }),
        ConfigKey(
            name: "sip_t1_ms", defaultValue: "500",
            summary: "SIP timer T1 (round-trip estimate) in milliseconds (50-10000)",
            apply: { c, v throws(ValueError) in c.sipT1Ms = try Parse.integer(v, in: 50...10_000) },
            render: { String($0.sipT1Ms) }),
        ConfigKey(
            name: "sip_t2_ms", defaultValue: "4000",
            summary: "SIP timer T2 (longest retransmit interval) in milliseconds (sip_t1_ms-60000)",
            apply: { c, v throws(ValueError) in c.sipT2Ms = try Parse.integer(v, in: 50...60_000) },
            render: { String($0.sipT2Ms) }),
        ConfigKey(
            name: "sip_t4_ms", defaultValue: "5000",
            summary: "SIP timer T4 (longest message lifetime in the network) in milliseconds (1000-60000)",
            apply: { c, v throws(ValueError) in c.sipT4Ms = try Parse.integer(v, in: 1000...60_000) },
            render: { String($0.sipT4Ms) }),
        ConfigKey(
            name: "tls_certificate", defaultValue: "",
            summary: "PEM certificate chain for SIP TLS; empty = generate a self-signed one in data_dir",
            apply: { c, v throws(ValueError) in c.tlsCertificate = v },
            render: { $0.tlsCertificate }),
        ConfigKey(
            name: "tls_private_key", defaultValue: "",
            summary: "PEM private key for tls_certificate; set both or neither",
            apply: { c, v throws(ValueError) in c.tlsPrivateKey = v },
            render: { $0.tlsPrivateKey }),
        ConfigKey(
            name: "enum_file", defaultValue: "",
            summary: "ENUM number translation table (enum.json); empty = <data_dir>/enum.json if present",
            apply: { c, v throws(ValueError) in c.enumFile = v },
            render: { $0.enumFile }),
        ConfigKey(
            name: "bgcf_file", defaultValue: "",
            summary: "BGCF breakout routes (bgcf.json); empty = <data_dir>/bgcf.json if present",
            apply: { c, v throws(ValueError) in c.bgcfFile = v },
            render: { $0.bgcfFile }),
        ConfigKey(
            name: "reg_max_expires", defaultValue: "300",
            summary: "Longest registration expiry granted, in seconds (1-86400)",
            apply: { c, v throws(ValueError) in c.regMaxExpires = try Parse.integer(v, in: 1...86400) },
            render: { String($0.regMaxExpires) }),
        ConfigKey(
            name: "signup_code", defaultValue: "secret",
            summary: "Code a user must give to create an account through Ellis; change it",
            apply: { c, v throws(ValueError) in c.signupCode = try Parse.nonEmpty(v) },
            render: { $0.signupCode }),
        ConfigKey(
            name: "ellis_api_key", defaultValue: "secret",
            summary: "Key required by Ellis' private provisioning API; change it",
            apply: { c, v throws(ValueError) in c.ellisAPIKey = try Parse.nonEmpty(v) },
            render: { $0.ellisAPIKey }),
        ConfigKey(
            name: "number_pool_start", defaultValue: "6505550000",
            summary: "First directory number Ellis allocates (up to 15 digits)",
            apply: { c, v throws(ValueError) in
                c.numberPoolStart = try Parse.integer(v, in: 0...CWConfig.maxDirectoryNumber)
            },
            render: { String($0.numberPoolStart) }),
        ConfigKey(
            name: "number_pool_size", defaultValue: "1000",
            summary: "How many directory numbers the pool holds (1-1000000)",
            apply: { c, v throws(ValueError) in c.numberPoolSize = try Parse.integer(v, in: 1...1_000_000) },
            render: { String($0.numberPoolSize) }),
        ConfigKey(
            name: "event_loop_threads", defaultValue: "0",
            summary: "Network event loop threads; 0 = one per CPU core (0-256)",
            apply: { c, v throws(ValueError) in c.eventLoopThreads = try Parse.integer(v, in: 0...256) },
            render: { String($0.eventLoopThreads) }),
        ConfigKey(
            name: "overload_control", defaultValue: "on",
            summary: "Admission control on initial requests: excess gets 503 + Retry-After (on|off)",
            apply: { c, v throws(ValueError) in c.overloadControl = try Parse.onOff(v) },
            render: { $0.overloadControl ? "on" : "off" }),
        ConfigKey(
            name: "overload_target_latency_ms", defaultValue: "100",
            summary: "Overload control: event-loop delay above which the admitted rate is cut, ms (1-10000)",
            apply: { c, v throws(ValueError) in c.overloadTargetLatencyMs = try Parse.integer(v, in: 1...10000) },
            render: { String($0.overloadTargetLatencyMs) }),
        ConfigKey(
            name: "overload_target_cpu_percent", defaultValue: "98",
            summary: "Overload control: SIP thread CPU use above which the admitted rate is cut (10-100)",
            apply: { c, v throws(ValueError) in c.overloadTargetCPUPercent = try Parse.integer(v, in: 10...100) },
            render: { String($0.overloadTargetCPUPercent) }),
    ]

    static let keysByName: [String: ConfigKey] = Dictionary(uniqueKeysWithValues: keys.map { ($0.name, $0) })

    /// The key list for `--help`: one aligned line per key with its default and description.
    public static var helpText: String {
        let nameWidth = keys.map(\.name.count).max()!
        let shownDefaults = keys.map { $0.defaultValue.isEmpty ? "\"\"" : $0.defaultValue }
        let defaultWidth = shownDefaults.map(\.count).max()!
        var text = "Configuration keys (in the file as key=value, or on the command line as --set key=value):\n"
        for (key, shown) in zip(keys, shownDefaults) {
            text += "  " + pad(key.name, nameWidth) + "  " + pad(shown, defaultWidth) + "  " + key.summary + "\n"
        }
        return text
    }

    /// The sample configuration file: every key with its default, each preceded by a one-line comment.
    /// `cw-aio.conf` at the top of the repository is exactly this text.
    public static func sampleFile() -> String {
        renderFile(header: "# cw-aio sample configuration: every key, set to its default.") { $0.defaultValue }
    }

    static func renderFile(header: String, value: (ConfigKey) -> String) -> String {
        var text = """
            \(header)
            #
            # Format: one key=value per line; whitespace around key and value is ignored.
            # Lines starting with # are comments. A # after a value is part of the value.
            # A value may be wrapped in double quotes (no escapes). Unknown keys are errors.
            # Override any key on the command line with --set key=value.

            """
        for key in keys {
            text += "\n# \(key.summary)\n\(key.name)=\(fileValue(value(key)))\n"
        }
        return text
    }

    /// Quotes a value when writing it bare would not read back the same (surrounding whitespace,
    /// or a leading quote).
    private static func fileValue(_ value: String) -> String {
        let needsQuotes = value.first.map { $0 == " " || $0 == "\t" || $0 == "\"" } == true
            || value.last.map { $0 == " " || $0 == "\t" } == true
        return needsQuotes ? "\"\(value)\"" : value
    }

    private static func pad(_ s: String, _ width: Int) -> String {
        s.count >= width ? s : s + String(repeating: " ", count: width - s.count)
    }
}
