"""``python -m training``: the training command line."""

import os
import sys

from training.cli import main

code = main()
if code in (130, 143):
    # A KeyboardInterrupt caught inside some imports (scikit-learn's, pandas') leaves CPython 3.11 set to end the
    # process by SIGINT whatever sys.exit() says (its _Py_UnhandledKeyboardInterrupt flag): the status must be 130.
    # Everything was recorded and cleaned up by the command; only the streams remain to flush.
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)
sys.exit(code)
