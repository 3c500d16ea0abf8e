"""What a subcommand's `run(context, args)` gets: the site's config and its front desk,
opened by pvp_tui.cli from the global options."""

from __future__ import annotations

from dataclasses import dataclass

from ..core.config import Config
from ..core.frontdesk import FrontDesk


@dataclass
class Context:
    config: Config
    desk: FrontDesk
