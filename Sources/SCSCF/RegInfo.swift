/// `application/reginfo+xml` documents (RFC 3680 §5.3; one registration element per public identity
/// of the implicit registration set, as TS 24.229 §5.4.2.1.2 asks).
public enum RegInfo {
    public enum DocumentState: String, Sendable { case full, partial }

    public struct ContactEntry: Sendable {
        public var binding: Binding
        /// `active` or `terminated`.
        public var state: String
        /// registered, created, refreshed, shortened, expired, deactivated, unregistered, rejected.
        public var event: String
        public init(binding: Binding, state: String, event: String) {
            self.binding = binding
            self.state = state
            self.event = event
        }
    }

    public struct Registration: Sendable {
        public var aor: String
        public var id: String
        /// `init`, `active` or `terminated`.
        public var state: String
        public var contacts: [ContactEntry]
        public init(aor: String, id: String, state: String, contacts: [ContactEntry]) {
            self.aor = aor
            self.id = id
            self.state = state
            self.contacts = contacts
        }
    }

    public static let contentType = "application/reginfo+xml"

    public static func document(version: Int, state: DocumentState, registrations: [Registration], now: Int64) -> String {
        var xml = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
        xml += "<reginfo xmlns=\"urn:ietf:params:xml:ns:reginfo\" xmlns:gr=\"urn:ietf:params:xml:ns:gruuinfo\""
        xml += " version=\"\(version)\" state=\"\(state.rawValue)\">\n"
        for reg in registrations {
            xml += "  <registration aor=\"\(escape(reg.aor))\" id=\"\(escape(reg.id))\" state=\"\(escape(reg.state))\">\n"
            for entry in reg.contacts {
                let b = entry.binding
                let expires = entry.state == "terminated" ? 0 : b.remaining(at: now)
                xml += "    <contact id=\"\(escape(contactID(b)))\" state=\"\(escape(entry.state))\" event=\"\(escape(entry.event))\""
                xml += " expires=\"\(expires)\""
                if let q = b.q { xml += " q=\"\(Binding.format(q))\"" }
                xml += " callid=\"\(escape(b.callID))\" cseq=\"\(b.cseq)\">\n"
                xml += "      <uri>\(escape(b.contactURI))</uri>\n"
                for item in b.contactParameters.items where item.name.lowercased() != "expires" && item.name.lowercased() != "q" {
                    if let value = item.value {
                        xml += "      <unknown-param name=\"\(escape(item.name))\">\(escape(value.trimmingQuotes))</unknown-param>\n"
                    } else {
                        xml += "      <unknown-param name=\"\(escape(item.name))\"/>\n"
                    }
                }
                if let instance = b.instance, entry.state == "active" {
                    xml += "      <gr:pub-gruu uri=\"\(escape(pubGRUU(aor: reg.aor, instance: instance)))\"/>\n"
                }
                xml += "    </contact>\n"
            }
            xml += "  </registration>\n"
        }
        xml += "</reginfo>\n"
        return xml
    }

    /// Public GRUU (RFC 5627 §3.1): the AoR with `gr=` set to the instance URN, %-escaped where a URI
    /// parameter value needs it (RFC 3261 §25.1 paramchar), so that the parameter unescapes to the instance ID.
    public static func pubGRUU(aor: String, instance: String) -> String {
        var urn = instance.trimmingQuotes
        if urn.hasPrefix("<") && urn.hasSuffix(">") { urn = String(urn.dropFirst().dropLast()) }
        return "\(aor);gr=\(escapeParamValue(urn))"
    }

    /// paramchar = param-unreserved / unreserved / escaped.
    static func escapeParamValue(_ text: String) -> String {
        let hex = Array("0123456789ABCDEF".utf8)
        var out: [UInt8] = []
        for b in text.utf8 {
            switch b {
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"):
                out.append(b)
            case _ where Array("-_.!~*'()[]/:&+$".utf8).contains(b):
                out.append(b)
            default:
                out += [UInt8(ascii: "%"), hex[Int(b >> 4)], hex[Int(b & 0x0F)]]
            }
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// A stable, opaque contact id derived from the binding key (FNV-1a; no Foundation here).
    static func contactID(_ b: Binding) -> String {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in b.key.utf8 { hash = (hash ^ UInt64(byte)) &* 0x100_0000_01b3 }
        return String(hash, radix: 36)
    }

    static func escape(_ text: String) -> String {
        var out = ""
        out.reserveCapacity(text.utf8.count)
        for ch in text.unicodeScalars {
            switch ch {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&apos;"
            default:
                // XML 1.0 forbids most control characters even escaped.
                if ch.value < 0x20 && ch != "\t" && ch != "\n" && ch != "\r" { continue }
                out.unicodeScalars.append(ch)
            }
        }
        return out
    }
}

extension String {
    var trimmingQuotes: String {
        if count >= 2, hasPrefix("\""), hasSuffix("\"") { return String(dropFirst().dropLast()) }
        return self
    }
}

extension RegInfo {
    /// The bare URN of a `+sip.instance` value (`"<urn:uuid:…>"` → `urn:uuid:…`), as GRUUs carry it.
    public static func instanceURN(_ instance: String) -> String {
        var urn = instance.trimmingQuotes
        if urn.hasPrefix("<") && urn.hasSuffix(">") { urn = String(urn.dropFirst().dropLast()) }
        return urn
    }
}
