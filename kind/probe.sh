#!/bin/sh
# Tries each target given as an argument, from inside a pod of the laptop cluster (kind/cluster.py
# runs it with the chart's curl image), and prints one line for each:
#   check <target> connected=<0|1> exit=<curl exit code> http=<status> metrics=<yes|no>
# A target is http://<service>:<port>/metrics (connected, answered, and Prometheus text?) or
# tcp://<service>:<port> (connected?). Whether a TCP connection was made is curl's time_connect,
# which stays 0 when none was. A target that does not connect is tried four times, so a denial
# holds on every attempt, and an allowed connection from a pod seconds old may race its policies.
for target in "$@"; do
  attempt=0 connected=0 status=0 meta=
  while [ "$attempt" -lt 4 ] && [ "$connected" = 0 ]; do
    [ "$attempt" = 0 ] || sleep 1
    attempt=$((attempt + 1))
    body=
    case "$target" in
      tcp://*)
        meta=$(curl --silent --output /dev/null --connect-timeout 2 --max-time 3 \
          --write-out '%{time_connect} %{http_code}' "telnet://${target#tcp://}" </dev/null)
        status=$?
        ;;
      *)
        reply=$(curl --silent --connect-timeout 2 --max-time 5 \
          --write-out '\n%{time_connect} %{http_code}' "$target")
        status=$?
        body=$(printf '%s\n' "$reply" | sed '$d')
        meta=$(printf '%s\n' "$reply" | tail -n 1)
        ;;
    esac
    [ -z "$(printf '%s' "${meta%% *}" | tr -cd '1-9')" ] || connected=1
  done
  case "$body" in
    *"# TYPE "*) metrics=yes ;;
    *) metrics=no ;;
  esac
  echo "check $target connected=$connected exit=$status http=${meta##* } metrics=$metrics"
done
