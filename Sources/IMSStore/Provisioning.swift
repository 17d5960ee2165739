import GRDB

extension IMSStore {
    // MARK: Adding

    /// Provisions a subscriber: its private identity, one new implicit registration set holding
    /// `publicIdentities` (the first is the default) and the set's service profile. All or nothing:
    /// if the private identity or any public identity already exists nothing is written.
    public func addSubscriber(_ subscriber: NewSubscriber) async throws(StoreError) {
        let s = try Self.validated(subscriber)
        try await write { db in
            for impu in s.publicIdentities where try SQL.publicIdentityExists(db, impu) {
                throw StoreError.publicIdentityExists(impu)
            }
            if try SQL.privateIdentityExists(db, s.impi) {
                throw StoreError.privateIdentityExists(s.impi)
            }
            let now = Self.now()
            let insert = try SubscriberInserter(db)
            try insert.privateIdentity(impi: s.impi, realm: s.realm, ha1MD5: s.ha1MD5, ha1SHA256: s.ha1SHA256,
                                       plaintext: s.plaintextPassword, now: now,
                                       userPartHA1MD5: s.userPartHA1MD5, userPartHA1SHA256: s.userPartHA1SHA256)
            let irsID = try insert.implicitRegistrationSet(ifcXML: s.ifcXML, now: now)
            for (position, impu) in s.publicIdentities.enumerated() {
                try insert.publicIdentity(impu: impu, irsID: irsID, position: position, now: now)
            }
            try insert.link(impi: s.impi, irsID: irsID)
            try SQL.appendChange(db, .subscriberAdded, key: s.impi, now: now)
        }
    }

    /// Adds a public identity to the (first) implicit registration set of an existing private identity,
    /// after the set's existing identities. Returns the canonical form stored.
    @discardableResult
    public func addPublicIdentity(_ impu: String, toPrivateIdentity impi: String, barred: Bool = false)
        async throws(StoreError) -> String
    {
        guard let canonical = Validate.publicIdentity(impu) else {
            throw .invalid("public id \"\(impu)\" is not a SIP URI")
        }
        return try await write { db in
            guard try SQL.privateIdentityExists(db, impi) else { throw StoreError.privateIdentityNotFound(impi) }
            if try SQL.publicIdentityExists(db, canonical) { throw StoreError.publicIdentityExists(canonical) }
            let now = Self.now()
            let insert = try SubscriberInserter(db)
            let irsID: Int64
            if let existing = try Int64.fetchOne(
                db, sql: "SELECT MIN(irs_id) FROM private_identity_irs WHERE impi = ?", arguments: [impi]) {
                irsID = existing
            } else {
                irsID = try insert.implicitRegistrationSet(ifcXML: nil, now: now)
                try insert.link(impi: impi, irsID: irsID)
            }
            let position = try Int.fetchOne(
                db, sql: "SELECT COALESCE(MAX(position) + 1, 0) FROM public_identity WHERE irs_id = ?",
                arguments: [irsID]) ?? 0
            try insert.publicIdentity(impu: canonical, irsID: irsID, position: position, barred: barred, now: now)
            for linked in try SQL.privateIdentities(db, irsID: irsID) {
                try SQL.appendChange(db, .subscriberChanged, key: linked, now: now)
            }
            return canonical
        }
    }

    // MARK: Changing

    /// Replaces a subscriber's digest credentials.
    public func setCredentials(impi: String, realm: String, ha1MD5: String, ha1SHA256: String?,
                               plaintext: String?, userPartHA1MD5: String? = nil,
                               userPartHA1SHA256: String? = nil) async throws(StoreError) {
        let userMD5 = try Self.optionalHex(userPartHA1MD5, length: 32)
        let userSHA = try Self.optionalHex(userPartHA1SHA256, length: 64)
        let credentials = try Self.validatedCredentials(realm: realm, ha1MD5: ha1MD5, ha1SHA256: ha1SHA256,
                                                         plaintext: plaintext)
        try await write { db in
            let now = Self.now()
            try db.execute(sql: """
                UPDATE private_identity
                SET realm = ?, ha1_md5 = ?, ha1_sha256 = ?, plaintext_password = ?, updated_at = ?,
                    ha1_md5_user = ?, ha1_sha256_user = ?
                WHERE impi = ?
                """, arguments: [credentials.realm, credentials.ha1MD5, credentials.ha1SHA256,
                                 credentials.plaintext, now, userMD5, userSHA, impi])
            guard db.changesCount > 0 else { throw StoreError.privateIdentityNotFound(impi) }
            try SQL.appendChange(db, .credentialsChanged, key: impi, now: now)
        }
    }

