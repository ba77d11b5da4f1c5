"""Print pip's package sources (index-url, extra-index-url, find-links, constraint; from pip.conf and PIP_*
variables) as uv options, so `make lock` resolves against exactly what `pip install` will download from."""

from __future__ import annotations

import shlex
import subprocess
import sys

OPTIONS = ("index-url", "extra-index-url", "find-links", "constraint")


def main() -> None:
    """Print the uv options."""
    out = subprocess.run([sys.executable, "-m", "pip", "config", "list"], capture_output=True, text=True,
                         check=True).stdout
    found: dict[str, list[str]] = {}
    for line in out.splitlines():  # e.g. global.extra-index-url='file:///a file:///b', :env:.find-links='/w'
        key, _, value = line.partition("=")
        option = key.rsplit(".", 1)[-1]
        if option in OPTIONS:
            for v in " ".join(shlex.split(value)).split():
                if v not in found.setdefault(option, []):
                    found[option].append(v)
    args = [f"--index-url={found.get('index-url', ['https://pypi.org/simple'])[-1]}"]
    args += [f"--{o}={v}" for o in OPTIONS[1:] for v in found.get(o, [])]
    print(" ".join(shlex.quote(a) for a in args))


if __name__ == "__main__":
    main()
