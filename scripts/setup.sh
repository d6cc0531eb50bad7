#!/usr/bin/env bash
# Makes this machine ready for berth: a reachable Docker engine and, with --test-images, the images
# the tests build themselves (no registry is ever contacted). As root on Debian it installs and starts
# what is missing; elsewhere it says what is missing and stops.
set -euo pipefail

TEST_IMAGE=berth-test/busybox:1
# A private registry for the tests, with htpasswd auth, on loopback (which the engine trusts
# without TLS). The tests know these values; nothing else uses this registry.
TEST_REGISTRY_PORT=5555
TEST_REGISTRY_USER=berth-test
TEST_REGISTRY_PASSWORD=berth-registry-pass
TEST_REGISTRY_DIR=${TEST_REGISTRY_DIR:-/var/lib/berth-test-registry}
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

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

ensure_test_registry() {
  port_open "$TEST_REGISTRY_PORT" && return 0
  command -v docker-registry >/dev/null 2>&1 || apt_install docker-registry
  command -v htpasswd >/dev/null 2>&1 || apt_install apache2-utils
  mkdir -p "$TEST_REGISTRY_DIR/data"
  htpasswd -Bbn "$TEST_REGISTRY_USER" "$TEST_REGISTRY_PASSWORD" >"$TEST_REGISTRY_DIR/htpasswd"
  cat >"$TEST_REGISTRY_DIR/config.yml" <<YAML
version: 0.1
log:
  level: warn
storage:
  filesystem:
    rootdirectory: $TEST_REGISTRY_DIR/data
  delete:
    enabled: true
http:
  addr: 127.0.0.1:$TEST_REGISTRY_PORT
auth:
  htpasswd:
    realm: berth-test
    path: $TEST_REGISTRY_DIR/htpasswd
YAML
  say "starting the test registry on 127.0.0.1:$TEST_REGISTRY_PORT (log: $TEST_REGISTRY_DIR/log)"
  nohup docker-registry serve "$TEST_REGISTRY_DIR/config.yml" >"$TEST_REGISTRY_DIR/log" 2>&1 &
  for _ in $(seq 1 30); do
    port_open "$TEST_REGISTRY_PORT" && return 0
    sleep 0.5
  done
  tail -n 20 "$TEST_REGISTRY_DIR/log" >&2 || true
  die "the test registry did not come up"
}

ensure_docker
if [ "${1:-}" = "--test-images" ]; then
  ensure_test_image
  ensure_test_registry
fi
