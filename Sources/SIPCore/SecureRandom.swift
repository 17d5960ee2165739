import Synchronization
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Random numbers from the kernel's CSPRNG (/dev/urandom), fetched 4 KiB at a time.
///
/// `SystemRandomNumberGenerator` makes one getrandom(2) system call per value (~0.4 µs on these VMs),
/// and a registration draws four (two To tags, a 12-byte nonce). These are the kernel's bytes all the
/// same, only fetched in blocks; each is handed out once, under a lock shared by all threads.
public struct SecureRandom: RandomNumberGenerator {
    public init() {}

    public mutating func next() -> UInt64 { Self.pool.withLock { $0.next() } }

    private static let pool = Mutex(Pool())

    private struct Pool: ~Copyable {
        private var words = [UInt64](repeating: 0, count: 512)
        private var index = 512

        mutating func next() -> UInt64 {
            if index == words.count { refill() }
            defer { index += 1 }
            return words[index]
        }

        private mutating func refill() {
            // One read(2) of /dev/urandom per block (getrandom(2) is not in Swift's Glibc module).
            let filled = words.withUnsafeMutableBytes { raw -> Bool in
                let fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC)
                guard fd >= 0 else { return false }
                defer { close(fd) }
                var done = 0
                while done < raw.count {
                    let n = read(fd, raw.baseAddress! + done, raw.count - done)
                    if n > 0 { done += n } else if n < 0, errno == EINTR { continue } else { return false }
                }
                return true
            }
            if !filled {
                var system = SystemRandomNumberGenerator()
                for i in words.indices { words[i] = system.next() }
            }
            index = 0
        }
    }
}
