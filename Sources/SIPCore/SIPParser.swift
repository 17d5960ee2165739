/// Parses one SIP message from a datagram (or from one frame cut by `SIPStreamFramer`).
///
/// Validated at parse time (what an element needs to be able to answer at all, RFC 3261 §8.2 / §16.3 / §18.3):
/// the start line; Via, From, To, Call-ID and CSeq present, single (except Via) and well-formed; CSeq number
/// < 2^31 and CSeq method equal to the request method; Max-Forwards 0...255; Content-Length; Date (RFC 3261
/// §20.17 rfc1123-date in GMT); Contact values; the Request-URI (sip/sips/tel syntax, no URI headers; any
/// other scheme than `acceptedRequestURISchemes` gives 416 once everything else is fine). Every other header
/// field is stored verbatim and only parsed on demand by the typed views.
public enum SIPParser {
    public static let defaultMaxMessageSize = 65536
    /// Request-URI schemes this element can route; others are answered 416 (RFC 3261 §8.2.2.1, §16.3).
    /// `urn` is in for emergency service URNs (RFC 5031).
    public static let acceptedRequestURISchemes: Set<String> = ["sip", "sips", "tel", "urn"]

    /// Datagram semantics (RFC 3261 §18.3): the body is Content-Length bytes, extra bytes are discarded,
    /// fewer bytes are an error; without Content-Length the body is the rest of the datagram.
    public static func parse(_ bytes: [UInt8], maxMessageSize: Int = 65536) throws(SIPParseError) -> SIPMessage {
        try MessageParser(bytes: bytes, maxMessageSize: maxMessageSize).parse()
    }

    public static func parse(_ bytes: ArraySlice<UInt8>, maxMessageSize: Int = 65536) throws(SIPParseError) -> SIPMessage {
        guard bytes.count <= maxMessageSize else { throw SIPParseError(statusCode: 513, reason: "Message Too Large") }
        return try parse(Array(bytes), maxMessageSize: maxMessageSize)
    }

    public static func parse(_ buffer: UnsafeRawBufferPointer, maxMessageSize: Int = 65536) throws(SIPParseError) -> SIPMessage {
        guard buffer.count <= maxMessageSize else { throw SIPParseError(statusCode: 513, reason: "Message Too Large") }
        return try parse(Array(buffer), maxMessageSize: maxMessageSize)
    }

    /// RFC 3261 §20.17: rfc1123-date = wkday "," SP date1 SP time SP "GMT", date1 = 2DIGIT SP month SP 4DIGIT.
    static func isValidDate(_ value: String) -> Bool {
        let b = Array(SIPGrammar.trimWSP(value).utf8)
        guard b.count == 29 else { return false }
        let s = SIPGrammar.lowercasedASCII(SIPGrammar.string(b))
        let u = Array(s.utf8)
        let wkdays = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
        let months = ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"]
        let d = SIPGrammar.isDigit
        return wkdays.contains(SIPGrammar.string(u[0..<3])) && u[3] == 0x2C && u[4] == 0x20
            && d(u[5]) && d(u[6]) && u[7] == 0x20
            && months.contains(SIPGrammar.string(u[8..<11])) && u[11] == 0x20
            && u[12...15].allSatisfy(d) && u[16] == 0x20
            && d(u[17]) && d(u[18]) && u[19] == 0x3A && d(u[20]) && d(u[21]) && u[22] == 0x3A && d(u[23]) && d(u[24])
            && u[25] == 0x20 && SIPGrammar.string(u[26...]) == "gmt"
    }

    /// SIP-Version = "SIP" "/" 1*DIGIT "." 1*DIGIT ("SIP" case-insensitive, RFC 3261 §7.1).
    static func isVersionSyntax<C: Collection<UInt8>>(_ v: C) -> Bool where C.Index == Int {
        let a = Array(v)
        guard a.count >= 7, SIPGrammar.equalsIgnoringCase(SIPGrammar.string(a[0..<4]), "SIP/") else { return false }
        let rest = a[4...]
        guard let dot = rest.firstIndex(of: UInt8(ascii: ".")) else { return false }
        let major = rest[..<dot], minor = rest[(dot + 1)...]
        return !major.isEmpty && !minor.isEmpty && major.allSatisfy(SIPGrammar.isDigit) && minor.allSatisfy(SIPGrammar.isDigit)
    }

