import Foundation
#if canImport(FoundationXML)
import FoundationXML
#endif
import Testing
import SIPCore
@testable import SCSCF

/// Parses an XML document with `XMLParser` (namespaces processed) into a small element tree.
final class XMLTree: NSObject, XMLParserDelegate {
    final class Element {
        let name: String
        let namespace: String?
        let attributes: [String: String]
        var children: [Element] = []
        var text = ""
        init(name: String, namespace: String?, attributes: [String: String]) {
            self.name = name
            self.namespace = namespace
            self.attributes = attributes
        }
        func all(_ name: String) -> [Element] { children.filter { $0.name == name } }
        func first(_ name: String) -> Element? { children.first { $0.name == name } }
    }

    private var stack: [Element] = []
    private(set) var root: Element?
    private(set) var error: String?

    static func parse(_ text: String) -> (root: Element?, error: String?) {
        let tree = XMLTree()
        let parser = XMLParser(data: Data(text.utf8))
        parser.shouldProcessNamespaces = true
        parser.delegate = tree
        let ok = parser.parse()
        if !ok && tree.error == nil { tree.error = parser.parserError.map { "\($0)" } ?? "parse failed" }
        return (ok ? tree.root : nil, tree.error)
    }

    func parser(_ parser: XMLParser, didStartElement elementName: String, namespaceURI: String?, qualifiedName qName: String?,
                attributes attributeDict: [String: String] = [:]) {
        let element = Element(name: elementName, namespace: namespaceURI, attributes: attributeDict)
        if let parent = stack.last { parent.children.append(element) } else { root = element }
        stack.append(element)
    }

    func parser(_ parser: XMLParser, didEndElement elementName: String, namespaceURI: String?, qualifiedName qName: String?) {
        stack.removeLast()
    }

    func parser(_ parser: XMLParser, foundCharacters string: String) {
        stack.last?.text += string
    }

    func parser(_ parser: XMLParser, parseErrorOccurred parseError: Error) {
        error = "\(parseError)"
    }
}

@Suite("RegInfo")
struct RegInfoTests {
    let now: Int64 = 10_000
    let ns = "urn:ietf:params:xml:ns:reginfo"
    let gruuNS = "urn:ietf:params:xml:ns:gruuinfo"

    func parse(_ xml: String, sourceLocation: SourceLocation = #_sourceLocation) throws -> XMLTree.Element {
        let (root, error) = XMLTree.parse(xml)
        #expect(error == nil, "\(error ?? "")\n\(xml)", sourceLocation: sourceLocation)
        return try #require(root, sourceLocation: sourceLocation)
    }

    @Test func emptyDocument() throws {
        let xml = RegInfo.document(version: 0, state: .full, registrations: [], now: now)
        #expect(xml.hasPrefix("<?xml version=\"1.0\" encoding=\"UTF-8\"?>"))
        let root = try parse(xml)
        #expect(root.name == "reginfo")
        #expect(root.namespace == ns)
        #expect(root.attributes["version"] == "0")
        #expect(root.attributes["state"] == "full")
        #expect(root.children.isEmpty)
        #expect(RegInfo.contentType == "application/reginfo+xml")
    }

