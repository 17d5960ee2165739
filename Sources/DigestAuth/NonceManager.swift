import Crypto
import Synchronization
import struct SIPCore.SecureRandom

/// What `NonceManager.validate` found.
public enum NonceValidation: Sendable, Hashable {
    /// Issued by this server (for this realm and binding) and within its lifetime.
    case valid(issuedAt: UInt64)
    /// Issued by this server but expired (older than the lifetime, or dated in the future beyond the skew
    /// allowance, e.g. after the clock was stepped back). Answer with a new challenge carrying `stale=true`.
    case stale(issuedAt: UInt64)
    /// Not a nonce of this server: garbage, wrong length, bad MAC, other realm or binding. Answer with a
    /// fresh challenge (without `stale`).
    case invalid
}

/// Stateless, unforgeable, restart-proof nonces (RFC 7616 §3.3 / §5.4 style).
///
/// A nonce is 48 base64url characters (no padding) encoding 36 bytes:
///
///     timestamp (8 bytes, big-endian Unix seconds) ‖ random (12 bytes) ‖ MAC (16 bytes)
///     MAC = HMAC-SHA256(Knonce, "cw-aio digest nonce v1" ‖ timestamp ‖ random ‖ len ‖ realm ‖ len ‖ binding)[0..<16]
///
/// `Knonce = HMAC-SHA256(secret, "cw-aio digest nonce key")`; lengths are 4-byte big-endian. Nothing is
/// stored per nonce, so any process holding the same secret (a restart, a second instance) accepts it. The
/// optional `binding` ties a nonce to data of the client that does not change with its address (e.g. the
/// To/From AOR or the Call-ID); pass the same bytes to `issue` and `validate`, or none to both.
///
/// `opaque(realm:)` is a fixed per-server, per-realm token: base64url of
/// HMAC-SHA256(Kopaque, "cw-aio digest opaque v1" ‖ realm)[0..<18] (24 characters), `Kopaque` derived from the
/// secret like `Knonce`. It carries no state: it only lets the server recognise that a client echoed a
/// challenge of this server (`isValidOpaque`). RFC 2617 asks clients to return it unchanged.
///
/// Secret rotation: pass older secrets in `previousSecrets`; nonces and opaques made with them still
/// validate, new ones use `secret`.
public struct NonceManager: Sendable {
    public enum ConfigurationError: Error, Sendable, Hashable {
        /// The secret has fewer than `NonceManager.minimumSecretLength` bytes.
        case secretTooShort
    }

    public static let defaultLifetime: UInt64 = 300
    public static let minimumSecretLength = 16
    /// Length of every nonce this manager issues, in characters.
    public static let nonceLength = 48

    /// Seconds a nonce stays valid after it was issued.
    public let lifetime: UInt64
    /// Seconds a nonce may be dated in the future and still count as valid (clock steps between instances).
    public let allowedFutureSkew: UInt64

    // HMAC states already keyed with the derived keys: each MAC starts from a copy instead of hashing the
    // key pads again (HMAC is a value type; a copy's first update copies the hash context).
    private let keyed: KeyedMACs

    private static let nonceLabel = Array("cw-aio digest nonce v1".utf8)
    private static let opaqueLabel = Array("cw-aio digest opaque v1".utf8)
    private static let timestampLength = 8
    private static let randomLength = 12
    private static let macLength = 16
    private static let rawLength = timestampLength + randomLength + macLength

    /// - Parameters:
    ///   - secret: the server secret (at least 16 bytes; 32 random bytes recommended), kept across restarts.
    ///   - previousSecrets: secrets still accepted for validation during a rotation.
    ///   - lifetime: seconds a nonce is valid (default 300).
    ///   - allowedFutureSkew: seconds a nonce may be dated ahead of `now` (default 5).
    public init(
        secret: [UInt8], previousSecrets: [[UInt8]] = [], lifetime: UInt64 = NonceManager.defaultLifetime,
        allowedFutureSkew: UInt64 = 5
    ) throws(ConfigurationError) {
        let all = [secret] + previousSecrets
        guard all.allSatisfy({ $0.count >= NonceManager.minimumSecretLength }) else { throw .secretTooShort }
        self.lifetime = lifetime
        self.allowedFutureSkew = allowedFutureSkew
        self.keyed = KeyedMACs(
            nonce: all.map { HMAC<SHA256>(key: SymmetricKey(data: NonceManager.deriveKey($0, label: "cw-aio digest nonce key"))) },
            opaque: all.map { HMAC<SHA256>(key: SymmetricKey(data: NonceManager.deriveKey($0, label: "cw-aio digest opaque key"))) })
    }

