/// XML text helpers: escaping for output and the `<ClearwaterRegData>` document.
public enum ClearwaterRegDataXML {
    /// The `<ClearwaterRegData>` document Homestead answers `/impu/<impu>/reg-data` with.
    public static func render(_ data: HSSRegistrationData) -> String {
        var out = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<ClearwaterRegData>\n"
        out += "  <RegistrationState>\(data.state.rawValue)</RegistrationState>\n"
        out += "  <IMSSubscription>\n"
        out += "    <PrivateID>\(escape(data.privateID))</PrivateID>\n"
        out += "    <ServiceProfile>\n"
        for identity in data.publicIdentities {
            out += "      <PublicIdentity>\n"
            if identity.barred { out += "        <BarringIndication>1</BarringIndication>\n" }
            out += "        <Identity>\(escape(identity.identity))</Identity>\n"
            out += "      </PublicIdentity>\n"
        }
        for ifc in data.initialFilterCriteria {
            out += "      " + ifc + "\n"
        }
        out += "    </ServiceProfile>\n"
        out += "  </IMSSubscription>\n"
        if data.chargingAddresses.isEmpty {
            out += "  <ChargingAddresses/>\n"
        } else {
            out += "  <ChargingAddresses>\n"
            for (index, ccf) in data.chargingAddresses.ccfs.enumerated() {
                out += "    <CCF priority=\"\(index + 1)\">\(escape(ccf))</CCF>\n"
            }
            for (index, ecf) in data.chargingAddresses.ecfs.enumerated() {
                out += "    <ECF priority=\"\(index + 1)\">\(escape(ecf))</ECF>\n"
            }
            out += "  </ChargingAddresses>\n"
        }
        out += "</ClearwaterRegData>\n"
        return out
    }

    /// Escapes text for element content or a quoted attribute value. Characters XML 1.0 cannot carry
    /// at all (C0 controls other than TAB/LF/CR, U+FFFE, U+FFFF) become U+FFFD.
    public static func escape(_ text: String) -> String {
        var out = ""
        out.unicodeScalars.reserveCapacity(text.unicodeScalars.count)
        for scalar in text.unicodeScalars {
            switch scalar {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&apos;"
            case "\t", "\n", "\r": out.unicodeScalars.append(scalar)
            default:
                if scalar.value < 0x20 || scalar.value == 0xFFFE || scalar.value == 0xFFFF {
                    out.unicodeScalars.append("\u{FFFD}")
                } else {
                    out.unicodeScalars.append(scalar)
                }
            }
        }
        return out
    }
}

/// Reads a stored TS 29.228 `<ServiceProfile>` (or `<IMSSubscription>`) document without a DOM.
public enum ServiceProfileXML {
    /// The `<InitialFilterCriteria>` elements of the document (at any depth, outermost only, matched by
    /// their exact unprefixed name), each as its verbatim XML text, in document order.
    ///
    /// `nil` when the document is not well-formed XML (unbalanced or mismatched tags, bad attribute
    /// syntax, `&` that is not one of the predefined or a character reference, characters XML forbids,
    /// a DOCTYPE), so nothing malformed is ever copied into `<ClearwaterRegData>`.
    public static func initialFilterCriteria(in xml: String) -> [String]? {
        guard xml.unicodeScalars.allSatisfy(isXMLChar) else { return nil }
        var scanner = Scanner(Array(xml.utf8))
        return scanner.run()
    }

    private static let target: [UInt8] = Array("InitialFilterCriteria".utf8)

    private struct Scanner {
        let bytes: [UInt8]
        var i = 0
        /// Open elements: name bytes range and the offset of their `<`.
        var stack: [(name: ArraySlice<UInt8>, start: Int)] = []
        /// Stack depth of the outermost open iFC, if any.
        var ifcDepth: Int?
        var found: [String] = []
        var sawRoot = false

        init(_ bytes: [UInt8]) { self.bytes = bytes }

        mutating func run() -> [String]? {
            // A UTF-8 byte order mark is allowed at the very start.
            if bytes.starts(with: [0xEF, 0xBB, 0xBF]) { i = 3 }
            while i < bytes.count {
                if bytes[i] == UInt8(ascii: "<") {
                    guard markup() else { return nil }
                } else {
                    guard text() else { return nil }
                }
            }
            guard stack.isEmpty, sawRoot else { return nil }
            return found
        }

        // MARK: text

        /// Character data up to the next `<`.
        mutating func text() -> Bool {
            while i < bytes.count, bytes[i] != UInt8(ascii: "<") {
                let b = bytes[i]
                if b == UInt8(ascii: "&") {
                    guard reference() else { return false }
                    continue
                }
                if stack.isEmpty, !isXMLSpace(b) { return false }  // text outside the root
                if b == UInt8(ascii: "]"), matches("]]>") { return false }
                i += 1
            }
            return true
        }

        /// `&amp;` and friends or `&#NN;` / `&#xHH;`, with `i` at the `&`.
        mutating func reference() -> Bool {
            guard let semicolon = bytes[i...].prefix(12).firstIndex(of: UInt8(ascii: ";")) else { return false }
            let body = bytes[(i + 1)..<semicolon]
            if body.first == UInt8(ascii: "#") {
                var digits = body.dropFirst()
                var radix = 10
                if digits.first == UInt8(ascii: "x") {
                    radix = 16
                    digits = digits.dropFirst()
                }
                guard !digits.isEmpty, let value = UInt32(String(decoding: digits, as: UTF8.self), radix: radix),
                      let scalar = Unicode.Scalar(value), isXMLChar(scalar) else { return false }
            } else {
                let name = String(decoding: body, as: UTF8.self)
                guard ["amp", "lt", "gt", "quot", "apos"].contains(name) else { return false }
            }
            i = semicolon + 1
            return true
        }

