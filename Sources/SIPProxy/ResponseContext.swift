import SIPCore

/// What the caller must do after feeding an event into a `ResponseContext`.
public enum ProxyAction<BranchID: Hashable & Sendable>: Sendable, Hashable {
    /// Send this provisional response (our Via already removed) on the server transaction.
    case forwardProvisional(SIPResponse)
    /// Send this final response on the server transaction: a forwarded one (our Via removed) or one the context
    /// generated (487, 480, 408/500 from synthetic branch results; it carries the context's To tag).
    /// Several may come for an INVITE: every 2xx is forwarded (§16.7 step 5).
    case forwardFinal(SIPResponse)
    /// Send a CANCEL on each of these client transactions (`ResponseContext.cancelRequest(for:)` builds it).
    /// Only branches that have seen a provisional response are listed (§9.1); the others are listed later, when
    /// their first provisional arrives.
    case cancelBranches([BranchID])
    /// (Re)start Timer C for this INVITE branch (§16.8: a 101-199 response resets it).
    case restartTimerC(BranchID)
    /// Every branch has completed without a final response being sent, and the context was told more targets
    /// may follow (`moreTargetsExpected`): add branches (serial forking, 3xx recursion) or call
    /// `targetsExhausted()` to send the best response.
    case branchesCompleted
}

/// One client transaction of a response context.
public struct ProxyBranch: Sendable, Hashable {
    public enum State: Sendable, Hashable {
        /// No response yet.
        case trying
        /// A provisional response was received.
        case proceeding
        /// A final response was received (or synthesised: timeout, transport error).
        case completed
    }

    /// The request as forwarded on this branch (CANCEL is built from it).
    public let request: SIPRequest
    public internal(set) var state: State = .trying
    /// Any 1xx (100 included) was received: a CANCEL may be sent (§9.1).
    public internal(set) var receivedProvisional = false
    /// The final response, ready to go upstream (our Via removed).
    public internal(set) var finalResponse: SIPResponse?
    /// The final response was made up by the context (timeout, transport error), not received.
    public internal(set) var isSynthetic = false
    /// A CANCEL is wanted for this branch.
    public internal(set) var cancelRequested = false
    /// The CANCEL was handed to the caller in a `.cancelBranches` action.
    public internal(set) var cancelSent = false
    /// RFC 3326 Reason for the CANCEL, when there is one.
    public internal(set) var cancelReason: String?

    public var isPending: Bool { state != .completed }
}

/// The response context of one server transaction of a stateful proxy (RFC 3261 §16.7-§16.10), generic over
/// the caller's client-transaction id. It tracks branches, forwards provisional responses and every 2xx, picks
/// the best final response when all branches are done, and says when to CANCEL.
///
/// Time is the caller's: it runs Timer C per INVITE branch (start it when adding the branch, restart on
/// `.restartTimerC`, stop when the branch completes, i.e. when `needsTimerC(_:)` turns false) and calls
/// `timerCFired(_:)`; it reports client-transaction timeouts and transport failures with `branchTimedOut(_:)` and
/// `branchTransportError(_:)`.
public struct ResponseContext<BranchID: Hashable & Sendable>: Sendable {
    public typealias Action = ProxyAction<BranchID>

    /// The request of the server transaction, as received (synthetic responses are built from it).
    public let request: SIPRequest
    /// The To tag of responses the context generates.
    public let toTag: String
    /// While true, completing every branch gives `.branchesCompleted` instead of the best final response.
    public private(set) var moreTargetsExpected: Bool

    public private(set) var branches: [BranchID: ProxyBranch] = [:]
    /// Branch ids in the order they were added.
    public private(set) var branchOrder: [BranchID] = []
    /// A final response was sent on the server transaction.
    public private(set) var finalResponseSent = false
    /// A CANCEL for the server transaction was received.
    public private(set) var isCancelled = false
    /// No more branches may be created (2xx, 6xx, CANCEL, final sent).
    public private(set) var stopsForking = false

    public init(request: SIPRequest, toTag: String? = nil, moreTargetsExpected: Bool = false) {
        self.request = request
        self.toTag = toTag ?? ProxyCore.makeTag()
        self.moreTargetsExpected = moreTargetsExpected
    }

    var isInvite: Bool { request.method == .invite }

    /// Whether a new branch may be created now.
    public var acceptsNewBranches: Bool { !stopsForking && !finalResponseSent }

