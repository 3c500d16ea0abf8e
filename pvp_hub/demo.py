"""The embedded demo region: what `pvp-hub serve` offers with nothing configured.

Its partners are the staff app's demo partners (pvp_tui.core's demo site), so a demo
site and a demo hub agree on ids, prefixes and hours.
"""

from __future__ import annotations

from sqlalchemy import Engine, select

from pvp_tui.core.config import load_config

from . import directory
from .schema import regions

DEMO_REGION = "demo"


def ensure_demo_region(engine: Engine) -> bool:
    """Create the demo region, its site and partners when the database has no region;
    True when it did."""
    with engine.connect() as conn:
        if conn.execute(select(regions.c.id).limit(1)).first() is not None:
            return False
    site = load_config(None)
    directory.create_region(engine, DEMO_REGION, "Région de démonstration")
    directory.create_site(engine, DEMO_REGION, site.site.id, site.site.name, site.site.timezone.key)
    directory.save_partners(engine, DEMO_REGION, list(site.partners))
    return True
