import GRDB

/// The provisioning statements shared by single-subscriber calls and the bulk import. Each uses a
/// cached prepared statement, so a 100k-row import prepares each once.
enum SQL {
    static func publicIdentityExists(_ db: Database, _ impu: String) throws -> Bool {
        let statement = try db.cachedStatement(sql: "SELECT 1 FROM public_identity WHERE impu = ?")
        statement.setUncheckedArguments([impu])
        return try Int.fetchOne(statement) != nil
    }

    static func privateIdentityExists(_ db: Database, _ impi: String) throws -> Bool {
        let statement = try db.cachedStatement(sql: "SELECT 1 FROM private_identity WHERE impi = ?")
        statement.setUncheckedArguments([impi])
        return try Int.fetchOne(statement) != nil
    }

    /// Deletes a public identity, the bindings stored under it, and frees the pool number it held.
    static func deletePublicIdentity(_ db: Database, impu: String) throws {
        let delete = try db.cachedStatement(sql: "DELETE FROM public_identity WHERE impu = ?")
        delete.setUncheckedArguments([impu])
        try delete.execute()
        let bindings = try db.cachedStatement(sql: "DELETE FROM registration_binding WHERE aor = ?")
        bindings.setUncheckedArguments([impu])
        try bindings.execute()
        if let number = Validate.directoryNumber(ofPublicIdentity: impu) {
            let release = try db.cachedStatement(sql: """
                UPDATE number_pool SET owner = NULL, allocated_at = NULL WHERE number = ? AND owner = ?
                """)
            release.setUncheckedArguments([number, impu])
            try release.execute()
        }
    }

    /// The private identities linked to a set, in order.
    static func privateIdentities(_ db: Database, irsID: Int64) throws -> [String] {
        try String.fetchAll(db, sql: "SELECT impi FROM private_identity_irs WHERE irs_id = ? ORDER BY impi",
                            arguments: [irsID])
    }

    static func appendChange(_ db: Database, _ kind: StoreChange.Kind, key: String, now: Int64) throws {
        let statement = try db.cachedStatement(sql: "INSERT INTO change_feed (kind, key, at) VALUES (?, ?, ?)")
        statement.setUncheckedArguments([kind.rawValue, key, now])
        try statement.execute()
    }
}

/// The inserts that create subscribers, prepared once per transaction so a bulk import runs each
/// row through already-prepared statements (no SQL hashing or parsing per row).
struct SubscriberInserter {
    private let insertPrivate: Statement
    private let insertSet: Statement
    private let insertPublic: Statement
    private let markNumber: Statement
    private let insertLink: Statement
    private let db: Database
    /// Skips the number-pool update when the pool is empty.
    private let poolIsEmpty: Bool

    init(_ db: Database) throws {
        self.db = db
        insertPrivate = try db.cachedStatement(sql: """
            INSERT INTO private_identity
                (impi, realm, ha1_md5, ha1_sha256, plaintext_password, created_at, updated_at,
                 ha1_md5_user, ha1_sha256_user)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
            """)
        insertSet = try db.cachedStatement(sql: "INSERT INTO implicit_registration_set (ifc_xml, created_at) VALUES (?, ?)")
        insertPublic = try db.cachedStatement(sql: """
            INSERT INTO public_identity (impu, irs_id, position, barred, created_at) VALUES (?, ?, ?, ?, ?)
            """)
        markNumber = try db.cachedStatement(sql: """
            UPDATE number_pool SET owner = ?, allocated_at = ? WHERE number = ? AND owner IS NULL
            """)
        insertLink = try db.cachedStatement(sql: "INSERT INTO private_identity_irs (impi, irs_id) VALUES (?, ?)")
        poolIsEmpty = try Int.fetchOne(db, sql: "SELECT 1 FROM number_pool LIMIT 1") == nil
    }

    func privateIdentity(impi: String, realm: String, ha1MD5: String, ha1SHA256: String?, plaintext: String?,
                         now: Int64, userPartHA1MD5: String? = nil, userPartHA1SHA256: String? = nil) throws {
        insertPrivate.setUncheckedArguments([impi, realm, ha1MD5, ha1SHA256, plaintext, now, now,
                                             userPartHA1MD5, userPartHA1SHA256])
        try insertPrivate.execute()
    }

    /// Creates an implicit registration set; returns its id.
    func implicitRegistrationSet(ifcXML: String?, now: Int64) throws -> Int64 {
        insertSet.setUncheckedArguments([ifcXML, now])
        try insertSet.execute()
        return db.lastInsertedRowID
    }

    /// Inserts a public identity into a set and marks its directory number (if it is one from the pool)
    /// as allocated to it.
    func publicIdentity(impu: String, irsID: Int64, position: Int, barred: Bool = false, now: Int64) throws {
        insertPublic.setUncheckedArguments([impu, irsID, position, barred, now])
        try insertPublic.execute()
        if !poolIsEmpty, let number = Validate.directoryNumber(ofPublicIdentity: impu) {
            markNumber.setUncheckedArguments([impu, now, number])
            try markNumber.execute()
        }
    }

    func link(impi: String, irsID: Int64) throws {
        insertLink.setUncheckedArguments([impi, irsID])
        try insertLink.execute()
    }
}
