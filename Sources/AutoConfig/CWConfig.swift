#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Foundation

/// The cw-aio configuration: embedded defaults, then an optional `key=value` file, then `--set key=value`
/// overrides. Every key, its default and its description live once, in ``keys``; parsing, defaults,
/// ``helpText`` and ``sampleFile()`` are all driven by that table.
///
/// File format (as Project Clearwater's `local_config` / `shared_config`):
/// - one `key=value` per line; whitespace around the key and the value is trimmed;
/// - blank lines and lines whose first non-blank character is `#` are ignored;
/// - a `#` anywhere else is part of the value: `signup_code=a#b` is `a#b`, and
///   `sip_port=5060 # SIP` is an error (`"5060 # SIP" is not a port`), never a silent comment;
/// - a value may be wrapped in double quotes, which are removed (`data_dir="/var/lib/cw aio"`); there
///   are no escapes, and a value that opens a quote must close it at the end of the line;
/// - keys are lower case and case-sensitive; an unknown key, a line without `=`, an empty key,
///   a key given twice, or a value its validator rejects is an error naming `file:line: key`;
/// - values may not contain control characters other than tab;
/// - UTF-8, optional BOM, LF or CRLF line ends, at most 1 MiB.
///
/// `--set key=value` overrides use the same syntax (including optional quotes), are applied after the
/// file, may override a file value, and may not set the same key twice; their errors start with `--set`.
public struct CWConfig: Sendable, Hashable {
    /// `home_domain`: the home domain (SIP realm) this node serves. A domain name or IP literal.
    public internal(set) var homeDomain: String
    /// `local_ip`, resolved: never `auto`. An IPv4 or IPv6 literal (canonical text, no brackets).
    public internal(set) var localIP: String
    /// True when `local_ip` was `auto` (whether an interface was found or the 127.0.0.1 fallback used).
    public internal(set) var localIPWasAutoDetected: Bool
    /// The interface `local_ip=auto` was taken from; nil when explicit or when the fallback was used.
    public internal(set) var localIPInterface: String?
    /// `public_ip`, resolved: the address or host name advertised in Via / Record-Route / Contact.
    /// Equal to ``localIP`` when `public_ip` is empty.
    public internal(set) var publicIP: String
    /// `sip_port`: SIP over UDP and TCP.
    public internal(set) var sipPort: Int
    /// `sip_tls_port`: SIP over TLS.
    public internal(set) var sipTLSPort: Int
    /// `http_port`: HTTP (Ellis provisioning API). Default 8080 so an unprivileged run works; Clearwater used 80.
    public internal(set) var httpPort: Int
    /// `hss_port`: the HSS (Homestead-style) HTTP interface.
    public internal(set) var hssPort: Int
    /// `data_dir`: persistent data and generated TLS material.
    public internal(set) var dataDir: String
    /// `log_level`.
    public internal(set) var logLevel: ConfigLogLevel
    /// `sip_bind_address`: the address SIP listeners bind to (`0.0.0.0` / `::` = all).
    public internal(set) var sipBindAddress: String
    /// `max_message_size`: largest SIP message accepted, bytes.
    public internal(set) var maxMessageSize: Int
    /// `sip_udp_receive_buffer_kb`: the SIP UDP socket's receive buffer, kB.
    public internal(set) var sipUDPReceiveBufferKB: Int
    /// `tcp_idle_timeout`: seconds before an idle SIP TCP/TLS connection is closed.
    public internal(set) var tcpIdleTimeoutSeconds: Int
    /// `sip_t1_ms`: RFC 3261 timer T1 in milliseconds.
    public internal(set) var sipT1Ms: Int
    /// `sip_t2_ms`: RFC 3261 timer T2 in milliseconds (>= T1).
    public internal(set) var sipT2Ms: Int
    /// `sip_t4_ms`: RFC 3261 timer T4 in milliseconds.
    public internal(set) var sipT4Ms: Int
    /// `tls_certificate`: PEM certificate (chain) path; empty = generate a self-signed one in ``dataDir``.
    public internal(set) var tlsCertificate: String
    /// `tls_private_key`: PEM private key path; empty exactly when ``tlsCertificate`` is empty.
    public internal(set) var tlsPrivateKey: String
    /// `reg_max_expires`: the longest registration expiry granted, seconds.
    public internal(set) var regMaxExpires: Int
    /// `enum_file`: ENUM table path (empty = `<data_dir>/enum.json` when it exists).
    public internal(set) var enumFile: String
    /// `bgcf_file`: BGCF route table path (empty = `<data_dir>/bgcf.json` when it exists).
    public internal(set) var bgcfFile: String
    /// `signup_code`: the code Ellis requires to create an account.
    public internal(set) var signupCode: String
    /// `ellis_api_key`: the key for Ellis' private API.
    public internal(set) var ellisAPIKey: String
    /// `number_pool_start`: the first directory number Ellis hands out.
    public internal(set) var numberPoolStart: Int
    /// `number_pool_size`: how many numbers the pool holds.
    public internal(set) var numberPoolSize: Int
    /// `event_loop_threads`: as configured; 0 means one per core (see ``resolvedEventLoopThreads``).
    public internal(set) var eventLoopThreads: Int
    /// `overload_control`: admission control on initial SIP requests.
    public internal(set) var overloadControl: Bool
    /// `overload_target_latency_ms`: event-loop delay the overload controller keeps below.
    public internal(set) var overloadTargetLatencyMs: Int
    /// `overload_target_cpu_percent`: SIP-thread CPU use the overload controller keeps below.
    public internal(set) var overloadTargetCPUPercent: Int

