"""The harness the test folders share (benchmarks and scripts/screens.py use it too).

- fixtures.py: the fixtures of more than one folder, a pytest plugin (tests/conftest.py)
- processes.py: free ports, waiting, stopping a process group
- bridge_daemons.py: cupsd, ippeveprinter (with dbus + avahi), SANE's test backend,
  pvp-bridge processes, certificates; bridge_client.py: a client's events, small documents
- hub_daemons.py: a private PostgreSQL cluster and pvp-hub processes
- farend.py: the local room and its aiortc agent (the far end of a kiosk's call)
- kiosk_app.py: the app with real kiosk links; documents_site.py: a site with one kiosk
- desk_morning.py: a fixed front-desk morning for the UI tests and snapshots
- sites.py, clocks.py: the core and CLI tests' site config and clock
- workers.py: store processes run by the concurrency and erasure tests (`python -m`)
- personal_data.py, upstream_sqlite.py, disks.py: erasure checks, SQLite built with
  `secure_delete = 0`, a small tmpfs for a full disk
- terminals.py (+ tmux.conf): a private tmux server and sshd for the end-to-end tests
"""
