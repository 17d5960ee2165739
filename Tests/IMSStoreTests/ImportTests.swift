import Foundation
import Testing
@testable import IMSStore

@Suite struct ImportTests {
    @Test func goodFile() async throws {
        try await withStore { store, directory in
            let path = try writeFile(directory, "import.csv", """
                \u{FEFF}public_id,private_id,realm,password\r
                # Clearwater bulk format\r
                sip:6505550001@example.com,6505550001@example.com,example.com,secret1\r
                \r
                  sip:6505550002@Example.COM , 6505550002@example.com ,, "pa,ss""word"\r
                tel:+16505550001,6505550001@example.com,example.com,secret1
                "sip:6505550003@example.com","6505550003@example.com","example.com","x"
                """)
            let summary = try await store.importCSV(path: path, homeDomain: "example.com", hashing: fakeHA1)
            #expect(summary == ImportSummary(subscribers: 3, publicIdentities: 4))

            let all = try await store.loadAll()
            #expect(all.map(\.impi) == ["6505550001@example.com", "6505550002@example.com", "6505550003@example.com"])
            #expect(all[0].implicitRegistrationSets.count == 1)
            #expect(all[0].publicIdentities == ["sip:6505550001@example.com", "tel:+16505550001"])
            #expect(all[1].publicIdentities == ["sip:6505550002@example.com"])
            #expect(all[1].realm == "example.com")  // empty realm = home domain
            let expected = fakeHA1(impi: "6505550002@example.com", realm: "example.com", password: "pa,ss\"word")
            #expect(all[1].ha1MD5 == expected.md5)
            #expect(all[1].ha1SHA256 == expected.sha256)
            // The user-part HA1s the hashing function gave are stored (hex lower-cased) and read back.
            #expect(all[1].userPartHA1MD5 == expected.userMD5?.lowercased())
            #expect(all[1].userPartHA1SHA256 == nil)
            #expect(all[1].plaintextPassword == nil)

            let (_, changes) = try await store.changes(after: 0)
            #expect(changes.map(\.kind) == [.bulk])
            #expect(changes.first?.key == path)
        }
    }

    @Test func badLineNamesTheLineAndWritesNothing() async throws {
        try await withStore { store, directory in
            var lines = (1...20).map { "sip:65055500\(String(format: "%02d", $0))@example.com,u\($0)@example.com,example.com,pw" }
            lines[16] = "foo,u17@example.com,example.com,pw"  // line 17
            let path = try writeFile(directory, "import.csv", lines.joined(separator: "\n") + "\n")
            let error = await storeError {
                try await store.importCSV(path: path, homeDomain: "example.com", hashing: fakeHA1)
            }
            #expect(error?.description == "\(path):17: public id \"foo\" is not a SIP URI")
            #expect(try await store.subscriberCount() == 0)
            #expect(try await store.latestChangeSeq() == 0)
        }
    }

    @Test(arguments: [
        ("sip:a@example.com,a@example.com,example.com", "2: expected 4 fields (public id, private id, realm, password), found 3"),
        ("sip:a@example.com,a@example.com,example.com,pw,extra", "2: expected 4 fields (public id, private id, realm, password), found 5"),
        ("sip:a@example.com,,example.com,pw", "2: private id is empty"),
        ("sip:a@example.com,a b,example.com,pw", "2: private id \"a b\" may not contain spaces, quotes, backslashes or control characters"),
        ("sip:a@example.com,a@example.com,example.com,", "2: the password for a@example.com is empty"),
        ("sip:a@example.com,a@example.com,example.com,\"pw", "2: field 4 has an unterminated quote"),
        ("sip:a@example.com,a@example.com,example.com,\"pw\"x", "2: field 4 has text after its closing quote"),
        ("sip:a@example.com,a@example.com,example.com,p\"w", "2: field 4 has a quote inside an unquoted value"),
        ("sip:0@example.com,0@example.com,example.com,pw", "2: public id sip:0@example.com is also on line 1"),
        ("sip:b@example.com,0@example.com,example.com,other", "2: private id 0@example.com has a different realm or password on line 1"),
        ("sip:b@example.com,0@example.com,other.example,pw", "2: private id 0@example.com has a different realm or password on line 1"),
    ])
    func badRows(row: String, message: String) async throws {
        try await withStore { store, directory in
            let path = try writeFile(directory, "bad.csv", "sip:0@example.com,0@example.com,example.com,pw\n\(row)\n")
            let error = await storeError {
                try await store.importCSV(path: path, homeDomain: "example.com", hashing: fakeHA1)
            }
            #expect(error?.description == "\(path):\(message)")
            #expect(try await store.subscriberCount() == 0)
        }
    }

