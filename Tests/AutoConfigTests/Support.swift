import Foundation
import Testing
@testable import AutoConfig

/// A machine with loopback and one ordinary interface, so `local_ip=auto` is deterministic in tests.
let testInterfaces = [
    InterfaceAddress(name: "lo", family: .ipv4, address: "127.0.0.1", flags: [.up, .loopback, .running]),
    InterfaceAddress(name: "eth0", family: .ipv4, address: "10.1.2.3", flags: [.up, .running]),
]

/// Parses `text` as if it were the file `cw-aio.conf`.
func load(_ text: String, _ overrides: [String] = []) throws(ConfigError) -> CWConfig {
    try CWConfig.load(contents: text, name: "cw-aio.conf", overrides: overrides, interfaces: { testInterfaces })
}

func defaults() throws -> CWConfig {
    try CWConfig.load(file: nil, overrides: [], interfaces: { testInterfaces })
}

/// The error `text` (+ overrides) produces; fails the test if it loads.
func loadError(_ text: String, _ overrides: [String] = [],
               sourceLocation: SourceLocation = #_sourceLocation) -> ConfigError? {
    do {
        let config = try load(text, overrides)
        Issue.record("expected an error, loaded \(config.settings())", sourceLocation: sourceLocation)
        return nil
    } catch {
        return error
    }
}

/// A fresh temporary directory, removed by the caller with `cleanUp`.
struct TempDir {
    let path: String
    init() throws {
        path = NSTemporaryDirectory() + "autoconfig-tests-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }
    func write(_ name: String, _ bytes: [UInt8]) throws -> String {
        let file = path + "/" + name
        try Data(bytes).write(to: URL(fileURLWithPath: file))
        return file
    }
    func write(_ name: String, _ text: String) throws -> String {
        try write(name, Array(text.utf8))
    }
    func cleanUp() { try? FileManager.default.removeItem(atPath: path) }
}
