/// Everything the store can refuse or fail with. `description` is one user-facing sentence (no
/// trailing period), suitable for printing as-is after a program name.
public enum StoreError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The private identity (IMPI) is already provisioned.
    case privateIdentityExists(String)
    /// The public identity (IMPU) is already provisioned (possibly for another subscriber).
    case publicIdentityExists(String)
    /// No such private identity.
    case privateIdentityNotFound(String)
    /// No such public identity.
    case publicIdentityNotFound(String)
    /// The public identity is the only one of its implicit registration set and cannot be removed on
    /// its own (delete the subscriber instead).
    case lastPublicIdentity(impu: String, impi: String)
    /// Input that fails validation (malformed URI, empty HA1, ...); the text says what and why.
    case invalid(String)
    /// A bulk import was refused; `location` is `file:line` (or just the file), `reason` the problem.
    /// Nothing was written.
    case importFailed(location: String, reason: String)
    /// The database stayed locked by another connection or process for longer than the busy timeout.
    case busy
    /// The database directory or file could not be created or opened.
    case cannotOpen(path: String, reason: String)
    /// The database was written by a newer cw-aio with migrations this build does not know.
    case newerSchema(path: String)
    /// Any other SQLite failure (I/O error, corruption, ...).
    case database(String)

    public var description: String {
        switch self {
        case .privateIdentityExists(let impi):
            return "private id \(impi) already exists"
        case .publicIdentityExists(let impu):
            return "subscriber \(impu) already exists"
        case .privateIdentityNotFound(let impi):
            return "no subscriber with private id \(impi)"
        case .publicIdentityNotFound(let impu):
            return "no subscriber with public id \(impu)"
        case .lastPublicIdentity(let impu, let impi):
            return "\(impu) is the only public id of private id \(impi); delete the subscriber instead"
        case .invalid(let reason):
            return reason
        case .importFailed(let location, let reason):
            return "\(location): \(reason)"
        case .busy:
            return "the subscriber database is locked by another process (busy timeout expired); try again"
        case .cannotOpen(let path, let reason):
            return "cannot open the subscriber database \(path): \(reason)"
        case .newerSchema(let path):
            return "the subscriber database \(path) was written by a newer version of cw-aio"
        case .database(let message):
            return "subscriber database error: \(message)"
        }
    }
}
