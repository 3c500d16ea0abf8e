"""One RDV Service Public organisation mapped to the region: its places (`lieu`) to sites,
its motives (or whole services) to partners. The region's admin writes it as TOML:

```toml
organisation = 309          # the organisation's id in RDV Service Public

[lieux]                     # place id → the site's id (its config's [site] id)
97 = "leyme"
98 = "gramat"

[motifs]                    # motive id → partner (checked first)
157 = "caf"

[services]                  # service id → partner (every motive of the service)
407 = "cpam"
```

Every mistake is one line naming its key (`lieux.97: no site 'leymee' in this region`),
all at once, before anything is stored. An appointment whose place or motive maps to
nothing is not dropped: the hub keeps it aside and the region's view counts it.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from typing import Any

from pvp_common.checks import Checker, parse_toml

from .payload import Appointment

_KEYS = ("organisation", "lieux", "motifs", "services")


@dataclass(frozen=True)
class OrganisationMap:
    organisation_id: int
    lieux: dict[int, str] = field(default_factory=dict)
    motifs: dict[int, str] = field(default_factory=dict)
    services: dict[int, str] = field(default_factory=dict)

    def site_for(self, appointment: Appointment) -> str | None:
        if appointment.lieu_id is None:
            return None
        return self.lieux.get(appointment.lieu_id)

    def partner_for(self, appointment: Appointment) -> str | None:
        partner = self.motifs.get(appointment.motif_id)
        if partner is None and appointment.service_id is not None:
            partner = self.services.get(appointment.service_id)
        return partner

    def as_toml(self) -> str:
        """The same mapping written back (what `rdv-sp show` prints)."""
        lines = [f"organisation = {self.organisation_id}"]
        for name in ("lieux", "motifs", "services"):
            table: dict[int, str] = getattr(self, name)
            if table:
                lines += ["", f"[{name}]"]
                lines += [f'{key} = "{value}"' for key, value in sorted(table.items())]
        return "\n".join(lines) + "\n"


def _id(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise ValueError(f"must be the organisation's id, a whole number (got {value!r})")
    return value


def _table(
    checker: Checker, name: str, value: Any, known: Collection[str], what: str
) -> dict[int, str]:
    table = checker.table(value, name)
    if table is None:
        return {}
    out: dict[int, str] = {}
    for key, target in table.items():
        place = f"{name}.{key}"
        if not key.isdigit() or int(key) <= 0:
            checker.add(place, f"must be an id of RDV Service Public, a whole number (got {key!r})")
            continue
        if not isinstance(target, str) or not target:
            checker.add(place, f"must be a {what}'s id in quotes (got {target!r})")
            continue
        if target not in known:
            choices = ", ".join(sorted(known)) or "none yet"
            checker.add(place, f"no {what} {target!r} in this region (known: {choices})")
            continue
        out[int(key)] = target
    return out


def read_mapping(
    text: str, source: str, *, sites: Collection[str], partners: Collection[str]
) -> OrganisationMap:
    """The mapping in `text`, checked against the region's site and partner ids; raises
    pvp_common.checks.ConfigError with every mistake."""
    document: Mapping[str, Any] = parse_toml(text, source)
    checker = Checker()
    checker.unknown_keys("", document, _KEYS)
    organisation = (
        checker.check("organisation", document.get("organisation"), _id, default=0)
        if "organisation" in document
        else None
    )
    if organisation is None:
        checker.add("organisation", "is required (the organisation's id in RDV Service Public)")
    lieux = _table(checker, "lieux", document.get("lieux"), sites, "site")
    motifs = _table(checker, "motifs", document.get("motifs"), partners, "partner")
    services = _table(checker, "services", document.get("services"), partners, "partner")
    if not lieux and "lieux" not in document:
        checker.add("lieux", "is required: at least one place mapped to a site")
    if not motifs and not services and "motifs" not in document and "services" not in document:
        checker.add("motifs", "is required (or services): at least one mapped to a partner")
    checker.raise_problems(source)
    return OrganisationMap(
        organisation_id=organisation or 0, lieux=lieux, motifs=motifs, services=services
    )
