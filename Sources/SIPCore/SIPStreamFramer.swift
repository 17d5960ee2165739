/// What a stream (TCP/TLS/WebSocket-less) connection delivered next.
public enum SIPStreamFrame: Sendable, Equatable {
    /// Exactly one complete message, header section and Content-Length bytes of body.
    case message([UInt8])
    /// A CRLFCRLF keep-alive ping (RFC 5626 §4.4.1); a server answers it with a single CRLF.
    case ping
    /// A lone CRLF: the pong answering our ping (RFC 5626 §4.4.1).
    case pong
}

/// Cuts a byte stream into SIP messages (RFC 3261 §18.3: on streams Content-Length is mandatory and delimits
/// the body) and keep-alives (RFC 5626 §4.4.1). Sans-IO: feed it with `append`, drain it with `next` until nil.
///
/// Errors are final: the stream cannot be re-synchronised (RFC 4475 §3.1.2.3), so once `next` threw it keeps
/// throwing the same error and the transport should close the connection (after answering, if it wants to).
/// A lone CRLF at the very end of the buffered bytes is held back until the next byte arrives, because it
/// may be the first half of a ping; `hasPendingCRLF` tells when that is the case.
public struct SIPStreamFramer: Sendable {
    public let maxMessageSize: Int
    private var buffer: [UInt8] = []
    /// Start of the unconsumed bytes in `buffer`.
    private var start = 0
    /// Per message (offsets relative to `start`): how far the search for the empty line got, the header
    /// section length once found, and the body length.
    private var searched = 0
    private var headLength: Int? = nil
    private var bodyLength = 0
    private var startLineChecked = false
    private var lineSearched = 0
    private var failure: SIPParseError? = nil

    public init(maxMessageSize: Int = 65536) {
        self.maxMessageSize = maxMessageSize
    }

    public mutating func append(_ bytes: some Sequence<UInt8>) {
        if start > 0, start == buffer.count {
            buffer.removeAll(keepingCapacity: true)
            start = 0
        } else if start > 4096, start > buffer.count / 2 {
            buffer.removeSubrange(0..<start)
            start = 0
        }
        buffer.append(contentsOf: bytes)
    }

    /// Bytes received but not yet returned in a frame.
    public var bufferedByteCount: Int { buffer.count - start }

    /// True when the only buffered bytes are a CRLF that will become `.pong` (or half of a `.ping`).
    public var hasPendingCRLF: Bool {
        bufferedByteCount == 2 && buffer[start] == 0x0D && buffer[start + 1] == 0x0A
    }

    /// The next complete frame, nil when more bytes are needed.
    public mutating func next() throws(SIPParseError) -> SIPStreamFrame? {
        if let failure { throw failure }
        do {
            return try nextFrame()
        } catch {
            failure = error
            throw error
        }
    }

    private mutating func consume(_ n: Int) {
        start += n
        searched = 0
        headLength = nil
        bodyLength = 0
        startLineChecked = false
        lineSearched = 0
    }

    private func byte(_ offset: Int) -> UInt8? {
        let i = start + offset
        return i < buffer.count ? buffer[i] : nil
    }

    private mutating func nextFrame() throws(SIPParseError) -> SIPStreamFrame? {
        if headLength == nil {
            // Bare LFs between messages are tolerated and ignored (a loop, not recursion: there may be many).
            while start < buffer.count, buffer[start] == 0x0A { consume(1) }
        }
        let available = buffer.count - start
        guard available > 0 else { return nil }

        if headLength == nil {
            // Keep-alives between messages (RFC 5626 §4.4.1; RFC 3261 §7.5 ignores CRLF before a start line).
            if byte(0) == 0x0D {
                guard let b1 = byte(1) else { return nil }
                guard b1 == 0x0A else { throw SIPParseError(reason: "Not a SIP Message") }
                if byte(2) == 0x0D {
                    guard let b3 = byte(3) else { return nil }
                    if b3 == 0x0A { consume(4); return .ping }
                } else if available == 2 {
                    return nil
                }
                consume(2)
                return .pong
            }
            try checkStartLine()
            guard let end = findEmptyLine() else {
                if available > maxMessageSize { throw SIPParseError(statusCode: 513, reason: "Message Too Large") }
                return nil
            }
            if end > maxMessageSize { throw SIPParseError(statusCode: 513, reason: "Message Too Large") }
            let head = SplitHead.split(Array(buffer[start..<(start + end)]), from: 0)
            switch SIPParser.contentLength(of: SIPHeaders(head.fields)) {
            case .failure(let e): throw e
            case .success(nil):
                throw SIPParseError(reason: "Missing Header: Content-Length", headerName: "Content-Length")
            case .success(let n?):
                guard n <= maxMessageSize - end else {
                    throw SIPParseError(statusCode: 513, reason: "Message Too Large", headerName: "Content-Length")
                }
                headLength = end
                bodyLength = n
            }
        }
        guard let headLength else { return nil }
        let total = headLength + bodyLength
        guard available >= total else { return nil }
        let frame = Array(buffer[start..<(start + total)])
        consume(total)
        return .message(frame)
    }

    /// Rejects bytes that cannot begin a SIP start line as early as possible (a TLS ClientHello or an HTTP
    /// request on a SIP port), so the transport can close the connection. Incremental: bytes already looked at
    /// are not scanned again when the line arrives piecemeal.
    private mutating func checkStartLine() throws(SIPParseError) {
        guard !startLineChecked else { return }
        let garbage = SIPParseError(reason: "Not a SIP Message")
        // A start line begins with a method token or "SIP/": anything else (0x16 of a TLS record, "<") is
        // rejected at once.
        guard start < buffer.count, SIPGrammar.token.contains(buffer[start]) else { throw garbage }
        var i = start + lineSearched
        while i < buffer.count, buffer[i] != 0x0A { i += 1 }
        lineSearched = i - start
        guard i < buffer.count else { return }
        var lineEnd = i
        if lineEnd > start, buffer[lineEnd - 1] == 0x0D { lineEnd -= 1 }
        let line = buffer[start..<lineEnd]
        let isResponse = line.count >= 4 && SIPGrammar.equalsIgnoringCase(SIPGrammar.string(line.prefix(4)), "SIP/")
        if !isResponse {
            let words = line.split(separator: 0x20)
            guard words.count >= 2, SIPGrammar.isToken(words[0]), SIPParser.isVersionSyntax(words[words.count - 1]) else {
                throw garbage
            }
        }
        startLineChecked = true
    }

    /// Offset (relative to `start`) just after the empty line that ends the header section.
    private mutating func findEmptyLine() -> Int? {
        var i = start + max(0, searched - 3)
        while i < buffer.count {
            guard let lf = buffer[i...].firstIndex(of: 0x0A) else { break }
            // LF followed by LF or by CRLF: an empty line.
            if lf + 1 < buffer.count {
                if buffer[lf + 1] == 0x0A { return lf + 2 - start }
                if buffer[lf + 1] == 0x0D {
                    if lf + 2 < buffer.count {
                        if buffer[lf + 2] == 0x0A { return lf + 3 - start }
                    } else {
                        break
                    }
                }
            } else {
                break
            }
            i = lf + 1
        }
        searched = buffer.count - start
        return nil
    }
}
