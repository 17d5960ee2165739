/// Parsing and validation of Clearwater's bulk-provisioning CSV: one subscriber row per line,
/// `<public id>,<private id>,<realm>,<password>`. Pure (no Foundation, no database): IMSStore writes
/// what ``plan(_:name:homeDomain:)`` returns, and the `CSVFuzz` harness feeds it arbitrary bytes.
///
/// An optional header line, `#` comment lines, blank lines, whitespace around fields and double-quoted
/// fields (`""` for a quote, commas allowed inside) are accepted; an empty realm means the home
/// domain. Rows sharing a private id put their public ids, in file order, into that private id's one
/// implicit registration set; they must agree on realm and password byte for byte.
public enum SubscriberCSV {
    /// One private identity and the public identities of its implicit registration set.
    public struct Subscriber: Sendable, Hashable {
        public var impi: String
        public var realm: String
        public var password: String
        /// The line the private id first appears on (1-based).
        public var line: Int
        /// Canonical public identities in file order, each with its line.
        public var publicIdentities: [PublicIdentity]

        public init(impi: String, realm: String, password: String, line: Int, publicIdentities: [PublicIdentity]) {
            self.impi = impi
            self.realm = realm
            self.password = password
            self.line = line
            self.publicIdentities = publicIdentities
        }
    }

    public struct PublicIdentity: Sendable, Hashable {
        /// Canonical form (``ProvisioningSyntax/publicIdentity(_:)``).
        public var impu: String
        public var line: Int

        public init(impu: String, line: Int) {
            self.impu = impu
            self.line = line
        }
    }

    /// Why a file was refused: `location` is `name:line` (or just `name`), `reason` one sentence.
    public struct Failure: Error, Sendable, Hashable {
        public var location: String
        public var reason: String

        public init(location: String, reason: String) {
            self.location = location
            self.reason = reason
        }
    }

    /// A malformed field; the line number is added by the caller.
    public struct FieldError: Error, Sendable, Hashable {
        public var reason: String
    }

    /// Parses and validates the whole file; returns the subscribers in file order. `name` is used
    /// in error locations (`name:line`).
    public static func plan(_ data: [UInt8], name: String, homeDomain: String) throws(Failure) -> [Subscriber] {
        var bytes = data
        if bytes.starts(with: [0xEF, 0xBB, 0xBF]) { bytes.removeFirst(3) }
        guard String(validating: bytes, as: UTF8.self) != nil else {
            throw Failure(location: name, reason: "the file is not UTF-8 text")
        }

        // Roughly one row per 60 bytes: reserve so the tables do not rehash while growing.
        let expectedRows = bytes.count / 60 + 16
        var subscribers: [Subscriber] = []
        subscribers.reserveCapacity(expectedRows)
        // Swift compares strings by Unicode canonical equivalence, SQLite (BINARY) byte by byte: a
        // lookup hit is only the same private id if the bytes match too (checked below).
        var subscriberIndex: [String: Int] = Dictionary(minimumCapacity: expectedRows)
        var publicIdentityLine: [String: Int] = Dictionary(minimumCapacity: expectedRows)
        var sawData = false
        var lineNumber = 0
        var lineStart = 0
        while lineStart < bytes.count {
            lineNumber += 1
            var lineEnd = bytes[lineStart...].firstIndex(of: UInt8(ascii: "\n")) ?? bytes.count
            let next = lineEnd + 1
            if lineEnd > lineStart, bytes[lineEnd - 1] == UInt8(ascii: "\r") { lineEnd -= 1 }
            defer { lineStart = next }
            let line = bytes[lineStart..<lineEnd]

            guard let firstNonBlank = line.firstIndex(where: { $0 != 0x20 && $0 != 0x09 }) else { continue }
            if line[firstNonBlank] == UInt8(ascii: "#") { continue }

            let location = "\(name):\(lineNumber)"
            let fields: [String]
            do throws(FieldError) {
                fields = try splitFields(line)
            } catch {
                throw Failure(location: location, reason: error.reason)
            }
            if !sawData {
                sawData = true
                let first = fields[0].lowercased()
                if !first.hasPrefix("sip:"), !first.hasPrefix("sips:"), !first.hasPrefix("tel:"),
                   first.contains("public") {
                    continue  // header line
                }
            }
            guard fields.count == 4 else {
                throw Failure(location: location, reason:
                    "expected 4 fields (public id, private id, realm, password), found \(fields.count)")
            }
            guard let impu = ProvisioningSyntax.publicIdentity(fields[0]) else {
                throw Failure(location: location, reason: "public id \"\(fields[0])\" is not a SIP URI")
            }
            let impi = fields[1]
            if let problem = ProvisioningSyntax.identityProblem(impi, what: "private id") {
                throw Failure(location: location, reason: problem)
            }
            let realm = fields[2].isEmpty ? homeDomain : fields[2]
            if let problem = ProvisioningSyntax.identityProblem(realm, what: "realm") {
                throw Failure(location: location, reason: problem)
            }
            let password = fields[3]
            guard !password.isEmpty else {
                throw Failure(location: location, reason: "the password for \(impi) is empty")
            }
            // Canonical public ids are ASCII: String equality is byte equality here.
            if let first = publicIdentityLine[impu] {
                throw Failure(location: location, reason: "public id \(impu) is also on line \(first)")
            }
            publicIdentityLine[impu] = lineNumber

            if let index = subscriberIndex[impi] {
                let existing = subscribers[index]
                guard existing.impi.utf8.elementsEqual(impi.utf8) else {
                    throw Failure(location: location, reason:
                        "private id \(impi) differs from the one on line \(existing.line) only in Unicode normalization")
                }
                guard existing.realm.utf8.elementsEqual(realm.utf8),
                      existing.password.utf8.elementsEqual(password.utf8) else {
                    throw Failure(location: location, reason:
                        "private id \(impi) has a different realm or password on line \(existing.line)")
                }
                subscribers[index].publicIdentities.append(PublicIdentity(impu: impu, line: lineNumber))
            } else {
                subscriberIndex[impi] = subscribers.count
                subscribers.append(Subscriber(impi: impi, realm: realm, password: password, line: lineNumber,
                                              publicIdentities: [PublicIdentity(impu: impu, line: lineNumber)]))
            }
        }
        if subscribers.isEmpty {
            throw Failure(location: name, reason: "no subscriber rows (expected lines of public id,private id,realm,password)")
        }
        return subscribers
    }

