"""DICOM Storage SCP: the Unity (or the record-and-verify system) sends its QC images to the app.

Owns the network face of automatic intake (pynetdicom, MIT): the AE title and port, the allow-list of calling
AE titles and addresses, the storage classes accepted (RT Image, MR Image, Enhanced MR, Secondary Capture;
anything else is refused at association negotiation, so the sender sees "no presentation context" for it),
and the C-STORE status returned. Each object is written durably into the inbox (`qc.intake.inbox.accept_object`:
fsync and rename) *before* the success status 0x0000 is returned; an object that cannot be kept gets a failure
status (0xA700 out of resources, 0xC000 cannot understand) and the receiver keeps running.

Grouping and analysis run beside it (`serve` calls `qc.intake.inbox.process_inbox` every few seconds).
"""

from __future__ import annotations

import io
import logging
import threading
import time
from dataclasses import dataclass, field

from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import ExplicitVRLittleEndian, ImplicitVRLittleEndian
from pynetdicom import AE, ALL_TRANSFER_SYNTAXES, evt
from pynetdicom.sop_class import (  # type: ignore[attr-defined]
    EnhancedMRImageStorage,
    MRImageStorage,
    RTImageStorage,
    SecondaryCaptureImageStorage,
    Verification,
)

from qc.config import RECEIVER_AE_TITLE, RECEIVER_PORT
from qc.errors import QCInputError
from qc.intake import inbox

log = logging.getLogger(__name__)

ACCEPTED_STORAGE = (RTImageStorage, MRImageStorage, EnhancedMRImageStorage, SecondaryCaptureImageStorage)
STATUS_SUCCESS = 0x0000
STATUS_OUT_OF_RESOURCES = 0xA700
STATUS_CANNOT_UNDERSTAND = 0xC000
DEFAULT_AE_TITLE, DEFAULT_PORT = RECEIVER_AE_TITLE, RECEIVER_PORT  # in qc.config: `python -m qc --help` shows them without pynetdicom


@dataclass
class ReceiverConfig:
    """Where the receiver listens and whom it accepts (empty allow-lists accept everyone on the network)."""

    ae_title: str = DEFAULT_AE_TITLE
    port: int = DEFAULT_PORT
    address: str = "0.0.0.0"
    allowed_ae_titles: list[str] = field(default_factory=list)
    allowed_addresses: list[str] = field(default_factory=list)
    process_every_s: float = 5.0


def file_bytes(dataset: Dataset, file_meta: FileMetaDataset) -> bytes:
    """The received dataset as a DICOM Part 10 file (what an upload would have been)."""
    dataset.file_meta = file_meta
    buf = io.BytesIO()
    dataset.save_as(buf, enforce_file_format=True)
    return buf.getvalue()


class Receiver:
    """A running Storage SCP bound to one data folder."""

    def __init__(self, data_dir, config: ReceiverConfig) -> None:
        self.data_dir = data_dir
        self.config = config
        self._local = threading.local()
        self.received = 0
        self.refused = 0
        self._server = None

    def _store(self):
        # one SQLite connection per association thread
        s = getattr(self._local, "store", None)
        if s is None:
            from qc.records.storage import Store

            s = self._local.store = Store(self.data_dir)
        return s

    # -- events

    def on_requested(self, event) -> None:
        """Refuse an association from an address that is not allowed (AE titles are checked by pynetdicom)."""
        allowed = self.config.allowed_addresses
        if allowed and event.assoc.requestor.address not in allowed:
            log.warning("association from %s refused: address not allowed", event.assoc.requestor.address)
            self.refused += 1
            # rejected-permanent, service-user, calling AE title not recognised (the closest reason in PS3.8)
            event.assoc.acse.send_reject(0x01, 0x01, 0x03)

    def on_c_store(self, event) -> int:
        """Keep the object durably, then (only then) say success."""
        assoc = event.assoc
        source = f"DICOM {assoc.requestor.ae_title}@{assoc.requestor.address}"
        from qc.records.storage import StorageError

        try:
            data = file_bytes(event.dataset, event.file_meta)
            inbox.accept_object(self._store(), data, source)
        except StorageError:  # disk full, database unavailable: the sender may retry later
            log.exception("object from %s could not be kept", source)
            return STATUS_OUT_OF_RESOURCES
        except QCInputError as exc:
            log.warning("object refused from %s: %s", source, exc)
            return STATUS_CANNOT_UNDERSTAND
        except OSError:
            log.exception("object from %s could not be written", source)
            return STATUS_OUT_OF_RESOURCES
        except Exception:  # noqa: BLE001 - the receiver must keep running for the next object
            log.exception("object from %s could not be read", source)
            return STATUS_CANNOT_UNDERSTAND
        self.received += 1
        return STATUS_SUCCESS

    # -- life

    def make_ae(self) -> AE:
        ae = AE(ae_title=self.config.ae_title)
        for uid in ACCEPTED_STORAGE:
            ae.add_supported_context(uid, ALL_TRANSFER_SYNTAXES)
        ae.add_supported_context(Verification, [ExplicitVRLittleEndian, ImplicitVRLittleEndian])
        if self.config.allowed_ae_titles:
            ae.require_calling_aet = list(self.config.allowed_ae_titles)
        ae.maximum_pdu_size = 0  # unlimited: RT Images are 2 MB
        return ae

    def start(self):
        """Start listening in the background; returns the pynetdicom server."""
        from qc.records.storage import Store

        with Store(self.data_dir) as store:
            inbox.recover_inbox(store)
        handlers = [(evt.EVT_C_STORE, self.on_c_store), (evt.EVT_REQUESTED, self.on_requested)]
        self._server = self.make_ae().start_server((self.config.address, self.config.port), block=False, evt_handlers=handlers)
        return self._server

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server = None