    /// `local_ip` as written (`auto` or the literal), kept so ``renderedFile()`` round-trips.
    var localIPSetting: String
    /// `public_ip` as written (empty = same as local_ip).
    var publicIPSetting: String

    /// Field values before the table's defaults are applied. Not a configuration anyone should see:
    /// ``load(file:overrides:)`` always applies every key's default first.
    init() {
        homeDomain = ""; localIP = ""; localIPWasAutoDetected = false; localIPInterface = nil
        publicIP = ""; sipPort = 0; sipTLSPort = 0; httpPort = 0; hssPort = 0; dataDir = ""
        logLevel = .info; sipBindAddress = ""; maxMessageSize = 0; sipUDPReceiveBufferKB = 0; tcpIdleTimeoutSeconds = 0
        sipT1Ms = 0; sipT2Ms = 0; sipT4Ms = 0; tlsCertificate = ""; tlsPrivateKey = ""
        regMaxExpires = 0; enumFile = ""; bgcfFile = ""; signupCode = ""; ellisAPIKey = ""; numberPoolStart = 0; numberPoolSize = 0
        eventLoopThreads = 0; overloadControl = true; overloadTargetLatencyMs = 0; overloadTargetCPUPercent = 0
        localIPSetting = ""; publicIPSetting = ""
    }

    // MARK: Derived values

    /// The local IP with `auto` already replaced (resolution happens in `load`).
    public func resolvedLocalIP() -> String { localIP }

    /// ``publicIP`` as written in a SIP URI host part (IPv6 in brackets).
    public var publicHostForURI: String { IPAddress(publicIP)?.uriHost ?? publicIP }

    /// ``eventLoopThreads``, with 0 replaced by the number of active processor cores.
    public var resolvedEventLoopThreads: Int {
        eventLoopThreads > 0 ? eventLoopThreads : max(1, ProcessInfo.processInfo.activeProcessorCount)
    }

    /// True when no certificate was configured and a self-signed one must be generated in ``dataDir``.
    public var usesGeneratedCertificate: Bool { tlsCertificate.isEmpty }

    /// The last number of the pool (inclusive).
    public var numberPoolEnd: Int { numberPoolStart + numberPoolSize - 1 }

    /// The ENUM and BGCF files in force: the configured paths, else `<data_dir>/enum.json` and
    /// `<data_dir>/bgcf.json` (which may not exist: both tables are optional).
    public var resolvedEnumFile: String { enumFile.isEmpty ? dataDir + "/enum.json" : enumFile }
    public var resolvedBGCFFile: String { bgcfFile.isEmpty ? dataDir + "/bgcf.json" : bgcfFile }