    /// callid = word [ "@" word ] (RFC 3261 §25.1): one pass, no split.
    static func isCallID(_ v: String) -> Bool {
        var ats = 0, wordLength = 0
        for b in v.utf8 {
            if b == UInt8(ascii: "@") {
                guard wordLength > 0 else { return false }
                ats += 1
                guard ats <= 1 else { return false }
                wordLength = 0
            } else {
                guard SIPGrammar.callIDChar.contains(b) else { return false }
                wordLength += 1
            }
        }
        return wordLength > 0
    }

    static func isVersion20(_ v: String) -> Bool { SIPGrammar.equalsIgnoringCase(v, "SIP/2.0") }

    /// Methods this library knows; a CSeq mismatch on any other method is answered 501 (RFC 4475 §3.1.2.18).
    static let knownMethods: Set<String> = [
        "INVITE", "ACK", "BYE", "CANCEL", "REGISTER", "OPTIONS", "INFO", "PRACK", "UPDATE", "SUBSCRIBE",
        "NOTIFY", "REFER", "MESSAGE", "PUBLISH",
    ]
}

/// The head of a message split into start line and unfolded header fields.
struct SplitHead {
    var startLine: Range<Int>
    var fields: [SIPHeader] = []
    /// The first header line that could not be split (the line is skipped, the others are kept).
    var lineError: SIPParseError?
    /// Index just after the empty line, or the end of the input when there was none.
    var bodyStart: Int

    static let CR: UInt8 = 0x0D, LF: UInt8 = 0x0A

    /// Splits lines at LF (a preceding CR is dropped; a CR anywhere else is an error), unfolds continuation
    /// lines (RFC 3261 §7.3.1: LWS = [*WSP CRLF] 1*WSP, replaced by a single SP) and trims the values.
    static func split(_ bytes: [UInt8], from start: Int) -> SplitHead {
        var head = SplitHead(startLine: start..<start, bodyStart: bytes.count)
        head.fields.reserveCapacity(24)  // a REGISTER or INVITE has 10-20 fields: one allocation, no regrowth
        var pos = start
        var first = true
        var name: String? = nil
        var value: [UInt8] = []
        var skipping = false

        func finish(_ head: inout SplitHead) {
            if let n = name {
                head.fields.append(SIPHeader(name: n, value: SIPGrammar.string(SIPGrammar.trimWSP(value[...]))))
            }
            name = nil
            value.removeAll(keepingCapacity: true)
        }
        func fail(_ head: inout SplitHead, _ e: SIPParseError) {
            if head.lineError == nil { head.lineError = e }
        }

        while pos < bytes.count {
            let lf = bytes[pos...].firstIndex(of: LF)
            let next = lf.map { $0 + 1 } ?? bytes.count
            var end = lf ?? bytes.count
            if end > pos, bytes[end - 1] == CR { end -= 1 }
            let line = bytes[pos..<end]
            pos = next
            if line.isEmpty {
                if first { continue } // cannot happen: leading CRLFs were skipped
                head.bodyStart = next
                break
            }
            if first {
                first = false
                head.startLine = line.startIndex..<line.endIndex
                continue
            }
            if line.contains(CR) {
                finish(&head)
                skipping = true
                fail(&head, SIPParseError(reason: "Malformed Header Line"))
                continue
            }
            if SIPGrammar.isWSP(line[line.startIndex]) {
                // Continuation of the previous field.
                if skipping { continue }
                guard name != nil else {
                    fail(&head, SIPParseError(reason: "Malformed Header Line"))
                    skipping = true
                    continue
                }
                while let l = value.last, SIPGrammar.isWSP(l) { value.removeLast() }
                if !value.isEmpty { value.append(0x20) }
                value.append(contentsOf: SIPGrammar.trimWSP(line))
                continue
            }
            finish(&head)
            skipping = false
            // field-name = token, then HCOLON = *( SP / HTAB ) ":" SWS.
            var i = line.startIndex
            while i < line.endIndex, SIPGrammar.token.contains(line[i]) { i += 1 }
            let nameEnd = i
            while i < line.endIndex, SIPGrammar.isWSP(line[i]) { i += 1 }
            guard nameEnd > line.startIndex, i < line.endIndex, line[i] == UInt8(ascii: ":") else {
                skipping = true
                fail(&head, SIPParseError(reason: "Malformed Header Line"))
                continue
            }
            name = SIPGrammar.string(line[line.startIndex..<nameEnd])
            value.append(contentsOf: line[(i + 1)...])
        }
        finish(&head)
        return head
    }
}