    /// Bars or unbars a public identity (TS 29.228 IdentityType barring indication).
    public func setBarred(_ impu: String, _ barred: Bool) async throws(StoreError) {
        let canonical = Validate.publicIdentity(impu) ?? impu
        try await write { db in
            guard let irsID = try Int64.fetchOne(
                db, sql: "SELECT irs_id FROM public_identity WHERE impu = ?", arguments: [canonical]) else {
                throw StoreError.publicIdentityNotFound(canonical)
            }
            try db.execute(sql: "UPDATE public_identity SET barred = ? WHERE impu = ?", arguments: [barred, canonical])
            let now = Self.now()
            for linked in try SQL.privateIdentities(db, irsID: irsID) {
                try SQL.appendChange(db, .subscriberChanged, key: linked, now: now)
            }
        }
    }

    // MARK: Deleting

    /// Deletes a private identity, every implicit registration set no other private identity uses
    /// (with their public identities and stored bindings), and frees their pool numbers.
    /// Returns the public identities removed.
    @discardableResult
    public func deleteSubscriber(impi: String) async throws(StoreError) -> [String] {
        try await write { db in
            guard try SQL.privateIdentityExists(db, impi) else { throw StoreError.privateIdentityNotFound(impi) }
            let now = Self.now()
            let sets = try Int64.fetchAll(
                db, sql: "SELECT irs_id FROM private_identity_irs WHERE impi = ? ORDER BY irs_id", arguments: [impi])
            try db.execute(sql: "DELETE FROM private_identity WHERE impi = ?", arguments: [impi])
            var removed: [String] = []
            for irsID in sets where try SQL.privateIdentities(db, irsID: irsID).isEmpty {
                let impus = try String.fetchAll(
                    db, sql: "SELECT impu FROM public_identity WHERE irs_id = ? ORDER BY position", arguments: [irsID])
                for impu in impus {
                    try SQL.deletePublicIdentity(db, impu: impu)
                }
                try db.execute(sql: "DELETE FROM implicit_registration_set WHERE id = ?", arguments: [irsID])
                removed += impus
            }
            try SQL.appendChange(db, .subscriberDeleted, key: impi, now: now)
            for impu in removed {
                try SQL.appendChange(db, .publicIdentityRemoved, key: impu, now: now)
            }
            return removed
        }
    }

    /// Deletes one public identity (and the bindings stored under it). The last public identity of a
    /// set cannot be deleted this way: delete the subscriber.
    public func deletePublicIdentity(_ impu: String) async throws(StoreError) {
        let canonical = Validate.publicIdentity(impu) ?? impu
        try await write { db in
            guard let irsID = try Int64.fetchOne(
                db, sql: "SELECT irs_id FROM public_identity WHERE impu = ?", arguments: [canonical]) else {
                throw StoreError.publicIdentityNotFound(canonical)
            }
            let linked = try SQL.privateIdentities(db, irsID: irsID)
            let count = try Int.fetchOne(
                db, sql: "SELECT COUNT(*) FROM public_identity WHERE irs_id = ?", arguments: [irsID]) ?? 0
            if count <= 1 {
                throw StoreError.lastPublicIdentity(impu: canonical, impi: linked.first ?? "?")
            }
            try SQL.deletePublicIdentity(db, impu: canonical)
            let now = Self.now()
            for impi in linked {
                try SQL.appendChange(db, .subscriberChanged, key: impi, now: now)
            }
            try SQL.appendChange(db, .publicIdentityRemoved, key: canonical, now: now)
        }
    }

    // MARK: Reading

    /// One subscriber, or nil.
    public func subscriber(impi: String) async throws(StoreError) -> SubscriberRecord? {
        try await read { db in try Self.fetchRecords(db, .one(impi)).first }
    }

