import SIPCore
import Testing
@testable import SIPProxy

@Suite("Caller preferences (RFC 3841)")
struct CallerPreferencesTests {
    /// Registered contacts of bob, as the registrar would hand them over.
    let contactTexts = [
        "<sip:bob@192.0.2.71:5060>;+sip.instance=\"<urn:uuid:00000000-0000-1000-8000-000000000001>\";audio;video;q=0.5",
        "<sip:bob@192.0.2.72:5060>;q=1.0",
        "<sip:bob@192.0.2.73:5060;transport=tcp>;+sip.instance=\"<urn:uuid:00000000-0000-1000-8000-000000000003>\";audio;video;methods=\"INVITE,ACK,BYE,CANCEL,OPTIONS\";q=1.0",
        "<sip:bob@192.0.2.74:5060>;audio;video=\"FALSE\";expires=3600",
        "<sip:vm@voicemail.example.com>;automata;audio;q=0.1",
    ]

    func contacts() throws -> [NameAddr] { try contactTexts.map { try NameAddr(parsing: $0) } }

    func request(_ method: String = "INVITE", headers: [String]) throws -> SIPRequest {
        var text = """
        \(method) sip:bob@example.com SIP/2.0
        Via: SIP/2.0/UDP alice-pc.example.com;branch=z9hG4bKcp1
        Max-Forwards: 70
        To: <sip:bob@example.com>
        From: <sip:alice@example.com>;tag=a1
        Call-ID: cp-1
        CSeq: 1 \(method)
        """
        for h in headers { text += "\n" + h }
        return try sipRequest(text)
    }

    func ranked(_ headers: [String], method: String = "INVITE") throws -> [String] {
        let prefs = CallerPreferences(request: try request(method, headers: headers))
        return prefs.rank(try contacts()).map { $0.target.uri.sipURI?.host ?? "?" }
    }

    @Test func noPreferencesOrdersByQ() throws {
        // Implicit preference methods=INVITE keeps everyone (contact 3 lists INVITE, the others list no methods).
        #expect(try ranked([]) == ["192.0.2.72", "192.0.2.73", "192.0.2.74", "192.0.2.71", "voicemail.example.com"])
        let prefs = CallerPreferences(request: try request(headers: []))
        #expect(prefs.isImplicit)
        #expect(prefs.rank(try contacts()).allSatisfy { $0.score == 1 })
    }

    @Test func implicitMethodsPreferenceDropsContactsWithoutTheMethod() throws {
        // Contact 3 advertises methods without MESSAGE.
        #expect(try ranked([], method: "MESSAGE") == ["192.0.2.72", "192.0.2.74", "192.0.2.71", "voicemail.example.com"])
    }

    @Test func implicitEventsPreferenceForSubscribe() throws {
        let watcher = try NameAddr(parsing: "<sip:bob@192.0.2.80>;events=\"presence,dialog\";methods=\"SUBSCRIBE,NOTIFY\"")
        let phone = try NameAddr(parsing: "<sip:bob@192.0.2.81>;events=\"dialog\"")
        let plain = try NameAddr(parsing: "<sip:bob@192.0.2.82>")
        let prefs = CallerPreferences(request: try request("SUBSCRIBE", headers: ["Event: presence;id=7"]))
        #expect(prefs.rank([watcher, phone, plain]).map(\.target) == [watcher, plain])
    }

    @Test func rejectContactRemovesMatchingContacts() throws {
        // Only contacts that have the tag with a matching value are rejected.
        #expect(try ranked(["Reject-Contact: *;video"]) == ["192.0.2.72", "192.0.2.73", "192.0.2.74", "voicemail.example.com"].filter { $0 != "192.0.2.73" })
        #expect(try ranked(["j: *;automata"]) == ["192.0.2.72", "192.0.2.73", "192.0.2.74", "192.0.2.71"])
        // All tags of the predicate must be present: audio+automata only rejects voicemail.
        #expect(try ranked(["Reject-Contact: *;audio;automata"]) == ["192.0.2.72", "192.0.2.73", "192.0.2.74", "192.0.2.71"])
    }

