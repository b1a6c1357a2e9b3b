# Helpers sourced by the testenv scripts (which define `log`).

# pid_alive FILE NAME: the PID in FILE is a live process whose command is NAME.
pid_alive() {
  local pid
  [ -s "$1" ] || return 1
  pid="$(cat "$1")"
  [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null || return 1
  tr '\0' ' ' < "/proc/$pid/cmdline" 2>/dev/null | grep -q -- "$2"
}

# stop_pidfile FILE NAME: TERM the process, KILL it if still alive after ~5 s.
stop_pidfile() {
  local pid
  [ -s "$1" ] || return 0
  pid="$(cat "$1")"
  kill -0 "$pid" 2>/dev/null || return 0
  # Do not signal an unrelated process that reused the PID.
  tr '\0' ' ' < "/proc/$pid/cmdline" 2>/dev/null | grep -q -- "$2" || return 0
  log "stopping $2 (pid $pid)"
  kill -TERM "$pid" 2>/dev/null || true
  for _ in $(seq 1 50); do
    kill -0 "$pid" 2>/dev/null || return 0
    sleep 0.1
  done
  log "$2 (pid $pid) did not exit after TERM; sending KILL"
  kill -KILL "$pid" 2>/dev/null || true
  for _ in $(seq 1 20); do kill -0 "$pid" 2>/dev/null || return 0; sleep 0.1; done
}

