
/// Generic `;name[=value]` parameters, order kept, names compared case-insensitively.
public struct SIPParameters: Sendable, Hashable {
    public var items: [(name: String, value: String?)]
    public init(_ items: [(name: String, value: String?)] = []) { self.items = items }
    public func contains(_ name: String) -> Bool { items.contains { SIPGrammar.equalsIgnoringCase($0.name, name) } }
    /// The value of a parameter; `.some(nil)` when it is present without a value.
    public subscript(_ name: String) -> String?? {
        guard let item = items.first(where: { SIPGrammar.equalsIgnoringCase($0.name, name) }) else { return nil }
        return .some(item.value)
    }
    public mutating func set(_ name: String, _ value: String?) {
        if let i = items.firstIndex(where: { SIPGrammar.equalsIgnoringCase($0.name, name) }) { items[i].value = value } else { items.append((name, value)) }
    }
    public mutating func remove(_ name: String) { items.removeAll { SIPGrammar.equalsIgnoringCase($0.name, name) } }
    public static func == (a: SIPParameters, b: SIPParameters) -> Bool {
        a.items.count == b.items.count && zip(a.items, b.items).allSatisfy { $0.name == $1.name && $0.value == $1.value }
    }
    public func hash(into h: inout Hasher) { for i in items { h.combine(i.name); h.combine(i.value) } }
}
