#!/usr/bin/env bash
# Installs the kind, kubectl and helm of kind/versions.env into a directory, each download checked
# against its pinned sha256 before anything is installed. Linux on amd64 or arm64 (CI's runners);
# elsewhere, install the same versions with your package manager.
#
#   kind/install-tools.sh <directory>
set -euo pipefail

die() {
  echo "install-tools: $*" >&2
  exit 1
}

(($# == 1)) || die "usage: kind/install-tools.sh <directory>"
destination=$1

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=kind/versions.env
source "$here/versions.env"

case "$(uname -s)/$(uname -m)" in
  Linux/x86_64) arch=amd64 ;;
  Linux/aarch64 | Linux/arm64) arch=arm64 ;;
  *) die "no pinned checksums for $(uname -s)/$(uname -m)" ;;
esac
# The checksum variables of this platform, e.g. KIND_SHA256_LINUX_AMD64.
platform=LINUX_${arch^^}

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# Downloads a URL to a file of $work and stops unless its sha256 is the pinned one.
fetch() {
  local url=$1 sha256=$2 file=$work/$3
  curl --fail --silent --show-error --location --proto '=https' --tlsv1.2 --retry 3 \
    --output "$file" "$url"
  echo "$sha256  $file" | sha256sum --check --quiet - || die "$url does not have the pinned sha256"
}

kind_sha=KIND_SHA256_$platform
kubectl_sha=KUBECTL_SHA256_$platform
helm_sha=HELM_SHA256_$platform

fetch "https://github.com/kubernetes-sigs/kind/releases/download/$KIND_VERSION/kind-linux-$arch" \
  "${!kind_sha}" kind
fetch "https://dl.k8s.io/release/$KUBECTL_VERSION/bin/linux/$arch/kubectl" "${!kubectl_sha}" kubectl
fetch "https://get.helm.sh/helm-$HELM_VERSION-linux-$arch.tar.gz" "${!helm_sha}" helm.tar.gz
tar --extract --gzip --file "$work/helm.tar.gz" --directory "$work" "linux-$arch/helm"

mkdir -p "$destination"
install -m 0755 "$work/kind" "$work/kubectl" "$work/linux-$arch/helm" "$destination/"
echo "installed kind $KIND_VERSION, kubectl $KUBECTL_VERSION and helm $HELM_VERSION into $destination"
