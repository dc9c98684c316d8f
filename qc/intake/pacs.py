"""Back-filling history from a PACS or an Orthanc server: the QC studies of a date range, into the inbox.

Owns the two ways of asking for old images:
- Orthanc's REST API (`/tools/find` at instance level with a StudyDate range and modality, then
  `/instances/{id}/file`): no DICOM configuration needed on the Orthanc side;
- DICOM query/retrieve against any PACS: C-FIND (study root, study level) for the date range, then C-MOVE of
  each study to our own receiver (the PACS must know our AE title, address and port).
Every object retrieved takes the same path as a received one (`qc.intake.inbox.accept_object`), so it is
grouped, analysed and waits for review like the rest.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import urllib.error
import urllib.request
from dataclasses import dataclass

from qc.errors import QCInputError
from qc.intake import inbox

QC_MODALITIES = ("RTIMAGE", "MR")


def _date(d: dt.date) -> str:
    return d.strftime("%Y%m%d")


@dataclass
class OrthancClient:
    """Orthanc's REST API (user/password optional)."""

    url: str
    user: str = ""
    password: str = ""
    timeout_s: float = 30.0

    def _request(self, path: str, body: dict | None = None) -> bytes:
        req = urllib.request.Request(self.url.rstrip("/") + path, data=json.dumps(body).encode() if body is not None else None)
        if body is not None:
            req.add_header("Content-Type", "application/json")
        if self.user:
            token = base64.b64encode(f"{self.user}:{self.password}".encode()).decode()
            req.add_header("Authorization", f"Basic {token}")
        try:
            with urllib.request.urlopen(req, timeout=self.timeout_s) as resp:  # noqa: S310 - URL given by the admin
                return resp.read()
        except urllib.error.HTTPError as exc:
            raise QCInputError("intake.err.orthanc_http", url=self.url, code=exc.code) from exc
        except (urllib.error.URLError, OSError) as exc:
            raise QCInputError("intake.err.orthanc_unreachable", url=self.url, error=str(getattr(exc, "reason", exc))) from exc

    def find_instances(self, date_from: dt.date, date_to: dt.date, modality: str) -> list[str]:
        query = {"Level": "Instance", "Query": {"StudyDate": f"{_date(date_from)}-{_date(date_to)}", "Modality": modality}}
        return json.loads(self._request("/tools/find", query))

    def instance_file(self, instance_id: str) -> bytes:
        return self._request(f"/instances/{instance_id}/file")


def retrieve_from_orthanc(store, client: OrthancClient, date_from: dt.date, date_to: dt.date,
                          modalities: tuple[str, ...] = QC_MODALITIES) -> int:
    """Every QC instance of the date range into the inbox; returns how many objects were kept (new or not)."""
    n = 0
    for modality in modalities:
        for iid in client.find_instances(date_from, date_to, modality):
            inbox.accept_object(store, client.instance_file(iid), f"Orthanc {client.url}")
            n += 1
    return n


def find_studies(host: str, port: int, called_ae: str, date_from: dt.date, date_to: dt.date,
                 calling_ae: str = "MRLINACQC") -> list[str]:
    """C-FIND (study root) of the studies in the date range; returns their StudyInstanceUIDs."""
    from pydicom.dataset import Dataset
    from pynetdicom import AE
    from pynetdicom.sop_class import StudyRootQueryRetrieveInformationModelFind  # type: ignore[attr-defined]

    ae = AE(ae_title=calling_ae)
    ae.add_requested_context(StudyRootQueryRetrieveInformationModelFind)
    q = Dataset()
    q.QueryRetrieveLevel = "STUDY"
    q.StudyDate = f"{_date(date_from)}-{_date(date_to)}"
    q.StudyInstanceUID = ""
    assoc = ae.associate(host, port, ae_title=called_ae)
    if not assoc.is_established:
        raise QCInputError("intake.err.pacs_unreachable", host=host, port=port, aet=called_ae)
    uids = []
    try:
        for status, ident in assoc.send_c_find(q, StudyRootQueryRetrieveInformationModelFind):
            if status and status.Status in (0xFF00, 0xFF01) and ident is not None and ident.get("StudyInstanceUID"):
                uids.append(str(ident.StudyInstanceUID))
    finally:
        assoc.release()
    return uids


def move_studies(host: str, port: int, called_ae: str, study_uids: list[str], move_destination: str,
                 calling_ae: str = "MRLINACQC") -> int:
    """C-MOVE each study to `move_destination` (our receiver's AE title); returns the sub-operations completed."""
    from pydicom.dataset import Dataset
    from pynetdicom import AE
    from pynetdicom.sop_class import StudyRootQueryRetrieveInformationModelMove  # type: ignore[attr-defined]

    ae = AE(ae_title=calling_ae)
    ae.add_requested_context(StudyRootQueryRetrieveInformationModelMove)
    assoc = ae.associate(host, port, ae_title=called_ae)
    if not assoc.is_established:
        raise QCInputError("intake.err.pacs_unreachable", host=host, port=port, aet=called_ae)
    done = 0
    try:
        for uid in study_uids:
            q = Dataset()
            q.QueryRetrieveLevel = "STUDY"
            q.StudyInstanceUID = uid
            last = None
            for status, _ident in assoc.send_c_move(q, move_destination, StudyRootQueryRetrieveInformationModelMove):
                if status:
                    last = status
            if last is not None and "NumberOfCompletedSuboperations" in last:
                done += int(last.NumberOfCompletedSuboperations)
    finally:
        assoc.release()
    return done
