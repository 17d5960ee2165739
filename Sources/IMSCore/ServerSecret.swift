import Foundation

/// The per-install secret that keys digest nonces (so they survive restarts and cannot be forged).
/// Generated on first start into `data_dir/secret` with mode 0600.
enum ServerSecret {
    static func load(dataDir: String) throws -> [UInt8] {
        let path = (dataDir as NSString).appendingPathComponent("secret")
        if let data = FileManager.default.contents(atPath: path), data.count >= 32 {
            return Array(data.prefix(32))
        }
        var rng = SystemRandomNumberGenerator()
        let bytes = (0..<32).map { _ in UInt8.random(in: 0...255, using: &rng) }
        try FileManager.default.createDirectory(atPath: dataDir, withIntermediateDirectories: true)
        _ = FileManager.default.createFile(atPath: path, contents: Data(bytes), attributes: [.posixPermissions: 0o600])
        return bytes
    }
}
