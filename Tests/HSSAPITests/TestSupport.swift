import Foundation
import FoundationXML
import HSSAPI
import Hummingbird
import Logging
import HummingbirdTesting
import Testing

/// A small DOM built with FoundationXML's `XMLParser`: parsing fails on anything not well-formed.
final class ParsedXML {
    let name: String
    var attributes: [String: String]
    var children: [ParsedXML] = []
    var text = ""

    init(name: String, attributes: [String: String]) {
        self.name = name
        self.attributes = attributes
    }

    func child(_ name: String) -> ParsedXML? { children.first { $0.name == name } }
    func all(_ name: String) -> [ParsedXML] { children.filter { $0.name == name } }
    subscript(_ path: String...) -> ParsedXML? {
        var node: ParsedXML? = self
        for name in path { node = node?.child(name) }
        return node
    }

    static func parse(_ text: String) -> ParsedXML? {
        let parser = XMLParser(data: Data(text.utf8))
        let builder = Builder()
        parser.delegate = builder
        guard parser.parse(), let root = builder.root else { return nil }
        return root
    }

    private final class Builder: NSObject, XMLParserDelegate {
        var root: ParsedXML?
        var stack: [ParsedXML] = []

        func parser(_ parser: XMLParser, didStartElement elementName: String, namespaceURI: String?,
                    qualifiedName qName: String?, attributes attributeDict: [String: String] = [:]) {
            let node = ParsedXML(name: elementName, attributes: attributeDict)
            if let parent = stack.last { parent.children.append(node) } else { root = node }
            stack.append(node)
        }

        func parser(_ parser: XMLParser, didEndElement elementName: String, namespaceURI: String?,
                    qualifiedName qName: String?) {
            _ = stack.popLast()
        }

        func parser(_ parser: XMLParser, foundCharacters string: String) {
            stack.last?.text += string
        }

        func parser(_ parser: XMLParser, foundCDATA CDATABlock: Data) {
            stack.last?.text += String(decoding: CDATABlock, as: UTF8.self)
        }
    }
}

extension TestResponse {
    var text: String { String(buffer: body) }

    /// The body as a JSON object.
    var jsonObject: [String: Any]? {
        (try? JSONSerialization.jsonObject(with: Data(text.utf8))) as? [String: Any]
    }
}

/// Asserts the Clearwater JSON error shape and the status.
func expectJSONError(_ response: TestResponse, status: Int, sourceLocation: SourceLocation = #_sourceLocation) {
    #expect(response.status.code == status, "body: \(response.text)", sourceLocation: sourceLocation)
    #expect(response.headers[.contentType] == "application/json", sourceLocation: sourceLocation)
    guard let object = response.jsonObject else {
        Issue.record("error body is not a JSON object: \(response.text)", sourceLocation: sourceLocation)
        return
    }
    #expect(object["error"] as? Bool == true, sourceLocation: sourceLocation)
    #expect(object["status"] as? Int == status, sourceLocation: sourceLocation)
    #expect((object["message"] as? String)?.isEmpty == false, sourceLocation: sourceLocation)
    #expect((object["reason"] as? String)?.isEmpty == false, sourceLocation: sourceLocation)
}

/// Runs `test` against the router built over `backend`.
func withRouter<Value>(
    _ backend: FakeBackend = FakeBackend(),
    _ test: @Sendable (any TestClientProtocol) async throws -> Value
) async throws -> Value {
    var logger = Logger(label: "hssapi-test")
    logger.logLevel = .critical  // backend-failure tests log errors on purpose
    let app = Application(router: HSSAPIServer.makeRouter(backend: backend, logger: logger))
    return try await app.test(.router, test)
}

func jsonBody(_ text: String) -> ByteBuffer { ByteBuffer(string: text) }