    @Test func acceptContactWithoutRequireReorders() throws {
        // Within q=1.0: explicit video (73) first, then no opinion (72) and contradiction (74, out of the matching
        // set) with Qa 0 in registration order; then the lower q values.
        #expect(try ranked(["Accept-Contact: *;video"]) == ["192.0.2.73", "192.0.2.72", "192.0.2.74", "192.0.2.71", "voicemail.example.com"])
        let scores = CallerPreferences(request: try request(headers: ["Accept-Contact: *;video"])).rank(try contacts()).map(\.score)
        #expect(scores == [1, 0, 0, 1, 0])
    }

    @Test func acceptContactRequireDropsContradictions() throws {
        #expect(try ranked(["Accept-Contact: *;video;require"]) == ["192.0.2.73", "192.0.2.72", "192.0.2.71", "voicemail.example.com"])
    }

    @Test func acceptContactRequireExplicitKeepsOnlyExplicitSupport() throws {
        #expect(try ranked(["Accept-Contact: *;video;require;explicit"]) == ["192.0.2.73", "192.0.2.71"])
        #expect(try ranked(["a: *;automata;require;explicit"]) == ["voicemail.example.com"])
    }

    @Test func partialExplicitMatchScoresFractionally() throws {
        let prefs = CallerPreferences(request: try request(headers: ["Accept-Contact: *;audio;automata"]))
        let r = prefs.rank(try contacts())
        let byHost = Dictionary(uniqueKeysWithValues: r.map { ($0.target.uri.sipURI!.host, $0.score) })
        #expect(byHost["voicemail.example.com"] == 1)
        #expect(byHost["192.0.2.73"] == 0.5)
        #expect(byHost["192.0.2.72"] == 0)
    }

    @Test func instanceTargeting() throws {
        let header = "Accept-Contact: *;+sip.instance=\"<urn:uuid:00000000-0000-1000-8000-000000000003>\";require;explicit"
        #expect(try ranked([header]) == ["192.0.2.73"])
        // String values are case-sensitive.
        let upper = "Accept-Contact: *;+sip.instance=\"<URN:UUID:00000000-0000-1000-8000-000000000003>\";require;explicit"
        #expect(try ranked([upper]) == [])
    }

    @Test func methodsFeatureInAcceptContact() throws {
        #expect(try ranked(["Accept-Contact: *;methods=\"BYE\";require;explicit"]) == ["192.0.2.73"])
        #expect(try ranked(["Accept-Contact: *;methods=\"MESSAGE\";require"]) == ["192.0.2.72", "192.0.2.74", "192.0.2.71", "voicemail.example.com"])
    }

    @Test func severalAcceptContactsAreAveraged() throws {
        let prefs = CallerPreferences(request: try request(headers: ["Accept-Contact: *;audio", "Accept-Contact: *;automata"]))
        let r = prefs.rank(try contacts())
        // voicemail: 1 and 1; contact 1: audio 1, automata absent 0 → 0.5.
        #expect(r.first { $0.target.uri.sipURI?.host == "voicemail.example.com" }?.score == 1)
        #expect(r.first { $0.target.uri.sipURI?.host == "192.0.2.71" }?.score == 0.5)
    }

    @Test func numericAndNegatedValues() throws {
        let level5 = try NameAddr(parsing: "<sip:a@192.0.2.90>;+x.level=\"#=5\";+x.lang=\"en,de\"")
        func keep(_ accept: String) throws -> Bool {
            !CallerPreferences(request: try request(headers: ["Accept-Contact: " + accept])).rank([level5]).isEmpty
        }
        #expect(try keep("*;+x.level=\"#>=3\";require"))
        #expect(try !keep("*;+x.level=\"#<=2\";require"))
        #expect(try keep("*;+x.level=\"#4:6\";require"))
        #expect(try keep("*;+x.lang=\"DE\";require"))
        #expect(try !keep("*;+x.lang=\"fr\";require"))
        #expect(try keep("*;+x.lang=\"!fr\";require"))
    }