def serve(data_dir, config: ReceiverConfig, stop: threading.Event | None = None, lang: str = "fr") -> None:
    """Receive until `stop` is set (or Ctrl-C), grouping and analysing complete sessions every few seconds."""
    from qc.records.storage import Store

    stop = stop or threading.Event()
    receiver = Receiver(data_dir, config)
    receiver.start()
    log.info("DICOM receiver %s listening on %s:%s", config.ae_title, config.address, config.port)
    try:
        with Store(data_dir) as store:
            while not stop.is_set():
                try:
                    for line in inbox.process_inbox(store, lang=lang):
                        log.info("intake: %s", line)
                except Exception:  # noqa: BLE001 - one bad group must not stop the receiver
                    log.exception("intake processing failed")
                stop.wait(config.process_every_s)
    except KeyboardInterrupt:
        pass
    finally:
        receiver.stop()


def start_in_background(data_dir, config: ReceiverConfig) -> tuple[threading.Thread, threading.Event]:
    """The receiver beside the Streamlit server (setting "intake.receiver_enabled")."""
    stop = threading.Event()
    thread = threading.Thread(target=serve, args=(data_dir, config, stop), name="qc-dicom-receiver", daemon=True)
    thread.start()
    time.sleep(0.1)
    return thread, stop


_started: dict[str, tuple[threading.Thread, threading.Event]] = {}
_started_lock = threading.Lock()


def config_from_env(env=None) -> ReceiverConfig | None:
    """The receiver the server starts with: QC_RECEIVER_PORT (unset = none), QC_RECEIVER_AET,
    QC_RECEIVER_ALLOW_AET and QC_RECEIVER_ALLOW_ADDRESS (comma-separated), QC_RECEIVER_ADDRESS."""
    import os

    env = os.environ if env is None else env
    port = env.get("QC_RECEIVER_PORT", "").strip()
    if not port:
        return None

    def listed(name: str) -> list[str]:
        return [x.strip() for x in env.get(name, "").split(",") if x.strip()]

    return ReceiverConfig(
        ae_title=env.get("QC_RECEIVER_AET", DEFAULT_AE_TITLE).strip() or DEFAULT_AE_TITLE,
        port=int(port),
        address=env.get("QC_RECEIVER_ADDRESS", "0.0.0.0"),
        allowed_ae_titles=listed("QC_RECEIVER_ALLOW_AET"),
        allowed_addresses=listed("QC_RECEIVER_ALLOW_ADDRESS"),
    )


def start_configured_receiver(data_dir) -> bool:
    """Start the receiver once per server process when it is configured; True when one runs."""
    config = config_from_env()
    if config is None:
        return False
    with _started_lock:
        key = str(data_dir)
        if key not in _started:
            _started[key] = start_in_background(data_dir, config)
    return True
