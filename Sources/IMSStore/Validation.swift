import ProvisioningCSV

/// The store's syntax checks and canonical forms (shared with the bulk-CSV parser).
typealias Validate = ProvisioningSyntax
