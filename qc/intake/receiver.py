"""DICOM Storage SCP: the Unity (or the record-and-verify system) sends its QC images to the app.

Owns the network face of automatic intake (pynetdicom, MIT): the AE title and port, the allow-list of calling
AE titles and addresses, the storage classes accepted (RT Image, MR Image, Enhanced MR, Secondary Capture;
anything else is refused at association negotiation, so the sender sees "no presentation context" for it),
and the C-STORE status returned. Each object is written durably into the inbox (`qc.intake.inbox.accept_object`:
fsync and rename) *before* the success status 0x0000 is returned; an object that cannot be kept gets a failure
status (0xA700 out of resources, 0xC000 cannot understand) and the receiver keeps running.

Grouping and analysis run beside it (`serve` calls `qc.intake.inbox.process_inbox` every few seconds).

Bounds (issue 26), each in `ReceiverConfig` and the README's Security section:
- object size: the bytes received since the last stored object are counted as they arrive (every
  socket read, before pynetdicom assembles them); past `max_object_mb` the association is aborted
  (A-ABORT) at once, nothing of it is kept, so it never joins (nor spoils) a session group. The
  largest PDU we accept is negotiated down to MAX_PDU_BYTES so a read never holds more than that;
- time: a socket read waits at most `idle_timeout_s` (a sender that stops mid-PDU is cut; pynetdicom's
  own idle timer only runs between PDUs), and an association lasts at most `association_max_s`;
- associations: at most `max_associations` at once, and at most `max_associations_per_address` from one
  sender address (a colleague's script must not take the Unity's slots); the next is rejected with
  A-ASSOCIATE-RJ "rejected-transient, local-limit-exceeded" (a sender may retry later);
- disk: the inbox is kept under `inbox_quota_mb` by sweeping the oldest files already analysed and
  reviewed (`qc.intake.inbox.sweep_inbox`); when that is not enough the object gets 0xA700 "out of
  resources".
An object refused for its size or for the quota is kept as a refusal (`qc.records.intake_refusals`): the
review page and Home say it to the physicist (`qc.intake.refusals`), not only this module's log.
"""

from __future__ import annotations

import errno
import io
import logging
import socket
import threading
import time
from dataclasses import dataclass, field

from pydicom.dataset import FileMetaDataset
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
# Largest PDU we accept (negotiated in the A-ASSOCIATE-AC): 1 MiB keeps each read small and is far above
# what senders use (DCMTK sends 16 kB PDUs by default, pynetdicom 16 kB).
MAX_PDU_BYTES = 1024 * 1024
# Wait for the A-ASSOCIATE-RQ after a TCP connect: any sender sends it at once. pynetdicom keeps an association
# slot for this long even when the connection is already closed (a bare connect holds a slot), so it is short.
ACSE_TIMEOUT_S = 5.0
# pynetdicom's own bound counts every connection thread, including connections still waiting for their request
# (≤ ACSE_TIMEOUT_S each) and rejected ones finishing: it is only a backstop, this many times `max_associations`;
# the associations admitted are bounded by `Receiver._admit`.
THREAD_BACKSTOP_FACTOR = 4
# A-ASSOCIATE-RJ rejected-transient (2), service provider presentation-related (3), local-limit-exceeded (2):
# what pynetdicom answers past its own bound, and what storescu shows as « Local Limit Exceeded ».
REJECT_BUSY = (0x02, 0x03, 0x02)
# One A-ABORT PDU (PS3.8 §9.3.8): type 07, length 4, source 2 (service provider), reason 0 (not specified).
_A_ABORT = bytes([0x07, 0x00, 0x00, 0x00, 0x00, 0x04, 0x00, 0x00, 0x02, 0x00])


