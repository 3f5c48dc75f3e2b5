"""Rerun one fuzz program and print its findings and a shrunk script: ``python tests/fuzz/repro.py SEED PROGRAM``.

(SEED and PROGRAM as a failure of ``test_fuzz.py`` names them; run from the repository root.)
"""

import sys

import minitorch_cnn  # noqa: F401 - first: its process settings (OpenMP's idle workers sleep) precede torch's import


def main(argv):
    import _fuzz  # tests/fuzz is on sys.path when this file runs as a script

    seed, index = int(argv[1]), int(argv[2])
    prog = _fuzz.generate(seed, index)
    findings = _fuzz.check(prog)
    if not findings:
        print(f"seed {seed} program {index}: both engines agree")
        return 0
    small = _fuzz._tidy(_fuzz.shrink(prog, findings, budget_s=60.0))
    print(_fuzz.render(small, _fuzz.check(small) or findings))
    return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
