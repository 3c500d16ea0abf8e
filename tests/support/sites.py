"""Site configs for the core and CLI tests."""

from __future__ import annotations

ALL_WEEK = '{ mon = ["00:00-24:00"], tue = ["00:00-24:00"], wed = ["00:00-24:00"], \
thu = ["00:00-24:00"], fri = ["00:00-24:00"], sat = ["00:00-24:00"], sun = ["00:00-24:00"] }'

# The three partners open all week that the tests' sites (and the week soak's) share.
ALL_WEEK_PARTNERS = f"""
[[partners]]
id = "caf"
name = "CAF"
prefix = "C"
interview_minutes = 20
hours = {ALL_WEEK}

[[partners]]
id = "cpam"
name = "Assurance Maladie"
prefix = "A"
interview_minutes = 30
hours = {ALL_WEEK}

[[partners]]
id = "france-travail"
name = "France Travail"
prefix = "T"
interview_minutes = 15
hours = {ALL_WEEK}
"""

# Three partners open all week (tests do not depend on today's date) and one that is
# open on Monday mornings only.
OPEN_SITE = f"""
[site]
id = "test-site"
name = "Relais de test"
timezone = "Europe/Paris"
kiosk_count = 1
min_history = 3

{ALL_WEEK_PARTNERS}
[[partners]]
id = "msa"
name = "MSA"
prefix = "M"
interview_minutes = 25
hours = {{ mon = ["09:00-12:00"] }}
"""
