import Testing
@testable import IronLBCLI

@Suite struct HeapTrimPolicyTests {
    @Test func trimsOnceAThresholdMoreIsFreeThanAfterTheLastTrim() {
        var policy = HeapTrimPolicy(threshold: 100, freeBytes: 50)
        #expect(!policy.shouldTrim(freeBytes: 149))
        #expect(policy.shouldTrim(freeBytes: 150))
        policy.trimmed(freeBytes: 150)
        // Trimmed pages still count as free: the same amount free is nothing new.
        #expect(!policy.shouldTrim(freeBytes: 150))
        #expect(!policy.shouldTrim(freeBytes: 249))
        #expect(policy.shouldTrim(freeBytes: 250))
    }

    @Test func freeMemoryReusedLowersTheBaseline() {
        var policy = HeapTrimPolicy(threshold: 100, freeBytes: 500)
        #expect(!policy.shouldTrim(freeBytes: 20))
        #expect(policy.baseline == 20)
        // Freed again after being reused: a trim is due at 100 over the low point, not over 500.
        #expect(!policy.shouldTrim(freeBytes: 119))
        #expect(policy.shouldTrim(freeBytes: 120))
    }
}
