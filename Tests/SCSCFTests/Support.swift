import Testing
import SIPCore
@testable import SCSCF

/// Builders for REGISTER requests written as SIP text, parsed by `SIPParser` and reduced by `RegisterRequest.from`.
enum Reg {
    static let aor = "sip:alice@ims.example.com"
    static let impi = "alice@ims.example.com"
    static let instance1 = "<urn:uuid:00000000-0000-1000-8000-000000000001>"
    static let instance2 = "<urn:uuid:00000000-0000-1000-8000-000000000002>"

    struct NotARequest: Error {}

    /// The text of a REGISTER: one `Contact:` line per element of `contacts` (each may hold a comma list).
    static func text(contacts: [String], expires: String? = nil, callID: String = "reg-1@ue.example.com",
                     cseq: UInt32 = 1, extra: [String] = []) -> String {
        var lines = [
            "REGISTER sip:ims.example.com SIP/2.0",
            "Via: SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bK-\(cseq)-\(callID.utf8.count)",
            "Max-Forwards: 70",
            "From: <\(aor)>;tag=f\(cseq)",
            "To: <\(aor)>",
            "Call-ID: \(callID)",
            "CSeq: \(cseq) REGISTER",
        ]
        for contact in contacts { lines.append("Contact: \(contact)") }
        if let expires { lines.append("Expires: \(expires)") }
        lines += extra
        lines.append("Content-Length: 0")
        return lines.joined(separator: "\r\n") + "\r\n\r\n"
    }

    static func parse(_ text: String) throws -> SIPRequest {
        guard let request = try SIPParser.parse(Array(text.utf8)).request else { throw NotARequest() }
        return request
    }

    static func request(contacts: [String], expires: String? = nil, callID: String = "reg-1@ue.example.com",
                        cseq: UInt32 = 1, extra: [String] = [], flow: String? = nil,
                        maxContacts: Int = 20) throws -> RegisterRequest {
        let sip = try parse(text(contacts: contacts, expires: expires, callID: callID, cseq: cseq, extra: extra))
        return try RegisterRequest.from(sip, impi: impi, flow: flow, maxContacts: maxContacts)
    }

    /// The RegistrarError a body throws (nil, and an issue recorded, when it throws nothing or something else).
    static func error(sourceLocation: SourceLocation = #_sourceLocation, _ body: () throws -> Void) -> RegistrarError? {
        do {
            try body()
            Issue.record("expected a RegistrarError, nothing thrown", sourceLocation: sourceLocation)
        } catch let e as RegistrarError {
            return e
        } catch {
            Issue.record("expected a RegistrarError, got \(error)", sourceLocation: sourceLocation)
        }
        return nil
    }
}

/// A registrar plus shortcuts for one AoR.
struct Harness {
    var registrar: Registrar
    var aor = Reg.aor

    init(policy: RegistrarPolicy = RegistrarPolicy()) { registrar = Registrar(policy: policy) }

    @discardableResult
    mutating func register(_ contacts: [String], expires: String? = nil, callID: String = "reg-1@ue.example.com",
                           cseq: UInt32, now: Int64, flow: String? = nil, aor: String? = nil,
                           extra: [String] = []) throws -> RegistrationChange {
        let request = try Reg.request(contacts: contacts, expires: expires, callID: callID, cseq: cseq, extra: extra,
                                      flow: flow, maxContacts: registrar.policy.maxContactsPerRequest)
        return try registrar.register(request, aor: aor ?? self.aor, now: now)
    }

    func bindings(_ now: Int64, aor: String? = nil) -> [Binding] { registrar.bindings(for: aor ?? self.aor, now: now) }
    func binding(_ uri: String, _ now: Int64, aor: String? = nil) -> Binding? {
        bindings(now, aor: aor).first { $0.contactURI == uri }
    }
}

extension RegistrationChange {
    var events: [RegistrationChange.Event] { changes.map(\.event) }
    var uris: [String] { changes.map(\.binding.contactURI) }
}

/// SplitMix64: a seeded generator, so "random" tests are reproducible.
struct SeededRNG: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

func makeBinding(key: String? = nil, uri: String = "sip:alice@10.0.0.1:5060", params: [(name: String, value: String?)] = [],
                 q: Double? = nil, expiresAt: Int64 = 1300, callID: String = "c1", cseq: UInt32 = 1,
                 instance: String? = nil, regID: Int? = nil, flow: String? = nil, registeredAt: Int64 = 1000) -> Binding {
    Binding(key: key ?? uri, contactURI: uri, contactParameters: SIPParameters(params), q: q, expiresAt: expiresAt,
            callID: callID, cseq: cseq, instance: instance, regID: regID, flow: flow, impi: Reg.impi,
            registeredAt: registeredAt)
}
