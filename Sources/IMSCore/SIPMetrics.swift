import NIOConcurrencyHelpers
import Prometheus
import SIPCore

/// Prometheus metrics of the SIP side (exposed on /metrics of the HSS HTTP port). Counters are
/// created once and updated with atomic adds on the hot path; gauges are set when scraped.
public final class SIPMetrics: Sendable {
    public let registry: PrometheusCollectorRegistry
    private let requests: [String: Counter]
    private let otherRequests: Counter
    private let responses = NIOLockedValueBox<[Int: Counter]>([:])
    let authSuccess: Counter
    let authChallenge: Counter
    let authFailure: Counter
    let authThrottled: Counter
    let overloadRejections: Counter
    let registerDuration: DurationHistogram
    let stateGauges: [String: Gauge]
    /// The Prometheus convention's process gauge: resident set (VmRSS) when scraped.
    let residentMemory: Gauge

    static var requestsReceived: MetricNameDescriptor { MetricNameDescriptor(namespace: "sip", metricName: "requests_received", unitName: "total",
                                                       helpText: "SIP requests received, by method") }

    public init(registry: PrometheusCollectorRegistry = PrometheusCollectorRegistry()) {
        self.registry = registry
        let known = ["INVITE", "ACK", "BYE", "CANCEL", "REGISTER", "OPTIONS", "PRACK", "UPDATE", "INFO",
                     "SUBSCRIBE", "NOTIFY", "REFER", "MESSAGE", "PUBLISH"]
        var requests: [String: Counter] = [:]
        for m in known {
            requests[m] = registry.makeCounter(descriptor: Self.requestsReceived, labels: [("method", m)])
        }
        self.requests = requests
        otherRequests = registry.makeCounter(descriptor: Self.requestsReceived, labels: [("method", "other")])
        func auth(_ result: String) -> Counter {
            registry.makeCounter(descriptor: MetricNameDescriptor(namespace: "sip", metricName: "auth", unitName: "total",
                                                                  helpText: "REGISTER digest authentication outcomes"),
                                 labels: [("result", result)])
        }
        authSuccess = auth("success")
        authChallenge = auth("challenge")
        authFailure = auth("failure")
        authThrottled = auth("throttled")
        overloadRejections = registry.makeCounter(descriptor: MetricNameDescriptor(
            namespace: "sip", metricName: "overload_rejections", unitName: "total",
            helpText: "Initial requests refused with 503 by admission control"))
        registerDuration = registry.makeDurationHistogram(
            descriptor: MetricNameDescriptor(namespace: "sip", metricName: "register_duration", unitName: "seconds",
                                             helpText: "REGISTER receipt to final response (including the database commit of a 200)"),
            buckets: [.microseconds(100), .microseconds(250), .microseconds(500), .milliseconds(1), .milliseconds(2),
                      .milliseconds(5), .milliseconds(10), .milliseconds(25), .milliseconds(50), .milliseconds(100),
                      .milliseconds(250), .milliseconds(500), .seconds(1)])
        var gauges: [String: Gauge] = [:]
        for name in ["server_transactions", "client_transactions", "proxy_contexts", "bindings",
                     "reg_event_subscriptions", "open_connections", "overload_admit_rate", "sip_loop_cpu_percent",
                     "sip_loop_lag_ms", "udp_queue_ms"] {
            gauges[name] = registry.makeGauge(descriptor: MetricNameDescriptor(
                namespace: "sip", metricName: name, unitName: "current", helpText: "Current \(name.replacingUnderscores)"))
        }
        stateGauges = gauges
        residentMemory = registry.makeGauge(descriptor: MetricNameDescriptor(
            namespace: "process", metricName: "resident_memory", unitName: "bytes",
            helpText: "Resident memory size in bytes"))
    }

    func received(_ method: SIPMethod) {
        (requests[method.rawValue] ?? otherRequests).increment()
    }

    func sent(_ status: Int) {
        let counter = responses.withLockedValue { cache -> Counter in
            if let c = cache[status] { return c }
            let c = registry.makeCounter(
                descriptor: MetricNameDescriptor(namespace: "sip", metricName: "responses_sent", unitName: "total",
                                                 helpText: "SIP responses sent, by status code"),
                labels: [("code", String(status))])
            cache[status] = c
            return c
        }
        counter.increment()
    }

    func updateState(_ counts: [(String, Int)]) {
        for (name, value) in counts { stateGauges[name]?.set(Double(value)) }
        residentMemory.set(Double(MemoryTrim.residentBytes()))
    }
}

extension String {
    var replacingUnderscores: String { String(map { $0 == "_" ? " " : $0 }) }
}
