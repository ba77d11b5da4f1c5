#!/bin/bash
# kill -9 storm: ROUNDS times, start the gateway on the same store, drive open-loop load (20 % streams) and kill -9
# it mid-load; then one clean restart (journal replay) and stop: acknowledged exchanges missing from the store
# (must be 0) and duplicates (must be 0). Run from the project root: bash bench/fault_kill_storm.sh [ROUNDS] [RATE]
set -u
H=${FAULTS:-../shared/probes/faults}; [ -f "$H/load.py" ] || { echo "no fault harness at $H"; exit 2; }
ROUNDS=${1:-8}; RATE=${2:-200}
PY=$PWD/.venv/bin/python; T=$(mktemp -d); DG=$T/dg
printf '#!/bin/bash\nexec %s -c "from distillguard.cli import main; main()" "$@"\n' "$PY" >"$DG"; chmod +x "$DG"
free() { python3 -c "import socket; s=socket.socket(); s.bind(('127.0.0.1',0)); print(s.getsockname()[1])"; }
UP=$(free); GW=$(free); PIDS=""
trap 'for p in $PIDS; do kill -9 $p 2>/dev/null; done; rm -rf "$T"' EXIT
$PY "$H/upstream.py" "$UP" >"$T/up.log" 2>&1 & PIDS="$PIDS $!"
for i in $(seq 1 10); do "$DG" keys create --account acct-$i --db "$T/gw.duckdb" >>"$T/keys.txt"; done
start() { "$DG" serve --upstream "http://127.0.0.1:$UP/v1" --db "$T/gw.duckdb" --port "$GW" --policy "$H/high.toml" \
  >>"$T/serve.log" 2>&1 & G=$!; PIDS="$PIDS $G"
  for i in $(seq 1 300); do curl -s -o /dev/null "http://127.0.0.1:$GW/healthz" && return 0; sleep 0.1; done; return 1; }
files=""
for r in $(seq 1 "$ROUNDS"); do
  start || { echo "gateway did not start in round $r"; tail -3 "$T/serve.log"; exit 1; }
  $PY "$H/load.py" "http://127.0.0.1:$GW" "$T/keys.txt" "$RATE" 3 "$T/r$r.json" --stream-share 0.2 --kill "$G" \
    --kill-at 1.5 >"$T/r$r.out"
  wait $G 2>/dev/null; files="$files $T/r$r.json"
done
start || { echo "gateway did not restart after the storm"; tail -3 "$T/serve.log"; exit 1; }
kill -TERM $G; wait $G 2>/dev/null
$PY "$H/check_store.py" "$T/gw.duckdb" $files >"$T/check.json"
$PY - "$T/check.json" <<'PY'
import json, sys
c = json.load(open(sys.argv[1]))
runs = [v for k, v in c.items() if k.endswith(".json")]
print(f"kill -9 storm: {len(runs)} kills, {sum(r['acked'] for r in runs)} acknowledged, "
      f"{sum(r['missing'] for r in runs)} lost, {c['dup_request_ids']} duplicate request ids")
PY
