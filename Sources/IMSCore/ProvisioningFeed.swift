import IMSStore
import Logging
import NIOConcurrencyHelpers
import NIOCore

/// Follows the store's change feed so subscribers provisioned by another process (the CLI, later the
/// portal) are served within a second, without the SIP loop ever reading the database.
final class ProvisioningFeed: Sendable {
    private let store: IMSStore
    private let stack: SIPStack
    private let homeDomain: String
    private let logger: Logger
    private let state: NIOLockedValueBox<(seq: Int64, task: Task<Void, Never>?)>

    init(store: IMSStore, stack: SIPStack, homeDomain: String, after seq: Int64, logger: Logger) {
        self.store = store
        self.stack = stack
        self.homeDomain = homeDomain
        self.logger = logger
        self.state = NIOLockedValueBox((seq, nil))
    }

    func start() {
        let task = Task { [self] in
            while !Task.isCancelled {
                try? await Task.sleep(for: .milliseconds(500))
                await poll()
            }
        }
        state.withLockedValue { $0.task = task }
    }

    func stop() {
        state.withLockedValue { $0.task?.cancel() }
    }

    private func poll() async {
        let after = state.withLockedValue { $0.seq }
        do {
            let (last, changes) = try await store.changes(after: after)
            guard !changes.isEmpty else { return }
            // Additions and credential changes are applied one by one; anything that removes or
            // reshapes identities (rare) reloads the whole directory, then drops orphaned bindings.
            let incremental = changes.allSatisfy { $0.kind == .subscriberAdded || $0.kind == .credentialsChanged }
            if incremental && changes.count <= 200 {
                var updates: [(impi: String, record: SubscriberRecord?)] = []
                for change in changes {
                    updates.append((change.key, try await store.subscriber(impi: change.key)))
                }
                var sharing: [Int64: [String]] = [:]
                for (_, record) in updates {
                    for irs in record?.implicitRegistrationSets ?? [] {
                        if let first = irs.publicIdentities.first {
                            sharing[irs.id] = try await store.privateIdentities(forPublicIdentity: first.uri)
                        }
                    }
                }
                let homeDomain = self.homeDomain
                let applied = updates
                let shared = sharing
                try await stack.eventLoop.submit { [stack] in
                    guard let hss = stack.registrations?.hss else { return }
                    for (impi, record) in applied {
                        guard let record else {
                            hss.update(auth: nil, impi: impi, sets: [])
                            continue
                        }
                        var directory = SubscriberData.directory(from: [record], homeDomain: homeDomain)
                        for i in directory.sets.indices {
                            if let all = shared[directory.sets[i].id] { directory.sets[i].privateIdentities = all }
                        }
                        hss.update(auth: directory.auth.first, impi: impi, sets: directory.sets)
                    }
                }.get()
            } else {
                let tables = try await SubscriberData.loadDirectory(store, homeDomain: homeDomain).tables
                try await stack.eventLoop.submit { [stack] in
                    stack.registrations?.hss.replaceAll(tables)
                    stack.registrations?.dropOrphanedBindings()
                }.get()
            }
            state.withLockedValue { $0.seq = last }
            logger.info("applied \(changes.count) provisioning change(s)")
        } catch {
            if Task.isCancelled { return }  // shutting down
            logger.error("provisioning feed: \(error)")
        }
    }
}
