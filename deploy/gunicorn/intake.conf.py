"""Gunicorn settings for the public side (intake), behind nginx on the same host.

Started by deploy/systemd/minyi-intake.service as
``gunicorn -c deploy/gunicorn/intake.conf.py 'intake:create_app()'``.
The settings are deploy/gunicorn/base.py's, the same for both services but for these two.
"""

import os
import runpy

SERVICE = "intake"
PORT = 8000

_base = runpy.run_path(os.path.join(os.path.dirname(__file__), "base.py"))
globals().update(_base["settings"](SERVICE, PORT))
