#!/bin/bash
# The entry point of EMS containers under Swarm (deploy/swarm/stack.yaml): it prepares the
# environment, then runs its arguments. Nothing here is Swarm-only knowledge of a service.
#
# - Every secret mounted as /run/secrets/EMS_<NAME> (SECRETS_DIR) becomes the variable
#   EMS_<NAME>, so services read secrets like any other setting, and the stack file alone
#   decides which service gets which (its own database URL, its own broker login).
# - TASK_SLOT (the stack sets it to {{.Task.Slot}}, which counts from 1) becomes
#   EMS_INSTANCE (which counts from 0): replica 1 is instance 0, so N monitoring replicas
#   announce themselves to the balancer as 0 .. N-1, as under `ems up`, and a replaced task
#   is the same replica again.
# - WAIT_FOR="host:port ..." waits until each answers on TCP (WAIT_SECONDS, default 300),
#   so a service does not crash-loop while its database or the broker is still starting.
set -euo pipefail

for file in "${SECRETS_DIR:-/run/secrets}"/EMS_*; do
    [[ -f $file ]] || continue
    export "${file##*/}=$(<"$file")"
done

if [[ -n ${TASK_SLOT:-} ]]; then
    export EMS_INSTANCE=$((TASK_SLOT - 1))
fi

deadline=$((SECONDS + ${WAIT_SECONDS:-300}))
for address in ${WAIT_FOR:-}; do
    until timeout 2 bash -c "exec 3<>/dev/tcp/${address%:*}/${address##*:}" 2>/dev/null; do
        if ((SECONDS >= deadline)); then
            echo "ems-entrypoint: $address did not answer; starting anyway" >&2
            break
        fi
        sleep 1
    done
done

exec "$@"
