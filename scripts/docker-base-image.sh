#!/usr/bin/env bash
# Make the local Python base image (default local/python-base:3.11) when it is missing.
#
# Why: no container registry is reachable on CI/dev machines of this kind, so
# `python:3.11-slim` cannot be pulled. A Debian bookworm minbase root with
# python3 + python3-venv (Python 3.11, same minor as the host, so host-built
# wheels install in it) is made with debootstrap and imported into Docker.
# Idempotent: does nothing when `docker image inspect` finds the image.
#
# Usage: scripts/docker-base-image.sh [IMAGE]     (env: MLCADENCE_DOCKER_BASE_IMAGE)
set -euo pipefail

IMAGE="${1:-${MLCADENCE_DOCKER_BASE_IMAGE:-local/python-base:3.11}}"
SUITE="${DEBIAN_SUITE:-bookworm}"

if docker image inspect "$IMAGE" >/dev/null 2>&1; then
    echo "base image $IMAGE already present"
    exit 0
fi

# The mirror is whatever apt on this machine uses: the first URIs: line of the
# deb822 sources, else the first deb line of sources.list. Never a fixed host.
mirror=""
if [ -f /etc/apt/sources.list.d/debian.sources ]; then
    mirror="$(awk '/^URIs:/ {print $2; exit}' /etc/apt/sources.list.d/debian.sources)"
fi
if [ -z "$mirror" ] && [ -f /etc/apt/sources.list ]; then
    mirror="$(awk '$1 == "deb" {for (i = 2; i <= NF; i++) if ($i ~ /^[a-z]+:\/\//) {print $i; exit}}' /etc/apt/sources.list)"
fi
if [ -z "$mirror" ]; then
    echo "error: no Debian mirror found in /etc/apt/sources.list.d/debian.sources or /etc/apt/sources.list;" \
         "configure apt or set DEBIAN_MIRROR" >&2
    exit 1
fi
mirror="${DEBIAN_MIRROR:-$mirror}"

command -v debootstrap >/dev/null || { echo "error: debootstrap is not installed (apt-get install -y debootstrap)" >&2; exit 1; }

root="$(mktemp -d /tmp/python-base-root.XXXXXX)"
trap 'rm -rf "$root"' EXIT

echo "debootstrap $SUITE from $mirror into $root"
debootstrap --variant=minbase --include=python3,python3-venv "$SUITE" "$root" "$mirror"

# Keep the image small: apt lists, caches, docs and man pages are not needed to run Python.
rm -rf "$root"/var/lib/apt/lists/* "$root"/var/cache/apt/*.bin "$root"/var/cache/apt/archives/*.deb \
       "$root"/usr/share/doc/* "$root"/usr/share/man/* "$root"/usr/share/info/* "$root"/usr/share/locale/*

tar -C "$root" -c . | docker import \
    --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change 'ENV LANG=C.UTF-8' \
    --change 'CMD ["python3"]' \
    - "$IMAGE"
echo "made base image $IMAGE"
