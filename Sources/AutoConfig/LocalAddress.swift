#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// One address of one network interface, as reported by `getifaddrs`. Plain data, so the choice of
/// `local_ip=auto` can be tested with made-up interfaces (see ``LocalAddress/choose(from:)``).
public struct InterfaceAddress: Sendable, Hashable {
    public struct Flags: OptionSet, Sendable, Hashable {
        public let rawValue: UInt32
        public init(rawValue: UInt32) { self.rawValue = rawValue }
        /// `IFF_UP`: administratively up.
        public static let up = Flags(rawValue: 1 << 0)
        /// `IFF_LOOPBACK`.
        public static let loopback = Flags(rawValue: 1 << 1)
        /// `IFF_RUNNING`: has carrier (an `up` bridge with nothing attached is not running).
        public static let running = Flags(rawValue: 1 << 2)
    }

    public var name: String
    public var family: IPAddress.Family
    /// Canonical address text, no brackets, no zone.
    public var address: String
    public var flags: Flags

    public init(name: String, family: IPAddress.Family, address: String, flags: Flags) {
        self.name = name
        self.family = family
        self.address = address
        self.flags = flags
    }
}

public enum LocalAddress {
    /// Used for `local_ip=auto` when no interface qualifies.
    public static let fallback = "127.0.0.1"

    /// Chooses the address `local_ip=auto` resolves to, or nil if none qualifies (the caller then
    /// uses ``fallback``).
    ///
    /// Candidates are addresses of interfaces that are up and not loopback, excluding loopback and
    /// unspecified addresses, IPv6 link-local addresses (unusable without a zone) and text that is
    /// not an IP literal. Among candidates, in order of preference:
    /// 1. IPv4 (not link-local) before global/ULA IPv6 before IPv4 link-local (169.254/16);
    /// 2. then a running interface (has carrier) before one that is only up;
    /// 3. then the order of the list (the kernel's interface order).
    public static func choose(from interfaces: [InterfaceAddress]) -> InterfaceAddress? {
        var best: (rank: (Int, Int), index: Int)?
        for (index, candidate) in interfaces.enumerated() {
            guard candidate.flags.contains(.up), !candidate.flags.contains(.loopback),
                  let ip = IPAddress(candidate.address), ip.family == candidate.family,
                  !ip.isLoopback, !ip.isUnspecified
            else { continue }
            let familyRank: Int
            switch (ip.family, ip.isLinkLocal) {
            case (.ipv4, false): familyRank = 0
            case (.ipv6, false): familyRank = 1
            case (.ipv4, true): familyRank = 2
            case (.ipv6, true): continue
            }
            let rank = (familyRank, candidate.flags.contains(.running) ? 0 : 1)
            if best == nil || rank < best!.rank {
                best = (rank, index)
            }
        }
        return best.map { interfaces[$0.index] }
    }

    /// The machine's interface addresses (IPv4 and IPv6 only), in `getifaddrs` order.
    /// Returns an empty list if `getifaddrs` fails.
    public static func systemInterfaces() -> [InterfaceAddress] {
        var head: UnsafeMutablePointer<ifaddrs>?
        guard getifaddrs(&head) == 0, let first = head else { return [] }
        defer { freeifaddrs(head) }

        var result: [InterfaceAddress] = []
        var cursor: UnsafeMutablePointer<ifaddrs>? = first
        while let entry = cursor {
            defer { cursor = entry.pointee.ifa_next }
            guard let sa = entry.pointee.ifa_addr, let cName = entry.pointee.ifa_name else { continue }
            let family: IPAddress.Family
            let text: String?
            switch Int32(sa.pointee.sa_family) {
            case AF_INET:
                family = .ipv4
                text = UnsafeRawPointer(sa).withMemoryRebound(to: sockaddr_in.self, capacity: 1) { sin in
                    var addr = sin.pointee.sin_addr
                    return withUnsafeBytes(of: &addr) { IPAddress.ntop(family: AF_INET, $0.baseAddress!) }
                }
            case AF_INET6:
                family = .ipv6
                text = UnsafeRawPointer(sa).withMemoryRebound(to: sockaddr_in6.self, capacity: 1) { sin6 in
                    var addr = sin6.pointee.sin6_addr
                    return withUnsafeBytes(of: &addr) { IPAddress.ntop(family: AF_INET6, $0.baseAddress!) }
                }
            default:
                continue
            }
            guard let text else { continue }
            let raw = UInt32(entry.pointee.ifa_flags)
            var flags: InterfaceAddress.Flags = []
            if raw & UInt32(IFF_UP) != 0 { flags.insert(.up) }
            if raw & UInt32(IFF_LOOPBACK) != 0 { flags.insert(.loopback) }
            if raw & UInt32(IFF_RUNNING) != 0 { flags.insert(.running) }
            result.append(InterfaceAddress(name: String(cString: cName), family: family, address: text, flags: flags))
        }
        return result
    }
}
