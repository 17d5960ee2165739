import Crypto

/// The hash behind a Digest algorithm. A stored HA1 belongs to one hash function and serves both the plain
/// and the `-sess` algorithm of that family.
public enum DigestHashFunction: Sendable, Hashable, CaseIterable {
    case md5
    case sha256

    /// Length of a digest in lower-case hex characters (32 or 64).
    public var hexLength: Int {
        switch self {
        case .md5: 32
        case .sha256: 64
        }
    }

    /// The plain (non-session) algorithm of this family.
    public var algorithm: DigestAlgorithm {
        switch self {
        case .md5: .md5
        case .sha256: .sha256
        }
    }

    /// H(data) as lower-case hex.
    public func hexDigest<C: Collection>(_ data: C) -> String where C.Element == UInt8 {
        if let hex = data.withContiguousStorageIfAvailable({ hexDigest(bytes: UnsafeRawBufferPointer($0)) }) { return hex }
        return Array(data).withUnsafeBytes { hexDigest(bytes: $0) }
    }

    /// H(string) over the UTF-8 bytes, as lower-case hex.
    public func hexDigest(_ string: String) -> String {
        var text = string
        return text.withUTF8 { hexDigest(bytes: UnsafeRawBufferPointer($0)) }
    }

    /// Hashes the bytes where they are: several digests per REGISTER, no copy into an array first.
    func hexDigest(bytes: UnsafeRawBufferPointer) -> String {
        switch self {
        case .md5:
            var hasher = Insecure.MD5()
            hasher.update(bufferPointer: bytes)
            return Hex.encode(hasher.finalize())
        case .sha256:
            var hasher = SHA256()
            hasher.update(bufferPointer: bytes)
            return Hex.encode(hasher.finalize())
        }
    }
}

/// Digest algorithms supported (RFC 2617, RFC 7616, RFC 8760). Tokens compare case-insensitively.
public enum DigestAlgorithm: String, Sendable, Hashable, CaseIterable {
    case md5 = "MD5"
    case md5Sess = "MD5-sess"
    case sha256 = "SHA-256"
    case sha256Sess = "SHA-256-sess"

    /// Parses an `algorithm` token; nil for unsupported algorithms (e.g. "SHA-512-256", "AKAv1-MD5").
    public init?<S: StringProtocol>(token: S) {
        guard let match = DigestAlgorithm.allCases.first(where: { AuthGrammar.equalsIgnoringASCIICase($0.rawValue, token) })
        else { return nil }
        self = match
    }

    /// The token as written in headers.
    public var token: String { rawValue }

    /// Whether HA1 is re-keyed with nonce and cnonce (`-sess`).
    public var isSession: Bool { self == .md5Sess || self == .sha256Sess }

    public var hashFunction: DigestHashFunction {
        switch self {
        case .md5, .md5Sess: .md5
        case .sha256, .sha256Sess: .sha256
        }
    }

    /// Preference when offering several challenges: stronger first (RFC 8760: the most preferred algorithm first, SHA-256 before MD5).
    var preferenceRank: Int {
        switch self {
        case .sha256: 0
        case .sha256Sess: 1
        case .md5: 2
        case .md5Sess: 3
        }
    }
}

/// Quality of protection (RFC 2617 §3.2.1).
public enum DigestQop: String, Sendable, Hashable, CaseIterable {
    case auth = "auth"
    case authInt = "auth-int"

    /// Parses a qop-value; nil for unknown tokens.
    public init?<S: StringProtocol>(token: S) {
        guard let match = DigestQop.allCases.first(where: { AuthGrammar.equalsIgnoringASCIICase($0.rawValue, token) })
        else { return nil }
        self = match
    }

    public var token: String { rawValue }
}

/// Lower-case hexadecimal.
enum Hex {
    private static let digits: [UInt8] = Array("0123456789abcdef".utf8)

    /// A digest's bytes, written as text in place: no intermediate array.
    static func encode<D: Digest>(_ digest: D) -> String {
        digest.withUnsafeBytes { encode(bytes: $0) }
    }

    static func encode(bytes: UnsafeRawBufferPointer) -> String {
        String(unsafeUninitializedCapacity: bytes.count * 2) { out in
            var i = 0
            for b in bytes {
                out[i] = digits[Int(b >> 4)]
                out[i + 1] = digits[Int(b & 0x0F)]
                i += 2
            }
            return i
        }
    }

    /// Whether every character is a hex digit (either case) and there is at least one.
    static func isHex<S: StringProtocol>(_ s: S) -> Bool {
        !s.isEmpty && s.utf8.allSatisfy(isHexByte)
    }

    static func isHexByte(_ b: UInt8) -> Bool {
        switch b {
        case UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "a")...UInt8(ascii: "f"),
             UInt8(ascii: "A")...UInt8(ascii: "F"):
            return true
        default:
            return false
        }
    }
}
