import Testing
import SIPCore

/// Regression tests for fuzzer findings and for inputs shaped to hit recursion or quadratic work.
@Suite("Robustness and fuzz regressions")
struct RobustnessTests {
    /// Fuzz finding #1: a Request-URI with the same parameter twice made §19.1.4 comparison of the URI with
    /// its own re-serialisation fail. Repeated parameter names are now malformed (RFC 3261 §7.3.1).
    @Test func fuzz1_duplicateURIParameter() throws {
        let bytes = Array("OPTIONS sip:t.watson@example.orc.example.com:5060;branch=5060;branch=z9hG:bKkdjuw\r\nMaxe.com\r\nAccept: applicati:    3923239;OPTIONS\r\nl: 0\r\n".utf8)
        let e = try #require(Support.rejection(bytes))
        #expect(e.statusCode == 400)
        #expect(throws: SIPParseError.self) { try SIPURI(parsing: "sip:a@b;branch=1;BRANCH=2") }
        #expect(throws: SIPParseError.self) { try Via(parsing: "SIP/2.0/UDP h;rport;rport") }
    }

    @Test func manyBareLFsOnAStreamDoNotRecurse() throws {
        var f = SIPStreamFramer()
        f.append(Array(repeating: 0x0A, count: 200_000))
        #expect(try f.next() == nil)
        f.append(Support.request())
        guard case .message? = try f.next() else { Issue.record("no message"); return }
    }

    @Test(.timeLimit(.minutes(1)))
    func longHeaderSectionDeliveredByteByByteIsLinear() throws {
        let big = Support.request(extra: ["X-Long: " + String(repeating: "a", count: 60_000)])
        var f = SIPStreamFramer()
        var got = 0
        for b in big {
            f.append(CollectionOfOne(b))
            if case .message? = try f.next() { got += 1 }
        }
        #expect(got == 1)
        // The same for a start line that never ends: rejected once it exceeds the limit.
        var g = SIPStreamFramer(maxMessageSize: 30_000)
        var failed = false
        for _ in 0..<40_000 where !failed {
            g.append(CollectionOfOne(UInt8(ascii: "A")))
            do { _ = try g.next() } catch { failed = true }
        }
        #expect(failed)
    }

    @Test func manyHeadersAndValuesAtTheSizeLimit() throws {
        var lines = ["OPTIONS sip:x@example.com SIP/2.0", "Via: SIP/2.0/UDP h;branch=z9hG4bK1", "To: <sip:x@example.com>",
                     "From: <sip:y@example.com>;tag=1", "Call-ID: c", "CSeq: 1 OPTIONS"]
        lines += Array(repeating: "a:", count: 12_000)
        lines.append("Contact: " + Array(repeating: "<sip:c@h>", count: 500).joined(separator: ","))
        let m = try SIPParser.parse(Support.message(lines))
        #expect(m.headers.count == 12_006)
        #expect(m.contacts.count == 500)
        let vias = "Via: " + Array(repeating: "SIP/2.0/UDP h", count: 3000).joined(separator: ",")
        let n = try SIPParser.parse(Support.request(extra: [vias]))
        #expect(n.vias.count == 3001)
    }

    @Test func hostileBytesNeverCrash() {
        var seed: UInt64 = 0x9E37_79B9_7F4A_7C15
        func next() -> UInt64 {
            seed ^= seed << 13; seed ^= seed >> 7; seed ^= seed << 17
            return seed
        }
        let alphabet = Array("SIP/2.0 INVITE sip:@;=,<>\"\\:[]?%0123456789abcdef\r\n\t ".utf8)
        let base = Support.torture("wsinv")
        for _ in 0..<2000 {
            var bytes = base
            for _ in 0..<Int(next() % 8) + 1 {
                let i = Int(next() % UInt64(bytes.count))
                switch next() % 3 {
                case 0: bytes[i] = alphabet[Int(next() % UInt64(alphabet.count))]
                case 1: bytes.remove(at: i)
                default: bytes.insert(alphabet[Int(next() % UInt64(alphabet.count))], at: i)
                }
            }
            if let m = try? SIPParser.parse(bytes) {
                _ = (m.vias, m.from, m.to, m.contacts, m.routes, m.cseq, m.request?.uri)
                #expect((try? SIPParser.parse(m.serialized())) != nil)
            }
            var f = SIPStreamFramer()
            f.append(bytes)
            _ = try? f.next()
        }
    }
}
