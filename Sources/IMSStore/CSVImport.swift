import Foundation
import GRDB

extension IMSStore {
    /// Caller-supplied digest HA1 computation: `(impi, realm, password) -> lower-case hex HA1s`.
    /// The HA1s for `impi:realm:password`, and (when the IMPI is in the home domain) over the bare user part.
    public typealias HA1Hashing = (_ impi: String, _ realm: String, _ password: String)
        -> (md5: String, sha256: String, userMD5: String?, userSHA256: String?)

    /// Imports a Clearwater bulk-provisioning CSV: one subscriber row per line,
    /// `<public id>,<private id>,<realm>,<password>`. An optional header line, `#` comment lines, blank
    /// lines, whitespace around fields and double-quoted fields (`""` for a quote) are allowed; an empty
    /// realm means `homeDomain`. Rows sharing a private id put their public ids, in file order, into
    /// that private id's one implicit registration set (they must agree on realm and password).
    ///
    /// The whole file is parsed and validated before the database is touched, then written in one
    /// transaction (prepared statements) that is rolled back if an id already exists: a bad row, a
    /// public or private id appearing twice, or one already provisioned refuses the whole file with an
    /// error naming `path:line`, and nothing is written. Passwords are not stored, only the HA1s from
    /// `hashing` (called once per private id, before the transaction).
    /// One ``StoreChange/Kind/bulk`` change-feed entry (key `path`) records the import.
    @discardableResult
    public func importCSV(path: String, homeDomain: String, hashing: HA1Hashing) async throws(StoreError)
        -> ImportSummary
    {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
            throw .importFailed(location: path, reason: "cannot read the file: no such file")
        }
        guard !isDirectory.boolValue else {
            throw .importFailed(location: path, reason: "cannot read the file: it is a directory")
        }
        let data: Data
        do {
            data = try Data(contentsOf: URL(fileURLWithPath: path))
        } catch {
            throw .importFailed(location: path, reason: "cannot read the file: \(Self.reason(error))")
        }
        let plan = try CSVImport.plan(data: data, name: path, homeDomain: homeDomain)

        // Hash once per private id, outside the transaction.
        var subscribers: [CSVImport.Subscriber] = []
        subscribers.reserveCapacity(plan.count)
        for var subscriber in plan {
            let ha1 = hashing(subscriber.impi, subscriber.realm, subscriber.password)
            guard let md5 = Validate.hex(ha1.md5, length: 32), let sha256 = Validate.hex(ha1.sha256, length: 64) else {
                throw .invalid("the HA1 hashing function returned malformed hex for \(subscriber.impi)")
            }
            subscriber.ha1MD5 = md5
            subscriber.ha1SHA256 = sha256
            subscriber.userMD5 = ha1.userMD5.flatMap { Validate.hex($0, length: 32) }
            subscriber.userSHA256 = ha1.userSHA256.flatMap { Validate.hex($0, length: 64) }
            subscriber.password = ""
            subscribers.append(subscriber)
        }
        let summary = ImportSummary(subscribers: subscribers.count,
                                    publicIdentities: plan.reduce(0) { $0 + $1.publicIdentities.count })

        let finalSubscribers = subscribers
        try await write { db in
            // Duplicates against the database surface as primary-key violations of the inserts (one
            // statement per row instead of an extra lookup); the error names the row and the
            // transaction rolls back.
            func insert(line: Int, _ body: () throws -> Void, exists: String) throws {
                do {
                    try body()
                } catch let error as DatabaseError where error.extendedResultCode == .SQLITE_CONSTRAINT_PRIMARYKEY {
                    throw StoreError.importFailed(location: "\(path):\(line)", reason: exists)
                }
            }
            let now = Self.now()
            let inserter = try SubscriberInserter(db)
            for s in finalSubscribers {
                try insert(line: s.line, {
                    try inserter.privateIdentity(impi: s.impi, realm: s.realm, ha1MD5: s.ha1MD5,
                                                 ha1SHA256: s.ha1SHA256, plaintext: nil, now: now,
                                                 userPartHA1MD5: s.userMD5, userPartHA1SHA256: s.userSHA256)
                }, exists: "private id \(s.impi) already exists")
                let irsID = try inserter.implicitRegistrationSet(ifcXML: nil, now: now)
                for (position, identity) in s.publicIdentities.enumerated() {
                    try insert(line: identity.line, {
                        try inserter.publicIdentity(impu: identity.impu, irsID: irsID, position: position, now: now)
                    }, exists: "subscriber \(identity.impu) already exists")
                }
                try inserter.link(impi: s.impi, irsID: irsID)
            }
            try SQL.appendChange(db, .bulk, key: path, now: now)
        }
        return summary
    }
}

