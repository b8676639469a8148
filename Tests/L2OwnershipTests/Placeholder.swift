import Testing
@testable import L2Ownership
