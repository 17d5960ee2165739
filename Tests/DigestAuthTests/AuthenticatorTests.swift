import Testing
@testable import DigestAuth

/// A minimal UAC side, to drive the server end to end.
private func answer(
    _ challenge: DigestChallenge, username: String, password: String, method: String = "REGISTER",
    uri: String = "sip:ims.example.com", qop: DigestQop? = .auth, nc: UInt32 = 1, cnonce: String = "c0ffee",
    body: [UInt8] = [], echoOpaque: Bool = true
) -> String {
    let algorithm = challenge.algorithm ?? .md5
    let ha1 = DigestMath.ha1(algorithm: algorithm, username: username, realm: challenge.realm, password: password)
    let ncText = DigestMath.nonceCountText(nc)
    let usesCnonce = qop != nil || algorithm.isSession
    let response = DigestMath.response(
        algorithm, storedHA1: ha1, nonce: challenge.nonce, nonceCount: qop == nil ? nil : ncText,
        cnonce: usesCnonce ? cnonce : nil, qop: qop, method: method, uri: uri, body: body)
    let creds = DigestCredentials(
        username: username, realm: challenge.realm, nonce: challenge.nonce, uri: uri, response: response,
        algorithm: challenge.algorithmName == nil ? nil : algorithm, cnonce: usesCnonce ? cnonce : nil,
        opaque: echoOpaque ? challenge.opaque : nil, qop: qop, nonceCount: qop == nil ? nil : nc)
    return creds.serialized
}

@Suite("Authenticator, challenge builder, identities")
struct AuthenticatorTests {
    let realm = "ims.example.com"
    let t0: UInt64 = 1_700_000_000
    let impi = "alice@ims.example.com"
    let password = "secret"

    func makeAuth() throws -> DigestAuthenticator {
        DigestAuthenticator(nonces: try NonceManager(secret: testSecret))
    }

    func ha1(_ hash: DigestHashFunction) -> String {
        DigestMath.ha1(hash, username: impi, realm: realm, password: password)
    }

    @Test("Full REGISTER flow: 401 challenge, answer parsed from the wire, authenticated; then replay")
    func fullFlow() throws {
        var auth = try makeAuth()
        let challenges = auth.challenges(realm: realm, algorithms: [.md5], now: t0)
        #expect(challenges.count == 1)
        let wire = challenges[0].serialized
        #expect(wire.hasPrefix("Digest realm=\"ims.example.com\", nonce=\""))
        #expect(wire.hasSuffix("\", algorithm=MD5, qop=\"auth\""))
        let seen = try DigestChallenge.parse(wire)

        let header = answer(seen, username: impi, password: password)
        let creds = try DigestCredentials.parse(header)
        let hash = try #require(creds.algorithm).hashFunction
        #expect(auth.authenticate(creds, method: "REGISTER", storedHA1: ha1(hash), realm: realm, now: t0 + 1) == .authenticated)
        // Same nc again: replay.
        #expect(auth.authenticate(creds, method: "REGISTER", storedHA1: ha1(hash), realm: realm, now: t0 + 2) == .replay)
        // Next nc: fine.
        let next = try DigestCredentials.parse(answer(seen, username: impi, password: password, nc: 2))
        #expect(auth.authenticate(next, method: "REGISTER", storedHA1: ha1(hash), realm: realm, now: t0 + 3) == .authenticated)
    }

    @Test("Both algorithms offered SHA-256 first; client answers either", arguments: [DigestAlgorithm.sha256, .md5])
    func twoAlgorithms(pick: DigestAlgorithm) throws {
        var auth = try makeAuth()
        let challenges = auth.challenges(realm: realm, algorithms: [.md5, .sha256, .md5], now: t0)
        #expect(challenges.map(\.algorithm) == [.sha256, .md5])
        #expect(challenges[0].nonce == challenges[1].nonce)
        #expect(challenges[0].serialized.contains("algorithm=SHA-256"))
        let chosen = try #require(challenges.first { $0.algorithm == pick })
        let creds = try DigestCredentials.parse(answer(chosen, username: impi, password: password))
        #expect(creds.algorithm == pick)
        #expect(auth.authenticate(creds, method: "REGISTER", storedHA1: ha1(pick.hashFunction), realm: realm, now: t0) == .authenticated)
    }

    @Test("Challenge builder ordering and stale flag")
    func builder() {
        let all = DigestChallenge.challenges(
            realm: "r", nonce: "n", opaque: "o", algorithms: [.md5Sess, .md5, .sha256Sess, .sha256], stale: true)
        #expect(all.map(\.algorithm) == [.sha256, .sha256Sess, .md5, .md5Sess])
        #expect(all.allSatisfy { $0.stale && $0.opaque == "o" && $0.qop == [.auth] })
        #expect(all[0].serialized == #"Digest realm="r", nonce="n", opaque="o", algorithm=SHA-256, qop="auth", stale=true"#)
        #expect(DigestChallenge.challenges(realm: "r", nonce: "n", opaque: nil, algorithms: []).isEmpty)
    }

