import Testing
import SIPCore

@Suite("SIPStreamFramer: TCP/TLS framing and keep-alives")
struct SIPStreamFramerTests {
    static let one = Support.request(body: "hello")
    static let two = Support.response(body: "")

    static func drain(_ framer: inout SIPStreamFramer) throws -> [SIPStreamFrame] {
        var out: [SIPStreamFrame] = []
        while let f = try framer.next() { out.append(f) }
        return out
    }

    @Test func wholeMessage() throws {
        var f = SIPStreamFramer()
        f.append(Self.one)
        #expect(try f.next() == .message(Self.one))
        #expect(try f.next() == nil)
        #expect(f.bufferedByteCount == 0)
        #expect(try SIPParser.parse(Self.one).body == Array("hello".utf8))
    }

    @Test func byteByByteDelivery() throws {
        var f = SIPStreamFramer()
        var frames: [SIPStreamFrame] = []
        let stream = Array("\r\n\r\n".utf8) + Self.one + Array("\r\n".utf8) + Self.two
        for b in stream {
            f.append(CollectionOfOne(b))
            frames += try Self.drain(&f)
        }
        #expect(frames == [.ping, .message(Self.one), .pong, .message(Self.two)])
    }

    @Test func twoMessagesInOneChunk() throws {
        var f = SIPStreamFramer()
        f.append(Self.one + Self.two)
        #expect(try Self.drain(&f) == [.message(Self.one), .message(Self.two)])
    }

    @Test func splitInsideTheHeaderTerminatorAndTheBody() throws {
        for cut in 1..<Self.one.count {
            var f = SIPStreamFramer()
            f.append(Self.one[..<cut])
            #expect(try f.next() == nil)
            f.append(Self.one[cut...])
            #expect(try f.next() == .message(Self.one))
        }
    }

    @Test func keepAlives() throws {
        var f = SIPStreamFramer()
        f.append(Array("\r\n\r\n".utf8))
        #expect(try f.next() == .ping)
        #expect(try f.next() == nil)
        // A lone CRLF is held back (it may be half a ping) until something follows.
        f.append(Array("\r\n".utf8))
        #expect(f.hasPendingCRLF)
        #expect(try f.next() == nil)
        f.append(Self.one)
        #expect(try Self.drain(&f) == [.pong, .message(Self.one)])
        // Ping, ping, then a message.
        f.append(Array("\r\n\r\n\r\n\r\n".utf8) + Self.two)
        #expect(try Self.drain(&f) == [.ping, .ping, .message(Self.two)])
        // Ping split as "\r\n" + "\r\n".
        f.append(Array("\r\n".utf8))
        #expect(try f.next() == nil)
        f.append(Array("\r\n".utf8))
        #expect(try f.next() == .ping)
    }

    @Test func missingContentLengthIsFatalOnStreams() throws {
        var f = SIPStreamFramer()
        f.append(Support.request(contentLength: false))
        let e = try #require(throwing(&f))
        #expect(e.statusCode == 400)
        #expect(e.reason == "Missing Header: Content-Length")
        // Errors are sticky.
        f.append(Self.one)
        #expect(throwing(&f) == e)
    }

    @Test func compactContentLengthAndFolding() throws {
        let m = Support.message([
            "OPTIONS sip:x@y SIP/2.0", "Via: SIP/2.0/TCP h;branch=z9hG4bK1", "To: <sip:x@y>", "From: <sip:a@b>;tag=1",
            "Call-ID: c", "CSeq: 1 OPTIONS", "l:\r\n 3",
        ], body: "abc")
        var f = SIPStreamFramer()
        f.append(m + m)
        #expect(try Self.drain(&f) == [.message(m), .message(m)])
    }

    @Test func oversizeHeaderSectionAndBody() throws {
        var f = SIPStreamFramer(maxMessageSize: 200)
        f.append(Array("OPTIONS sip:x@y SIP/2.0\r\nX: ".utf8) + Array(repeating: UInt8(ascii: "a"), count: 300))
        #expect(throwing(&f)?.statusCode == 513)

        var g = SIPStreamFramer(maxMessageSize: 1000)
        g.append(Support.request(extra: ["Content-Length: 5000"], contentLength: false))
        #expect(throwing(&g)?.statusCode == 513)
        #expect(throwing(&g)?.headerName == "Content-Length")
    }

    @Test(arguments: [
        [0x16, 0x03, 0x01, 0x02, 0x00],                 // TLS ClientHello on a TCP port
        Array("GET / HTTP/1.1\r\nHost: x\r\n\r\n".utf8), // HTTP
        Array("\r\rINVITE".utf8),
        Array("INVITE sip:x@y SIP/2.0 <garbage>\r\n".utf8),
        Array("<html>".utf8),
    ] as [[UInt8]])
    func garbageIsRejected(_ bytes: [UInt8]) {
        var f = SIPStreamFramer()
        f.append(bytes)
        #expect(throwing(&f) != nil)
    }

    @Test func negativeAndConflictingContentLength() throws {
        var f = SIPStreamFramer()
        f.append(Support.request(extra: ["Content-Length: -1"], contentLength: false))
        #expect(throwing(&f)?.reason == "Bad Header: Content-Length")
        var g = SIPStreamFramer()
        g.append(Support.request(extra: ["Content-Length: 1", "l: 2"], contentLength: false))
        #expect(throwing(&g)?.reason == "Conflicting Content-Length")
    }

    @Test func manyMessagesKeepTheBufferSmall() throws {
        var f = SIPStreamFramer()
        var count = 0
        for _ in 0..<500 {
            f.append(Self.one + Self.two)
            count += try Self.drain(&f).count
        }
        #expect(count == 1000)
        #expect(f.bufferedByteCount == 0)
    }

    func throwing(_ f: inout SIPStreamFramer) -> SIPParseError? {
        do {
            _ = try f.next()
            return nil
        } catch {
            return error
        }
    }
}
