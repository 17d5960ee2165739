#if canImport(Glibc)
import Glibc
#else
import Darwin
#endif

/// Writes one line to standard error (errors must not mix with the banner on standard output).
func printError(_ text: String) {
    let line = Array((text + "\n").utf8)
    _ = line.withUnsafeBytes { write(2, $0.baseAddress, $0.count) }
}

/// The banner is read by people and by scripts that wait for it: do not leave it in a buffer.
func flushStandardOutput() {
    fflush(nil)
}
