import Testing
@testable import DigestAuth

@Suite("Digest maths")
struct DigestMathTests {
    @Test("RFC 2617 §3.5 example (Mufasa, MD5, qop=auth)")
    func rfc2617Example() throws {
        let ha1 = DigestMath.ha1(.md5, username: "Mufasa", realm: "testrealm@host.com", password: "Circle Of Life")
        #expect(ha1 == "939e7578ed9e3c518a452acee763bce9")
        #expect(DigestMath.ha2(.md5, method: "GET", uri: "/dir/index.html", qop: .auth) == "39aff3a2bab6126f332b942af96d3366")
        let response = DigestMath.response(
            .md5, storedHA1: ha1, nonce: "dcd98b7102dd2f0e8b11d0f600bfb0c093", nonceCount: "00000001",
            cnonce: "0a4f113b", qop: .auth, method: "GET", uri: "/dir/index.html")
        #expect(response == "6629fae49393a05397450978507c4ef1")

        let header = """
            Digest username="Mufasa",
                 realm="testrealm@host.com",
                 nonce="dcd98b7102dd2f0e8b11d0f600bfb0c093",
                 uri="/dir/index.html",
                 qop=auth,
                 nc=00000001,
                 cnonce="0a4f113b",
                 response="6629fae49393a05397450978507c4ef1",
                 opaque="5ccc069c403ebaf9f0171e9517f40e41"
            """.split(separator: "\n").joined(separator: "\r\n")
        let creds = try DigestCredentials.parse(header)
        #expect(creds.opaque == "5ccc069c403ebaf9f0171e9517f40e41")
        #expect(DigestVerifier.verify(creds, method: "GET", storedHA1: ha1) == .ok)
        #expect(DigestVerifier.verify(creds, method: "POST", storedHA1: ha1) == .wrongResponse)
    }

    @Test("RFC 7616 §3.9.1 examples (MD5 and SHA-256)", arguments: [
        (DigestAlgorithm.md5, "8ca523f5e9506fed4657c9700eebdbec"),
        (DigestAlgorithm.sha256, "753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1"),
    ])
    func rfc7616Examples(algorithm: DigestAlgorithm, expected: String) throws {
        let nonce = "7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v"
        let cnonce = "f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ"
        let realm = "http-auth@example.org"
        let ha1 = DigestMath.ha1(algorithm: algorithm, username: "Mufasa", realm: realm, password: "Circle of Life")
        let response = DigestMath.response(
            algorithm, storedHA1: ha1, nonce: nonce, nonceCount: "00000001", cnonce: cnonce, qop: .auth,
            method: "GET", uri: "/dir/index.html")
        #expect(response == expected)

        let header = """
            Digest username="Mufasa", realm="http-auth@example.org", uri="/dir/index.html", \
            algorithm=\(algorithm.token), nonce="\(nonce)", nc=00000001, cnonce="\(cnonce)", qop=auth, \
            response="\(expected)", opaque="FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS"
            """
        let creds = try DigestCredentials.parse(header)
        #expect(creds.algorithm == algorithm)
        #expect(DigestVerifier.verify(creds, method: "GET", storedHA1: ha1) == .ok)
        #expect(DigestVerifier.verify(creds, method: "GET", storedHA1: ha1.uppercased()) == .ok)
    }

    struct SIPVector: Sendable, CustomTestStringConvertible {
        var algorithm: DigestAlgorithm
        var qop: DigestQop?
        var nc: String?
        var body: [UInt8]
        var response: String
        var testDescription: String { "\(algorithm.token) qop=\(qop?.token ?? "none") body=\(body.count)" }
    }

