import Testing
@testable import IMSCore

@Suite struct MemoryTrimTests {
    @Test func picksPrivateFileMappingsOnly() {
        let maps = """
        55eba3153000-55eba5e29000 r-xp 00000000 fe:00 12910593                   /opt/cw-aio/bin/cw-aio
        55eba5e2a000-55eba5f56000 r--p 02cd6000 fe:00 12910593                   /opt/cw-aio/bin/cw-aio
        55eba5f56000-55eba84c1000 rw-p 02e02000 fe:00 12910593                   /opt/cw-aio/bin/cw-aio
        55eba84c1000-55eba860b000 rw-p 00000000 00:00 0 
        55eba9000000-55eba9100000 rw-p 00000000 00:00 0                          [heap]
        7fe4de41b000-7fe4de423000 rw-s 00000000 fe:00 4711                       /var/lib/cw-aio/cw-aio.db-shm
        7fe4e0444000-7fe4e059a000 r-xp 00026000 fe:00 333151                     /usr/lib/x86_64-linux-gnu/libc.so.6
        7fe4e0600000-7fe4e0700000 r--p 00000000 fe:00 333152                     /usr/lib/my lib/with spaces.so
        7ffd1c5f0000-7ffd1c611000 rw-p 00000000 00:00 0                          [stack]
        7ffd1c7a0000-7ffd1c7a2000 r-xp 00000000 00:00 0                          [vdso]
        garbage line
        7fe4e0700000-7fe4e06f0000 r--p 00000000 fe:00 1                          /backwards
        """
        let picked = MemoryTrim.privateFileMappings(maps: maps)
        #expect(picked == [
            .init(start: 0x55eba3153000, end: 0x55eba5e29000),
            .init(start: 0x55eba5e2a000, end: 0x55eba5f56000),
            .init(start: 0x55eba5f56000, end: 0x55eba84c1000),
            .init(start: 0x7fe4e0444000, end: 0x7fe4e059a000),
            .init(start: 0x7fe4e0600000, end: 0x7fe4e0700000),
        ])
    }

    #if os(Linux)
    /// Against this test process: its own executable's mappings are advised, nothing breaks, and the
    /// code paged out comes back when it runs again (this test keeps running after the call).
    @Test func releasesStartupPagesOfThisProcess() {
        let released = MemoryTrim.releaseStartupPages()
        #expect(released.mappings > 0)
        #expect(released.residentBefore > 0)
        #expect(released.residentAfter > 0)
        #expect(MemoryTrim.privateFileMappings(maps: "").isEmpty)
        let again = MemoryTrim.residentBytes()
        #expect(again > 0)
    }
    #endif
}
