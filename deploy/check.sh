#!/usr/bin/env bash
# Checks deploy/: the Prometheus config and alert rules (promtool check config,
# check rules, test rules), the Grafana dashboard (valid JSON, every query
# parses as PromQL), and that every stowage_* metric they use is one the server
# exports (crates/server/src/metrics/names.rs). Called by .ci/run.
#
# promtool comes from Debian's `prometheus` package; when it is missing and
# apt-get is usable (root), it is installed (STOWAGE_NO_INSTALL=1 disables that).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/.." && pwd)"

if ! command -v promtool >/dev/null 2>&1; then
  if [[ "${STOWAGE_NO_INSTALL:-0}" != 1 && "$(id -u)" == 0 ]] && command -v apt-get >/dev/null 2>&1; then
    echo "deploy/check.sh: installing promtool (Debian package prometheus)" >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >/dev/null
    apt-get install -y -qq --no-install-recommends prometheus >/dev/null
  fi
fi
if ! command -v promtool >/dev/null 2>&1; then
  echo "deploy/check.sh: promtool not found (apt-get install prometheus)" >&2
  exit 1
fi

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

echo "== promtool check config"
promtool check config "$here/prometheus/prometheus.yml"
echo "== promtool check rules"
promtool check rules "$here/prometheus/alerts.yml"
echo "== promtool test rules"
(cd "$here/prometheus" && promtool test rules alerts_test.yml)

echo "== dashboard JSON"
python3 -m json.tool "$here/grafana/stowage.json" >/dev/null
echo "  SUCCESS: grafana/stowage.json is valid JSON"

echo "== dashboard queries and metric names"
python3 - "$here" "$root/crates/server/src/metrics/names.rs" "$tmp/dashboard_rules.yml" <<'PY'
import json, re, sys
here, names_rs, rules_out = sys.argv[1], sys.argv[2], sys.argv[3]

exported = set(re.findall(r'"(stowage_[a-z0-9_]+)"', open(names_rs).read()))
histograms = set()
src = open(names_rs).read()
for m in re.finditer(r'/// Histogram[^\n]*\n[^\n]*"(stowage_[a-z0-9_]+)"', src):
    histograms.add(m.group(1))

def known(name):
    if name in exported:
        return True
    for suffix in ("_bucket", "_sum", "_count"):
        if name.endswith(suffix) and name[: -len(suffix)] in histograms:
            return True
    return False

dash = json.load(open(f"{here}/grafana/stowage.json"))
exprs = []
def walk(panels):
    for p in panels:
        for t in p.get("targets", []):
            exprs.append((p.get("title", "?"), t["expr"]))
        walk(p.get("panels", []))
walk(dash["panels"])
for var in dash.get("templating", {}).get("list", []):
    q = var.get("definition")
    if q:
        m = re.match(r"label_values\((.*),\s*\w+\)$", q)
        if m:
            exprs.append((f"variable {var['name']}", m.group(1)))

# Grafana variables → values promtool accepts.
def concrete(e):
    return (e.replace("$__rate_interval", "5m").replace("$instance", ".*").replace("$queue", ".*"))
with open(rules_out, "w") as f:
    f.write("groups:\n  - name: dashboard\n    rules:\n")
    for i, (_, e) in enumerate(exprs):
        f.write(f"      - record: dashboard:query_{i}\n        expr: {json.dumps(concrete(e))}\n")
# The DLQ panel's query, for its unit test (grafana/dashboard_test.yml).
dlq = [e for title, e in exprs if title == "Messages in dead-letter queues"]
if len(dlq) != 1:
    sys.exit("dashboard: no single panel titled 'Messages in dead-letter queues'")
with open(rules_out.replace("dashboard_rules.yml", "dashboard_dlq_rules.yml"), "w") as f:
    f.write("groups:\n  - name: dashboard-dlq\n    rules:\n")
    f.write(f"      - record: dashboard:dead_letter_messages\n        expr: {json.dumps(concrete(dlq[0]))}\n")

bad = []
used = set()
for title, e in exprs:
    for name in re.findall(r"\bstowage_[a-z0-9_]+", e):
        used.add(name)
        if not known(name):
            bad.append(f"dashboard panel {title!r}: unknown metric {name}")
for fname in ("prometheus/alerts.yml", "prometheus/alerts_test.yml"):
    for name in re.findall(r"\bstowage_[a-z0-9_]+", open(f"{here}/{fname}").read()):
        if not known(name):
            bad.append(f"{fname}: unknown metric {name}")