@dataclass
class ReceiverConfig:
    """Where the receiver listens and whom it accepts (empty allow-lists accept everyone on the network)."""

    ae_title: str = DEFAULT_AE_TITLE
    port: int = DEFAULT_PORT
    address: str = "0.0.0.0"
    allowed_ae_titles: list[str] = field(default_factory=list)
    allowed_addresses: list[str] = field(default_factory=list)
    process_every_s: float = 5.0
    # A Unity MV portal image is 2 MB, an MR slice < 1 MB, an Enhanced MR volume of a QC series tens of MB.
    max_object_mb: float = 64.0
    inbox_quota_mb: float = 4096.0
    idle_timeout_s: float = 15.0
    association_max_s: float = 600.0
    max_associations: int = 10
    # One sender address gets at most this many of them: the Unity keeps 6 slots while a script saturates its own.
    max_associations_per_address: int = 4


class ObjectTooLarge(OSError):
    """Raised from a socket read once an object passes the size limit (pynetdicom closes the association)."""


class LimitedSocket(socket.socket):
    """The accepted TCP socket of one association, counting what it reads.

    Every read adds to `bytes_since_object` (reset by the C-STORE handler once an object is kept): past
    `max_bytes` an A-ABORT is sent and the read fails, so pynetdicom ends the association without assembling
    the rest. Reads wait at most `idle_s`; after `deadline` (monotonic) any read fails (the association has
    lasted too long)."""

    max_bytes: int
    deadline: float
    bytes_since_object: int
    over: str

    @classmethod
    def take(cls, raw: socket.socket, max_bytes: int, idle_s: float, total_s: float) -> LimitedSocket:
        sock = cls(raw.family, raw.type, raw.proto, fileno=raw.detach())
        sock.max_bytes = max_bytes
        sock.deadline = time.monotonic() + total_s
        sock.bytes_since_object = 0
        sock.over = ""
        sock.settimeout(idle_s)
        return sock

    def recv(self, bufsize: int, flags: int = 0) -> bytes:  # type: ignore[override]
        if self.over:
            raise ObjectTooLarge(errno.ECONNABORTED, self.over)
        if time.monotonic() > self.deadline:
            self._refuse("association too long")
        data = super().recv(bufsize, flags)
        self.bytes_since_object += len(data)
        if self.bytes_since_object > self.max_bytes:
            self._refuse("object too large")
        return data

    def _refuse(self, why: str) -> None:
        self.over = why
        try:
            self.sendall(_A_ABORT)
        except OSError:
            pass
        raise ObjectTooLarge(errno.ECONNABORTED, why)


def reject(assoc, result: int, source: int, diagnostic: int) -> None:
    """Answer an association request with A-ASSOCIATE-RJ from an EVT_REQUESTED handler, as pynetdicom does for
    its own rejections: send it, mark the association rejected (else pynetdicom goes on negotiating and accepts
    it) and stop it once the PDU is sent (else the socket may close first and the sender sees an abort)."""
    assoc.acse.send_reject(result, source, diagnostic)
    assoc.is_rejected = True
    assoc.kill()


def received_file_bytes(encoded: io.BytesIO, file_meta: FileMetaDataset) -> bytes:
    """The received object as a DICOM Part 10 file (what an upload would have been), from the dataset exactly
    as it was sent (no decode and re-encode: one copy of the pixel data instead of three)."""
    from pydicom.filewriter import write_file_meta_info

    buf = io.BytesIO()
    buf.write(b"\x00" * 128 + b"DICM")
    write_file_meta_info(buf, file_meta, enforce_standard=True)
    buf.write(encoded.getbuffer())
    return buf.getvalue()