    // MARK: Loading

    /// Defaults only (`local_ip=auto` resolved against this machine's interfaces).
    public static func defaults() -> CWConfig {
        do {
            return try load(file: nil, overrides: [])
        } catch {
            fatalError("cw-aio embedded configuration defaults are invalid: \(error)")
        }
    }

    /// Loads the embedded defaults, then `file` (nil = no file; a named file that is missing is an
    /// error), then each `--set` override (`key=value`, without the `--set`). `local_ip=auto` is
    /// resolved from this machine's interfaces via `getifaddrs`.
    public static func load(file: String?, overrides: [String]) throws(ConfigError) -> CWConfig {
        try load(file: file, overrides: overrides, interfaces: LocalAddress.systemInterfaces)
    }

    /// As ``load(file:overrides:)``, with the interface list for `local_ip=auto` supplied by the caller
    /// (called at most once, and only when `local_ip` is `auto`).
    public static func load(
        file: String?, overrides: [String], interfaces: () -> [InterfaceAddress]
    ) throws(ConfigError) -> CWConfig {
        var contents: (name: String, text: String)?
        if let file {
            contents = (file, try readFile(file))
        }
        return try build(contents: contents, overrides: overrides, interfaces: interfaces)
    }

    /// Parses configuration text directly; `name` is used in error messages as the file name would be.
    public static func load(
        contents: String, name: String, overrides: [String] = [],
        interfaces: () -> [InterfaceAddress] = LocalAddress.systemInterfaces
    ) throws(ConfigError) -> CWConfig {
        try build(contents: (name, contents), overrides: overrides, interfaces: interfaces)
    }

    private static func build(
        contents: (name: String, text: String)?, overrides: [String], interfaces: () -> [InterfaceAddress]
    ) throws(ConfigError) -> CWConfig {
        var config = CWConfig()

        for key in keys {
            do throws(ValueError) {
                try key.apply(&config, key.defaultValue)
            } catch {
                // Only reachable if the key table itself is inconsistent; the tests load the defaults.
                throw ConfigError(source: .defaultValue, key: key.name, kind: .invalidValue(reason: error.reason))
            }
        }

        var explicit: [String: ConfigSource] = [:]
        func set(_ assignment: Assignment, from source: ConfigSource) throws(ConfigError) {
            guard let key = keysByName[assignment.key] else {
                throw ConfigError(source: source, key: assignment.key,
                                  kind: .unknownKey(suggestion: suggestion(for: assignment.key)))
            }
            if let first = explicit[key.name] {
                // A file may not repeat a key, nor may the overrides; an override may replace a file value.
                let sameLayer: Bool
                switch (first, source) {
                case (.file, .file), (.override, .override): sameLayer = true
                default: sameLayer = false
                }
                if sameLayer {
                    throw ConfigError(source: source, key: key.name, kind: .duplicateKey(first: first))
                }
            }
            do throws(ValueError) {
                try key.apply(&config, assignment.value)
            } catch {
                throw ConfigError(source: source, key: key.name, kind: .invalidValue(reason: error.reason))
            }
            explicit[key.name] = source
        }

        if let (name, text) = contents {
            for (lineNumber, line) in lines(of: text) {
                let source = ConfigSource.file(path: name, line: lineNumber)
                if let assignment = try parseLine(line, source: source) {
                    try set(assignment, from: source)
                }
            }
        }
        for (index, override) in overrides.enumerated() {
            let source = ConfigSource.override(index: index)
            try set(try parseAssignment(Substring(override), source: source), from: source)
        }

        try checkConsistency(config, origins: explicit)
        config.resolveAddresses(interfaces: interfaces)
        return config
    }

