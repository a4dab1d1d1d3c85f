#!/bin/sh
# HomeIQ trainer add-on: the add-on's options become the daemon's HOMEIQ_*
# settings (docs/trainer-daemon.md), then `homeiq-trainer run` keeps the schedule.
# `run.sh --once` runs one pass now and exits.
set -eu

OPTIONS=${HOMEIQ_OPTIONS:-/data/options.json}
DATA=${HOMEIQ_DATA:-/data}

option() {
  python3 -c '
import json, sys
value = json.load(open(sys.argv[1])).get(sys.argv[2], "")
print(str(value).lower() if isinstance(value, bool) else value)
' "$OPTIONS" "$1"
}

HOMEIQ_URL="$(option url)"
HOMEIQ_TOKEN="$(option token)"
HOMEIQ_SCHEDULE="$(option schedule)"
HOMEIQ_SYNTHETIC_HOMES="$(option synthetic_homes)"
HOMEIQ_SYNTHETIC_DAYS="$(option synthetic_days)"
HOMEIQ_JOBS="$(option jobs)"
HOMEIQ_PUSH="$(option push)"
HOMEIQ_STATE_DIR="$DATA"
export HOMEIQ_URL HOMEIQ_TOKEN HOMEIQ_SCHEDULE HOMEIQ_SYNTHETIC_HOMES \
  HOMEIQ_SYNTHETIC_DAYS HOMEIQ_JOBS HOMEIQ_PUSH HOMEIQ_STATE_DIR

if [ -z "$HOMEIQ_TOKEN" ]; then
  echo "homeiq-trainer: set the add-on's token option to a long-lived access token of an admin user" >&2
  exit 1
fi

if [ "${1:-}" = "--once" ]; then
  exec homeiq-trainer run --once
fi
exec homeiq-trainer run