    @Test func requestDisposition() throws {
        let prefs = CallerPreferences(request: try request(headers: ["d: proxy, sequential, no-cancel", "Request-Disposition: no-fork"]))
        #expect(prefs.disposition.mode == .proxy)
        #expect(prefs.disposition.parallel == false)
        #expect(prefs.disposition.cancel == false)
        #expect(prefs.disposition.fork == false)
        #expect(prefs.disposition.recurse == nil)
    }

    @Test func featureTagNormalisation() throws {
        #expect(FeatureSet.featureTag("audio") == "sip.audio")
        #expect(FeatureSet.featureTag("+sip.audio") == "sip.audio")
        #expect(FeatureSet.featureTag("+sip.instance") == "sip.instance")
        #expect(FeatureSet.featureTag("+g.3gpp.icsi-ref") == "g.3gpp.icsi-ref")
        #expect(FeatureSet.featureTag("expires") == nil)
        #expect(FeatureSet.featureTag("q") == nil)
        let c = try NameAddr(parsing: "<sip:ue@192.0.2.5>;+g.3gpp.icsi-ref=\"urn%3Aurn-7%3A3gpp-service.ims.icsi.mmtel\";expires=600;reg-id=1;audio")
        let fs = FeatureSet(parameters: c.parameters)
        #expect(Set(fs.features.keys) == ["g.3gpp.icsi-ref", "sip.audio"])
        #expect(fs.features["sip.audio"] == [FeatureValue(.boolean(true))])
    }

    @Test func predicateParsing() throws {
        let p = FeaturePredicate(parsing: "*;audio;methods=\"INVITE,BYE\";require;explicit;foo=bar")
        #expect(p.require && p.explicit)
        #expect(p.terms.features["sip.methods"] == [FeatureValue(.token("invite")), FeatureValue(.token("bye"))])
        #expect(p.terms.features.count == 2)
    }

    // Delimiters are read as bytes, like the parser reads them: ",\u{0301}", "=\u{0301}", ";\u{0301}" and
    // "!\u{0301}" are single Characters, which `String.split` / `hasPrefix` did not see.

