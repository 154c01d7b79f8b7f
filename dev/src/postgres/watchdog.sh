#!/bin/sh
# Runs beside every embedded postmaster, a child of the process that started it (the supervisor
# of `npm start`, a jest run): a shell loop (about 1 MiB resident, where a Node process idling
# took 76) that notices when its parent is gone, then hands over to watchdog.ts, which lets the
# owner's replicas drain, stops PostgreSQL and removes the owner's stack.json. Exits when the
# postmaster stops for any other reason.
#
# usage: watchdog.sh <postmaster pid> <command to run once the owner is gone…>
postmaster=$1
shift
owner=$PPID

# As root the postmaster runs as the postgres user, which root may signal; otherwise as this user.
while kill -0 "$postmaster" 2>/dev/null; do
  # The parent now, not $PPID (fixed at start): a dead owner's children are adopted by another.
  if [ -r "/proc/$$/stat" ]; then
    read -r _ _ _ parent _ <"/proc/$$/stat"
  else
    parent=$(ps -o ppid= -p $$)
  fi
  if [ "$parent" -ne "$owner" ]; then
    exec "$@" --owner "$owner"
  fi
  sleep 0.5
done
