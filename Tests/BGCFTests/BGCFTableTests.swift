import Foundation
import Testing
@testable import BGCF

@Suite("BGCFTable")
struct BGCFTableTests {
    static let sample = """
        {
          "_comment": "test routes",
          "routes": [
            {"name": "NANP", "number": "+1", "route": ["sip:gw-us.example.net;transport=tcp;lr"]},
            {"name": "Bay Area", "number": "+1 (650)", "route": ["sip:gw1.example.net:5060;transport=udp", "sip:gw2.example.net"]},
            {"name": "Short codes", "number": "1", "route": ["sip:short.example.net"]},
            {"name": "Carrier", "domain": "PSTN.example.net", "route": ["sips:carrier-sbc.example.net:5061;lr"]},
            {"name": "Default", "domain": "*", "route": ["sip:ibcf.example.net;lr"], "_note": "anything else"}
          ]
        }
        """

    func table() throws -> BGCFTable { try BGCFTable(json: Data(Self.sample.utf8)) }

    @Test func longestNumberPrefixThenDomainThenDefault() throws {
        let t = try table()
        #expect(t.routes.count == 5)
        #expect(t.route(number: "+16505550002", domain: "pstn.example.net")?.name == "Bay Area")
        #expect(t.route(number: "+16505550002", domain: nil)?.route == ["sip:gw1.example.net:5060;transport=udp", "sip:gw2.example.net"])
        #expect(t.route(number: "+12125550002", domain: nil)?.name == "NANP")
        #expect(t.route(number: "+12125550002", domain: nil)?.match == .number("+1"))
        #expect(t.route(number: "+442079460000", domain: "pstn.example.net")?.name == "Carrier")
        #expect(t.route(number: "+442079460000", domain: "Pstn.Example.Net.")?.match == .domain("pstn.example.net"))
        #expect(t.route(number: "+442079460000", domain: "other.net")?.name == "Default")
        #expect(t.route(number: "+442079460000", domain: nil)?.match == .default)
        #expect(t.route(number: nil, domain: "pstn.example.net")?.name == "Carrier")
        #expect(t.route(number: nil, domain: nil)?.name == "Default")
    }

    @Test func numberPrefixesAreLiteralCanonicalDigits() throws {
        let t = try table()
        // "1" is not a prefix of "+1…", and "+1" is not a prefix of "1…".
        #expect(t.route(number: "16505550002", domain: nil)?.name == "Short codes")
        #expect(t.route(number: "6505550002", domain: nil)?.name == "Default")
        // Dialled forms are canonicalised.
        #expect(t.route(number: "+1 (650) 555-0002", domain: nil)?.name == "Bay Area")
    }