    @Test func registrationsContactsAndAttributes() throws {
        let active = makeBinding(key: "k-active", uri: "sip:alice@10.0.0.1:5060", params: [("audio", nil)], q: 0.5,
                                 expiresAt: now + 120, callID: "call-1@ue", cseq: 7)
        let gone = makeBinding(key: "k-gone", uri: "sip:alice@10.0.0.2", expiresAt: now + 500, callID: "call-2@ue", cseq: 3)
        let regs = [
            RegInfo.Registration(aor: "sip:alice@ims.example.com", id: "r1", state: "active", contacts: [
                .init(binding: active, state: "active", event: "refreshed"),
                .init(binding: gone, state: "terminated", event: "unregistered"),
            ]),
            RegInfo.Registration(aor: "tel:+15551234567", id: "r2", state: "active", contacts: [
                .init(binding: active, state: "active", event: "refreshed"),
            ]),
            RegInfo.Registration(aor: "sip:alice.other@ims.example.com", id: "r3", state: "terminated", contacts: []),
        ]
        let root = try parse(RegInfo.document(version: 7, state: .partial, registrations: regs, now: now))
        #expect(root.attributes["version"] == "7")
        #expect(root.attributes["state"] == "partial")
        let registrations = root.all("registration")
        #expect(registrations.count == 3)
        #expect(registrations.map { $0.attributes["aor"] } == ["sip:alice@ims.example.com", "tel:+15551234567", "sip:alice.other@ims.example.com"])
        #expect(registrations.map { $0.attributes["id"] } == ["r1", "r2", "r3"])
        #expect(registrations.map { $0.attributes["state"] } == ["active", "active", "terminated"])
        #expect(registrations.allSatisfy { $0.namespace == ns })

        let contacts = registrations[0].all("contact")
        #expect(contacts.count == 2)
        let a = contacts[0], t = contacts[1]
        #expect(a.attributes["state"] == "active")
        #expect(a.attributes["event"] == "refreshed")
        #expect(a.attributes["expires"] == "120")
        #expect(a.attributes["q"] == "0.5")
        #expect(a.attributes["callid"] == "call-1@ue")
        #expect(a.attributes["cseq"] == "7")
        #expect(a.first("uri")?.text == "sip:alice@10.0.0.1:5060")
        #expect(a.all("unknown-param").map { $0.attributes["name"] } == ["audio"])
        #expect(a.first("unknown-param")?.text == "")
        #expect(t.attributes["state"] == "terminated")
        #expect(t.attributes["event"] == "unregistered")
        #expect(t.attributes["expires"] == "0")
        #expect(t.attributes["q"] == nil)
        // Contact ids: stable per binding, distinct between bindings.
        #expect(a.attributes["id"] != nil)
        #expect(a.attributes["id"] != t.attributes["id"])
        #expect(registrations[1].first("contact")?.attributes["id"] == a.attributes["id"])
        #expect(registrations[2].children.isEmpty)
    }

    @Test func escapesMarkupInEveryField() throws {
        let b = makeBinding(key: "k", uri: "sip:a&b@x.example.com;p=\"<q>\"",
                            params: [("+x.tag", "\"a<b>&c'd\""), ("we&ird", "1")],
                            expiresAt: now + 60, callID: "c<1>&\"2\"@ue", cseq: 1)
        let reg = RegInfo.Registration(aor: "sip:o'neil&co@<ims>", id: "i\"d", state: "act<ive", contacts: [
            .init(binding: b, state: "active\"", event: "regis&tered"),
        ])
        let xml = RegInfo.document(version: 1, state: .full, registrations: [reg], now: now)
        let root = try parse(xml)
        let r = try #require(root.first("registration"))
        #expect(r.attributes["aor"] == "sip:o'neil&co@<ims>")
        #expect(r.attributes["id"] == "i\"d")
        #expect(r.attributes["state"] == "act<ive")
        let c = try #require(r.first("contact"))
        #expect(c.attributes["callid"] == "c<1>&\"2\"@ue")
        #expect(c.attributes["state"] == "active\"")
        #expect(c.attributes["event"] == "regis&tered")
        #expect(c.first("uri")?.text == "sip:a&b@x.example.com;p=\"<q>\"")
        let params = c.all("unknown-param")
        #expect(params.map { $0.attributes["name"] } == ["+x.tag", "we&ird"])
        #expect(params.map(\.text) == ["a<b>&c'd", "1"])
    }

    @Test func controlCharactersAreDropped() throws {
        let b = makeBinding(uri: "sip:a@x", expiresAt: now + 60, callID: "bad\u{01}\u{1F}id")
        let reg = RegInfo.Registration(aor: "sip:a\u{0B}@x", id: "1", state: "active", contacts: [.init(binding: b, state: "active", event: "registered")])
        let root = try parse(RegInfo.document(version: 0, state: .full, registrations: [reg], now: now))
        #expect(root.first("registration")?.attributes["aor"] == "sip:a@x")
        #expect(root.first("registration")?.first("contact")?.attributes["callid"] == "badid")
    }

