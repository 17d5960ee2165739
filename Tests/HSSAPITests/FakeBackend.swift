import HSSAPI

/// An in-memory backend with Clearwater's registration semantics, recording what it was asked.
actor FakeBackend: HSSBackend {
    struct Subscriber {
        var impi: String
        var realm: String
        var ha1: String
        var impus: [String]
    }

    struct Update: Equatable {
        var impu: String
        var privateID: String?
        var request: HSSRegistrationRequest
    }

    var subscribers: [Subscriber]
    var barred: Set<String>
    var states: [String: HSSRegistrationState] = [:]  // keyed by default IMPU
    var serviceProfileXML: String?
    var failure: (any Error)?
    private(set) var digestQueries: [(impi: String, impu: String?)] = []
    private(set) var regDataQueries: [String] = []
    private(set) var updates: [Update] = []

    init(subscribers: [Subscriber] = FakeBackend.defaultSubscribers, barred: Set<String> = ["sip:barred@example.com"],
         serviceProfileXML: String? = FakeBackend.serviceProfile) {
        self.subscribers = subscribers
        self.barred = barred
        self.serviceProfileXML = serviceProfileXML
    }

    static let defaultSubscribers = [
        Subscriber(impi: "6505550001@example.com", realm: "example.com", ha1: "0123456789abcdef0123456789abcdef",
                   impus: ["sip:6505550001@example.com", "tel:+16505550001", "sip:barred@example.com"]),
        Subscriber(impi: "6505550002@example.com", realm: "example.com", ha1: "fedcba9876543210fedcba9876543210",
                   impus: ["sip:6505550002@example.com"]),
    ]

    static let serviceProfile = """
        <?xml version="1.0" encoding="UTF-8"?>
        <ServiceProfile>
          <PublicIdentity><Identity>sip:6505550001@example.com</Identity></PublicIdentity>
          <!-- <InitialFilterCriteria>not this one</InitialFilterCriteria> -->
          <InitialFilterCriteria>
            <Priority>0</Priority>
            <TriggerPoint><ConditionTypeCNF>0</ConditionTypeCNF>
              <SPT><ConditionNegated>0</ConditionNegated><Group>0</Group><Method>INVITE</Method></SPT>
            </TriggerPoint>
            <ApplicationServer><ServerName>sip:mmtel.example.com</ServerName><DefaultHandling>0</DefaultHandling></ApplicationServer>
          </InitialFilterCriteria>
          <InitialFilterCriteria>
            <Priority>1</Priority>
            <TriggerPoint><ConditionTypeCNF>1</ConditionTypeCNF>
              <SPT><Group>0</Group><RequestURI>a&amp;b</RequestURI></SPT>
            </TriggerPoint>
            <ApplicationServer><ServerName>sip:as.example.com</ServerName><DefaultHandling>1</DefaultHandling></ApplicationServer>
          </InitialFilterCriteria>
        </ServiceProfile>
        """

    func setFailure(_ error: (any Error)?) { failure = error }
    func setState(_ state: HSSRegistrationState, impu: String) { states[impu] = state }

    private func subscriber(impu: String) -> Subscriber? {
        subscribers.first { $0.impus.contains(impu) }
    }

    func digest(impi: String, impu: String?) async throws -> HSSDigest? {
        if let failure { throw failure }
        digestQueries.append((impi, impu))
        guard let sub = subscribers.first(where: { $0.impi == impi }) else { return nil }
        if let impu, !sub.impus.contains(impu) { return nil }
        return HSSDigest(ha1: sub.ha1, realm: sub.realm)
    }

    func registrationData(impu: String) async throws -> HSSRegistrationData? {
        if let failure { throw failure }
        regDataQueries.append(impu)
        guard let sub = subscriber(impu: impu) else { return nil }
        return data(sub, privateID: nil)
    }

    func updateRegistration(impu: String, privateID: String?, request: HSSRegistrationRequest) async throws
        -> HSSRegistrationData?
    {
        if let failure { throw failure }
        updates.append(Update(impu: impu, privateID: privateID, request: request))
        guard let sub = subscriber(impu: impu) else { return nil }
        if let privateID, privateID != sub.impi { return nil }
        let key = sub.impus[0]
        let current = states[key] ?? .notRegistered
        switch request.type {
        case .register: states[key] = .registered
        case .call: if current == .notRegistered { states[key] = .unregistered }
        default: states[key] = .notRegistered
        }
        return data(sub, privateID: privateID)
    }

    private func data(_ sub: Subscriber, privateID: String?) -> HSSRegistrationData {
        HSSRegistrationData(
            state: states[sub.impus[0]] ?? .notRegistered,
            privateID: privateID ?? sub.impi,
            publicIdentities: sub.impus.map { HSSPublicIdentity($0, barred: barred.contains($0)) },
            serviceProfileXML: serviceProfileXML
        )
    }
}

struct BackendDown: Error {}
