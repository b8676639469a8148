import Foundation
import TestSupport
import Testing

/// The Dockerfile, read with BuildKit's own parser (the `dockerfile` Python package), beside
/// scripts/build-image (the same image built offline; Tests/SpeakerInteropTests/ImageInteropTests
/// runs that image): structure (stages, build command, user, entrypoint) and the shared file set.
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

    @Test func twoStagesSwiftBuilderAndScratchRuntime() async throws {
        guard await PythonModules.available(["dockerfile"], packages: "dockerfile") else { return }
        let (stages, arguments) = try await Self.stages()
        try #require(stages.count == 2, "a builder stage and a runtime stage")
        #expect(Self.image(stages[0][0], arguments) == "swift:6.3-bookworm")
        #expect(stages[0][0].value.dropFirst().map { $0.lowercased() } == ["as", "build"])
        // No base image: the runtime files are the ones scripts/image-rootfs assembles.
        #expect(Self.image(stages[1][0], arguments) == "scratch")
    }

    /// The Dockerfile and scripts/build-image make the same image: both build with
    /// scripts/build-release and assemble the files with scripts/image-rootfs, which checks them
    /// against scripts/image-files.txt; the runtime stage holds that root and nothing else.
    @Test func builderRunsTheSharedReleaseBuildAndRootfsScripts() async throws {
        guard await PythonModules.available(["dockerfile"], packages: "dockerfile") else { return }
        let builder = try await Self.stages().stages[0]
        let runs = builder.filter { $0.cmd == "RUN" }.flatMap(\.value).joined(separator: "\n")
        #expect(runs.contains(#"scripts/image-rootfs "$(scripts/build-release | tail -n1)" /rootfs"#))
        let buildImage = try Artifacts.text("scripts/build-image")
        #expect(buildImage.contains(#"binary="$(scripts/build-release | tail -n1)""#))
        #expect(buildImage.contains(#"scripts/image-rootfs "$binary" "$rootfs""#))
        // One place for the production build flags, the ones this Dockerfile always used.
        let release = try Artifacts.text("scripts/build-release")
        for flag in ["-c release", "--static-swift-stdlib", "--product ironlb", "--disable-default-traits", "--no-export-dynamic", "--experimental-lto-mode=full"] { #expect(release.contains(flag), "build-release: \(flag)") }
    }

    /// The reviewed file list names what the binary needs to run and the user files, and no tools.
    @Test func imageFileListIsTheBinaryItsRuntimeAndTheUsers() async throws {
        let listed = try Artifacts.text("scripts/image-files.txt").split(separator: "\n").map(String.init)
            .filter { !$0.isEmpty && !$0.hasPrefix("#") }
        #expect(Set(listed).count == listed.count)
        for path in ["/usr/local/bin/ironlb", "/etc/passwd", "/etc/group", "/lib/x86_64-linux-gnu/libc.so.6", "/lib64/ld-linux-x86-64.so.2"] {
            #expect(listed.contains(path), "\(path) in scripts/image-files.txt")
        }
        #expect(!listed.contains { $0.hasPrefix("/bin/") || $0.hasPrefix("/usr/bin/") || $0.hasPrefix("/sbin/") }, "no shell or tools")
        // ImageInteropTests compares a built image with this list and with build-image's own.
    }

    @Test func runtimeHoldsTheRootfsAndRunsItAsNonRoot() async throws {
        guard await PythonModules.available(["dockerfile"], packages: "dockerfile") else { return }
        let runtime = try await Self.stages().stages[1]
        let copies = runtime.filter { $0.cmd == "COPY" || $0.cmd == "ADD" }
        #expect(copies.count == 1)
        #expect(copies.first?.flags == ["--from=build"])
        #expect(copies.first?.value == ["/rootfs/", "/"])
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
        // build-image gives its image the same user and entrypoint.
        let buildImage = try Artifacts.text("scripts/build-image")
        #expect(buildImage.contains("--user \(user)"))
        #expect(buildImage.contains(#"--entrypoint '["/usr/local/bin/ironlb"]'"#))
        // The controller's pod runs as the image's user.
        let controller = try Artifacts.manifests().one("Deployment", "ironlb-controller")
        #expect(controller.podSpec?.at("securityContext.runAsUser")?.int == uid)
    }

    @Test func buildContextLeavesOutBuildProducts() async throws {
        let ignored = try Artifacts.text(".dockerignore").split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) }
        for entry in [".build", ".git"] { #expect(ignored.contains(entry), "\(entry) in .dockerignore") }
    }
}