    /// The private identities that may register `impu` (normally one).
    public func privateIdentities(forPublicIdentity impu: String) async throws(StoreError) -> [String] {
        let canonical = Validate.publicIdentity(impu) ?? impu
        return try await read { db in
            try String.fetchAll(db, sql: """
                SELECT a.impi FROM public_identity p
                JOIN private_identity_irs a ON a.irs_id = p.irs_id
                WHERE p.impu = ? ORDER BY a.impi
                """, arguments: [canonical])
        }
    }

    /// A page of subscribers ordered by private identity.
    public func listSubscribers(limit: Int = 100, offset: Int = 0) async throws(StoreError) -> [SubscriberRecord] {
        let limit = max(0, limit), offset = max(0, offset)
        return try await read { db in try Self.fetchRecords(db, .page(limit: limit, offset: offset)) }
    }

    /// Every subscriber, ordered by private identity, in two queries.
    public func loadAll() async throws(StoreError) -> [SubscriberRecord] {
        try await read { db in try Self.fetchRecords(db, .all) }
    }

    /// Every subscriber plus the change-feed position they reflect, read from one snapshot: load the
    /// cache from `subscribers`, then poll ``changes(after:limit:)`` from `seq` and nothing is missed.
    public func snapshot() async throws(StoreError) -> (seq: Int64, subscribers: [SubscriberRecord]) {
        try await read { db in
            let seq = try Self.latestChangeSeq(db)
            return (seq, try Self.fetchRecords(db, .all))
        }
    }

    /// As ``snapshot()``, but each subscriber is handed to `add` as it is read and dropped after, so a
    /// cache can be filled without every record (passwords, timestamps...) in memory at once. `start`
    /// makes the empty accumulator where it is filled (a value built outside and captured would be
    /// shared, and copied whole at its first change).
    public func snapshot<Accumulator: Sendable>(
        into start: @escaping @Sendable () -> Accumulator,
        _ add: @escaping @Sendable (inout Accumulator, SubscriberRecord) -> Void
    ) async throws(StoreError) -> (seq: Int64, result: Accumulator) {
        try await read { db in
            let seq = try Self.latestChangeSeq(db)
            var result = start()
            try Self.forEachRecord(db, .all) { add(&result, $0) }
            return (seq, result)
        }
    }

