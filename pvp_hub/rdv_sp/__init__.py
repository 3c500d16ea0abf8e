"""RDV Service Public (betagouv/rdv-service-public): the state's booking tool, where
partners' agents book a site's video appointments.

- `payload`: a webhook delivery or an API v1 appointment read into the few facts a site
  needs (time, partner's motive, place, the name to call the visitor by, a phone, the
  visio room); every other field of the payload is never read, let alone kept.
- `signature`: the `X-Lapin-Signature` check, on the raw body, in constant time.
- `mapping`: one organisation's places and motives mapped to the region's sites and
  partners, checked on load with one line per mistake.
- `api`: the API v1 client that catches up (sign in as an agent, list by date range).

docs/rdv-service-public.md has the sender's formats and behaviour these follow.
"""
