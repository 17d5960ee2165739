import Testing
import SIPCore

/// Tags, branches and nonces come from the kernel's CSPRNG in blocks: every value is handed out once,
/// across refills and threads.
@Suite struct SecureRandomTests {
    @Test func valuesAreDistinctAcrossRefillsAndLookRandom() {
        var rng = SecureRandom()
        var seen = Set<UInt64>()
        var ones = 0
        let n = 5_000   // ten blocks of 512
        for _ in 0..<n {
            let v = rng.next()
            seen.insert(v)
            ones += v.nonzeroBitCount
        }
        #expect(seen.count == n)
        // 320,000 bits: the share of ones is within a few standard deviations (~0.09 %) of a half.
        let share = Double(ones) / Double(n * 64)
        #expect(abs(share - 0.5) < 0.005)
    }

    @Test func concurrentDrawsNeverRepeat() async {
        let draws = await withTaskGroup(of: [UInt64].self) { group in
            for _ in 0..<4 {
                group.addTask {
                    var rng = SecureRandom()
                    return (0..<2_000).map { _ in rng.next() }
                }
            }
            var all: [UInt64] = []
            for await part in group { all += part }
            return all
        }
        #expect(draws.count == 8_000 && Set(draws).count == 8_000)
    }
}