    /// Branch ids without a final response, in order.
    public var pendingBranches: [BranchID] { branchOrder.filter { branches[$0]?.isPending == true } }

    public func branch(_ id: BranchID) -> ProxyBranch? { branches[id] }

    /// Whether Timer C should be running for this branch (INVITE, no final response yet).
    public func needsTimerC(_ id: BranchID) -> Bool { isInvite && branches[id]?.isPending == true }

    /// Registers a client transaction carrying `forwarded` (the output of `ProxyCore.forward`). False, and
    /// nothing registered, when the context takes no new branches (CANCELled, 2xx/6xx received, final sent) or
    /// the id is already in use. For an INVITE, start Timer C for it.
    @discardableResult
    public mutating func addBranch(_ id: BranchID, request forwarded: SIPRequest) -> Bool {
        guard acceptsNewBranches, branches[id] == nil else { return false }
        branches[id] = ProxyBranch(request: forwarded)
        branchOrder.append(id)
        return true
    }

    /// The CANCEL for a branch (`ProxyCore.cancel(for:reason:)` with the branch's request and cancel reason).
    public func cancelRequest(for id: BranchID) -> SIPRequest? {
        guard let b = branches[id] else { return nil }
        return ProxyCore.cancel(for: b.request, reason: b.cancelReason)
    }

    // MARK: Events

    /// A response received on a branch's client transaction (§16.7).
    public mutating func received(_ response: SIPResponse, on id: BranchID) -> [Action] {
        guard var b = branches[id] else { return [] }
        let code = response.statusCode
        let upstream = ProxyCore.stripTopVia(response)

        if code < 200 {
            guard b.isPending else { return [] }
            var actions: [Action] = []
            b.receivedProvisional = true
            if code > 100 { b.state = .proceeding }
            if b.cancelRequested, !b.cancelSent {
                b.cancelSent = true
                actions.append(.cancelBranches([id]))
            }
            branches[id] = b
            if isInvite, code > 100 { actions.append(.restartTimerC(id)) }
            if code > 100, !finalResponseSent { actions.append(.forwardProvisional(upstream)) }
            return actions
        }

        guard b.isPending else {
            // A retransmitted or further 2xx to an INVITE (another UAS downstream): forward it too (§16.7 step 5).
            return isInvite && code / 100 == 2 ? [.forwardFinal(upstream)] : []
        }
        b.state = .completed
        b.finalResponse = upstream
        b.isSynthetic = false
        branches[id] = b
        return completed(id, upstream)
    }

    /// The branch's client transaction timed out (Timer B/F): as if it had received a 408 (§16.7 step 6, §16.8).
    public mutating func branchTimedOut(_ id: BranchID) -> [Action] { synthesize(408, on: id) }

    /// The branch's request could not be sent (§16.9): as if it had received a 503 (which is sent upstream as 500).
    public mutating func branchTransportError(_ id: BranchID) -> [Action] { synthesize(503, on: id) }

    /// Timer C fired for an INVITE branch (§16.8): CANCEL it if it had a provisional response, otherwise treat it
    /// as a 408. If the CANCELled branch then never answers, report `branchTimedOut(_:)` when you give up on it.
    public mutating func timerCFired(_ id: BranchID) -> [Action] {
        guard isInvite, var b = branches[id], b.isPending else { return [] }
        guard b.receivedProvisional else { return synthesize(408, on: id) }
        guard !b.cancelSent else { return [] }
        b.cancelRequested = true
        b.cancelSent = true
        branches[id] = b
        return [.cancelBranches([id])]
    }

    /// A CANCEL matched this server transaction (§16.10). The caller answers the CANCEL with 200 itself. Every
    /// pending branch is cancelled (those without a provisional yet when one arrives); their 487s come back as
    /// branch responses. Without any pending branch, the context answers 487 itself. `reason` (the CANCEL's
    /// Reason value, RFC 3326) is copied into the CANCELs sent downstream.
    public mutating func cancelReceived(reason: String? = nil) -> [Action] {
        isCancelled = true
        stopsForking = true
        guard !finalResponseSent else { return [] }
        var actions = cancelPending(reason: reason)
        if pendingBranches.isEmpty {
            finalResponseSent = true
            actions.append(.forwardFinal(request.makeResponse(statusCode: 487, toTag: toTag)))
        }
        return actions
    }

    /// No more targets will be added: when every branch is done, send the best response (480 when no branch was
    /// ever created, §16.5 empty target set).
    public mutating func targetsExhausted() -> [Action] {
        moreTargetsExpected = false
        return finishIfDone()
    }

