#!/usr/bin/env bash
# Builds durable into build/ and runs the approval-gate example end to end on a fresh temporary
# database: `run` in the background, then `approve` from a second process. The README's first
# command. Arguments are passed on to `approval_gate run`.
set -euo pipefail
cd "$(dirname "$0")/.."

./scripts/build.sh

example=build/examples/approval_gate/approval_gate
if [[ ! -x $example ]]; then
  echo "run-example.sh: the approval_gate example is not built yet ($example is missing)" >&2
  exit 1
fi

# The whole story on a fresh database: `run` waits for a person's decision, and a second process
# (standing in for that person) approves it. Extra arguments go to `run`, e.g. --cool-down 5s.
task=${APPROVAL_GATE_TASK:-"Rename the --verbose flag to --log-level and update its callers"}
token_wait_seconds=60  # bounds the wait for the token and the wait to begin
workdir=$(mktemp -d "${TMPDIR:-/tmp}/approval_gate.XXXXXX")
db=$workdir/approval_gate.db
log=$workdir/run.log
run_pid=
tail_pid=
cleanup() {
  for pid in $run_pid $tail_pid; do
    kill "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
  rm -rf "$workdir"
}
trap cleanup EXIT

echo "== approval_gate run --db $db --task \"$task\" $*"
# Output goes to the log, which is where the token is read from, and from there to the terminal.
"$example" run --db "$db" --task "$task" "$@" >"$log" 2>&1 &
run_pid=$!
tail -n +1 -f --pid="$run_pid" "$log" &
tail_pid=$!

# Approving earlier would work too (a decision is kept until the workflow asks for it); waiting for
# the "waiting" line just keeps the story in order.
token=
for ((i = 0; i < token_wait_seconds * 10; i++)); do
  token=$(sed -n 's/^approval token: //p' "$log" | head -n 1)
  if [[ -n $token ]] && grep -q '^waiting for approval' "$log"; then
    break
  fi
  if ! kill -0 "$run_pid" 2>/dev/null; then
    break
  fi
  sleep 0.1
done
if [[ -z $token ]]; then
  echo "run-example.sh: approval_gate run printed no approval token within ${token_wait_seconds}s" >&2
  exit 1
fi

echo "== approval_gate approve --db $db $token --reason \"looks good\" (a second process)"
"$example" approve --db "$db" "$token" --reason "looks good"

status=0
wait "$run_pid" || status=$?
run_pid=
wait "$tail_pid" || true  # it ends once it has shown all of run's output, report included
tail_pid=
echo "== approval_gate run exited with status $status"
exit "$status"
