/// The Digest computations of RFC 2617 §3.2.2 / RFC 7616 §3.4 (and RFC 2069 without qop), with every hash
/// written as lower-case hex. Strings are hashed as their UTF-8 bytes.
///
/// - HA1 = H(username ":" realm ":" password); for `-sess`: H(HA1 ":" nonce ":" cnonce)
/// - HA2 = H(method ":" digest-uri); for `auth-int`: H(method ":" digest-uri ":" H(body))
/// - response = H(HA1 ":" nonce ":" nc ":" cnonce ":" qop ":" HA2) with qop, H(HA1 ":" nonce ":" HA2) without.
///
/// A stored HA1 is always the plain one of its hash function; `-sess` is derived per request.
public enum DigestMath {
    /// HA1 = H(username:realm:password): what a subscriber database stores instead of the password.
    public static func ha1(_ hash: DigestHashFunction, username: String, realm: String, password: String) -> String {
        hash.hexDigest("\(username):\(realm):\(password)")
    }

    /// HA1 = H(username:realm:password) for the hash function of `algorithm` (the plain HA1 even for `-sess`).
    public static func ha1(algorithm: DigestAlgorithm, username: String, realm: String, password: String) -> String {
        ha1(algorithm.hashFunction, username: username, realm: realm, password: password)
    }

    /// The HA1 that enters the response: the stored one for plain algorithms, H(HA1:nonce:cnonce) for `-sess`.
    /// The stored HA1 is lower-cased first (databases sometimes keep upper-case hex).
    public static func effectiveHA1(_ algorithm: DigestAlgorithm, storedHA1: String, nonce: String, cnonce: String?) -> String {
        let base = AuthGrammar.lowercasedASCII(storedHA1)
        guard algorithm.isSession else { return base }
        return algorithm.hashFunction.hexDigest("\(base):\(nonce):\(cnonce ?? "")")
    }

    /// HA2 = H(method:uri), or H(method:uri:H(body)) for auth-int (the empty body hashes as H("")).
    public static func ha2(_ hash: DigestHashFunction, method: String, uri: String, qop: DigestQop?, body: [UInt8] = []) -> String {
        if qop == .authInt {
            return hash.hexDigest("\(method):\(uri):\(hash.hexDigest(body))")
        }
        return hash.hexDigest(joined(method, uri))
    }

    /// The parts joined with ":" as one byte buffer (what H() is applied to), sized up front.
    static func joined(_ parts: String...) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(parts.reduce(parts.count) { $0 + $1.utf8.count })
        for (i, part) in parts.enumerated() {
            if i > 0 { out.append(UInt8(ascii: ":")) }
            out.append(contentsOf: part.utf8)
        }
        return out
    }

    /// The request-digest a client sends in `response`.
    ///
    /// - Parameters:
    ///   - storedHA1: the plain HA1 (`ha1(...)`), even for `-sess` algorithms.
    ///   - nonceCount: the `nc` text exactly as sent (8 hex digits); ignored without qop.
    ///   - qop: nil for RFC 2069 compatibility (no nc/cnonce in the hash).
    public static func response(
        _ algorithm: DigestAlgorithm, storedHA1: String, nonce: String, nonceCount: String?, cnonce: String?,
        qop: DigestQop?, method: String, uri: String, body: [UInt8] = []
    ) -> String {
        responseText(
            algorithm, storedHA1: storedHA1, nonce: nonce, nonceCount: nonceCount, cnonce: cnonce,
            qop: qop, qopText: qop?.token, method: method, uri: uri, body: body)
    }

    /// `nc` as the 8 lower-case hex digits clients send.
    public static func nonceCountText(_ count: UInt32) -> String {
        let hex = String(count, radix: 16)
        return String(repeating: "0", count: max(0, 8 - hex.count)) + hex
    }

    /// The response computed with the qop token exactly as received (clients hash what they sent).
    static func responseText(
        _ algorithm: DigestAlgorithm, storedHA1: String, nonce: String, nonceCount: String?, cnonce: String?,
        qop: DigestQop?, qopText: String?, method: String, uri: String, body: [UInt8]
    ) -> String {
        let h = algorithm.hashFunction
        let a1 = effectiveHA1(algorithm, storedHA1: storedHA1, nonce: nonce, cnonce: cnonce)
        let a2 = ha2(h, method: method, uri: uri, qop: qop, body: body)
        if let qop {
            return h.hexDigest(joined(a1, nonce, nonceCount ?? "", cnonce ?? "", qopText ?? qop.token, a2))
        }
        return h.hexDigest(joined(a1, nonce, a2))
    }
}