    @Test func featureValueListSplitsAtCommaBytes() {
        #expect(FeatureValue.parseList("\"INVITE, BYE ,!ACK\"")
            == [FeatureValue(.token("invite")), FeatureValue(.token("bye")), FeatureValue(.token("ack"), negated: true)])
        #expect(FeatureValue.parseList("\"#>=2,#1:3,TRUE,<Foo>\"")
            == [FeatureValue(.numeric(2 ... Double.greatestFiniteMagnitude)), FeatureValue(.numeric(1 ... 3)), FeatureValue(.boolean(true)),
                FeatureValue(.token("<foo>"))])
        #expect(FeatureValue.parseList("\"<Foo,Bar>\"") == [FeatureValue(.string("Foo,Bar"))])
        let hostile = FeatureValue.parseList("\"INVITE,\u{0301}BYE\"")
        #expect(hostile.count == 2)
        #expect(hostile.first == FeatureValue(.token("invite")))
        // The negation mark is the "!" byte.
        #expect(FeatureValue.parseList("\"!\u{0301}audio\"").first?.negated == true)
    }

    @Test func numericRangeSplitsAtColonByte() {
        #expect(FeatureValue.numericRange("1:3") == 1 ... 3)
        #expect(FeatureValue.numericRange(" 5 : 2 ") == 2 ... 5)
        #expect(FeatureValue.numericRange("=4") == 4 ... 4)
        #expect(FeatureValue.numericRange("1:2:3") == nil)
        // Cut at the ":" byte into "1" and "\u{0301}5"; the second is no number, so no range (as before, when the
        // Character split saw one piece): the change keeps this site reading the text as the parser does.
        #expect(FeatureValue.numericRange("1:\u{0301}5") == nil)
        #expect(FeatureValue.numericRange("1:\u{0301}:5") == nil)
    }

    @Test func predicateParametersSplitAtEqualsByte() {
        let plain = FeaturePredicate(parsing: "*;methods=INVITE;video")
        #expect(plain.terms.features["sip.methods"] == [FeatureValue(.token("invite"))])
        #expect(plain.terms.features["sip.video"] == [FeatureValue(.boolean(true))])
        // "methods=\u{0301}x": the name is "methods" (was the whole text, no feature tag at all).
        let hostile = FeaturePredicate(parsing: "*;methods=\u{0301}x;require")
        #expect(hostile.terms.features["sip.methods"]?.count == 1)
        #expect(hostile.require)
        // A first element with an "=" byte is a parameter, not a leftover URI to skip.
        let first = FeaturePredicate(parsing: "video=\u{0301}a:b;audio")
        #expect(Set(first.terms.features.keys) == ["sip.video", "sip.audio"])
        #expect(Set(FeaturePredicate(parsing: "sip:bob@example.com;audio").terms.features.keys) == ["sip.audio"])
    }

    @Test func bareEqualsIsSkipped() throws {
        // "=" alone splits into nothing (empty pieces dropped); it used to be indexed as if it had a name (a trap).
        let p = FeaturePredicate(parsing: "*;=;audio; = ")
        #expect(p.terms.features.keys.sorted() == ["sip.audio"])
        // Reachable from the wire: the parser passes this Accept-Contact through.
        let prefs = CallerPreferences(request: try request(headers: ["Accept-Contact: *;="]))
        #expect(prefs.accept.count == 1 && prefs.accept[0].terms.features.isEmpty)
    }

    @Test func implicitEventsPackageEndsAtSemicolonByte() throws {
        let watcher = try NameAddr(parsing: "<sip:bob@192.0.2.80>;events=\"dialog\"")
        let other = try NameAddr(parsing: "<sip:bob@192.0.2.81>;events=\"presence\"")
        for event in ["Event: dialog;id=7", "Event:  dialog ", "Event: dialog;\u{0301}id=7"] {
            let prefs = CallerPreferences(request: try request("SUBSCRIBE", headers: [event]))
            #expect(prefs.accept.first?.terms.features["sip.events"] == [FeatureValue(.token("dialog"))], "\(event)")
            #expect(prefs.rank([watcher, other]).map(\.target) == [watcher], "\(event)")
        }
    }

    @Test func trimmingIsOnBytes() {
        #expect(ProxyText.trimmed(" \t\r\nx y \r\n") == "x y")
        #expect(Array(ProxyText.trimmed(" \u{0301}x").utf8) == Array("\u{0301}x".utf8))
        #expect(ProxyText.droppingPrefix("!x", "!") == "x")
        #expect(ProxyText.droppingPrefix("x!", "!") == nil)
    }

    @Test func genericTargetsKeepTheirPayload() throws {
        struct Binding { var id: Int; var contact: NameAddr }
        let bindings = try contacts().enumerated().map { Binding(id: $0.offset, contact: $0.element) }
        let prefs = CallerPreferences(request: try request(headers: ["Accept-Contact: *;video;require;explicit"]))
        #expect(prefs.rank(bindings, contact: \.contact).map(\.target.id) == [2, 0])
    }

    @Test func registrarStyleTargetsWithSeparateQ() throws {
        // A binding that keeps its q outside the Contact parameters (as the S-CSCF registrar does).
        struct Stored { var uri: String; var params: SIPParameters; var q: Double? }
        let stored = try contacts().map { c -> Stored in
            var p = c.parameters
            let q = c.q
            p.remove("q")
            return Stored(uri: c.uri.description, params: p, q: q)
        }
        let prefs = CallerPreferences(request: try request(headers: ["Reject-Contact: *;automata"]))
        let r = prefs.rank(stored, parameters: \.params, q: \.q)
        #expect(r.map(\.target.uri) == ["sip:bob@192.0.2.72:5060", "sip:bob@192.0.2.73:5060;transport=tcp", "sip:bob@192.0.2.74:5060", "sip:bob@192.0.2.71:5060"])
        #expect(r.map(\.q) == [1, 1, 1, 0.5])
    }
}
