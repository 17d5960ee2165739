import Testing
@testable import AutoConfig

private func iface(_ name: String, _ address: String, _ flags: InterfaceAddress.Flags = [.up, .running]) -> InterfaceAddress {
    InterfaceAddress(name: name, family: address.contains(":") ? .ipv6 : .ipv4, address: address, flags: flags)
}

@Suite struct LocalAddressTests {
    @Test func skipsLoopbackAndTakesFirstIPv4() {
        let chosen = LocalAddress.choose(from: [
            iface("lo", "127.0.0.1", [.up, .loopback, .running]),
            iface("eth0", "10.0.0.5"),
            iface("eth1", "10.0.1.5"),
        ])
        #expect(chosen?.name == "eth0" && chosen?.address == "10.0.0.5")
    }

    @Test func skipsDownInterfaces() {
        let chosen = LocalAddress.choose(from: [iface("eth0", "10.0.0.5", [.running]), iface("eth1", "10.0.1.5")])
        #expect(chosen?.name == "eth1")
    }

    @Test func prefersIPv4OverIPv6RegardlessOfOrder() {
        let chosen = LocalAddress.choose(from: [iface("eth0", "2001:db8::5"), iface("eth1", "192.0.2.5")])
        #expect(chosen?.address == "192.0.2.5")
    }

    @Test func usesGlobalIPv6WhenNoIPv4ButNeverLinkLocalIPv6() {
        #expect(LocalAddress.choose(from: [iface("eth0", "fe80::1"), iface("eth0", "2001:db8::5")])?.address == "2001:db8::5")
        #expect(LocalAddress.choose(from: [iface("eth0", "fe80::1")]) == nil)
    }

    @Test func ipv4LinkLocalIsALastResort() {
        #expect(LocalAddress.choose(from: [iface("eth0", "169.254.3.4"), iface("eth1", "2001:db8::5")])?.address == "2001:db8::5")
        #expect(LocalAddress.choose(from: [iface("eth0", "169.254.3.4")])?.address == "169.254.3.4")
    }

    @Test func prefersRunningOverMerelyUp() {
        let chosen = LocalAddress.choose(from: [iface("docker0", "172.17.0.1", [.up]), iface("eth0", "10.0.0.5")])
        #expect(chosen?.name == "eth0")
        #expect(LocalAddress.choose(from: [iface("docker0", "172.17.0.1", [.up])])?.name == "docker0")
    }

    @Test func ignoresLoopbackAddressesOnOtherInterfacesAndGarbage() {
        #expect(LocalAddress.choose(from: [
            iface("eth0", "127.0.1.1"), iface("eth1", "::1"), iface("eth2", "0.0.0.0"), iface("eth3", "junk"),
            InterfaceAddress(name: "eth4", family: .ipv6, address: "10.0.0.1", flags: [.up, .running]),
        ]) == nil)
    }

    @Test func emptyListChoosesNothing() {
        #expect(LocalAddress.choose(from: []) == nil)
    }

    @Test func autoFallsBackTo127001() throws {
        let c = try CWConfig.load(file: nil, overrides: [], interfaces: {
            [iface("lo", "127.0.0.1", [.up, .loopback, .running]), iface("eth0", "10.0.0.5", [])]
        })
        #expect(c.localIP == "127.0.0.1" && c.localIPWasAutoDetected && c.localIPInterface == nil)
        #expect(c.publicIP == "127.0.0.1")
    }

    @Test func autoUsesChosenIPv6() throws {
        let c = try CWConfig.load(file: nil, overrides: [], interfaces: { [iface("eth0", "2001:DB8::7")] })
        #expect(c.localIP == "2001:db8::7" && c.localIPInterface == "eth0")
        #expect(c.publicHostForURI == "[2001:db8::7]")
    }

    @Test func explicitLocalIPDoesNotEnumerateInterfaces() throws {
        var called = false
        let c = try CWConfig.load(file: nil, overrides: ["local_ip=192.0.2.1"], interfaces: { called = true; return [] })
        #expect(!called && c.localIP == "192.0.2.1")
    }

    @Test func systemInterfacesAreWellFormed() {
        for entry in LocalAddress.systemInterfaces() {
            #expect(!entry.name.isEmpty)
            #expect(IPAddress(entry.address)?.family == entry.family, "\(entry)")
        }
    }
}
