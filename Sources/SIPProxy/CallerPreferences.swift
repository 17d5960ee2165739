import SIPCore

/// One value of a feature parameter (RFC 3840 §9): a token, a `<string>`, a boolean or a numeric range, possibly
/// negated with "!".
public struct FeatureValue: Sendable, Hashable {
    public enum Atom: Sendable, Hashable {
        /// Lower-cased (tokens compare case-insensitively).
        case token(String)
        /// The text between `<` and `>`, compared case-sensitively.
        case string(String)
        case boolean(Bool)
        case numeric(ClosedRange<Double>)
    }

    public var atom: Atom
    public var negated: Bool

    public init(_ atom: Atom, negated: Bool = false) {
        self.atom = atom
        self.negated = negated
    }

    /// Parses a feature parameter's value as written (quotes included); nil (no value) is boolean TRUE.
    public static func parseList(_ raw: String?) -> [FeatureValue] {
        guard let raw else { return [FeatureValue(.boolean(true))] }
        let text = ProxyText.unquoted(raw)
        if text.utf8.count >= 2, text.utf8.first == UInt8(ascii: "<"), text.utf8.last == UInt8(ascii: ">") {
            return [FeatureValue(.string(String(decoding: text.utf8.dropFirst().dropLast(), as: UTF8.self)))]
        }
        var out: [FeatureValue] = []
        // Values are cut at "," bytes, as the parser reads the text (RFC 3840 §9 value-list; RFC 3261 §25 COMMA).
        for item in ByteSplitter.split(text, on: UInt8(ascii: ",")) {
            var v = ProxyText.trimmed(item)
            var negated = false
            if let rest = ProxyText.droppingPrefix(v, "!") { negated = true; v = ProxyText.trimmed(rest) }
            guard !v.isEmpty else { continue }
            if let rest = ProxyText.droppingPrefix(v, "#"), let range = numericRange(rest) {
                out.append(FeatureValue(.numeric(range), negated: negated))
            } else if ProxyText.equalsIgnoringCase(String(v), "TRUE") {
                out.append(FeatureValue(.boolean(true), negated: negated))
            } else if ProxyText.equalsIgnoringCase(String(v), "FALSE") {
                out.append(FeatureValue(.boolean(false), negated: negated))
            } else {
                out.append(FeatureValue(.token(ProxyText.lowercasedASCII(String(v))), negated: negated))
            }
        }
        return out
    }

    /// `>=n`, `<=n`, `=n`, `n:m` (RFC 3840 numeric-relation).
    static func numericRange(_ s: Substring) -> ClosedRange<Double>? {
        if let r = ProxyText.droppingPrefix(s, ">="), let n = Double(ProxyText.trimmed(r)) { return n ... Double.greatestFiniteMagnitude }
        if let r = ProxyText.droppingPrefix(s, "<="), let n = Double(ProxyText.trimmed(r)) { return -Double.greatestFiniteMagnitude ... n }
        if let r = ProxyText.droppingPrefix(s, "="), let n = Double(ProxyText.trimmed(r)) { return n ... n }
        let parts = ByteSplitter.split(s, on: UInt8(ascii: ":"), omittingEmptySubsequences: false)
        if parts.count == 2, let a = Double(ProxyText.trimmed(parts[0])), let b = Double(ProxyText.trimmed(parts[1])) {
            return min(a, b) ... max(a, b)
        }
        return nil
    }

    /// Two values can be satisfied by one feature collection.
    func isCompatible(with other: FeatureValue) -> Bool {
        switch (negated, other.negated) {
        case (false, false): return atom.equals(other.atom)
        case (true, true): return true
        default: return !atom.equals(other.atom)
        }
    }
}

extension FeatureValue.Atom {
    func equals(_ other: FeatureValue.Atom) -> Bool {
        switch (self, other) {
        case (.token(let a), .token(let b)): a == b
        case (.string(let a), .string(let b)): a == b
        case (.boolean(let a), .boolean(let b)): a == b
        case (.numeric(let a), .numeric(let b)): a.overlaps(b)
        default: false
        }
    }
}

/// Feature parameters of a Contact, or the terms of an Accept-/Reject-Contact predicate: normalised feature tag
/// (`sip.audio`, `sip.instance`, `g.3gpp.icsi-ref`) → the disjunction of its values.
public struct FeatureSet: Sendable, Hashable {
    public var features: [String: [FeatureValue]]

    public init(_ features: [String: [FeatureValue]] = [:]) { self.features = features }

    /// The feature parameters among `parameters` (base tags of RFC 3840 §10 and "+"-prefixed tags).
    public init(parameters: SIPParameters) {
        var f: [String: [FeatureValue]] = [:]
        for item in parameters.items {
            guard let tag = FeatureSet.featureTag(item.name) else { continue }
            f[tag] = FeatureValue.parseList(item.value)
        }
        features = f
    }