struct MessageParser {
    let bytes: [UInt8]
    let maxMessageSize: Int

    func parse() throws(SIPParseError) -> SIPMessage {
        guard bytes.count <= maxMessageSize else { throw SIPParseError(statusCode: 513, reason: "Message Too Large") }
        var i = 0
        // RFC 3261 §7.5: CRLFs before the start line are ignored.
        while i < bytes.count, bytes[i] == SplitHead.CR || bytes[i] == SplitHead.LF { i += 1 }
        guard i < bytes.count else { throw SIPParseError(reason: "Empty Message") }
        let head = SplitHead.split(bytes, from: i)
        let line = bytes[head.startLine]
        if line.count >= 4, SIPGrammar.equalsIgnoringCase(SIPGrammar.string(line.prefix(4)), "SIP/") {
            return .response(try parseResponse(head, line))
        }
        return .request(try parseRequest(head, line))
    }

    // MARK: Responses

    func parseResponse(_ head: SplitHead, _ line: ArraySlice<UInt8>) throws(SIPParseError) -> SIPResponse {
        // Status-Line = SIP-Version SP Status-Code SP Reason-Phrase (RFC 3261 §7.2). An empty reason is fine
        // (RFC 4475 §3.1.1.13), so is a missing SP before it.
        guard !line.contains(SplitHead.CR), let sp = line.firstIndex(of: 0x20) else { throw .malformed("Status-Line") }
        let version = line[..<sp]
        guard SIPParser.isVersionSyntax(version) else { throw .malformed("Status-Line") }
        let afterVersion = line[(sp + 1)...]
        let codeEnd = afterVersion.firstIndex(of: 0x20) ?? afterVersion.endIndex
        let codeBytes = afterVersion[..<codeEnd]
        guard codeBytes.count == 3, let code = SIPGrammar.parseInteger(codeBytes, max: 699), code >= 100 else {
            throw SIPParseError(reason: "Bad Status-Code")
        }
        let reason = codeEnd < afterVersion.endIndex ? afterVersion[(codeEnd + 1)...] : []
        let versionString = SIPGrammar.string(version)
        guard SIPParser.isVersion20(versionString) else {
            throw SIPParseError(statusCode: 505, reason: "Version Not Supported")
        }
        if let e = head.lineError { throw e }
        var headers = SIPHeaders(head.fields)
        try validateCommon(&headers, isRequest: false)
        let body = try datagramBody(headers, head.bodyStart).get()
        return SIPResponse(statusCode: code, reasonPhrase: SIPGrammar.string(reason), version: versionString,
                           headers: headers, body: body)
    }

    // MARK: Requests

