import Testing
@testable import DigestAuth
@Test func placeholder() {}
