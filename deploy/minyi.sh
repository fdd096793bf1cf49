#!/usr/bin/env bash
# deploy/minyi.sh -- run a `minyi` command by hand exactly as the services run: as the minyi
# user, in /opt/minyi, with the settings of /etc/minyi/minyi.env. Run it as root:
#
#   /opt/minyi/deploy/minyi.sh user add admin --role admin      (asks for the password)
#   /opt/minyi/deploy/minyi.sh db upgrade
#   /opt/minyi/deploy/minyi.sh fetch-mail --once
#
# The file is read with python-dotenv (quotes are removed, as systemd does), not run by the
# shell, so passwords holding "$" or spaces arrive as written.
set -euo pipefail
MINYI_HOME="${MINYI_HOME:-/opt/minyi}"
MINYI_USER="${MINYI_USER:-minyi}"
ENV_FILE="${MINYI_ENV_FILE:-/etc/minyi/minyi.env}"

cd "$MINYI_HOME"
# shellcheck disable=SC2016 # the Python code is meant literally
exec runuser -u "$MINYI_USER" -- "$MINYI_HOME/.venv/bin/python" -c '
import os, sys
from dotenv import dotenv_values
values = dotenv_values(sys.argv[1], interpolate=False)
os.environ.update({name: value for name, value in values.items() if value is not None})
os.execv(sys.argv[2], sys.argv[2:])
' "$ENV_FILE" "$MINYI_HOME/.venv/bin/minyi" "$@"
