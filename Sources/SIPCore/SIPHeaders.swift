/// One header field line as received: the name as written and the value with folding collapsed.
public struct SIPHeader: Hashable, Sendable {
    public var name: String { didSet { canonicalName = HeaderName.canonical(name) } }
    public var value: String { didSet { parsed = nil } }
    public init(name: String, value: String) {
        self.name = name
        self.value = value
        self.canonicalName = HeaderName.canonical(name)
    }
    /// Lower-cased long form of the name (compact forms expanded, RFC 3261 §7.3.3). Cached: lookups are hot.
    public private(set) var canonicalName: String
    /// The value as name-addrs or via-parms, when the parser's validation parsed it (From, To, Contact,
    /// Via): the elements that read these fields again (P-, I-, S-CSCF, the response builder, response
    /// routing, transaction matching) take them from here instead of parsing the text again, up to eight
    /// times per REGISTER. Dropped when the value changes.
    var parsed: ParsedValues?

    /// The value as one name-addr (nil when malformed): the validation's parse when kept, else parsed now.
    var nameAddr: NameAddr? {
        if let parsed, !parsed.nameAddrs.isEmpty { return parsed.nameAddrs[0] }
        return try? NameAddr(parsing: value)
    }

    // Equality and hashing are over the text; the cache is derived from it.
    public static func == (a: SIPHeader, b: SIPHeader) -> Bool { a.name == b.name && a.value == b.value }
    public func hash(into hasher: inout Hasher) {
        hasher.combine(name)
        hasher.combine(value)
    }
}

/// Name-addrs or via-parms parsed from one header field (shared by copies of the message, never mutated).
final class ParsedValues: Sendable {
    let nameAddrs: [NameAddr]
    let vias: [Via]
    init(nameAddrs: [NameAddr]) { self.nameAddrs = nameAddrs; self.vias = [] }
    init(vias: [Via]) { self.nameAddrs = []; self.vias = vias }
}

public enum HeaderName {
    /// RFC 3261 §7.3.3 and later RFCs' compact forms.
    static let compact: [String: String] = [
        "i": "call-id", "m": "contact", "e": "content-encoding", "l": "content-length",
        "c": "content-type", "f": "from", "s": "subject", "k": "supported", "t": "to",
        "v": "via", "o": "event", "r": "refer-to", "b": "referred-by", "u": "allow-events",
        "x": "session-expires", "a": "accept-contact", "j": "reject-contact",
        "d": "request-disposition", "y": "identity", "n": "identity-info",
    ]
    /// Headers whose values are never split on commas (RFC 3261 §7.3.1: values may contain commas).
    static let unsplittable: Set<String> = [
        "www-authenticate", "authorization", "proxy-authenticate", "proxy-authorization",
        "authentication-info", "date", "subject", "call-id", "cseq", "content-length",
        "content-type", "max-forwards", "expires", "min-expires", "user-agent", "server",
        "organization", "timestamp", "retry-after", "content-disposition", "mime-version",
        "priority", "reply-to", "in-reply-to", "from", "to", "warning",
    ]
    public static func canonical(_ name: String) -> String {
        // The spellings the code itself looks up, and the usual wire spellings, map without a scan:
        // small-string equality is one compare, lower-casing is a pass and a new string.
        switch name.utf8.count {
        case 2: if name == "To" { return "to" }
        case 3: if name == "Via" { return "via" }
        case 4:
            if name == "From" { return "from" }
            if name == "CSeq" { return "cseq" }
            if name == "Path" { return "path" }
        case 5:
            if name == "Route" { return "route" }
            if name == "Event" { return "event" }
            if name == "Allow" { return "allow" }
        case 6: if name == "Server" { return "server" }
        case 7:
            if name == "Call-ID" { return "call-id" }
            if name == "Contact" { return "contact" }
            if name == "Expires" { return "expires" }
            if name == "Require" { return "require" }
        case 9: if name == "Supported" { return "supported" }
        case 10: if name == "User-Agent" { return "user-agent" }
        case 12:
            if name == "Max-Forwards" { return "max-forwards" }
            if name == "Record-Route" { return "record-route" }
            if name == "Content-Type" { return "content-type" }
        case 13: if name == "Authorization" { return "authorization" }
        case 14: if name == "Content-Length" { return "content-length" }
        default: break
        }
        let lower = SIPGrammar.lowercasedASCII(name)
        if lower.utf8.count == 1 { return compact[lower] ?? lower }
        return lower
    }
    public static func isList(_ canonical: String) -> Bool { !unsplittable.contains(canonical) }
    /// Name equality with the length compared first: most fields a lookup passes differ in length,
    /// and unequal small strings otherwise take the general comparison.
    @inline(__always) static func same(_ a: String, _ b: String) -> Bool { a.utf8.count == b.utf8.count && a == b }
}

