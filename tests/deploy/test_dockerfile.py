#!/usr/bin/env python3
"""test_dockerfile.py - deploy/container/Dockerfile, without a container engine.

No Docker daemon runs here or in CI, so the image is not built.  Instead:
- dockerfile-utils (the Dockerfile language service's linter) validates it;
- its shape is what deploy/README.md promises: a Debian 12 build stage that installs
  scripts/deps.sh's build packages and runs `make build`, a Debian 12 runtime stage, a numeric non-root USER, gpuscope serve as the
  entry, the toolkit's `utility` capability, COPY --from naming a real stage;
- the runtime stage installs the Debian package of every shared library the real binary
  links directly (readelf, ldd, dpkg -S), so the image's agent can start, and every
  package it names is a Debian 12 package (installed here, or apt has a candidate).
"""
import os
import re
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
DOCKERFILE = os.path.join(os.path.dirname(os.path.dirname(HERE)), "deploy", "container", "Dockerfile")


def instructions(text):
    """(INSTRUCTION, args) per instruction, continuation lines joined, comments dropped."""
    text = re.sub(r"\\\n", " ", "\n".join(l for l in text.splitlines() if not l.lstrip().startswith("#")))
    return [(m.group(1).upper(), m.group(2).strip()) for m in re.finditer(r"^\s*(\w+)\s+(.*)$", text, re.M)]


def main():
    lint = os.path.join(os.environ["NODE_PATH"], ".bin", "dockerfile-utils")
    r = subprocess.run([lint, "lint", DOCKERFILE], capture_output=True, text=True)
    if r.returncode != 0 or r.stdout.strip():
        sys.exit(f"FAIL: dockerfile-utils lint:\n{r.stdout}{r.stderr}")
    print("ok: dockerfile-utils lint is silent")

    ins = instructions(open(DOCKERFILE).read())
    stages, cur = [], None
    for op, args in ins:
        if op == "FROM":
            m = re.match(r"(\S+)(?:\s+AS\s+(\S+))?$", args, re.I)
            cur = {"image": m.group(1), "name": m.group(2), "ins": []}
            stages.append(cur)
        else:
            cur["ins"].append((op, args))
    assert len(stages) == 2, [s["image"] for s in stages]
    build, run = stages
    assert build["image"] == "debian:12" and run["image"] == "debian:12-slim", stages
    assert any(op == "RUN" and "make build" in a for op, a in build["ins"]), "the build stage must run make build"
    assert any(op == "RUN" and "scripts/deps.sh build" in a for op, a in build["ins"]), \
        "the build stage must install scripts/deps.sh's build packages"
    names = {s["name"] for s in stages if s["name"]}
    for op, a in run["ins"]:
        m = re.search(r"--from=(\S+)", a) if op == "COPY" else None
        assert not m or m.group(1) in names, f"COPY --from={m.group(1)}: no such stage"
    last = {op: a for op, a in run["ins"]}
    user = last.get("USER", "0").split(":")[0]
    assert user.isdigit() and int(user) != 0, f"USER {user}: must be a numeric non-root uid (runAsNonRoot checks it)"
    assert last["ENTRYPOINT"] == '["/usr/bin/gpuscope"]', last["ENTRYPOINT"]
    assert last["CMD"].startswith('["serve"'), last["CMD"]
    assert "NVIDIA_DRIVER_CAPABILITIES=utility" in last["ENV"], last["ENV"]
    print(f"ok: two Debian 12 stages, make build, USER {user}, gpuscope serve")

    apt = " ".join(a for op, a in run["ins"] if op == "RUN" and "apt-get install" in a)
    needed = set()
    binary = os.environ["GPUSCOPE_BIN"]
    # The libraries it links directly (apt brings theirs), where ldd finds them.
    direct = re.findall(r"\(NEEDED\)\s+Shared library: \[(\S+)\]",
                        subprocess.run(["readelf", "-d", binary], capture_output=True, text=True, check=True).stdout)
    ldd = dict(re.findall(r"^\s*(\S+) => (/\S+)", subprocess.run(["ldd", binary], capture_output=True, text=True,
                                                                 check=True).stdout, re.M))
    for path in (ldd[n] for n in direct if n in ldd):  # the dynamic loader is libc6
        real = os.path.realpath(path)
        for p in (path, real, real.replace("/usr/lib/", "/lib/"), real.replace("/lib/", "/usr/lib/", 1)):
            r = subprocess.run(["dpkg", "-S", p], capture_output=True, text=True)
            if r.returncode == 0:
                needed.add(r.stdout.split(":")[0])
                break
        else:
            sys.exit(f"FAIL: no Debian package owns {path}")
    base = {"libc6", "libgcc-s1"}  # in every Debian image
    missing = sorted(p for p in needed - base if not re.search(r"(^|\s)" + re.escape(p) + r"(\s|$)", apt))
    assert not missing, f"the runtime stage does not install {missing} (the binary links them)"
    print(f"ok: the runtime stage installs every library package the binary links: {sorted(needed - base)}")

    named = re.findall(r"(?<!\S)([a-z0-9][a-z0-9.+-]+)(?!\S)", apt.split("--no-install-recommends", 1)[1].split("&&")[0])
    for pkg in named:
        installed = subprocess.run(["dpkg-query", "-W", "-f=${Status}", pkg], capture_output=True, text=True)
        if "install ok installed" in installed.stdout:
            continue
        policy = subprocess.run(["apt-cache", "policy", pkg], capture_output=True, text=True).stdout
        assert re.search(r"Candidate: (?!\(none\))", policy), f"{pkg}: not a Debian package here"
    print(f"ok: the runtime stage's packages are Debian packages: {named}")


if __name__ == "__main__":
    main()
