import IMSModel
import SIPCore

/// Number translation and breakout routes (ENUM / BGCF tables), replaceable on SIGHUP.
protocol CallRouting: AnyObject {
    func resolve(_ uri: URI, homeDomain: String, isLocal: (String) -> Bool) -> SessionRouter.Resolution
}