class Receiver:
    """A running Storage SCP bound to one data folder."""

    def __init__(self, data_dir, config: ReceiverConfig) -> None:
        self.data_dir = data_dir
        self.config = config
        self._local = threading.local()
        self.received = 0
        self.refused = 0
        self.refused_too_large = 0
        self.busy = 0
        self._admit_lock = threading.Lock()
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
            reject(event.assoc, 0x01, 0x01, 0x03)
            return
        if not self._admit(event.assoc):
            self.busy += 1
            rq = event.assoc.requestor
            log.warning("association from %s@%s told busy: %s associations at most, %s per address",
                        rq.primitive.calling_ae_title, rq.address, self.config.max_associations,
                        self.config.max_associations_per_address)
            reject(event.assoc, *REJECT_BUSY)

    def _admit(self, assoc) -> bool:
        """Whether this association may go on: fewer than `max_associations` admitted and still running, and
        fewer than `max_associations_per_address` of them from its address. Counted from the live association
        threads (a thread that ends frees its slot whatever the way it ended), under a lock so that two
        requests at once do not both take the last slot."""
        c = self.config
        with self._admit_lock:
            admitted = [a for a in assoc.ae.active_associations if getattr(a, "qc_admitted", False)]
            same = sum(1 for a in admitted if a.requestor.address == assoc.requestor.address)
            if len(admitted) >= c.max_associations or same >= c.max_associations_per_address:
                return False
            assoc.qc_admitted = True
            return True

    def on_conn_open(self, event) -> None:
        """Put the limits on the new connection before pynetdicom reads anything from it."""
        c = self.config
        wrapper = event.assoc.dul.socket
        wrapper.socket = LimitedSocket.take(wrapper.socket, int(c.max_object_mb * 2**20), c.idle_timeout_s, c.association_max_s)

    def on_conn_close(self, event) -> None:
        sock = getattr(getattr(event.assoc.dul, "socket", None), "socket", None)
        if isinstance(sock, LimitedSocket) and sock.over:
            who = f"{event.assoc.requestor.ae_title}@{event.assoc.requestor.address}"
            if sock.over == "object too large":
                self.refused_too_large += 1
                log.warning("association from %s aborted: object over %s MB, nothing of it kept", who, self.config.max_object_mb)
                self._record_refusal("too_large", event.assoc, sock.bytes_since_object, self.config.max_object_mb)
            else:
                log.warning("association from %s aborted: open for more than %s s", who, self.config.association_max_s)

    def on_c_store(self, event) -> int:
        """Keep the object durably, then (only then) say success."""
        try:
            return self._keep(event)
        finally:
            sock = getattr(getattr(event.assoc.dul, "socket", None), "socket", None)
            if isinstance(sock, LimitedSocket):
                sock.bytes_since_object = 0  # the sender waits for our answer before sending the next object

    def _keep(self, event) -> int:
        assoc = event.assoc
        source = f"DICOM {assoc.requestor.ae_title}@{assoc.requestor.address}"
        from qc.records.storage import StorageError

        try:
            data = received_file_bytes(event.request.DataSet, event.file_meta)
            if not inbox.make_room(self._store(), len(data), int(self.config.inbox_quota_mb * 2**20)):
                log.warning("object from %s refused: inbox over its quota of %s MB", source, self.config.inbox_quota_mb)
                self._record_refusal("quota", assoc, len(data), self.config.inbox_quota_mb, data)
                return STATUS_OUT_OF_RESOURCES
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

    def _record_refusal(self, reason: str, assoc, size: int, limit_mb: float, data: bytes | None = None) -> None:
        """Keep the refusal for the physicist's pages; a failure here is logged, never raised (the sender has
        its answer whatever happens to the record)."""
        from qc.intake.refusals import describe_object
        from qc.records.intake_refusals import record_refusal

        try:
            what = ""
            if data is not None:
                try:
                    h = inbox.read_header(data)
                    what = describe_object(h.modality, h.acquired_at, h.label)
                except QCInputError:
                    pass
            record_refusal(self._store(), reason, str(assoc.requestor.ae_title or ""), str(assoc.requestor.address or ""),
                           size, limit_mb, what)
        except Exception:  # noqa: BLE001 - the receiver must keep running
            log.exception("refusal from %s@%s could not be recorded", assoc.requestor.ae_title, assoc.requestor.address)

    # -- life

    def make_ae(self) -> AE:
        ae = AE(ae_title=self.config.ae_title)
        for uid in ACCEPTED_STORAGE:
            ae.add_supported_context(uid, ALL_TRANSFER_SYNTAXES)
        ae.add_supported_context(Verification, [ExplicitVRLittleEndian, ImplicitVRLittleEndian])
        if self.config.allowed_ae_titles:
            ae.require_calling_aet = list(self.config.allowed_ae_titles)
        ae.maximum_pdu_size = MAX_PDU_BYTES
        c = self.config
        ae.maximum_associations = THREAD_BACKSTOP_FACTOR * c.max_associations
        ae.network_timeout = c.idle_timeout_s  # between PDUs (pynetdicom's idle timer)
        ae.acse_timeout = min(ACSE_TIMEOUT_S, c.idle_timeout_s)
        ae.dimse_timeout = c.idle_timeout_s
        return ae

    def start(self):
        """Start listening in the background; returns the pynetdicom server."""
        from qc.records.storage import Store

        with Store(self.data_dir) as store:
            inbox.recover_inbox(store)
        handlers = [(evt.EVT_C_STORE, self.on_c_store), (evt.EVT_REQUESTED, self.on_requested),
                    (evt.EVT_CONN_OPEN, self.on_conn_open), (evt.EVT_CONN_CLOSE, self.on_conn_close)]
        try:
            self._server = self.make_ae().start_server((self.config.address, self.config.port), block=False, evt_handlers=handlers)
        except OSError as exc:
            raise port_error(exc, self.config) from exc
        return self._server

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server = None


