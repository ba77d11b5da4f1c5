#!/bin/bash
# Disk full under load (needs root to mount a tmpfs): the gateway's store and journal on a small tmpfs, open-loop
# load with large prompts until it fills, then space freed (remount bigger) and a restart: how many acknowledged
# exchanges are missing from the store (must be 0), and what the clients saw.
# Run from the project root: bash bench/fault_disk_full.sh [SIZE_MB] [RATE] [SECONDS] [PROMPT_BYTES]
set -u
H=${FAULTS:-../shared/probes/faults}; [ -f "$H/load.py" ] || { echo "no fault harness at $H"; exit 2; }
SIZE=${1:-12}; RATE=${2:-100}; SECS=${3:-8}; PB=${4:-20000}
PY=$PWD/.venv/bin/python
T=$(mktemp -d); M=$T/disk; mkdir -p "$M"; DG=$T/dg
printf '#!/bin/bash\nexec %s -c "from distillguard.cli import main; main()" "$@"\n' "$PY" >"$DG"; chmod +x "$DG"
mount -t tmpfs -o size=${SIZE}m tmpfs "$M" || { echo "cannot mount a tmpfs (root needed)"; exit 2; }
free() { python3 -c "import socket; s=socket.socket(); s.bind(('127.0.0.1',0)); print(s.getsockname()[1])"; }
UP=$(free); GW=$(free); PIDS=""
trap 'for p in $PIDS; do kill -9 $p 2>/dev/null; done; sleep 1; umount "$M"; rm -rf "$T"' EXIT
$PY "$H/upstream.py" "$UP" >"$T/up.log" 2>&1 & PIDS="$PIDS $!"
for i in $(seq 1 10); do "$DG" keys create --account acct-$i --keys "$T/keys.json" >>"$T/keys.txt"; done
start() { "$DG" serve --upstream "http://127.0.0.1:$UP/v1" --db "$M/gw.duckdb" --keys "$T/keys.json" --port "$GW" \
  --policy "$H/high.toml" >>"$T/serve.log" 2>&1 & G=$!; PIDS="$PIDS $G"
  for i in $(seq 1 300); do curl -s -o /dev/null "http://127.0.0.1:$GW/healthz" && return 0; sleep 0.1; done; return 1; }
start || { echo "gateway did not start"; tail -3 "$T/serve.log"; exit 1; }
$PY "$H/load.py" "http://127.0.0.1:$GW" "$T/keys.txt" "$RATE" "$SECS" "$T/load.json" --stream-share 0.2 \
  --prompt-bytes "$PB" >"$T/load.out"
health=$(curl -s "http://127.0.0.1:$GW/healthz")
kill -TERM $G; wait $G 2>/dev/null
df -k "$M" | tail -1 | awk '{print "disk used " $3 " KiB of " $2}'
mount -o remount,size=$((SIZE * 20))m "$M"  # space freed
start || { echo "gateway did not restart after space was freed"; tail -3 "$T/serve.log"; exit 1; }
kill -TERM $G; wait $G 2>/dev/null
$PY "$H/check_store.py" "$M/gw.duckdb" "$T/load.json" > "$T/check.json"
$PY - "$T/load.out" "$T/check.json" "$health" <<'PY'
import json, sys
load, chk, h = json.loads(open(sys.argv[1]).read()), json.load(open(sys.argv[2])), json.loads(sys.argv[3] or "{}")
k = [v for kk, v in chk.items() if kk.endswith(".json")][0]
print(f"disk full: sent {load['sent']}, statuses {load['statuses']}, errors {load['errors']}; "
      f"acknowledged {k['acked']}, lost {k['missing']} (streams {k['missing_streams']}); "
      f"healthz at the end: ok={h.get('ok')} problems={h.get('problems')}")
PY
