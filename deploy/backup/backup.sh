#!/usr/bin/env bash
# deploy/backup/backup.sh -- back up Minyi's database, keep the last KEEP_DAYS days.
#
#   runuser -u minyi -- /opt/minyi/deploy/backup/backup.sh [BACKUP_DIR]
#
# Reads DATABASE_URL and VAR_DIR from /etc/minyi/minyi.env (or MINYI_ENV_FILE), like the
# services. PostgreSQL: pg_dump in its custom format (-Fc: compressed, restored with
# pg_restore). SQLite: sqlite3's ".backup", the online backup API -- a consistent copy even
# while the services write (a plain cp of a live database file may be unusable).
# Outgoing mail, cases and attachments are all in the database; VAR_DIR holds nothing else
# that must be kept (the fetch-mail lock, mail files when MAIL_SERVER is unset).
#
# Run it daily, e.g. /etc/cron.d/minyi-backup:
#   30 2 * * * minyi /opt/minyi/deploy/backup/backup.sh /var/backups/minyi
# and copy BACKUP_DIR to another machine: a backup on the same disk is no backup.
#
# Restore: deploy/backup/restore.md, step by step. In short, with the services stopped
# (systemctl stop minyi.target):
#   PostgreSQL:  runuser -u postgres -- pg_restore --clean --if-exists --no-owner --role=minyi \
#                    -d minyi < minyi-YYYYmmdd-HHMMSS.dump
#   SQLite:      install -o minyi -g minyi -m 600 minyi-YYYYmmdd-HHMMSS.db /var/lib/minyi/minyi.db
#                rm -f /var/lib/minyi/minyi.db-wal /var/lib/minyi/minyi.db-shm
#                (the old database's -wal file would otherwise be replayed into the copy)
# then systemctl start minyi.target (minyi-migrate brings an older backup's schema up to date).
set -euo pipefail
umask 077  # backups hold personal data: readable by their owner only

BACKUP_DIR="${1:-${BACKUP_DIR:-/var/backups/minyi}}"
KEEP_DAYS="${KEEP_DAYS:-14}"
ENV_FILE="${MINYI_ENV_FILE:-/etc/minyi/minyi.env}"

# Settings from the environment file, without running it as a script: only the two lines
# needed, and a value already in the environment wins.
setting() {
  local name="$1" value
  value="${!name:-}"
  if [[ -z "$value" && -r "$ENV_FILE" ]]; then
    value="$(sed -n "s/^[[:space:]]*${name}=//p" "$ENV_FILE" | tail -n 1)"
    value="${value%\"}" value="${value#\"}"
  fi
  printf '%s' "$value"
}
DATABASE_URL="$(setting DATABASE_URL)"
VAR_DIR="$(setting VAR_DIR)"
VAR_DIR="${VAR_DIR:-/var/lib/minyi}"
DATABASE_URL="${DATABASE_URL:-sqlite:///$VAR_DIR/minyi.db}"

mkdir -p "$BACKUP_DIR"
stamp="$(date +%Y%m%d-%H%M%S)"

case "$DATABASE_URL" in
  postgresql*://* | postgres://*)
    # pg_dump does not know SQLAlchemy's "+psycopg" driver suffix.
    url="${DATABASE_URL/postgresql+psycopg:/postgresql:}"
    # The password goes to pg_dump in its environment (PGPASSWORD, readable only by this
    # user and root), not on its command line, which every user sees in "ps".
    authority="${url#*://}" authority="${authority%%[/?]*}"
    if [[ "$authority" == *@* ]]; then
      userinfo="${authority%@*}"
      if [[ "$userinfo" == *:* ]]; then
        password="${userinfo#*:}" password="${password//\\/\\\\}"
        # percent-encoded in the URL ("%40" for "@"): decoded as libpq would
        PGPASSWORD="$(printf '%b' "${password//%/\\x}")"
        export PGPASSWORD
        url="${url/"$userinfo@"/"${userinfo%%:*}@"}"
      fi
    fi
    target="$BACKUP_DIR/minyi-$stamp.dump"
    pg_dump --format=custom --file="$target.partial" "$url"
    ;;
  sqlite:///*)
    database="${DATABASE_URL#sqlite:///}"
    # A relative path is relative to the services' working directory.
    [[ "$database" = /* ]] || database="${MINYI_HOME:-/opt/minyi}/$database"
    target="$BACKUP_DIR/minyi-$stamp.db"
    sqlite3 "$database" ".backup '$target.partial'"
    ;;
  *)
    echo "backup.sh: cannot back up DATABASE_URL of this kind: ${DATABASE_URL%%:*}" >&2
    exit 2
    ;;
esac
mv "$target.partial" "$target"  # only a complete backup gets its final name
echo "backup written: $target ($(du -h "$target" | cut -f1))"

# Keep KEEP_DAYS days of backups (only files this script made).
# Never the backup just written, whatever the clock says of its age (a clock set wrong, or
# one that jumped, would otherwise delete it at once).
find "$BACKUP_DIR" -maxdepth 1 -type f \( -name 'minyi-*.dump' -o -name 'minyi-*.db' \) \
  ! -name "${target##*/}" -mtime +"$KEEP_DAYS" -print -delete
