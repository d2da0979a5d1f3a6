#!/usr/bin/env bash
# Failure drills against a live Bird cluster: pod loss, load for the HPA, node drain, crash loop,
# and error-budget burns that the SLO alerts must catch.
# Safe by default: it shows what it would do and acts only after confirmation (or --yes);
# --dry-run never touches the cluster. Every drill says what to watch and how it is undone.
set -euo pipefail

readonly LABEL_PREFIX="failure-simulation.bird-stack.io"
readonly LOAD_POD="bird-load"

NAMESPACE="bird"
DRY_RUN=false
ASSUME_YES=false
DURATION=""
CONCURRENCY=20
SCENARIO=""
TARGET=""
WINDOW_DAYS=30

usage() {
  cat <<'EOF'
Usage: failure-simulation.sh [options] <scenario>

Scenarios:
  pod-kill     delete one bird-api pod; the Deployment replaces it, the PDB keeps one serving
  load         run a load pod against bird-frontend-service so the HPAs scale out
  node-drain   cordon and drain a node that runs bird-api; pods move, the NLB drops the node
  crash-loop   give bird-image-api a bad setting; the new pod crash-loops, old pods keep serving
  burn-photo-quality
               scale bird-image-api to zero under load: every bird is the bird in disguise, which
               burns the photo-quality error budget until its SLO alerts fire
  burn-availability
               scale bird-api to zero under load: the page and /api/bird answer 502, which burns
               the availability error budget until its SLO alerts fire
  cleanup      undo what the drills left: load pod, cordoned nodes, the crash-loop setting,
               scaled-down Deployments

Options:
  -n, --namespace NS   namespace of the bird-chart release (default: bird)
  -d, --duration SECS  how long the load runs (default: 300; 1800 for the burns)
  -c, --concurrency N  parallel request loops of the load pod (default: 20)
  -t, --target PCT     the burnt SLO's target in percent, to say when its alerts fire (default:
                       99.5 availability, 99 photo quality, as infrastructure/ and the chart)
  -w, --window-days N  the SLOs' window in days, likewise (default: 30)
      --dry-run        print the commands, run nothing (no cluster needed)
  -y, --yes            act without asking (for scripts); otherwise asks on a terminal
  -h, --help           this help

The current kubectl context is the target: check it with `kubectl config current-context`.
EOF
}

die() {
  echo "failure-simulation: $*" >&2
  exit 2
}

# Prints a command, then runs it unless this is a dry run.
run() {
  if "$DRY_RUN"; then
    printf '[dry-run] %s\n' "$*"
  else
    printf '+ %s\n' "$*"
    "$@"
  fi
}

note() {
  printf '\n%s\n' "$*"
}

confirm() {
  "$DRY_RUN" && return 0
  "$ASSUME_YES" && return 0
  if [[ ! -t 0 ]]; then
    die "refusing to act without --yes when not on a terminal (use --dry-run to preview)"
  fi
  local context answer
  context="$(kubectl config current-context)"
  read -r -p "Run '$SCENARIO' in namespace '$NAMESPACE' of context '$context'? [y/N] " answer
  [[ "$answer" == "y" || "$answer" == "Y" ]] || die "cancelled"
}

# Name of a Running pod of a Deployment (pods are <deployment>-<replicaset hash>-<suffix>).
pod_of() {
  local deployment=$1
  if "$DRY_RUN"; then
    echo "<a ${deployment} pod>"
    return
  fi
  kubectl get pods -n "$NAMESPACE" --field-selector=status.phase=Running \
    -o custom-columns=NAME:.metadata.name,NODE:.spec.nodeName --no-headers |
    awk -v d="$deployment" '$1 ~ "^" d "-[a-z0-9]+-[a-z0-9]+$" { print $1; exit }'
}

node_of() {
  local pod=$1
  if "$DRY_RUN"; then
    echo "<node of ${pod}>"
    return
  fi
  kubectl get pod -n "$NAMESPACE" "$pod" -o jsonpath='{.spec.nodeName}'
}

