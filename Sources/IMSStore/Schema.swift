import GRDB

/// The versioned schema. Migrations are append-only: never edit a shipped one, add the next.
///
/// Times are unix seconds (INTEGER). Text keys compare with SQLite's BINARY collation; public
/// identities are stored in canonical form (scheme and host lower-cased) so equality is exact.
enum Schema {
    static let provisioning = "v1-provisioning"
    static let registrarAndNumbers = "v2-bindings-numbers"
    static let userPartHA1 = "v3-user-part-ha1"

    static var migrator: DatabaseMigrator {
        var migrator = DatabaseMigrator()

        migrator.registerMigration(provisioning) { db in
            // Private identities (TS 29.228 IMPI) with their digest credentials.
            try db.execute(sql: """
                CREATE TABLE private_identity (
                    impi TEXT NOT NULL PRIMARY KEY,
                    realm TEXT NOT NULL CHECK (realm <> ''),
                    ha1_md5 TEXT NOT NULL CHECK (length(ha1_md5) = 32),
                    ha1_sha256 TEXT CHECK (ha1_sha256 IS NULL OR length(ha1_sha256) = 64),
                    plaintext_password TEXT,
                    created_at INTEGER NOT NULL,
                    updated_at INTEGER NOT NULL
                ) WITHOUT ROWID;

                -- Implicit registration sets and their service profile (NULL = default iFC).
                CREATE TABLE implicit_registration_set (
                    id INTEGER PRIMARY KEY AUTOINCREMENT,
                    ifc_xml TEXT,
                    created_at INTEGER NOT NULL
                );

                -- Public identities (IMPU). position orders a set; the lowest is its default identity.
                CREATE TABLE public_identity (
                    impu TEXT NOT NULL PRIMARY KEY,
                    irs_id INTEGER NOT NULL REFERENCES implicit_registration_set(id) ON DELETE CASCADE,
                    position INTEGER NOT NULL,
                    barred INTEGER NOT NULL DEFAULT 0 CHECK (barred IN (0, 1)),
                    created_at INTEGER NOT NULL,
                    UNIQUE (irs_id, position)
                ) WITHOUT ROWID;

                -- Which private identities may register which implicit registration sets (many-to-many).
                CREATE TABLE private_identity_irs (
                    impi TEXT NOT NULL REFERENCES private_identity(impi) ON DELETE CASCADE,
                    irs_id INTEGER NOT NULL REFERENCES implicit_registration_set(id) ON DELETE CASCADE,
                    PRIMARY KEY (impi, irs_id)
                ) WITHOUT ROWID;
                CREATE INDEX private_identity_irs_by_irs ON private_identity_irs(irs_id);

                -- Change feed polled by running servers; one row per provisioning change, written in the
                -- same transaction as the change.
                CREATE TABLE change_feed (
                    seq INTEGER PRIMARY KEY AUTOINCREMENT,
                    kind TEXT NOT NULL,
                    key TEXT NOT NULL,
                    at INTEGER NOT NULL
                );
                """)
        }

        migrator.registerMigration(registrarAndNumbers) { db in
            try db.execute(sql: """
                -- Registrar bindings snapshot: one row per Contact of an AoR (the set's default IMPU).
                -- No foreign key: the registrar's group commits must not fail because a subscriber was
                -- deleted meanwhile; deleting a subscriber deletes its bindings explicitly.
                CREATE TABLE registration_binding (
                    aor TEXT NOT NULL,
                    binding_key TEXT NOT NULL,
                    contact TEXT NOT NULL,
                    contact_uri TEXT NOT NULL,
                    expires_at INTEGER NOT NULL,
                    q TEXT,
                    call_id TEXT NOT NULL,
                    cseq INTEGER NOT NULL,
                    path TEXT NOT NULL DEFAULT '[]',
                    instance TEXT,
                    reg_id INTEGER,
                    flow TEXT,
                    impi TEXT,
                    registered_at INTEGER NOT NULL,
                    user_agent TEXT,
                    PRIMARY KEY (aor, binding_key)
                ) WITHOUT ROWID;
                CREATE INDEX registration_binding_by_expiry ON registration_binding(expires_at);

                -- Directory numbers handed out by the portal. owner NULL = free.
                CREATE TABLE number_pool (
                    number TEXT NOT NULL PRIMARY KEY CHECK (number <> ''),
                    owner TEXT,
                    allocated_at INTEGER
                ) WITHOUT ROWID;
                CREATE INDEX number_pool_free ON number_pool(length(number), number) WHERE owner IS NULL;

                -- Small key/value facts about the store itself (e.g. which pool range was seeded).
                CREATE TABLE store_meta (
                    key TEXT NOT NULL PRIMARY KEY,
                    value TEXT NOT NULL
                ) WITHOUT ROWID;
                """)
        }
        // HA1s over the bare user part (`6505550001:realm:password`) for softphones that authenticate
        // with the user name alone; NULL where the private id is not in the home domain.
        migrator.registerMigration(userPartHA1) { db in
            try db.execute(sql: """
                ALTER TABLE private_identity ADD COLUMN ha1_md5_user TEXT
                    CHECK (ha1_md5_user IS NULL OR length(ha1_md5_user) = 32);
                ALTER TABLE private_identity ADD COLUMN ha1_sha256_user TEXT
                    CHECK (ha1_sha256_user IS NULL OR length(ha1_sha256_user) = 64);
                """)
        }
        return migrator
    }
}