/// Comparisons whose running time does not depend on where the inputs differ.
public enum ConstantTime {
    /// Byte equality that always inspects every byte of the common length. Only the lengths (not secret for
    /// digests, whose length follows from the algorithm) may influence the time taken.
    public static func equals<A: Collection, B: Collection>(_ a: A, _ b: B) -> Bool
    where A.Element == UInt8, B.Element == UInt8 {
        let x = Array(a)
        let y = Array(b)
        var diff: UInt8 = x.count == y.count ? 0 : 1
        let n = Swift.min(x.count, y.count)
        var i = 0
        while i < n {
            diff |= x[i] ^ y[i]
            i += 1
        }
        return diff == 0
    }

    /// UTF-8 byte equality of two strings in constant time (see `equals(_:_:)` for bytes).
    public static func equals(_ a: String, _ b: String) -> Bool {
        equals(Array(a.utf8), Array(b.utf8))
    }
}

/// The outcome of checking a Digest `response`.
public enum DigestVerification: Sendable, Hashable {
    /// The response matches: the client knows the password (or HA1).
    case ok
    /// The response does not match (or is not hex, or a `-sess`/qop request lacks its cnonce/nc).
    case wrongResponse
    /// The credentials name an algorithm this module does not implement.
    case unsupportedAlgorithm
    /// The credentials name a qop this module does not implement.
    case unsupportedQop
}

/// Checks a response against the stored HA1, without any nonce bookkeeping (see `DigestAuthenticator`).
public enum DigestVerifier {
    /// Verifies `credentials.response` for a request.
    ///
    /// - Parameters:
    ///   - storedHA1: the subscriber's plain HA1 for `credentials.algorithm?.hashFunction` (MD5 HA1 for MD5 and
    ///     MD5-sess, SHA-256 HA1 for SHA-256 and SHA-256-sess), in hex of either case.
    ///   - method: the method of the request being authenticated, as in its request line ("REGISTER").
    ///   - body: the message body, used only for qop=auth-int.
    public static func verify(
        _ credentials: DigestCredentials, method: String, storedHA1: String, body: [UInt8] = []
    ) -> DigestVerification {
        guard let algorithm = credentials.algorithm else { return .unsupportedAlgorithm }
        var qop: DigestQop?
        if let qopText = credentials.qopName {
            guard let q = DigestQop(token: qopText) else { return .unsupportedQop }
            qop = q
        }
        let hash = algorithm.hashFunction
        guard storedHA1.utf8.count == hash.hexLength, Hex.isHex(storedHA1) else { return .wrongResponse }
        if qop != nil, credentials.cnonce == nil || credentials.nonceCountText == nil { return .wrongResponse }
        if algorithm.isSession, credentials.cnonce == nil { return .wrongResponse }
        let expected = DigestMath.responseText(
            algorithm, storedHA1: storedHA1, nonce: credentials.nonce, nonceCount: credentials.nonceCountText,
            cnonce: credentials.cnonce, qop: qop, qopText: credentials.qopName, method: method,
            uri: credentials.uri, body: body)
        let given = AuthGrammar.lowercasedASCII(credentials.response)
        return ConstantTime.equals(expected, given) ? .ok : .wrongResponse
    }
}
