/// The initial filter criteria every subscriber gets unless provisioned with its own.
public enum DefaultIFC {
    /// A TS 29.228 `<ServiceProfile>` with one `<InitialFilterCriteria>`: priority 0, a trigger point
    /// (ConditionTypeCNF 0) with a single SPT `Method=INVITE`, and application server
    /// `sip:mmtel.<homeDomain>` with DefaultHandling 0 (SESSION_CONTINUED). The trigger has no
    /// `SessionCase` SPT, so it applies to originating and terminating sessions alike.
    ///
    /// No `<?xml?>` declaration: the HSS embeds this element, with the set's `<PublicIdentity>`
    /// elements, into the `<IMSSubscription>` it serves.
    public static func xml(homeDomain: String) -> String {
        "<ServiceProfile>"
            + "<InitialFilterCriteria>"
            + "<Priority>0</Priority>"
            + "<TriggerPoint>"
            + "<ConditionTypeCNF>0</ConditionTypeCNF>"
            + "<SPT><ConditionNegated>0</ConditionNegated><Group>0</Group><Method>INVITE</Method></SPT>"
            + "</TriggerPoint>"
            + "<ApplicationServer>"
            + "<ServerName>sip:mmtel.\(escape(homeDomain))</ServerName>"
            + "<DefaultHandling>0</DefaultHandling>"
            + "</ApplicationServer>"
            + "</InitialFilterCriteria>"
            + "</ServiceProfile>"
    }

    private static func escape(_ text: String) -> String {
        var out = ""
        out.reserveCapacity(text.utf8.count)
        for character in text {
            switch character {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&apos;"
            default: out.append(character)
            }
        }
        return out
    }
}
