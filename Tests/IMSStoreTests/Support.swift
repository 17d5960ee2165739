import Foundation
@testable import IMSStore

/// A fresh temporary data directory, removed when the test's `body` returns.
func withTemporaryDirectory<T>(_ body: (String) async throws -> T) async throws -> T {
    let path = FileManager.default.temporaryDirectory
        .appendingPathComponent("imsstore-\(UUID().uuidString)").path
    try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(atPath: path) }
    return try await body(path)
}

/// Opens a store in a fresh temporary directory and closes it afterwards.
func withStore<T>(numberPool: NumberPoolRange? = nil, _ body: (IMSStore, String) async throws -> T) async throws -> T {
    try await withTemporaryDirectory { directory in
        let store = try IMSStore(dataDirectory: directory, numberPool: numberPool)
        defer { try? store.close() }
        return try await body(store, directory)
    }
}

/// Deterministic stand-in for the CLI's MD5 / SHA-256 HA1 (the test target has no crypto library):
/// FNV-1a of `impi:realm:password`, widened to 32 and 64 hex digits.
func fakeHA1(impi: String, realm: String, password: String)
    -> (md5: String, sha256: String, userMD5: String?, userSHA256: String?)
{
    var hash: UInt64 = 0xcbf2_9ce4_8422_2325
    for byte in "\(impi):\(realm):\(password)".utf8 {
        hash = (hash ^ UInt64(byte)) &* 0x100_0000_01b3
    }
    let word = String(hash, radix: 16)
    let padded = String(repeating: "0", count: 16 - word.count) + word
    return (String(repeating: padded, count: 2), String(repeating: padded, count: 4),
            String(repeating: padded, count: 2).uppercased(), nil)
}

let md5A = String(repeating: "a", count: 32)
let md5B = String(repeating: "b", count: 32)
let sha256A = String(repeating: "c", count: 64)

func subscriber(_ number: String, domain: String = "example.com", extra: [String] = [], ifc: String? = nil)
    -> NewSubscriber
{
    NewSubscriber(impi: "\(number)@\(domain)", realm: domain, ha1MD5: md5A, ha1SHA256: sha256A,
                  publicIdentities: ["sip:\(number)@\(domain)"] + extra, ifcXML: ifc)
}

func writeFile(_ directory: String, _ name: String, _ text: String) throws -> String {
    let path = directory + "/" + name
    try text.write(toFile: path, atomically: true, encoding: .utf8)
    return path
}

/// Runs `body` and returns the StoreError it threw (nil if it did not throw one).
func storeError(_ body: () async throws -> Void) async -> StoreError? {
    do {
        try await body()
        return nil
    } catch let error as StoreError {
        return error
    } catch {
        return .database("unexpected error type: \(error)")
    }
}
