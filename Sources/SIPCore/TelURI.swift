/// A `tel:` URI (RFC 3966). Parameters are held %-unescaped.
public struct TelURI: Sendable, Hashable, CustomStringConvertible {
    /// The number as written, with "+" for global numbers and any visual separators ("-", ".", "(", ")").
    public var number: String
    public var parameters: SIPParameters

    public init(number: String, parameters: SIPParameters = SIPParameters()) {
        self.number = number
        self.parameters = parameters
    }

    /// global-number = "+" *phonedigit DIGIT *phonedigit; local-number = 1*phonedigit-hex (RFC 3966 §3).
    /// A local number without `phone-context` is accepted (common in practice) but `phoneContext` is then nil.
    public init(parsing text: String) throws(SIPParseError) {
        let bytes = Array(text.utf8)
        guard bytes.count > 4, SIPGrammar.equalsIgnoringCase(SIPGrammar.string(bytes[0..<4]), "tel:") else {
            throw .malformed("tel URI")
        }
        var i = 4
        let start = i
        while i < bytes.count, bytes[i] != UInt8(ascii: ";") { i += 1 }
        let num = bytes[start..<i]
        guard TelURI.isValidNumber(num) else { throw .malformed("tel URI") }
        number = SIPGrammar.string(num)
        parameters = SIPParameters()
        var seen = Set<String>()
        while i < bytes.count {
            // The loop invariant: bytes[i] == ";".
            i += 1
            var end = i
            while end < bytes.count, bytes[end] != UInt8(ascii: ";") { end += 1 }
            let p = bytes[i..<end]
            let name: ArraySlice<UInt8>, value: ArraySlice<UInt8>?
            if let eq = p.firstIndex(of: UInt8(ascii: "=")) { name = p[..<eq]; value = p[(eq + 1)...] } else { name = p; value = nil }
            // pname = 1*( alphanum / "-" )
            guard !name.isEmpty, name.allSatisfy({ SIPGrammar.alphanum.contains($0) || $0 == UInt8(ascii: "-") }) else {
                throw .malformed("tel URI")
            }
            var v: String? = nil
            if let value {
                guard !value.isEmpty, let d = SIPGrammar.percentDecode(value, allowed: SIPGrammar.param) else {
                    throw .malformed("tel URI")
                }
                v = SIPGrammar.string(d)
            }
            let nameString = SIPGrammar.string(name)
            guard seen.insert(SIPGrammar.lowercasedASCII(nameString)).inserted else { throw .malformed("tel URI") }
            parameters.items.append((nameString, v))
            i = end
        }
    }

    static func isValidNumber(_ n: ArraySlice<UInt8>) -> Bool {
        let visual: (UInt8) -> Bool = { $0 == 0x2D || $0 == 0x2E || $0 == 0x28 || $0 == 0x29 }
        if n.first == UInt8(ascii: "+") {
            let digits = n.dropFirst()
            return digits.contains(where: SIPGrammar.isDigit) && digits.allSatisfy { SIPGrammar.isDigit($0) || visual($0) }
        }
        let isHexish: (UInt8) -> Bool = { SIPGrammar.hex.contains($0) || $0 == UInt8(ascii: "*") || $0 == UInt8(ascii: "#") }
        return n.contains(where: isHexish) && n.allSatisfy { isHexish($0) || visual($0) }
    }

    public var isGlobal: Bool { number.utf8.first == UInt8(ascii: "+") }
    /// The `phone-context` parameter (mandatory for local numbers per RFC 3966 §5.1.5).
    public var phoneContext: String? { parameters["phone-context"].flatMap { $0 } }
    /// The number without visual separators, hex digits upper-cased (RFC 3966 §4 comparison form).
    public var normalizedNumber: String {
        SIPGrammar.string(number.utf8.compactMap { b -> UInt8? in
            switch b {
            case 0x2D, 0x2E, 0x28, 0x29: nil
            case 0x61...0x66: b - 0x20
            default: b
            }
        })
    }

    public var description: String {
        var s = "tel:" + number
        for item in parameters.items {
            s += ";" + item.name
            if let v = item.value { s += "=" + SIPGrammar.percentEncode(v, allowed: SIPGrammar.param) }
        }
        return s
    }

    /// RFC 3966 §4: same number ignoring visual separators, same parameters in any order, names and values
    /// case-insensitive.
    public func isEquivalent(to other: TelURI) -> Bool {
        guard normalizedNumber == other.normalizedNumber, parameters.items.count == other.parameters.items.count else {
            return false
        }
        for item in parameters.items {
            guard let v = other.parameters[item.name], (v == nil) == (item.value == nil),
                  SIPGrammar.equalsIgnoringCase(v ?? "", item.value ?? "") else { return false }
        }
        return true
    }
}