    @Test func duplicatesAgainstTheDatabase() async throws {
        try await withStore { store, directory in
            try await store.addSubscriber(subscriber("6505550005"))
            let seq = try await store.latestChangeSeq()
            let byPublicID = try writeFile(directory, "a.csv", """
                sip:6505550001@example.com,6505550001@example.com,example.com,pw
                sip:6505550005@EXAMPLE.com,new@example.com,example.com,pw
                """)
            #expect(await storeError {
                try await store.importCSV(path: byPublicID, homeDomain: "example.com", hashing: fakeHA1)
            }?.description == "\(byPublicID):2: subscriber sip:6505550005@example.com already exists")

            let byPrivateID = try writeFile(directory, "b.csv", """
                sip:6505550001@example.com,6505550001@example.com,example.com,pw
                sip:6505550006@example.com,6505550005@example.com,example.com,pw
                """)
            #expect(await storeError {
                try await store.importCSV(path: byPrivateID, homeDomain: "example.com", hashing: fakeHA1)
            }?.description == "\(byPrivateID):2: private id 6505550005@example.com already exists")

            #expect(try await store.subscriberCount() == 1)
            #expect(try await store.latestChangeSeq() == seq)
        }
    }

    @Test func unreadableOrEmptyFiles() async throws {
        try await withStore { store, directory in
            let missing = directory + "/missing.csv"
            let error = await storeError {
                try await store.importCSV(path: missing, homeDomain: "example.com", hashing: fakeHA1)
            }
            #expect(error?.description == "\(missing): cannot read the file: no such file")
            #expect(await storeError {
                try await store.importCSV(path: directory, homeDomain: "example.com", hashing: fakeHA1)
            }?.description == "\(directory): cannot read the file: it is a directory")
            let empty = try writeFile(directory, "empty.csv", "# nothing\n\n")
            #expect(await storeError {
                try await store.importCSV(path: empty, homeDomain: "example.com", hashing: fakeHA1)
            }?.description == "\(empty): no subscriber rows (expected lines of public id,private id,realm,password)")
            let binary = directory + "/binary.csv"
            try Data([0x73, 0x69, 0x70, 0xFF, 0xFE, 0x0A]).write(to: URL(fileURLWithPath: binary))
            #expect(await storeError {
                try await store.importCSV(path: binary, homeDomain: "example.com", hashing: fakeHA1)
            }?.description == "\(binary): the file is not UTF-8 text")
        }
    }

    @Test func hundredThousandRows() async throws {
        try await withStore { store, directory in
            var text = "public id,private id,realm,password\n"
            text.reserveCapacity(100_000 * 90)
            for i in 0..<100_000 {
                let number = 6_505_550_000 + i
                text += "sip:\(number)@example.com,\(number)@example.com,example.com,pw\(i)\n"
            }
            let path = try writeFile(directory, "100k.csv", text)
            let clock = ContinuousClock()
            var summary: ImportSummary?
            let importTime = try await clock.measure {
                summary = try await store.importCSV(path: path, homeDomain: "example.com", hashing: fakeHA1)
            }
            #expect(summary?.subscribers == 100_000)
            var all: [SubscriberRecord] = []
            let loadTime = try await clock.measure { all = try await store.loadAll() }
            #expect(all.count == 100_000)
            #expect(all.allSatisfy { $0.publicIdentities.count == 1 })
            let page = try await store.listSubscribers(limit: 2, offset: 50_000)
            #expect(page.map(\.impi) == ["6505600000@example.com", "6505600001@example.com"])
            print("IMSStore: imported 100000 rows in \(importTime), loadAll of 100000 in \(loadTime)")
        }
    }

    @Test func fieldSplitting() throws {
        func split(_ line: String) throws -> [String] { try CSVImport.splitFields(ArraySlice(Array(line.utf8))) }
        #expect(try split("a,b,c,d") == ["a", "b", "c", "d"])
        #expect(try split(" a ,\tb\t, c,d ") == ["a", "b", "c", "d"])
        #expect(try split("\"a,1\" , \"\"\"q\"\"\",,") == ["a,1", "\"q\"", "", ""])
        #expect(try split("") == [""])
        #expect(try split("é,ü") == ["é", "ü"])
    }
}
