import Testing
@testable import DigestAuth

@Suite("Header parsing and serialising")
struct ParsingTests {
    static let base = #"username="bob", realm="example.com", nonce="abc", uri="sip:example.com", response="0123456789abcdef0123456789abcdef""#

    @Test("Minimal credentials, scheme case-insensitive")
    func minimal() throws {
        for scheme in ["Digest", "digest", "DIGEST", "dIgEsT"] {
            let c = try DigestCredentials.parse("\(scheme) \(Self.base)")
            #expect(c.username == "bob")
            #expect(c.realm == "example.com")
            #expect(c.nonce == "abc")
            #expect(c.uri == "sip:example.com")
            #expect(c.response == "0123456789abcdef0123456789abcdef")
            #expect(c.algorithmName == nil)
            #expect(c.algorithm == .md5)
            #expect(c.qop == nil)
            #expect(c.nonceCount == nil)
        }
    }

    @Test("LWS: spaces, tabs, folded lines around = and , and at both ends")
    func lws() throws {
        let text = "  \tDigest \t username \t=\t \"bob\"\r\n  ,\r\n\trealm=\r\n \"example.com\" ,nonce= \"abc\",uri =\"sip:example.com\" ,   response\n =\n \"0123456789abcdef0123456789abcdef\" , qop = auth , nc = 00000001 , cnonce = \"x y\"  \r\n"
        let c = try DigestCredentials.parse(text)
        #expect(c.username == "bob")
        #expect(c.realm == "example.com")
        #expect(c.qop == .auth)
        #expect(c.nonceCount == 1)
        #expect(c.cnonce == "x y")
    }

