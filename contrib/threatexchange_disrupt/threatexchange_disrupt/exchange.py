"""DISRUPT's hash exchange speaks StopNCII's API; this exchange reads it like threatexchange's
`stopncii` one except that a record whose hashStatus is Withdrawn or Deleted removes the hash
(threatexchange 1.2.17 compares hashValue with those statuses, so it never removes one)."""

import typing as t
from dataclasses import dataclass, field

from threatexchange.exchanges import auth
from threatexchange.exchanges import fetch_state as state
from threatexchange.exchanges.clients.stopncii import api
from threatexchange.exchanges.collab_config import CollaborationConfigBase
from threatexchange.exchanges.impl.stop_ncii_api import (
    StopNCIICheckpoint,
    StopNCIISignalExchangeAPI,
    StopNCIISignalMetadata,
)
from threatexchange.signal_type.md5 import VideoMD5Signal
from threatexchange.signal_type.pdq.signal import PdqSignal
from threatexchange.signal_type.signal_base import SignalType

REMOVED_STATUSES = frozenset({api.StopNCIICaseStatus.Withdrawn, api.StopNCIICaseStatus.Deleted})
SIGNAL_TYPE_NAMES = {
    api.StopNCIISignalType.ImagePDQ: PdqSignal.get_name(),
    api.StopNCIISignalType.VideoMD5: VideoMD5Signal.get_name(),
}


@dataclass
class DisruptCredentials(auth.CredentialHelper):
    """The keys a DISRUPT admin issues for one platform, and where that DISRUPT is."""

    ENV_VARIABLE: t.ClassVar[str] = "TX_DISRUPT_KEYS"
    FILE_NAME: t.ClassVar[str] = "~/.tx_disrupt_keys"
    # Own default slot: the CLI sets StopNCIICredentials' one, which must never leak here.
    _DEFAULT: t.ClassVar[auth.CredentialHelper | None] = None
    _DEFAULT_SRC: t.ClassVar[str] = ""

    function_key: str = field(metadata={"help": "the function key (x-functions-key)"})
    subscription_key: str = field(
        metadata={"help": "the subscription key (Ocp-Apim-Subscription-Key), dsr-..."})
    base_url: str = field(
        metadata={"help": "the exchange API, e.g. https://disrupt.example.org/api/exchange/v1"})

    @classmethod
    def _from_str(cls, s: str) -> "DisruptCredentials":
        parts = [part.strip() for part in s.strip().split(",")]
        if len(parts) != 3:
            raise ValueError("DISRUPT credentials are 'function_key,subscription_key,base_url'")
        function_key, subscription_key, base_url = parts
        return cls(function_key, subscription_key, base_url.rstrip("/"))

    def _are_valid(self) -> bool:
        return bool(self.function_key and self.subscription_key
                    and self.base_url.startswith(("https://", "http://")))


class DisruptSignalExchangeAPI(StopNCIISignalExchangeAPI):
    """A DISRUPT instance's hash exchange. Records are snapshots: the newest one for a hash
    replaces the previous, and a Withdrawn or Deleted one deletes it from the index."""

    @classmethod
    def get_name(cls) -> str:
        return "disrupt"

    @staticmethod
    def get_credential_cls() -> type[DisruptCredentials]:
        return DisruptCredentials

    @classmethod
    def for_collab(
        cls,
        collab: CollaborationConfigBase,
        credentials: DisruptCredentials | None = None,
    ) -> "DisruptSignalExchangeAPI":
        credentials = credentials or DisruptCredentials.get(cls)
        return cls(collab, api.StopNCIIAPI(credentials.subscription_key, credentials.function_key,
                                           base_url_override=credentials.base_url))

    def fetch_iter(
        self,
        _supported_signal_types: t.Sequence[type[SignalType]],
        checkpoint: StopNCIICheckpoint | None,
    ) -> t.Iterator[state.FetchDelta[tuple[str, str], StopNCIISignalMetadata,
                                     StopNCIICheckpoint]]:
        start = api.StopNCIIAPI.DEFAULT_START_TIME if checkpoint is None else checkpoint.update_time
        for page in self.api.fetch_hashes_iter(start_timestamp=start):
            updates = dict(record_update(record) for record in page.hashRecords
                           if record.signalType in SIGNAL_TYPE_NAMES)
            yield state.FetchDelta(updates, StopNCIICheckpoint.from_stopncii_fetch(page))


def record_update(
    record: api.StopNCIIHashRecord,
) -> tuple[tuple[str, str], StopNCIISignalMetadata | None]:
    """((signal type, hash), metadata); metadata None deletes the hash locally."""
    key = (SIGNAL_TYPE_NAMES[record.signalType], record.hashValue)
    if record.hashStatus in REMOVED_STATUSES:
        return key, None
    return key, StopNCIISignalMetadata(record.CSPFeedbacks)
