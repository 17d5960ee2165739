import Foundation
import Testing
@testable import SIPTransport

@Suite struct ReceiveBufferCheckTests {
    @Test func aGrantedBufferIsANoticeNamingHowItWasSet() {
        // Linux reads back twice what it granted.
        let check = ReceiveBufferCheck(requested: 4 << 20, granted: 8 << 20, forced: true, rmemMax: 212_992)
        #expect(!check.isCapped)
        #expect(check.message == "SIP UDP receive buffer: 8192 kB (asked 4096 kB, SO_RCVBUFFORCE)")
    }

    @Test func aCappedBufferNamesTheLimitTheKeyAndTheFix() {
        // Stock Debian 12: rmem_max 212992, no CAP_NET_ADMIN.
        let check = ReceiveBufferCheck(requested: 4 << 20, granted: 2 * 212_992, forced: false, rmemMax: 212_992)
        #expect(check.isCapped)
        #expect(check.message.contains("only 416 kB of the 8192 kB wanted"))
        #expect(check.message.contains("sip_udp_receive_buffer_kb=4096"))
        #expect(check.message.contains("net.core.rmem_max=212992 caps it"))
        #expect(check.message.contains("sysctl -w net.core.rmem_max=4194304"))
    }

    @Test func anUnreadableLimitIsStillNamed() {
        let check = ReceiveBufferCheck(requested: 1 << 20, granted: 1 << 20, forced: false, rmemMax: nil)
        #expect(check.isCapped)
        #expect(check.message.contains("net.core.rmem_max caps it"))
    }

    @Test func theLimitIsReadFromProcfsAndAMissingFileIsNil() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("rmem-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let file = dir.appendingPathComponent("rmem_max").path
        try "4194304\n".write(toFile: file, atomically: true, encoding: .utf8)
        #expect(ReceiveBufferCheck.readRmemMax(path: file) == 4_194_304)
        #expect(ReceiveBufferCheck.readRmemMax(path: dir.appendingPathComponent("none").path) == nil)
        try "garbage".write(toFile: file, atomically: true, encoding: .utf8)
        #expect(ReceiveBufferCheck.readRmemMax(path: file) == nil)
    }
}
