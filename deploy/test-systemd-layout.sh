#!/usr/bin/env bash
# Follows the install steps in deploy/stowage.service literally, into a scratch
# root, and starts the binary the way the unit does: as an unprivileged uid
# (like DynamicUser=), with the configuration handed over as systemd's
# LoadCredential= does (a copy readable by that uid only, in
# $CREDENTIALS_DIRECTORY), the unit's ExecStart= and Environment=. Checks that
# it becomes ready, writes its data as that uid, stops cleanly on SIGTERM, and
# that the file the unit's Documentation= names was installed. Also checks that
# the unprivileged uid cannot read the installed configuration directly (which
# is why the unit uses LoadCredential=).
#
# Usage (as root): deploy/test-systemd-layout.sh PATH/TO/stowage
# Needs setpriv (util-linux). Exit 0 on success; prints what failed otherwise.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/.." && pwd)"
bin="$(cd "$(dirname "$1")" && pwd)/$(basename "$1")"
unit="$here/stowage.service"
uid=61934 # an unused uid, as DynamicUser= picks one

[[ "$(id -u)" == 0 ]] || { echo "needs root (to install as root and drop to uid $uid)" >&2; exit 1; }
command -v setpriv >/dev/null || { echo "needs setpriv (util-linux)" >&2; exit 1; }

root="$(mktemp -d)"
pid=""
cleanup() {
  if [[ -n "$pid" ]] && kill -0 "$pid" 2>/dev/null; then kill -KILL "$pid" 2>/dev/null || true; fi
  rm -rf "$root"
}
trap cleanup EXIT
chmod 0755 "$root"
fail() { echo "FAIL: $*" >&2; [[ -f "$root/stderr" ]] && cat "$root/stderr" >&2; exit 1; }

# Paths of the real layout → the scratch root.
reroot() {
  sed -e "s#target/release/stowage#$bin#g" \
      -e "s#\([ =]\)/etc/#\1$root/etc/#g" \
      -e "s#\([ =]\)/usr/#\1$root/usr/#g" \
      -e "s#\([ =]\)/var/#\1$root/var/#g" \
      -e "s#\([ =]\)/run/#\1$root/run/#g"
}

echo "== install steps from the unit's header"
steps="$(sed -n 's/^#   \(install .*\)$/\1/p' "$unit")"
[[ -n "$steps" ]] || fail "no install steps found in $unit"
mkdir -p "$root/etc/systemd/system" "$root/usr/local/bin"
while IFS= read -r step; do
  step="$(printf '%s\n' "$step" | reroot)"
  echo "  $step"
  (cd "$repo" && eval "$step")
done <<<"$steps"

conf="$root/etc/stowage/stowage.toml"
[[ -f "$conf" ]] || fail "the install steps did not install $conf"
[[ "$(stat -c '%U %a' "$conf")" == "root 600" ]] || fail "$conf should be root-only, is $(stat -c '%U %a' "$conf")"

echo "== Documentation= is installed"
doc="$(sed -n 's#^Documentation=file://##p' "$unit")"
[[ -n "$doc" ]] || fail "no file:// Documentation= in the unit"
[[ -s "$root$doc" ]] || fail "Documentation=$doc is not installed by the install steps"

echo "== uid $uid cannot read the configuration directly"
if setpriv --reuid="$uid" --regid="$uid" --clear-groups cat "$conf" >/dev/null 2>&1; then
  fail "uid $uid can read $conf"
fi

echo "== systemd's side: credential, state directory"
cred_line="$(sed -n 's/^LoadCredential=//p' "$unit")"
[[ -n "$cred_line" ]] || fail "no LoadCredential= in the unit"
cred_name="${cred_line%%:*}"
cred_src="$(printf ' %s\n' "${cred_line#*:}" | reroot | sed 's/^ //')"
creds="$root/run/credentials/stowage.service"
install -d -m 0500 -o "$uid" -g "$uid" "$creds"
install -m 0400 -o "$uid" -g "$uid" "$cred_src" "$creds/$cred_name"
state="$(sed -n 's/^StateDirectory=//p' "$unit")"
install -d -m 0700 -o "$uid" -g "$uid" "$root/var/lib/$state"

echo "== ExecStart= as uid $uid"
exec_start="$(grep '^ExecStart=' "$unit" | reroot | sed 's/^ExecStart=//')"
exec_start="${exec_start//\$\{CREDENTIALS_DIRECTORY\}/$creds}"
declare -a env_args=()
while IFS= read -r e; do [[ -n "$e" ]] && env_args+=("$e"); done < <(sed -n 's/^Environment=//p' "$unit")
echo "  $exec_start"
# Free ports instead of the configuration's fixed ones (env ranks above the file).
read -r -a argv <<<"$exec_start"
env -i PATH=/usr/bin:/bin "${env_args[@]}" STOWAGE_LISTEN=127.0.0.1:0 STOWAGE_METRICS_LISTEN= \
  setpriv --reuid="$uid" --regid="$uid" --clear-groups --inh-caps=-all \
  "${argv[@]}" >"$root/stdout" 2>"$root/stderr" &
pid=$!
addr=""
for _ in $(seq 1 600); do
  addr="$(sed -n 's/^listening on //p' "$root/stdout" 2>/dev/null || true)"
  [[ -n "$addr" ]] && break
  kill -0 "$pid" 2>/dev/null || fail "stowage exited before listening"
  sleep 0.1
done
[[ -n "$addr" ]] || fail "stowage did not print 'listening on' in 60 s"
status="$(python3 -c 'import sys, urllib.request; print(urllib.request.urlopen(f"http://{sys.argv[1]}/health/ready").status)' "$addr")"
[[ "$status" == 200 ]] || fail "/health/ready answered $status"
owner="$(stat -c %u "$root/var/lib/$state/wal")"
[[ "$owner" == "$uid" ]] || fail "data written as uid $owner, not $uid"
kill -TERM "$pid"
code=0; wait "$pid" || code=$?
pid=""
[[ "$code" == 0 ]] || fail "exit status $code after SIGTERM"
echo "deploy/test-systemd-layout.sh: the unit's layout works as uid $uid (ready on $addr, clean stop)"
