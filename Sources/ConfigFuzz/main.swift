// libFuzzer harness for AutoConfig: the configuration file parser (with `--set` overrides) and the IP
// literal parser. Built normally it is an executable that does nothing; built with `--sanitize=fuzzer`
// libFuzzer supplies `main` and calls `LLVMFuzzerTestOneInput` for every input. Errors are fine; crashes
// (including traps on arithmetic overflow) and broken IP round trips are findings.
import AutoConfig

let fuzzInterfaces: [InterfaceAddress] = [
    InterfaceAddress(name: "lo", family: .ipv4, address: "127.0.0.1", flags: [.up, .loopback, .running]),
    InterfaceAddress(name: "eth0", family: .ipv6, address: "fe80::1", flags: [.up, .running]),
    InterfaceAddress(name: "eth0", family: .ipv4, address: "192.0.2.10", flags: [.up, .running]),
    InterfaceAddress(name: "eth1", family: .ipv6, address: "2001:db8::10", flags: [.up]),
]

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let text = String(decoding: UnsafeBufferPointer(start: data, count: size), as: UTF8.self)
    // Text before the first NUL is the file; each line after it is one `--set key=value` override.
    let parts = text.split(separator: "\0", maxSplits: 1, omittingEmptySubsequences: false)
    let file = String(parts[0])
    let overrides = parts.count > 1 ? parts[1].split(separator: "\n").map(String.init) : []
    ConfigFuzzChecks.load(file, overrides: overrides)
    ConfigFuzzChecks.load("", overrides: file.split(separator: "\n").map(String.init))
    for line in file.split(separator: "\n").prefix(16) { ConfigFuzzChecks.ip(String(line)) }
    return 0
}

enum ConfigFuzzChecks {
    static func load(_ contents: String, overrides: [String]) {
        do {
            let c = try CWConfig.load(contents: contents, name: "fuzz.conf", overrides: overrides, interfaces: { fuzzInterfaces })
            _ = (c.resolvedLocalIP(), c.publicHostForURI, c.resolvedEventLoopThreads, c.usesGeneratedCertificate)
            _ = (c.numberPoolEnd, c.resolvedEnumFile, c.resolvedBGCFFile)
            ip(c.localIP)
        } catch {
            _ = error.description
        }
    }

    static func ip(_ text: String) {
        guard let a = IPAddress(text) else { return }
        _ = (a.isUnspecified, a.isLoopback, a.isLinkLocal, a.uriHost)
        guard let back = IPAddress(a.text), back == a else { fatalError("IPAddress round trip: \(text) -> \(a.text)") }
        guard let host = IPAddress(a.uriHost), host == a else { fatalError("IPAddress uriHost round trip: \(a.uriHost)") }
    }
}