/// The ordered header fields of a message. Lookup is by canonical name (case-insensitive, compact forms equal long forms).
public struct SIPHeaders: Sendable, Hashable, Sequence {
    public private(set) var fields: [SIPHeader]
    public init(_ fields: [SIPHeader] = []) { self.fields = fields }
    public func makeIterator() -> IndexingIterator<[SIPHeader]> { fields.makeIterator() }
    public var count: Int { fields.count }

    /// The raw value of the first field with this name.
    public func first(_ name: String) -> String? {
        let key = HeaderName.canonical(name)
        return fields.first { HeaderName.same($0.canonicalName, key) }?.value
    }
    /// Every raw field value with this name, in order (not comma-split).
    public func rawValues(_ name: String) -> [String] {
        let key = HeaderName.canonical(name)
        return fields.filter { HeaderName.same($0.canonicalName, key) }.map(\.value)
    }
    /// Every element of a list header, comma-split outside quotes and angle brackets (RFC 3261 §7.3.1).
    public func values(_ name: String) -> [String] {
        let key = HeaderName.canonical(name)
        let list = HeaderName.isList(key)
        var out: [String] = []
        for field in fields where HeaderName.same(field.canonicalName, key) {
            if list { HeaderValueSplitter.split(field.value, into: &out) } else { out.append(field.value) }
        }
        return out
    }
    /// `values(name).first` without splitting every field: the top Via, the first Route.
    public func firstValue(_ name: String) -> String? {
        let key = HeaderName.canonical(name)
        guard HeaderName.isList(key) else { return fields.first { HeaderName.same($0.canonicalName, key) }?.value }
        for field in fields where HeaderName.same(field.canonicalName, key) {
            if let first = HeaderValueSplitter.first(field.value) { return first }
        }
        return nil
    }
    public func contains(_ name: String) -> Bool { first(name) != nil }

    /// The first field with this name as a name-addr (nil when absent or malformed): from the parse the
    /// parser's validation kept, else parsed now.
    public func nameAddr(_ name: String) -> NameAddr? {
        let key = HeaderName.canonical(name)
        return fields.first(where: { HeaderName.same($0.canonicalName, key) })?.nameAddr
    }

    /// Every element of every field with this name as name-addrs when validation kept them all; nil
    /// when some field was not parsed (then the caller parses the text).
    public func parsedNameAddrs(_ name: String) -> [NameAddr]? {
        let key = HeaderName.canonical(name)
        var out: [NameAddr] = []
        for field in fields where HeaderName.same(field.canonicalName, key) {
            guard let parsed = field.parsed, !parsed.nameAddrs.isEmpty else { return nil }
            out += parsed.nameAddrs
        }
        return out.isEmpty ? nil : out
    }

    /// The first via-parm (`firstValue("Via")` parsed): the validation's parse when kept, else parsed now;
    /// nil when absent or malformed.
    public var topVia: Via? {
        for field in fields where HeaderName.same(field.canonicalName, "via") {
            if let parsed = field.parsed, let first = parsed.vias.first { return first }
            guard let text = HeaderValueSplitter.first(field.value) else { continue }
            return try? Via(parsing: text)
        }
        return nil
    }

    /// Puts `via` in place of the top via-parm (a received/rport stamp, RFC 3261 §18.2.1, RFC 3581 §4),
    /// keeping it parsed for the readers after.
    public mutating func replaceTopVia(with via: Via) {
        removeFirstValue("Via")
        var field = SIPHeader(name: "Via", value: via.description)
        field.parsed = ParsedValues(vias: [via])
        prepend(field)
    }

    mutating func keepParsed(_ values: [NameAddr], at index: Int) {
        fields[index].parsed = ParsedValues(nameAddrs: values)
    }
    mutating func keepParsed(vias: [Via], at index: Int) {
        fields[index].parsed = ParsedValues(vias: vias)
    }

