"""Stable error codes of the bridge protocol, with French and English messages.

Every failure a client can see is a :class:`BridgeError` carrying one code of
:data:`CATALOG`. The code never changes meaning; the messages say what to do. Messages
may hold ``{placeholders}`` filled from the error's ``params``.

Pure module: no IO, no SANE, no CUPS.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class ErrorSpec:
    retryable: bool
    fr: str
    en: str


CATALOG: dict[str, ErrorSpec] = {
    # -- protocol --------------------------------------------------------------------
    "bad_frame": ErrorSpec(
        False,
        "Message illisible : le pont attend un objet JSON texte "
        '{{"id", "method", "params"}} ({detail}).',
        'Unreadable message: the bridge expects a JSON text object {{"id", "method", '
        '"params"}} ({detail}).',
    ),
    "unknown_method": ErrorSpec(
        False,
        "Méthode inconnue « {method} ». Appelez hello pour la liste des méthodes.",
        "Unknown method '{method}'. Call hello for the list of methods.",
    ),
    "bad_params": ErrorSpec(
        False,
        "Paramètres invalides : {detail}.",
        "Invalid parameters: {detail}.",
    ),
    "too_many_requests": ErrorSpec(
        True,
        "Trop de requêtes en cours sur cette connexion ({limit}). Attendez une réponse.",
        "Too many requests in flight on this connection ({limit}). Wait for a reply.",
    ),
    "internal_error": ErrorSpec(
        True,
        "Erreur interne du pont. Réessayez ; si cela se répète, redémarrez pvp-bridge "
        "et consultez son journal.",
        "Internal bridge error. Try again; if it persists, restart pvp-bridge and read its log.",
    ),
    # -- scanner ---------------------------------------------------------------------
    "scanner_busy": ErrorSpec(
        True,
        "Le scanner {device} est déjà utilisé. Attendez la fin de la numérisation en "
        "cours puis réessayez.",
        "Scanner {device} is already in use. Wait for the current scan to finish, then try again.",
    ),
    "scanner_jammed": ErrorSpec(
        True,
        "Bourrage papier dans le chargeur du scanner. Ouvrez le chargeur, retirez la "
        "feuille coincée, remettez les pages non numérisées et relancez.",
        "Paper jam in the scanner's feeder. Open the feeder, remove the stuck sheet, "
        "put back the pages not yet scanned and start again.",
    ),
    "scanner_cover_open": ErrorSpec(
        True,
        "Le capot du scanner est ouvert. Fermez-le puis relancez la numérisation.",
        "The scanner cover is open. Close it, then start the scan again.",
    ),
    "scanner_no_documents": ErrorSpec(
        True,
        "Aucune feuille dans le chargeur. Posez les documents face imprimée selon le "
        "pictogramme du scanner, puis relancez.",
        "No sheet in the feeder. Load the documents as shown on the scanner, then start again.",
    ),
    "scanner_io_error": ErrorSpec(
        True,
        "Le scanner ne répond pas correctement (erreur d'entrée-sortie). Vérifiez le "
        "câble USB et l'alimentation, puis réessayez.",
        "The scanner is not responding properly (I/O error). Check the USB cable and "
        "power, then try again.",
    ),
    "scanner_gone": ErrorSpec(
        True,
        "Scanner {device} introuvable. Vérifiez qu'il est allumé et branché, puis "
        "rafraîchissez la liste des scanners.",
        "Scanner {device} not found. Check it is switched on and plugged in, then "
        "refresh the scanner list.",
    ),
    "scanner_access_denied": ErrorSpec(
        False,
        "Accès au scanner refusé. L'utilisateur de pvp-bridge doit appartenir au "
        "groupe « scanner » (règle udev) : demandez à l'administrateur du poste.",
        "Access to the scanner denied. The pvp-bridge user must be in the 'scanner' "
        "group (udev rule): ask the kiosk's administrator.",
    ),
    "bad_option": ErrorSpec(
        False,
        "Option de numérisation refusée par {device} : {detail}.",
        "Scan option refused by {device}: {detail}.",
    ),
    "scan_not_found": ErrorSpec(
        False,
        "Aucune numérisation en cours ne correspond. Elle est peut-être déjà terminée.",
        "No matching scan in progress. It may have finished already.",
    ),
    # -- spool / documents -----------------------------------------------------------
    "document_not_found": ErrorSpec(
        False,
        "Document {document} introuvable : il a été supprimé ou sa durée de "
        "conservation est écoulée.",
        "Document {document} not found: it was deleted or its retention period ended.",
    ),
    "document_too_large": ErrorSpec(
        False,
        "Document trop volumineux ({size} octets, maximum {limit}). Réduisez la "
        "résolution ou découpez-le.",
        "Document too large ({size} bytes, limit {limit}). Lower the resolution or split it.",
    ),
    "unsupported_type": ErrorSpec(
        False,
        "Type de fichier refusé : seuls les PDF et PNG sont acceptés ({detail}).",
        "File type refused: only PDF and PNG are accepted ({detail}).",
    ),
    "upload_not_found": ErrorSpec(
        False,
        "Envoi {upload} inconnu ou expiré. Recommencez l'envoi depuis le début.",
        "Upload {upload} unknown or expired. Start the upload again from the beginning.",
    ),
    "checksum_mismatch": ErrorSpec(
        True,
        "Le document reçu est corrompu (empreinte SHA-256 différente). Renvoyez-le.",
        "The received document is corrupted (SHA-256 mismatch). Send it again.",
    ),
    "spool_full": ErrorSpec(
        True,
        "Plus assez de place disque sur la borne ({free} octets libres). Supprimez des "
        "documents terminés puis réessayez.",
        "Not enough disk space on the kiosk ({free} bytes free). Delete finished "
        "documents, then try again.",
    ),
    # -- printer ---------------------------------------------------------------------
    "printer_unavailable": ErrorSpec(
        True,
        "Le service d'impression (CUPS) ne répond pas. Vérifiez que cupsd tourne sur "
        "la borne (systemctl status cups), puis réessayez.",
        "The print service (CUPS) is not answering. Check that cupsd runs on the kiosk "
        "(systemctl status cups), then try again.",
    ),
    "printer_not_found": ErrorSpec(
        False,
        "Imprimante « {printer} » inconnue. Choisissez une imprimante de la liste.",
        "Printer '{printer}' unknown. Pick a printer from the list.",
    ),
    "printer_rejecting": ErrorSpec(
        True,
        "L'imprimante « {printer} » refuse les travaux. Réactivez-la (cupsaccept "
        "{printer}) puis réessayez.",
        "Printer '{printer}' is rejecting jobs. Re-enable it (cupsaccept {printer}), "
        "then try again.",
    ),
    "printer_paused": ErrorSpec(
        True,
        "L'imprimante « {printer} » est en pause. Reprenez-la (cupsenable {printer}) "
        "puis réessayez.",
        "Printer '{printer}' is paused. Resume it (cupsenable {printer}), then try again.",
    ),
    "job_not_found": ErrorSpec(
        False,
        "Travail d'impression {job} inconnu.",
        "Print job {job} unknown.",
    ),
    "job_finished": ErrorSpec(
        False,
        "Le travail d'impression {job} est déjà terminé : il ne peut plus être annulé.",
        "Print job {job} has already finished: it can no longer be canceled.",
    ),
}


class BridgeError(Exception):
    """The protocol's error: a stable ``code``, a ``message`` {"fr", "en"}, ``retryable``
    and ``details``; the same object on the wire, in the bridge and in the client.

    ``BridgeError(code, **params)`` builds one of :data:`CATALOG` (the bridge's own
    failures; ``params`` fill the placeholders). :meth:`from_reply` reads one from an
    error reply, and :meth:`local` makes the client's own (connection_lost, timeout...).
    """

    code: str
    message: dict[str, str]
    retryable: bool
    details: dict[str, Any]
    params: dict[str, Any]

    def __init__(self, code: str, *, details: dict[str, Any] | None = None, **params: Any) -> None:
        spec = CATALOG.get(code)
        if spec is None:
            raise ValueError(f"unknown error code {code!r}")
        message = {"fr": _fill(spec.fr, params), "en": _fill(spec.en, params)}
        self._set(code, message, spec.retryable, details, params)

    def _set(
        self,
        code: str,
        message: dict[str, str],
        retryable: bool,
        details: dict[str, Any] | None,
        params: dict[str, Any],
    ) -> None:
        self.code = code
        self.message = message
        self.retryable = retryable
        self.details = details or {}
        self.params = params
        Exception.__init__(self, f"{code}: {message.get('en', '')}")

    @classmethod
    def local(
        cls,
        code: str,
        message: dict[str, str] | str,
        *,
        retryable: bool = False,
        details: dict[str, Any] | None = None,
    ) -> BridgeError:
        """An error with any code (not only the catalog's): a client's own, or one read
        from a reply. A plain string message serves for both languages."""
        if isinstance(message, str):
            message = {"fr": message, "en": message}
        err = cls.__new__(cls)
        err._set(code, dict(message), retryable, details, {})
        return err

    @classmethod
    def from_reply(cls, error: object) -> BridgeError:
        """The error object of a reply (``{"code", "message", "retryable", "details"?}``);
        a malformed one becomes ``bad_reply`` rather than failing further on."""
        if not isinstance(error, dict) or not isinstance(error.get("code"), str):
            return bad_reply(f"an error without a code: {error!r:.120}")
        code = error["code"]
        message = error.get("message")
        if isinstance(message, str):
            message = {"fr": message, "en": message}
        elif not isinstance(message, dict):
            message = {"fr": code, "en": code}
        details = error.get("details")
        return cls.local(
            code,
            {str(k): str(v) for k, v in message.items()},
            retryable=bool(error.get("retryable", False)),
            details=details if isinstance(details, dict) else None,
        )

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "code": self.code,
            "message": self.message,
            "retryable": self.retryable,
        }
        if self.details:
            out["details"] = self.details
        return out


def bad_reply(detail: str) -> BridgeError:
    """A frame from the bridge that breaks the protocol (a malformed event, result or
    error): the client's own error, naming what was wrong."""
    return BridgeError.local(
        "bad_reply",
        {
            "fr": f"Réponse illisible de la borne ({detail}). Vérifiez que pvp-bridge et pvp "
            "sont de la même version.",
            "en": f"Unreadable reply from the kiosk ({detail}). Check that pvp-bridge and pvp "
            "are the same version.",
        },
    )


class _Default(dict[str, Any]):
    def __missing__(self, key: str) -> str:
        return "?"


def _fill(template: str, params: dict[str, Any]) -> str:
    return template.format_map(_Default(params))
