/// Where a configuration value (or a problem with one) came from.
public enum ConfigSource: Sendable, Hashable, CustomStringConvertible {
    /// The embedded default from the key table.
    case defaultValue
    /// Line `line` (1-based) of the file `path`, spelled as it was given to ``CWConfig/load(file:overrides:)``.
    case file(path: String, line: Int)
    /// A `--set key=value` override; `index` is its 0-based position among the overrides.
    case override(index: Int)

    /// `cw-aio.conf:12`, `--set` or `default`: the prefix used in error messages.
    public var description: String {
        switch self {
        case .defaultValue: return "default"
        case .file(let path, let line): return "\(path):\(line)"
        case .override: return "--set"
        }
    }

    /// Orders explicit sources by when they were applied: defaults, then file lines in order, then overrides.
    var precedence: (Int, Int) {
        switch self {
        case .defaultValue: return (0, 0)
        case .file(_, let line): return (1, line)
        case .override(let index): return (2, index)
        }
    }
}

/// A configuration problem. `description` always names where it happened (`file:line` or `--set`) and,
/// when there is one, the key, e.g. `cw-aio.conf:12: sip_port: "70000" is not a port (1-65535)`.
public struct ConfigError: Error, Sendable, Hashable, CustomStringConvertible {
    public enum Kind: Sendable, Hashable {
        /// The named file could not be read (missing, unreadable, a directory, not UTF-8).
        case unreadableFile(reason: String)
        /// A line (or `--set` argument) with no `=`; `text` is the offending text, trimmed.
        case malformedLine(text: String)
        /// A line (or `--set` argument) of the form `=value` / `  = value`.
        case emptyKey
        /// A key that is not in ``CWConfig/keys``; `suggestion` is a close known key, if any.
        case unknownKey(suggestion: String?)
        /// The key was already set by `first` in the same file (or by an earlier `--set`).
        case duplicateKey(first: ConfigSource)
        /// The value failed the key's validator; `reason` reads `"70000" is not a port (1-65535)`.
        case invalidValue(reason: String)
    }

    /// Where the problem is: a file line, a `--set` override, or `.file(path, line: 0)` for the file as a whole.
    public let source: ConfigSource
    /// The key concerned, if the problem is about one.
    public let key: String?
    public let kind: Kind

    public init(source: ConfigSource, key: String?, kind: Kind) {
        self.source = source
        self.key = key
        self.kind = kind
    }

    public var description: String {
        var prefix: String
        switch source {
        case .file(let path, let line) where line == 0: prefix = path
        default: prefix = source.description
        }
        if let key { prefix += ": \(key)" }
        switch kind {
        case .unreadableFile(let reason):
            return "\(prefix): cannot read configuration file: \(reason)"
        case .malformedLine(let text):
            return "\(prefix): malformed line \(quoted(text)) (expected key=value)"
        case .emptyKey:
            return "\(prefix): empty key (expected key=value)"
        case .unknownKey(let suggestion):
            if let suggestion { return "\(prefix): unknown key (did you mean \(suggestion)?)" }
            return "\(prefix): unknown key"
        case .duplicateKey(let first):
            switch first {
            case .file(_, let line): return "\(prefix): duplicate key (first set on line \(line))"
            default: return "\(prefix): duplicate key (already set by an earlier --set)"
            }
        case .invalidValue(let reason):
            return "\(prefix): \(reason)"
        }
    }
}

/// `"text"` with control characters and quotes escaped, for error messages.
func quoted(_ text: String) -> String {
    var out = "\""
    for scalar in text.unicodeScalars {
        switch scalar {
        case "\"": out += "\\\""
        case "\\": out += "\\\\"
        case "\t": out += "\\t"
        case "\r": out += "\\r"
        case "\n": out += "\\n"
        default:
            if scalar.value < 0x20 || scalar.value == 0x7F {
                out += "\\u{\(String(scalar.value, radix: 16))}"
            } else {
                out.unicodeScalars.append(scalar)
            }
        }
    }
    return out + "\""
}
