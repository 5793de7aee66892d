#!/usr/bin/env python3
"""CycloneDX 1.5 JSON SBOM of scimsync's dependency tree, for scripts/release.

Reads `cargo metadata --locked --format-version 1 --filter-platform TARGET` on stdin and
Cargo.lock (for each crate's SHA-256), and writes the SBOM on stdout: scimsync as the
metadata component, every crate the binary is built from for TARGET (normal and build
dependencies, transitively; no dev-dependencies) as a component with its version, purl,
licence expression and crates.io checksum, and the dependency graph.

Why not `cargo cyclonedx`: it is a crate to compile (minutes on a small machine, and one more
tool to trust); the facts it would write are all in `cargo metadata` and Cargo.lock, which
this stdlib-only script turns into the same format. The output is deterministic: sorted,
with the timestamp from SOURCE_DATE_EPOCH and a serial number derived from the content.
"""

import argparse
import datetime
import hashlib
import json
import os
import sys
import tomllib
import uuid

ROOT = "scimsync"


def purl(package):
    return f"pkg:cargo/{package['name']}@{package['version']}"


def reachable(metadata, root_id):
    """Ids of the packages the root is built from: normal and build edges, transitively."""
    nodes = {n["id"]: n for n in metadata["resolve"]["nodes"]}
    seen, stack = set(), [root_id]
    edges = {}
    while stack:
        node_id = stack.pop()
        if node_id in seen:
            continue
        seen.add(node_id)
        targets = set()
        for dep in nodes[node_id]["deps"]:
            kinds = {k["kind"] for k in dep["dep_kinds"]}
            if kinds & {None, "build"}:
                targets.add(dep["pkg"])
        edges[node_id] = targets
        stack.extend(targets)
    return seen, edges


def component(package, checksums):
    entry = {
        "type": "application" if package["name"] == ROOT else "library",
        "bom-ref": purl(package),
        "name": package["name"],
        "version": package["version"],
        "purl": purl(package),
    }
    if package.get("license"):
        entry["licenses"] = [{"expression": package["license"]}]
    checksum = checksums.get((package["name"], package["version"]))
    if checksum:
        entry["hashes"] = [{"alg": "SHA-256", "content": checksum}]
    if package.get("description"):
        entry["description"] = " ".join(package["description"].split())
    return entry


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lock", default="Cargo.lock")
    parser.add_argument("--target", required=True)
    args = parser.parse_args()
    metadata = json.load(sys.stdin)
    with open(args.lock, "rb") as f:
        lock = tomllib.load(f)
    checksums = {
        (p["name"], p["version"]): p["checksum"] for p in lock.get("package", []) if "checksum" in p
    }
    packages = {p["id"]: p for p in metadata["packages"]}
    root_id = next(i for i, p in packages.items() if p["name"] == ROOT)
    ids, edges = reachable(metadata, root_id)
    root = packages[root_id]
    components = sorted(
        (component(packages[i], checksums) for i in ids if i != root_id),
        key=lambda c: (c["name"], c["version"]),
    )
    dependencies = sorted(
        (
            {"ref": purl(packages[i]), "dependsOn": sorted(purl(packages[t]) for t in edges[i])}
            for i in ids
        ),
        key=lambda d: d["ref"],
    )
    epoch = int(os.environ.get("SOURCE_DATE_EPOCH", "0"))
    timestamp = datetime.datetime.fromtimestamp(epoch, datetime.timezone.utc)
    bom = {
        "bomFormat": "CycloneDX",
        "specVersion": "1.5",
        "version": 1,
        "metadata": {
            "timestamp": timestamp.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "tools": {
                "components": [{"type": "application", "name": "scimsync scripts/sbom.py"}]
            },
            "component": component(root, checksums),
            "properties": [{"name": "cdx:rust:target", "value": args.target}],
        },
        "components": components,
        "dependencies": dependencies,
    }
    body = json.dumps(bom, sort_keys=True).encode()
    serial = uuid.uuid5(uuid.NAMESPACE_URL, "scimsync-sbom:" + hashlib.sha256(body).hexdigest())
    bom["serialNumber"] = f"urn:uuid:{serial}"
    json.dump(bom, sys.stdout, indent=2, sort_keys=True)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
