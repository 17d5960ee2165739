import Foundation
import GRDB

extension IMSStore {
    /// Applies a registrar group commit in one transaction: `deletes` first, then `upserts` (insert,
    /// or replace the binding with the same AoR and binding key).
    public func saveBindings(upserts: [StoredBinding], deletes: [(aor: String, bindingKey: String)])
        async throws(StoreError)
    {
        // The journal's path below, awaited: one code path for both.
        let result = await withCheckedContinuation { (done: CheckedContinuation<Result<Void, StoreError>, Never>) in
            saveBindings(upserts: upserts, deletes: deletes) { done.resume(returning: $0) }
        }
        try result.get()
    }

    /// The same commit for callers that are not async (the registration journal on the SIP loop): no Task
    /// and no executor hops, `completion` runs on the database writer's queue once the commit is done.
    public func saveBindings(upserts: [StoredBinding], deletes: [(aor: String, bindingKey: String)],
                             completion: @escaping @Sendable (Result<Void, StoreError>) -> Void) {
        if upserts.isEmpty && deletes.isEmpty { completion(.success(())); return }
        let deletes = deletes.map { BindingID(aor: $0.aor, bindingKey: $0.bindingKey) }
        pool.asyncWrite({ db in try Self.apply(db, upserts: upserts, deletes: deletes) },
                        completion: { _, result in completion(result.mapError { Self.wrap($0) }) })
    }

    private static func apply(_ db: Database, upserts: [StoredBinding], deletes: [BindingID]) throws {
        let delete = try db.cachedStatement(
            sql: "DELETE FROM registration_binding WHERE aor = ? AND binding_key = ?")
        for id in deletes {
            delete.setUncheckedArguments([id.aor, id.bindingKey])
            try delete.execute()
        }
        let upsert = try db.cachedStatement(sql: """
            INSERT INTO registration_binding
                (aor, binding_key, contact, contact_uri, expires_at, q, call_id, cseq, path, instance,
                 reg_id, flow, impi, registered_at, user_agent)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
            ON CONFLICT (aor, binding_key) DO UPDATE SET
                contact = excluded.contact, contact_uri = excluded.contact_uri,
                expires_at = excluded.expires_at, q = excluded.q, call_id = excluded.call_id,
                cseq = excluded.cseq, path = excluded.path, instance = excluded.instance,
                reg_id = excluded.reg_id, flow = excluded.flow, impi = excluded.impi,
                registered_at = excluded.registered_at, user_agent = excluded.user_agent
            """)
        for b in upserts {
            upsert.setUncheckedArguments([
                b.aor, b.bindingKey, b.contact, b.contactURI, b.expiresAt, b.q, b.callID, b.cseq,
                PathJSON.encode(b.path), b.instance, b.regID, b.flow, b.impi, b.registeredAt, b.userAgent,
            ])
            try upsert.execute()
        }
    }

    /// Every stored binding (expired ones included: call ``deleteExpiredBindings(now:)`` first),
    /// ordered by AoR and binding key.
    public func loadBindings() async throws(StoreError) -> [StoredBinding] {
        try await read { db in
            var bindings: [StoredBinding] = []
            let rows = try Row.fetchCursor(db, sql: """
                SELECT aor, binding_key, contact, contact_uri, expires_at, q, call_id, cseq, path, instance,
                       reg_id, flow, impi, registered_at, user_agent
                FROM registration_binding ORDER BY aor, binding_key
                """)
            while let row = try rows.next() {
                bindings.append(StoredBinding(
                    aor: row[0], bindingKey: row[1], contact: row[2], contactURI: row[3], expiresAt: row[4],
                    q: row[5], callID: row[6], cseq: row[7], path: PathJSON.decode(row[8]), instance: row[9],
                    regID: row[10], flow: row[11], impi: row[12], registeredAt: row[13], userAgent: row[14]))
            }
            return bindings
        }
    }

    /// Deletes bindings whose `expiresAt <= now` (unix seconds); returns how many.
    @discardableResult
    public func deleteExpiredBindings(now: Int64) async throws(StoreError) -> Int {
        try await write { db in
            try db.execute(sql: "DELETE FROM registration_binding WHERE expires_at <= ?", arguments: [now])
            return db.changesCount
        }
    }
}

private struct BindingID: Sendable {
    var aor: String
    var bindingKey: String
}

/// The Path column: a JSON array of strings.
enum PathJSON {
    /// A JSON array of strings, written directly (a JSONEncoder per binding was a tenth of the writer's time).
    /// Escapes what JSON requires (RFC 8259 §7); "/" is left alone, as before.
    static func encode(_ path: [String]) -> String {
        if path.isEmpty { return "[]" }
        let hex = Array("0123456789abcdef".utf8)
        var out: [UInt8] = [UInt8(ascii: "[")]
        for (i, element) in path.enumerated() {
            if i > 0 { out.append(UInt8(ascii: ",")) }
            out.append(UInt8(ascii: "\""))
            for b in element.utf8 {
                switch b {
                case UInt8(ascii: "\""): out.append(contentsOf: [UInt8(ascii: "\\"), b])
                case UInt8(ascii: "\\"): out.append(contentsOf: [UInt8(ascii: "\\"), b])
                case 0x0A: out.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "n")])
                case 0x0D: out.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "r")])
                case 0x09: out.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "t")])
                case 0x00..<0x20:
                    out.append(contentsOf: Array("\\u00".utf8))
                    out.append(hex[Int(b >> 4)])
                    out.append(hex[Int(b & 15)])
                default: out.append(b)
                }
            }
            out.append(UInt8(ascii: "\""))
        }
        out.append(UInt8(ascii: "]"))
        return String(decoding: out, as: UTF8.self)
    }

    static func decode(_ text: String) -> [String] {
        if text == "[]" || text.isEmpty { return [] }
        return (try? JSONDecoder().decode([String].self, from: Data(text.utf8))) ?? []
    }
}
