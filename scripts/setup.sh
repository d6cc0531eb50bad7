#!/usr/bin/env bash
# Makes this machine ready for berth: a reachable Docker engine, the browser UI built into
# static/dist (from npm packages), and, with --test-images, what the tests need (images they build
# themselves, a private registry, a second engine, Chromium; no image registry is ever contacted).
# As root on Debian it installs and starts what is missing; elsewhere it says what is missing and
# stops.
set -euo pipefail
cd "$(dirname "$0")/.."

TEST_IMAGE=berth-test/busybox:1
# A private registry for the tests, with htpasswd auth, on loopback (which the engine trusts
# without TLS). The tests know these values; nothing else uses this registry.
TEST_REGISTRY_PORT=5555
TEST_REGISTRY_USER=berth-test
TEST_REGISTRY_PASSWORD=berth-registry-pass
TEST_REGISTRY_DIR=${TEST_REGISTRY_DIR:-/var/lib/berth-test-registry}
DOCKERD_LOG=${DOCKERD_LOG:-/var/log/berth-dockerd.log}
# A second engine for the tests of several hosts: its own socket, and TLS with client certificates
# on a loopback port. The tests read the certificates from this directory.
ENGINE2_DIR=${ENGINE2_DIR:-/var/lib/berth-test-engine2}
ENGINE2_SOCKET=/run/berth-test-engine2.sock
ENGINE2_TLS_PORT=2376
ENGINE2_BRIDGE=berth-test-br
# The test directory's TLS certificates (the tests read the CA from here).
LDAP_TLS_DIR=${LDAP_TLS_DIR:-/var/lib/berth-test-ldap/tls}

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

# Certificates for the second engine: a CA, the engine's (for 127.0.0.1) and berth's client pair.
make_engine2_certs() {
  local tls=$ENGINE2_DIR/tls
  [ -s "$tls/cert.pem" ] && return 0
  command -v openssl >/dev/null 2>&1 || apt_install openssl
  mkdir -p "$tls"
  (
    cd "$tls"
    openssl req -x509 -newkey rsa:2048 -nodes -days 3650 -subj /CN=berth-test-ca \
      -keyout ca-key.pem -out ca.pem 2>/dev/null
    openssl req -newkey rsa:2048 -nodes -subj /CN=127.0.0.1 -keyout server-key.pem -out server.csr 2>/dev/null
    printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n' >server.ext
    openssl x509 -req -in server.csr -CA ca.pem -CAkey ca-key.pem -CAcreateserial -days 3650 \
      -extfile server.ext -out server.pem 2>/dev/null
    openssl req -newkey rsa:2048 -nodes -subj /CN=berth -keyout key.pem -out client.csr 2>/dev/null
    printf 'extendedKeyUsage=clientAuth\n' >client.ext
    openssl x509 -req -in client.csr -CA ca.pem -CAkey ca-key.pem -CAcreateserial -days 3650 \
      -extfile client.ext -out cert.pem 2>/dev/null
  )
}

engine2() { docker -H "unix://$ENGINE2_SOCKET" "$@"; }

ensure_second_engine() {
  if ! engine2 version >/dev/null 2>&1; then
    [ "$(id -u)" = 0 ] || die "the second test engine is not running and only root can start it"
    make_engine2_certs
    command -v ip >/dev/null 2>&1 || apt_install iproute2
    # Its own bridge, so its containers' network does not collide with the first engine's.
    if ! ip link show "$ENGINE2_BRIDGE" >/dev/null 2>&1; then
      ip link add name "$ENGINE2_BRIDGE" type bridge
      ip addr add 172.31.250.1/24 dev "$ENGINE2_BRIDGE"
      ip link set "$ENGINE2_BRIDGE" up
    fi
    say "starting a second dockerd on $ENGINE2_SOCKET and TLS 127.0.0.1:$ENGINE2_TLS_PORT (log: $ENGINE2_DIR/log)"
    local tls=$ENGINE2_DIR/tls
    nohup dockerd --data-root "$ENGINE2_DIR/data" --exec-root /run/berth-test-engine2 \
      --pidfile /run/berth-test-engine2.pid -H "unix://$ENGINE2_SOCKET" \
      -H "tcp://127.0.0.1:$ENGINE2_TLS_PORT" --tlsverify --tlscacert "$tls/ca.pem" \
      --tlscert "$tls/server.pem" --tlskey "$tls/server-key.pem" \
      --bridge "$ENGINE2_BRIDGE" --iptables=false --ip6tables=false >"$ENGINE2_DIR/log" 2>&1 &
    local up=
    for _ in $(seq 1 60); do
      engine2 version >/dev/null 2>&1 && { up=1; break; }
      sleep 1
    done
    [ -n "$up" ] || { tail -n 20 "$ENGINE2_DIR/log" >&2 || true; die "the second dockerd did not come up"; }
  fi
  engine2 image inspect "$TEST_IMAGE" >/dev/null 2>&1 || docker save "$TEST_IMAGE" | engine2 load >/dev/null
}

