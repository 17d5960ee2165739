import Foundation

enum FileManagerShim {
    static func datFiles(in directory: URL) throws -> [String] {
        try FileManager.default.contentsOfDirectory(atPath: directory.path)
            .filter { $0.hasSuffix(".dat") }
            .map { String($0.dropLast(4)) }
    }
}
