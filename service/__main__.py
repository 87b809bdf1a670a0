"""`python -m service`: run the scoring service (see service.launcher)."""

from service.launcher import main

raise SystemExit(main())
