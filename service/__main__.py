"""`python -m service`: run the scoring service (see service.launcher), or `python -m service batch ...` (see
service.batch.cli)."""

import sys

if sys.argv[1:2] == ["batch"]:
    from service.batch.cli import main as batch_main

    raise SystemExit(batch_main(sys.argv[2:]))

from service.launcher import main  # noqa: E402

raise SystemExit(main())
