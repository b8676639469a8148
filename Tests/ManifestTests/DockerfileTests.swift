import Foundation
import TestSupport
import Testing

/// The Dockerfile, read with BuildKit's own parser (the `dockerfile` Python package). No
/// container engine runs here, so the image itself is not built by the suite: these checks are
/// about its structure (stages, build command, user, entrypoint).
@Suite struct DockerfileTests {
    struct Instruction: Decodable, Sendable {
        let cmd: String
        let flags: [String]
        let value: [String]
        let json: Bool
    }

    static func instructions() async throws -> [Instruction] {
        let script = "import dockerfile, json, sys; print(json.dumps([dict(cmd=c.cmd.upper(), flags=list(c.flags), value=list(c.value), json=c.json) for c in dockerfile.parse_file(sys.argv[1])]))"
        let output = try await Shell.checkedOutput(of: ["python3", "-c", script, Artifacts.url("Dockerfile").path])
        return try JSONDecoder().decode([Instruction].self, from: Data(output.utf8))
    }

    /// The instructions of each stage (global ARGs before the first FROM left out), and the
    /// defaults of those global ARGs.
    static func stages() async throws -> (stages: [[Instruction]], arguments: [String: String]) {
        var stages: [[Instruction]] = [], arguments: [String: String] = [:]
        for instruction in try await instructions() {
            if instruction.cmd == "FROM" {
                stages.append([instruction])
            } else if stages.isEmpty {
                if instruction.cmd == "ARG", let value = instruction.value.first, let equals = value.firstIndex(of: "=") {
                    arguments[String(value[..<equals])] = String(value[value.index(after: equals)...])
                }
            } else {
                stages[stages.count - 1].append(instruction)
            }
        }
        return (stages, arguments)
    }

    /// A FROM's image with `${ARG}` replaced by the ARG's default.
    static func image(_ from: Instruction, _ arguments: [String: String]) -> String {
        var image = from.value.first ?? ""
        for (name, value) in arguments { image = image.replacingOccurrences(of: "${\(name)}", with: value) }
        return image
    }

    @Test func twoStagesSwiftBuilderAndSlimRuntime() async throws {
        guard await PythonModules.available(["dockerfile"], packages: "dockerfile") else { return }
        let (stages, arguments) = try await Self.stages()
        try #require(stages.count == 2, "a builder stage and a runtime stage")
        #expect(Self.image(stages[0][0], arguments) == "swift:6.3-bookworm")
        #expect(stages[0][0].value.dropFirst().map { $0.lowercased() } == ["as", "build"])
        #expect(["debian:bookworm-slim", "gcr.io/distroless/cc-debian12"].contains(Self.image(stages[1][0], arguments)))
    }

    @Test func builderMakesAReleaseBinaryWithAStaticStandardLibrary() async throws {
        guard await PythonModules.available(["dockerfile"], packages: "dockerfile") else { return }
        let builder = try await Self.stages().stages[0]
        let runs = builder.filter { $0.cmd == "RUN" }.flatMap(\.value).joined(separator: "\n")
        #expect(runs.contains("swift build -c release --static-swift-stdlib --product ironlb"))
    }

    @Test func runtimeHoldsOneBinaryAndRunsItAsNonRoot() async throws {
        guard await PythonModules.available(["dockerfile"], packages: "dockerfile") else { return }
        let runtime = try await Self.stages().stages[1]
        let copies = runtime.filter { $0.cmd == "COPY" || $0.cmd == "ADD" }
        #expect(copies.count == 1)
        #expect(copies.first?.flags == ["--from=build"])
        #expect(copies.first?.value.last == "/usr/local/bin/ironlb")
        let users = runtime.filter { $0.cmd == "USER" }
        let user = try #require(users.last?.value.first, "the runtime stage sets USER")
        let uid = try #require(Int(user.split(separator: ":").first ?? ""), "USER is numeric (runAsNonRoot can check it)")
        #expect(uid != 0)
        #expect(!users.contains { ["root", "0", "0:0"].contains($0.value.first ?? "") })
        // USER comes after every RUN, so nothing runs as root in the image at run time.
        let lastUser = try #require(runtime.lastIndex { $0.cmd == "USER" })
        #expect(!runtime[lastUser...].contains { $0.cmd == "RUN" })
        let entrypoint = try #require(runtime.last { $0.cmd == "ENTRYPOINT" })
        #expect(entrypoint.json && entrypoint.value == ["/usr/local/bin/ironlb"], "exec form, the binary itself")
        // The controller's pod runs as the image's user.
        let controller = try Artifacts.manifests().one("Deployment", "ironlb-controller")
        #expect(controller.podSpec?.at("securityContext.runAsUser")?.int == uid)
    }

    @Test func buildContextLeavesOutBuildProducts() async throws {
        let ignored = try Artifacts.text(".dockerignore").split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) }
        for entry in [".build", ".git"] { #expect(ignored.contains(entry), "\(entry) in .dockerignore") }
    }
}
