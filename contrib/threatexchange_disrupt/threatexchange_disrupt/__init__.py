"""threatexchange extension for DISRUPT's hash exchange:
`threatexchange config extensions add threatexchange_disrupt`."""
from threatexchange.extensions.manifest import ThreatExchangeExtensionManifest

from threatexchange_disrupt.exchange import (
    DisruptCredentials,
    DisruptSignalExchangeAPI,
    record_update,
)

TX_MANIFEST = ThreatExchangeExtensionManifest(apis=(DisruptSignalExchangeAPI,))

__all__ = ["TX_MANIFEST", "DisruptCredentials", "DisruptSignalExchangeAPI", "record_update"]
