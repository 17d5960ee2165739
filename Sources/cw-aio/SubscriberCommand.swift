import ArgumentParser
import AutoConfig
import DigestAuth
import Foundation
import IMSStore

/// `cw-aio subscriber ...`: provisions subscribers straight into the store in `data_dir`. Safe while
/// the server runs (WAL + busy timeout); the server picks changes up from the change feed.
struct SubscriberCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "subscriber",
        abstract: "Add, delete, list and bulk-import subscribers in the cw-aio database.",
        subcommands: [Add.self, Delete.self, List.self, SetPassword.self, Import.self])

    /// `--config` / `--set`. The root command declares them and, parsing first, consumes them wherever
    /// they appear on the command line (`cw-aio --set k=v subscriber add` and `cw-aio subscriber add
    /// --set k=v` alike), so subcommands read the root's parsed values through this option group rather
    /// than declaring their own (which would never receive a value).
    struct StoreOptions: ParsableArguments {
        @OptionGroup(title: "Configuration") var root: CWAIOCommand

        /// Loads the configuration (errors: exit 2) and opens the store in its `data_dir` (errors: exit 1).
        func open(_ command: String) async throws -> (CWConfig, IMSStore) {
            let config: CWConfig
            do {
                config = try CWConfig.load(file: root.configFile, overrides: root.overrides)
            } catch {
                printError("cw-aio: configuration error: \(error)")
                throw ExitCode(2)
            }
            do {
                let store = try await IMSStore.open(
                    dataDirectory: config.dataDir,
                    numberPool: NumberPoolRange(start: config.numberPoolStart, count: config.numberPoolSize))
                return (config, store)
            } catch {
                throw fail(command, error)
            }
        }
    }

    /// Either `--number N` (the subscriber whose public id is `sip:N@<domain>`) or `--private-id ID`.
    struct Target: ParsableArguments {
        @Option(help: "Directory number; selects the subscriber with public id sip:N@<domain>.")
        var number: String?

        @Option(help: "Domain of the public id selected by --number (default: home_domain).")
        var domain: String?

        @Option(name: .customLong("private-id"), help: "Private identity (IMPI) of the subscriber.")
        var privateID: String?

        func validate() throws {
            if (number == nil) == (privateID == nil) {
                throw ValidationError("give exactly one of --number and --private-id")
            }
            if let number { try checkNumber(number) }
        }

        /// The private identity this selects.
        func resolve(_ store: IMSStore, _ config: CWConfig) async throws(StoreError) -> String {
            if let privateID {
                return privateID
            }
            let impu = "sip:\(number ?? "")@\(domain ?? config.homeDomain)"
            let impis = try await store.privateIdentities(forPublicIdentity: impu)
            guard let impi = impis.first else { throw .publicIdentityNotFound(impu) }
            guard impis.count == 1 else {
                throw .invalid("\(impu) is shared by private ids \(impis.joined(separator: ", ")); use --private-id")
            }
            return impi
        }
    }

    // MARK: add

    struct Add: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Add a subscriber (private id N@home_domain, public id sip:N@domain, realm home_domain).")

        @OptionGroup var options: StoreOptions

        @Option(help: "Directory number, e.g. 6505550001 (digits, optional leading +).")
        var number: String

        @Option(help: "SIP digest password.")
        var password: String

        @Option(help: "Domain of the default public id sip:N@domain (default: home_domain).")
        var domain: String?

        @Option(name: .customLong("private-id"), help: "Private identity (default: N@home_domain).")
        var privateID: String?

        @Option(name: .customLong("public-id"),
                help: "Another public identity (sip:, sips: or tel: URI) in the same implicit registration set; repeatable.")
        var publicIDs: [String] = []

        func validate() throws {
            try checkNumber(number)
            if password.isEmpty { throw ValidationError("the password may not be empty") }
        }

        func run() async throws {
            let (config, store) = try await options.open("add")
            defer { try? store.close() }
            let impi = privateID ?? "\(number)@\(config.homeDomain)"
            let realm = config.homeDomain
            var impus = ["sip:\(number)@\(domain ?? config.homeDomain)"]
            for uri in publicIDs where !impus.contains(uri) { impus.append(uri) }
            let ha1 = digestHA1(impi: impi, realm: realm, password: password)
            do {
                try await store.addSubscriber(NewSubscriber(
                    impi: impi, realm: realm, ha1MD5: ha1.md5, ha1SHA256: ha1.sha256, publicIdentities: impus,
                    userPartHA1MD5: ha1.userMD5, userPartHA1SHA256: ha1.userSHA256))
                let added = try await store.subscriber(impi: impi)
                print("added \((added?.publicIdentities ?? impus).joined(separator: ", ")) (private id \(impi))")
            } catch {
                throw fail("add", error)
            }
        }
    }

    // MARK: delete

    struct Delete: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Delete a subscriber, its public ids and its registrations.")

        @OptionGroup var options: StoreOptions
        @OptionGroup var target: Target

        func run() async throws {
            let (config, store) = try await options.open("delete")
            defer { try? store.close() }
            do {
                let impi = try await target.resolve(store, config)
                let removed = try await store.deleteSubscriber(impi: impi)
                let ids = removed.isEmpty ? "" : " (\(removed.joined(separator: ", ")))"
                print("deleted private id \(impi)\(ids)")
            } catch {
                throw fail("delete", error)
            }
        }
    }

    // MARK: list

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "List subscribers: private id, public ids, realm (tab-separated, one per line).")

        @OptionGroup var options: StoreOptions

        @Option(help: "List at most this many subscribers (default: all).")
        var limit: Int?

        @Option(help: "Skip this many subscribers first.")
        var offset: Int = 0

        func validate() throws {
            if let limit, limit < 0 { throw ValidationError("--limit may not be negative") }
            if offset < 0 { throw ValidationError("--offset may not be negative") }
        }

        func run() async throws {
            let (_, store) = try await options.open("list")
            defer { try? store.close() }
            var remaining = limit ?? Int.max
            var offset = self.offset
            do {
                while remaining > 0 {
                    let page = try await store.listSubscribers(limit: min(remaining, 1000), offset: offset)
                    var text = ""
                    for record in page {
                        let impus = record.implicitRegistrationSets.flatMap { set in
                            set.publicIdentities.map { $0.barred ? "\($0.uri)(barred)" : $0.uri }
                        }
                        text += "\(record.impi)\t\(impus.joined(separator: ","))\t\(record.realm)\n"
                    }
                    print(text, terminator: "")
                    if page.count < min(remaining, 1000) { break }
                    remaining -= page.count
                    offset += page.count
                }
            } catch {
                throw fail("list", error)
            }
        }
    }

    // MARK: set-password

    struct SetPassword: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "set-password",
            abstract: "Change a subscriber's SIP digest password (its realm is kept).")

        @OptionGroup var options: StoreOptions
        @OptionGroup var target: Target

        @Option(help: "The new SIP digest password.")
        var password: String

        func validate() throws {
            if password.isEmpty { throw ValidationError("the password may not be empty") }
        }

        func run() async throws {
            let (config, store) = try await options.open("set-password")
            defer { try? store.close() }
            do {
                let impi = try await target.resolve(store, config)
                guard let record = try await store.subscriber(impi: impi) else {
                    throw StoreError.privateIdentityNotFound(impi)
                }
                let ha1 = digestHA1(impi: impi, realm: record.realm, password: password)
                try await store.setCredentials(impi: impi, realm: record.realm, ha1MD5: ha1.md5,
                                               ha1SHA256: ha1.sha256, plaintext: nil,
                                               userPartHA1MD5: ha1.userMD5, userPartHA1SHA256: ha1.userSHA256)
                print("password changed for private id \(impi)")
            } catch {
                throw fail("set-password", error)
            }
        }
    }

    // MARK: import

    struct Import: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Bulk-import subscribers from a CSV file.",
            discussion: """
            One subscriber row per line: <public id>,<private id>,<realm>,<password> (Clearwater bulk
            format). An optional header line, # comments, blank lines and "quoted" fields are allowed; an
            empty realm means home_domain. Rows with the same private id share one implicit registration
            set. The whole file is validated first and written in one transaction: on any error nothing
            is imported.
            """)

        @OptionGroup var options: StoreOptions

        @Argument(help: "The CSV file.")
        var file: String

        func run() async throws {
            let (config, store) = try await options.open("import")
            defer { try? store.close() }
            let clock = ContinuousClock()
            let start = clock.now
            do {
                let summary = try await store.importCSV(path: file, homeDomain: config.homeDomain,
                                                        hashing: digestHA1)
                let elapsed = start.duration(to: clock.now)
                let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
                let extra = summary.publicIdentities == summary.subscribers
                    ? "" : " (\(summary.publicIdentities) public ids)"
                print("imported \(summary.subscribers) subscribers\(extra) in \(String(format: "%.1f", seconds)) s")
            } catch {
                throw fail("import", error)
            }
        }
    }
}