pod_kill() {
  note "Drill: lose a bird-api pod."
  confirm
  local pod
  pod="$(pod_of bird-api)"
  [[ -n "$pod" ]] || die "no running bird-api pod in namespace $NAMESPACE"
  run kubectl delete pod -n "$NAMESPACE" "$pod" --wait=false
  note "Watch: kubectl get pods -n $NAMESPACE -w   (a replacement is Ready within about 15 s;
       the PodDisruptionBudget does not apply to a plain delete, the second replica keeps serving)
       curl -s https://<app_url>/api/bird   (answers throughout)
Clean-up: none; the Deployment restores two replicas by itself."
}

# The load pod: CONCURRENCY request loops against bird-frontend-service/api/bird for DURATION s.
start_load() {
  # Restricted pod security: non-root, no privilege escalation, no capabilities, RuntimeDefault seccomp.
  local overrides
  overrides=$(
    cat <<EOF
{"spec":{"securityContext":{"runAsNonRoot":true,"runAsUser":65532,"runAsGroup":65532,"seccompProfile":{"type":"RuntimeDefault"}},
"containers":[{"name":"${LOAD_POD}","image":"busybox:1.37","command":["sh","-c","end=\$((\$(date +%s)+${DURATION})); for i in \$(seq ${CONCURRENCY}); do (while [ \$(date +%s) -lt \$end ]; do wget -q -O /dev/null http://bird-frontend-service/api/bird; done) & done; wait"],
"resources":{"requests":{"cpu":"100m","memory":"32Mi"},"limits":{"cpu":"500m","memory":"64Mi"}},
"securityContext":{"allowPrivilegeEscalation":false,"readOnlyRootFilesystem":true,"capabilities":{"drop":["ALL"]}}}]}}
EOF
  )
  overrides=${overrides//$'\n'/}
  run kubectl run "$LOAD_POD" -n "$NAMESPACE" --image=busybox:1.37 --restart=Never \
    --labels="${LABEL_PREFIX}/drill=${SCENARIO}" --overrides="$overrides"
}

load() {
  DURATION=${DURATION:-300}
  note "Drill: ${CONCURRENCY} request loops for ${DURATION} s against bird-frontend-service."
  confirm
  start_load
  note "Watch: kubectl get hpa -n $NAMESPACE -w   (bird-frontend-hpa and bird-api-hpa add a pod every 15 s
       while CPU is above 70 % of requests) and kubectl top pods -n $NAMESPACE
       Pending pods make the cluster autoscaler add nodes (kubectl get nodes -w), up to the group maximum.
       After the load: one pod removed every 3 minutes after a 5-minute window; spare nodes go after 10 minutes.
Clean-up: the pod stops after ${DURATION} s; '$0 cleanup' deletes it."
}

node_drain() {
  note "Drill: drain a node that runs bird-api."
  confirm
  local pod node
  pod="$(pod_of bird-api)"
  [[ -n "$pod" ]] || die "no running bird-api pod in namespace $NAMESPACE"
  node="$(node_of "$pod")"
  run kubectl label node "$node" "${LABEL_PREFIX}/drained=true" --overwrite
  run kubectl cordon "$node"
  run kubectl drain "$node" --ignore-daemonsets --delete-emptydir-data --timeout=300s
  note "Watch: kubectl get pods -n $NAMESPACE -o wide -w   (evictions respect the PodDisruptionBudgets:
       one pod of each Deployment stays available)
       aws elbv2 describe-target-health --target-group-arn <frontend_target_group_arn>   (traffic
       keeps flowing: the NodePort answers on every node, whatever node the pods run on)
Clean-up: '$0 cleanup' uncordons the node."
}

crash_loop() {
  note "Drill: roll out a bird-image-api that exits at start-up (invalid UNSPLASH_TIMEOUT_MS)."
  confirm
  run kubectl annotate deployment/bird-image-api -n "$NAMESPACE" "${LABEL_PREFIX}/crash-loop=true" --overwrite
  run kubectl set env deployment/bird-image-api -n "$NAMESPACE" UNSPLASH_TIMEOUT_MS=not-a-number
  note "Watch: kubectl get pods -n $NAMESPACE -w   (the new pod goes to CrashLoopBackOff; maxUnavailable 0
       keeps the old pods serving, so birds still come with photos)
       kubectl logs -n $NAMESPACE deployment/bird-image-api   (one line naming UNSPLASH_TIMEOUT_MS)
       The restarts alarm (<cluster>-bird-image-api-restarts) and the dashboard's restart chart;
       back-off spaces restarts out, so one crashing pod may stay at or under the threshold.