    /// RFC 3840 §10 base tags (written without the `sip.` prefix in Contact parameters).
    public static let baseTags: Set<String> = [
        "audio", "automata", "class", "duplex", "data", "control", "mobility", "description", "events",
        "priority", "methods", "schemes", "application", "video", "language", "type", "isfocus", "actor",
        "text", "extensions",
    ]

    /// The normalised feature tag of a parameter name, nil when it is no feature parameter:
    /// `audio` → `sip.audio`, `+sip.instance` → `sip.instance`, `+g.3gpp.smsip` → `g.3gpp.smsip`.
    public static func featureTag(_ name: String) -> String? {
        let lower = ProxyText.lowercasedASCII(ProxyText.trimmed(name))
        if lower.hasPrefix("+"), lower.utf8.count > 1 { return String(lower.dropFirst()) }
        if baseTags.contains(lower) { return "sip." + lower }
        return nil
    }
}

/// One Accept-Contact or Reject-Contact value (RFC 3841 §9.2): `*;audio;methods="INVITE";require;explicit`.
public struct FeaturePredicate: Sendable, Hashable {
    public var terms: FeatureSet
    public var require: Bool
    public var explicit: Bool

    public init(terms: FeatureSet, require: Bool = false, explicit: Bool = false) {
        self.terms = terms
        self.require = require
        self.explicit = explicit
    }

    /// Parses one header value. The leading `*` (or, leniently, a URI left over from old drafts) is skipped;
    /// `require` and `explicit` are flags; feature parameters become terms; other parameters are ignored.
    public init(parsing value: String) {
        var parts = ProxyText.splitOutsideQuotes(value, separator: UInt8(ascii: ";")).map(ProxyText.trimmed)
        // "=", ":" and "<" are looked for as bytes, as the parser reads them (RFC 3261 §25 EQUAL, LAQUOT).
        if let first = parts.first, first == "*" || first.utf8.first == UInt8(ascii: "<")
            || (!first.utf8.contains(UInt8(ascii: "=")) && first.utf8.contains(UInt8(ascii: ":"))) {
            parts.removeFirst()
        }
        var params = SIPParameters()
        var require = false, explicit = false
        for p in parts where !p.isEmpty {
            let nv = ByteSplitter.split(p, on: UInt8(ascii: "="), maxSplits: 1).map { ProxyText.trimmed($0) }
            // A bare "=" leaves nothing (empty pieces are dropped): skip it rather than index an empty list.
            guard let first = nv.first else { continue }
            let name = String(first)
            let lower = ProxyText.lowercasedASCII(name)
            if nv.count == 1, lower == "require" { require = true; continue }
            if nv.count == 1, lower == "explicit" { explicit = true; continue }
            params.items.append((name, nv.count > 1 ? String(nv[1]) : nil))
        }
        self.init(terms: FeatureSet(parameters: params), require: require, explicit: explicit)
    }

    /// Matches the terms whose tag the contact has; counts those present.
    func evaluate(_ contact: FeatureSet) -> (matches: Bool, present: Int) {
        var present = 0
        var matches = true
        for (tag, wanted) in terms.features {
            guard let have = contact.features[tag] else { continue }
            present += 1
            if !wanted.contains(where: { w in have.contains { w.isCompatible(with: $0) } }) { matches = false }
        }
        return (matches, present)
    }
}

/// Request-Disposition directives (RFC 3841 §9.1); nil when not given.
public struct RequestDisposition: Sendable, Hashable {
    public enum Mode: Sendable, Hashable { case proxy, redirect }
    public var mode: Mode?
    public var cancel: Bool?
    public var fork: Bool?
    public var recurse: Bool?
    /// true = parallel, false = sequential.
    public var parallel: Bool?
    public var queue: Bool?

    public init() {}

    public init(directives: [String]) {
        for d in directives {
            switch ProxyText.lowercasedASCII(ProxyText.trimmed(d)) {
            case "proxy": mode = .proxy
            case "redirect": mode = .redirect
            case "cancel": cancel = true
            case "no-cancel": cancel = false
            case "fork": fork = true
            case "no-fork": fork = false
            case "recurse": recurse = true
            case "no-recurse": recurse = false
            case "parallel": parallel = true
            case "sequential": parallel = false
            case "queue": queue = true
            case "no-queue": queue = false
            default: continue
            }
        }
    }
}

/// A target kept by caller-preference processing, with its q and caller-preference score (Qa).
public struct RankedTarget<Target> {
    public var target: Target
    /// Contact q (1.0 when absent).
    public var q: Double
    /// Qa (RFC 3841 §7.2.4): mean score over the matching Accept-Contact predicates, 0...1; 1 when there were no
    /// explicit Accept-Contact predicates.
    public var score: Double
}
extension RankedTarget: Sendable where Target: Sendable {}
extension RankedTarget: Equatable where Target: Equatable {}
extension RankedTarget: Hashable where Target: Hashable {}

