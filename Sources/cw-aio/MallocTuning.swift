#if os(Linux)
import Glibc

/// glibc's per-thread cache of freed blocks (tcache) holds 7 blocks per size by default. The SIP
/// thread allocates and frees in bursts (a read batch of up to 64 datagrams, each parsed into a few
/// dozen small objects, then their answers), so most frees overflow it into the arena's bins and
/// most allocations come back through `_int_malloc`, `unlink_chunk` and `malloc_consolidate`: ~20 %
/// of the thread's time under a 3x REGISTER flood (perf). With 256 blocks per size the bursts stay
/// in the cache. Single bench runs are noisy: the flood after the ramp read 78-92 % of the peak in
/// the runs before, 87-99 % in those after (and 91 % with the tunable set by hand); idle and
/// registered RSS unchanged.
///
/// The cache size is a glibc tunable, read from the environment when the process starts and
/// nowhere else, so the process sets it and re-executes itself once (same PID, same arguments)
/// unless GLIBC_TUNABLES already names it (the operator's choice wins). Where exec fails, it goes
/// on with glibc's defaults.
enum MallocTuning {
    static let tunable = "glibc.malloc.tcache_count=256"

    static func applyByReexecuting() {
        let current = getenv("GLIBC_TUNABLES").map { String(cString: $0) }
        if let current, current.contains("glibc.malloc.tcache_count") { return }
        // Under valgrind /proc/self/exe is the valgrind tool, which refuses to be run directly: the
        // process would end there (the callgrind profile script's server answered nothing).
        if getenv("VALGRIND_LAUNCHER") != nil { return }
        let value = current.map { $0.isEmpty ? tunable : $0 + ":" + tunable } ?? tunable
        guard setenv("GLIBC_TUNABLES", value, 1) == 0 else { return }
        _ = execv("/proc/self/exe", CommandLine.unsafeArgv)
        // Still here: exec failed (no /proc, say). Nothing is lost but the tuning.
    }
}
#endif
