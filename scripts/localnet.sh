#!/usr/bin/env bash
# The README's main command: a local consortium of 4 bank validators and 1 partner observer, each a
# separate ledgerd process on loopback, and a short settlement scenario run through the RPC with
# ledgerctl. Leaves the network running.
#
#   bash scripts/localnet.sh          install deps, build (Release), start a fresh network, run the scenario
#   bash scripts/localnet.sh stop     stop the processes of .localnet/
#   bash scripts/localnet.sh status   heights of every node
#
# Environment: LEDGER_BUILD_DIR (default build), LOCALNET_SKIP_DEPS=1 to skip scripts/install-deps.sh,
# LOCALNET_SKIP_BUILD=1 to use binaries already built.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
NET="$ROOT/.localnet"
BUILD="${LEDGER_BUILD_DIR:-$ROOT/build}"
CTL="$BUILD/tools/ledgerctl"
LEDGERD="$BUILD/node/ledgerd"
START_TIMEOUT_S=60
WAIT_TIMEOUT_S=30

die() { echo "localnet: $*" >&2; exit 1; }

# json_get KEY.PATH < json: prints the value ("" when missing).
json_get() {
  python3 -c '
import json, sys
v = json.load(sys.stdin)
for k in sys.argv[1].split("."):
    if isinstance(v, list): v = v[int(k)]
    elif isinstance(v, dict): v = v.get(k, "")
    else: v = ""
print(v if not isinstance(v, (dict, list)) else json.dumps(v))' "$1"
}

# members FIELD...: one line per member of localnet.json with the fields, tab-separated.
members() {
  python3 - "$NET/localnet.json" "$@" <<'PY'
import json, os, sys
net = json.load(open(sys.argv[1]))
for m in net["members"]:
    m["slug"] = os.path.basename(m["home"])
    print("\t".join(str(m[f]) for f in sys.argv[2:]))
PY
}

