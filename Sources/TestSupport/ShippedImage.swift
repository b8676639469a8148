import Foundation
import Testing

/// IronLB's OCI image as `scripts/build-image` wrote it, unpacked with umoci, and a way to run
/// its binary as a pod runs it: in a mount namespace of its own, the image's root filesystem
/// mounted read-only as `/`, the service-account token and CA at
/// `/var/run/secrets/kubernetes.io/serviceaccount`, Secret volumes mounted read-only, a fresh
/// environment, and the user, groups and capabilities of the container's `securityContext`
/// (`capsh`: chroot, bounding set, no_new_privs, then exec).
public final class ShippedImage: @unchecked Sendable {
    /// The OCI archive (`ironlb-<version>.oci.tar`).
    public let archive: String
    /// umoci's bundle: `rootfs/` and the runtime `config.json` it derived from the image config.
    public let bundle: String
    public var rootfs: String { bundle + "/rootfs" }
    /// The image's OCI config (`config` object: User, Entrypoint, Labels...).
    public let configuration: [String: Any]
    /// The manifest digest (`sha256:...`) in the archive's index.
    public let digest: String

    /// Where the image is: `$IRONLB_IMAGE`, else the one `ironlb-*.oci.tar` in `.build/image`.
    public static func locate() -> String? {
        if let path = ProcessInfo.processInfo.environment["IRONLB_IMAGE"], !path.isEmpty { return path }
        let directory = BuiltProducts.repositoryRoot.appendingPathComponent(".build/image").path
        let archives = ((try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? [])
            .filter { $0.hasPrefix("ironlb-") && $0.hasSuffix(".oci.tar") }.sorted()
        return archives.last.map { directory + "/" + $0 }
    }

    /// The image's path. When there is none: under CI a test failure, outside CI a SKIP line.
    public static func require(sourceLocation: SourceLocation = #_sourceLocation) -> String? {
        if let path = locate(), FileManager.default.fileExists(atPath: path) { return path }
        let reason = "no IronLB image: run scripts/build-image (it writes .build/image/ironlb-<version>.oci.tar) or set IRONLB_IMAGE to an OCI archive"
        if Prerequisites.isCI {
            Issue.record("CI=true and \(reason)", sourceLocation: sourceLocation)
        } else {
            print("SKIP: \(sourceLocation.fileID):\(sourceLocation.line): \(reason)")
        }
        return nil
    }

    /// Unpacks `archive` under `directory` (as root: files keep the image's owners).
    public init(archive: String, directory: String) throws {
        self.archive = archive
        let layout = directory + "/layout"
        bundle = directory + "/bundle"
        try FileManager.default.createDirectory(atPath: layout, withIntermediateDirectories: true)
        try Shell.check(["tar", "-xf", archive, "-C", layout])
        let index = try Self.json(layout + "/index.json")
        let manifests = index["manifests"] as? [[String: Any]] ?? []
        guard manifests.count == 1, let entry = manifests.first, let digest = entry["digest"] as? String,
              let tag = (entry["annotations"] as? [String: Any])?["org.opencontainers.image.ref.name"] as? String
        else { throw ImageError("\(archive): expected one tagged image in index.json, found \(manifests.count)") }
        self.digest = digest
        let manifest = try Self.json(layout + "/blobs/" + digest.replacingOccurrences(of: ":", with: "/"))
        guard let configDigest = (manifest["config"] as? [String: Any])?["digest"] as? String else { throw ImageError("\(digest): no config") }
        let config = try Self.json(layout + "/blobs/" + configDigest.replacingOccurrences(of: ":", with: "/"))
        configuration = config["config"] as? [String: Any] ?? [:]
        try Shell.check(["umoci", "unpack", "--image", "\(layout):\(tag)", bundle], timeout: 300)
    }

    static func json(_ path: String) throws -> [String: Any] {
        let data = try Data(contentsOf: URL(fileURLWithPath: path))
        guard let object = try JSONSerialization.jsonObject(with: data) as? [String: Any] else { throw ImageError("\(path): not a JSON object") }
        return object
    }

    /// Every file and symbolic link in the root filesystem, as `/path`, sorted.
    public func files() throws -> [String] {
        try Shell.check(["find", rootfs, "-mindepth", "1", "(", "-type", "f", "-o", "-type", "l", ")", "-printf", "/%P\\n"])
            .split(separator: "\n").map(String.init).sorted()
    }

    /// The argv that runs the image's entrypoint with `arguments` as `security` says, with only
    /// `environment` set, the service account in `serviceAccount` (a directory with `token`,
    /// `ca.crt`, `namespace`) and `mounts` (host directory to container path, read-only).
    /// Run it with `ManagedProcess` in the pod's network namespace: its PID is the binary's.
    public func podCommand(
        arguments: [String], security: PodSecurity, environment: [String: String],
        serviceAccount: String, mounts: [(host: String, container: String)] = []
    ) throws -> [String] {
        guard let entrypoint = configuration["Entrypoint"] as? [String], !entrypoint.isEmpty else { throw ImageError("the image has no Entrypoint") }
        let allMounts = [(host: serviceAccount, container: "/var/run/secrets/kubernetes.io/serviceaccount")] + mounts
        // Mount points, as a container runtime creates them in its copy of the image.
        for path in ["/proc", "/sys", "/dev"] + allMounts.map(\.container) {
            try FileManager.default.createDirectory(atPath: rootfs + path, withIntermediateDirectories: true)
        }
        var script = """
            set -e
            root="$1"; shift
            mount --bind "$root" "$root"
            mount -t proc proc "$root/proc"
            mount -t sysfs -o ro sysfs "$root/sys"
            mount -t tmpfs -o mode=755,nosuid,size=64k tmpfs "$root/dev"
            for node in null zero full random urandom; do touch "$root/dev/$node"; mount --bind "/dev/$node" "$root/dev/$node"; done

            """
        for (index, mount) in allMounts.enumerated() {
            script += "mount --bind \"${\(index + 1)}\" \"$root\(mount.container)\"\nmount -o remount,bind,ro \"$root\(mount.container)\"\n"
        }
        if security.readOnlyRootFilesystem { script += "mount -o remount,bind,ro \"$root\"\n" }
        script += "shift \(allMounts.count)\ncd \"$root\"\nexec \"$@\"\n"

        // An absolute path: `env -i` leaves no PATH to find it by.
        var capsh = [Shell.which("capsh") ?? "/usr/sbin/capsh", "--chroot=\(rootfs)"]
        let last = Int(try String(contentsOfFile: "/proc/sys/kernel/cap_last_cap", encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)) ?? 40
        let kept = try security.addedCapabilities.map { try Self.capabilityNumber($0) }
        let dropped = (0...last).filter { !kept.contains($0) }
        if !dropped.isEmpty { capsh.append("--drop=" + dropped.map(String.init).joined(separator: ",")) }
        capsh += ["--inh=", "--gid=\(security.group)", "--groups=\(security.group)", "--uid=\(security.user)"]
        if security.noNewPrivileges { capsh.append("--no-new-privs") }
        capsh += ["--shell=\(entrypoint[0])", "--"] + entrypoint.dropFirst() + arguments

        let env = ["env", "-i"] + environment.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }
        return ["unshare", "--mount", "--propagation", "private", "--", "/bin/sh", "-c", script, "pod", rootfs]
            + allMounts.map(\.host) + env + capsh
    }