    @Test("Wrong password, wrong user's HA1, tampered uri → wrongResponse")
    func wrong() throws {
        var auth = try makeAuth()
        let c = auth.challenges(realm: realm, now: t0)[0]
        let bad = try DigestCredentials.parse(answer(c, username: impi, password: "nope"))
        #expect(auth.authenticate(bad, method: "REGISTER", storedHA1: ha1(.md5), realm: realm, now: t0) == .wrongResponse)
        let good = try DigestCredentials.parse(answer(c, username: impi, password: password))
        let otherHA1 = DigestMath.ha1(.md5, username: "bob@ims.example.com", realm: realm, password: password)
        #expect(auth.authenticate(good, method: "REGISTER", storedHA1: otherHA1, realm: realm, now: t0) == .wrongResponse)
        var tampered = good
        tampered.uri = "sip:other.example.com"
        #expect(auth.authenticate(tampered, method: "REGISTER", storedHA1: ha1(.md5), realm: realm, now: t0) == .wrongResponse)
        // Failed attempts did not burn the nonce count.
        #expect(auth.authenticate(good, method: "REGISTER", storedHA1: ha1(.md5), realm: realm, now: t0) == .authenticated)
    }

    @Test("Expired nonce with right response → staleNonce; with wrong response → wrongResponse")
    func stale() throws {
        var auth = try makeAuth()
        let c = auth.challenges(realm: realm, now: t0)[0]
        let good = try DigestCredentials.parse(answer(c, username: impi, password: password))
        #expect(auth.authenticate(good, method: "REGISTER", storedHA1: ha1(.md5), realm: realm, now: t0 + 301) == .staleNonce)
        let bad = try DigestCredentials.parse(answer(c, username: impi, password: "x"))
        #expect(auth.authenticate(bad, method: "REGISTER", storedHA1: ha1(.md5), realm: realm, now: t0 + 301) == .wrongResponse)
        // The registrar then re-challenges with stale=true.
        let again = auth.challenges(realm: realm, stale: true, now: t0 + 301)
        #expect(again[0].serialized.hasSuffix("stale=true"))
        #expect(again[0].nonce != c.nonce)
    }

    @Test("Forged nonce, foreign opaque, other realm")
    func invalid() throws {
        var auth = try makeAuth()
        var c = auth.challenges(realm: realm, now: t0)[0]
        let forged = DigestChallenge(realm: realm, nonce: "dcd98b7102dd2f0e8b11d0f600bfb0c093", opaque: c.opaque)
        let f = try DigestCredentials.parse(answer(forged, username: impi, password: password))
        #expect(auth.authenticate(f, method: "REGISTER", storedHA1: ha1(.md5), realm: realm, now: t0) == .invalidNonce)

        c.opaque = "5ccc069c403ebaf9f0171e9517f40e41"
        let o = try DigestCredentials.parse(answer(c, username: impi, password: password))
        #expect(auth.authenticate(o, method: "REGISTER", storedHA1: ha1(.md5), realm: realm, now: t0) == .invalidNonce)
        // A client that drops opaque is tolerated.
        let noOpaque = try DigestCredentials.parse(answer(c, username: impi, password: password, echoOpaque: false))
        #expect(auth.authenticate(noOpaque, method: "REGISTER", storedHA1: ha1(.md5), realm: realm, now: t0) == .authenticated)

        let elsewhere = auth.challenges(realm: "other.example.com", now: t0)[0]
        let e = try DigestCredentials.parse(answer(elsewhere, username: impi, password: password))
        #expect(auth.authenticate(e, method: "REGISTER", storedHA1: ha1(.md5), realm: realm, now: t0) == .realmMismatch)
        // Realm text matched but nonce minted for another realm.
        var moved = e
        moved.realm = realm
        moved.opaque = nil
        #expect(auth.authenticate(moved, method: "REGISTER", storedHA1: ha1(.md5), realm: realm, now: t0) == .invalidNonce)
    }

    @Test("Unsupported algorithm/qop, qop required")
    func unsupported() throws {
        var auth = try makeAuth()
        let c = auth.challenges(realm: realm, now: t0)[0]
        var creds = try DigestCredentials.parse(answer(c, username: impi, password: password))
        creds.algorithmName = "AKAv1-MD5"
        #expect(auth.authenticate(creds, method: "REGISTER", storedHA1: ha1(.md5), realm: realm, now: t0) == .unsupportedAlgorithm)
        creds.algorithmName = nil
        creds.qopName = "auth-conf"
        #expect(auth.authenticate(creds, method: "REGISTER", storedHA1: ha1(.md5), realm: realm, now: t0) == .unsupportedQop)

        let rfc2069 = try DigestCredentials.parse(answer(c, username: impi, password: password, qop: nil))
        var strict = try makeAuth()
        strict.requireQop = true
        #expect(strict.authenticate(rfc2069, method: "REGISTER", storedHA1: ha1(.md5), realm: realm, now: t0) == .qopRequired)
    }

