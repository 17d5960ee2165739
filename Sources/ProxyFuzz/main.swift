// libFuzzer harness for what the SIP roles read out of requests beyond the parser: RFC 3841 caller
// preferences (Accept-Contact, Reject-Contact, Request-Disposition) and their matching, loop detection
// and the proxy's CANCEL/ACK builders (SIPProxy), the P-CSCF's REGISTER edits and flow tokens (PCSCF),
// the registrar's reading of a REGISTER and its binding rules, and reg-event SUBSCRIBEs (SCSCF).
// Built normally it is an executable that does nothing; built with `--sanitize=fuzzer` libFuzzer
// supplies `main`. Errors are fine; traps and broken invariants (checked below) are findings.
import PCSCF
import SCSCF
import SIPCore
import SIPProxy

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    if case .request(let request)? = try? SIPParser.parse(bytes) {
        ProxyFuzzChecks.request(request)
    } else {
        // Not a request: the header-value readers directly, so they are reached without a whole message.
        ProxyFuzzChecks.values(String(decoding: bytes.prefix(4096), as: UTF8.self))
    }
    return 0
}

enum ProxyFuzzChecks {
    /// Contacts with and without feature tags, as registrar bindings carry them.
    static let contacts: [NameAddr] = [
        "<sip:a@192.0.2.1:5060>",
        "<sip:b@192.0.2.2;transport=tcp>;audio;video;methods=\"INVITE,BYE\";+sip.instance=\"<urn:uuid:1>\";q=0.5",
        "<sip:c@192.0.2.3>;automata;mobility=\"fixed\";events=\"reg,presence\";+g.3gpp.icsi-ref=\"urn%3Aurn-7\"",
        "<sips:d@example.com>;description=\"<x>\";priority=\"urgent\";schemes=\"sip,tel\";q=1",
    ].compactMap { try? NameAddr(parsing: $0) }

    static func values(_ text: String) {
        for line in text.split(separator: "\n", omittingEmptySubsequences: true).prefix(16) {
            let value = String(line)
            let predicate = FeaturePredicate(parsing: value)
            _ = FeatureValue.parseList(value)
            _ = RequestDisposition(directives: [value])
            let preferences = CallerPreferences(accept: [predicate], reject: [predicate])
            check(preferences)
            _ = PCSCF.flow(fromToken: value)
            let token = PCSCF.flowToken(value)
            guard PCSCF.flow(fromToken: token) == value else { fatalError("flow token does not round-trip: \(value)") }
        }
    }

    static func request(_ request: SIPRequest) {
        let preferences = CallerPreferences(request: request)
        check(preferences)
        let own = request.headers.values("Contact").compactMap { try? NameAddr(parsing: $0) }
        _ = preferences.rank(own)

        _ = ProxyCore.loopDetectionBranch(for: request)
        _ = ProxyCore.statelessBranch(for: request)
        _ = ProxyCore.isLoop(request, isLocalVia: { $0.host == "192.0.2.99" })
        if request.method == .invite {
            let cancel = ProxyCore.cancel(for: request, reason: "SIP;cause=487")
            guard (try? SIPParser.parse(cancel.serialized())) != nil else { fatalError("CANCEL built from a request does not parse") }
            let response = request.makeResponse(statusCode: 486, toTag: "fz")
            let ack = ProxyCore.ack(for: request, response: response)
            guard (try? SIPParser.parse(ack.serialized())) != nil else { fatalError("ACK built from a request does not parse") }
        }
        _ = ResponseContext<Int>(request: request, toTag: "fz")

        if request.method == .register {
            var edited = request
            let pcscf = PCSCF(host: "192.0.2.99", port: 5060)
            pcscf.processRegister(&edited, flow: "udp:192.0.2.1:5060")
            guard (try? SIPParser.parse(edited.serialized())) != nil else { fatalError("P-CSCF REGISTER edit does not parse") }
            if let register = try? RegisterRequest.from(edited, impi: "fuzz@example.com", flow: "udp:192.0.2.1:5060", maxContacts: 20) {
                var registrar = Registrar()
                if let change = try? registrar.register(register, aor: "sip:fuzz@example.com", now: 1_000_000) {
                    _ = change.changes.count
                }
                // The same REGISTER again is a refresh or a CSeq error, never a trap.
                _ = try? registrar.register(register, aor: "sip:fuzz@example.com", now: 1_000_001)
            }
        }
        if request.method == .subscribe {
            var subscriptions = RegEventSubscriptions()
            _ = subscriptions.subscribe(request, aor: "sip:fuzz@example.com", peer: "udp:192.0.2.1:5060",
                                        ourContact: "<sip:scscf@192.0.2.99:5060>",
                                        document: { _, _ in "<reginfo/>" }, now: 1_000_000, newTag: { "fz" })
            _ = subscriptions.expire(now: 5_000_000, ourContact: "<sip:scscf@192.0.2.99:5060>", document: { _, _ in "<reginfo/>" })
        }
    }

    /// Ranking keeps a subset of the targets, each score in 0...1, ordered by q.
    static func check(_ preferences: CallerPreferences) {
        let ranked = preferences.rank(contacts)
        guard ranked.count <= contacts.count else { fatalError("ranking invented targets") }
        for r in ranked where !(0...1).contains(r.score) || r.score.isNaN { fatalError("score out of range: \(r.score)") }
        for (a, b) in zip(ranked, ranked.dropFirst()) where a.q < b.q { fatalError("ranking not ordered by q") }
    }
}
