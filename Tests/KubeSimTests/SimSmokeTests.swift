import Foundation
import KubeModel
import Testing
@testable import KubeSim

/// Runs curl against the simulator (curl is part of the base image).
func curl(_ sim: KubeSimServer, _ args: [String]) throws -> (Int32, String) {
    let p = Process()
    p.executableURL = URL(fileURLWithPath: "/usr/bin/curl")
    p.arguments = ["-sS", "--cacert", sim.caPath, "-H", "Authorization: Bearer \(sim.token)"] + args
    let out = Pipe()
    p.standardOutput = out
    p.standardError = out
    try p.run()
    let data = out.fileHandleForReading.readDataToEndOfFile()
    p.waitUntilExit()
    return (p.terminationStatus, String(decoding: data, as: UTF8.self))
}

@Suite struct SimSmokeTests {
    @Test func listsOverTLS() async throws {
        let sim = try KubeSimServer()
        try await sim.start()
        let (rc, out) = try curl(sim, ["\(sim.url)/api/v1/namespaces/default/services"])
        #expect(rc == 0)
        let v = try JSONValue.parse(out)
        #expect(v["kind"] == "ServiceList")
        #expect(v["items"]?.arrayValue?.count == 1)
        let (_, unauth) = try curl(sim, ["-H", "Authorization: Bearer wrong", "\(sim.url)/api/v1/namespaces"])
        #expect(unauth.contains("\"reason\":\"Unauthorized\""))
        try await sim.stop()
    }
}
