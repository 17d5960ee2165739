import Foundation
import Testing
@testable import BGCF

/// A fresh temporary directory per test (tests run in parallel).
struct TempDir: ~Copyable {
    let path: String
    init() throws {
        path = FileManager.default.temporaryDirectory.appendingPathComponent("bgcf-tests-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }
    deinit { try? FileManager.default.removeItem(atPath: path) }
    func write(_ name: String, _ text: String) throws -> String {
        let file = path + "/" + name
        try Data(text.utf8).write(to: URL(fileURLWithPath: file))
        return file
    }
}

@Suite("RoutingTables.load")
struct LoadingTests {
    static let enumJSON = #"{"number_blocks": [{"name": "pa", "prefix": "+1650", "regex": "!^(.*)$!sip:\\1@example.com!"}]}"#
    static let bgcfJSON = #"{"routes": [{"name": "default", "domain": "*", "route": ["sip:ibcf.example.net;lr"]}]}"#

    @Test func bothFiles() throws {
        let dir = try TempDir()
        let t = try RoutingTables.load(enumPath: try dir.write("enum.json", Self.enumJSON),
                                       bgcfPath: try dir.write("bgcf.json", Self.bgcfJSON))
        #expect(t.enumTable.translate("+16505550002") == "sip:+16505550002@example.com")
        #expect(t.bgcfTable.route(number: "+44", domain: nil)?.name == "default")
    }

    @Test func nilPathsAndMissingFilesAreEmptyTables() throws {
        let dir = try TempDir()
        let none = try RoutingTables.load(enumPath: nil, bgcfPath: nil)
        #expect(none.enumTable.isEmpty && none.bgcfTable.isEmpty)
        let missing = try RoutingTables.load(enumPath: dir.path + "/nope/enum.json", bgcfPath: dir.path + "/bgcf.json")
        #expect(missing.enumTable.isEmpty && missing.bgcfTable.isEmpty)
        let onlyBGCF = try RoutingTables.load(enumPath: dir.path + "/enum.json", bgcfPath: try dir.write("bgcf.json", Self.bgcfJSON))
        #expect(onlyBGCF.enumTable.isEmpty && onlyBGCF.bgcfTable.routes.count == 1)
    }

    @Test func emptyFileIsAnErrorNamingTheFile() throws {
        let dir = try TempDir()
        let file = try dir.write("enum.json", "")
        #expect {
            _ = try RoutingTables.load(enumPath: file, bgcfPath: nil)
        } throws: { error in
            "\(error)" == "\(file): empty file (write {} or remove the file for an empty table)"
        }
        let empty = try RoutingTables.load(enumPath: try dir.write("enum2.json", "{}\n"), bgcfPath: nil)
        #expect(empty.enumTable.isEmpty)
    }

    @Test func invalidJSONGivesFileLineAndColumn() throws {
        let dir = try TempDir()
        let file = try dir.write("bgcf.json", "{\n  \"routes\": [\n    {\"domain\": \"*\" \"route\": []}\n  ]\n}\n")
        #expect {
            _ = try RoutingTables.load(enumPath: nil, bgcfPath: file)
        } throws: { error in
            let text = "\(error)"
            if !text.hasPrefix("\(file): invalid JSON at line 3, column ") { Issue.record("got: \(text)") }
            return text.hasPrefix("\(file): invalid JSON at line 3, column ")
        }
    }

    @Test func invalidEntryNamesFileAndEntry() throws {
        let dir = try TempDir()
        let enumFile = try dir.write("enum.json", Self.enumJSON)
        let bgcfFile = try dir.write("bgcf.json", #"{"routes": [{"domain": "*", "route": ["sip:a"]}, {"number": "+1", "route": ["nope"]}]}"#)
        do {
            _ = try RoutingTables.load(enumPath: enumFile, bgcfPath: bgcfFile)
            Issue.record("no error")
        } catch {
            #expect(error.file == bgcfFile)
            #expect(error.location == "routes[1].route[0]")
            #expect(error.description == "\(bgcfFile): routes[1].route[0]: \"nope\" is not a SIP URI")
        }
    }

    @Test func directoryIsAnError() throws {
        let dir = try TempDir()
        #expect {
            _ = try RoutingTables.load(enumPath: dir.path, bgcfPath: nil)
        } throws: { error in
            "\(error)" == "\(dir.path): is a directory"
        }
    }

    @Test func reloadReturnsANewValueAndFailureLeavesTheOldInForce() throws {
        let dir = try TempDir()
        let bgcf = try dir.write("bgcf.json", Self.bgcfJSON)
        var inForce = try RoutingTables.load(enumPath: nil, bgcfPath: bgcf)
        // The file is broken; the reload fails and the caller keeps what it had.
        _ = try dir.write("bgcf.json", #"{"routes": [{"domain": "*"}]}"#)
        do { inForce = try RoutingTables.load(enumPath: nil, bgcfPath: bgcf) } catch {
            #expect(error.description == "\(bgcf): routes[0].route: missing")
        }
        #expect(inForce.bgcfTable.route(number: nil, domain: nil)?.name == "default")
        // Fixed: the reload succeeds.
        _ = try dir.write("bgcf.json", #"{"routes": [{"name": "new", "domain": "*", "route": ["sip:b"]}]}"#)
        inForce = try RoutingTables.load(enumPath: nil, bgcfPath: bgcf)
        #expect(inForce.bgcfTable.route(number: nil, domain: nil)?.name == "new")
    }

    /// The sample files shipped in Resources load and mean what their comments say.
    @Test func resourceSamplesLoad() throws {
        let resources = URL(fileURLWithPath: #filePath).resolvingSymlinksInPath().deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("Resources").path
        let enumPath = resources + "/enum.json.example", bgcfPath = resources + "/bgcf.json.example"
        guard FileManager.default.fileExists(atPath: enumPath), FileManager.default.fileExists(atPath: bgcfPath) else {
            Issue.record("samples not found under \(resources)")
            return
        }
        let t = try RoutingTables.load(enumPath: enumPath, bgcfPath: bgcfPath)
        #expect(!t.enumTable.isEmpty)
        #expect(!t.bgcfTable.isEmpty)
        #expect(t.bgcfTable.route(number: nil, domain: nil) != nil)
    }
}