    @Test("Quoted strings: escapes, folding inside, UTF-8, empty")
    func quotedStrings() throws {
        let v = try AuthHeaderValue.parse(#"Digest username="a\"b\\c\d", realm="Jos\#u{e9} caf\#u{e9}", nonce="", x="line\#r\#n  two""#)
        #expect(v["username"] == #"a"b\cd"#)
        #expect(v["realm"] == "Jos\u{e9} caf\u{e9}")
        #expect(v["nonce"] == "")
        #expect(v["x"] == "line two")
        #expect(try AuthHeaderValue.parse("Digest realm=\"a\tb c\"")["realm"] == "a\tb c")
        #expect(v.parameter("USERNAME")?.isQuoted == true)
        // Round trip through the serialiser.
        let again = try AuthHeaderValue.parse(v.serialized)
        #expect(again == v)
        #expect(v.serialized.contains(#"username="a\"b\\cd""#))
    }

    @Test("Unquoted values accepted where the grammar wants quotes, and vice versa")
    func unquoted() throws {
        let c = try DigestCredentials.parse(#"Digest username=bob, realm=example.com, nonce=YWJj-_.~, uri=sip:bob@example.com, response=0123456789abcdef0123456789abcdef, qop="auth", nc=00000001, cnonce=c1, algorithm="MD5""#)
        #expect(c.username == "bob")
        #expect(c.uri == "sip:bob@example.com")
        #expect(c.nonce == "YWJj-_.~")
        #expect(c.qop == .auth)
        #expect(c.algorithm == .md5)
        #expect(c.cnonce == "c1")
    }

    @Test("Missing required parameters", arguments: ["username", "realm", "nonce", "uri", "response"])
    func missing(name: String) {
        let params = [
            ("username", #""bob""#), ("realm", #""example.com""#), ("nonce", #""abc""#), ("uri", #""sip:example.com""#),
            ("response", #""0123456789abcdef0123456789abcdef""#),
        ].filter { $0.0 != name }.map { "\($0.0)=\($0.1)" }.joined(separator: ", ")
        #expect(credentialsError("Digest " + params) == .missingParameter(name))
    }

    @Test("qop requires cnonce and nc; nc must be hex of at most 8 digits")
    func qopDependencies() {
        #expect(credentialsError("Digest \(Self.base), qop=auth, nc=00000001") == .missingParameter("cnonce"))
        #expect(credentialsError("Digest \(Self.base), qop=auth, cnonce=\"c\"") == .missingParameter("nc"))
        #expect(credentialsError("Digest \(Self.base), qop=auth, cnonce=\"c\", nc=0000000g") == .invalidParameter("nc"))
        #expect(credentialsError("Digest \(Self.base), qop=auth, cnonce=\"c\", nc=000000001") == .invalidParameter("nc"))
        #expect(credentialsError("Digest \(Self.base), qop=auth, cnonce=\"c\", nc=\"\"") == .invalidParameter("nc"))
        #expect(credentialsError("Digest \(Self.base), qop=\"auth int\", cnonce=\"c\", nc=1") == .invalidParameter("qop"))
        #expect(credentialsError("Digest \(Self.base), algorithm=\"MD 5\"") == .invalidParameter("algorithm"))
        #expect(credentialsError(#"Digest username="bob", realm="r", nonce="n", uri="u", response="xyz""#) == .invalidParameter("response"))
        #expect(credentialsError(#"Digest username="bob", realm="r", nonce="n", uri="u", response="""#) == .invalidParameter("response"))
        #expect(credentialsError("Digest \(Self.base), qop=auth, cnonce=\"c\", nc=1") == nil)
    }

    @Test("Duplicate parameters are an error, names compared case-insensitively")
    func duplicates() {
        #expect(credentialsError("Digest \(Self.base), realm=\"other\"") == .duplicateParameter("realm"))
        #expect(credentialsError("Digest \(Self.base), NONCE=x") == .duplicateParameter("nonce"))
        #expect(parseError("Foo a=1, b=2, A=3") == .duplicateParameter("a"))
        #expect(challengeError(#"Digest realm="a", nonce="b", stale=true, Stale=false"#) == .duplicateParameter("stale"))
    }

    @Test("Unknown parameters are kept, in order, and serialised")
    func unknownKept() throws {
        let c = try DigestCredentials.parse("Digest \(Self.base), integrity-protected=\"no\", x-foo=bar, userhash=false")
        #expect(c.extensionParameters.map(\.name) == ["integrity-protected", "x-foo", "userhash"])
        #expect(c.extensionParameters[0] == AuthParameter(name: "integrity-protected", value: "no", isQuoted: true))
        #expect(c.extensionParameters[1] == AuthParameter(name: "x-foo", value: "bar", isQuoted: false))
        let s = c.serialized
        #expect(s.hasSuffix(#"integrity-protected="no", x-foo=bar, userhash=false"#))
        #expect(try DigestCredentials.parse(s) == c)
    }

    @Test("Unsupported algorithm and qop parse but surface as nil")
    func unsupportedTokens() throws {
        let c = try DigestCredentials.parse("Digest \(Self.base), algorithm=AKAv1-MD5, qop=auth-conf, cnonce=\"c\", nc=00000001")
        #expect(c.algorithmName == "AKAv1-MD5")
        #expect(c.algorithm == nil)
        #expect(c.qopName == "auth-conf")
        #expect(c.qop == nil)
    }

    @Test("Malformed values give typed errors", arguments: [
        ("", AuthParseError.empty),
        ("   \t ", .empty),
        ("\"Digest\" realm=\"a\"", .invalidScheme),
        ("=realm", .invalidScheme),
        ("Digest,realm=\"a\"", .missingWhitespaceAfterScheme),
        ("Digest\"realm\"", .missingWhitespaceAfterScheme),
        ("Digest realm", .expectedEquals),
        ("Digest realm \"a\"", .expectedEquals),
        ("Digest realm=", .missingValue),
        ("Digest realm=  ,nonce=\"a\"", .missingValue),
        ("Digest realm=\"abc", .unterminatedQuotedString),
        ("Digest realm=\"abc\\", .unterminatedQuotedString),
        ("Digest realm=\"a\" nonce=\"b\"", .expectedComma),
        ("Digest realm=a b", .expectedComma),
        ("Digest realm=\"a\"\"b\"", .expectedComma),
        ("Digest =\"a\"", .expectedParameterName),
        ("Digest realm=\"a\", =b", .expectedParameterName),
        ("Digest r@alm=\"a\"", .expectedEquals),
        ("Digest realm=\"a\rb\"", .invalidCharacter),
        ("Digest realm=\"a\nb\"", .invalidCharacter),
        ("Digest realm=\"a\u{0}b\"", .invalidCharacter),
        ("Digest realm=\"a\u{7F}b\"", .invalidCharacter),
        ("Digest realm=\"a\\\u{1}\"", .invalidCharacter),
        ("Digest realm=\"a\"\r\nnonce=\"b\"", .invalidCharacter),
        ("Digest realm=\"a\"\r, nonce=\"b\"", .invalidCharacter),
        ("Digest realm=a\u{7f}", .expectedComma),
        ("Digest realm=\u{e9}", .invalidCharacter),
        ("Digest realm=\\a", .invalidCharacter),
    ])
    func malformed(text: String, error: AuthParseError) {
        #expect(parseError(text) == error)
    }

    @Test("Errors give short reason phrases")
    func reasons() {
        #expect(AuthParseError.empty.reasonPhrase(for: .authorization) == "Malformed Authorization header")
        #expect(AuthParseError.tooLong.reasonPhrase(for: .proxyAuthorization) == "Malformed Proxy-Authorization header")
        #expect(AuthParseError.duplicateParameter("nonce").reason == "duplicate parameter nonce")
        #expect(AuthParseError.missingParameter("uri").description == "missing parameter uri")
        #expect(AuthHeaderKind.wwwAuthenticate.headerName == "WWW-Authenticate")
        #expect(AuthHeaderKind.proxyAuthenticate.headerName == "Proxy-Authenticate")
        let all: [AuthParseError] = [
            .empty, .tooLong, .tooManyParameters, .invalidScheme, .notDigest, .missingWhitespaceAfterScheme,
            .expectedParameterName, .expectedEquals, .missingValue, .unterminatedQuotedString, .invalidCharacter,
            .valueTooLong, .expectedComma, .invalidUTF8, .duplicateParameter("a"), .missingParameter("b"),
            .invalidParameter("c"),
        ]
        for e in all {
            #expect(!e.reason.isEmpty && e.reason.utf8.count < 64)
            #expect(e.reason.utf8.allSatisfy { $0 >= 0x20 && $0 < 0x7F })
        }
    }

    @Test("Empty list elements are tolerated")
    func emptyElements() throws {
        let v = try AuthHeaderValue.parse("Digest , realm=\"a\",, ,nonce=\"b\",")
        #expect(v.parameters.map(\.name) == ["realm", "nonce"])
    }

    @Test("Size bounds: huge header, huge value, too many parameters, long names")
    func bounds() {
        let huge = "Digest realm=\"" + String(repeating: "a", count: 10_000_000) + "\""
        #expect(parseError(huge) == .tooLong)
        #expect(parseError("Digest realm=\"" + String(repeating: "a", count: 3000) + "\"") == .valueTooLong)
        #expect(parseError("Digest realm=" + String(repeating: "a", count: 3000)) == .valueTooLong)
        let many = (0..<40).map { "p\($0)=\($0)" }.joined(separator: ", ")
        #expect(parseError("Digest " + many) == .tooManyParameters)
        #expect(parseError("Digest " + String(repeating: "n", count: 65) + "=1") == .expectedParameterName)
        #expect(parseError(String(repeating: "S", count: 65) + " a=1") == .invalidScheme)
        let tight = AuthParseLimits(maxLength: 20, maxParameters: 1, maxValueLength: 3)
        #expect(parseError("Digest a=1, b=2", limits: tight) == .tooManyParameters)
        #expect(parseError("Digest a=\"1234\"", limits: tight) == .valueTooLong)
        #expect(parseError("Digest a=\"123\", b=\"1\"", limits: tight) == .tooLong)
        #expect(parseError("Digest a=\"123\"", limits: tight) == nil)
        // Many unterminated quotes / backslashes stay linear and fail cleanly.
        #expect(parseError("Digest a=\"" + String(repeating: "\\\"", count: 3000)) == .valueTooLong)
        #expect(parseError("Digest a=\"" + String(repeating: "\\\"", count: 1000)) == .unterminatedQuotedString)
    }

    @Test("Raw bytes: invalid UTF-8 refused, valid parsed")
    func bytes() throws {
        #expect(throws: AuthParseError.invalidUTF8) {
            try AuthHeaderValue.parse(bytes: Array("Digest realm=\"".utf8) + [0xC3, 0x28] + Array("\"".utf8))
        }
        let v = try AuthHeaderValue.parse(bytes: Array("Digest realm=\"\u{e9}\"".utf8))
        #expect(v["realm"] == "\u{e9}")
        #expect(throws: AuthParseError.tooLong) {
            try AuthHeaderValue.parse(bytes: [UInt8](repeating: 0x41, count: 9000))
        }
    }

    @Test("Random garbage never crashes")
    func fuzz() {
        var rng = SeededGenerator(seed: 42)
        let alphabet: [UInt8] = Array("Digest realm=nonce\"\\,= \t\r\nabc@:;\u{7f}".utf8) + [0x00, 0xC3, 0xA9, 0xFF]
        var accepted = 0
        for i in 0..<20_000 {
            let length = Int(rng.next() % 80)
            var bytes: [UInt8] = i % 2 == 0 ? Array("Digest ".utf8) : []
            for _ in 0..<length {
                bytes.append(alphabet[Int(rng.next() % UInt64(alphabet.count))])
            }
            if let v = try? AuthHeaderValue.parse(bytes: bytes) {
                accepted += 1
                // Whatever parses must serialise to something that parses to the same value.
                let again = try? AuthHeaderValue.parse(v.serialized)
                #expect(again?.parameters.map(\.value) == v.parameters.map(\.value))
                #expect(!v.serialized.utf8.contains(0x0D) && !v.serialized.utf8.contains(0x0A))
            }
            _ = try? DigestCredentials(AuthHeaderValue.parse(bytes: bytes))
            _ = try? DigestChallenge(AuthHeaderValue.parse(bytes: bytes))
        }
        #expect(accepted > 0)
    }

    @Test("Non-Digest schemes are parsed generically")
    func otherSchemes() throws {
        let basic = try AuthHeaderValue.parse("Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ==")
        #expect(basic.scheme == "Basic")
        #expect(!basic.isDigest)
        #expect(basic.token68 == "QWxhZGRpbjpvcGVuIHNlc2FtZQ==")
        #expect(basic.parameters.isEmpty)
        #expect(basic.serialized == "Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ==")

        let bare = try AuthHeaderValue.parse("Negotiate")
        #expect(bare.scheme == "Negotiate" && bare.token68 == nil && bare.parameters.isEmpty)

        let custom = try AuthHeaderValue.parse(#"Foo realm="x y", b=2"#)
        #expect(custom.scheme == "Foo")
        #expect(custom.token68 == nil)
        #expect(custom["realm"] == "x y")
        #expect(custom["B"] == "2")
        #expect(custom.serialized == #"Foo realm="x y", b=2"#)

        let t68param = try AuthHeaderValue.parse("Foo abc=")
        #expect(t68param.token68 == "abc=")

        #expect(credentialsError("Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ==") == .notDigest)
        #expect(challengeError(#"Foo realm="x""#) == .notDigest)
        // Digest never takes a token68.
        #expect(parseError("Digest abc") == .expectedEquals)
    }

    @Test("Challenge: RFC 7616 example parses; qop list, stale, domain, unknown params")
    func challengeParse() throws {
        let text = """
            Digest\r\n    realm="http-auth@example.org",\r\n    qop="auth, auth-int",\r\n    algorithm=SHA-256,\r\n \
               nonce="7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v",\r\n    opaque="FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS"
            """
        let c = try DigestChallenge.parse(text)
        #expect(c.realm == "http-auth@example.org")
        #expect(c.qopOptions == ["auth", "auth-int"])
        #expect(c.qop == [.auth, .authInt])
        #expect(c.algorithm == .sha256)
        #expect(c.nonce == "7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v")
        #expect(c.opaque == "FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS")
        #expect(!c.stale)

        let s = try DigestChallenge.parse(#"digest REALM="r", Nonce="n", stale=TRUE, domain="sip:a sip:b", charset=UTF-8"#)
        #expect(s.stale)
        #expect(s.algorithm == .md5)
        #expect(s.algorithmName == nil)
        #expect(s.domain == "sip:a sip:b")
        #expect(s.extensionParameters == [AuthParameter(name: "charset", value: "UTF-8", isQuoted: false)])
        #expect(try DigestChallenge.parse(#"Digest realm="r", nonce="n", stale=false"#).stale == false)

        #expect(challengeError(#"Digest realm="r""#) == .missingParameter("nonce"))
        #expect(challengeError(#"Digest nonce="n""#) == .missingParameter("realm"))
        #expect(challengeError(#"Digest realm="r", nonce="n", stale=maybe"#) == .invalidParameter("stale"))
        #expect(challengeError(#"Digest realm="r", nonce="n", qop=" , ""#) == .invalidParameter("qop"))
    }

    @Test("Challenge qop list is cut at comma bytes")
    func challengeQopSplitsOnBytes() throws {
        #expect(try DigestChallenge.parse(#"Digest realm="r", nonce="n", qop="auth,auth-int""#).qopOptions == ["auth", "auth-int"])
        #expect(try DigestChallenge.parse(#"Digest realm="r", nonce="n", qop=" auth ,, auth-int , ""#).qopOptions == ["auth", "auth-int"])
        // ",\u{0301}" is one Character: `String.split` saw one option. Cut at the "," byte there are two, and
        // the second ("\u{0301}auth-int") is no token, so the list is still refused, now for the right reason.
        #expect(AuthGrammar.split("auth,\u{0301}auth-int", on: UInt8(ascii: ",")).map { Array($0.utf8) }
            == [Array("auth".utf8), Array("\u{0301}auth-int".utf8)])
        #expect(AuthGrammar.split(",a,,b,", on: UInt8(ascii: ",")) == ["a", "b"])
        #expect(AuthGrammar.split("", on: UInt8(ascii: ",")).isEmpty)
        #expect(challengeError("Digest realm=\"r\", nonce=\"n\", qop=\"auth,\u{0301}auth-int\"") == .invalidParameter("qop"))
    }

    @Test("Challenge serialisation: exact form, stale, SHA-256, no qop")
    func challengeSerialize() throws {
        let c = DigestChallenge(realm: "ims.example.com", nonce: "N1", opaque: "O1", algorithm: .md5, qop: [.auth])
        #expect(c.serialized == #"Digest realm="ims.example.com", nonce="N1", opaque="O1", algorithm=MD5, qop="auth""#)
        var stale = c
        stale.stale = true
        #expect(stale.serialized == #"Digest realm="ims.example.com", nonce="N1", opaque="O1", algorithm=MD5, qop="auth", stale=true"#)
        let sha = DigestChallenge(realm: "r", nonce: "n", opaque: nil, algorithm: .sha256, qop: [.auth, .authInt])
        #expect(sha.serialized == #"Digest realm="r", nonce="n", algorithm=SHA-256, qop="auth,auth-int""#)
        let old = DigestChallenge(realm: "r", nonce: "n", algorithm: nil, qop: [])
        #expect(old.serialized == #"Digest realm="r", nonce="n""#)
        #expect(try DigestChallenge.parse(stale.serialized) == stale)
        #expect(try DigestChallenge.parse(sha.serialized) == sha)
    }

    @Test("Serialisation never emits CR/LF or unescaped quotes")
    func injection() throws {
        let c = DigestChallenge(realm: "a\r\nVia: evil\"\\", nonce: "n\u{0}")
        let s = c.serialized
        #expect(!s.utf8.contains(0x0D) && !s.utf8.contains(0x0A) && !s.utf8.contains(0))
        #expect(s.hasPrefix(#"Digest realm="aVia: evil\"\\", nonce="n""#))
        let p = AuthParameter(name: "bad name\r\n", value: "x", isQuoted: false)
        #expect(p.serialized == "badname=x")
        #expect(AuthParameter(name: "a", value: "two words", isQuoted: false).serialized == #"a="two words""#)
        #expect(AuthParameter(name: "a", value: "", isQuoted: false).serialized == #"a="""#)
    }

    @Test("Credentials round trip and quoting per RFC 3261")
    func credentialsRoundTrip() throws {
        let c = DigestCredentials(
            username: "alice@example.com", realm: "example.com", nonce: "n/+=", uri: "sip:example.com",
            response: "0123456789abcdef0123456789abcdef", algorithm: .sha256, cnonce: "c n", opaque: "o", qop: .auth,
            nonceCount: 10)
        #expect(c.serialized == #"Digest username="alice@example.com", realm="example.com", nonce="n/+=", uri="sip:example.com", response="0123456789abcdef0123456789abcdef", algorithm=SHA-256, cnonce="c n", opaque="o", qop=auth, nc=0000000a"#)
        #expect(try DigestCredentials.parse(c.serialized) == c)
        #expect(c.nonceCount == 10)
    }
}