    func parseRequest(_ head: SplitHead, _ line: ArraySlice<UInt8>) throws(SIPParseError) -> SIPRequest {
        let headers = SIPHeaders(head.fields)

        // Request-Line = Method SP Request-URI SP SIP-Version CRLF (RFC 3261 §7.1, §25.1): exactly one SP
        // between the elements and none at the end (RFC 4475 §3.1.2.8-10).
        var lineOK = false
        var method: String, bestURI: String, bestVersion: String
        if let sp1 = line.firstIndex(of: 0x20), let sp2 = line.lastIndex(of: 0x20), sp2 > sp1 + 1,
           SIPGrammar.isToken(line[..<sp1]), line[(sp1 + 1)..<sp2].allSatisfy({ $0 > 0x20 && $0 != 0x7F }),
           SIPParser.isVersionSyntax(line[(sp2 + 1)...]) {
            lineOK = true
            method = SIPGrammar.string(line[..<sp1])
            bestURI = SIPGrammar.string(line[(sp1 + 1)..<sp2])
            bestVersion = SIPGrammar.string(line[(sp2 + 1)...])
        } else {
            // Best-effort split for the error answer: whitespace-separated words, method first, version last.
            let words = line.split(whereSeparator: { $0 == 0x20 || $0 == 0x09 })
            guard words.count >= 2, SIPGrammar.isToken(words[0]) else {
                throw .malformed("Request-Line")
            }
            method = SIPGrammar.string(words[0])
            if words.count >= 3 {
                bestURI = SIPGrammar.string(Array(words[1..<(words.count - 1)].joined()))
                bestVersion = SIPGrammar.string(words[words.count - 1])
            } else {
                bestURI = SIPGrammar.string(words[1])
                bestVersion = "SIP/2.0"
            }
        }
        let bodyResult = datagramBody(headers, head.bodyStart)
        let bestBody: [UInt8]
        switch bodyResult {
        case .success(let b): bestBody = b
        case .failure: bestBody = head.bodyStart < bytes.count ? Array(bytes[head.bodyStart...]) : []
        }
        var request = SIPRequest(method: SIPMethod(method), requestURI: bestURI, version: bestVersion,
                                 headers: headers, body: bestBody)
        func fail(_ e: SIPParseError) -> SIPParseError {
            var e = e
            e.request = request
            return e
        }
        guard lineOK else { throw fail(.malformed("Request-Line")) }
        // RFC 3261 §8.2.2.1 / §18.1: a version we do not speak is answered 505.
        guard SIPParser.isVersion20(bestVersion) else {
            throw fail(SIPParseError(statusCode: 505, reason: "Version Not Supported"))
        }
        // The Request-URI itself. Its scheme must be syntactically valid (a "<" in front is not, RFC 4475
        // §3.1.2.7); sip/sips/tel must parse; SIP URI headers are not allowed in a Request-URI (§19.1.1,
        // RFC 4475 §3.1.2.11). An unknown but valid scheme is judged last (416).
        var unsupportedScheme = false
        do throws(SIPParseError) {
            let uri = try URI(parsing: bestURI)
            switch uri {
            case .sip(let s): if !s.headers.isEmpty { throw fail(SIPParseError(reason: "Bad Request-URI")) }
            case .tel: break
            case .other(let scheme, _): unsupportedScheme = !SIPParser.acceptedRequestURISchemes.contains(scheme)
            }
        } catch {
            throw fail(SIPParseError(reason: "Bad Request-URI"))
        }
        if let e = head.lineError { throw fail(e) }
        do throws(SIPParseError) {
            let cseq = try validateCommon(&request.headers, isRequest: true)
            // RFC 3261 §8.2.2 / RFC 4475 §3.1.2.17-18: the CSeq method must match the request method. For a
            // method we do not implement, 501 is the better answer.
            if let cseq, cseq.method.rawValue != method {
                let code = SIPParser.knownMethods.contains(method) ? 400 : 501
                throw SIPParseError(statusCode: code, reason: "CSeq Method Mismatch", headerName: "CSeq")
            }
            _ = try bodyResult.get()
        } catch {
            throw fail(error)
        }
        guard !unsupportedScheme else {
            throw fail(SIPParseError(statusCode: 416, reason: "Unsupported URI Scheme"))
        }
        return request
    }

    // MARK: Shared validation

    /// A `tag` parameter on From/To must carry its token (RFC 3261 §25.1 tag-param = "tag" EQUAL token):
    /// a bare `;tag` names no dialog, and a response would add a second `tag` to it (SIPFuzz finding).
    static func hasUsableTag(_ nameAddr: NameAddr) -> Bool {
        if case .some(.none) = nameAddr.parameters["tag"] { return false }
        return true
    }

