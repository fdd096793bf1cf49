"""Gunicorn settings for the staff side (responder), behind nginx on the same host.

Started by deploy/systemd/minyi-responder.service as
``gunicorn -c deploy/gunicorn/responder.conf.py 'responder:create_app()'``.
The settings are deploy/gunicorn/base.py's, the same for both services but for these two.
"""

import os
import runpy

SERVICE = "responder"
PORT = 8001

_base = runpy.run_path(os.path.join(os.path.dirname(__file__), "base.py"))
globals().update(_base["settings"](SERVICE, PORT))