    /// Rules that involve more than one key. The error is reported against whichever of the keys
    /// involved was set last (a rule can only break if at least one was set explicitly).
    private static func checkConsistency(_ c: CWConfig, origins: [String: ConfigSource]) throws(ConfigError) {
        func fail(_ keys: [String], _ reason: String) -> ConfigError {
            let blamed = keys.max { (origins[$0] ?? .defaultValue).precedence < (origins[$1] ?? .defaultValue).precedence }!
            return ConfigError(source: origins[blamed] ?? .defaultValue, key: blamed, kind: .invalidValue(reason: reason))
        }
        if c.sipT2Ms < c.sipT1Ms {
            throw fail(["sip_t1_ms", "sip_t2_ms"], "sip_t2_ms (\(c.sipT2Ms)) must not be less than sip_t1_ms (\(c.sipT1Ms))")
        }
        if c.tlsCertificate.isEmpty != c.tlsPrivateKey.isEmpty {
            throw fail(["tls_certificate", "tls_private_key"],
                       "tls_certificate and tls_private_key must both be set, or both be empty (generate a self-signed certificate)")
        }
        let ports: [(String, Int)] = [("sip_port", c.sipPort), ("sip_tls_port", c.sipTLSPort),
                                      ("http_port", c.httpPort), ("hss_port", c.hssPort)]
        for i in ports.indices {
            for j in ports.indices where j > i && ports[i].1 == ports[j].1 {
                throw fail([ports[i].0, ports[j].0], "\(ports[i].0) and \(ports[j].0) are both \(ports[i].1); each listener needs its own port")
            }
        }
        if c.numberPoolStart + c.numberPoolSize - 1 > maxDirectoryNumber {
            throw fail(["number_pool_start", "number_pool_size"],
                       "number pool \(c.numberPoolStart)+\(c.numberPoolSize) runs past \(maxDirectoryNumber) (15 digits)")
        }
    }

    /// E.164 numbers have at most 15 digits.
    static let maxDirectoryNumber = 999_999_999_999_999

    private mutating func resolveAddresses(interfaces: () -> [InterfaceAddress]) {
        if localIPSetting == "auto" {
            localIPWasAutoDetected = true
            if let chosen = LocalAddress.choose(from: interfaces()) {
                localIP = IPAddress(chosen.address)?.text ?? chosen.address
                localIPInterface = chosen.name
            } else {
                localIP = LocalAddress.fallback
                localIPInterface = nil
            }
        } else {
            localIP = localIPSetting
            localIPWasAutoDetected = false
            localIPInterface = nil
        }
        publicIP = publicIPSetting.isEmpty ? localIP : publicIPSetting
    }

    // MARK: Rendering

    /// The effective configuration as a file (same layout as ``sampleFile()``), with `local_ip=auto`
    /// kept as `auto`. Loading it gives back an equal configuration on the same machine.
    public func renderedFile() -> String {
        Self.renderFile(header: "# cw-aio effective configuration.") { $0.render(self) }
    }

    /// `(key, value)` for every key, in table order, as ``renderedFile()`` would write them.
    public func settings() -> [(key: String, value: String)] {
        Self.keys.map { ($0.name, $0.render(self)) }
    }

    private static func readFile(_ path: String) throws(ConfigError) -> String {
        let whole = ConfigSource.file(path: path, line: 0)
        guard let fp = fopen(path, "rb") else {
            throw ConfigError(source: whole, key: nil, kind: .unreadableFile(reason: String(cString: strerror(errno))))
        }
        defer { fclose(fp) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 16384)
        while true {
            let n = chunk.withUnsafeMutableBytes { fread($0.baseAddress, 1, $0.count, fp) }
            bytes.append(contentsOf: chunk[0..<n])
            if n < chunk.count {
                if ferror(fp) != 0 {
                    throw ConfigError(source: whole, key: nil, kind: .unreadableFile(reason: String(cString: strerror(errno))))
                }
                break
            }
            if bytes.count > 1 << 20 {
                throw ConfigError(source: whole, key: nil, kind: .unreadableFile(reason: "larger than 1 MiB"))
            }
        }
        guard let text = String(bytes: bytes, encoding: .utf8) else {
            throw ConfigError(source: whole, key: nil, kind: .unreadableFile(reason: "not valid UTF-8"))
        }
        return text
    }
}
