import IMSStore
import Logging
import NIOCore
import SCSCF

/// Writes binding changes to the database behind the event loop, in group commits: everything that
/// changed while one write was in flight goes in the next transaction. Each REGISTER's 200 OK waits
/// for the commit that contains it, so an acknowledged registration survives `kill -9`.
///
/// A commit that fails (typically ``StoreError/busy``: a `cw-aio subscriber import` held the write
/// lock longer than the busy timeout) is not dropped: its changes go back into the queue, behind any
/// newer change to the same binding, and are retried with a growing pause. Their waiters keep
/// waiting for a commit that does contain them; those waiting longer than ``maxWait`` are told the
/// change is not durable (the registrar answers 503), but the change itself stays queued.
final class RegistrationJournal: @unchecked Sendable {  // confined to the SIP loop
    /// How long a REGISTER's response may wait for its commit before the client is told to retry.
    static let maxWait: TimeAmount = .seconds(10)
    /// Pause before retrying a failed commit: doubles from the first value up to the second.
    static let retryPause: (first: TimeAmount, max: TimeAmount) = (.milliseconds(50), .seconds(2))

    private struct Waiter {
        var since: NIODeadline
        var done: @Sendable (_ durable: Bool) -> Void
    }

    private let store: IMSStore
    private let eventLoop: EventLoop
    private let logger: Logger
    private var upserts: [String: StoredBinding] = [:]
    private var deletes: [String: (aor: String, bindingKey: String)] = [:]
    private var waiters: [Waiter] = []
    private var writing = false
    private var failures = 0
    /// Wraps the answers to one commit's waiters so they leave together (the transport's
    /// `batchingSends`); set by the server once the stack exists.
    var answering: (_ body: () -> Void) -> Void = { $0() }

    init(store: IMSStore, eventLoop: EventLoop, logger: Logger) {
        self.store = store
        self.eventLoop = eventLoop
        self.logger = logger
    }

    /// Queues a change; `then` runs on the loop once it is durable (`true`), or, if the database keeps
    /// refusing the commit for ``maxWait``, with `false` (the change stays queued and is retried).
    func record(_ change: RegistrationChange, then: (@Sendable (_ durable: Bool) -> Void)? = nil) {
        for (event, binding) in change.changes {
            let id = change.aor + "\u{0}" + binding.key
            switch event {
            case .expired, .deactivated, .unregistered, .rejected:
                upserts[id] = nil
                deletes[id] = (change.aor, binding.key)
            case .registered, .created, .refreshed, .shortened:
                deletes[id] = nil
                upserts[id] = SubscriberData.stored(binding, aor: change.aor)
            }
        }
        if let then { waiters.append(Waiter(since: .now(), done: then)) }
        flush()
    }

    private func flush() {
        guard !writing, !(upserts.isEmpty && deletes.isEmpty && waiters.isEmpty) else { return }
        writing = true
        let batchUpserts = upserts
        let batchDeletes = deletes
        let batchWaiters = waiters
        upserts = [:]
        deletes = [:]
        waiters = []
        let store = self.store
        let loop = eventLoop
        let promise = loop.makePromise(of: Void.self)
        let upsertList = Array(batchUpserts.values), deleteList = Array(batchDeletes.values)
        // Straight onto the database writer's queue and back: no Task per commit.
        store.saveBindings(upserts: upsertList, deletes: deleteList) { result in promise.completeWith(result.mapError { $0 as any Error }) }
        promise.futureResult.whenComplete { [self] result in
            switch result {
            case .success:
                if failures > 0 {
                    logger.notice("registrations saved again after \(failures) failed attempt(s)")
                }
                failures = 0
                answering { for waiter in batchWaiters { waiter.done(true) } }
                writing = false
                flush()
            case .failure(let error):
                failures += 1
                logger.error("could not save registrations (attempt \(failures), retrying): \(error)")
                requeue(upserts: batchUpserts, deletes: batchDeletes, waiters: batchWaiters)
                let pause = Self.pause(afterFailures: failures)
                loop.scheduleTask(in: pause) { [self] in
                    writing = false
                    flush()
                }
            }
        }
    }

    /// Puts a failed batch back under the changes queued since (a newer change to the same binding
    /// wins), and answers the waiters that have waited too long.
    private func requeue(upserts batchUpserts: [String: StoredBinding],
                         deletes batchDeletes: [String: (aor: String, bindingKey: String)],
                         waiters batchWaiters: [Waiter]) {
        for (id, binding) in batchUpserts where upserts[id] == nil && deletes[id] == nil {
            upserts[id] = binding
        }
        for (id, key) in batchDeletes where upserts[id] == nil && deletes[id] == nil {
            deletes[id] = key
        }
        let now = NIODeadline.now()
        var kept: [Waiter] = []
        for waiter in batchWaiters {
            if now - waiter.since >= Self.maxWait {
                waiter.done(false)
            } else {
                kept.append(waiter)
            }
        }
        waiters = kept + waiters
    }

    static func pause(afterFailures failures: Int) -> TimeAmount {
        let doublings = min(max(failures - 1, 0), 16)
        let nanoseconds = retryPause.first.nanoseconds << doublings
        return .nanoseconds(min(nanoseconds, retryPause.max.nanoseconds))
    }
}
