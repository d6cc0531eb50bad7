#!/usr/bin/env bash
# Makes this machine ready for berth: a reachable Docker engine and, with --test-images, the images
# the tests build themselves (no registry is ever contacted). As root on Debian it installs and starts
# what is missing; elsewhere it says what is missing and stops.
set -euo pipefail

TEST_IMAGE=berth-test/busybox:1
DOCKERD_LOG=${DOCKERD_LOG:-/var/log/berth-dockerd.log}

say() { printf 'setup: %s\n' "$*" >&2; }
die() { say "$*"; exit 1; }

can_install() { [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; }

apt_install() {
  can_install || die "missing: $* (install them, or run this script as root on Debian)"
  say "installing $* from Debian's packages"
  if [ -z "${APT_UPDATED:-}" ]; then
    DEBIAN_FRONTEND=noninteractive apt-get update -qq
    APT_UPDATED=1
  fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

engine_answers() { docker version --format '{{.Server.APIVersion}}' >/dev/null 2>&1; }

ensure_docker() {
  command -v docker >/dev/null 2>&1 || apt_install docker.io
  engine_answers && return 0
  if [ -n "${DOCKER_HOST:-}" ]; then
    die "DOCKER_HOST=$DOCKER_HOST is set but no Docker engine answers there"
  fi
  command -v dockerd >/dev/null 2>&1 || apt_install docker.io
  [ "$(id -u)" = 0 ] || die "no Docker engine answers and only root can start one: start dockerd, or set DOCKER_HOST"
  say "starting dockerd (log: $DOCKERD_LOG)"
  nohup dockerd >"$DOCKERD_LOG" 2>&1 &
  for _ in $(seq 1 60); do
    engine_answers && { say "Docker engine is up"; return 0; }
    sleep 1
  done
  tail -n 20 "$DOCKERD_LOG" >&2 || true
  die "dockerd did not come up within 60 s"
}

# A busybox root filesystem from Debian's busybox-static, imported as an image.
ensure_test_image() {
  docker image inspect "$TEST_IMAGE" >/dev/null 2>&1 && return 0
  local busybox=/bin/busybox
  if ! { [ -x "$busybox" ] && ! ldd "$busybox" >/dev/null 2>&1; }; then
    apt_install busybox-static
  fi
  local rootfs
  rootfs=$(mktemp -d)
  mkdir -p "$rootfs"/{bin,dev,etc,proc,root,sys,tmp,work}
  cp "$busybox" "$rootfs/bin/busybox"
  for applet in $("$busybox" --list); do
    [ "$applet" = busybox ] || ln -s busybox "$rootfs/bin/$applet"
  done
  printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/sh\n' >"$rootfs/etc/passwd"
  printf 'root:x:0:\nnogroup:x:65534:\n' >"$rootfs/etc/group"
  chmod 1777 "$rootfs/tmp"
  tar -C "$rootfs" -c . | docker import --change 'ENV PATH=/usr/local/bin:/usr/bin:/bin' --change 'CMD ["/bin/sh"]' - "$TEST_IMAGE" >/dev/null
  rm -rf "$rootfs"
  say "built $TEST_IMAGE"
}

ensure_docker
if [ "${1:-}" = "--test-images" ]; then
  ensure_test_image
fi
