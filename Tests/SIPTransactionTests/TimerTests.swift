import SIPCore
import Testing
@testable import SIPTransaction

@Suite("Timers and time")
struct TimerTests {
    @Test func rfc3261DefaultValues() {
        let c = SIPTimerConfig()
        #expect(c.t1 == .milliseconds(500))
        #expect(c.t2 == .seconds(4))
        #expect(c.t4 == .seconds(5))
        #expect(c.timerA == .milliseconds(500))
        #expect(c.timerB == .seconds(32))
        #expect(c.timerD(reliable: false) == .seconds(32))
        #expect(c.timerD(reliable: true) == .zero)
        #expect(c.timerE == .milliseconds(500))
        #expect(c.timerF == .seconds(32))
        #expect(c.timerG == .milliseconds(500))
        #expect(c.timerH == .seconds(32))
        #expect(c.timerI(reliable: false) == .seconds(5))
        #expect(c.timerI(reliable: true) == .zero)
        #expect(c.timerJ(reliable: false) == .seconds(32))
        #expect(c.timerJ(reliable: true) == .zero)
        #expect(c.timerK(reliable: false) == .seconds(5))
        #expect(c.timerK(reliable: true) == .zero)
        #expect(c.timerL == .seconds(32))
        #expect(c.timerM == .seconds(32))
        #expect(c.inviteTryingDelay == .milliseconds(200))
    }

    @Test func derivedValuesFollowConfiguredT1() {
        let c = SIPTimerConfig(t1: .seconds(1), t2: .seconds(8), t4: .seconds(10))
        #expect(c.timerB == .seconds(64))
        #expect(c.timerF == .seconds(64))
        #expect(c.timerH == .seconds(64))
        #expect(c.timerL == .seconds(64))
        #expect(c.timerM == .seconds(64))
        // D is at least 32 s and at least 64*T1 (it must outlive the server's retransmissions).
        #expect(c.timerD(reliable: false) == .seconds(64))
        #expect(SIPTimerConfig(t1: .milliseconds(100)).timerD(reliable: false) == .seconds(32))
        #expect(c.timerK(reliable: false) == .seconds(10))
    }

    @Test func doublingCapsAtT2() {
        let c = SIPTimerConfig()
        var interval = c.timerE
        var seen: [Duration] = [interval]
        for _ in 0..<6 { interval = c.doubledCapped(interval); seen.append(interval) }
        #expect(seen == [.milliseconds(500), .seconds(1), .seconds(2), .seconds(4), .seconds(4), .seconds(4), .seconds(4)])
    }

    @Test func sipTimeArithmetic() {
        let t = SIPTime.zero + .milliseconds(1500)
        #expect(t.nanoseconds == 1_500_000_000)
        #expect(t == ms(1500))
        #expect(t - ms(500) == .seconds(1))
        #expect(ms(500) - t == .zero - .seconds(1))
        #expect(t + (.zero - .seconds(5)) == t) // negative durations count as zero
        #expect(SIPTime(nanoseconds: .max - 1) + .seconds(10) == SIPTime(nanoseconds: .max))
        #expect(ms(1) < ms(2))
        #expect(ms(12_500).description == "12.500s")
        #expect(ms(3_007).description == "3.007s")
        #expect(SIPTime(.nanoseconds(42)).nanoseconds == 42)
    }

    @Test func timerQueueOrdersByDeadlineThenStartOrder() {
        var q = TimerQueue<Int>()
        var rng = SeededRNG(seed: 7)
        var pushed: [(SIPTime, UInt64)] = []
        for seq in 1...500 as ClosedRange<UInt64> {
            let deadline = ms(Int(rng.next() % 50))
            q.push(.init(deadline: deadline, sequence: seq, owner: Int(seq), timer: .a))
            pushed.append((deadline, seq))
        }
        var popped: [(SIPTime, UInt64)] = []
        while let e = q.popFirst() { popped.append((e.deadline, e.sequence)) }
        let expected = pushed.sorted { $0.0 != $1.0 ? $0.0 < $1.0 : $0.1 < $1.1 }
        #expect(popped.map(\.0) == expected.map(\.0))
        #expect(popped.map(\.1) == expected.map(\.1))
        #expect(q.isEmpty)
    }
}

@Suite("Armed timer slots and transaction key hashing")
struct ArmedTimersTests {
    @Test func everyTimerHasItsOwnSlot() {
        var armed = ArmedTimers()
        for (n, timer) in SIPTimer.allCases.enumerated() {
            #expect(armed[timer] == nil)
            armed[timer] = UInt64(n + 1)
        }
        for (n, timer) in SIPTimer.allCases.enumerated() { #expect(armed[timer] == UInt64(n + 1)) }
        armed[.j] = nil
        #expect(armed[.j] == nil)
        #expect(armed[.k] == UInt64(SIPTimer.allCases.firstIndex(of: .k)! + 1))
        armed[.j] = 42
        #expect(armed[.j] == 42)
        #expect(ArmedTimers() == ArmedTimers())
        #expect(armed != ArmedTimers())
    }

    @Test func keysThatDifferOnlyOutsideTheHashStayDistinct() {
        let a = ServerTransactionKey.rfc3261(branch: "z9hG4bK1", sentBy: "a:5060", method: .register)
        let b = ServerTransactionKey.rfc3261(branch: "z9hG4bK1", sentBy: "b:5060", method: .register)
        let c = ServerTransactionKey.rfc3261(branch: "z9hG4bK1", sentBy: "a:5060", method: .cancel)
        #expect(a.hashValue == ServerTransactionKey.rfc3261(branch: "z9hG4bK1", sentBy: "a:5060", method: .register).hashValue)
        #expect(a != b && a != c)
        var index: [ServerTransactionKey: Int] = [a: 1, b: 2, c: 3]
        #expect(index[a] == 1 && index[b] == 2 && index[c] == 3)
        index[b] = nil
        #expect(index[a] == 1 && index[b] == nil && index[c] == 3)
        let old = ServerTransactionKey.rfc2543(requestURI: "sip:x", toTag: nil, fromTag: "f", callID: "c", sequence: 1,
                                               method: .register, topVia: "SIP/2.0/UDP h")
        #expect(old != old.withToTag("t"))
        #expect(Set([old, old.withToTag("t")]).count == 2)
    }
}
