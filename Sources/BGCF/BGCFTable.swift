import Foundation
import SIPCore

/// Where a BGCF route applies.
public enum BGCFMatch: Sendable, Hashable, CustomStringConvertible {
    /// A number-prefix route (the canonical prefix).
    case number(String)
    /// A domain route (lower-cased).
    case domain(String)
    /// The `"domain": "*"` default route.
    case `default`

    public var description: String {
        switch self {
        case .number(let p): "number \(p)"
        case .domain(let d): "domain \(d)"
        case .default: "domain *"
        }
    }
}

/// The result of a BGCF look-up: the entry's name and the Route set to send the request through.
public struct BGCFRoute: Sendable, Hashable, CustomStringConvertible {
    public var name: String
    public var match: BGCFMatch
    /// SIP URIs, in order (they become Route headers; the first is the next hop).
    public var route: [String]

    public init(name: String, match: BGCFMatch, route: [String]) {
        self.name = name
        self.match = match
        self.route = route
    }

    public var description: String { "\(name) [\(match)] via \(route.joined(separator: ", "))" }
}

/// The Breakout Gateway Control Function route table, `bgcf.json`:
///
///     {"routes": [{"name": "…", "domain": "pstn.example.net", "route": ["sip:gw1.example.net:5060;transport=udp"]},
///                 {"name": "…", "number": "+1650", "route": ["sip:gw2.example.net;lr"]},
///                 {"name": "default", "domain": "*", "route": ["sip:ibcf.example.net;lr"]}]}
///
/// Each entry has exactly one of `domain` and `number`, and a non-empty `route` of SIP URIs; `name` is optional.
/// Look-up: the longest number prefix (canonical digits, compared literally, so `+1650` does not match
/// `16505550002`), then an exact domain match (case-insensitive), then the `*` default. Duplicate prefixes or
/// domains are an error.
public struct BGCFTable: Sendable {
    public let routes: [BGCFRoute]
    let byNumber: [String: Int]
    let byDomain: [String: Int]
    let defaultRoute: Int?

    public static let empty = BGCFTable()

    public init() {
        routes = []
        byNumber = [:]
        byDomain = [:]
        defaultRoute = nil
    }

    /// Builds a table, rejecting duplicate prefixes and domains. Route URIs are taken as given.
    public init(routes: [BGCFRoute], file: String = "bgcf.json") throws(RoutingConfigError) {
        var byNumber: [String: Int] = [:], byDomain: [String: Int] = [:], defaultRoute: Int?
        for (i, r) in routes.enumerated() {
            let previous: Int?
            let key: String
            switch r.match {
            case .number(let p):
                (previous, key) = (byNumber[p], "number")
                if previous == nil { byNumber[p] = i }
            case .domain(let d):
                let folded = Self.foldDomain(d)
                (previous, key) = (byDomain[folded], "domain")
                if previous == nil { byDomain[folded] = i }
            case .default:
                (previous, key) = (defaultRoute, "domain")
                if previous == nil { defaultRoute = i }
            }
            if let previous {
                throw RoutingConfigError(file: file, location: "routes[\(i)].\(key)",
                                         message: "duplicate of routes[\(previous)] (\"\(Self.text(of: r.match))\")")
            }
        }
        self.routes = routes
        self.byNumber = byNumber
        self.byDomain = byDomain
        self.defaultRoute = defaultRoute
    }

    /// Parses `bgcf.json` text. `file` names the source in error messages.
    public init(json data: Data, file: String = "bgcf.json") throws(RoutingConfigError) {
        let reader = ConfigReader(file: file)
        let top = try reader.fields(try reader.topLevelObject(data), at: nil, allowed: ["routes"])
        var routes: [BGCFRoute] = []
        for (i, item) in try reader.array(top, "routes", at: nil).enumerated() {
            let at = "routes[\(i)]"
            guard let object = item as? [String: Any] else { throw reader.error(at, "expected an object") }
            let fields = try reader.fields(object, at: at, allowed: ["name", "domain", "number", "route"])
            let domain = try reader.string(fields, "domain", at: at, required: false)
            let number = try reader.string(fields, "number", at: at, required: false)
            let match: BGCFMatch
            switch (domain, number) {
            case (nil, nil):
                throw reader.error(at, "needs one of \"domain\" and \"number\"")
            case (.some, .some):
                throw reader.error(at, "has both \"domain\" and \"number\"; use exactly one")
            case (.some(let d), nil):
                if d == "*" {
                    match = .default
                } else {
                    guard Self.isValidDomain(d) else {
                        throw reader.error(at + ".domain", "\"\(d)\" is not a domain name or IP address (or \"*\")")
                    }
                    match = .domain(Self.foldDomain(d))
                }
            case (nil, .some(let n)):
                guard let digits = NumberNormalizer.canonicalDigits(n) else {
                    throw reader.error(at + ".number", "\"\(n)\" is not a number prefix (digits with an optional leading +)")
                }
                match = .number(digits)
            }
            guard let rawRoute = fields["route"], !(rawRoute is NSNull) else { throw reader.error(at + ".route", "missing") }
            guard let hops = rawRoute as? [Any] else { throw reader.error(at + ".route", "expected an array of SIP URIs") }
            guard !hops.isEmpty else { throw reader.error(at + ".route", "empty; at least one SIP URI is required") }
            var route: [String] = []
            for (j, hop) in hops.enumerated() {
                guard let text = hop as? String else { throw reader.error(at + ".route[\(j)]", "expected a string") }
                guard (try? SIPURI(parsing: text)) != nil else {
                    throw reader.error(at + ".route[\(j)]", "\"\(text)\" is not a SIP URI")
                }
                route.append(text)
            }
            let name = try reader.string(fields, "name", at: at, required: false) ?? Self.text(of: match)
            routes.append(BGCFRoute(name: name, match: match, route: route))
        }
        try self.init(routes: routes, file: file)
    }

    /// Loads `bgcf.json`; a missing file is an empty table.
    public static func load(path: String) throws(RoutingConfigError) -> BGCFTable {
        guard let data = try ConfigFile.read(path) else { return .empty }
        return try BGCFTable(json: data, file: path)
    }

    public var isEmpty: Bool { routes.isEmpty }

    /// The route for a number and/or domain: the longest number prefix of `number`, then an exact `domain` match,
    /// then the `*` default; nil when none applies. `number` may be canonical digits or a dialled string.
    public func route(number: String?, domain: String?) -> BGCFRoute? {
        if let number, !byNumber.isEmpty {
            var candidate = Substring(NumberNormalizer.canonicalDigits(number) ?? number)
            while !candidate.isEmpty {
                if let i = byNumber[String(candidate)] { return routes[i] }
                candidate = candidate.dropLast()
            }
        }
        if let domain {
            if let i = byDomain[Self.foldDomain(domain)] { return routes[i] }
        }
        return defaultRoute.map { routes[$0] }
    }

    /// Lower-cased, without one trailing dot.
    static func foldDomain(_ d: String) -> String {
        let lower = d.lowercased()
        return lower.hasSuffix(".") ? String(lower.dropLast()) : lower
    }

    static func text(of match: BGCFMatch) -> String {
        switch match {
        case .number(let p): p
        case .domain(let d): d
        case .default: "*"
        }
    }

    /// A host as a SIP URI would carry it, without user, port or parameters.
    static func isValidDomain(_ d: String) -> Bool {
        guard !d.isEmpty, let uri = try? SIPURI(parsing: "sip:" + d) else { return false }
        return uri.user == nil && uri.port == nil && uri.parameters.items.isEmpty && uri.headers.isEmpty
    }
}