    // MARK: Best response (§16.7 step 6-7)

    /// The response that would be sent if every branch were done now: 6xx first, then the lowest class, 3xx/4xx
    /// before 5xx; in 4xx 401/407/415/420/484 first, then by code, a received 408 last; 503 after other 5xx;
    /// synthetic results (timeouts, transport errors) after everything received; earlier branches win ties.
    /// A 401/407 gets the WWW-Authenticate/Proxy-Authenticate values of every other 401/407; a 503 becomes 500.
    public var bestResponse: SIPResponse? {
        var best: (rank: Int, response: SIPResponse)?
        for id in branchOrder {
            guard let b = branches[id], let r = b.finalResponse else { continue }
            let rank = Self.rank(r.statusCode, synthetic: b.isSynthetic)
            if best == nil || rank < best!.rank { best = (rank, r) }
        }
        guard var chosen = best?.response else { return nil }
        if chosen.statusCode == 401 || chosen.statusCode == 407 {
            var seen = Set(chosen.headers.rawValues("WWW-Authenticate") + chosen.headers.rawValues("Proxy-Authenticate"))
            for id in branchOrder {
                guard let b = branches[id], !b.isSynthetic, let r = b.finalResponse,
                      r.statusCode == 401 || r.statusCode == 407 else { continue }
                for name in ["WWW-Authenticate", "Proxy-Authenticate"] {
                    for value in r.headers.rawValues(name) where seen.insert(value).inserted {
                        chosen = chosen.adding(name, value)
                    }
                }
            }
        }
        if chosen.statusCode == 503 {
            chosen.statusCode = 500
            chosen.reasonPhrase = SIPStatus.defaultReason(500)
        }
        return chosen
    }

    /// Lower is better.
    static func rank(_ code: Int, synthetic: Bool) -> Int {
        if synthetic { return 20_000 + code }
        let tier: Int
        switch code {
        case 600...699: tier = 1
        case 200...299: tier = 2
        case 300...399: tier = 3
        case 401, 407, 415, 420, 484: tier = 4
        case 408: tier = 6
        case 400...499: tier = 5
        case 503: tier = 8
        case 500...599: tier = 7
        default: tier = 9
        }
        return tier * 1000 + code
    }

    // MARK: Internals

    private mutating func synthesize(_ code: Int, on id: BranchID) -> [Action] {
        guard var b = branches[id], b.isPending else { return [] }
        let r = request.makeResponse(statusCode: code, toTag: toTag)
        b.state = .completed
        b.finalResponse = r
        b.isSynthetic = true
        branches[id] = b
        return completed(id, r)
    }

    private mutating func completed(_ id: BranchID, _ response: SIPResponse) -> [Action] {
        let code = response.statusCode
        var actions: [Action] = []
        switch code / 100 {
        case 2:
            stopsForking = true
            if isInvite {
                finalResponseSent = true
                actions.append(.forwardFinal(response))
                actions += cancelPending(reason: ProxyCore.reasonHeader(for: response))
            } else if !finalResponseSent {
                finalResponseSent = true
                actions.append(.forwardFinal(response))
            }
            return actions
        case 6:
            stopsForking = true
            if isInvite, !finalResponseSent { actions += cancelPending(reason: ProxyCore.reasonHeader(for: response)) }
        default:
            break
        }
        return actions + finishIfDone()
    }

    private mutating func finishIfDone() -> [Action] {
        guard !finalResponseSent, pendingBranches.isEmpty else { return [] }
        if moreTargetsExpected, !stopsForking { return [.branchesCompleted] }
        finalResponseSent = true
        stopsForking = true
        let fallback = isCancelled ? 487 : 480
        return [.forwardFinal(bestResponse ?? request.makeResponse(statusCode: fallback, toTag: toTag))]
    }

    /// Marks every pending branch for CANCEL (INVITE only, §9.1); returns the ones that can be sent now.
    private mutating func cancelPending(reason: String?) -> [Action] {
        guard isInvite else { return [] }
        var now: [BranchID] = []
        for id in branchOrder {
            guard var b = branches[id], b.isPending, !b.cancelRequested else { continue }
            b.cancelRequested = true
            b.cancelReason = reason
            if b.receivedProvisional {
                b.cancelSent = true
                now.append(id)
            }
            branches[id] = b
        }
        return now.isEmpty ? [] : [.cancelBranches(now)]
    }
}
