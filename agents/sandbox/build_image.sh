#!/usr/bin/env bash
# Build the sandbox image without a registry: a minimal Debian root file system
# from the machine's own apt sources (mmdebstrap), imported into Docker.
#
#   agents/sandbox/build_image.sh [TAG] [--force]
#
# Skips the build when TAG already exists, unless --force. Hosts that reach a
# registry may use agents/sandbox/Dockerfile instead; both give the same shape:
# python3 with pytest, git, ripgrep, a user `agent` (uid 1000), WORKDIR /workspace.
set -euo pipefail

tag="slipway-sandbox:latest"
force=0
for arg in "$@"; do
    case "$arg" in
        --force) force=1 ;;
        -h|--help) sed -n '2,10p' "$0"; exit 0 ;;
        -*) echo "build_image.sh: unknown option $arg" >&2; exit 2 ;;
        *) tag="$arg" ;;
    esac
done

say() { echo "build_image.sh: $*"; }

command -v docker >/dev/null || { say "docker is not installed (apt-get install -y docker.io)" >&2; exit 1; }
docker info >/dev/null 2>&1 || { say "the Docker daemon does not answer (start it: dockerd --bridge=none --iptables=false &)" >&2; exit 1; }

if [[ $force -eq 0 ]] && docker image inspect "$tag" >/dev/null 2>&1; then
    say "$tag already exists; skipping (use --force to rebuild)"
    exit 0
fi

command -v mmdebstrap >/dev/null || { say "mmdebstrap is not installed (apt-get install -y mmdebstrap)" >&2; exit 1; }

work=$(mktemp -d /tmp/slipway-image.XXXXXX)
trap 'rm -rf "$work"' EXIT

packages=python3,python3-pytest,git,ca-certificates,ripgrep,bash,coreutils,procps
say "building a Debian bookworm root file system with $packages"
# The agent user is written straight into the files: minbase has no useradd.
# /workspace belongs to it so a container started without a bind mount still works.
# stdin is /dev/null so mmdebstrap takes the machine's apt sources, not a list from stdin.
mmdebstrap --variant=minbase --include="$packages" \
    --customize-hook='echo "agent:x:1000:1000:Slipway agent:/home/agent:/bin/bash" >> "$1/etc/passwd"' \
    --customize-hook='echo "agent:x:1000:" >> "$1/etc/group"' \
    --customize-hook='echo "agent:*:19000:0:99999:7:::" >> "$1/etc/shadow"' \
    --customize-hook='mkdir -p "$1/home/agent" "$1/workspace" && chown 1000:1000 "$1/home/agent" "$1/workspace"' \
    --customize-hook='rm -rf "$1/var/cache/apt/archives/"*.deb "$1/var/lib/apt/lists/"*' \
    bookworm "$work/rootfs.tar" </dev/null

say "importing $work/rootfs.tar as $tag"
docker import \
    --change 'USER 1000:1000' \
    --change 'WORKDIR /workspace' \
    --change 'ENV HOME=/home/agent LANG=C.UTF-8 PATH=/usr/local/bin:/usr/bin:/bin' \
    --change 'CMD ["/bin/bash"]' \
    --message "slipway sandbox image (mmdebstrap bookworm: $packages)" \
    "$work/rootfs.tar" "$tag"

say "checking the image"
docker run --rm --network none "$tag" bash -c 'id && python3 -c "import pytest, sys; print(sys.version.split()[0], pytest.__version__)" && git --version && rg --version | head -1'
say "done: $tag"
