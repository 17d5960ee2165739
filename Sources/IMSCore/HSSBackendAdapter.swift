import HSSAPI
import IMSModel
import NIOCore
import SCSCF

/// Answers the Homestead-style REST interface from the in-memory HSS cache and the registrar,
/// hopping onto the SIP event loop for each request (the state lives there).
struct HSSBackendAdapter: HSSBackend {
    let eventLoop: EventLoop
    let stack: @Sendable () -> SIPStack?

    private func withService<T: Sendable>(_ body: @escaping @Sendable (RegistrationService) -> T) async throws -> T {
        guard let stack = stack() else { throw HSSAPIError.unavailable("the SIP stack is not running") }
        return try await eventLoop.submit {
            guard let service = stack.registrations else { throw HSSAPIError.unavailable("the SIP stack is not running") }
            return body(service)
        }.get()
    }

    func digest(impi: String, impu: String?) async throws -> HSSDigest? {
        try await withService { service in
            guard let auth = service.hss.authInfo(impi: impi) else { return nil }
            if let impu {
                guard let set = service.hss.registrationSet(impu: impu), set.privateIdentities.contains(impi) else { return nil }
            }
            return HSSDigest(ha1: auth.ha1MD5, realm: auth.realm)
        }
    }

    func registrationData(impu: String) async throws -> HSSRegistrationData? {
        try await withService { service in service.registrationData(impu: impu) }
    }

    func updateRegistration(impu: String, privateID: String?, request: HSSRegistrationRequest) async throws -> HSSRegistrationData? {
        try await withService { service in
            guard let set = service.hss.registrationSet(impu: impu) else { return nil }
            if let privateID, !set.privateIdentities.contains(privateID) { return nil }
            switch request.type {
            case .register:
                break
            case .call:
                service.markUnregisteredIfIdle(set)
            default:
                service.deregister(set)
            }
            return service.registrationData(impu: impu)
        }
    }
}

extension RegistrationService {
    /// TS 29.228 registration state of a set: REGISTERED with live bindings, UNREGISTERED when a
    /// terminating call was served while it had none, else NOT_REGISTERED.
    func registrationData(impu: String) -> HSSRegistrationData? {
        guard let set = hss.registrationSet(impu: impu) else { return nil }
        let now = Self.wallClock()
        let state: HSSRegistrationState
        if !scscf.registrar.bindings(for: set.defaultIdentity, now: now).isEmpty {
            state = .registered
        } else if unregisteredSets.contains(set.id) {
            state = .unregistered
        } else {
            state = .notRegistered
        }
        return HSSRegistrationData(
            state: state, privateID: set.privateIdentities.first ?? "",
            publicIdentities: set.publicIdentities.map { HSSPublicIdentity($0, barred: set.barred.contains($0)) },
            serviceProfileXML: set.serviceProfileXML)
    }

    func markUnregisteredIfIdle(_ set: RegistrationSet) {
        if scscf.registrar.bindings(for: set.defaultIdentity, now: Self.wallClock()).isEmpty {
            unregisteredSets.insert(set.id)
        }
    }

    /// Administrative or network-initiated deregistration: every binding of the set goes, watchers
    /// are told, the database follows.
    func deregister(_ set: RegistrationSet) {
        let now = Self.wallClock()
        unregisteredSets.remove(set.id)
        let change = scscf.registrar.removeAll(aor: set.defaultIdentity, now: now)
        journal?.record(change)
        bindingsChanged(change, now: now)
    }
}