def port_error(exc: OSError, config: ReceiverConfig) -> QCInputError:
    """The sentence for a port the receiver cannot listen on (not a disk error)."""
    if exc.errno == errno.EADDRINUSE:
        return QCInputError("intake.err.port_in_use", port=config.port, address=config.address)
    if exc.errno in (errno.EACCES, errno.EPERM):
        return QCInputError("intake.err.port_denied", port=config.port)
    return QCInputError("intake.err.port_other", port=config.port, address=config.address, error=exc.strerror or str(exc))


def serve(data_dir, config: ReceiverConfig, stop: threading.Event | None = None, lang: str = "fr", on_listening=None) -> None:
    """Receive until `stop` is set (or Ctrl-C), grouping and analysing complete sessions every few seconds.

    `on_listening()` is called once the port is bound (a busy port raises QCInputError before it)."""
    from qc.records.storage import Store

    stop = stop or threading.Event()
    receiver = Receiver(data_dir, config)
    receiver.start()
    log.info("DICOM receiver %s listening on %s:%s", config.ae_title, config.address, config.port)
    if on_listening is not None:
        on_listening()
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
    QC_RECEIVER_ALLOW_AET and QC_RECEIVER_ALLOW_ADDRESS (comma-separated), QC_RECEIVER_ADDRESS, and the
    bounds QC_RECEIVER_MAX_OBJECT_MB, QC_RECEIVER_INBOX_QUOTA_MB, QC_RECEIVER_IDLE_S,
    QC_RECEIVER_ASSOCIATION_MAX_S, QC_RECEIVER_MAX_ASSOCIATIONS, QC_RECEIVER_MAX_ASSOCIATIONS_PER_ADDRESS (unset =
    the defaults of ReceiverConfig)."""
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
        **bounds_from(env.get, "QC_RECEIVER_"),
    )


_BOUNDS = {"max_object_mb": float, "inbox_quota_mb": float, "idle_timeout_s": float, "association_max_s": float,
           "max_associations": int, "max_associations_per_address": int}
_BOUND_NAMES = {"max_object_mb": "MAX_OBJECT_MB", "inbox_quota_mb": "INBOX_QUOTA_MB", "idle_timeout_s": "IDLE_S",
                "association_max_s": "ASSOCIATION_MAX_S", "max_associations": "MAX_ASSOCIATIONS",
                "max_associations_per_address": "MAX_ASSOCIATIONS_PER_ADDRESS"}


def bounds_from(get, prefix: str = "") -> dict:
    """The receiver's bounds that are set (environment names with `prefix`, or argparse attributes), checked
    positive; the others keep ReceiverConfig's defaults."""
    out: dict = {}
    for attr, kind in _BOUNDS.items():
        raw = get(prefix + _BOUND_NAMES[attr] if prefix else attr)
        if raw is None or str(raw).strip() == "":
            continue
        value = kind(raw)
        if value <= 0:
            raise ValueError(f"{prefix + _BOUND_NAMES[attr] if prefix else attr} must be positive (got {raw})")
        out[attr] = value
    return out


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
