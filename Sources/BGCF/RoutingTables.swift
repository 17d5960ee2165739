import SIPCore

/// What the S-CSCF should do with a request, from `RoutingTables.decide`.
public enum RoutingDecision: Sendable, Hashable {
    /// Terminate at this home-domain public identity (`sip:N@home`, or the ENUM result's `sip:user@host`).
    case local(String)
    /// Break out through the BGCF route: send `requestURI` (the ENUM-rewritten Request-URI, else the original one)
    /// with the route's URIs as the Route set.
    case breakout(BGCFRoute, requestURI: String)
    /// ENUM rewrote the number to an off-net SIP URI that is not itself a number and no BGCF route applies:
    /// set the Request-URI to this and route it as any other SIP URI (RFC 3263).
    case offNet(requestURI: String)
    /// Reject: 404 Not Found, or 604 Does Not Exist Anywhere.
    case notFound(status: Int, reason: String)
    /// The Request-URI is not a number: route it as a SIP URI normally.
    case notANumber
}

/// The ENUM and BGCF tables in force. A value: reloading (SIGHUP) builds a new one with `load`, and the caller swaps
/// it in only when that succeeded.
public struct RoutingTables: Sendable {
    public var enumTable: EnumTable
    public var bgcfTable: BGCFTable

    public static let empty = RoutingTables()

    public init(enumTable: EnumTable = .empty, bgcfTable: BGCFTable = .empty) {
        self.enumTable = enumTable
        self.bgcfTable = bgcfTable
    }

    /// Reads both files. A nil path or a file that does not exist gives an empty table; a file that exists but cannot
    /// be read, is empty, is not valid JSON or has an invalid entry is an error naming the file and entry. Reads only:
    /// no state is changed anywhere.
    public static func load(enumPath: String?, bgcfPath: String?) throws(RoutingConfigError) -> RoutingTables {
        var tables = RoutingTables()
        if let enumPath { tables.enumTable = try EnumTable.load(path: enumPath) }
        if let bgcfPath { tables.bgcfTable = try BGCFTable.load(path: bgcfPath) }
        return tables
    }

    /// Where a request to `requestURI` goes.
    ///
    /// 1. Normalise (`NumberNormalizer.normalize(uri:homeDomain:)`); not a number → `.notANumber`.
    /// 2. ENUM, on the canonical digits. When no block's prefix matches, or the longest-prefix block's pattern does
    ///    not match the number (a NAPTR whose regex does not apply), ENUM has no opinion and the original URI goes on.
    ///    When it matches, the result replaces the Request-URI, except that **604 Does Not Exist Anywhere** is the
    ///    answer when the result is empty (the block deliberately maps the number to nothing) or is not a `sip:`,
    ///    `sips:` or `tel:` URI. A home-domain SIP result whose `sip:user@host` is a local subscriber → `.local`.
    /// 3. The number (the ENUM result's, when that is a number) → `.local` when `sip:N@home` or, for a global
    ///    number, `sip:N-without-+@home` is a local subscriber. Skipped when ENUM rewrote the URI into another
    ///    domain: ENUM said where the number lives.
    /// 4. An ENUM result in the home domain that is not a number and not a local subscriber → 404.
    /// 5. BGCF: the longest number prefix, then the target's domain when it is not the home domain, then `*` →
    ///    `.breakout`.
    /// 6. Nothing matched: an ENUM result that is an off-net non-number SIP URI → `.offNet`; otherwise 404 Not Found.
    public func decide(requestURI: URI, homeDomain: String, isLocalSubscriber: (String) -> Bool) -> RoutingDecision {
        guard let original = NumberNormalizer.normalize(uri: requestURI, homeDomain: homeDomain) else { return .notANumber }
        var target = requestURI
        var number: DialledNumber? = original
        var enumRewritten = false

        if let translated = enumTable.translate(original.digits) {
            guard let uri = Self.enumTarget(translated) else { return Self.doesNotExistAnywhere }
            target = uri
            enumRewritten = true
            if let sip = uri.sipURI, NumberNormalizer.isSameDomain(sip.host, homeDomain), let user = sip.user {
                let aor = SIPURI(user: user, host: sip.host.lowercased()).addressOfRecord
                if isLocalSubscriber(aor) { return .local(aor) }
            }
            number = NumberNormalizer.normalize(uri: uri, homeDomain: homeDomain)
        }

        // The target's domain when it is a SIP URI outside the home domain.
        let foreignDomain = target.sipURI.map(\.host).flatMap { NumberNormalizer.isSameDomain($0, homeDomain) ? nil : $0 }

        if let number, !(enumRewritten && foreignDomain != nil) {
            var candidates = [number.digits]
            if number.isGlobal { candidates.append(number.digitsWithoutPlus) }
            for digits in candidates {
                let aor = NumberNormalizer.toHomeSIPURI(digits, homeDomain: homeDomain)
                if isLocalSubscriber(aor) { return .local(aor) }
            }
        }
        if number == nil && foreignDomain == nil { return Self.notFound }

        if let route = bgcfTable.route(number: number?.digits, domain: foreignDomain) {
            return .breakout(route, requestURI: target.description)
        }
        if number == nil { return .offNet(requestURI: target.description) }
        return Self.notFound
    }

    static let notFound = RoutingDecision.notFound(status: 404, reason: "Not Found")
    static let doesNotExistAnywhere = RoutingDecision.notFound(status: 604, reason: "Does Not Exist Anywhere")

    /// An ENUM result usable as a Request-URI: a `sip:`, `sips:` or `tel:` URI.
    static func enumTarget(_ text: String) -> URI? {
        guard !text.isEmpty, let uri = try? URI(parsing: text) else { return nil }
        switch uri {
        case .sip, .tel: return uri
        case .other: return nil
        }
    }
}
