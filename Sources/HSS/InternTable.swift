/// Reference-counted shared strings by small index: realms and service profiles, of which there are
/// a handful for any number of subscribers. An entry goes when its last user does, so churn through
/// distinct profiles does not accumulate them.
struct InternTable: Sendable {
    private var strings: [String?] = []
    private var references: [UInt32] = []
    private var byText: [String: UInt32] = [:]
    private var free: [UInt32] = []
    /// Most records use the string interned last (the default profile, the home realm): checked
    /// first, and usually the same storage, so no hashing of a kilobyte of XML per set.
    private var last: UInt32?

    var count: Int { byText.count }

    subscript(index: UInt32) -> String { strings[Int(index)]! }

    mutating func retain(_ text: String) -> UInt32 {
        let index: UInt32
        if let last, let s = strings[Int(last)], s == text {
            index = last
        } else if let known = byText[text] {
            index = known
        } else if let reused = free.popLast() {
            index = reused
            strings[Int(index)] = text
            byText[text] = index
        } else {
            index = UInt32(strings.count)
            strings.append(text)
            references.append(0)
            byText[text] = index
        }
        references[Int(index)] += 1
        last = index
        return index
    }

    mutating func release(_ index: UInt32) {
        let i = Int(index)
        references[i] -= 1
        guard references[i] == 0, let text = strings[i] else { return }
        byText[text] = nil
        strings[i] = nil
        free.append(index)
        if last == index { last = nil }
    }
}
