#!/usr/bin/env bash
# Builds the scimsync image without a Docker daemon — buildah (Debian package) on a base made
# with debootstrap — the same layout as the Dockerfile: Debian bookworm, ca-certificates, the
# binary in /usr/local/bin, user 65532, entrypoint scimsync, port 9090, a health check. Then
# checks it: `scimsync --version` inside, and a plan against the emulator inside.
#
#   sudo deploy/build-image.sh [IMAGE_NAME]      (root: debootstrap and buildah need it)
#
# Environment: DEBIAN_MIRROR (default http://deb.debian.org/debian), WORK (scratch folder).
set -euo pipefail
cd "$(dirname "$0")/.."

image=${1:-localhost/scimsync:dev}
mirror=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
work=${WORK:-$(mktemp -d)}
mkdir -p "$work"
export STORAGE_DRIVER=vfs BUILDAH_ISOLATION=chroot

need() { command -v "$1" >/dev/null || { echo "installing $2"; DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$2" >/dev/null; }; }
need buildah buildah
need debootstrap debootstrap

echo "== building the binary"
cargo build --release --locked --bin scimsync
strip target/release/scimsync

echo "== base: debootstrap bookworm (minbase + ca-certificates) into $work/rootfs"
if [ ! -x "$work/rootfs/bin/sh" ]; then
  debootstrap --variant=minbase --include=ca-certificates bookworm "$work/rootfs" "$mirror" >"$work/debootstrap.log"
fi

echo "== runtime tree: the binary, the libraries it links, the CA bundle, a non-root user"
install -m 0755 target/release/scimsync "$work/rootfs/usr/local/bin/scimsync"
if chroot "$work/rootfs" ldd /usr/local/bin/scimsync | grep -Eq 'libssl|libcrypto'; then
  echo "the binary links OpenSSL" >&2; exit 1
fi
min="$work/min"
rm -rf "$min"
mkdir -p "$min/usr/local/bin" "$min/etc/ssl/certs" "$min/tmp"
chmod 1777 "$min/tmp"
cp target/release/scimsync "$min/usr/local/bin/scimsync"
for lib in $(chroot "$work/rootfs" ldd /usr/local/bin/scimsync | grep -o '/[^ ]*'); do
  mkdir -p "$min$(dirname "$lib")"
  cp -L "$work/rootfs$lib" "$min$lib"
done
if [ -d "$work/rootfs/lib64" ] && [ ! -e "$min/lib64" ]; then ln -s usr/lib64 "$min/lib64" 2>/dev/null || true; fi
cp "$work/rootfs/etc/ssl/certs/ca-certificates.crt" "$min/etc/ssl/certs/"
printf 'root:x:0:0::/root:/nonexistent\nscimsync:x:65532:65532::/nonexistent:/nonexistent\n' >"$min/etc/passwd"
printf 'root:x:0:\nscimsync:x:65532:\n' >"$min/etc/group"
printf 'hosts: files dns\n' >"$min/etc/nsswitch.conf"
# The demo (the image's default command) and /var/lib/scimsync, owned by the runtime user.
mkdir -p "$min/opt/scimsync" "$min/var/lib/scimsync"
cp -r config examples "$min/opt/scimsync/"
chown -R 65532:65532 "$min/opt/scimsync" "$min/var/lib/scimsync"

echo "== image: $image"
export BUILDAH_FORMAT=docker
ctr=$(buildah from scratch)
mnt=$(buildah mount "$ctr")
cp -a "$min/." "$mnt/"
buildah unmount "$ctr" >/dev/null
buildah config \
  --user 65532:65532 \
  --port 9090 \
  --entrypoint '["/usr/local/bin/scimsync"]' \
  --workingdir /opt/scimsync \
  --cmd '["run","--config","/opt/scimsync/config/scimsync.yaml","--listen","0.0.0.0:9090"]' \
  --healthcheck 'CMD /usr/local/bin/scimsync healthcheck --url http://127.0.0.1:9090/healthz' \
  --healthcheck-interval 30s --healthcheck-timeout 5s \
  --label org.opencontainers.image.title=scimsync \
  --os linux --arch amd64 "$ctr"
buildah commit --quiet "$ctr" "$image" >/dev/null
buildah rm "$ctr" >/dev/null
buildah images --format '{{.Name}}:{{.Tag}} {{.Size}}' "$image"
user=$(buildah inspect --type image --format '{{.Docker.Config.User}}' "$image")
health=$(buildah inspect --type image --format '{{.Docker.Config.Healthcheck.Test}}' "$image")
echo "user $user; health check $health"
[ "$user" = 65532:65532 ] || { echo "the image runs as root" >&2; exit 1; }

echo "== check: --version inside the image"
check=$(buildah from "$image")
emu=$(buildah from "$image")
trap 'buildah rm "$check" "$emu" >/dev/null 2>&1 || true' EXIT
buildah run --user 65532:65532 "$check" -- /usr/local/bin/scimsync --version

echo "== check: a plan inside the image against the emulator inside the image"
mkdir -p "$work/check"
cat >"$work/check/people.yaml" <<'YAML'
users:
  - {email: ada@example.com, given_name: Ada, title: Engineer}
  - {email: bob@example.com, given_name: Bob}
YAML
cat >"$work/check/scimsync.yaml" <<'YAML'
target: {url: "http://127.0.0.1:18080/scim/v2/", token_env: SLACK_SCIM_TOKEN}
sources:
  - yaml: people.yaml
scope: {email_domains: [example.com]}
YAML
buildah run --user 65532:65532 --env SCIMSYNC_EMULATOR_TOKEN=xoxp-image-check "$emu" -- \
  /usr/local/bin/scimsync emulator --listen 127.0.0.1:18080 >/dev/null 2>&1 &
emulator=$!
code=1
for _ in $(seq 100); do
  set +e
  buildah run --user 65532:65532 --env SLACK_SCIM_TOKEN=xoxp-image-check \
    --volume "$work/check:/check:ro" "$check" -- \
    /usr/local/bin/scimsync plan --config /check/scimsync.yaml --detailed-exitcode >"$work/plan.txt" 2>"$work/plan.err"
  code=$?
  set -e
  [ "$code" -eq 2 ] && break
  sleep 0.2
done
kill "$emulator" 2>/dev/null || true
wait "$emulator" 2>/dev/null || true
cat "$work/plan.txt"
[ "$code" -eq 2 ] || { cat "$work/plan.err" >&2; echo "the plan inside the image failed ($code)" >&2; exit 1; }
echo "== check: the demo (the default command's config) applies inside the image"
demo=$(buildah from "$image")
trap 'buildah rm "$check" "$emu" "$demo" >/dev/null 2>&1 || true' EXIT
cmd=$(buildah inspect --type image --format '{{.Docker.Config.Cmd}}' "$image")
echo "CMD $cmd"
echo "$cmd" | grep -q -- '--listen 0.0.0.0:9090' || { echo "the default command does not listen on 0.0.0.0" >&2; exit 1; }
buildah run --user 65532:65532 --workingdir /opt/scimsync "$demo" -- \
  /usr/local/bin/scimsync apply --config /opt/scimsync/config/scimsync.yaml >"$work/demo.log" 2>&1 \
  || { cat "$work/demo.log" >&2; echo "the demo's apply failed inside the image" >&2; exit 1; }
tail -n 3 "$work/demo.log"
echo "== image ok: $image"