stop_net() {
  local stopped=0
  for pidfile in "$NET"/*.pid; do
    [[ -e "$pidfile" ]] || continue
    local pid
    pid="$(cat "$pidfile")"
    if kill -0 "$pid" 2>/dev/null; then
      kill -TERM "$pid" 2>/dev/null || true
      stopped=$((stopped + 1))
    fi
  done
  for pidfile in "$NET"/*.pid; do
    [[ -e "$pidfile" ]] || continue
    local pid
    pid="$(cat "$pidfile")"
    for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    if kill -0 "$pid" 2>/dev/null; then kill -KILL "$pid" 2>/dev/null || true; fi
    rm -f "$pidfile"
  done
  echo "localnet: stopped $stopped node(s)"
}

status_net() {
  [[ -f "$NET/localnet.json" ]] || die "no network in $NET (run: bash scripts/localnet.sh)"
  while IFS=$'\t' read -r slug role rpc; do
    local out height="down" running="stopped"
    if [[ -f "$NET/$slug.pid" ]] && kill -0 "$(cat "$NET/$slug.pid")" 2>/dev/null; then running="running"; fi
    if out="$("$CTL" status --rpc "$rpc" 2>/dev/null)"; then height="$(json_get height <<<"$out")"; fi
    printf '  %-12s %-9s %-8s %-26s height %s\n' "$slug" "$role" "$running" "$rpc" "$height"
  done < <(members slug role rpc)
}

case "${1:-start}" in
  stop) stop_net; exit 0 ;;
  status) status_net; exit 0 ;;
  start) ;;
  *) die "usage: scripts/localnet.sh [start|stop|status]" ;;
esac

# ---- install, build -------------------------------------------------------------------------------
cd "$ROOT"
if [[ "${LOCALNET_SKIP_DEPS:-0}" != 1 ]]; then bash scripts/install-deps.sh; fi
if [[ "${LOCALNET_SKIP_BUILD:-0}" != 1 ]]; then
  echo "localnet: building ledgerd and ledgerctl (Release) in $BUILD"
  cmake -S . -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
  cmake --build "$BUILD" -j "$(nproc)" --target ledgerd ledgerctl >/dev/null
fi
[[ -x "$CTL" && -x "$LEDGERD" ]] || die "missing $CTL or $LEDGERD"

# ---- a fresh consortium ---------------------------------------------------------------------------
# start_net: a fresh consortium, started and committing. Returns 1 when a node exits early (for
# example a port chosen by `localnet init` was taken by another process before the node bound it).
start_net() {
  if [[ -d "$NET" ]]; then stop_net; rm -rf "$NET"; fi
  "$CTL" localnet init --validators 4 --observers 1 --dir "$NET" >/dev/null
  echo "localnet: consortium written to $NET"
  while IFS=$'\t' read -r slug; do
    # Own session: the nodes outlive this script, its terminal and its process group.
    setsid nohup "$LEDGERD" --home "$NET/$slug" >"$NET/$slug.log" 2>&1 &
    echo $! >"$NET/$slug.pid"
  done < <(members slug)

  mapfile -t VALIDATOR_RPCS < <(members role rpc | awk -F'\t' '$1 == "validator" {print $2}')
  OBSERVER_RPC="$(members role rpc | awk -F'\t' '$1 == "observer" {print $2; exit}')"
  RPC="${VALIDATOR_RPCS[0]}"

  echo -n "localnet: waiting for the validators to commit blocks"
  local deadline=$((SECONDS + START_TIMEOUT_S)) ready rpc out pidfile
  while :; do
    for pidfile in "$NET"/*.pid; do
      if ! kill -0 "$(cat "$pidfile")" 2>/dev/null; then
        echo
        echo "localnet: $(basename "$pidfile" .pid) exited: $(tail -n 1 "${pidfile%.pid}.log")" >&2
        return 1
      fi
    done
    ready=0
    for rpc in "${VALIDATOR_RPCS[@]}"; do
      if out="$("$CTL" status --rpc "$rpc" 2>/dev/null)" && (($(json_get height <<<"$out") >= 2)); then
        ready=$((ready + 1))
      fi
    done
    ((ready == ${#VALIDATOR_RPCS[@]})) && break
    if ((SECONDS > deadline)); then
      echo
      tail -n 5 "$NET"/*.log >&2
      die "validators did not commit within ${START_TIMEOUT_S} s (logs: $NET/*.log)"
    fi
    echo -n "."
    sleep 0.5
  done
  echo " ok"
}

for attempt in 1 2 3; do
  if start_net; then break; fi
  ((attempt < 3)) || die "could not start the network (logs: $NET/*.log)"
  echo "localnet: retrying with fresh ports"
done
echo
status_net
echo

# ---- the settlement scenario ----------------------------------------------------------------------
gov() { python3 -c 'import json,sys; print([m for m in json.load(open(sys.argv[1]))["members"] if m["member_id"]==int(sys.argv[2])][0]["governance_secret"])' "$NET/governance-keys.json" "$1"; }
GOV1="$(gov 1)"; GOV2="$(gov 2)"; GOV3="$(gov 3)"
GOV3_PUB="$("$CTL" pubkey --secret "$GOV3" | json_get public_key)"
new_key() { local out; out="$("$CTL" keygen)"; json_get secret_key <<<"$out"; json_get public_key <<<"$out"; }
{ read -r ALICE_SECRET; read -r ALICE_PUB; } < <(new_key)
{ read -r BOB_SECRET; read -r BOB_PUB; } < <(new_key)

ALICE_USD=a11ce000000000000000000000000001   # Alice at Bank 1, USD.1
ALICE_CNY=a11ce000000000000000000000000002   # Alice at Bank 1, CNY
BOB_USD=b0b00000000000000000000000000001     # Bob at Bank 2, USD.1
BOB_CNY=b0b00000000000000000000000000002     # Bob at Bank 2, CNY
ISSUER_USD1=ff000000000000000000000000000001 # Bank 1's issuer account (genesis)
ISSUER_CNY=ff00000000000000000000000000c003  # CNY issuer account, created with the asset

# step TITLE RPC ARGS...: builds, signs, submits and waits; prints the finality time.
step() {
  local title="$1" rpc="$2"
  shift 2
  local out err
  if ! out="$("$CTL" "$@" --rpc "$rpc" --submit --wait --wait-timeout-s "$WAIT_TIMEOUT_S" 2>/tmp/localnet_step_err.$$)"; then
    err="$(cat /tmp/localnet_step_err.$$)"; rm -f /tmp/localnet_step_err.$$
    echo "$out" >&2
    die "step failed: $title: $err"
  fi
  rm -f /tmp/localnet_step_err.$$
  printf '  %-72s height %4s  final in %4s ms\n' "$title" "$(json_get height <<<"$out")" \
    "$(json_get finality_ms <<<"$out")"
  LAST_HEIGHT="$(json_get height <<<"$out")"
}

PREIMAGE="$(od -An -tx1 -N32 /dev/urandom | tr -d ' \n')"

echo "Settlement scenario (JSON-RPC via ledgerctl; each step submitted, then polled until final):"
step "open wallet: Alice at Bank 1 (USD.1)" "${VALIDATOR_RPCS[0]}" \
  tx create-account --id "$ALICE_USD" --asset USD.1 --custodian 1 --controller-key "$ALICE_PUB" \
  --debits-must-not-exceed-credits --secret "$GOV1"
step "open wallet: Bob at Bank 2 (USD.1)" "${VALIDATOR_RPCS[1]}" \
  tx create-account --id "$BOB_USD" --asset USD.1 --custodian 2 --controller-key "$BOB_PUB" \
  --debits-must-not-exceed-credits --secret "$GOV2"
step "deposit: Bank 1 issues 1,000.00 USD.1 to Alice" "${VALIDATOR_RPCS[0]}" \
  tx transfer --debit "$ISSUER_USD1" --credit "$ALICE_USD" --amount 100000 --purpose CASH \
  --memo "deposit" --secret "$GOV1"
step "cross-bank payment: Alice (Bank 1) pays Bob (Bank 2) 250.00 USD.1" "${VALIDATOR_RPCS[2]}" \
  tx transfer --debit "$ALICE_USD" --credit "$BOB_USD" --amount 25000 --purpose SUPP \
  --uetr "$(python3 -c 'import uuid; print(uuid.uuid4())')" --end-to-end-id INV-2026-001 \
  --secret "$ALICE_SECRET"
step "create asset CNY (issuer Bank 3), governance quorum of 3 banks" "${VALIDATOR_RPCS[3]}" \
  tx create-asset --code CNY --scale 2 --issuer 3 --issuer-account "$ISSUER_CNY" \
  --issuer-key "$GOV3_PUB" --secret "$GOV1" --secret "$GOV2" --secret "$GOV3"
step "open CNY wallets: Alice (Bank 1), Bob (Bank 2), one transaction" "${VALIDATOR_RPCS[0]}" \
  tx build --file <(cat <<JSON
{"linked": false, "legs": [
  {"op": "create-account", "id": "$ALICE_CNY", "asset": "CNY", "custodian": 1, "controller": "$ALICE_PUB"},
  {"op": "create-account", "id": "$BOB_CNY", "asset": "CNY", "custodian": 2, "controller": "$BOB_PUB"}]}
JSON
) --secret "$GOV1" --secret "$GOV2"
step "deposit: Bank 3 issues 10,000.00 CNY to Bob" "${VALIDATOR_RPCS[1]}" \
  tx transfer --debit "$ISSUER_CNY" --credit "$BOB_CNY" --amount 1000000 --secret "$GOV3"
step "cross-border PvP: Alice 100.00 USD.1 <-> Bob 720.00 CNY (2 linked legs)" "${VALIDATOR_RPCS[2]}" \
  tx build --file <(cat <<JSON
{"legs": [
  {"op": "transfer", "debit": "$ALICE_USD", "credit": "$BOB_USD", "amount": "10000", "purpose": "FXSE"},
  {"op": "transfer", "debit": "$BOB_CNY", "credit": "$ALICE_CNY", "amount": "72000", "purpose": "FXSE"}]}
JSON
) --secret "$ALICE_SECRET" --secret "$BOB_SECRET"
HOLD_ID=c0ffee00000000000000000000000001
step "hold: Alice locks 50.00 USD.1 for Bob under a SHA-256 hash-lock (600 s)" "${VALIDATOR_RPCS[3]}" \
  tx transfer --id "$HOLD_ID" --debit "$ALICE_USD" --credit "$BOB_USD" --amount 5000 \
  --timeout-s 600 --preimage "$PREIMAGE" --secret "$ALICE_SECRET"
step "release: Bob posts the hold with the preimage" "${VALIDATOR_RPCS[0]}" \
  tx post --pending-id "$HOLD_ID" --preimage "$PREIMAGE" --secret "$BOB_SECRET"
echo

# ---- final balances -------------------------------------------------------------------------------
READ_RPC="${VALIDATOR_RPCS[0]}"
READ_FROM="validator bank-1 (the observer is not in sync)"
if [[ -n "$OBSERVER_RPC" ]]; then
  for _ in $(seq 1 20); do
    if out="$("$CTL" status --rpc "$OBSERVER_RPC" 2>/dev/null)" &&
      (($(json_get height <<<"$out") >= LAST_HEIGHT)); then
      READ_RPC="$OBSERVER_RPC"
      READ_FROM="the partner observer (height $(json_get height <<<"$out"), verified every certificate)"
      break
    fi
    sleep 0.25
  done
fi
echo "Final balances, read from $READ_FROM at $READ_RPC:"
balance() {
  local out
  out="$("$CTL" account "$2" --rpc "$READ_RPC")" || die "cannot read account $2"
  local minor asset
  minor="$(json_get balance <<<"$out")"
  asset="$(json_get asset <<<"$out")"
  printf '  %-34s %-6s %14s  (%s minor units, pending debits %s)\n' "$1" "$asset" \
    "$(python3 -c 'import sys; v=int(sys.argv[1]); print(("-" if v<0 else "")+f"{abs(v)//100:,}.{abs(v)%100:02d}")' "$minor")" \
    "$minor" "$(json_get debits_pending <<<"$out")"
}
balance "Alice @ Bank 1" "$ALICE_USD"
balance "Alice @ Bank 1" "$ALICE_CNY"
balance "Bob @ Bank 2" "$BOB_USD"
balance "Bob @ Bank 2" "$BOB_CNY"
balance "Bank 1 issuer (minus the supply)" "$ISSUER_USD1"
balance "Bank 3 issuer (minus the supply)" "$ISSUER_CNY"
echo
echo "The network keeps running (logs: $NET/<member>.log, pids: $NET/<member>.pid)."
echo "  status:  bash scripts/localnet.sh status"
echo "  stop:    bash scripts/localnet.sh stop"
echo "  client:  $CTL status --rpc $RPC"
echo "           $CTL account $ALICE_USD --rpc $READ_RPC"
echo "           (every ledgerctl command takes --rpc URL; docs/cli.md lists them; the members'"
echo "            RPC addresses are in $NET/localnet.json, development governance keys in"
echo "            $NET/governance-keys.json)"
