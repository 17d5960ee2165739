import Foundation

/// One `number_blocks` entry of `enum.json`.
public struct EnumNumberBlock: Sendable, CustomStringConvertible {
    public var name: String
    /// The canonical prefix (`+1650555`); empty matches every number.
    public var prefix: String
    public var regex: NAPTRRegex

    public init(name: String, prefix: String, regex: NAPTRRegex) {
        self.name = name
        self.prefix = prefix
        self.regex = regex
    }

    public var description: String { "\(name) (\(prefix.isEmpty ? "any" : prefix)) \(regex)" }
}

/// The ENUM table, in Clearwater's `enum.json` format:
///
///     {"number_blocks": [{"name": "…", "prefix": "+1650555", "regex": "!(^.*$)!sip:\\1@example.com!"}]}
///
/// The block with the longest `prefix` that the number starts with wins. Prefixes are compared on canonical digits
/// (visual separators in the file are dropped) and literally: `"+1650"` matches `+16505550002` but not
/// `16505550002`. An empty prefix matches every number. `name` is optional. Duplicate prefixes are an error.
public struct EnumTable: Sendable {
    public let blocks: [EnumNumberBlock]
    /// Canonical prefix → index in `blocks`.
    let byPrefix: [String: Int]

    public static let empty = EnumTable()

    public init() {
        blocks = []
        byPrefix = [:]
    }

    /// Builds a table, rejecting duplicate prefixes.
    public init(blocks: [EnumNumberBlock], file: String = "enum.json") throws(RoutingConfigError) {
        var index: [String: Int] = [:]
        for (i, block) in blocks.enumerated() {
            if let first = index[block.prefix] {
                throw RoutingConfigError(file: file, location: "number_blocks[\(i)].prefix",
                                         message: "duplicate of number_blocks[\(first)] (\"\(block.prefix)\")")
            }
            index[block.prefix] = i
        }
        self.blocks = blocks
        self.byPrefix = index
    }

    /// Parses `enum.json` text. `file` names the source in error messages.
    public init(json data: Data, file: String = "enum.json") throws(RoutingConfigError) {
        let reader = ConfigReader(file: file)
        let top = try reader.fields(try reader.topLevelObject(data), at: nil, allowed: ["number_blocks"])
        var blocks: [EnumNumberBlock] = []
        for (i, item) in try reader.array(top, "number_blocks", at: nil).enumerated() {
            let at = "number_blocks[\(i)]"
            guard let object = item as? [String: Any] else { throw reader.error(at, "expected an object") }
            let fields = try reader.fields(object, at: at, allowed: ["name", "prefix", "regex"])
            let prefixText = try reader.string(fields, "prefix", at: at, required: true)!
            let prefix: String
            if prefixText.isEmpty {
                prefix = ""
            } else if let digits = NumberNormalizer.canonicalDigits(prefixText) {
                prefix = digits
            } else {
                throw reader.error(at + ".prefix", "\"\(prefixText)\" is not a number prefix (digits with an optional leading +)")
            }
            let regexText = try reader.string(fields, "regex", at: at, required: true)!
            let regex: NAPTRRegex
            do { regex = try NAPTRRegex(regexText) } catch { throw reader.error(at + ".regex", error.message) }
            let name = try reader.string(fields, "name", at: at, required: false) ?? (prefix.isEmpty ? "*" : prefix)
            blocks.append(EnumNumberBlock(name: name, prefix: prefix, regex: regex))
        }
        try self.init(blocks: blocks, file: file)
    }

    /// Loads `enum.json`; a missing file is an empty table.
    public static func load(path: String) throws(RoutingConfigError) -> EnumTable {
        guard let data = try ConfigFile.read(path) else { return .empty }
        return try EnumTable(json: data, file: path)
    }

    public var isEmpty: Bool { blocks.isEmpty }

    /// The block with the longest prefix of `number` (canonical digits), if any.
    public func block(for number: String) -> EnumNumberBlock? {
        guard !byPrefix.isEmpty else { return nil }
        var candidate = Substring(number)
        while true {
            if let i = byPrefix[String(candidate)] { return blocks[i] }
            if candidate.isEmpty { return nil }
            candidate = candidate.dropLast()
        }
    }

    /// What the table says about `number`: the substitution result of its longest-prefix block (possibly empty, which
    /// means the block maps the number to nothing), or nil when no block's prefix matches or that block's pattern does
    /// not match the number. Input that is a dialled string (`+1 650 555 0002`) is canonicalised first.
    public func translate(_ number: String) -> String? {
        let canonical = NumberNormalizer.canonicalDigits(number) ?? number
        return block(for: canonical)?.regex.apply(to: canonical)
    }

    public func translate(_ number: DialledNumber) -> String? { translate(number.digits) }
}

/// Reading a configuration file: nil when it does not exist.
enum ConfigFile {
    static func read(_ path: String) throws(RoutingConfigError) -> Data? {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else { return nil }
        guard !isDirectory.boolValue else { throw RoutingConfigError(file: path, message: "is a directory") }
        do {
            return try Data(contentsOf: URL(fileURLWithPath: path))
        } catch {
            throw RoutingConfigError(file: path, message: "cannot be read: \((error as NSError).localizedDescription)")
        }
    }
}
