// libFuzzer harness for DigestAuth's header parsers and nonce validation. Built normally it is an
// executable that does nothing; built with `--sanitize=fuzzer` libFuzzer supplies `main` and calls
// `LLVMFuzzerTestOneInput` for every input. Besides "never crash", it checks that whatever parses
// serializes to text that parses back equal, and traps (a finding) when that breaks.
import DigestAuth

let fuzzNonces = try! NonceManager(secret: Array("cw-aio fuzz secret 0123456789abcdef".utf8),
                                   previousSecrets: [Array("an older fuzz secret, rotated".utf8)])

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    DigestFuzzChecks.generic(bytes)
    let text = String(decoding: bytes, as: UTF8.self)
    DigestFuzzChecks.challenge(text)
    DigestFuzzChecks.credentials(text)
    DigestFuzzChecks.nonce(text)
    return 0
}

enum DigestFuzzChecks {
    static func generic(_ bytes: [UInt8]) {
        let value: AuthHeaderValue
        do {
            value = try AuthHeaderValue.parse(bytes: bytes)
        } catch {
            for kind in AuthHeaderKind.allCases { _ = error.reasonPhrase(for: kind) }
            _ = error.description
            return
        }
        _ = (value.isDigest, value["realm"], value["nonce"], value.description)
        let wire = value.serialized
        let again: AuthHeaderValue
        do {
            again = try AuthHeaderValue.parse(wire)
        } catch {
            fatalError("re-parse of serialized auth value failed: \(error) for \(wire)")
        }
        // Bare values that are not tokens (`uri=sip:a@b`) are accepted but written quoted, so `isQuoted`
        // may change once; everything else must survive, and the second serialization is a fixed point.
        guard unquoted(again) == unquoted(value) else { fatalError("auth value round trip changed: \(value) -> \(again)") }
        guard again.serialized == wire else { fatalError("auth value serialization not a fixed point: \(wire) -> \(again.serialized)") }
        // Typed views of the same value must agree with the text entry points.
        if let c = try? DigestChallenge(value) { check(c) }
        if let c = try? DigestCredentials(value) { check(c) }
    }

    static func challenge(_ text: String) {
        guard let c = try? DigestChallenge.parse(text) else { return }
        check(c)
    }

    static func check(_ c: DigestChallenge) {
        _ = (c.algorithm, c.qop, c.description, c.headerValue)
        let wire = c.serialized
        guard let back = try? DigestChallenge.parse(wire) else { fatalError("challenge re-parse failed: \(wire)") }
        guard unquoted(back) == unquoted(c) else { fatalError("challenge round trip changed: \(c) -> \(back)") }
        guard back.serialized == wire else { fatalError("challenge serialization not a fixed point: \(wire) -> \(back.serialized)") }
        _ = fuzzNonces.validate(c.nonce, realm: c.realm, now: 1_800_000_000)
        if let o = c.opaque { _ = fuzzNonces.isValidOpaque(o, realm: c.realm) }
    }

    static func credentials(_ text: String) {
        guard let c = try? DigestCredentials.parse(text) else { return }
        check(c)
    }

    static func check(_ c: DigestCredentials) {
        _ = (c.algorithm, c.qop, c.nonceCount, c.description, c.headerValue)
        let wire = c.serialized
        guard let back = try? DigestCredentials.parse(wire) else { fatalError("credentials re-parse failed: \(wire)") }
        guard unquoted(back) == unquoted(c) else { fatalError("credentials round trip changed: \(c) -> \(back)") }
        guard back.serialized == wire else { fatalError("credentials serialization not a fixed point: \(wire) -> \(back.serialized)") }
        _ = fuzzNonces.validate(c.nonce, realm: c.realm, now: 1_800_000_000, binding: Array(c.username.utf8))
        if let o = c.opaque { _ = fuzzNonces.isValidOpaque(o, realm: c.realm) }
    }

    static func unquoted(_ ps: [AuthParameter]) -> [AuthParameter] {
        ps.map { AuthParameter(name: $0.name, value: $0.value, isQuoted: false) }
    }
    static func unquoted(_ v: AuthHeaderValue) -> AuthHeaderValue {
        var v = v; v.parameters = unquoted(v.parameters); return v
    }
    static func unquoted(_ c: DigestChallenge) -> DigestChallenge {
        var c = c; c.extensionParameters = unquoted(c.extensionParameters); return c
    }
    static func unquoted(_ c: DigestCredentials) -> DigestCredentials {
        var c = c; c.extensionParameters = unquoted(c.extensionParameters); return c
    }

    static func nonce(_ text: String) {
        // Arbitrary nonce text; also the text split at the first newline into nonce and realm.
        let parts = text.split(separator: "\n", maxSplits: 1, omittingEmptySubsequences: false)
        let nonce = String(parts[0])
        let realm = parts.count > 1 ? String(parts[1]) : "ims.example.org"
        for now: UInt64 in [0, 1_800_000_000, UInt64.max] {
            switch fuzzNonces.validate(nonce, realm: realm, now: now) {
            case .valid, .stale:
                // Forging a nonce without the secret would be a finding.
                fatalError("fuzzer produced an accepted nonce: \(nonce)")
            case .invalid: break
            }
        }
        _ = fuzzNonces.isValidOpaque(nonce, realm: realm)
        // A freshly issued nonce for this (arbitrary) realm must validate.
        let issued = fuzzNonces.issue(realm: realm, now: 1_800_000_000)
        guard case .valid = fuzzNonces.validate(issued, realm: realm, now: 1_800_000_000) else {
            fatalError("issued nonce did not validate for realm \(realm)")
        }
    }
}
