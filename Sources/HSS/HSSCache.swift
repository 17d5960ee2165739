import IMSModel

/// The in-memory HSS: every subscriber's credentials and implicit registration sets, answered on the
/// SIP event loop without touching the database. Filled from the store at start-up and kept current
/// from its change feed. The data lives in ``SubscriberTables`` (compact, and buildable off the loop).
public final class HSSCache: SubscriberDirectory {
    private var tables: SubscriberTables

    public init(_ tables: SubscriberTables = SubscriberTables()) {
        self.tables = tables
    }

    public var privateIdentityCount: Int { tables.privateIdentityCount }
    public var publicIdentityCount: Int { tables.publicIdentityCount }

    // MARK: SubscriberDirectory

    public func authInfo(impi: String) -> AuthInfo? { inPlace { $0.authInfo(impi: impi) } }

    public func registrationSet(impu: String) -> RegistrationSet? { inPlace { $0.registrationSet(impu: impu) } }

    /// A lookup on the tables handed over inout: a plain read of the stored struct copies it, retaining
    /// and releasing each of its dozen arrays (~1 k instructions, three lookups per REGISTER pair).
    private func inPlace<T>(_ lookup: (inout SubscriberTables) -> T) -> T { lookup(&tables) }

    // MARK: loading

    /// Replaces the whole cache (start-up, or after a bulk import) with tables built elsewhere.
    public func replaceAll(_ tables: SubscriberTables) {
        self.tables = tables
    }

    /// Replaces the whole cache with these credentials and sets.
    public func replaceAll(auth newAuth: [AuthInfo], sets newSets: [RegistrationSet]) {
        tables = SubscriberTables()  // the old tables go before the new ones are built
        tables = SubscriberTables(auth: newAuth, sets: newSets)
    }

    /// Replaces what is known about one private identity and the sets it may register.
    public func update(auth info: AuthInfo?, impi: String, sets changed: [RegistrationSet]) {
        tables.update(auth: info, impi: impi, sets: changed)
    }

    public func remove(setID: Int64) {
        tables.remove(setID: setID)
    }
}