    @Test func pubGRUUForActiveInstanceBindings() throws {
        let withInstance = makeBinding(key: Reg.instance1, uri: "sip:alice@10.0.0.1",
                                       params: [("+sip.instance", "\"\(Reg.instance1)\""), ("reg-id", "1")],
                                       expiresAt: now + 60, instance: Reg.instance1, regID: 1)
        let plain = makeBinding(key: "plain", uri: "sip:alice@10.0.0.2", expiresAt: now + 60)
        let reg = RegInfo.Registration(aor: Reg.aor, id: "r", state: "active", contacts: [
            .init(binding: withInstance, state: "active", event: "registered"),
            .init(binding: plain, state: "active", event: "registered"),
            .init(binding: withInstance, state: "terminated", event: "expired"),
        ])
        let root = try parse(RegInfo.document(version: 3, state: .full, registrations: [reg], now: now))
        let contacts = try #require(root.first("registration")).all("contact")
        #expect(contacts.count == 3)
        let gruu = try #require(contacts[0].first("pub-gruu"))
        #expect(gruu.namespace == gruuNS)
        #expect(gruu.attributes["uri"] == "sip:alice@ims.example.com;gr=urn:uuid:00000000-0000-1000-8000-000000000001")
        #expect(contacts[0].all("unknown-param").map(\.text) == [Reg.instance1, "1"])
        #expect(contacts[1].first("pub-gruu") == nil)
        #expect(contacts[2].first("pub-gruu") == nil)
        #expect(contacts[2].attributes["expires"] == "0")
    }

    @Test func pubGRUUEscapesTheInstanceAsAURIParameter() throws {
        #expect(RegInfo.pubGRUU(aor: Reg.aor, instance: "\"<urn:uuid:abc>\"") == "\(Reg.aor);gr=urn:uuid:abc")
        #expect(RegInfo.pubGRUU(aor: Reg.aor, instance: "urn:uuid:abc") == "\(Reg.aor);gr=urn:uuid:abc")
        let odd = RegInfo.pubGRUU(aor: Reg.aor, instance: "<urn:example:a;b=c d%>")
        #expect(odd == "\(Reg.aor);gr=urn:example:a%3Bb%3Dc%20d%25")
        let uri = try SIPURI(parsing: odd)
        #expect(uri.parameters["gr"] == .some("urn:example:a;b=c d%"))
        #expect(uri.parameters.items.count == 1)
    }

    @Test func documentFromRegistrarState() throws {
        var h = Harness()
        try h.register(["<sip:alice@10.0.0.1>;+sip.instance=\"\(Reg.instance1)\";reg-id=1;q=1"], expires: "300", cseq: 1, now: now)
        let change = try h.register(["<sip:alice@10.0.0.9>"], expires: "120", callID: "other@ue", cseq: 1, now: now + 20)
        let entries = h.bindings(now + 20).map { b in
            RegInfo.ContactEntry(binding: b, state: "active",
                                 event: change.changes.contains { $0.binding.key == b.key } ? "registered" : "refreshed")
        }
        let reg = RegInfo.Registration(aor: Reg.aor, id: "a1", state: "active", contacts: entries)
        let root = try parse(RegInfo.document(version: 2, state: .full, registrations: [reg], now: now + 20))
        let contacts = try #require(root.first("registration")).all("contact")
        #expect(contacts.map { $0.attributes["expires"] } == ["280", "120"])
        #expect(contacts.map { $0.attributes["q"] } == ["1.0", nil])
        #expect(contacts.map { $0.first("uri")?.text } == ["sip:alice@10.0.0.1", "sip:alice@10.0.0.9"])
        #expect(contacts.map { $0.first("pub-gruu") != nil } == [true, false])
        #expect(contacts.map { $0.attributes["event"] } == ["refreshed", "registered"])
    }
}
