#!/bin/sh
# A steady load from inside the laptop cluster (kind/cluster.py runs it with the chart's curl
# image): asks <url> every <interval> seconds until SIGTERM, or <max seconds>, and prints each
# failed request (a status other than 200, no answer, or bird's disguise, which means bird could
# not get a photo from bird-image), then `load: sent=<n> failed=<n>`.
#   load.sh <url> <interval> <max seconds>
url=$1 interval=$2 max_seconds=$3
stop=0 sent=0 failed=0
trap 'stop=1' TERM INT
end=$(($(date +%s) + max_seconds))
echo "load: started"
while [ "$stop" = 0 ] && [ "$(date +%s)" -lt "$end" ]; do
  sent=$((sent + 1))
  reply=$(curl --silent --show-error --max-time 5 --write-out '\n%{http_code}' "$url" 2>&1)
  case "$(printf '%s\n' "$reply" | tail -n 1):$reply" in
    *'"name":"Bird in disguise"'*) ;;
    200:*)
      sleep "$interval"
      continue
      ;;
  esac
  failed=$((failed + 1))
  echo "load: failed: $(printf '%s' "$reply" | tr '\n' ' ' | cut -c 1-300)"
  sleep "$interval"
done
echo "load: sent=$sent failed=$failed"
