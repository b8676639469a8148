// KubeSim: an embedded Kubernetes API server for tests and `ironlb lab`.
//
// Overview: `KubeSimServer` serves HTTPS/1.1 (SwiftNIO + NIOSSL) with a CA generated at start,
// bearer-token and client-certificate authentication, and writes a kubeconfig for clients.
// `SimStore` holds objects as raw JSON under one lock with one global resourceVersion, a bounded
// event history (410 Expired beyond it) and live watchers; `SimAPI` maps requests to store
// operations with the API server's status codes, reasons and messages (KUBE-API.md).
// `SimFaults` injects failures: early watch closes, in-stream 410s, error responses, latency,
// split watch writes and unreachability.

@preconcurrency import Crypto
import Foundation
import SwiftASN1
import X509

/// The CA and server certificate generated when the simulator starts, plus client issuance.
public struct SimCertificates: Sendable {
    public let caCertificatePEM: String
    public let serverCertificatePEM: String
    public let serverKeyPEM: String
    let caCertificate: Certificate
    let caKey: P256.Signing.PrivateKey

    /// Loopback, IPv4 and IPv6.
    public static let defaultIPAddresses: [[UInt8]] = [[127, 0, 0, 1], Array(repeating: 0, count: 15) + [1]]

    /// The bytes of an IPv4 or IPv6 literal (4 or 16), or nil for a host name.
    public static func addressBytes(_ host: String) -> [UInt8]? {
        var v4 = in_addr(), v6 = in6_addr()
        if inet_pton(AF_INET, host, &v4) == 1 { return withUnsafeBytes(of: &v4) { Array($0) } }
        if inet_pton(AF_INET6, host, &v6) == 1 { return withUnsafeBytes(of: &v6) { Array($0) } }
        return nil
    }

    public init(hostnames: [String] = ["localhost", "kubernetes", "kubernetes.default.svc"], ipAddresses: [[UInt8]] = defaultIPAddresses) throws {
        let caKey = P256.Signing.PrivateKey()
        let now = Date()
        let caName = try DistinguishedName { CommonName("kubesim-ca") }
        let caPublic = Certificate.PublicKey(caKey.publicKey)
        let ca = try Certificate(
            version: .v3, serialNumber: .init(), publicKey: caPublic,
            notValidBefore: now - 3600, notValidAfter: now + 86400 * 365 * 10,
            issuer: caName, subject: caName, signatureAlgorithm: .ecdsaWithSHA256,
            extensions: try Certificate.Extensions {
                Critical(BasicConstraints.isCertificateAuthority(maxPathLength: nil))
                Critical(KeyUsage(digitalSignature: true, keyCertSign: true, cRLSign: true))
                SubjectKeyIdentifier(hash: caPublic)
            },
            issuerPrivateKey: .init(caKey))
        self.caKey = caKey
        self.caCertificate = ca
        self.caCertificatePEM = try ca.serializeAsPEM().pemString

        let serverKey = P256.Signing.PrivateKey()
        let serverPublic = Certificate.PublicKey(serverKey.publicKey)
        var names: [GeneralName] = hostnames.map { .dnsName($0) }
        names += ipAddresses.map { .ipAddress(ASN1OctetString(contentBytes: ArraySlice($0))) }
        let server = try Certificate(
            version: .v3, serialNumber: .init(), publicKey: serverPublic,
            notValidBefore: now - 3600, notValidAfter: now + 86400 * 365,
            issuer: caName, subject: try DistinguishedName { CommonName("kube-apiserver") },
            signatureAlgorithm: .ecdsaWithSHA256,
            extensions: try Certificate.Extensions {
                Critical(BasicConstraints.notCertificateAuthority)
                Critical(KeyUsage(digitalSignature: true, keyEncipherment: true))
                try ExtendedKeyUsage([.serverAuth])
                SubjectAlternativeNames(names)
                SubjectKeyIdentifier(hash: serverPublic)
                AuthorityKeyIdentifier(keyIdentifier: try SubjectKeyIdentifier(hash: caPublic).keyIdentifier)
            },
            issuerPrivateKey: .init(caKey))
        self.serverCertificatePEM = try server.serializeAsPEM().pemString
        self.serverKeyPEM = serverKey.pemRepresentation
    }

    /// Issues a client certificate (CN = user, O = groups) signed by the CA, as PEM (cert, key).
    public func issueClientCertificate(user: String, groups: [String] = []) throws -> (certificate: String, key: String) {
        let key = P256.Signing.PrivateKey()
        let pub = Certificate.PublicKey(key.publicKey)
        let now = Date()
        let subject = try DistinguishedName {
            for g in groups { OrganizationName(g) }
            CommonName(user)
        }
        let cert = try Certificate(
            version: .v3, serialNumber: .init(), publicKey: pub,
            notValidBefore: now - 3600, notValidAfter: now + 86400 * 365,
            issuer: caCertificate.subject, subject: subject, signatureAlgorithm: .ecdsaWithSHA256,
            extensions: try Certificate.Extensions {
                Critical(BasicConstraints.notCertificateAuthority)
                Critical(KeyUsage(digitalSignature: true, keyEncipherment: true))
                try ExtendedKeyUsage([.clientAuth])
                AuthorityKeyIdentifier(keyIdentifier: try SubjectKeyIdentifier(hash: Certificate.PublicKey(caKey.publicKey)).keyIdentifier)
            },
            issuerPrivateKey: .init(caKey))
        return (try cert.serializeAsPEM().pemString, key.pemRepresentation)
    }

    /// The common name of a DER certificate's subject (the authenticated user).
    static func commonName(derBytes: [UInt8]) -> String? {
        guard let cert = try? Certificate(derEncoded: derBytes) else { return nil }
        for rdn in cert.subject {
            for attr in rdn where attr.type == .RDNAttributeType.commonName {
                return attr.value.description
            }
        }
        return nil
    }
}
