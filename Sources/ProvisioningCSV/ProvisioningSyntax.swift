/// Syntax checks and canonical forms for what the subscriber store accepts. All checks are pure and
/// cheap enough to run on every row of a 100k-row import. No Foundation, no database: the bulk-CSV
/// parser and its fuzz harness use them as they are.
public enum ProvisioningSyntax {
    /// The canonical form of a public identity, or nil when it is not `sip:user@host`,
    /// `sips:user@host` or `tel:+digits`. Scheme and host are lower-cased; the user part is kept
    /// as written (it is case-sensitive, RFC 3261 §19.1.4). No password, port, parameters or headers.
    public static func publicIdentity(_ text: String) -> String? {
        let utf8 = Array(text.utf8)
        guard let colon = utf8.firstIndex(of: UInt8(ascii: ":")) else { return nil }
        let scheme = String(decoding: utf8[..<colon], as: UTF8.self).lowercased()
        let rest = utf8[(colon + 1)...]
        switch scheme {
        case "tel":
            // Global number only: + and 1-15 digits (E.164).
            guard rest.count >= 2, rest.first == UInt8(ascii: "+"),
                  rest.count - 1 <= 15, rest.dropFirst().allSatisfy(isDigit) else { return nil }
            return "tel:" + String(decoding: rest, as: UTF8.self)
        case "sip", "sips":
            guard let at = rest.firstIndex(of: UInt8(ascii: "@")) else { return nil }
            let user = rest[rest.startIndex..<at]
            let host = rest[(at + 1)...]
            guard isValidUser(user), let canonicalHost = canonicalHost(host) else { return nil }
            return scheme + ":" + String(decoding: user, as: UTF8.self) + "@" + canonicalHost
        default:
            return nil
        }
    }

    /// RFC 3261 `user`: unreserved / escaped / user-unreserved, non-empty.
    private static func isValidUser(_ user: ArraySlice<UInt8>) -> Bool {
        guard !user.isEmpty, user.count <= 256 else { return false }
        var index = user.startIndex
        while index < user.endIndex {
            let byte = user[index]
            if byte == UInt8(ascii: "%") {
                guard index + 2 < user.endIndex,
                      isHexDigit(user[index + 1]), isHexDigit(user[index + 2]) else { return false }
                index += 3
                continue
            }
            guard isAlnum(byte) || userMarks.contains(byte) else { return false }
            index += 1
        }
        return true
    }

    /// unreserved marks plus user-unreserved (`-_.!~*'()` and `&=+$,;?/`).
    private static let userMarks: Set<UInt8> = Set("-_.!~*'()&=+$,;?/".utf8)

    /// A host name, an IPv4 literal or a bracketed IPv6 literal, lower-cased; nil when malformed.
    private static func canonicalHost(_ host: ArraySlice<UInt8>) -> String? {
        guard !host.isEmpty, host.count <= 253 + 2 else { return nil }
        if host.first == UInt8(ascii: "[") {
            guard host.last == UInt8(ascii: "]"), host.count > 2 else { return nil }
            let inner = host.dropFirst().dropLast()
            guard inner.contains(UInt8(ascii: ":")),
                  inner.allSatisfy({ isHexDigit($0) || $0 == UInt8(ascii: ":") || $0 == UInt8(ascii: ".") })
            else { return nil }
            return String(decoding: host, as: UTF8.self).lowercased()
        }
        // hostname = *( domainlabel "." ) toplabel [ "." ]; an IPv4 literal has the same shape.
        var labels = host.split(separator: UInt8(ascii: "."), omittingEmptySubsequences: false)
        if labels.count > 1, labels.last?.isEmpty == true { labels.removeLast() }
        for label in labels {
            guard !label.isEmpty, label.count <= 63,
                  label.allSatisfy({ isAlnum($0) || $0 == UInt8(ascii: "-") }),
                  label.first != UInt8(ascii: "-"), label.last != UInt8(ascii: "-") else { return nil }
        }
        return String(decoding: host, as: UTF8.self).lowercased()
    }

    /// Private identities and realms are NAIs / tokens that go into quoted digest parameters: printable
    /// ASCII or UTF-8, no whitespace, no quotes or backslashes, at most 255 bytes.
    public static func identityProblem(_ text: String, what: String) -> String? {
        if text.isEmpty { return "\(what) is empty" }
        if text.utf8.count > 255 { return "\(what) \"\(text.prefix(40))...\" is longer than 255 bytes" }
        for scalar in text.unicodeScalars {
            let v = scalar.value
            if v <= 0x20 || v == 0x7F || (0x80...0x9F).contains(v) || scalar == "\"" || scalar == "\\" {
                return "\(what) \"\(text)\" may not contain spaces, quotes, backslashes or control characters"
            }
        }
        return nil
    }

    /// Lower-cased hex of exactly `length` digits, or nil.
    public static func hex(_ text: String, length: Int) -> String? {
        guard text.utf8.count == length, text.utf8.allSatisfy(isHexDigit) else { return nil }
        return text.lowercased()
    }

    /// A plausible TS 29.228 service profile: non-empty XML with a ServiceProfile or
    /// InitialFilterCriteria element. (Full validation belongs to the S-CSCF's iFC parser.)
    public static func ifcProblem(_ xml: String) -> String? {
        let trimmed = xml.trimmingWhitespace()
        if trimmed.isEmpty { return "iFC XML is empty" }
        guard trimmed.hasPrefix("<"),
              trimmed.contains("<ServiceProfile") || trimmed.contains("<InitialFilterCriteria") else {
            return "iFC XML is not a TS 29.228 <ServiceProfile> document"
        }
        return nil
    }

    /// The pool number a public identity uses, if any: the all-digit user part of a SIP URI or the
    /// digits of a tel URI, without a leading `+`.
    public static func directoryNumber(ofPublicIdentity impu: String) -> String? {
        var digits: Substring
        if impu.hasPrefix("tel:") {
            digits = impu.dropFirst(4)
        } else if let colon = impu.firstIndex(of: ":"), let at = impu.firstIndex(of: "@") {
            digits = impu[impu.index(after: colon)..<at]
        } else {
            return nil
        }
        if digits.hasPrefix("+") { digits = digits.dropFirst() }
        guard !digits.isEmpty, digits.count <= 15, digits.utf8.allSatisfy(isDigit) else { return nil }
        return String(digits)
    }

    public static func isDigit(_ byte: UInt8) -> Bool { byte >= 0x30 && byte <= 0x39 }
    public static func isHexDigit(_ byte: UInt8) -> Bool {
        isDigit(byte) || (byte >= 0x41 && byte <= 0x46) || (byte >= 0x61 && byte <= 0x66)
    }
    public static func isAlnum(_ byte: UInt8) -> Bool {
        isDigit(byte) || (byte >= 0x41 && byte <= 0x5A) || (byte >= 0x61 && byte <= 0x7A)
    }
}

extension String {
    /// The text without leading and trailing spaces, tabs, CR and LF.
    fileprivate func trimmingWhitespace() -> Substring {
        let isSpace: (Character) -> Bool = { $0 == " " || $0 == "\t" || $0 == "\r" || $0 == "\n" }
        guard let first = firstIndex(where: { !isSpace($0) }),
              let last = lastIndex(where: { !isSpace($0) }) else { return "" }
        return self[first...last]
    }
}