    /// The keyed states are immutable after init and only ever copied from, so sharing them across
    /// threads is safe; the opaque memo is behind its lock.
    private final class KeyedMACs: @unchecked Sendable {
        let nonce: [HMAC<SHA256>]
        let opaque: [HMAC<SHA256>]
        /// Per realm: the opaque MAC under each key and the current one's text. An opaque depends on
        /// nothing else, and two HMACs per REGISTER pair for the same few realms showed in profiles.
        let opaqueMemo = Mutex<[String: (macs: [[UInt8]], text: String)]>([:])
        init(nonce: [HMAC<SHA256>], opaque: [HMAC<SHA256>]) {
            self.nonce = nonce
            self.opaque = opaque
        }
    }

    /// Realms memoised at most (a deployment has one or a few; the memo restarts when full).
    private static let opaqueMemoLimit = 64

    private func opaques(realm: String) -> (macs: [[UInt8]], text: String) {
        if let hit = keyed.opaqueMemo.withLock({ $0[realm] }) { return hit }
        let macs = keyed.opaque.map { NonceManager.opaqueMAC(keyed: $0, realm: realm) }
        let entry = (macs: macs, text: Base64URL.encode(macs[0]))
        keyed.opaqueMemo.withLock { memo in
            if memo.count >= NonceManager.opaqueMemoLimit { memo.removeAll() }
            memo[realm] = entry
        }
        return entry
    }

    private static func deriveKey(_ secret: [UInt8], label: String) -> [UInt8] {
        Array(HMAC<SHA256>.authenticationCode(for: Array(label.utf8), using: SymmetricKey(data: secret)))
    }

    /// A new nonce, dated `now` (Unix seconds), with random bytes from the system CSPRNG.
    public func issue(realm: String, now: UInt64, binding: [UInt8] = []) -> String {
        var rng = SecureRandom()
        return issue(realm: realm, now: now, binding: binding, using: &rng)
    }

    /// A new nonce with random bytes from `generator` (tests pass a seeded one).
    public func issue<R: RandomNumberGenerator>(
        realm: String, now: UInt64, binding: [UInt8] = [], using generator: inout R
    ) -> String {
        var raw: [UInt8] = []
        raw.reserveCapacity(NonceManager.rawLength)
        NonceManager.appendBigEndian(now, bytes: 8, to: &raw)
        var random: UInt64 = 0
        for i in 0..<NonceManager.randomLength {
            if i % 8 == 0 { random = generator.next() }
            raw.append(UInt8(truncatingIfNeeded: random))
            random >>= 8
        }
        raw.append(contentsOf: NonceManager.mac(keyed: keyed.nonce[0], payload: raw[...], realm: realm, binding: binding))
        return Base64URL.encode(raw)
    }

    /// Checks a nonce received in credentials. Cheap on garbage: anything not exactly 48 base64url characters
    /// is refused before any MAC is computed.
    public func validate(_ nonce: String, realm: String, now: UInt64, binding: [UInt8] = []) -> NonceValidation {
        guard nonce.utf8.count == NonceManager.nonceLength,
              let raw = Base64URL.decode(nonce), raw.count == NonceManager.rawLength
        else { return .invalid }
        let payloadLength = NonceManager.timestampLength + NonceManager.randomLength
        let payload = raw[0..<payloadLength]
        let given = Array(raw[payloadLength...])
        var matched = false
        for key in keyed.nonce {
            // Evaluate every key so timing does not reveal which one matched.
            let expected = NonceManager.mac(keyed: key, payload: payload, realm: realm, binding: binding)
            if ConstantTime.equals(expected, given) { matched = true }
        }
        guard matched else { return .invalid }
        var issuedAt: UInt64 = 0
        for b in raw[0..<NonceManager.timestampLength] { issuedAt = issuedAt << 8 | UInt64(b) }
        if issuedAt > now {
            return issuedAt - now <= allowedFutureSkew ? .valid(issuedAt: issuedAt) : .stale(issuedAt: issuedAt)
        }
        return now - issuedAt <= lifetime ? .valid(issuedAt: issuedAt) : .stale(issuedAt: issuedAt)
    }

    /// The opaque value to put in challenges for `realm` (fixed for a given secret and realm).
    public func opaque(realm: String) -> String {
        opaques(realm: realm).text
    }

