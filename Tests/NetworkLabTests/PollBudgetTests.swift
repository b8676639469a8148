import Testing
@testable import NetworkLab

/// `PollBudget` with a clock the test moves: what a poll counts of its timeout.
@Suite struct PollBudgetTests {
    final class Clock {
        var now = 1000.0
    }

    /// Checks that take no time and sleeps of one interval: the timeout is spent after
    /// timeout / interval rounds, not before.
    @Test func quickChecksAndPunctualSleepsSpendTheTimeoutInRounds() {
        let clock = Clock()
        var budget = PollBudget(timeout: 1, interval: 0.1) { clock.now }
        var rounds = 0
        while budget.attemptsLeft {
            if budget.spent() { break }
            rounds += 1
            clock.now += 0.1
            budget.slept()
        }
        #expect((9...10).contains(rounds))
    }

    /// A sleep that overran by a minute (the process did not run) counts as the interval plus one
    /// second; a check that itself took two seconds counts in full.
    @Test func aStalledSleepCountsAtMostTheIntervalPlusASecondAndASlowCheckInFull() {
        let clock = Clock()
        var budget = PollBudget(timeout: 5, interval: 0.5) { clock.now }
        let first = budget.spent()
        clock.now += 60
        budget.slept()  // counts 1.5
        let second = budget.spent()
        clock.now += 60
        budget.slept()  // 3.0
        clock.now += 2
        let third = budget.spent()  // 5.0: the slow check spends the rest
        #expect(!first && !second && third)
    }

    /// However the clock moves, the attempts are bounded: timeout / interval + 2.
    @Test func attemptsAreBoundedWhenTheClockStands() {
        let clock = Clock()
        var budget = PollBudget(timeout: 1, interval: 0.25) { clock.now }
        var attempts = 0
        while budget.attemptsLeft && attempts < 100 {
            let spent = budget.spent()
            #expect(!spent)
            budget.slept()
            attempts += 1
        }
        #expect(attempts == 6)
    }
}
