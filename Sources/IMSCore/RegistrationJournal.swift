import IMSStore
import Logging
import NIOCore
import SCSCF

/// Writes binding changes to the database behind the event loop, in group commits: everything that
/// changed while one write was in flight goes in the next transaction. Each REGISTER's 200 OK waits
/// for the commit that contains it, so an acknowledged registration survives `kill -9`.
final class RegistrationJournal: @unchecked Sendable {  // confined to the SIP loop
    private let store: IMSStore
    private let eventLoop: EventLoop
    private let logger: Logger
    private var upserts: [String: StoredBinding] = [:]
    private var deletes: [String: (aor: String, bindingKey: String)] = [:]
    private var waiters: [@Sendable () -> Void] = []
    private var writing = false

    init(store: IMSStore, eventLoop: EventLoop, logger: Logger) {
        self.store = store
        self.eventLoop = eventLoop
        self.logger = logger
    }

    /// Queues a change; `then` runs on the loop once it is durable (or failed: logged, state kept in memory).
    func record(_ change: RegistrationChange, then: (@Sendable () -> Void)? = nil) {
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
        if let then { waiters.append(then) }
        flush()
    }

    private func flush() {
        guard !writing, !(upserts.isEmpty && deletes.isEmpty && waiters.isEmpty) else { return }
        writing = true
        let batchUpserts = Array(upserts.values)
        let batchDeletes = Array(deletes.values)
        let batchWaiters = waiters
        upserts = [:]
        deletes = [:]
        waiters = []
        let store = self.store
        let loop = eventLoop
        let promise = loop.makePromise(of: Void.self)
        promise.completeWithTask {
            try await store.saveBindings(upserts: batchUpserts, deletes: batchDeletes)
        }
        promise.futureResult.whenComplete { [self] result in
            if case .failure(let error) = result {
                logger.error("could not save registrations: \(error)")
            }
            for waiter in batchWaiters { waiter() }
            writing = false
            flush()
        }
    }
}
