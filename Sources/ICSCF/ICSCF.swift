import IMSModel
import SIPCore

/// The I-CSCF: the entry point of the home network that picks the S-CSCF for a user (TS 24.229 §5.3).
///
/// In one box there is one S-CSCF, but the selection is still a real step: the user-authorization
/// query (Cx UAR) decides whether the registration may proceed at all and which capabilities the
/// S-CSCF must have.
public final class ICSCF {
    public struct SCSCFCandidate: Sendable, Hashable {
        public var name: String
        public var capabilities: Set<Int>
        public init(name: String, capabilities: Set<Int> = []) {
            self.name = name
            self.capabilities = capabilities
        }
    }

    public enum Selection: Sendable, Equatable {
        case scscf(String)
        /// TS 29.228 §6.1.1: the identity cannot register here (barred, malformed). Status and reason.
        case reject(Int, String)
    }

    private let candidates: [SCSCFCandidate]
    private unowned let directory: SubscriberDirectory

    public init(candidates: [SCSCFCandidate], directory: SubscriberDirectory) {
        self.candidates = candidates
        self.directory = directory
    }

    /// UAR for a REGISTER. An unknown identity is *not* refused here: the S-CSCF challenges it like
    /// any other, so responses do not reveal which identities exist.
    public func selectForRegistration(_ request: SIPRequest) -> Selection {
        guard let to = request.to, let impu = PublicIdentity.normalize(to.uri) else {
            return .reject(400, "Bad Header: To")
        }
        if let set = directory.registrationSet(impu: impu), set.barred.contains(impu) {
            return .reject(403, "Forbidden (barred identity)")
        }
        guard let chosen = candidates.first else { return .reject(500, "No S-CSCF available") }
        return .scscf(chosen.name)
    }
}
