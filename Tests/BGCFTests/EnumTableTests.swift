import Foundation
import Testing
@testable import BGCF

@Suite("NAPTRRegex")
struct NAPTRRegexTests {
    @Test(arguments: [
        ("!(^.*$)!sip:\\1@example.com!", "+16505550002", "sip:+16505550002@example.com"),
        ("!^\\+1(650)(555)(.*)$!sip:\\3-\\2-\\1@example.com!", "+16505550002", "sip:0002-555-650@example.com"),
        ("!^\\+(.*)$!tel:+\\1!", "+16505550002", "tel:+16505550002"),
        ("/^.*$/sip:fixed@example.com/", "+1650", "sip:fixed@example.com"),
        // Only the first match's replacement is the result: text outside the match is not copied.
        ("!555!X!", "+16505550002", "X"),
        ("!^\\+1650!!", "+16505550002", ""),
        // \<delim> inside the expression is the delimiter; \\ is a backslash; $ is literal.
        ("!^(.*)$!sip:\\1\\!x@example.com!", "123", "sip:123!x@example.com"),
        ("|^(a\\|b)$|\\1\\\\\\1|", "b", "b\\b"),
        ("!^(.*)$!$1\\1$!", "42", "$142$"),
        ("!^ABC(.*)$!\\1!i", "abc9", "9"),
        ("!(1)(2)(3)(4)(5)(6)(7)(8)(9)!\\9\\8\\7\\6\\5\\4\\3\\2\\1!", "123456789", "987654321"),
        ("!^(.*)$!\\0\\1!", "7", "07"),
    ])
    func substitution(expression: String, input: String, output: String) throws {
        let r = try NAPTRRegex(expression)
        #expect(r.apply(to: input) == output)
    }

    @Test func noMatchIsNil() throws {
        #expect(try NAPTRRegex("!^\\+44(.*)$!sip:\\1@uk!").apply(to: "+16505550002") == nil)
        #expect(try NAPTRRegex("!^abc$!x!").apply(to: "ABC") == nil)
    }

    @Test func parts() throws {
        let r = try NAPTRRegex("#^(.*)$#sip:\\1@example.com#i")
        #expect(r.pattern == "^(.*)$")
        #expect(r.replacement == "sip:\\1@example.com")
        #expect(r.caseInsensitive)
        #expect(r.description == "#^(.*)$#sip:\\1@example.com#i")
    }

    @Test(arguments: [
        ("", "not of the form"), ("!", "not of the form"), ("!abc!", "not of the form"), ("!a!b", "not of the form"),
        ("!a!b!c!", "not of the form"), ("1a1b1", "not of the form"), ("\\a\\b\\", "not of the form"),
        ("iaibi", "not of the form"), (" a b ", "not of the form"),
        ("!a!b!x", "unknown flags \"x\""), ("!a!b!ii", "unknown flags"),
        ("!!b!", "empty pattern"), ("!(!b!", "invalid regular expression \"(\""),
        ("!(a)!\\2!", "back-reference \\2 but the pattern has 1 capture group"),
        ("!a!\\1!", "back-reference \\1 but the pattern has 0 capture groups"),
        ("!a!b\\!", "not of the form"),
        ("!a!b\\", "not of the form"),
    ])
    func invalid(expression: String, message: String) {
        #expect {
            _ = try NAPTRRegex(expression)
        } throws: { error in
            (error as? NAPTRRegex.ParseError)?.message.contains(message) == true
        }
    }
}

@Suite("EnumTable")
struct EnumTableTests {
    static let sample = """
        {
          "_comment": "test table",
          "number_blocks": [
            {"name": "US", "prefix": "+1", "regex": "!^(.*)$!sip:\\\\1@us.example.net!"},
            {"name": "Palo Alto", "prefix": "+1 650", "regex": "!^(.*)$!sip:\\\\1@pa.example.net!"},
            {"name": "Office", "prefix": "+1-650-555", "regex": "!^\\\\+1650555(\\\\d{4})$!sip:office-\\\\1@example.com!",
             "_note": "ignored"},
            {"name": "Blocked", "prefix": "+1900", "regex": "!^.*$!!"},
            {"prefix": "", "regex": "!^([0-9]+)$!sip:\\\\1@local.example.com!"}
          ]
        }
        """

    func table() throws -> EnumTable { try EnumTable(json: Data(Self.sample.utf8)) }

    @Test func longestPrefixWins() throws {
        let t = try table()
        #expect(t.blocks.count == 5)
        #expect(t.translate("+16505550002") == "sip:office-0002@example.com")
        #expect(t.translate("+16505560002") == "sip:+16505560002@pa.example.net")
        #expect(t.translate("+12125550002") == "sip:+12125550002@us.example.net")
        #expect(t.block(for: "+16505550002")?.name == "Office")
        #expect(t.block(for: "+1650")?.name == "Palo Alto")
        #expect(t.block(for: "+165")?.name == "US")
    }

    @Test func prefixesAreLiteralOnCanonicalDigits() throws {
        let t = try table()
        // "16505550002" without "+" only matches the empty catch-all prefix.
        #expect(t.translate("16505550002") == "sip:16505550002@local.example.com")
        #expect(t.block(for: "16505550002")?.name == "*")
        // Dialled forms are canonicalised before the look-up.
        #expect(t.translate("+1 (650) 555-0002") == "sip:office-0002@example.com")
        #expect(t.translate(NumberNormalizer.normalize(dialled: "+1 650 555 0002")!) == "sip:office-0002@example.com")
    }

