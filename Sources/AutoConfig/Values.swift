#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A value rejected by a key's validator. `reason` is the part after `key: ` in the final message.
struct ValueError: Error, Sendable {
    let reason: String
    init(_ reason: String) { self.reason = reason }
}

/// The log levels accepted by `log_level` (the swift-log levels, least to most severe).
public enum ConfigLogLevel: String, Sendable, CaseIterable, Comparable {
    case trace, debug, info, notice, warning, error, critical

    public static func < (lhs: ConfigLogLevel, rhs: ConfigLogLevel) -> Bool {
        allCases.firstIndex(of: lhs)! < allCases.firstIndex(of: rhs)!
    }
}

/// Value parsers shared by the key table. Each returns the typed value or throws a `ValueError`
/// whose reason quotes the offending text.
enum Parse {
    /// A non-negative decimal integer (ASCII digits only, no sign, at most 18 digits) in `range`.
    /// `what` names the kind of value in the range message: `"70000" is not a port (1-65535)`.
    static func integer(_ text: String, in range: ClosedRange<Int>, what: String? = nil) throws(ValueError) -> Int {
        let outOfRange: String
        if let what {
            outOfRange = "\(quoted(text)) is not \(what) (\(range.lowerBound)-\(range.upperBound))"
        } else {
            outOfRange = "\(quoted(text)) is out of range (\(range.lowerBound)-\(range.upperBound))"
        }
        let utf8 = text.utf8
        if utf8.first == UInt8(ascii: "-"), utf8.count > 1, utf8.dropFirst().allSatisfy(isDigit) {
            throw ValueError(outOfRange)  // a negative number: valid integer syntax, wrong range
        }
        guard !utf8.isEmpty, utf8.allSatisfy(isDigit) else {
            throw ValueError("\(quoted(text)) is not \(what ?? "a whole number") (\(range.lowerBound)-\(range.upperBound))")
        }
        guard utf8.count <= 18, let value = Int(text), range.contains(value) else {
            throw ValueError(outOfRange)
        }
        return value
    }

    static func onOff(_ text: String) throws(ValueError) -> Bool {
        switch text.lowercased() {
        case "on", "true", "yes", "1": return true
        case "off", "false", "no", "0": return false
        default: throw ValueError("\"\(text)\" is not on or off")
        }
    }

    static func port(_ text: String) throws(ValueError) -> Int {
        try integer(text, in: 1...65535, what: "a port")
    }

    static func nonEmpty(_ text: String) throws(ValueError) -> String {
        guard !text.isEmpty else { throw ValueError("must not be empty") }
        return text
    }

    static func logLevel(_ text: String) throws(ValueError) -> ConfigLogLevel {
        guard let level = ConfigLogLevel(rawValue: text.lowercased()) else {
            let names = ConfigLogLevel.allCases.map(\.rawValue).joined(separator: "|")
            throw ValueError("\(quoted(text)) is not a log level (\(names))")
        }
        return level
    }

    /// An IPv4 or IPv6 literal (IPv6 optionally in brackets), returned in canonical text form
    /// (`2001:DB8::0:1` → `2001:db8::1`), without brackets.
    static func ipAddress(_ text: String, allowUnspecified: Bool) throws(ValueError) -> String {
        guard let address = IPAddress(text) else {
            throw ValueError("\(quoted(text)) is not an IPv4 or IPv6 address")
        }
        if !allowUnspecified && address.isUnspecified {
            throw ValueError("\(quoted(text)) is the unspecified address; give a real address of this machine")
        }
        return address.text
    }

    /// An IP literal (canonicalised) or a DNS host name (returned as given).
    static func hostOrAddress(_ text: String) throws(ValueError) -> String {
        if let address = IPAddress(text) {
            if address.isUnspecified {
                throw ValueError("\(quoted(text)) is the unspecified address; give a reachable address")
            }
            return address.text
        }
        guard isValidDomainName(text) else {
            throw ValueError("\(quoted(text)) is not a valid domain name or IP address")
        }
        return text
    }

    private static func isDigit(_ byte: UInt8) -> Bool { byte >= 0x30 && byte <= 0x39 }
}

