#if os(Linux)
import Glibc
#endif

/// Hands memory the process no longer uses back to the kernel.
enum MemoryTrim {
    /// glibc keeps freed memory in its arenas; after a bulk load (the HSS snapshot) or a burst
    /// (thousands of completed transactions expiring together) most of it is free but still
    /// resident, so RSS would stay at the high-water mark for good.
    static func release() {
        #if os(Linux)
        _ = glibcMallocTrim(0)
        #endif
    }

    /// What ``releaseStartupPages()`` did: resident set before and after, in bytes.
    struct StartupRelease: Sendable {
        var residentBefore: Int
        var residentAfter: Int
        var mappings: Int
    }

    /// Once start-up is over: heap trim, then the code and read-only data pages that only start-up
    /// touched are returned to the kernel with `madvise(MADV_PAGEOUT)` (Linux 5.4+).
    ///
    /// Why: the binary links Foundation, BoringSSL, GRDB, NIO and Hummingbird statically (one file,
    /// no relocation of shared libraries), and start-up runs through much of it once (argument
    /// parsing, configuration, schema migration, the subscriber snapshot, TLS certificate checks);
    /// with the kernel mapping 64 KB around every code page touched (fault-around), ~25 MB of
    /// `.text` stays mapped after start-up although serving SIP uses ~8-12 MB of it. Those pages
    /// are clean and file-backed; paging them out unmaps them, and what serving needs comes back
    /// on first use as ordinary page faults from the page cache (or the disk if evicted).
    ///
    /// Only private file mappings are advised (never shared ones such as SQLite's `-shm`); the
    /// kernel skips pages other processes also map (libc) and pages this process has written
    /// (relocated data, which is anonymous memory now and would need swap). Where the kernel
    /// refuses (older kernel, file not owned by the user running cw-aio) nothing happens.
    static func releaseStartupPages() -> StartupRelease {
        #if os(Linux)
        release()
        let before = residentBytes()
        var count = 0
        for mapping in privateFileMappings() {
            guard let start = UnsafeMutableRawPointer(bitPattern: mapping.start) else { continue }
            if madvise(start, Int(mapping.end - mapping.start), madvPageout) == 0 { count += 1 }
        }
        return StartupRelease(residentBefore: before, residentAfter: residentBytes(), mappings: count)
        #else
        return StartupRelease(residentBefore: 0, residentAfter: 0, mappings: 0)
        #endif
    }

    struct Mapping: Equatable {
        var start: UInt
        var end: UInt
    }

    /// Private (not shared), file-backed mappings in `/proc/self/maps` text: lines of
    /// `start-end perms offset dev inode path`, where a path starts with `/` (not `[heap]`,
    /// `[stack]`, `[vdso]` or an anonymous mapping without one).
    static func privateFileMappings(maps: String) -> [Mapping] {
        var result: [Mapping] = []
        for line in maps.split(separator: "\n") {
            let fields = line.split(separator: " ", omittingEmptySubsequences: true)
            guard fields.count >= 6, fields[5].first == "/" else { continue }
            let perms = fields[1].utf8
            guard perms.count == 4, perms.last == UInt8(ascii: "p") else { continue }
            let range = fields[0].split(separator: "-")
            guard range.count == 2, let start = UInt(range[0], radix: 16), let end = UInt(range[1], radix: 16),
                  end > start else { continue }
            result.append(Mapping(start: start, end: end))
        }
        return result
    }

    /// VmRSS from /proc/self/status, in bytes (0 if unreadable or not Linux).
    static func residentBytes() -> Int {
        #if os(Linux)
        guard let status = readProcFile("/proc/self/status") else { return 0 }
        for line in status.split(separator: "\n") where line.hasPrefix("VmRSS:") {
            let kb = line.dropFirst(6).split(whereSeparator: { $0 == " " || $0 == "\t" }).first.flatMap { Int($0) } ?? 0
            return kb * 1024
        }
        #endif
        return 0
    }

    #if os(Linux)
    private static func privateFileMappings() -> [Mapping] {
        guard let maps = readProcFile("/proc/self/maps") else { return [] }
        return privateFileMappings(maps: maps)
    }

    /// /proc files report size 0, so read until end of file.
    private static func readProcFile(_ path: String) -> String? {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 16384)
        while true {
            let n = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else { break }
            bytes.append(contentsOf: chunk[0..<n])
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// <sys/mman.h> MADV_PAGEOUT (Linux 5.4); older kernels answer EINVAL, which is ignored.
    private static let madvPageout: Int32 = 21
    #endif
}

#if os(Linux)
// glibc's `int malloc_trim(size_t pad)` (<malloc.h>, which the Glibc module does not export).
@_silgen_name("malloc_trim")
private func glibcMallocTrim(_ pad: Int) -> Int32
#endif