# The UI's npm packages (versions pinned by package-lock.json) and its bundle, which berth embeds
# when it is built.
ensure_ui() {
  command -v npm >/dev/null 2>&1 || apt_install nodejs npm
  if [ ! -f static/node_modules/.package-lock.json ] ||
    [ static/package-lock.json -nt static/node_modules/.package-lock.json ]; then
    say "installing the UI's npm packages"
    (cd static && npm ci --no-audit --no-fund --loglevel=error)
  fi
  (cd static && npm run --silent build)
}

# Debian's Chromium, which the browser tests drive through playwright-core (never a downloaded
# browser), and a Chinese font, so that screenshots of the Chinese pages show Chinese.
#
# Chromium fails the requests it has in flight with ERR_NETWORK_CHANGED whenever an address
# appears on any interface, and each container a test starts gives this machine a veth that gets
# an IPv6 link-local address a moment later: a browser test then lost a sign-in or a script now
# and then. New interfaces get no IPv6 here (no test uses IPv6 on them; loopback keeps its own).
ensure_chromium() {
  [ -x /usr/bin/chromium ] || apt_install chromium
  [ -e /usr/share/fonts/truetype/wqy/wqy-microhei.ttc ] || apt_install fonts-wqy-microhei
  if [ "$(id -u)" = 0 ]; then
    sysctl -qw net.ipv6.conf.default.disable_ipv6=1 ||
      say "could not turn IPv6 off for new interfaces: browser tests may see ERR_NETWORK_CHANGED"
  fi
}

# What the sign-in tests start for themselves, each its own: Debian's slapd with a test directory
# (TLS from a CA made here) and an OpenID Connect provider from npm's oidc-provider (tests/idp).
ensure_sign_in_servers() {
  command -v slapd >/dev/null 2>&1 || [ -x /usr/sbin/slapd ] || apt_install slapd
  command -v ldapmodify >/dev/null 2>&1 || apt_install ldap-utils
  local tls=$LDAP_TLS_DIR
  if [ ! -s "$tls/cert.pem" ]; then
    command -v openssl >/dev/null 2>&1 || apt_install openssl
    mkdir -p "$tls"
    (
      cd "$tls"
      openssl req -x509 -newkey rsa:2048 -nodes -days 3650 -subj /CN=berth-test-ldap-ca \
        -keyout ca-key.pem -out ca.pem 2>/dev/null
      openssl req -newkey rsa:2048 -nodes -subj /CN=127.0.0.1 -keyout key.pem -out server.csr 2>/dev/null
      printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n' >server.ext
      openssl x509 -req -in server.csr -CA ca.pem -CAkey ca-key.pem -CAcreateserial -days 3650 \
        -extfile server.ext -out cert.pem 2>/dev/null
    )
  fi
  if [ ! -f tests/idp/node_modules/.package-lock.json ] ||
    [ tests/idp/package-lock.json -nt tests/idp/node_modules/.package-lock.json ]; then
    say "installing the test identity provider's npm packages"
    (cd tests/idp && npm ci --no-audit --no-fund --loglevel=error)
  fi
}

