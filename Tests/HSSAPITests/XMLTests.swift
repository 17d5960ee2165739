import HSSAPI
import Testing

@Suite("Service profile iFC extraction and reg-data rendering")
struct XMLTests {
    @Test func extractsOutermostIFCsVerbatim() throws {
        let ifc1 = "<InitialFilterCriteria><Priority>0</Priority></InitialFilterCriteria>"
        let ifc2 = """
            <InitialFilterCriteria  a="1" b='x&amp;&#65;&#x42;'>
                <TriggerPoint><SPT><Method>INVITE</Method></SPT></TriggerPoint>
                <![CDATA[ </InitialFilterCriteria> <x> ]]>
                <!-- </InitialFilterCriteria> -->
                <?pi </InitialFilterCriteria> ?>
                <InitialFilterCriteria>nested, part of the outer one</InitialFilterCriteria>
            </InitialFilterCriteria >
            """
        let doc = """
            \u{FEFF}<?xml version="1.0"?>
            <!-- leading comment -->
            <IMSSubscription><ServiceProfile>
              <PublicIdentity><Identity>sip:a@b</Identity></PublicIdentity>
              \(ifc1)
              <!-- <InitialFilterCriteria>commented</InitialFilterCriteria> -->
              <ApplicationServer><InitialFilterCriteria/></ApplicationServer>
              \(ifc2)
            </ServiceProfile></IMSSubscription>
            """
        let found = try #require(ServiceProfileXML.initialFilterCriteria(in: doc))
        #expect(found == [ifc1, "<InitialFilterCriteria/>", ifc2])
        for ifc in found {
            #expect(ParsedXML.parse(ifc)?.name == "InitialFilterCriteria")
        }
    }

    @Test func noIFCs() {
        #expect(ServiceProfileXML.initialFilterCriteria(in: "<ServiceProfile/>") == [])
        #expect(ServiceProfileXML.initialFilterCriteria(in: "<ServiceProfile><Initialfiltercriteria/></ServiceProfile>") == [])
        // Prefixed names are not matched (Sprout matches the plain name too).
        #expect(ServiceProfileXML.initialFilterCriteria(
            in: "<p:ServiceProfile xmlns:p=\"urn:x\"><p:InitialFilterCriteria/></p:ServiceProfile>") == [])
    }

    @Test(arguments: [
        "",
        "   ",
        "just text",
        "<ServiceProfile>",
        "<ServiceProfile><InitialFilterCriteria></ServiceProfile>",
        "<ServiceProfile></InitialFilterCriteria></ServiceProfile>",
        "<ServiceProfile><InitialFilterCriteria>a & b</InitialFilterCriteria></ServiceProfile>",
        "<ServiceProfile><InitialFilterCriteria>&nbsp;</InitialFilterCriteria></ServiceProfile>",
        "<ServiceProfile><InitialFilterCriteria>&#0;</InitialFilterCriteria></ServiceProfile>",
        "<ServiceProfile><InitialFilterCriteria>&#xD800;</InitialFilterCriteria></ServiceProfile>",
        "<ServiceProfile><InitialFilterCriteria>a < b</InitialFilterCriteria></ServiceProfile>",
        "<ServiceProfile><InitialFilterCriteria>\u{1}</InitialFilterCriteria></ServiceProfile>",
        "<ServiceProfile><InitialFilterCriteria>]]></InitialFilterCriteria></ServiceProfile>",
        "<ServiceProfile><InitialFilterCriteria a=1/></ServiceProfile>",
        "<ServiceProfile><InitialFilterCriteria a=\"1\" a=\"2\"/></ServiceProfile>",
        "<ServiceProfile><InitialFilterCriteria a=\"1\"b=\"2\"/></ServiceProfile>",
        "<ServiceProfile><InitialFilterCriteria a=\"<\"/></ServiceProfile>",
        "<ServiceProfile><InitialFilterCriteria a=\"1/></ServiceProfile>",
        "<ServiceProfile><!-- a -- b --></ServiceProfile>",
        "<ServiceProfile><!-- unterminated </ServiceProfile>",
        "<ServiceProfile><![CDATA[ unterminated </ServiceProfile>",
        "<!DOCTYPE x [<!ENTITY e \"<InitialFilterCriteria/>\">]><ServiceProfile>&e;</ServiceProfile>",
        "<ServiceProfile/><ServiceProfile/>",
        "<ServiceProfile/>trailing",
        "<1ServiceProfile/>",
        "< ServiceProfile/>",
        "<ServiceProfile></ServiceProfile\u{FFFF}>",
    ])
    func malformedGivesNil(doc: String) {
        #expect(ServiceProfileXML.initialFilterCriteria(in: doc) == nil)
    }

    @Test func renderedDocumentIsWellFormed() throws {
        let data = HSSRegistrationData(
            state: .unregistered,
            privateID: "a&b@example.com",
            publicIdentities: [.init("sip:a@example.com"), .init("sip:<b>@example.com", barred: true)],
            serviceProfileXML: "<ServiceProfile><InitialFilterCriteria><Priority>3</Priority></InitialFilterCriteria></ServiceProfile>",
            chargingAddresses: .init(ccfs: ["aaa://ccf1", "aaa://ccf2&x"], ecfs: ["aaa://ecf"])
        )
        let xml = ClearwaterRegDataXML.render(data)
        #expect(xml.hasPrefix("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<ClearwaterRegData>"))
        let root = try #require(ParsedXML.parse(xml), "not well-formed: \(xml)")
        #expect(root["RegistrationState"]?.text == "UNREGISTERED")
        #expect(root["IMSSubscription", "PrivateID"]?.text == "a&b@example.com")
        let profile = try #require(root["IMSSubscription", "ServiceProfile"])
        #expect(profile.all("PublicIdentity").map { $0["Identity"]?.text } == ["sip:a@example.com", "sip:<b>@example.com"])
        #expect(profile.all("PublicIdentity").map { $0["BarringIndication"]?.text } == [nil, "1"])
        #expect(profile["InitialFilterCriteria", "Priority"]?.text == "3")
        let charging = try #require(root["ChargingAddresses"])
        #expect(charging.all("CCF").map(\.text) == ["aaa://ccf1", "aaa://ccf2&x"])
        #expect(charging.all("CCF").map { $0.attributes["priority"] } == ["1", "2"])
        #expect(charging.all("ECF").first?.attributes["priority"] == "1")
    }

    @Test func escape() {
        #expect(ClearwaterRegDataXML.escape("<a href=\"x\">'&'</a>") ==
            "&lt;a href=&quot;x&quot;&gt;&apos;&amp;&apos;&lt;/a&gt;")
        #expect(ClearwaterRegDataXML.escape("tab\tnl\ncr\r nul\u{0} ffff\u{FFFF} é😀") ==
            "tab\tnl\ncr\r nul\u{FFFD} ffff\u{FFFD} é😀")
    }
}