    /// How many private identities are provisioned.
    public func subscriberCount() async throws(StoreError) -> Int {
        try await read { db in try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM private_identity") ?? 0 }
    }

    // MARK: Record assembly

    enum Selection: Sendable {
        case all
        case one(String)
        case page(limit: Int, offset: Int)
    }

    static func fetchRecords(_ db: Database, _ selection: Selection) throws -> [SubscriberRecord] {
        var records: [SubscriberRecord] = []
        try forEachRecord(db, selection) { records.append($0) }
        return records
    }

    /// Two queries read side by side: the private identities, and every (IMPI, set, IMPU) row for
    /// them, both in the same impi order (SQLite BINARY), merged as they stream, one record at a time.
    static func forEachRecord(_ db: Database, _ selection: Selection, _ body: (SubscriberRecord) throws -> Void) throws {
        let filter: String
        let arguments: StatementArguments
        switch selection {
        case .all:
            filter = "ORDER BY impi"
            arguments = []
        case .one(let impi):
            filter = "WHERE impi = ?"
            arguments = [impi]
        case .page(let limit, let offset):
            filter = "ORDER BY impi LIMIT ? OFFSET ?"
            arguments = [limit, offset]
        }

        let identities = try Row.fetchCursor(db, sql: """
            SELECT impi, realm, ha1_md5, ha1_sha256, plaintext_password, created_at, updated_at,
                   ha1_md5_user, ha1_sha256_user
            FROM private_identity \(filter)
            """, arguments: arguments)
        guard var row = try identities.next() else { return }

        let which: String
        switch selection {
        case .all: which = ""
        case .one, .page: which = "WHERE a.impi IN (SELECT impi FROM private_identity \(filter))"
        }
        let members = try Row.fetchCursor(db, sql: """
            SELECT a.impi, s.id, s.ifc_xml, p.impu, p.barred
            FROM private_identity_irs a
            JOIN implicit_registration_set s ON s.id = a.irs_id
            JOIN public_identity p ON p.irs_id = a.irs_id
            \(which)
            ORDER BY a.impi, a.irs_id, p.position
            """, arguments: arguments)
        // The member row read ahead (a cursor's row is only valid until its next step: copied out).
        typealias Member = (impi: String, irsID: Int64, ifcXML: String?, identity: SubscriberRecord.PublicIdentity)
        func nextMember() throws -> Member? {
            guard let m = try members.next() else { return nil }
            return (m[0], m[1], m[2], SubscriberRecord.PublicIdentity(uri: m[3], barred: m[4]))
        }
        var pending = try nextMember()
        while true {
            var record = SubscriberRecord(
                impi: row[0], realm: row[1], ha1MD5: row[2], ha1SHA256: row[3], plaintextPassword: row[4],
                implicitRegistrationSets: [], createdAt: row[5], updatedAt: row[6])
            record.userPartHA1MD5 = row[7]
            record.userPartHA1SHA256 = row[8]
            while let member = pending, member.impi == record.impi {
                if let last = record.implicitRegistrationSets.indices.last,
                   record.implicitRegistrationSets[last].id == member.irsID {
                    record.implicitRegistrationSets[last].publicIdentities.append(member.identity)
                } else {
                    record.implicitRegistrationSets.append(
                        .init(id: member.irsID, publicIdentities: [member.identity], ifcXML: member.ifcXML))
                }
                pending = try nextMember()
            }
            try body(record)
            guard let next = try identities.next() else { return }
            row = next
        }
    }

    // MARK: Validation

    static func validated(_ s: NewSubscriber) throws(StoreError) -> NewSubscriber {
        if let problem = Validate.identityProblem(s.impi, what: "private id") { throw .invalid(problem) }
        let credentials = try validatedCredentials(realm: s.realm, ha1MD5: s.ha1MD5, ha1SHA256: s.ha1SHA256,
                                                   plaintext: s.plaintextPassword)
        guard !s.publicIdentities.isEmpty else { throw .invalid("a subscriber needs at least one public id") }
        var impus: [String] = []
        for impu in s.publicIdentities {
            guard let canonical = Validate.publicIdentity(impu) else {
                throw .invalid("public id \"\(impu)\" is not a SIP URI")
            }
            if impus.contains(canonical) { throw .invalid("public id \(canonical) is listed twice") }
            impus.append(canonical)
        }
        if let xml = s.ifcXML, let problem = Validate.ifcProblem(xml) { throw .invalid(problem) }
        return NewSubscriber(impi: s.impi, realm: credentials.realm, ha1MD5: credentials.ha1MD5,
                             ha1SHA256: credentials.ha1SHA256, plaintextPassword: credentials.plaintext,
                             publicIdentities: impus, ifcXML: s.ifcXML,
                             userPartHA1MD5: try optionalHex(s.userPartHA1MD5, length: 32),
                             userPartHA1SHA256: try optionalHex(s.userPartHA1SHA256, length: 64))
    }

    static func optionalHex(_ value: String?, length: Int) throws(StoreError) -> String? {
        guard let value else { return nil }
        guard let hex = Validate.hex(value, length: length) else {
            throw .invalid("a user-part HA1 must be \(length) hex digits")
        }
        return hex
    }

    static func validatedCredentials(realm: String, ha1MD5: String, ha1SHA256: String?, plaintext: String?)
        throws(StoreError) -> (realm: String, ha1MD5: String, ha1SHA256: String?, plaintext: String?)
    {
        if let problem = Validate.identityProblem(realm, what: "realm") { throw .invalid(problem) }
        guard !ha1MD5.isEmpty else { throw .invalid("the MD5 HA1 is empty") }
        guard let md5 = Validate.hex(ha1MD5, length: 32) else {
            throw .invalid("the MD5 HA1 must be 32 hex digits")
        }
        var sha256: String?
        if let ha1SHA256 {
            guard let hex = Validate.hex(ha1SHA256, length: 64) else {
                throw .invalid("the SHA-256 HA1 must be 64 hex digits")
            }
            sha256 = hex
        }
        if let plaintext, plaintext.isEmpty { throw .invalid("the password is empty") }
        return (realm, md5, sha256, plaintext)
    }
}