        // MARK: markup

        mutating func markup() -> Bool {
            if matches("<!--") {
                guard let end = find("-->", from: i + 4) else { return false }
                // "--" may not occur inside a comment.
                guard find("--", from: i + 4).map({ $0 == end }) ?? false else { return false }
                i = end + 3
                return true
            }
            if matches("<![CDATA[") {
                guard !stack.isEmpty, let end = find("]]>", from: i + 9) else { return false }
                i = end + 3
                return true
            }
            if matches("<?") {
                guard let end = find("?>", from: i + 2) else { return false }
                i = end + 2
                return true
            }
            if matches("<!") { return false }  // DOCTYPE and anything else declaration-like
            if matches("</") { return endTag() }
            return startTag()
        }

        mutating func startTag() -> Bool {
            let tagStart = i
            i += 1
            guard let name = name() else { return false }
            if stack.isEmpty {
                guard !sawRoot else { return false }  // a second root element
                sawRoot = true
            }
            var attributes: [ArraySlice<UInt8>] = []
            while true {
                let hadSpace = skipSpace()
                guard i < bytes.count else { return false }
                if bytes[i] == UInt8(ascii: ">") {
                    i += 1
                    stack.append((name, tagStart))
                    if ifcDepth == nil, name.elementsEqual(ServiceProfileXML.target) { ifcDepth = stack.count }
                    return true
                }
                if matches("/>") {
                    i += 2
                    if ifcDepth == nil, name.elementsEqual(ServiceProfileXML.target) {
                        found.append(String(decoding: bytes[tagStart..<i], as: UTF8.self))
                    }
                    return true
                }
                guard hadSpace, let attribute = self.name() else { return false }
                guard !attributes.contains(where: { $0.elementsEqual(attribute) }) else { return false }
                attributes.append(attribute)
                skipSpace()
                guard i < bytes.count, bytes[i] == UInt8(ascii: "=") else { return false }
                i += 1
                skipSpace()
                guard i < bytes.count, bytes[i] == UInt8(ascii: "\"") || bytes[i] == UInt8(ascii: "'") else { return false }
                let quote = bytes[i]
                i += 1
                while true {
                    guard i < bytes.count else { return false }
                    let b = bytes[i]
                    if b == quote { i += 1; break }
                    if b == UInt8(ascii: "<") { return false }
                    if b == UInt8(ascii: "&") {
                        guard reference() else { return false }
                        continue
                    }
                    i += 1
                }
            }
        }

        mutating func endTag() -> Bool {
            i += 2
            guard let name = name() else { return false }
            skipSpace()
            guard i < bytes.count, bytes[i] == UInt8(ascii: ">") else { return false }
            i += 1
            guard let open = stack.popLast(), open.name.elementsEqual(name) else { return false }
            if let depth = ifcDepth, depth == stack.count + 1 {
                found.append(String(decoding: bytes[open.start..<i], as: UTF8.self))
                ifcDepth = nil
            }
            return true
        }

        /// An XML Name (ASCII rules, any non-ASCII byte accepted as a name character).
        mutating func name() -> ArraySlice<UInt8>? {
            let start = i
            while i < bytes.count {
                let b = bytes[i]
                let isStart = isASCIILetter(b) || b == UInt8(ascii: "_") || b == UInt8(ascii: ":") || b >= 0x80
                let isOther = isStart || (b >= UInt8(ascii: "0") && b <= UInt8(ascii: "9"))
                    || b == UInt8(ascii: "-") || b == UInt8(ascii: ".")
                if i == start ? isStart : isOther { i += 1 } else { break }
            }
            return i > start ? bytes[start..<i] : nil
        }

        @discardableResult
        mutating func skipSpace() -> Bool {
            let start = i
            while i < bytes.count, isXMLSpace(bytes[i]) { i += 1 }
            return i > start
        }

        func matches(_ literal: StaticString) -> Bool {
            let count = literal.utf8CodeUnitCount
            guard i + count <= bytes.count else { return false }
            return literal.withUTF8Buffer { bytes[i..<(i + count)].elementsEqual($0) }
        }

        func find(_ literal: StaticString, from start: Int) -> Int? {
            literal.withUTF8Buffer { needle -> Int? in
                guard needle.count > 0, bytes.count >= needle.count, start <= bytes.count - needle.count else { return nil }
                var j = start
                while j <= bytes.count - needle.count {
                    if bytes[j..<(j + needle.count)].elementsEqual(needle) { return j }
                    j += 1
                }
                return nil
            }
        }
    }

    private static func isXMLSpace(_ b: UInt8) -> Bool {
        b == 0x20 || b == 0x09 || b == 0x0A || b == 0x0D
    }

    private static func isASCIILetter(_ b: UInt8) -> Bool {
        (b >= UInt8(ascii: "a") && b <= UInt8(ascii: "z")) || (b >= UInt8(ascii: "A") && b <= UInt8(ascii: "Z"))
    }

    /// XML 1.0 `Char`: C0 controls only TAB, LF, CR; no surrogates, U+FFFE or U+FFFF.
    private static func isXMLChar(_ scalar: Unicode.Scalar) -> Bool {
        switch scalar.value {
        case 0x9, 0xA, 0xD, 0x20...0xD7FF, 0xE000...0xFFFD, 0x10000...0x10FFFF: true
        default: false
        }
    }
}
