#if canImport(Glibc)
import Glibc
#else
import Darwin
#endif

/// Writes one line to standard error (errors must not mix with the banner on standard output).
func printError(_ text: String) {
    fputs(text + "\n", stderr)
}

/// The banner is read by people and by scripts that wait for it: do not leave it in a buffer.
func flushStandardOutput() {
    fflush(stdout)
}
