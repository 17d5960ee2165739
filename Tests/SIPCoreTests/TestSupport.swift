import Foundation
import Testing
import SIPCore

/// Test helpers: the RFC 4475 files and CRLF message builders.
enum Support {
    static let rfc4475Directory = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("rfc4475")

    static func torture(_ name: String) -> [UInt8] {
        let url = rfc4475Directory.appendingPathComponent(name + ".dat")
        guard let data = try? Data(contentsOf: url) else {
            Issue.record("cannot read \(url.path)")
            return []
        }
        return [UInt8](data)
    }

    /// Joins lines with CRLF and ends the header section with an empty line, then appends `body`.
    static func message(_ lines: [String], body: String = "") -> [UInt8] {
        Array((lines.joined(separator: "\r\n") + "\r\n\r\n" + body).utf8)
    }

    /// A valid request with the mandatory header fields, `extra` lines inserted after them.
    static func request(_ method: String = "OPTIONS", uri: String = "sip:bob@example.com", extra: [String] = [],
                        body: String = "", contentLength: Bool = true) -> [UInt8] {
        var lines = [
            "\(method) \(uri) SIP/2.0",
            "Via: SIP/2.0/UDP pc33.example.com;branch=z9hG4bK776asdhds",
            "Max-Forwards: 70",
            "To: Bob <sip:bob@example.com>",
            "From: Alice <sip:alice@example.com>;tag=1928301774",
            "Call-ID: a84b4c76e66710@pc33.example.com",
            "CSeq: 314159 \(method)",
        ] + extra
        if contentLength { lines.append("Content-Length: \(body.utf8.count)") }
        return message(lines, body: body)
    }

    static func response(_ statusLine: String = "SIP/2.0 200 OK", extra: [String] = [], body: String = "") -> [UInt8] {
        message([
            statusLine,
            "Via: SIP/2.0/UDP pc33.example.com;branch=z9hG4bK776asdhds",
            "To: Bob <sip:bob@example.com>;tag=a6c85cf",
            "From: Alice <sip:alice@example.com>;tag=1928301774",
            "Call-ID: a84b4c76e66710@pc33.example.com",
            "CSeq: 314159 INVITE",
        ] + extra + ["Content-Length: \(body.utf8.count)"], body: body)
    }

    /// The parse error, or nil (and a recorded issue) when the bytes parsed.
    static func rejection(_ bytes: [UInt8], sourceLocation: SourceLocation = #_sourceLocation) -> SIPParseError? {
        do {
            let m = try SIPParser.parse(bytes)
            Issue.record("expected a parse error, got \(m)", sourceLocation: sourceLocation)
            return nil
        } catch {
            return error
        }
    }

    /// Method/URI/status, header fields except Content-Length (which serialisation rewrites), and body.
    static func sameFields(_ a: SIPMessage, _ b: SIPMessage) -> Bool {
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

    /// Parses, runs `check`, serialises, re-parses, asserts equal fields and runs `check` again.
    static func acceptAndRoundTrip(_ bytes: [UInt8], sourceLocation: SourceLocation = #_sourceLocation,
                                   _ check: (SIPMessage) throws -> Void) throws {
        let message = try SIPParser.parse(bytes)
        try check(message)
        let again = try SIPParser.parse(message.serialized())
        #expect(sameFields(message, again), "round trip changed the message", sourceLocation: sourceLocation)
        try check(again)
    }
}
