import Foundation
import GRDB
import ProvisioningCSV

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

/// The bulk CSV's parsing and validation live in ProvisioningCSV (no database, fuzzed by CSVFuzz);
/// this adapts them to ``StoreError`` and carries the HA1s computed before the transaction.
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

    typealias FieldError = SubscriberCSV.FieldError

    /// Parses and validates the whole file; returns the subscribers in file order.
    static func plan(data: Data, name: String, homeDomain: String) throws(StoreError) -> [Subscriber] {
        let parsed: [SubscriberCSV.Subscriber]
        do {
            parsed = try SubscriberCSV.plan([UInt8](data), name: name, homeDomain: homeDomain)
        } catch {
            throw .importFailed(location: error.location, reason: error.reason)
        }
        return parsed.map {
            Subscriber(impi: $0.impi, realm: $0.realm, password: $0.password, line: $0.line,
                       publicIdentities: $0.publicIdentities.map { ($0.impu, $0.line) })
        }
    }

    /// See ``SubscriberCSV/splitFields(_:)``.
    static func splitFields(_ line: ArraySlice<UInt8>) throws(FieldError) -> [String] {
        try SubscriberCSV.splitFields(line)
    }
}
