import Testing
import SIPCore
@testable import SCSCF

@Suite("Reg-event subscriptions: the Event package")
struct RegEventSubscriptionsTests {
    func subscribe(event: String) throws -> RegEventSubscriptions.Outcome {
        let text = [
            "SUBSCRIBE sip:alice@ims.example.com SIP/2.0",
            "Via: SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bK-sub-1",
            "Max-Forwards: 70",
            "From: <sip:alice@ims.example.com>;tag=w1",
            "To: <sip:alice@ims.example.com>",
            "Call-ID: sub-1@ue.example.com",
            "CSeq: 1 SUBSCRIBE",
            "Contact: <sip:alice@10.0.0.1:5060>",
            "Event: \(event)",
            "Expires: 600",
            "Content-Length: 0",
        ].joined(separator: "\r\n") + "\r\n\r\n"
        let request = try Reg.parse(text)
        var subs = RegEventSubscriptions()
        return subs.subscribe(request, aor: Reg.aor, peer: "udp:10.0.0.1:5060", ourContact: "<sip:scscf@ims.example.com>",
                              document: { _, _ in "<reginfo/>" }, now: 1_000, newTag: { "t1" })
    }

    func status(_ outcome: RegEventSubscriptions.Outcome) -> Int {
        switch outcome {
        case .accepted(let status, _, _, _): status
        case .rejected(let status, _, _): status
        }
    }

    @Test(arguments: ["reg", "Reg", " reg ;id=1", "reg;id=1"])
    func regPackageAccepted(_ event: String) throws {
        #expect(status(try subscribe(event: event)) == 200)
    }

    @Test(arguments: ["presence", "reginfo", "regx;id=1"])
    func otherPackagesRefused(_ event: String) throws {
        #expect(status(try subscribe(event: event)) == 489)
    }

    @Test func packageEndsAtTheSemicolonByte() throws {
        // ";\u{0301}" is one Character, so `String.split` kept "reg;\u{0301}id=1" whole and refused it (489);
        // the parser reads package "reg" with a parameter, and so does the subscription now.
        #expect(status(try subscribe(event: "reg;\u{0301}id=1")) == 200)
    }
}
