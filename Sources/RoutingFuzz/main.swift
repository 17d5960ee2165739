// libFuzzer harness for BGCF: the ENUM and BGCF JSON tables, NAPTR regex substitution and dialled-number
// normalisation. Built normally it is an executable that does nothing; built with `--sanitize=fuzzer`
// libFuzzer supplies `main` and calls `LLVMFuzzerTestOneInput` for every input. Errors are fine; crashes
// and broken invariants (checked below) are findings.
import BGCF
import Foundation
import SIPCore

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = Data(UnsafeBufferPointer(start: data, count: size))
    let text = String(decoding: bytes, as: UTF8.self)
    // Text before the first NUL is a NAPTR regex (or a table), the rest the numbers to look up, one a line.
    let parts = text.split(separator: "\0", maxSplits: 1, omittingEmptySubsequences: false)
    let head = String(parts[0])
    let numbers = (parts.count > 1 ? parts[1].split(separator: "\n").map(String.init) : [head]).prefix(8)

    let enumTable = try? EnumTable(json: bytes)
    let bgcfTable = try? BGCFTable(json: bytes)
    if parts.count > 1 {
        _ = try? EnumTable(json: Data(head.utf8))
        _ = try? BGCFTable(json: Data(head.utf8))
    }
    // ICU regex cost grows fast with pattern length; config patterns are short.
    let regex = head.utf8.count <= 256 ? try? NAPTRRegex(head) : nil

    for n in numbers {
        RoutingFuzzChecks.number(n)
        if let regex { _ = regex.apply(to: String(n.prefix(64))) }
        if let enumTable {
            _ = enumTable.translate(String(n.prefix(64)))
            if let d = NumberNormalizer.normalize(dialled: n) { _ = enumTable.translate(d) }
        }
        if let bgcfTable { _ = bgcfTable.route(number: n, domain: n) }
    }
    if let enumTable { for b in enumTable.blocks { _ = b.description } }
    if let bgcfTable { for r in bgcfTable.routes { _ = r.description } }
    return 0
}

enum RoutingFuzzChecks {
    static func number(_ n: String) {
        if let d = NumberNormalizer.normalize(dialled: n) {
            _ = (d.isGlobal, d.digitsWithoutPlus, d.description)
            // Canonical digits are a fixed point.
            guard let again = NumberNormalizer.normalize(dialled: d.digits), again == d else {
                fatalError("normalize(dialled:) not idempotent: \(n) -> \(d.digits)")
            }
            let uri = NumberNormalizer.toHomeSIPURI(d, homeDomain: "ims.example.org")
            guard let parsed = try? URI(parsing: uri) else { fatalError("home SIP URI does not parse: \(uri)") }
            guard NumberNormalizer.normalize(uri: parsed, homeDomain: "ims.example.org") == d else {
                fatalError("home SIP URI does not normalise back: \(uri)")
            }
        }
        if let uri = try? URI(parsing: n) { _ = NumberNormalizer.normalize(uri: uri, homeDomain: "ims.example.org") }
    }
}
