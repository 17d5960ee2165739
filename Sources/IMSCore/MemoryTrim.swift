/// Hands freed heap pages back to the kernel. glibc keeps freed memory in its arenas; after a
/// bulk load (the HSS snapshot) or a burst (thousands of completed transactions expiring together)
/// most of it is free but still resident, so RSS would stay at the high-water mark for good.
enum MemoryTrim {
    static func release() {
        #if os(Linux)
        _ = glibcMallocTrim(0)
        #endif
    }
}

#if os(Linux)
// glibc's `int malloc_trim(size_t pad)` (<malloc.h>, which the Glibc module does not export).
@_silgen_name("malloc_trim")
private func glibcMallocTrim(_ pad: Int) -> Int32
#endif