    public mutating func add(_ name: String, _ value: String) { fields.append(SIPHeader(name: name, value: value)) }
    /// Inserts before the first field of the same name (or at the end when there is none): Via, Route, Record-Route.
    public mutating func prepend(_ name: String, _ value: String) {
        prepend(SIPHeader(name: name, value: value))
    }
    /// `field` before the first field of its name (at the end when there is none).
    mutating func prepend(_ field: SIPHeader) {
        if let i = fields.firstIndex(where: { HeaderName.same($0.canonicalName, field.canonicalName) }) {
            fields.insert(field, at: i)
        } else {
            fields.append(field)
        }
    }
    /// Replaces every field of this name by one field (added at the position of the first, or at the end).
    public mutating func set(_ name: String, _ value: String) {
        let key = HeaderName.canonical(name)
        if let i = fields.firstIndex(where: { HeaderName.same($0.canonicalName, key) }) {
            fields[i] = SIPHeader(name: name, value: value)
            var j = fields.count - 1
            while j > i { if HeaderName.same(fields[j].canonicalName, key) { fields.remove(at: j) }; j -= 1 }
        } else {
            fields.append(SIPHeader(name: name, value: value))
        }
    }
    public mutating func remove(_ name: String) {
        let key = HeaderName.canonical(name)
        fields.removeAll { HeaderName.same($0.canonicalName, key) }
    }
    /// Removes the first element of a list header (the top Via / Route), splitting a comma-joined field when needed.
    @discardableResult
    public mutating func removeFirstValue(_ name: String) -> String? {
        let key = HeaderName.canonical(name)
        guard let i = fields.firstIndex(where: { HeaderName.same($0.canonicalName, key) }) else { return nil }
        var parts = HeaderValueSplitter.split(fields[i].value)
        guard !parts.isEmpty else { fields.remove(at: i); return nil }
        let first = parts.removeFirst()
        if parts.isEmpty { fields.remove(at: i) } else { fields[i].value = parts.joined(separator: ", ") }
        return first
    }
}

/// Splits a header value on commas that are outside quoted strings and <...>.
public enum HeaderValueSplitter {
    public static func split(_ value: String) -> [String] {
        var out: [String] = []
        split(value, into: &out)
        return out
    }

    /// The first non-empty element, as `split(value).first`.
    public static func first(_ value: String) -> String? {
        if !SIPGrammar.contains(value, UInt8(ascii: ",")) { return trimmedNonEmpty(value) }
        return split(value).first
    }

    /// Appends the elements of `value` to `out`.
    public static func split(_ value: String, into out: inout [String]) {
        // Most values hold one element: no comma at all means no splitting to do.
        if !SIPGrammar.contains(value, UInt8(ascii: ",")) {
            if let v = trimmedNonEmpty(value) { out.append(v) }
            return
        }
        // Elements are cut out of the value's bytes at the commas outside quotes and <...>.
        SIPGrammar.withBytes(value) { bytes in
            var start = 0, inQuotes = false, escaped = false, angle = 0
            var i = 0
            while i <= bytes.count {
                let b: UInt8 = i < bytes.count ? bytes[i] : UInt8(ascii: ",")  // the end closes the last element
                i += 1
                if inQuotes && i <= bytes.count {
                    if escaped { escaped = false } else if b == UInt8(ascii: "\\") { escaped = true } else if b == UInt8(ascii: "\"") { inQuotes = false }
                    continue
                }
                switch b {
                case UInt8(ascii: "\""): inQuotes = true
                case UInt8(ascii: "<"): angle += 1
                case UInt8(ascii: ">"): angle = max(0, angle - 1)
                case UInt8(ascii: ",") where angle == 0 || i > bytes.count:
                    var lo = start, hi = i - 1
                    while lo < hi, isTrimmed(bytes[lo]) { lo += 1 }
                    while hi > lo, isTrimmed(bytes[hi - 1]) { hi -= 1 }
                    if lo < hi { out.append(String(decoding: UnsafeBufferPointer(rebasing: bytes[lo..<hi]), as: UTF8.self)) }
                    start = i
                default: break
                }
            }
        }
    }

    @inline(__always) static func isTrimmed(_ b: UInt8) -> Bool { b == 32 || b == 9 || b == 13 || b == 10 }

    /// `trim` of the whole value, nil when nothing is left; the value itself when there is nothing to trim.
    static func trimmedNonEmpty(_ value: String) -> String? {
        let u = value.utf8
        guard let f = u.first, let l = u.last else { return nil }
        if !isTrimmed(f) && !isTrimmed(l) { return value }
        let t = trim(Array(u))
        return t.isEmpty ? nil : t
    }
    static func trim(_ bytes: [UInt8]) -> String {
        var s = bytes[...]
        while let f = s.first, f == 32 || f == 9 || f == 13 || f == 10 { s = s.dropFirst() }
        while let l = s.last, l == 32 || l == 9 || l == 13 || l == 10 { s = s.dropLast() }
        return String(decoding: s, as: UTF8.self)
    }
}
