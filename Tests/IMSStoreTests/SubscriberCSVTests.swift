import Foundation
import ProvisioningCSV
import Testing
@testable import IMSStore

/// The pure CSV parser (ProvisioningCSV, fuzzed by CSVFuzz) and what the store does with its verdicts.
@Suite struct SubscriberCSVTests {
    func plan(_ text: String) throws(SubscriberCSV.Failure) -> [SubscriberCSV.Subscriber] {
        try SubscriberCSV.plan(Array(text.utf8), name: "t.csv", homeDomain: "example.com")
    }

    func failure(_ text: String) -> SubscriberCSV.Failure? {
        do {
            _ = try plan(text)
            return nil
        } catch {
            return error
        }
    }

    @Test func rowsGroupByPrivateID() throws {
        let subscribers = try plan("""
            sip:1@example.com,a@example.com,,pw
            sip:2@example.com,b@example.com,example.com,pw2
            tel:+15551234,a@example.com,example.com,pw
            """)
        #expect(subscribers.map(\.impi) == ["a@example.com", "b@example.com"])
        #expect(subscribers[0].publicIdentities == [.init(impu: "sip:1@example.com", line: 1),
                                                    .init(impu: "tel:+15551234", line: 3)])
        #expect(subscribers[0].realm == "example.com")
    }

    // Regression: Swift compares strings by Unicode canonical equivalence, SQLite byte by byte. A private
    // id spelled "é" (U+00E9) on one row and "e" + U+0301 on another was merged into one subscriber
    // under the first spelling, and a password differing only in normalization was taken as equal
    // although its HA1 differs (found by review while writing CSVFuzz's invariants).
    @Test func privateIDsDifferingOnlyInNormalizationAreRefused() {
        let composed = "sip:1@example.com,r\u{E9}mi@example.com,example.com,pw"
        let decomposed = "sip:2@example.com,re\u{301}mi@example.com,example.com,pw"
        #expect(failure(composed + "\n" + decomposed) == SubscriberCSV.Failure(
            location: "t.csv:2",
            reason: "private id re\u{301}mi@example.com differs from the one on line 1 only in Unicode normalization"))
    }

    @Test func passwordsAndRealmsAreComparedByteForByte() {
        let first = "sip:1@example.com,a@example.com,example.com,caf\u{E9}"
        let second = "sip:2@example.com,a@example.com,example.com,cafe\u{301}"
        #expect(failure(first + "\n" + second)?.reason == "private id a@example.com has a different realm or password on line 1")
        let realm1 = "sip:1@example.com,a@example.com,\u{E9}.example,pw"
        let realm2 = "sip:2@example.com,a@example.com,e\u{301}.example,pw"
        #expect(failure(realm1 + "\n" + realm2)?.reason == "private id a@example.com has a different realm or password on line 1")
        // The same bytes twice are one subscriber with two public ids.
        #expect((try? plan(first + "\n" + "sip:2@example.com,a@example.com,example.com,caf\u{E9}"))?.first?
            .publicIdentities.count == 2)
    }

    @Test func quotedLineRoundTrips() throws {
        // The last two: a quote followed by a combining mark (U+07AC, U+0301) is one Character, and
        // must still be doubled (CSVFuzz finding crash-7a8b3a60, its fields verbatim).
        for fields in [["a", "b"], ["", " x ", "\"q\"", "a,b"], ["\t\r", "é"],
                       ["\u{01}", "\"", "\"\u{07AC}\"\",\"\"si\"", "\""], ["\"\u{301}", "x\"\u{301}\""]] {
            let line = SubscriberCSV.quotedLine(fields)
            #expect(try SubscriberCSV.splitFields(ArraySlice(Array(line.utf8))) == fields)
        }
    }

    @Test func storeRefusesTheWholeFile() async throws {
        try await withStore { store, directory in
            let path = try writeFile(directory, "nfc.csv", """
                sip:1@example.com,r\u{E9}mi@example.com,example.com,pw
                sip:2@example.com,re\u{301}mi@example.com,example.com,pw
                """)
            let error = await storeError {
                try await store.importCSV(path: path, homeDomain: "example.com", hashing: fakeHA1)
            }
            #expect(error == .importFailed(location: "\(path):2", reason:
                "private id re\u{301}mi@example.com differs from the one on line 1 only in Unicode normalization"))
            #expect(try await store.subscriberCount() == 0)
        }
    }
}