/// RFC 3841 caller preferences of a request, applied to a target set (§7.2).
///
/// Explicit preferences come from Accept-Contact and Reject-Contact. Without either, the implicit preference
/// (§7.2.2) is an Accept-Contact `methods=<method>` (plus `events=<package>` for SUBSCRIBE) with `require`: it
/// drops contacts that advertise `methods`/`events` without this one, and does not reorder.
///
/// Matching (§7.2.4): a Reject-Contact predicate drops a contact when the contact has every one of its feature
/// tags with compatible values. For each Accept-Contact predicate only the terms whose tag the contact has are
/// compared; a contradiction drops the contact if the predicate has `require`, otherwise leaves the predicate out
/// of the contact's matching set; a match scores (tags present / terms), and with `require` + `explicit` a
/// score below 1 drops the contact. Qa is the mean score of the matching set (0 when empty). Kept targets are
/// ordered by q (descending), then Qa (descending), then their original order.
public struct CallerPreferences: Sendable, Hashable {
    public var accept: [FeaturePredicate]
    public var reject: [FeaturePredicate]
    public var disposition: RequestDisposition
    /// `accept` is the implicit preference (the request had neither Accept-Contact nor Reject-Contact).
    public var isImplicit: Bool

    public init(accept: [FeaturePredicate], reject: [FeaturePredicate] = [], disposition: RequestDisposition = RequestDisposition(),
                isImplicit: Bool = false) {
        self.accept = accept
        self.reject = reject
        self.disposition = disposition
        self.isImplicit = isImplicit
    }

    public init(request: SIPRequest) {
        let accept = request.headers.values("Accept-Contact").map(FeaturePredicate.init(parsing:))
        let reject = request.headers.values("Reject-Contact").map(FeaturePredicate.init(parsing:))
        let disposition = RequestDisposition(directives: request.headers.values("Request-Disposition"))
        if accept.isEmpty, reject.isEmpty {
            var terms: [String: [FeatureValue]] = ["sip.methods": [FeatureValue(.token(ProxyText.lowercasedASCII(request.method.rawValue)))]]
            if request.method == .subscribe, let event = request.headers.first("Event"),
               let package = ByteSplitter.split(event, on: UInt8(ascii: ";")).first.map({ ProxyText.trimmed($0) }), !package.isEmpty {
                terms["sip.events"] = [FeatureValue(.token(ProxyText.lowercasedASCII(String(package))))]
            }
            self.init(accept: [FeaturePredicate(terms: FeatureSet(terms), require: true)], reject: [], disposition: disposition, isImplicit: true)
        } else {
            self.init(accept: accept, reject: reject, disposition: disposition)
        }
    }

    /// Filters and orders targets; `contact` gives each target's Contact (feature parameters and q).
    public func rank<Target>(_ targets: [Target], contact: (Target) -> NameAddr) -> [RankedTarget<Target>] {
        rank(targets, parameters: { contact($0).parameters }, q: { contact($0).q })
    }

    /// Filters and orders targets given their Contact header parameters (feature tags) and q (1.0 when nil),
    /// e.g. `rank(bindings, parameters: \.contactParameters, q: \.q)` for registrar bindings.
    public func rank<Target>(_ targets: [Target], parameters: (Target) -> SIPParameters,
                             q: (Target) -> Double?) -> [RankedTarget<Target>] {
        var kept: [(index: Int, ranked: RankedTarget<Target>)] = []
        for (index, target) in targets.enumerated() {
            if let score = score(FeatureSet(parameters: parameters(target))) {
                kept.append((index, RankedTarget(target: target, q: q(target) ?? 1.0, score: score)))
            }
        }
        kept.sort { a, b in
            if a.ranked.q != b.ranked.q { return a.ranked.q > b.ranked.q }
            if a.ranked.score != b.ranked.score { return a.ranked.score > b.ranked.score }
            return a.index < b.index
        }
        return kept.map(\.ranked)
    }

    /// `rank` for plain Contact values.
    public func rank(_ contacts: [NameAddr]) -> [RankedTarget<NameAddr>] { rank(contacts) { $0 } }

    /// Qa of a contact, nil when the contact is dropped.
    public func score(_ features: FeatureSet) -> Double? {
        for predicate in reject where !predicate.terms.features.isEmpty {
            let r = predicate.evaluate(features)
            if r.matches, r.present == predicate.terms.features.count { return nil }
        }
        var scores: [Double] = []
        for predicate in accept {
            let r = predicate.evaluate(features)
            guard r.matches else {
                if predicate.require { return nil }
                continue
            }
            let total = predicate.terms.features.count
            let s = total == 0 ? 1.0 : Double(r.present) / Double(total)
            if predicate.require, predicate.explicit, s < 1 { return nil }
            scores.append(s)
        }
        if isImplicit || accept.isEmpty { return 1 }
        return scores.isEmpty ? 0 : scores.reduce(0, +) / Double(scores.count)
    }
}
