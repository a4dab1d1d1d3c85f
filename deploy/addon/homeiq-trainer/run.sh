#!/bin/sh
# HomeIQ trainer add-on: every night at the configured time, convert the
# recorder's last days into a dataset, check it, and train.
# `run.sh --once` runs one pass now. When the trainer daemon lands (issue 11),
# the pass becomes `homeiq-trainer run --once`.
set -eu

OPTIONS=${HOMEIQ_OPTIONS:-/data/options.json}
HA_CONFIG=${HOMEIQ_HA_CONFIG:-/homeassistant}
DATA=${HOMEIQ_DATA:-/data}

option() {
  python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])' \
    "$OPTIONS" "$1"
}

nightly() {
  homeiq-trainer import-recorder --db "$HA_CONFIG/home-assistant_v2.db" --config-dir "$HA_CONFIG" --days "$(option days)" --out "$DATA/recorder" --overwrite --quiet
  homeiq-trainer validate "$DATA/recorder"
  homeiq-trainer train --homes "$(option synthetic_homes)" --work "$DATA/synthetic" --registry "$DATA/registry" --report "$DATA/reports" --jobs "$(option jobs)" --quiet
}

# Seconds from now until the next HH:MM, local time.
seconds_until() {
  python3 -c '
import datetime, sys
hour, minute = map(int, sys.argv[1].split(":"))
now = datetime.datetime.now()
then = now.replace(hour=hour, minute=minute, second=0, microsecond=0)
if then <= now:
    then += datetime.timedelta(days=1)
print(int((then - now).total_seconds()) + 1)
' "$1"
}

if [ "${1:-}" = "--once" ]; then
  nightly
  exit
fi
while true; do
  sleep "$(seconds_until "$(option schedule)")"
  nightly || echo "homeiq-trainer: the nightly pass failed; the next one is tomorrow" >&2
done