/// Parsing and validation of the bulk CSV; nothing here touches the database.
enum CSVImport {
    struct Subscriber: Sendable {
        var impi: String
        var realm: String
        var password: String
        /// The line the private id first appears on.
        var line: Int
        var publicIdentities: [(impu: String, line: Int)]
        var ha1MD5 = ""
        var ha1SHA256 = ""
        var userMD5: String?
        var userSHA256: String?
    }

    /// Parses and validates the whole file; returns the subscribers in file order.
    static func plan(data: Data, name: String, homeDomain: String) throws(StoreError) -> [Subscriber] {
        var bytes = [UInt8](data)
        if bytes.starts(with: [0xEF, 0xBB, 0xBF]) { bytes.removeFirst(3) }
        guard String(validating: bytes, as: UTF8.self) != nil else {
            throw .importFailed(location: name, reason: "the file is not UTF-8 text")
        }

        // Roughly one row per 60 bytes: reserve so the tables do not rehash while growing.
        let expectedRows = bytes.count / 60 + 16
        var subscribers: [Subscriber] = []
        subscribers.reserveCapacity(expectedRows)
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
                throw .importFailed(location: location, reason: error.reason)
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
                throw .importFailed(location: location, reason:
                    "expected 4 fields (public id, private id, realm, password), found \(fields.count)")
            }
            guard let impu = Validate.publicIdentity(fields[0]) else {
                throw .importFailed(location: location, reason: "public id \"\(fields[0])\" is not a SIP URI")
            }
            let impi = fields[1]
            if let problem = Validate.identityProblem(impi, what: "private id") {
                throw .importFailed(location: location, reason: problem)
            }
            let realm = fields[2].isEmpty ? homeDomain : fields[2]
            if let problem = Validate.identityProblem(realm, what: "realm") {
                throw .importFailed(location: location, reason: problem)
            }
            let password = fields[3]
            guard !password.isEmpty else {
                throw .importFailed(location: location, reason: "the password for \(impi) is empty")
            }
            if let first = publicIdentityLine[impu] {
                throw .importFailed(location: location, reason: "public id \(impu) is also on line \(first)")
            }
            publicIdentityLine[impu] = lineNumber

            if let index = subscriberIndex[impi] {
                let existing = subscribers[index]
                guard existing.realm == realm, existing.password == password else {
                    throw .importFailed(location: location, reason:
                        "private id \(impi) has a different realm or password on line \(existing.line)")
                }
                subscribers[index].publicIdentities.append((impu, lineNumber))
            } else {
                subscriberIndex[impi] = subscribers.count
                subscribers.append(Subscriber(impi: impi, realm: realm, password: password, line: lineNumber,
                                              publicIdentities: [(impu, lineNumber)]))
            }
        }
        if subscribers.isEmpty {
            throw .importFailed(location: name, reason: "no subscriber rows (expected lines of public id,private id,realm,password)")
        }
        return subscribers
    }

    struct FieldError: Error {
        var reason: String
    }

    /// Splits one line into fields: `,`-separated, whitespace around fields trimmed, a field may be
    /// double-quoted (`""` inside for `"`; commas allowed inside quotes).
    static func splitFields(_ line: ArraySlice<UInt8>) throws(FieldError) -> [String] {
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
}
