import NIOCore

/// RFC 5626 §4.4.2 / RFC 5389: UDP keep-alives are STUN Binding requests multiplexed on the SIP
/// port. We answer with a Binding success response carrying XOR-MAPPED-ADDRESS, which also tells
/// the client its public address behind NAT.
enum STUNKeepAlive {
    static let magicCookie: UInt32 = 0x2112_A442

    /// True when the datagram is a STUN message (first two bits zero, the magic cookie in place).
    static func isSTUN(_ bytes: ByteBufferView) -> Bool {
        // Checked on every datagram: a SIP message starts with a letter, so the first byte settles it
        // without copying anything.
        guard bytes.count >= 20, let first = bytes.first, first & 0xC0 == 0 else { return false }
        let s = bytes.startIndex
        let cookie = UInt32(bytes[s + 4]) << 24 | UInt32(bytes[s + 5]) << 16 | UInt32(bytes[s + 6]) << 8 | UInt32(bytes[s + 7])
        return cookie == magicCookie
    }

    /// The Binding success response for a Binding request, or nil for any other STUN message.
    static func response(to request: ByteBufferView, from source: SocketAddress) -> [UInt8]? {
        let b = Array(request.prefix(20))
        guard b.count == 20, b[0] == 0x00, b[1] == 0x01 else { return nil }   // Binding request
        let transactionID = b[8..<20]
        var attr: [UInt8] = []
        let port = UInt16(truncatingIfNeeded: source.port ?? 0) ^ UInt16(magicCookie >> 16)
        switch source {
        case .v4(let v4):
            let ip = UInt32(bigEndian: v4.address.sin_addr.s_addr) ^ magicCookie
            attr = [0x00, 0x20, 0x00, 0x08, 0x00, 0x01, UInt8(port >> 8), UInt8(port & 0xFF),
                    UInt8(ip >> 24), UInt8(ip >> 16 & 0xFF), UInt8(ip >> 8 & 0xFF), UInt8(ip & 0xFF)]
        case .v6(let v6):
            var addr = v6.address.sin6_addr
            let raw = withUnsafeBytes(of: &addr) { Array($0) }
            let key = [UInt8(magicCookie >> 24), UInt8(magicCookie >> 16 & 0xFF), UInt8(magicCookie >> 8 & 0xFF),
                       UInt8(magicCookie & 0xFF)] + Array(transactionID)
            attr = [0x00, 0x20, 0x00, 0x14, 0x00, 0x02, UInt8(port >> 8), UInt8(port & 0xFF)]
                + zip(raw, key).map { $0 ^ $1 }
        default:
            return nil
        }
        let length = UInt16(attr.count)
        return [0x01, 0x01, UInt8(length >> 8), UInt8(length & 0xFF)] + Array(b[4..<8]) + Array(transactionID) + attr
    }
}
