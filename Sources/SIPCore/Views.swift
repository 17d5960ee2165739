// Typed views of header values. The parser fills these on demand from the raw header text.
// (Placeholder declarations: the SIPCore owner fills in the parsing; shapes are the contract.)

/// Generic `;name[=value]` parameters, order kept, names compared case-insensitively.
public struct SIPParameters: Sendable, Hashable {
    public var items: [(name: String, value: String?)]
    public init(_ items: [(name: String, value: String?)] = []) { self.items = items }
    public func contains(_ name: String) -> Bool { items.contains { $0.name.lowercased() == name.lowercased() } }
    /// The value of a parameter; `.some(nil)` when it is present without a value.
    public subscript(_ name: String) -> String?? {
        guard let item = items.first(where: { $0.name.lowercased() == name.lowercased() }) else { return nil }
        return .some(item.value)
    }
    public mutating func set(_ name: String, _ value: String?) {
        if let i = items.firstIndex(where: { $0.name.lowercased() == name.lowercased() }) { items[i].value = value } else { items.append((name, value)) }
    }
    public mutating func remove(_ name: String) { items.removeAll { $0.name.lowercased() == name.lowercased() } }
    public static func == (a: SIPParameters, b: SIPParameters) -> Bool {
        a.items.count == b.items.count && zip(a.items, b.items).allSatisfy { $0.name == $1.name && $0.value == $1.value }
    }
    public func hash(into h: inout Hasher) { for i in items { h.combine(i.name); h.combine(i.value) } }
}
