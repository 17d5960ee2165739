import AutoConfig
import NIOSSL
import SIPTransport

/// The TLS server context and where its certificate came from.
struct NIOSSLContextBox {
    var context: NIOSSLContext
    var paths: TLSIdentity.Paths

    static func make(config: CWConfig) throws -> NIOSSLContextBox {
        var names = [config.homeDomain, config.localIP, config.publicIP, "localhost", "127.0.0.1"]
        names.removeAll { $0.isEmpty }
        let paths = try TLSIdentity.ensure(certificate: config.tlsCertificate, privateKey: config.tlsPrivateKey,
                                           dataDir: config.dataDir, subjectNames: names)
        return NIOSSLContextBox(context: try TLSIdentity.serverContext(paths), paths: paths)
    }
}
