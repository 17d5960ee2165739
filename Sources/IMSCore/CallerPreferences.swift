import SCSCF
import SIPCore

/// Caller preferences (RFC 3841) applied to the terminating target set: Reject-Contact drops
/// matching contacts, an explicit `require` Accept-Contact keeps only matching ones, and the rest
/// are ordered by q-value (RFC 3261 §16.6: highest first; equal q keeps registration order).
enum CallerPreferences {
    static func apply(_ request: SIPRequest, to bindings: [Binding]) -> [Binding] {
        var out = bindings
        for value in request.headers.values("Reject-Contact") {
            let tags = featureTags(value)
            out.removeAll { b in !tags.isEmpty && tags.allSatisfy { matches(b, $0) } }
        }
        for value in request.headers.values("Accept-Contact") {
            let params = (try? NameAddr(parsing: "<sip:x>" + value.drop(while: { $0 != ";" })))?.parameters
            let require = params?.contains("require") ?? false
            let explicit = params?.contains("explicit") ?? false
            let tags = featureTags(value)
            if require && explicit {
                out = out.filter { b in tags.allSatisfy { matches(b, $0) } }
            }
        }
        return out.enumerated().sorted { a, b in
            let qa = a.element.q ?? 1, qb = b.element.q ?? 1
            return qa != qb ? qa > qb : a.offset < b.offset
        }.map(\.element)
    }

    /// Feature tags of an Accept-/Reject-Contact value (`*;audio;+sip.instance="<…>"`).
    static func featureTags(_ value: String) -> [(String, String?)] {
        value.split(separator: ";").dropFirst().compactMap { part in
            let kv = part.split(separator: "=", maxSplits: 1).map { String($0).trimmingCharacters() }
            guard let name = kv.first?.lowercased(), !name.isEmpty, name != "require", name != "explicit" else { return nil }
            return (name, kv.count > 1 ? kv[1] : nil)
        }
    }

    static func matches(_ b: Binding, _ tag: (String, String?)) -> Bool {
        guard let present = b.contactParameters[tag.0] else { return false }
        guard let wanted = tag.1 else { return true }
        let have = (present ?? "").replacingQuotes().lowercased()
        return have == wanted.replacingQuotes().lowercased().trimmingQuotesAndBrackets()
            || have.trimmingQuotesAndBrackets() == wanted.lowercased().trimmingQuotesAndBrackets()
    }
}

enum SDPCheck {
    /// A body that claims to be SDP must look like SDP (RFC 4566 §5): `v=0` first, then `x=value` lines.
    static func isPlausible(_ body: [UInt8]) -> Bool {
        guard let text = String(validating: body, as: UTF8.self) else { return false }
        let lines = text.split(omittingEmptySubsequences: true, whereSeparator: { $0 == "\r" || $0 == "\n" })
        guard let first = lines.first, first.hasPrefix("v=0") else { return false }
        return lines.allSatisfy { line in
            let u = Array(line.utf8)
            return u.count >= 2 && u[1] == UInt8(ascii: "=") && (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(u[0])
        }
    }
}

extension String {
    func trimmingQuotesAndBrackets() -> String {
        var s = Substring(self)
        while let f = s.first, f == "\"" || f == "<" || f == " " { s = s.dropFirst() }
        while let l = s.last, l == "\"" || l == ">" || l == " " { s = s.dropLast() }
        return String(s)
    }
}
