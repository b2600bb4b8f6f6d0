"""Run the quick CPU benchmarks in turn, then write BENCHMARKS.md (`make bench`); the real-model and GPU
benchmarks are run by their own commands, given in their BENCHMARKS.md sections.

Run it on an otherwise idle machine: the figures are wall-clock times (each result
records the load average at its start and end).
"""

import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).parent
SCRIPTS = ["score_throughput.py", "generation_throughput.py", "rollout_throughput.py", "grpo_step.py",
           "processes.py", "recipe_step.py"]

for script in SCRIPTS:
    print(f"== {script}", flush=True)
    subprocess.run([sys.executable, str(HERE / script)], check=True)
subprocess.run([sys.executable, str(HERE / "report.py")], check=True)