    /// A capability's number (`NET_RAW` → 13), as capsh explains it.
    static func capabilityNumber(_ name: String) throws -> Int {
        let text = try Shell.check(["capsh", "--explain=cap_" + name.lowercased()])
        guard let open = text.firstIndex(of: "("), let close = text[open...].firstIndex(of: ")"),
              let number = Int(text[text.index(after: open)..<close]) else { throw ImageError("capsh does not know capability \(name): \(text)") }
        return number
    }
}

/// What a container's `securityContext` (with its pod's) asks of the runtime, as far as the
/// image test applies it.
public struct PodSecurity: Sendable, Equatable {
    public var user: Int
    public var group: Int
    /// Capabilities kept after dropping ALL (Kubernetes' `add`, e.g. `NET_RAW`).
    public var addedCapabilities: [String]
    public var readOnlyRootFilesystem: Bool
    /// `allowPrivilegeEscalation: false` (the runtime sets no_new_privs).
    public var noNewPrivileges: Bool

    public init(user: Int, group: Int, addedCapabilities: [String], readOnlyRootFilesystem: Bool, noNewPrivileges: Bool) {
        self.user = user
        self.group = group
        self.addedCapabilities = addedCapabilities
        self.readOnlyRootFilesystem = readOnlyRootFilesystem
        self.noNewPrivileges = noNewPrivileges
    }
}

public struct ImageError: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}

/// What `/proc/PID/status` and `/proc/PID/mountinfo` say about a running process.
public struct ProcessCredentials: Sendable {
    public let userIDs: [Int]
    public let groupIDs: [Int]
    public let groups: [Int]
    public let effective: UInt64
    public let permitted: UInt64
    public let bounding: UInt64
    public let inheritable: UInt64
    public let ambient: UInt64
    public let noNewPrivileges: Bool
    /// The mount options of the process's `/` (e.g. `ro`, `nosuid`).
    public let rootMountOptions: [String]

    public init(pid: Int32) throws {
        let status = try String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8)
        var fields: [String: String] = [:]
        for line in status.split(separator: "\n") {
            guard let colon = line.firstIndex(of: ":") else { continue }
            fields[String(line[..<colon])] = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
        }
        func numbers(_ key: String) -> [Int] { (fields[key] ?? "").split(whereSeparator: { $0 == "\t" || $0 == " " }).compactMap { Int($0) } }
        func mask(_ key: String) -> UInt64 { UInt64(fields[key] ?? "", radix: 16) ?? .max }
        userIDs = numbers("Uid")
        groupIDs = numbers("Gid")
        groups = numbers("Groups")
        effective = mask("CapEff")
        permitted = mask("CapPrm")
        bounding = mask("CapBnd")
        inheritable = mask("CapInh")
        ambient = mask("CapAmb")
        noNewPrivileges = fields["NoNewPrivs"] == "1"
        // mountinfo: ID parent major:minor root mountpoint options ... ; the last "/" wins.
        let mounts = try String(contentsOfFile: "/proc/\(pid)/mountinfo", encoding: .utf8).split(separator: "\n")
        let root = mounts.map { $0.split(separator: " ") }.last { $0.count > 5 && $0[4] == "/" }
        rootMountOptions = root.map { $0[5].split(separator: ",").map(String.init) } ?? []
    }
}