    /// Whether `opaque` is one this server gives out for `realm` (current or previous secret).
    public func isValidOpaque(_ opaque: String, realm: String) -> Bool {
        guard opaque.utf8.count == 24, let raw = Base64URL.decode(opaque) else { return false }
        var matched = false
        for mac in opaques(realm: realm).macs where ConstantTime.equals(mac, raw) {
            matched = true
        }
        return matched
    }

    private static func mac(keyed: HMAC<SHA256>, payload: ArraySlice<UInt8>, realm: String, binding: [UInt8]) -> [UInt8] {
        // One buffer, one update: label ‖ payload ‖ len ‖ realm ‖ len ‖ binding.
        var message: [UInt8] = []
        message.reserveCapacity(nonceLabel.count + payload.count + 8 + realm.utf8.count + binding.count)
        message.append(contentsOf: nonceLabel)
        message.append(contentsOf: payload)
        appendBigEndian(UInt64(realm.utf8.count), bytes: 4, to: &message)
        message.append(contentsOf: realm.utf8)
        appendBigEndian(UInt64(binding.count), bytes: 4, to: &message)
        message.append(contentsOf: binding)
        var h = keyed
        h.update(data: message)
        return h.finalize().withUnsafeBytes { Array($0.prefix(macLength)) }
    }

    private static func opaqueMAC(keyed: HMAC<SHA256>, realm: String) -> [UInt8] {
        var message = opaqueLabel
        message.append(contentsOf: realm.utf8)
        var h = keyed
        h.update(data: message)
        return h.finalize().withUnsafeBytes { Array($0.prefix(18)) }
    }

    private static func appendBigEndian(_ value: UInt64, bytes: Int, to out: inout [UInt8]) {
        for i in stride(from: bytes - 1, through: 0, by: -1) {
            out.append(UInt8(truncatingIfNeeded: value >> (UInt64(i) * 8)))
        }
    }
}

/// base64url without padding (RFC 4648 §5), strict: canonical encodings only.
enum Base64URL {
    private static let alphabet: [UInt8] = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_".utf8)

    static func encode(_ bytes: [UInt8]) -> String {
        var out: [UInt8] = []
        out.reserveCapacity((bytes.count * 4 + 2) / 3)
        var i = 0
        while i + 3 <= bytes.count {
            let n = UInt32(bytes[i]) << 16 | UInt32(bytes[i + 1]) << 8 | UInt32(bytes[i + 2])
            out.append(alphabet[Int(n >> 18 & 63)])
            out.append(alphabet[Int(n >> 12 & 63)])
            out.append(alphabet[Int(n >> 6 & 63)])
            out.append(alphabet[Int(n & 63)])
            i += 3
        }
        let rest = bytes.count - i
        if rest == 1 {
            let n = UInt32(bytes[i]) << 16
            out.append(alphabet[Int(n >> 18 & 63)])
            out.append(alphabet[Int(n >> 12 & 63)])
        } else if rest == 2 {
            let n = UInt32(bytes[i]) << 16 | UInt32(bytes[i + 1]) << 8
            out.append(alphabet[Int(n >> 18 & 63)])
            out.append(alphabet[Int(n >> 12 & 63)])
            out.append(alphabet[Int(n >> 6 & 63)])
        }
        return String(decoding: out, as: UTF8.self)
    }

    private static func value(_ c: UInt8) -> UInt32? {
        switch c {
        case UInt8(ascii: "A")...UInt8(ascii: "Z"): UInt32(c - UInt8(ascii: "A"))
        case UInt8(ascii: "a")...UInt8(ascii: "z"): UInt32(c - UInt8(ascii: "a") + 26)
        case UInt8(ascii: "0")...UInt8(ascii: "9"): UInt32(c - UInt8(ascii: "0") + 52)
        case UInt8(ascii: "-"): 62
        case UInt8(ascii: "_"): 63
        default: nil
        }
    }

    static func decode(_ text: String) -> [UInt8]? {
        let chars = Array(text.utf8)
        guard chars.count % 4 != 1 else { return nil }
        var out: [UInt8] = []
        out.reserveCapacity(chars.count * 3 / 4)
        var acc: UInt32 = 0
        var bits = 0
        for c in chars {
            guard let v = value(c) else { return nil }
            acc = acc << 6 | v
            bits += 6
            if bits >= 8 {
                bits -= 8
                out.append(UInt8(truncatingIfNeeded: acc >> UInt32(bits)))
                acc &= (1 << UInt32(bits)) - 1
            }
        }
        // Leftover bits must be zero, or the encoding is not canonical.
        guard acc == 0 else { return nil }
        return out
    }
}
