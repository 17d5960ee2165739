import Foundation
import Testing
import SIPCore
@testable import BGCF

@Suite("RoutingTables.decide")
struct DecideTests {
    static let home = "example.com"
    static let enumJSON = #"""
        {"number_blocks": [
          {"name": "home", "prefix": "+1650555", "regex": "!(^.*$)!sip:\\1@example.com!"},
          {"name": "alias", "prefix": "+1650777", "regex": "!^.*$!sip:alice@EXAMPLE.com:5060!"},
          {"name": "ghost", "prefix": "+1650778", "regex": "!^.*$!sip:nobody@example.com!"},
          {"name": "partner", "prefix": "+1650556", "regex": "!^(.*)$!sip:\\1@partner.example.org;user=phone!"},
          {"name": "partner-user", "prefix": "+1650557", "regex": "!^.*$!sip:bob@partner.example.org!"},
          {"name": "unrouted-user", "prefix": "+1650559", "regex": "!^.*$!sip:carol@unrouted.example.org!"},
          {"name": "tel", "prefix": "+1650558", "regex": "!^\\+1650558(.*)$!tel:+4420794\\1!"},
          {"name": "barred", "prefix": "+1900", "regex": "!^.*$!!"},
          {"name": "bad", "prefix": "+1901", "regex": "!^.*$!http://example.com/!"},
          {"name": "garbage", "prefix": "+1902", "regex": "!^.*$!not a uri!"},
          {"name": "strict", "prefix": "+1903", "regex": "!^\\+1903(\\d{4})$!sip:\\1@example.com!"}
        ]}
        """#
    static let bgcfJSON = #"""
        {"routes": [
          {"name": "bay", "number": "+1650", "route": ["sip:gw-bay.example.net;lr"]},
          {"name": "uk", "number": "+44", "route": ["sip:gw-uk.example.net;lr"]},
          {"name": "partner", "domain": "partner.example.org", "route": ["sip:ibcf.example.net;lr"]},
          {"name": "carrier", "domain": "carrier.net", "route": ["sip:carrier-sbc.example.net;lr"]}, {"name": "default", "domain": "*", "route": ["sip:default-gw.example.net;lr"]}
        ]}
        """#
    static let subscribers: Set<String> = [
        "sip:+16505550002@example.com", "sip:6505550003@example.com", "sip:16505550004@example.com",
        "sip:alice@example.com", "sip:+16505550099@example.com",
    ]

    static func tables(enumTable: Bool = true, bgcf: Bool = true, defaultRoute: Bool = true) throws -> RoutingTables {
        var b = bgcfJSON
        if !defaultRoute {
            b = b.replacingOccurrences(of: #", {"name": "default", "domain": "*", "route": ["sip:default-gw.example.net;lr"]}"#, with: "")
        }
        return RoutingTables(enumTable: enumTable ? try EnumTable(json: Data(enumJSON.utf8)) : .empty,
                             bgcfTable: bgcf ? try BGCFTable(json: Data(b.utf8)) : .empty)
    }

    func decide(_ uri: String, _ t: RoutingTables, subscribers: Set<String> = DecideTests.subscribers) throws -> RoutingDecision {
        try t.decide(requestURI: URI(parsing: uri), homeDomain: Self.home, isLocalSubscriber: { subscribers.contains($0) })
    }

    struct Breakout: Equatable {
        var name: String, requestURI: String
        init(_ name: String, _ requestURI: String) { self.name = name; self.requestURI = requestURI }
    }

    func breakout(_ d: RoutingDecision) -> Breakout? {
        if case .breakout(let r, let uri) = d { return Breakout(r.name, uri) }
        return nil
    }

    @Test func notANumber() throws {
        let t = try Self.tables()
        #expect(try decide("sip:alice@example.com", t) == .notANumber)
        #expect(try decide("sip:6505550002@other.net", t) == .notANumber)
        #expect(try decide("sip:bob@partner.example.org", t) == .notANumber)
        #expect(try decide("urn:service:sos", t) == .notANumber)
    }

    @Test func enumToALocalSubscriber() throws {
        let t = try Self.tables()
        #expect(try decide("tel:+1-650-555-0002", t) == .local("sip:+16505550002@example.com"))
        #expect(try decide("sip:+16505550002@example.com;user=phone", t) == .local("sip:+16505550002@example.com"))
        // ENUM to a non-numeric home identity: the subscriber check uses sip:user@host (host lower-cased, no port).
        #expect(try decide("tel:+16507770000", t) == .local("sip:alice@example.com"))
    }

    @Test func enumToAHomeIdentityThatDoesNotExistIs404() throws {
        #expect(try decide("tel:+16507780000", try Self.tables()) == .notFound(status: 404, reason: "Not Found"))
    }

    @Test func enumHomeNumberNotASubscriberTriesWithoutPlusThenBreaksOut() throws {
        let t = try Self.tables()
        // +16505550004 → sip:+16505550004@example.com (not a subscriber) → sip:16505550004@example.com is.
        #expect(try decide("tel:+16505550004", t) == .local("sip:16505550004@example.com"))
        // +16505550005 → no subscriber either way → BGCF by number.
        let b = try #require(breakout(try decide("tel:+16505550005", t)))
        #expect(b.name == "bay")
        #expect(b.requestURI == "sip:+16505550005@example.com")
    }

    @Test func withoutEnumTheHomeNumberIsTried() throws {
        let t = try Self.tables(enumTable: false)
        #expect(try decide("tel:+16505550002", t) == .local("sip:+16505550002@example.com"))
        #expect(try decide("sip:650-555-0003@example.com", t) == .local("sip:6505550003@example.com"))
        #expect(try decide("sip:+16505550004@example.com", t) == .local("sip:16505550004@example.com"))
        // A local number is only tried as written: no country code is added.
        #expect(try decide("tel:6505550002;phone-context=example.com", t) != .local("sip:+16505550002@example.com"))
        // A user=phone number in another domain is still ours if it is a subscriber.
        #expect(try decide("sip:+16505550002@carrier.net;user=phone", t) == .local("sip:+16505550002@example.com"))
    }

    @Test func enumToAnOffNetNumberBreaksOutByNumberAndKeepsTheRewrittenURI() throws {
        let t = try Self.tables()
        // +1650556… → sip:+1650556…@partner.example.org;user=phone: a number, prefix +1650 beats the domain route.
        let b = try #require(breakout(try decide("tel:+16505560001", t)))
        #expect(b.name == "bay")
        #expect(b.requestURI == "sip:+16505560001@partner.example.org;user=phone")
        // The local check is skipped: ENUM said the number lives at the partner.
        #expect(breakout(try decide("tel:+16505560001", t, subscribers: ["sip:+16505560001@example.com"]))?.name == "bay")
    }

    @Test func enumToAnOffNetSIPURIUsesTheDomainRouteElseDefaultElseOffNet() throws {
        #expect(breakout(try decide("tel:+16505570001", try Self.tables())) == Breakout("partner", "sip:bob@partner.example.org"))
        #expect(breakout(try decide("tel:+16505590001", try Self.tables())) == Breakout("default", "sip:carol@unrouted.example.org"))
        #expect(try decide("tel:+16505590001", try Self.tables(defaultRoute: false))
                == .offNet(requestURI: "sip:carol@unrouted.example.org"))
        #expect(try decide("tel:+16505590001", try Self.tables(bgcf: false)) == .offNet(requestURI: "sip:carol@unrouted.example.org"))
    }

    @Test func enumToATelURIRoutesByTheNewNumber() throws {
        let b = try #require(breakout(try decide("tel:+16505581234", try Self.tables())))
        #expect(b.name == "uk")
        #expect(b.requestURI == "tel:+44207941234")
    }

    @Test(arguments: ["tel:+19005550000", "tel:+19015550000", "tel:+19025550000", "sip:+19005550000@example.com;user=phone"])
    func enumMapsToNothingOrAnInvalidTargetIs604(uri: String) throws {
        #expect(try decide(uri, try Self.tables()) == .notFound(status: 604, reason: "Does Not Exist Anywhere"))
    }

    @Test func enumBlockWhosePatternDoesNotMatchDoesNotApply() throws {
        // +1903 claims the number but wants exactly four more digits: ENUM has no opinion, the default route applies.
        #expect(breakout(try decide("tel:+190312345", try Self.tables()))?.name == "default")
        #expect(breakout(try decide("tel:+19031234", try Self.tables())) == Breakout("default", "sip:1234@example.com"))
    }

    @Test func bgcfWithoutEnum() throws {
        let t = try Self.tables(enumTable: false)
        // Longest number prefix.
        #expect(breakout(try decide("tel:+16505550005", t)) == Breakout("bay", "tel:+16505550005"))
        #expect(breakout(try decide("sip:+442079460000@example.com", t)) == Breakout("uk", "sip:+442079460000@example.com"))
        // A user=phone number in a non-home domain: the number prefix first, then the domain, then *.
        #expect(breakout(try decide("sip:+16505550005@carrier.net;user=phone", t))?.name == "bay")
        #expect(breakout(try decide("sip:+33140000000@carrier.net;user=phone", t))?.name == "carrier")
        #expect(breakout(try decide("sip:+33140000000@elsewhere.net;user=phone", t))?.name == "default")
        // The home domain is never used for a domain route.
        #expect(breakout(try decide("sip:+33140000000@example.com;user=phone", t))?.name == "default")
        #expect(breakout(try decide("tel:5550002;phone-context=example.com", t))?.name == "default")
    }

    @Test func nothingMatchesIs404() throws {
        let t = try Self.tables(enumTable: false, defaultRoute: false)
        #expect(try decide("tel:+33140000000", t) == .notFound(status: 404, reason: "Not Found"))
        #expect(try decide("sip:5550002@example.com", t) == .notFound(status: 404, reason: "Not Found"))
        #expect(try decide("tel:+33140000000", RoutingTables.empty) == .notFound(status: 404, reason: "Not Found"))
        #expect(try decide("tel:+16505550002", RoutingTables.empty) == .local("sip:+16505550002@example.com"))
    }

    @Test func isLocalSubscriberSeesTheIdentitiesInOrder() throws {
        final class Log: @unchecked Sendable { var asked: [String] = [] }
        let log = Log()
        let t = try Self.tables(enumTable: false, bgcf: false)
        let d = t.decide(requestURI: try URI(parsing: "tel:+1-650-555-0005"), homeDomain: Self.home) {
            log.asked.append($0); return false
        }
        #expect(d == .notFound(status: 404, reason: "Not Found"))
        #expect(log.asked == ["sip:+16505550005@example.com", "sip:16505550005@example.com"])
    }
}
