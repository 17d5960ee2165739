/// The CSeq header field (RFC 3261 §20.16): `1*DIGIT LWS Method`.
public struct CSeq: Sendable, Hashable, CustomStringConvertible {
    public var sequence: UInt32
    public var method: SIPMethod

    public init(sequence: UInt32, method: SIPMethod) {
        self.sequence = sequence
        self.method = method
    }

    /// Accepts any 32-bit unsigned sequence number; the message parser additionally enforces < 2^31 (§8.1.1.5).
    public init(parsing text: String) throws(SIPParseError) {
        var c = ByteCursor(text)
        c.skipWSP()
        guard let n = SIPGrammar.parseInteger(c.take(while: SIPGrammar.digit), max: Int(UInt32.max)) else {
            throw .badHeader("CSeq")
        }
        let before = c.index
        c.skipWSP()
        guard c.index > before, let m = c.takeToken() else { throw .badHeader("CSeq") }
        c.skipWSP()
        guard c.isAtEnd else { throw .badHeader("CSeq") }
        sequence = UInt32(n)
        method = SIPMethod(SIPGrammar.string(m))
    }

    public var description: String { "\(sequence) \(method.rawValue)" }
}
