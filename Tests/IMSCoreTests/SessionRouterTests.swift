import Testing
@testable import IMSCore

@Suite struct SessionRouterTests {
    @Test func sessionExpiresSeconds() {
        #expect(SessionRouter.sessionExpiresSeconds("1800") == 1800)
        #expect(SessionRouter.sessionExpiresSeconds(" 90 ;refresher=uac") == 90)
        #expect(SessionRouter.sessionExpiresSeconds("1800;refresher=uas") == 1800)
        #expect(SessionRouter.sessionExpiresSeconds("abc") == nil)
        #expect(SessionRouter.sessionExpiresSeconds("") == nil)
        #expect(SessionRouter.sessionExpiresSeconds(";") == nil)
        // ";\u{0301}" is one Character: the Character split left "1800;\u{0301}refresher=uac" whole (no number, a 400);
        // read as bytes, as the parser does, the delta-seconds is 1800.
        #expect(SessionRouter.sessionExpiresSeconds("1800;\u{0301}refresher=uac") == 1800)
    }
}
