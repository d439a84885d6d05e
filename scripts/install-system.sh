#!/usr/bin/env bash
# Installs the Debian 12 packages Onestop needs on a development or CI machine:
# Slurm (controller, compute daemon, accounting daemon, client commands and the
# plugins they load), munge, MariaDB for slurmdbd, acl for file sharing, chromium
# for the browser tests, nginx (Debian's, with its auth_request module) for the
# transfer benchmark and for the notebooks' nginx path in tests and benchmark (each
# starts its own on a loopback port; the system service is never used), the data
# tool's test hosts (tests/transfers: openssh-server for SFTP, fcgiwrap and git for
# Git over HTTP through git http-backend, iproute2 for the network namespace; the
# tests start their own sshd and fcgiwrap inside it, never the system services), and
# the Python build pieces.
# Node.js/npm are assumed.
#
# Idempotent and quick when everything is installed (no apt work at all).
# Services are NOT started by the packages: `python -m devcluster up` (or
# `onestop devcluster up`) starts what the cluster in a box needs. Run as root.
set -euo pipefail

PACKAGES=(
    slurm-wlm slurmctld slurmd slurmdbd slurm-client
    slurm-wlm-basic-plugins slurm-wlm-mysql-plugin
    munge
    mariadb-server mariadb-client
    acl sudo procps psmisc curl make ca-certificates
    chromium fonts-liberation
    nginx-light
    openssh-server fcgiwrap git iproute2
    python3-venv python3-dev
)

if [[ $EUID -ne 0 ]]; then
    echo "install-system.sh: run as root" >&2
    exit 1
fi

missing=()
for package in "${PACKAGES[@]}"; do
    status=$(dpkg-query -W -f='${db:Status-Status}' "$package" 2>/dev/null || true)
    if [[ $status != installed ]]; then
        missing+=("$package")
    fi
done

if ((${#missing[@]} == 0)); then
    echo "install-system.sh: all ${#PACKAGES[@]} packages already installed"
    exit 0
fi
echo "install-system.sh: installing ${missing[*]}"

# Keep package scripts from starting services (there may be no init system, and
# devcluster starts them with its own config). Leave an existing policy in place.
policy=/usr/sbin/policy-rc.d
if [[ ! -e $policy ]]; then
    printf '#!/bin/sh\nexit 101\n' >"$policy"
    chmod 0755 "$policy"
    trap 'rm -f "$policy"' EXIT
fi

export DEBIAN_FRONTEND=noninteractive
apt-get update
apt-get install -y --no-install-recommends "${missing[@]}"
echo "install-system.sh: done"