    @Test func withoutDefaultNothingMatches() throws {
        let t = try BGCFTable(json: Data(#"{"routes": [{"domain": "pstn.example.net", "route": ["sip:gw"]}]}"#.utf8))
        #expect(t.route(number: "+1650", domain: "other.net") == nil)
        #expect(t.route(number: nil, domain: nil) == nil)
        #expect(t.routes[0].name == "pstn.example.net")
        #expect(BGCFTable.empty.route(number: "+1", domain: "x") == nil)
        #expect(try BGCFTable(json: Data("{}".utf8)).isEmpty)
        #expect(try BGCFTable(json: Data(#"{"routes": []}"#.utf8)).isEmpty)
    }

    @Test(arguments: [
        (#"{"routes": [{"domain": "a.net", "route": ["sip:gw"]}, {"domain": "A.NET", "route": ["sip:gw2"]}]}"#,
         "bgcf.json: routes[1].domain: duplicate of routes[0] (\"a.net\")"),
        (#"{"routes": [{"domain": "*", "route": ["sip:gw"]}, {"domain": "*", "route": ["sip:gw2"]}]}"#,
         "bgcf.json: routes[1].domain: duplicate of routes[0] (\"*\")"),
        (#"{"routes": [{"number": "+1 650", "route": ["sip:gw"]}, {"domain": "*", "route": ["sip:gw"]}, {"number": "+1-650", "route": ["sip:gw2"]}]}"#,
         "bgcf.json: routes[2].number: duplicate of routes[0] (\"+1650\")"),
        (#"{"routes": [{"route": ["sip:gw"]}]}"#, "bgcf.json: routes[0]: needs one of \"domain\" and \"number\""),
        (#"{"routes": [{"domain": "a.net", "number": "+1", "route": ["sip:gw"]}]}"#,
         "bgcf.json: routes[0]: has both \"domain\" and \"number\"; use exactly one"),
        (#"{"routes": [{"domain": "a.net"}]}"#, "bgcf.json: routes[0].route: missing"),
        (#"{"routes": [{"domain": "a.net", "route": []}]}"#, "bgcf.json: routes[0].route: empty; at least one SIP URI is required"),
        (#"{"routes": [{"domain": "a.net", "route": "sip:gw"}]}"#, "bgcf.json: routes[0].route: expected an array of SIP URIs"),
        (#"{"routes": [{"domain": "a.net", "route": ["sip:gw", "gw2.example.net"]}]}"#,
         "bgcf.json: routes[0].route[1]: \"gw2.example.net\" is not a SIP URI"),
        (#"{"routes": [{"domain": "a.net", "route": ["tel:+1650"]}]}"#, "bgcf.json: routes[0].route[0]: \"tel:+1650\" is not a SIP URI"),
        (#"{"routes": [{"domain": "a.net", "route": [5]}]}"#, "bgcf.json: routes[0].route[0]: expected a string"),
        (#"{"routes": [{"domain": "a net", "route": ["sip:gw"]}]}"#,
         "bgcf.json: routes[0].domain: \"a net\" is not a domain name or IP address (or \"*\")"),
        (#"{"routes": [{"domain": "a.net:5060", "route": ["sip:gw"]}]}"#, "bgcf.json: routes[0].domain: \"a.net:5060\" is not"),
        (#"{"routes": [{"domain": "", "route": ["sip:gw"]}]}"#, "bgcf.json: routes[0].domain: \"\" is not"),
        (#"{"routes": [{"number": "+1-800-FLOWERS", "route": ["sip:gw"]}]}"#,
         "bgcf.json: routes[0].number: \"+1-800-FLOWERS\" is not a number prefix"),
        (#"{"routes": [{"number": 1650, "route": ["sip:gw"]}]}"#, "bgcf.json: routes[0].number: expected a string"),
        (#"{"routes": [{"domain": "a.net", "route": ["sip:gw"], "nexthop": "x"}]}"#, "bgcf.json: routes[0]: unknown key \"nexthop\""),
        (#"{"routes": [null]}"#, "bgcf.json: routes[0]: expected an object"),
        (#"{"routes": 1}"#, "bgcf.json: routes: expected an array"),
        (#"{"routes": [] "#, "bgcf.json: invalid JSON"),
        ("", "bgcf.json: empty file"),
    ])
    func invalid(json: String, message: String) {
        #expect {
            _ = try BGCFTable(json: Data(json.utf8))
        } throws: { error in
            let text = (error as? RoutingConfigError)?.description ?? "\(error)"
            if !text.hasPrefix(message) { Issue.record("got: \(text)") }
            return text.hasPrefix(message)
        }
    }

    @Test func ipAddressDomainsAreAccepted() throws {
        let t = try BGCFTable(json: Data(#"{"routes": [{"domain": "192.0.2.1", "route": ["sip:gw"]}, {"domain": "[2001:db8::1]", "route": ["sip:[2001:db8::2]:5060"]}]}"#.utf8))
        #expect(t.route(number: nil, domain: "192.0.2.1")?.route == ["sip:gw"])
        #expect(t.route(number: nil, domain: "[2001:DB8::1]")?.route == ["sip:[2001:db8::2]:5060"])
    }

    @Test func programmaticTableRejectsDuplicates() {
        #expect(throws: RoutingConfigError.self) {
            _ = try BGCFTable(routes: [BGCFRoute(name: "a", match: .default, route: ["sip:a"]),
                                       BGCFRoute(name: "b", match: .default, route: ["sip:b"])])
        }
        #expect(throws: RoutingConfigError.self) {
            _ = try BGCFTable(routes: [BGCFRoute(name: "a", match: .domain("x.net"), route: ["sip:a"]),
                                       BGCFRoute(name: "b", match: .domain("X.net"), route: ["sip:b"])])
        }
    }
}
