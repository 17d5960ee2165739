enum SDPCheck {
    /// A body that claims to be SDP must look like SDP (RFC 4566 §5): `v=0` first, then `x=value` lines.
    static func isPlausible(_ body: [UInt8]) -> Bool {
        guard let text = String(validating: body, as: UTF8.self) else { return false }
        let lines = text.split(omittingEmptySubsequences: true, whereSeparator: { $0 == "\r" || $0 == "\n" })
        guard let first = lines.first, first.hasPrefix("v=0") else { return false }
        return lines.allSatisfy { line in
            let u = Array(line.utf8)
            return u.count >= 2 && u[1] == UInt8(ascii: "=") && (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(u[0])
        }
    }
}