if bad:
    print("\n".join(bad), file=sys.stderr)
    sys.exit(1)
print(f"  SUCCESS: {len(exprs)} dashboard queries use {len(used)} exported metric names")
PY
promtool check rules "$tmp/dashboard_rules.yml" >/dev/null
echo "  SUCCESS: every dashboard query parses (promtool)"
echo "== promtool test rules (dashboard DLQ panel)"
cp "$here/grafana/dashboard_test.yml" "$tmp/"
(cd "$tmp" && promtool test rules dashboard_test.yml)
echo "== Docker files (static: no Docker engine needed)"
cp "$here/compose/prometheus.yml" "$here/prometheus/alerts.yml" "$tmp/"
promtool check config "$tmp/prometheus.yml"
# PyYAML: the interpreter on PATH, else Debian's (package python3-yaml).
py=python3
python3 -c 'import yaml' 2>/dev/null || py=/usr/bin/python3
"$py" - "$root" <<'PY'
import os, re, sys, yaml
root = sys.argv[1]
bad = []
dockerfile = open(f"{root}/deploy/Dockerfile").read()
if re.search(r"^\s*ENV\s+STOWAGE_", dockerfile, re.M):
    bad.append("deploy/Dockerfile: ENV STOWAGE_* would override the mounted config file")
if "STRIP=symbols" not in dockerfile:
    bad.append("deploy/Dockerfile: the binary is not stripped")
for src in re.findall(r"^COPY\s+(?!--)(\S+)\s+\S+\s*$", dockerfile, re.M):
    if src != "." and not os.path.exists(f"{root}/{src}"):
        bad.append(f"deploy/Dockerfile: COPY source {src} does not exist")
ignore = [l.strip() for l in open(f"{root}/.dockerignore") if l.strip() and not l.startswith("#")]
for needed in ("data/", "target/", ".git/"):
    if needed not in ignore:
        bad.append(f".dockerignore: {needed} is not excluded")
compose_dir = f"{root}/deploy/compose"
compose = yaml.safe_load(open(f"{compose_dir}/docker-compose.yml"))
build = compose["services"]["stowage"]["build"]
context = os.path.normpath(os.path.join(compose_dir, build["context"]))
if not os.path.isfile(os.path.join(context, build["dockerfile"])):
    bad.append("docker-compose.yml: build context/dockerfile not found")
for name, service in compose["services"].items():
    for volume in service.get("volumes", []):
        source = volume.split(":")[0]
        if source.startswith("."):
            if not os.path.exists(os.path.join(compose_dir, source)):
                bad.append(f"docker-compose.yml: {name}: {source} does not exist")
        elif source not in compose.get("volumes", {}):
            bad.append(f"docker-compose.yml: {name}: volume {source} is not declared")
provisioning = f"{compose_dir}/grafana/provisioning"
for kind in ("datasources", "dashboards"):
    for f in os.listdir(f"{provisioning}/{kind}"):
        doc = yaml.safe_load(open(f"{provisioning}/{kind}/{f}"))
        if doc.get("apiVersion") != 1:
            bad.append(f"grafana provisioning {kind}/{f}: apiVersion must be 1")
dash_path = yaml.safe_load(open(f"{provisioning}/dashboards/stowage.yml"))["providers"][0]["options"]["path"]
mounts = [v.split(":")[1] for v in compose["services"]["grafana"]["volumes"]]
if not any(m.startswith(dash_path + "/") for m in mounts):
    bad.append(f"docker-compose.yml: the dashboard is not mounted under {dash_path}")
if bad:
    print("\n".join(bad), file=sys.stderr)
    sys.exit(1)
print("  SUCCESS: Dockerfile, .dockerignore, docker-compose.yml and Grafana provisioning are consistent")
PY
echo "== systemd unit"
if command -v systemd-analyze >/dev/null 2>&1; then
  # verify wants ExecStart's binary to exist: check a copy pointing at true(1).
  sed "s#/usr/local/bin/stowage#$(command -v true)#" "$here/stowage.service" >"$tmp/stowage.service"
  # Only complaints about the unit itself fail the check (not the host's own units).
  out="$(cd "$tmp" && systemd-analyze verify "$tmp/stowage.service" 2>&1 | grep 'stowage.service' || true)"
  if [[ -n "$out" ]]; then
    echo "$out" >&2
    exit 1
  fi
  echo "  SUCCESS: systemd-analyze verify stowage.service"
else
  echo "  SKIPPED: systemd-analyze not installed"
fi
echo "deploy/check.sh: all checks passed"
