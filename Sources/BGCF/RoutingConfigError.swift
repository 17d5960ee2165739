import Foundation

/// Why an `enum.json` or `bgcf.json` file could not be used. `description` names the file and, where there is one,
/// the entry and field at fault: `enum.json: number_blocks[2].regex: not of the form !pattern!replacement!`.
public struct RoutingConfigError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The file as it was named to the loader (a path, or a label such as `enum.json`).
    public var file: String
    /// The JSON path of the entry and field at fault (`number_blocks[2].regex`), nil for whole-file problems.
    public var location: String?
    public var message: String

    public init(file: String, location: String? = nil, message: String) {
        self.file = file
        self.location = location
        self.message = message
    }

    public var description: String {
        if let location { return "\(file): \(location): \(message)" }
        return "\(file): \(message)"
    }
}

/// Walks the `Any` tree JSONSerialization produces, raising `RoutingConfigError`s with JSON paths.
/// Keys starting with `_` (`"_comment"`) are ignored everywhere; any other unknown key is an error, so that a typo
/// (`"regx"`) does not silently drop a field.
struct ConfigReader {
    let file: String

    func error(_ location: String?, _ message: String) -> RoutingConfigError {
        RoutingConfigError(file: file, location: location, message: message)
    }

    /// Parses the data as a JSON object. Empty (or all-whitespace) data is an error: a half-written file must not
    /// silently replace the tables in force with empty ones.
    func topLevelObject(_ data: Data) throws(RoutingConfigError) -> [String: Any] {
        guard data.contains(where: { !($0 == 0x20 || $0 == 0x09 || $0 == 0x0A || $0 == 0x0D) }) else {
            throw error(nil, "empty file (write {} or remove the file for an empty table)")
        }
        let parsed: Any
        do {
            parsed = try JSONSerialization.jsonObject(with: data, options: [])
        } catch {
            throw self.error(nil, "invalid JSON" + Self.describe(jsonError: error, in: data))
        }
        guard let object = parsed as? [String: Any] else { throw error(nil, "expected a JSON object at the top level") }
        return object
    }

    /// The object's fields minus `_`-prefixed ones; an error for any key not in `allowed`.
    func fields(_ object: [String: Any], at location: String?, allowed: Set<String>) throws(RoutingConfigError)
        -> [String: Any] {
        var result: [String: Any] = [:]
        for key in object.keys.sorted() where !key.hasPrefix("_") {
            guard allowed.contains(key) else {
                let expected = allowed.sorted().map { "\"\($0)\"" }.joined(separator: ", ")
                throw error(location, "unknown key \"\(key)\" (expected \(expected); keys starting with _ are ignored)")
            }
            result[key] = object[key]
        }
        return result
    }

    /// A required or optional string field.
    func string(_ fields: [String: Any], _ key: String, at location: String, required: Bool) throws(RoutingConfigError)
        -> String? {
        guard let value = fields[key], !(value is NSNull) else {
            if required { throw error(location + "." + key, "missing") }
            return nil
        }
        guard let s = value as? String else { throw error(location + "." + key, "expected a string") }
        return s
    }

    /// An optional array field (absent or null = empty).
    func array(_ fields: [String: Any], _ key: String, at location: String?) throws(RoutingConfigError) -> [Any] {
        let path = location.map { $0 + "." + key } ?? key
        guard let value = fields[key], !(value is NSNull) else { return [] }
        guard let a = value as? [Any] else { throw error(path, "expected an array") }
        return a
    }

    /// " at line L, column C (Foundation's message)" from JSONSerialization's "around character N" (a 0-based
    /// byte offset), or just " (message)" when Foundation gives no position.
    static func describe(jsonError: Error, in data: Data) -> String {
        let ns = jsonError as NSError
        let detail = (ns.userInfo[NSDebugDescriptionErrorKey] as? String) ?? ns.localizedDescription
        guard let offset = characterOffset(in: detail), offset >= 0, offset <= data.count else { return ": \(detail)" }
        var line = 1, column = 1
        var i = data.startIndex
        let end = data.index(data.startIndex, offsetBy: offset)
        while i < end {
            let b = data[i]
            if b == 0x0A { line += 1; column = 1 } else if b & 0xC0 != 0x80 { column += 1 }
            i = data.index(after: i)
        }
        return " at line \(line), column \(column): \(detail)"
    }

    /// The N of "... character N." in a Foundation JSON error message.
    static func characterOffset(in message: String) -> Int? {
        guard let r = message.range(of: "character ") else { return nil }
        let digits = message[r.upperBound...].prefix(while: { $0.isASCII && $0.isNumber })
        return Int(digits)
    }
}