    // Computed independently (Python hashlib) for REGISTER sip:example.com, username alice@example.com,
    // realm example.com, password s3cr3t, nonce MTIzNDU2Nzg5MGFiY2RlZg, cnonce 0a4f113b.
    static let sipVectorTable: [SIPVector] = [
        .init(algorithm: .md5, qop: .auth, nc: "00000001", body: [], response: "58d06d98f20b08162c25c876f54e29b0"),
        .init(algorithm: .md5, qop: nil, nc: nil, body: [], response: "ee23d74917539f058e454ca031f8ffc1"),
        .init(algorithm: .md5, qop: .authInt, nc: "00000002", body: Array("v=0\r\n".utf8), response: "9695beb4f2a4566d28150c1f8aef0288"),
        .init(algorithm: .md5, qop: .authInt, nc: "00000001", body: [], response: "7f62b9c2e505de1d802dba7bbf79da61"),
        .init(algorithm: .md5Sess, qop: .auth, nc: "00000001", body: [], response: "0e9e9b1ef90d49020dc45cf9f6d58f48"),
        .init(algorithm: .md5Sess, qop: nil, nc: nil, body: [], response: "5397a286b540e9ba41da7e4a14e47f20"),
        .init(algorithm: .md5Sess, qop: .authInt, nc: "00000002", body: Array("v=0\r\n".utf8), response: "67b88d22550185c9f22ebc5e28fb9c04"),
        .init(algorithm: .md5Sess, qop: .authInt, nc: "00000001", body: [], response: "8123f2d178096fc4b4faac107c60da2c"),
        .init(algorithm: .sha256, qop: .auth, nc: "00000001", body: [], response: "613f2fa5ac107d8b5e263ae53ce08717671d620a9ab835b395e23a7d94632bea"),
        .init(algorithm: .sha256, qop: nil, nc: nil, body: [], response: "2bcaa584b7b36c262753635a4fe90dd8ef15e7479eb9a5d5099e7a416b34a603"),
        .init(algorithm: .sha256, qop: .authInt, nc: "00000002", body: Array("v=0\r\n".utf8), response: "1dad1b27ec94ab62664550148b02542a68c066ec27d43037a60e4555157f08e6"),
        .init(algorithm: .sha256, qop: .authInt, nc: "00000001", body: [], response: "76a453f866696f17151e321c3a557acf3333ba6cea43a2e4dadf5a2755c4472c"),
        .init(algorithm: .sha256Sess, qop: .auth, nc: "00000001", body: [], response: "5013cb8503d575f3bfcfb39d3444b3dfef7d44650f8e3a5ce21a8f158a205b87"),
        .init(algorithm: .sha256Sess, qop: nil, nc: nil, body: [], response: "9b7895cdf1139940fae87677ec937553e65b4029288f1a3680798b72f870b870"),
        .init(algorithm: .sha256Sess, qop: .authInt, nc: "00000002", body: Array("v=0\r\n".utf8), response: "98a2e8d0a5ad37dfc43788a3fdfc2f02af923f8ed893493ac86f3ae88b03d676"),
        .init(algorithm: .sha256Sess, qop: .authInt, nc: "00000001", body: [], response: "cb68b7244f7cea4c1f132fb4d557af7a7ea560c85e45f1d0c1c06b350a81c713"),
    ]