    /// Splits one line into fields: `,`-separated, whitespace around fields trimmed, a field may be
    /// double-quoted (`""` inside for `"`; commas allowed inside quotes). Always at least one field.
    public static func splitFields(_ line: ArraySlice<UInt8>) throws(FieldError) -> [String] {
        let comma = UInt8(ascii: ","), quote = UInt8(ascii: "\"")
        func isBlank(_ byte: UInt8) -> Bool { byte == 0x20 || byte == 0x09 }
        var fields: [String] = []
        var index = line.startIndex
        let end = line.endIndex
        while true {
            while index < end, isBlank(line[index]) { index += 1 }
            if index < end, line[index] == quote {
                index += 1
                var value: [UInt8] = []
                while true {
                    guard index < end else {
                        throw FieldError(reason: "field \(fields.count + 1) has an unterminated quote")
                    }
                    if line[index] == quote {
                        if index + 1 < end, line[index + 1] == quote {
                            value.append(quote)
                            index += 2
                            continue
                        }
                        index += 1
                        break
                    }
                    value.append(line[index])
                    index += 1
                }
                while index < end, isBlank(line[index]) { index += 1 }
                if index < end, line[index] != comma {
                    throw FieldError(reason: "field \(fields.count + 1) has text after its closing quote")
                }
                fields.append(String(decoding: value, as: UTF8.self))
            } else {
                let stop = line[index...].firstIndex(of: comma) ?? end
                var last = stop
                while last > index, isBlank(line[last - 1]) { last -= 1 }
                let raw = line[index..<last]
                if raw.contains(quote) {
                    throw FieldError(reason: "field \(fields.count + 1) has a quote inside an unquoted value")
                }
                fields.append(String(decoding: raw, as: UTF8.self))
                index = stop
            }
            if index < end, line[index] == comma {
                index += 1
                continue
            }
            return fields
        }
    }

    /// One CSV line with every field double-quoted (`"` doubled): ``splitFields(_:)`` reads it back
    /// as `fields`, provided no field contains a line break.
    /// Quotes are doubled byte by byte: `String.replacing` matches whole Characters, and a `"` followed
    /// by a combining mark is one Character that is not `"`, so it was left single (found by CSVFuzz).
    public static func quotedLine(_ fields: [String]) -> String {
        let quote = UInt8(ascii: "\""), comma = UInt8(ascii: ",")
        var out: [UInt8] = []
        for (i, field) in fields.enumerated() {
            if i > 0 { out.append(comma) }
            out.append(quote)
            for byte in field.utf8 {
                if byte == quote { out.append(quote) }
                out.append(byte)
            }
            out.append(quote)
        }
        return String(decoding: out, as: UTF8.self)
    }
}
