"""bench/instructions.py's reading of callgrind output, on canned files: no valgrind, no load."""

import importlib.util
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench"


def load(name: str):
    spec = importlib.util.spec_from_file_location(name, BENCH / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # instructions imports `ab` and `run` by these names
    spec.loader.exec_module(module)
    return module


sys.path.insert(0, str(BENCH))
instructions = load("instructions")

# The head and tail of a file written with --instr-atstart=no: `summary:` stays 0.
PLAIN = """\
# callgrind format
version: 1
creator: callgrind-3.19.0
events: Ir
summary: 0

ob=(3) /usr/lib/x86_64-linux-gnu/libm.so.6
fn=(1) pow
+1 2002
totals: 35383555
"""

SIMULATED = """\
events: Ir Dr Dw I1mr D1mr D1mw ILmr DLmr DLmw Bc Bcm Bi Bim
summary: 0
totals: 1000 400 300 5 7 3 1 2 0 90 4 10 1
"""


def test_the_totals_line_counts_not_the_summary():
    assert instructions.parse_totals(PLAIN) == {"Ir": 35_383_555}


def test_every_simulated_event_is_read_and_cycles_are_estimated():
    totals = instructions.parse_totals(SIMULATED)
    assert totals["Ir"] == 1000 and totals["Bim"] == 1
    # 1000 + 10 * (5 + 7 + 3 first-level misses + 4 + 1 mispredicts) + 100 * (1 + 2 + 0)
    assert instructions.estimated_cycles(totals) == 1000 + 10 * 20 + 100 * 3


@pytest.mark.parametrize("text", ["", "events: Ir\n", "totals: 12\n", "events: Ir Dr\ntotals: 1\n"])
def test_a_file_that_is_not_callgrind_output_is_refused(text):
    with pytest.raises(ValueError):
        instructions.parse_totals(text)
