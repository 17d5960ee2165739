import Testing
import SIPCore

/// `ByteSplitter` cuts where the parser does: at delimiter bytes, even when a combining mark follows.
@Suite("ByteSplitter: header text split and trimmed on UTF-8 bytes")
struct ByteSplitterTests {
    static func bytes(_ pieces: [Substring]) -> [[UInt8]] { pieces.map { Array($0.utf8) } }

    @Test func delimiterFollowedByCombiningMarkIsADelimiter() {
        // ",\u{0301}" and ";\u{0301}" are single Characters: the Character split does not cut there.
        #expect("a,\u{0301}b".split(separator: ",").count == 1)
        #expect(Self.bytes(ByteSplitter.split("a,\u{0301}b", on: UInt8(ascii: ","))) == [Array("a".utf8), Array("\u{0301}b".utf8)])
        #expect(Self.bytes(ByteSplitter.split("reg;\u{0301}id=1", on: UInt8(ascii: ";"))) == [Array("reg".utf8), Array("\u{0301}id=1".utf8)])
        // Also from a Substring, and with maxSplits.
        let sub = "x|1=\u{0301}2=3".split(separator: "|")[1]
        #expect(Self.bytes(ByteSplitter.split(sub, on: UInt8(ascii: "="), maxSplits: 1)) == [Array("1".utf8), Array("\u{0301}2=3".utf8)])
    }

    @Test(arguments: ["", ",", ";;", "a", "a,b", ",a,,b,", " a , b ", "a=b=c", "application/sdp;charset=utf-8", "é,ü"])
    func sameAsStandardSplitOnOrdinaryText(_ text: String) {
        for delimiter in [",", ";", "="] as [Character] {
            for maxSplits in [0, 1, 2, Int.max] {
                for omitting in [true, false] {
                    let expected = text.split(separator: delimiter, maxSplits: maxSplits, omittingEmptySubsequences: omitting).map(String.init)
                    let got = ByteSplitter.split(text, on: delimiter.asciiValue!, maxSplits: maxSplits, omittingEmptySubsequences: omitting)
                    #expect(got.map(String.init) == expected, "\(text) on \(delimiter) maxSplits \(maxSplits) omitting \(omitting)")
                }
            }
        }
    }

    @Test func trimsSpaceBytes() {
        #expect(ByteSplitter.trimmingWSP(" \t reg \t") == "reg")
        #expect(ByteSplitter.trimmingWSP("   ") == "")
        #expect(ByteSplitter.trimmingWSP("a b") == "a b")
        // " \u{0301}" is one Character, but its space is still a space.
        #expect(Array(ByteSplitter.trimmingWSP(" \u{0301}x ").utf8) == Array("\u{0301}x".utf8))
    }
}
