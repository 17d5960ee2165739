import Foundation
import Testing
@testable import IMSStore

@Suite struct PathJSONTests {
    @Test func writesWhatJSONDecoderReadsBack() throws {
        let paths: [[String]] = [
            [], ["<sip:f-udp%3A127.0.0.1%3A5060@p.example:5060;lr>"], ["a", "b/c", "q\"uote", "back\\slash"],
            ["tab\tnew\nline\rcr", "\u{01}\u{1F}ctl", "ünïcödé", ""],
        ]
        for path in paths {
            let text = PathJSON.encode(path)
            #expect(try JSONDecoder().decode([String].self, from: Data(text.utf8)) == path)
            #expect(PathJSON.decode(text) == path)
        }
    }

    @Test func sameTextAsTheEncoderItReplaces() throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = .withoutEscapingSlashes
        for path in [["<sip:f-1@h;lr>", "<sip:orig@x:5060;lr;ob>"], ["a\"b\\c"], ["x\ny"]] {
            #expect(PathJSON.encode(path) == String(decoding: try encoder.encode(path), as: UTF8.self))
        }
    }
}