    @Test("SIP REGISTER vectors: MD5/SHA-256, -sess, auth, auth-int, no qop", arguments: DigestMathTests.sipVectorTable)
    func sipVectors(v: SIPVector) throws {
        let ha1 = DigestMath.ha1(algorithm: v.algorithm, username: "alice@example.com", realm: "example.com", password: "s3cr3t")
        #expect(ha1 == (v.algorithm.hashFunction == .md5
            ? "287386f6cceb24a7c27b7fbbaf8d617e"
            : "9fb81ce38eef59b22ad5632282b122c828986870f6a66b1c7bf40b2100d31c07"))
        let nonce = "MTIzNDU2Nzg5MGFiY2RlZg"
        let cnonce = v.qop == nil && !v.algorithm.isSession ? nil : "0a4f113b"
        let computed = DigestMath.response(
            v.algorithm, storedHA1: ha1, nonce: nonce, nonceCount: v.nc, cnonce: "0a4f113b", qop: v.qop,
            method: "REGISTER", uri: "sip:example.com", body: v.body)
        #expect(computed == v.response)

        var header = "Digest username=\"alice@example.com\", realm=\"example.com\", nonce=\"\(nonce)\", "
            + "uri=\"sip:example.com\", response=\"\(v.response)\", algorithm=\(v.algorithm.token)"
        if let cnonce { header += ", cnonce=\"\(cnonce)\"" }
        if let qop = v.qop, let nc = v.nc { header += ", qop=\(qop.token), nc=\(nc)" }
        let creds = try DigestCredentials.parse(header)
        #expect(DigestVerifier.verify(creds, method: "REGISTER", storedHA1: ha1, body: v.body) == .ok)
        // Any change of the authenticated inputs breaks it.
        #expect(DigestVerifier.verify(creds, method: "INVITE", storedHA1: ha1, body: v.body) == .wrongResponse)
        let otherHA1 = DigestMath.ha1(algorithm: v.algorithm, username: "alice@example.com", realm: "example.com", password: "s3cr3T")
        #expect(DigestVerifier.verify(creds, method: "REGISTER", storedHA1: otherHA1, body: v.body) == .wrongResponse)
        if v.qop == .authInt {
            #expect(DigestVerifier.verify(creds, method: "REGISTER", storedHA1: ha1, body: Array("v=1\r\n".utf8)) == .wrongResponse)
        }
        var tampered = creds
        tampered.uri = "sip:evil.example.com"
        #expect(DigestVerifier.verify(tampered, method: "REGISTER", storedHA1: ha1, body: v.body) == .wrongResponse)
    }

    @Test("H(\"\") for auth-int with empty body, hex is lower-case")
    func hashHelpers() {
        #expect(DigestHashFunction.md5.hexDigest([UInt8]()) == "d41d8cd98f00b204e9800998ecf8427e")
        #expect(DigestHashFunction.sha256.hexDigest("") == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        #expect(DigestHashFunction.md5.hexLength == 32)
        #expect(DigestHashFunction.sha256.hexLength == 64)
        #expect(DigestMath.nonceCountText(1) == "00000001")
        #expect(DigestMath.nonceCountText(0xABCDEF12) == "abcdef12")
    }

    @Test("-sess HA1 = H(HA1:nonce:cnonce)")
    func sessionHA1() {
        let ha1 = DigestMath.ha1(.md5, username: "u", realm: "r", password: "p")
        #expect(DigestMath.effectiveHA1(.md5, storedHA1: ha1, nonce: "n", cnonce: "c") == ha1)
        #expect(DigestMath.effectiveHA1(.md5Sess, storedHA1: ha1, nonce: "n", cnonce: "c")
            == DigestHashFunction.md5.hexDigest("\(ha1):n:c"))
        #expect(DigestMath.effectiveHA1(.sha256Sess, storedHA1: "AB", nonce: "n", cnonce: "c")
            == DigestHashFunction.sha256.hexDigest("ab:n:c"))
    }

    @Test("Algorithm and qop tokens are case-insensitive; unknown ones are nil")
    func tokens() {
        #expect(DigestAlgorithm(token: "md5") == .md5)
        #expect(DigestAlgorithm(token: "MD5-SESS") == .md5Sess)
        #expect(DigestAlgorithm(token: "sha-256") == .sha256)
        #expect(DigestAlgorithm(token: "SHA-256-Sess") == .sha256Sess)
        #expect(DigestAlgorithm(token: "SHA-512-256") == nil)
        #expect(DigestAlgorithm(token: "AKAv1-MD5") == nil)
        #expect(DigestAlgorithm(token: "") == nil)
        #expect(DigestQop(token: "AUTH") == .auth)
        #expect(DigestQop(token: "auth-int") == .authInt)
        #expect(DigestQop(token: "auth-conf") == nil)
        #expect(DigestAlgorithm.md5Sess.hashFunction == .md5)
        #expect(DigestAlgorithm.sha256Sess.hashFunction == .sha256)
    }

    @Test("Verifier: unsupported algorithm/qop, missing cnonce, bad stored HA1")
    func verifierEdges() throws {
        let ha1 = DigestMath.ha1(.md5, username: "u", realm: "r", password: "p")
        var c = DigestCredentials(username: "u", realm: "r", nonce: "n", uri: "sip:r", response: "00")
        c.algorithmName = "AKAv1-MD5"
        #expect(DigestVerifier.verify(c, method: "REGISTER", storedHA1: ha1) == .unsupportedAlgorithm)
        c.algorithmName = nil
        c.qopName = "auth-conf"
        c.cnonce = "x"
        c.nonceCountText = "00000001"
        #expect(DigestVerifier.verify(c, method: "REGISTER", storedHA1: ha1) == .unsupportedQop)

        // -sess without cnonce can never verify.
        let good = DigestMath.response(.md5Sess, storedHA1: ha1, nonce: "n", nonceCount: nil, cnonce: nil, qop: nil, method: "REGISTER", uri: "sip:r")
        let sess = DigestCredentials(username: "u", realm: "r", nonce: "n", uri: "sip:r", response: good, algorithm: .md5Sess)
        #expect(DigestVerifier.verify(sess, method: "REGISTER", storedHA1: ha1) == .wrongResponse)

        // Stored HA1 of the wrong length or not hex.
        let md5 = DigestMath.response(.md5, storedHA1: ha1, nonce: "n", nonceCount: nil, cnonce: nil, qop: nil, method: "REGISTER", uri: "sip:r")
        let plain = DigestCredentials(username: "u", realm: "r", nonce: "n", uri: "sip:r", response: md5)
        #expect(DigestVerifier.verify(plain, method: "REGISTER", storedHA1: ha1) == .ok)
        #expect(DigestVerifier.verify(plain, method: "REGISTER", storedHA1: "") == .wrongResponse)
        #expect(DigestVerifier.verify(plain, method: "REGISTER", storedHA1: String(repeating: "z", count: 32)) == .wrongResponse)
        let sha = DigestMath.ha1(.sha256, username: "u", realm: "r", password: "p")
        #expect(DigestVerifier.verify(plain, method: "REGISTER", storedHA1: sha) == .wrongResponse)
        // Upper-case response from the client is accepted.
        var upper = plain
        upper.response = md5.uppercased()
        #expect(DigestVerifier.verify(upper, method: "REGISTER", storedHA1: ha1) == .ok)
        // Truncated response is wrong.
        upper.response = String(md5.dropLast())
        #expect(DigestVerifier.verify(upper, method: "REGISTER", storedHA1: ha1) == .wrongResponse)
    }

    @Test("Constant-time comparison")
    func constantTime() {
        #expect(ConstantTime.equals("abc", "abc"))
        #expect(ConstantTime.equals("", ""))
        #expect(!ConstantTime.equals("abc", "abd"))
        #expect(!ConstantTime.equals("abc", "xbc"))
        #expect(!ConstantTime.equals("abc", "abcd"))
        #expect(!ConstantTime.equals("abcd", "abc"))
        #expect(!ConstantTime.equals("", "a"))
        #expect(ConstantTime.equals([UInt8](repeating: 7, count: 64), [UInt8](repeating: 7, count: 64)))
        var b = [UInt8](repeating: 7, count: 64)
        for i in 0..<64 {
            b[i] = 8
            #expect(!ConstantTime.equals([UInt8](repeating: 7, count: 64), b))
            b[i] = 7
        }
        // Every bit position matters (no early exit / no lossy accumulation).
        for bit in 0..<8 {
            #expect(!ConstantTime.equals([0x00], [UInt8(1) << UInt8(bit)]))
        }
    }
}
