import SIPCore

/// Small helpers shared by the proxy module (no Foundation).
enum ProxyText {
    static func lowercasedASCII(_ s: String) -> String { s.lowercasedASCII }

    /// Trims SP, HTAB, CR and LF compared as bytes, as the parser reads them (a space followed by a
    /// combining mark is one Character, but still a space).
    static func trimmed(_ s: Substring) -> Substring {
        let u = s.utf8
        var lo = u.startIndex, hi = u.endIndex
        while lo < hi, isSpace(u[lo]) { u.formIndex(after: &lo) }
        while hi > lo, isSpace(u[u.index(before: hi)]) { u.formIndex(before: &hi) }
        return s[lo..<hi]
    }
    private static func isSpace(_ b: UInt8) -> Bool { b == 0x20 || b == 0x09 || b == 0x0D || b == 0x0A }
    static func trimmed(_ s: String) -> String { String(trimmed(Substring(s))) }

    /// `s` after `prefix`, compared as bytes; nil when `s` does not start with it. (`hasPrefix` compares
    /// Characters: "!" followed by a combining mark would not count.)
    static func droppingPrefix(_ s: Substring, _ prefix: String) -> Substring? {
        guard s.utf8.starts(with: prefix.utf8) else { return nil }
        return s[s.utf8.index(s.startIndex, offsetBy: prefix.utf8.count)...]
    }

    static func equalsIgnoringCase(_ a: String, _ b: String) -> Bool { lowercasedASCII(a) == lowercasedASCII(b) }

    /// Zero-padded lower-case hex of a 64-bit value.
    static func hex(_ v: UInt64) -> String {
        let s = String(v, radix: 16)
        return String(repeating: "0", count: max(0, 16 - s.utf8.count)) + s
    }

    static func randomHex() -> String {
        var rng = SecureRandom()
        return hex(rng.next())
    }

    static func isHex(_ s: Substring) -> Bool {
        !s.isEmpty && s.utf8.allSatisfy { ($0 >= 0x30 && $0 <= 0x39) || ($0 >= 0x61 && $0 <= 0x66) }
    }

    /// Splits on `separator` outside double quotes (quoted-pair aware).
    static func splitOutsideQuotes(_ s: String, separator: UInt8) -> [String] {
        var out: [String] = []
        var current: [UInt8] = []
        var inQuotes = false, escaped = false
        for b in s.utf8 {
            if inQuotes {
                current.append(b)
                if escaped { escaped = false } else if b == UInt8(ascii: "\\") { escaped = true } else if b == UInt8(ascii: "\"") { inQuotes = false }
                continue
            }
            if b == UInt8(ascii: "\"") { inQuotes = true; current.append(b); continue }
            if b == separator {
                out.append(String(decoding: current, as: UTF8.self))
                current.removeAll(keepingCapacity: true)
            } else {
                current.append(b)
            }
        }
        out.append(String(decoding: current, as: UTF8.self))
        return out
    }

    /// Removes surrounding double quotes and resolves quoted-pairs; other text is returned trimmed.
    static func unquoted(_ s: String) -> String {
        let t = trimmed(s)
        guard t.utf8.count >= 2, t.utf8.first == UInt8(ascii: "\""), t.utf8.last == UInt8(ascii: "\"") else { return t }
        var out: [UInt8] = []
        var escaped = false
        for b in t.utf8.dropFirst().dropLast() {
            if escaped { out.append(b); escaped = false } else if b == UInt8(ascii: "\\") { escaped = true } else { out.append(b) }
        }
        return String(decoding: out, as: UTF8.self)
    }
}

/// FNV-1a 64 with a final avalanche (MurmurHash3 fmix64). Deterministic across processes and restarts, unlike
/// `Hasher`, so that a branch computed before a restart still detects a loop after it.
struct StableHasher {
    private var state: UInt64 = 0xcbf2_9ce4_8422_2325

    mutating func combine(_ s: String) {
        for b in s.utf8 { mix(b) }
        mix(0) // field separator: ("ab","c") and ("a","bc") differ
    }
    mutating func combine(_ s: String?) {
        if let s { mix(1); combine(s) } else { mix(2); mix(0) }
    }
    private mutating func mix(_ b: UInt8) {
        state ^= UInt64(b)
        state = state &* 0x0000_0100_0000_01B3
    }
    func finalize() -> UInt64 {
        var h = state
        h ^= h >> 33
        h = h &* 0xff51_afd7_ed55_8ccd
        h ^= h >> 33
        h = h &* 0xc4ce_b9fe_1a85_ec53
        h ^= h >> 33
        return h
    }
}

extension SIPHeaders {
    /// A copy with `name: value` inserted before the first field named `before` (appended when there is none).
    func inserting(_ name: String, _ value: String, before: String) -> SIPHeaders {
        let key = HeaderName.canonical(before)
        var out = fields
        let field = SIPHeader(name: name, value: value)
        if let i = out.firstIndex(where: { $0.canonicalName == key }) { out.insert(field, at: i) } else { out.append(field) }
        return SIPHeaders(out)
    }

    /// Replaces every Route field by one comma-joined field at the position of the first (removes them when empty).
    mutating func setList(_ name: String, _ values: [String]) {
        if values.isEmpty { remove(name) } else { set(name, values.joined(separator: ", ")) }
    }
}

extension SIPResponse {
    /// The response with `name: value` added before Content-Length (so a serialised message reads naturally).
    func adding(_ name: String, _ value: String) -> SIPResponse {
        var r = self
        r.headers = headers.inserting(name, value, before: "Content-Length")
        return r
    }
}
