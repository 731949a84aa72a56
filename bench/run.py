"""`make bench`: every benchmark in this folder, one after the other. Prints numbers;
never part of `make test`."""

import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
BENCHMARKS = ["webhook_ingest.py", "widget.py", "agents.py"]

if __name__ == "__main__":
    failed = 0
    for name in BENCHMARKS:
        print(f"== {name}", flush=True)
        failed |= subprocess.call([sys.executable, str(HERE / name), *sys.argv[1:]])
    sys.exit(failed)
