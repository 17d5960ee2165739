// libFuzzer harness for SIPCore. Built normally it is an executable that does nothing; built with
// `--sanitize=fuzzer` libFuzzer supplies `main` and calls `LLVMFuzzerTestOneInput` for every input.
// Besides "never crash", it checks the round-trip invariants and traps (a finding) when one breaks.
import SIPCore

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    FuzzChecks.datagram(bytes)
    FuzzChecks.stream(bytes)
    FuzzChecks.views(String(decoding: bytes.prefix(2048), as: UTF8.self))
    return 0
}

enum FuzzChecks {
    static func datagram(_ bytes: [UInt8]) {
        // The overload pre-parse scanner sees every datagram first; its stateless answer must parse.
        if let glance = RequestGlance(bytes) {
            let reply = glance.response(StatelessAnswer(status: 503, reason: "Service Unavailable",
                                                        extraHeaders: [("Retry-After", "1")]))
            if (try? SIPParser.parse(bytes)) != nil, (try? SIPParser.parse(reply)) == nil {
                fatalError("503 built from a glance of a valid request does not parse")
            }
        }
        let message: SIPMessage
        do {
            message = try SIPParser.parse(bytes)
        } catch {
            _ = error.description
            if let request = error.request {
                touch(request)
                _ = request.makeResponse(statusCode: error.statusCode, reasonPhrase: error.reason, toTag: "ft").serialized()
            }
            return
        }
        touch(message)
        let wire = message.serialized()
        let again: SIPMessage
        do {
            again = try SIPParser.parse(wire)
        } catch {
            fatalError("re-parse of serialized message failed: \(error)")
        }
        guard sameIgnoringLength(message, again) else { fatalError("round trip changed the message") }
        // A serialized message is exactly one stream frame.
        var framer = SIPStreamFramer()
        framer.append(wire)
        guard case .message(let frame)? = try? framer.next(), frame == wire else { fatalError("framer did not return the message") }
        if case .request(let request) = message {
            let response = request.makeResponse(statusCode: 180, toTag: "fuzz")
            guard (try? SIPParser.parse(response.serialized())) != nil else { fatalError("makeResponse not parseable") }
        }
    }

    /// The typed-view parsers on arbitrary text: whatever parses must print back to text that parses equal.
    static func views(_ text: String) {
        if let v = try? Via(parsing: text) {
            guard let back = try? Via(parsing: v.description), back == v else { fatalError("Via text round trip") }
        }
        if let n = try? NameAddr(parsing: text) {
            guard let back = try? NameAddr(parsing: n.description), back == n else { fatalError("NameAddr text round trip") }
        }
        if let u = try? URI(parsing: text) { checkURI(u) }
        if let c = try? CSeq(parsing: text) {
            guard let back = try? CSeq(parsing: c.description), back == c else { fatalError("CSeq text round trip") }
        }
        _ = HeaderValueSplitter.split(text)
    }

    static func stream(_ bytes: [UInt8]) {
        var framer = SIPStreamFramer(maxMessageSize: 4096)
        let cut = bytes.isEmpty ? 0 : Int(bytes[0]) % (bytes.count + 1)
        framer.append(bytes[..<cut])
        drain(&framer)
        framer.append(bytes[cut...])
        drain(&framer)
    }

    static func drain(_ framer: inout SIPStreamFramer) {
        for _ in 0..<1000 {
            guard let frame = try? framer.next() else { return }
            if case .message(let m) = frame { _ = try? SIPParser.parse(m) }
        }
    }

    static func sameIgnoringLength(_ a: SIPMessage, _ b: SIPMessage) -> Bool {
        func strip(_ h: SIPHeaders) -> [SIPHeader] { h.fields.filter { $0.canonicalName != "content-length" } }
        guard strip(a.headers) == strip(b.headers), a.body == b.body else { return false }
        switch (a, b) {
        case (.request(let x), .request(let y)):
            return x.method == y.method && x.requestURI == y.requestURI && x.version == y.version
        case (.response(let x), .response(let y)):
            return x.statusCode == y.statusCode && x.reasonPhrase == y.reasonPhrase && x.version == y.version
        default:
            return false
        }
    }

    /// Every typed view, and the invariant that a view's description parses back to an equal view.
    static func touchViews<T: SIPTypedHeaders>(_ m: T) {
        for via in m.vias {
            _ = (via.branch, via.received, via.rport, via.hasRPort, via.maddr, via.ttl, via.sentBy, via.hasMagicCookie)
            guard let back = try? Via(parsing: via.description), back == via else { fatalError("Via round trip: \(via)") }
        }
        _ = (m.topVia, m.callID, m.cseq, m.fromTag, m.toTag, m.maxForwards, m.expires, m.contentType, m.mediaType)
        _ = (m.contentLength, m.require, m.proxyRequire, m.supported, m.isContactWildcard)
        let addresses = [m.from, m.to].compactMap { $0 } + m.contacts + m.routes + m.recordRoutes
        for n in addresses {
            _ = (n.tag, n.expires, n.q)
            guard let back = try? NameAddr(parsing: n.description), back == n else { fatalError("NameAddr round trip: \(n)") }
            checkURI(n.uri)
        }
        if let cseq = m.cseq {
            guard let back = try? CSeq(parsing: cseq.description), back == cseq else { fatalError("CSeq round trip") }
        }
        for value in m.headers.values("Via") + m.headers.values("Contact") + m.headers.values("Route") {
            _ = try? URI(parsing: value)
        }
    }

    static func touch(_ m: SIPMessage) {
        switch m {
        case .request(let r): touch(r)
        case .response(let r): touchViews(r)
        }
    }

    static func touch(_ r: SIPRequest) {
        touchViews(r)
        if let uri = r.uri { checkURI(uri) }
    }

    static func checkURI(_ uri: URI) {
        guard let back = try? URI(parsing: uri.description), back == uri else { fatalError("URI round trip: \(uri)") }
        guard uri.isEquivalent(to: back) else { fatalError("URI not equivalent to itself: \(uri)") }
        if case .sip(let s) = uri {
            _ = (s.transport, s.isLooseRouter, s.userParameter, s.maddr, s.addressOfRecord, s.originalText)
        }
        if case .tel(let t) = uri { _ = (t.isGlobal, t.phoneContext, t.normalizedNumber) }
    }
}
