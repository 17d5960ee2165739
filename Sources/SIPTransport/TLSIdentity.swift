import Crypto
import Foundation
import SwiftASN1
import NIOSSL
import X509

/// The server's TLS certificate: the configured files, or a self-signed one generated into the data
/// directory on first start so that TLS on 5061 works out of the box.
public enum TLSIdentity {
    public struct Paths: Sendable {
        public var certificate: String
        public var privateKey: String
        public var generated: Bool
    }

    /// Returns the certificate and key paths to use, generating a self-signed pair in `dataDir/tls`
    /// when none is configured and none was generated before.
    public static func ensure(certificate: String, privateKey: String, dataDir: String,
                              subjectNames: [String]) throws -> Paths {
        if !certificate.isEmpty || !privateKey.isEmpty {
            guard !certificate.isEmpty, !privateKey.isEmpty else {
                throw TLSIdentityError("tls_certificate and tls_private_key must be given together")
            }
            return Paths(certificate: certificate, privateKey: privateKey, generated: false)
        }
        let dir = (dataDir as NSString).appendingPathComponent("tls")
        let certPath = (dir as NSString).appendingPathComponent("cert.pem")
        let keyPath = (dir as NSString).appendingPathComponent("key.pem")
        let fm = FileManager.default
        if fm.fileExists(atPath: certPath), fm.fileExists(atPath: keyPath) {
            return Paths(certificate: certPath, privateKey: keyPath, generated: false)
        }
        try fm.createDirectory(atPath: dir, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        let (certPEM, keyPEM) = try makeSelfSigned(subjectNames: subjectNames)
        try Data(keyPEM.utf8).write(to: URL(fileURLWithPath: keyPath), options: .atomic)
        try fm.setAttributes([.posixPermissions: 0o600], ofItemAtPath: keyPath)
        try Data(certPEM.utf8).write(to: URL(fileURLWithPath: certPath), options: .atomic)
        return Paths(certificate: certPath, privateKey: keyPath, generated: true)
    }

    /// A P-256 self-signed certificate valid for ten years, with the names and addresses as SANs.
    public static func makeSelfSigned(subjectNames: [String]) throws -> (certificate: String, privateKey: String) {
        let key = P256.Signing.PrivateKey()
        let privateKey = Certificate.PrivateKey(key)
        let commonName = subjectNames.first ?? "cw-aio"
        let name = try DistinguishedName {
            OrganizationName("cw-aio")
            CommonName(commonName)
        }
        var sans: [GeneralName] = []
        for entry in Set(subjectNames) {
            if let ip = ipBytes(entry) {
                sans.append(.ipAddress(ASN1OctetString(contentBytes: ArraySlice(ip))))
            } else {
                sans.append(.dnsName(entry))
            }
        }
        let extensions = try Certificate.Extensions {
            Critical(BasicConstraints.notCertificateAuthority)
            KeyUsage(digitalSignature: true, keyEncipherment: true)
            try ExtendedKeyUsage([.serverAuth, .clientAuth])
            SubjectAlternativeNames(sans)
        }
        let now = Date()
        let certificate = try Certificate(
            version: .v3,
            serialNumber: Certificate.SerialNumber(),
            publicKey: privateKey.publicKey,
            notValidBefore: now.addingTimeInterval(-3600),
            notValidAfter: now.addingTimeInterval(10 * 365 * 86400),
            issuer: name,
            subject: name,
            signatureAlgorithm: .ecdsaWithSHA256,
            extensions: extensions,
            issuerPrivateKey: privateKey)
        return (try certificate.serializeAsPEM().pemString, key.pemRepresentation)
    }

    /// The TLS 1.2 cipher suites the server accepts: ephemeral ECDH key exchange (forward secrecy) and
    /// AEAD ciphers only, for ECDSA certificates (the generated one) and RSA ones (configured). No CBC,
    /// no static-RSA key exchange, no 3DES, RC4, NULL or export suites (RFC 9325 §4.2). TLS 1.3 suites
    /// are BoringSSL's fixed AEAD set.
    public static let tls12CipherSuites: [NIOTLSCipher] = [
        .TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
        .TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
        .TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
        .TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
        .TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
        .TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
    ]

    /// A server TLS context from PEM files. TLS 1.2 minimum (RFC 8996 deprecates 1.0/1.1), TLS 1.2
    /// restricted to ``tls12CipherSuites``.
    public static func serverContext(_ paths: Paths) throws -> NIOSSLContext {
        let chain = try NIOSSLCertificate.fromPEMFile(paths.certificate).map { NIOSSLCertificateSource.certificate($0) }
        let key = try NIOSSLPrivateKey(file: paths.privateKey, format: .pem)
        var config = TLSConfiguration.makeServerConfiguration(certificateChain: chain, privateKey: .privateKey(key))
        config.minimumTLSVersion = .tlsv12
        config.cipherSuiteValues = tls12CipherSuites
        return try NIOSSLContext(configuration: config)
    }

    static func ipBytes(_ text: String) -> [UInt8]? {
        var v4 = in_addr()
        if inet_pton(AF_INET, text, &v4) == 1 {
            return withUnsafeBytes(of: &v4) { Array($0) }
        }
        var v6 = in6_addr()
        if inet_pton(AF_INET6, text, &v6) == 1 {
            return withUnsafeBytes(of: &v6) { Array($0) }
        }
        return nil
    }
}

public struct TLSIdentityError: Error, CustomStringConvertible {
    public var description: String
    init(_ description: String) { self.description = description }
}
