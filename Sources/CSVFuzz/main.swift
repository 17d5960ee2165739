// libFuzzer harness for the bulk-provisioning CSV parser (`cw-aio subscriber import`) and the identity
// syntax checks behind it. Built normally it is an executable that does nothing; built with
// `--sanitize=fuzzer` libFuzzer supplies `main` and calls `LLVMFuzzerTestOneInput` for every input.
// Refusing a file is fine; crashes (including traps on arithmetic overflow), an accepted plan that breaks
// the store's invariants (what SQLite would then compare byte for byte) or that does not survive being
// written back out as CSV and parsed again are findings.
import ProvisioningCSV

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    CSVFuzzChecks.file(bytes)
    CSVFuzzChecks.lines(bytes)
    return 0
}

enum CSVFuzzChecks {
    static let name = "fuzz.csv"
    static let homeDomain = "example.com"

    static func file(_ bytes: [UInt8]) {
        let plan: [SubscriberCSV.Subscriber]
        do {
            plan = try SubscriberCSV.plan(bytes, name: name, homeDomain: homeDomain)
        } catch {
            check(error.location == name || error.location.hasPrefix(name + ":"), "error location \(error.location)")
            check(!error.reason.isEmpty, "empty error reason")
            return
        }
        check(!plan.isEmpty, "an accepted file without subscribers")
        var impis = Set<[UInt8]>(), impiStrings = Set<String>(), impus = Set<[UInt8]>()
        var previousLine = 0
        for s in plan {
            check(ProvisioningSyntax.identityProblem(s.impi, what: "private id") == nil, "bad impi \(s.impi)")
            check(ProvisioningSyntax.identityProblem(s.realm, what: "realm") == nil, "bad realm \(s.realm)")
            check(!s.password.isEmpty, "empty password for \(s.impi)")
            check(s.line > previousLine, "subscribers out of file order at line \(s.line)")
            previousLine = s.line
            // Distinct for SQLite (bytes) and for the in-memory HSS cache (Swift string equality).
            check(impis.insert(Array(s.impi.utf8)).inserted, "private id \(s.impi) twice")
            check(impiStrings.insert(s.impi).inserted, "private ids equal under Unicode normalization: \(s.impi)")
            check(!s.publicIdentities.isEmpty && s.publicIdentities[0].line == s.line, "first public id of \(s.impi)")
            var line = 0
            for p in s.publicIdentities {
                check(p.line > line, "public ids of \(s.impi) out of order")
                line = p.line
                check(ProvisioningSyntax.publicIdentity(p.impu) == p.impu, "public id \(p.impu) not canonical")
                check(p.impu.utf8.allSatisfy { $0 > 0x20 && $0 < 0x7F }, "public id \(p.impu) not printable ASCII")
                check(impus.insert(Array(p.impu.utf8)).inserted, "public id \(p.impu) twice")
                _ = ProvisioningSyntax.directoryNumber(ofPublicIdentity: p.impu)
            }
        }
        // Written back out (every field quoted, one row per public id) it parses to the same plan.
        var text = "public id,private id,realm,password\n"
        for s in plan {
            for p in s.publicIdentities {
                text += SubscriberCSV.quotedLine([p.impu, s.impi, s.realm, s.password]) + "\n"
            }
        }
        let again: [SubscriberCSV.Subscriber]
        do {
            again = try SubscriberCSV.plan(Array(text.utf8), name: name, homeDomain: "other.example")
        } catch {
            fatalError("the written-back plan is refused: \(error.location): \(error.reason)")
        }
        check(again.count == plan.count, "round trip changed the subscriber count")
        for (a, b) in zip(plan, again) {
            check(a.impi.utf8.elementsEqual(b.impi.utf8) && a.realm.utf8.elementsEqual(b.realm.utf8)
                      && a.password.utf8.elementsEqual(b.password.utf8), "round trip changed \(a.impi)")
            check(a.publicIdentities.map(\.impu) == b.publicIdentities.map(\.impu), "round trip changed the ids of \(a.impi)")
        }
    }

    /// Every line on its own: whatever splits, quoted back, splits to the same fields.
    static func lines(_ bytes: [UInt8]) {
        for line in bytes.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false).prefix(64) {
            guard let fields = try? SubscriberCSV.splitFields(line) else { continue }
            check(!fields.isEmpty, "no fields")
            let quoted = Array(SubscriberCSV.quotedLine(fields).utf8)
            guard let back = try? SubscriberCSV.splitFields(quoted[...]) else {
                fatalError("quoted line does not split: \(fields)")
            }
            check(back.count == fields.count && zip(back, fields).allSatisfy { $0.utf8.elementsEqual($1.utf8) },
                  "quoted round trip: \(fields) -> \(back)")
        }
        _ = ProvisioningSyntax.publicIdentity(String(decoding: bytes.prefix(512), as: UTF8.self))
    }

    static func check(_ condition: Bool, _ message: @autoclosure () -> String) {
        if !condition { fatalError(message()) }
    }
}