    /// The fields every element needs to answer or match a message (RFC 3261 §8.1.1, §8.2.6.2, §17.2.3).
    /// The name-addrs it parses (From, To, Contact) stay with their fields for later readers.
    /// Returns the CSeq it parsed, for the request's method check.
    @discardableResult
    func validateCommon(_ headers: inout SIPHeaders, isRequest: Bool) throws(SIPParseError) -> CSeq? {
        var via = 0, from = 0, to = 0, callID = 0, cseq = 0, maxForwards = 0
        var parsedCSeq: CSeq?
        for index in headers.fields.indices {
            let field = headers.fields[index]
            let v = field.value
            switch field.canonicalName {
            case "via":
                via += 1
                let parts = HeaderValueSplitter.split(v)
                guard !parts.isEmpty else { throw .badHeader("Via") }
                var vias: [Via] = []
                vias.reserveCapacity(parts.count)
                for part in parts { vias.append(try Via(parsing: part)) }
                headers.keepParsed(vias: vias, at: index)
            case "from":
                from += 1
                guard from == 1 else { throw .duplicateHeader("From") }
                guard let parsed = try? NameAddr(parsing: v), Self.hasUsableTag(parsed) else { throw .badHeader("From") }
                headers.keepParsed([parsed], at: index)
            case "to":
                to += 1
                guard to == 1 else { throw .duplicateHeader("To") }
                guard let parsed = try? NameAddr(parsing: v), Self.hasUsableTag(parsed) else { throw .badHeader("To") }
                headers.keepParsed([parsed], at: index)
            case "call-id":
                callID += 1
                guard callID == 1 else { throw .duplicateHeader("Call-ID") }
                // callid = word [ "@" word ] (RFC 3261 §25.1).
                guard SIPParser.isCallID(v) else { throw .badHeader("Call-ID") }
            case "cseq":
                cseq += 1
                guard cseq == 1 else { throw .duplicateHeader("CSeq") }
                // §8.1.1.5: expressible in 32 bits and less than 2^31 (RFC 4475 §3.1.2.4-5).
                guard let c = try? CSeq(parsing: v), c.sequence < 0x8000_0000 else { throw .badHeader("CSeq") }
                parsedCSeq = c
            case "max-forwards" where isRequest:
                maxForwards += 1
                guard maxForwards == 1 else { throw .duplicateHeader("Max-Forwards") }
                guard SIPGrammar.parseInteger(v, max: 255) != nil else { throw .badHeader("Max-Forwards") }
            case "date":
                guard SIPParser.isValidDate(v) else { throw .badHeader("Date") }
            case "contact":
                // Contact: "*" / 1#(name-addr / addr-spec) *(SEMI contact-params) (RFC 3261 §20.10).
                let parts = HeaderValueSplitter.split(v)
                guard !parts.isEmpty else { throw .badHeader("Contact") }
                if parts.count == 1, parts[0] == "*" { break }
                var parsed: [NameAddr] = []
                for part in parts {
                    guard let p = try? NameAddr(parsing: part) else { throw .badHeader("Contact") }
                    parsed.append(p)
                }
                headers.keepParsed(parsed, at: index)
            default:
                break
            }
        }
        if via == 0 { throw .missingHeader("Via") }
        if from == 0 { throw .missingHeader("From") }
        if to == 0 { throw .missingHeader("To") }
        if callID == 0 { throw .missingHeader("Call-ID") }
        if cseq == 0 { throw .missingHeader("CSeq") }
        return parsedCSeq
    }

    /// RFC 3261 §18.3 datagram framing with §20.14 Content-Length.
    func datagramBody(_ headers: SIPHeaders, _ bodyStart: Int) -> Result<[UInt8], SIPParseError> {
        let available = bytes.count - bodyStart
        switch SIPParser.contentLength(of: headers) {
        case .failure(let e): return .failure(e)
        case .success(nil): return .success(available > 0 ? Array(bytes[bodyStart...]) : [])
        case .success(let n?):
            guard n <= available else {
                return .failure(SIPParseError(reason: "Content-Length Exceeds Body", headerName: "Content-Length"))
            }
            return .success(Array(bytes[bodyStart..<(bodyStart + n)]))
        }
    }
}

extension SIPParser {
    /// The Content-Length of a header list: nil when absent; an error when not 1*DIGIT (negative values,
    /// RFC 4475 §3.1.2.3) or when several fields disagree (§3.3.9).
    static func contentLength(of headers: SIPHeaders) -> Result<Int?, SIPParseError> {
        var result: Int? = nil
        for field in headers where field.canonicalName == "content-length" {
            guard let n = SIPGrammar.parseInteger(field.value, max: Int(Int32.max)) else {
                return .failure(.badHeader("Content-Length"))
            }
            if let r = result, r != n {
                return .failure(SIPParseError(reason: "Conflicting Content-Length", headerName: "Content-Length"))
            }
            result = n
        }
        return .success(result)
    }
}