/// An IP literal validated with `inet_pton` and canonicalised with `inet_ntop`.
public struct IPAddress: Sendable, Hashable, CustomStringConvertible {
    public enum Family: Sendable, Hashable { case ipv4, ipv6 }

    public let family: Family
    /// Canonical text, without brackets (`192.0.2.1`, `2001:db8::1`).
    public let text: String

    /// Parses `192.0.2.1`, `2001:db8::1` or `[2001:db8::1]`. Returns nil for anything else
    /// (host names, zone indices, IPv4 with leading zeros or fewer than four parts).
    public init?(_ string: String) {
        var s = Substring(string)
        var bracketed = false
        if s.hasPrefix("[") && s.hasSuffix("]") && s.count >= 2 {
            s = s.dropFirst().dropLast()
            bracketed = true
        }
        guard !s.isEmpty, s.utf8.count < 64, !s.utf8.contains(0) else { return nil }
        if !bracketed, let v4 = Self.canonical(String(s), family: AF_INET) {
            family = .ipv4
            text = v4
        } else if let v6 = Self.canonical(String(s), family: AF_INET6) {
            family = .ipv6
            text = v6
        } else {
            return nil
        }
    }

    public var description: String { text }

    /// `0.0.0.0` or `::`.
    public var isUnspecified: Bool { text == "0.0.0.0" || text == "::" }

    /// `127.0.0.0/8` or `::1`.
    public var isLoopback: Bool { family == .ipv4 ? text.hasPrefix("127.") : text == "::1" }

    /// `169.254.0.0/16` or `fe80::/10`.
    public var isLinkLocal: Bool {
        switch family {
        case .ipv4: return text.hasPrefix("169.254.")
        case .ipv6:
            let lower = text.lowercased()
            return ["fe8", "fe9", "fea", "feb"].contains { lower.hasPrefix($0) }
        }
    }

    /// The host as written in a SIP/HTTP URI: IPv6 in brackets.
    public var uriHost: String { family == .ipv6 ? "[\(text)]" : text }

    private static func canonical(_ string: String, family: Int32) -> String? {
        var storage = in6_addr()  // large enough for either family
        let ok = withUnsafeMutableBytes(of: &storage) { raw in
            inet_pton(family, string, raw.baseAddress)
        }
        guard ok == 1 else { return nil }
        return withUnsafeBytes(of: &storage) { raw in
            ntop(family: family, raw.baseAddress!)
        }
    }

    /// `inet_ntop` for a raw `in_addr` / `in6_addr`.
    static func ntop(family: Int32, _ address: UnsafeRawPointer) -> String? {
        var buffer = [CChar](repeating: 0, count: Int(INET6_ADDRSTRLEN) + 1)
        let count = buffer.count
        let result = buffer.withUnsafeMutableBufferPointer { out in
            inet_ntop(family, address, out.baseAddress, socklen_t(count))
        }
        guard result != nil else { return nil }
        return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}

/// RFC 1123 host name: dot-separated labels of 1-63 letters, digits and hyphens, not starting or ending
/// with a hyphen, at most 253 characters, no trailing dot, and a last label that is not all digits
/// (so `999.1.1.1` is rejected rather than taken for a name).
public func isValidDomainName(_ name: String) -> Bool {
    let bytes = Array(name.utf8)
    guard !bytes.isEmpty, bytes.count <= 253 else { return false }
    let labels = bytes.split(separator: UInt8(ascii: "."), omittingEmptySubsequences: false)
    for label in labels {
        guard (1...63).contains(label.count),
              label.first != UInt8(ascii: "-"), label.last != UInt8(ascii: "-"),
              label.allSatisfy({ isAlnum($0) || $0 == UInt8(ascii: "-") })
        else { return false }
    }
    return !labels.last!.allSatisfy { $0 >= 0x30 && $0 <= 0x39 }
}

private func isAlnum(_ b: UInt8) -> Bool {
    (b >= 0x30 && b <= 0x39) || (b >= 0x41 && b <= 0x5A) || (b >= 0x61 && b <= 0x7A)
}