/// The digest HA1s for `impi:realm:password` (MD5, RFC 2617; SHA-256, RFC 7616), and, when the IMPI
/// is `user@<realm>`, the same over the bare user part: softphones whose "auth name" is left empty
/// authenticate as `user`, and the S-CSCF reads that as `user@<home domain>` (DESIGN.md §2).
func digestHA1(impi: String, realm: String, password: String)
    -> (md5: String, sha256: String, userMD5: String?, userSHA256: String?)
{
    let md5 = DigestMath.ha1(.md5, username: impi, realm: realm, password: password)
    let sha256 = DigestMath.ha1(.sha256, username: impi, realm: realm, password: password)
    guard let at = impi.lastIndex(of: "@"), impi[impi.index(after: at)...].lowercased() == realm.lowercased() else {
        return (md5, sha256, nil, nil)
    }
    let user = String(impi[..<at])
    return (md5, sha256, DigestMath.ha1(.md5, username: user, realm: realm, password: password),
            DigestMath.ha1(.sha256, username: user, realm: realm, password: password))
}

/// A directory number: 1-15 digits, optionally with a leading `+`.
private func checkNumber(_ number: String) throws {
    let digits = number.hasPrefix("+") ? number.dropFirst() : Substring(number)
    guard !digits.isEmpty, digits.count <= 15, digits.allSatisfy({ $0.isASCII && $0.isNumber }) else {
        throw ValidationError("--number \"\(number)\" is not a directory number (1-15 digits, optional leading +)")
    }
}

/// Prints `cw-aio subscriber <command>: <error>` to standard error; returns the exit code to throw.
private func fail(_ command: String, _ error: any Error) -> any Error {
    if error is ExitCode { return error }
    printError("cw-aio subscriber \(command): \(error)")
    return ExitCode(1)
}