# Debian's Prometheus, which the metrics test starts to scrape berth, and nginx, which the
# deployment test puts in front of it with deploy/nginx.conf (neither as a service).
ensure_monitoring_and_proxy() {
  command -v prometheus >/dev/null 2>&1 || apt_install prometheus
  [ -x /usr/sbin/nginx ] || apt_install nginx
}

# A PostgreSQL server of the tests' own, on loopback: Debian's postgresql, a cluster in a
# directory of its own (not the system's), the role berth with a password. Each test makes a
# database of its own in it (tests/api/helpers.rs).
TEST_PG_PORT=5433
TEST_PG_DIR=/var/lib/berth-test-postgres
TEST_PG_PASSWORD=berth-test-password
ensure_test_postgres() {
  local bin
  bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
  if [ -z "$bin" ]; then
    apt_install postgresql
    bin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)
  fi
  if ! port_open "$TEST_PG_PORT"; then
    if [ ! -s "$TEST_PG_DIR/data/PG_VERSION" ]; then
      mkdir -p "$TEST_PG_DIR"
      chown postgres: "$TEST_PG_DIR"
      printf '%s\n' "$TEST_PG_PASSWORD" >"$TEST_PG_DIR/password"
      chown postgres: "$TEST_PG_DIR/password"
      runuser -u postgres -- "$bin/initdb" -D "$TEST_PG_DIR/data" -U postgres --auth=scram-sha-256 \
        --pwfile="$TEST_PG_DIR/password" --encoding=UTF8 --locale=C.UTF-8 >"$TEST_PG_DIR/initdb.log"
    fi
    say "starting the test PostgreSQL on 127.0.0.1:$TEST_PG_PORT (log: $TEST_PG_DIR/log)"
    # Many tests at once, each with its pool: room for them, and no fsync (a test's data is
    # thrown away).
    runuser -u postgres -- "$bin/pg_ctl" -D "$TEST_PG_DIR/data" -l "$TEST_PG_DIR/log" -w start \
      -o "-p $TEST_PG_PORT -c listen_addresses=127.0.0.1 -c unix_socket_directories=$TEST_PG_DIR -c max_connections=400 -c fsync=off -c synchronous_commit=off -c full_page_writes=off" >/dev/null
  fi
  local as_postgres=("$bin/psql" -h 127.0.0.1 -p "$TEST_PG_PORT" -U postgres -d postgres -qtA)
  PGPASSWORD=$TEST_PG_PASSWORD "${as_postgres[@]}" -c \
    "DO \$\$ BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'berth') THEN CREATE ROLE berth LOGIN CREATEDB PASSWORD '$TEST_PG_PASSWORD'; END IF; END \$\$;" >/dev/null
  # Databases an interrupted test run left behind (each test drops its own when it ends).
  local stale
  for stale in $(PGPASSWORD=$TEST_PG_PASSWORD "${as_postgres[@]}" -c "SELECT datname FROM pg_database WHERE datname LIKE 't\\_%'"); do
    PGPASSWORD=$TEST_PG_PASSWORD "${as_postgres[@]}" -c "DROP DATABASE \"$stale\" WITH (FORCE)" >/dev/null
  done
}

# The OpenAPI document's validator (PyPI's openapi-spec-validator), in a venv of its own.
SPEC_VENV=/var/lib/berth-test-venv
ensure_spec_validator() {
  [ -x "$SPEC_VENV/bin/openapi-spec-validator" ] && return
  python3 -m venv "$SPEC_VENV" 2>/dev/null || { apt_install python3-venv; python3 -m venv "$SPEC_VENV"; }
  "$SPEC_VENV/bin/pip" install --quiet --disable-pip-version-check 'openapi-spec-validator==0.9.0'
}

ensure_docker
ensure_ui
if [ "${1:-}" = "--test-images" ]; then
  ensure_spec_validator
  ensure_test_postgres
  ensure_sign_in_servers
  ensure_monitoring_and_proxy
  ensure_chromium
  ensure_test_image
  ensure_test_registry
  ensure_second_engine
fi
