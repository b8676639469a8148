import Testing
@testable import IronLBCLI

@Suite struct HeapTrimPolicyTests {
    /// The answers of `shouldTrim` for these free-byte readings, in order.
    func answers(_ policy: inout HeapTrimPolicy, _ readings: [UInt]) -> [Bool] {
        readings.map { policy.shouldTrim(freeBytes: $0) }
    }

    @Test func trimsOnceAThresholdMoreIsFreeThanAfterTheLastTrim() {
        var policy = HeapTrimPolicy(threshold: 100, freeBytes: 50)
        #expect(answers(&policy, [149, 150]) == [false, true])
        policy.trimmed(freeBytes: 150)
        // Trimmed pages still count as free: the same amount free is nothing new.
        #expect(answers(&policy, [150, 249, 250]) == [false, false, true])
    }

    @Test func freeMemoryReusedLowersTheBaseline() {
        var policy = HeapTrimPolicy(threshold: 100, freeBytes: 500)
        #expect(answers(&policy, [20]) == [false])
        #expect(policy.baseline == 20)
        // Freed again after being reused: a trim is due at 100 over the low point, not over 500.
        #expect(answers(&policy, [119, 120]) == [false, true])
    }
}