    @Test func longestBlockWhosePatternDoesNotMatchGivesNil() throws {
        // "+1650555" claims the number but its pattern wants exactly four more digits; shorter blocks are not tried.
        #expect(try table().translate("+165055500021") == nil)
    }

    @Test func emptyReplacementMapsToNothing() throws {
        #expect(try table().translate("+19005550000") == "")
    }

    @Test func emptyTable() throws {
        #expect(EnumTable.empty.translate("+16505550002") == nil)
        #expect(EnumTable.empty.isEmpty)
        #expect(try EnumTable(json: Data("{}".utf8)).isEmpty)
        #expect(try EnumTable(json: Data(#"{"number_blocks": []}"#.utf8)).isEmpty)
        #expect(try EnumTable(json: Data(#"{"number_blocks": null, "_x": 1}"#.utf8)).isEmpty)
        // Without a catch-all, an unmatched number has no translation.
        let t = try EnumTable(json: Data(#"{"number_blocks": [{"prefix": "+44", "regex": "!.*!x!"}]}"#.utf8))
        #expect(t.translate("+16505550002") == nil)
        #expect(t.blocks[0].name == "+44")
    }

    @Test(arguments: [
        (#"{"number_blocks": [{"prefix": "+1", "regex": "!a!b!"}, {"prefix": "+2", "regex": "!a!b!"}, {"prefix": "+3", "regex": "abc"}]}"#,
         "enum.json: number_blocks[2].regex: not of the form !pattern!replacement! (got \"abc\")"),
        (#"{"number_blocks": [{"prefix": "+1", "regex": "!(!b!"}]}"#,
         "enum.json: number_blocks[0].regex: invalid regular expression \"(\""),
        (#"{"number_blocks": [{"prefix": "+1", "regex": "!(a)!\\3!"}]}"#,
         "enum.json: number_blocks[0].regex: back-reference \\3 but the pattern has 1 capture group"),
        (#"{"number_blocks": [{"prefix": "+1"}]}"#, "enum.json: number_blocks[0].regex: missing"),
        (#"{"number_blocks": [{"regex": "!a!b!"}]}"#, "enum.json: number_blocks[0].prefix: missing"),
        (#"{"number_blocks": [{"prefix": 1650, "regex": "!a!b!"}]}"#, "enum.json: number_blocks[0].prefix: expected a string"),
        (#"{"number_blocks": [{"prefix": "+1", "regex": "!a!b!", "name": 7}]}"#, "enum.json: number_blocks[0].name: expected a string"),
        (#"{"number_blocks": [{"prefix": "+1x", "regex": "!a!b!"}]}"#,
         "enum.json: number_blocks[0].prefix: \"+1x\" is not a number prefix (digits with an optional leading +)"),
        (#"{"number_blocks": [{"prefix": "+1", "regx": "!a!b!"}]}"#,
         "enum.json: number_blocks[0]: unknown key \"regx\" (expected \"name\", \"prefix\", \"regex\"; keys starting with _ are ignored)"),
        (#"{"number_blocks": [{"prefix": "+1-650", "regex": "!a!b!"}, {"prefix": "+1650", "regex": "!a!c!"}]}"#,
         "enum.json: number_blocks[1].prefix: duplicate of number_blocks[0] (\"+1650\")"),
        (#"{"number_blocks": ["+1650"]}"#, "enum.json: number_blocks[0]: expected an object"),
        (#"{"number_blocks": {}}"#, "enum.json: number_blocks: expected an array"),
        (#"{"numberblocks": []}"#, "enum.json: unknown key \"numberblocks\" (expected \"number_blocks\"; keys starting with _ are ignored)"),
        (#"[]"#, "enum.json: expected a JSON object at the top level"),
        ("  \n", "enum.json: empty file (write {} or remove the file for an empty table)"),
        ("{\n  \"number_blocks\": [\n    {\"prefix\": \"+1\",, }\n  ]\n}", "enum.json: invalid JSON at line 3, column 21"),
    ])
    func invalid(json: String, message: String) {
        #expect {
            _ = try EnumTable(json: Data(json.utf8))
        } throws: { error in
            let text = (error as? RoutingConfigError)?.description ?? "\(error)"
            if !text.hasPrefix(message) { Issue.record("got: \(text)") }
            return text.hasPrefix(message)
        }
    }

    @Test func errorCarriesFileAndLocation() {
        do {
            _ = try EnumTable(json: Data(#"{"number_blocks": [{"prefix": "+1", "regex": "x"}]}"#.utf8), file: "/etc/cw/enum.json")
            Issue.record("no error")
        } catch {
            #expect(error.file == "/etc/cw/enum.json")
            #expect(error.location == "number_blocks[0].regex")
            #expect(error.description.hasPrefix("/etc/cw/enum.json: number_blocks[0].regex: not of the form"))
        }
    }

    @Test func programmaticTableRejectsDuplicates() throws {
        let r = try NAPTRRegex("!a!b!")
        #expect(throws: RoutingConfigError.self) {
            _ = try EnumTable(blocks: [EnumNumberBlock(name: "a", prefix: "+1", regex: r),
                                       EnumNumberBlock(name: "b", prefix: "+1", regex: r)])
        }
    }
}