    @Test("RFC 2069 client (no qop): accepted once per nonce")
    func noQop() throws {
        var auth = try makeAuth()
        let c = auth.challenges(realm: realm, now: t0)[0]
        let creds = try DigestCredentials.parse(answer(c, username: impi, password: password, qop: nil))
        #expect(creds.qop == nil && creds.nonceCount == nil && creds.cnonce == nil)
        #expect(auth.authenticate(creds, method: "REGISTER", storedHA1: ha1(.md5), realm: realm, now: t0) == .authenticated)
        #expect(auth.authenticate(creds, method: "REGISTER", storedHA1: ha1(.md5), realm: realm, now: t0) == .replay)
    }

    @Test("auth-int and -sess end to end", arguments: [DigestAlgorithm.md5Sess, .sha256Sess, .md5, .sha256])
    func authIntSess(algorithm: DigestAlgorithm) throws {
        var auth = try makeAuth()
        let c = auth.challenges(realm: realm, algorithms: [algorithm], qop: [.auth, .authInt], now: t0)[0]
        #expect(c.serialized.contains(#"qop="auth,auth-int""#))
        let body = Array("<xml>register</xml>".utf8)
        let creds = try DigestCredentials.parse(answer(c, username: impi, password: password, qop: .authInt, body: body))
        #expect(creds.qop == .authInt)
        let stored = ha1(algorithm.hashFunction)
        #expect(auth.authenticate(creds, method: "REGISTER", storedHA1: stored, realm: realm, body: Array("<xml>evil</xml>".utf8), now: t0) == .wrongResponse)
        #expect(auth.authenticate(creds, method: "REGISTER", storedHA1: stored, realm: realm, body: body, now: t0) == .authenticated)
    }

    @Test("Binding: a nonce issued for one AOR does not work for another")
    func binding() throws {
        var auth = try makeAuth()
        let aor = Array("sip:alice@ims.example.com".utf8)
        let c = auth.challenges(realm: realm, now: t0, binding: aor)[0]
        let creds = try DigestCredentials.parse(answer(c, username: impi, password: password))
        #expect(auth.authenticate(creds, method: "REGISTER", storedHA1: ha1(.md5), realm: realm, now: t0, binding: Array("sip:mallory@ims.example.com".utf8)) == .invalidNonce)
        #expect(auth.authenticate(creds, method: "REGISTER", storedHA1: ha1(.md5), realm: realm, now: t0, binding: aor) == .authenticated)
    }

    @Test("Restart: nonce from before still works with the same secret (default), or is stale with notBefore")
    func restart() throws {
        let before = try makeAuth()
        let c = before.challenges(realm: realm, now: t0)[0]
        let creds = try DigestCredentials.parse(answer(c, username: impi, password: password))
        var lenient = try makeAuth()
        #expect(lenient.authenticate(creds, method: "REGISTER", storedHA1: ha1(.md5), realm: realm, now: t0 + 60) == .authenticated)
        var strict = DigestAuthenticator(
            nonces: try NonceManager(secret: testSecret), tracker: NonceCountTracker(notBefore: t0 + 50))
        #expect(strict.authenticate(creds, method: "REGISTER", storedHA1: ha1(.md5), realm: realm, now: t0 + 60) == .replay)
    }

    @Test("IMPI candidates from the username")
    func identities() {
        #expect(DigestIdentity.impiCandidates(username: "alice@ims.example.com", homeDomain: "ims.example.com") == ["alice@ims.example.com"])
        #expect(DigestIdentity.impiCandidates(username: "alice", homeDomain: "ims.example.com") == ["alice@ims.example.com"])
        #expect(DigestIdentity.impiCandidates(username: "alice", homeDomain: " ims.example.com ") == ["alice@ims.example.com"])
        #expect(DigestIdentity.impiCandidates(username: "alice@other.net", homeDomain: "ims.example.com") == ["alice@other.net"])
        #expect(DigestIdentity.impiCandidates(username: "Alice@IMS.Example.com", homeDomain: "ims.example.com")
            == ["Alice@IMS.Example.com", "Alice@ims.example.com"])
        #expect(DigestIdentity.impiCandidates(username: "001010000000001@ims.mnc001.mcc001.3gppnetwork.org", homeDomain: "x")
            == ["001010000000001@ims.mnc001.mcc001.3gppnetwork.org"])
        #expect(DigestIdentity.impiCandidates(username: "", homeDomain: "ims.example.com").isEmpty)
        // "@\u{0301}" is one Character, which `lastIndex(of: "@")` did not find (the username became
        // "alice@\u{0301}Example.com@ims.example.com"); the "@" byte splits user and domain.
        #expect(DigestIdentity.impiCandidates(username: "alice@\u{0301}Example.com", homeDomain: "ims.example.com").map { Array($0.utf8) }
            == [Array("alice@\u{0301}Example.com".utf8), Array("alice@\u{0301}example.com".utf8)])
        #expect(DigestIdentity.impiCandidates(username: "alice", homeDomain: "") == ["alice"])
        #expect(DigestIdentity.impiCandidates(username: String(repeating: "a", count: 600), homeDomain: "d").isEmpty)
    }
}