Clean-up: '$0 cleanup' rolls the Deployment back."
}

# Minutes of a total outage, after a healthy stretch, until a burn alert fires. Each of the SRE
# workbook's alerts fires once its share of the window's error budget is spent (2 % fast, 5 %
# slow), and a total outage spends (100 - target) % of the window's minutes of traffic: the
# long window's bad-event ratio passes its threshold in the minute after share x window x
# (100 - target) / 100 minutes, the short one sooner (tests/chart/test_chart_slo.py, "outage").
minutes_to_fire() {
  awk -v share="$1" -v target="$2" -v days="$WINDOW_DAYS" \
    'BEGIN { print int(share * days * 1440 * (100 - target) / 100) + 1 }'
}

# Scales a Deployment to zero under load so that an SLO burns, and says which alerts fire when.
burn() {
  local deployment=$1 slo=$2 alert=$3 default_target=$4 symptom=$5
  DURATION=${DURATION:-1800}
  local target=${TARGET:-$default_target} fast slow
  fast=$(minutes_to_fire 0.02 "$target")
  slow=$(minutes_to_fire 0.05 "$target")
  note "Drill: burn the ${slo} error budget: ${deployment} at zero replicas while ${CONCURRENCY} request loops
run for ${DURATION} s against bird-frontend-service. ${symptom}"
  confirm
  local replicas="<its replicas now>"
  if ! "$DRY_RUN"; then
    replicas="$(kubectl get "deployment/${deployment}" -n "$NAMESPACE" -o jsonpath='{.spec.replicas}')"
    [[ "$replicas" =~ ^[1-9][0-9]*$ ]] || die "deployment/${deployment} has '${replicas}' replicas: nothing to scale down"
  fi
  # Kept on the Deployment, so that cleanup restores it.
  run kubectl annotate "deployment/${deployment}" -n "$NAMESPACE" "${LABEL_PREFIX}/replicas=${replicas}" --overwrite
  run kubectl scale "deployment/${deployment}" -n "$NAMESPACE" --replicas=0
  start_load
  note "Expect, with the ${slo} objective at ${target} % over ${WINDOW_DAYS} days (every request bad from the first minute):
  after about ${fast} min: the fast burn, CloudWatch <cluster>-slo-${slo}-fast-burn, Prometheus Bird${alert}FastBurn
  after about ${slow} min: the slow burn, CloudWatch <cluster>-slo-${slo}-slow-burn, Prometheus Bird${alert}SlowBurn
  CloudWatch adds a minute or two while the access lines become metrics; Prometheus a scrape and
  an evaluation. Each alert links to its runbook section (infrastructure/README.md#slo-${slo}).
Watch: the SLO row of the bird-api-overview dashboard; kubectl get deployment/${deployment} -n $NAMESPACE
Clean-up: '$0 cleanup' scales ${deployment} back to ${replicas} and deletes the load pod; the
       fast alert clears within 5 minutes of the recovery, the slow one within 30."
  if ((DURATION < slow * 60)); then
    note "The load stops after ${DURATION} s, before the slow burn can fire: give -d $((slow * 60 + 120)) or more."
  fi
}

burn_photo_quality() {
  burn bird-image-api photo-quality PhotoQuality 99 \
    "Every bird is the bird in disguise (bird cannot reach bird-image), still a 200: only the
photo-quality SLO burns."
}

burn_availability() {
  burn bird-api availability Availability 99.5 \
    "The page and /api/bird answer 502 (the frontend cannot reach bird), at once: only the
availability SLO burns."
}

cleanup() {
  note "Clean-up: load pod, drained nodes, scaled-down Deployments, crash-loop rollout."
  confirm
  run kubectl delete pod -n "$NAMESPACE" "$LOAD_POD" --ignore-not-found

  local nodes node
  if "$DRY_RUN"; then
    nodes="<node-labelled-${LABEL_PREFIX}/drained=true>"
  else
    nodes="$(kubectl get nodes -l "${LABEL_PREFIX}/drained=true" -o jsonpath='{.items[*].metadata.name}')"
  fi
  for node in $nodes; do
    run kubectl uncordon "$node"
    run kubectl label node "$node" "${LABEL_PREFIX}/drained-"
  done

  local deployment replicas
  for deployment in bird-api bird-image-api; do
    replicas="<replicas saved by a burn, if any>"
    if ! "$DRY_RUN"; then
      replicas="$(kubectl get "deployment/${deployment}" -n "$NAMESPACE" \
        -o jsonpath="{.metadata.annotations.failure-simulation\.bird-stack\.io/replicas}")"
      [[ -z "$replicas" || "$replicas" =~ ^[1-9][0-9]*$ ]] || die "deployment/${deployment} has a bad replicas annotation '${replicas}'"
    fi
    if [[ -n "$replicas" ]]; then
      run kubectl scale "deployment/${deployment}" -n "$NAMESPACE" --replicas="$replicas"
      run kubectl annotate "deployment/${deployment}" -n "$NAMESPACE" "${LABEL_PREFIX}/replicas-"
    fi
  done

  local crashed="true"
  if ! "$DRY_RUN"; then
    crashed="$(kubectl get deployment/bird-image-api -n "$NAMESPACE" \
      -o jsonpath="{.metadata.annotations.failure-simulation\.bird-stack\.io/crash-loop}")"
  fi
  if [[ "$crashed" == "true" ]]; then
    run kubectl rollout undo deployment/bird-image-api -n "$NAMESPACE"
    run kubectl annotate deployment/bird-image-api -n "$NAMESPACE" "${LABEL_PREFIX}/crash-loop-"
    run kubectl rollout status deployment/bird-image-api -n "$NAMESPACE" --timeout=300s
  fi
}

positive_int() {
  [[ "$2" =~ ^[1-9][0-9]*$ ]] || die "$1 must be a positive integer, got '$2'"
}

# What infrastructure/ (variable slo) and the chart's schema accept.
slo_target() {
  [[ "$2" =~ ^9[0-9](\.[0-9]+)?$ ]] || die "$1 must be a percentage from 90 to below 100, got '$2'"
}

window_days() {
  if [[ ! "$2" =~ ^[0-9]+$ ]] || (($2 < 7 || $2 > 90)); then
    die "$1 must be a whole number of days from 7 to 90, got '$2'"
  fi
}

while (($# > 0)); do
  case "$1" in
    -n | --namespace)
      (($# >= 2)) || die "$1 needs a value"
      NAMESPACE=$2
      shift 2
      ;;
    -d | --duration)
      (($# >= 2)) || die "$1 needs a value"
      positive_int "$1" "$2"
      DURATION=$2
      shift 2
      ;;
    -c | --concurrency)
      (($# >= 2)) || die "$1 needs a value"
      positive_int "$1" "$2"
      CONCURRENCY=$2
      shift 2
      ;;
    -t | --target)
      (($# >= 2)) || die "$1 needs a value"
      slo_target "$1" "$2"
      TARGET=$2
      shift 2
      ;;
    -w | --window-days)
      (($# >= 2)) || die "$1 needs a value"
      window_days "$1" "$2"
      WINDOW_DAYS=$2
      shift 2
      ;;
    --dry-run)
      DRY_RUN=true
      shift
      ;;
    -y | --yes)
      ASSUME_YES=true
      shift
      ;;
    -h | --help)
      usage
      exit 0
      ;;
    -*) die "unknown option $1 (see --help)" ;;
    *)
      [[ -z "$SCENARIO" ]] || die "one scenario at a time"
      SCENARIO=$1
      shift
      ;;
  esac
done

[[ -n "$SCENARIO" ]] || {
  usage >&2
  exit 2
}
[[ "$NAMESPACE" =~ ^[a-z0-9]([-a-z0-9]*[a-z0-9])?$ ]] || die "invalid namespace '$NAMESPACE'"
"$DRY_RUN" || command -v kubectl >/dev/null || die "kubectl is not on PATH"

case "$SCENARIO" in
  pod-kill) pod_kill ;;
  load) load ;;
  node-drain) node_drain ;;
  crash-loop) crash_loop ;;
  burn-photo-quality) burn_photo_quality ;;
  burn-availability) burn_availability ;;
  cleanup) cleanup ;;
  *) die "unknown scenario '$SCENARIO' (see --help)" ;;
esac
