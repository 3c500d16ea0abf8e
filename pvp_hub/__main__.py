from pvp_hub.cli import main

raise SystemExit(main())
