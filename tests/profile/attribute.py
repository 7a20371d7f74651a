#!/usr/bin/env python3
"""Where the time of a `perf record -e cpu-clock -a -g` run went, by the call chains' leaves.

    attribute.py PERF.DATA SYMBOL [LINES.json] [N]

SYMBOL: a frame the samples must have in their chain (a substring: `bpf_test_run` for every
packet of a `BPF_PROG_TEST_RUN`, `bpf_prog_<tag>_lb` for `lb` and the helpers it called).
Prints the share of each leaf function among those samples. With LINES.json (written by
`jit_lines.py` for that program) and SYMBOL a program's function as perf names it, also the
share of each of its source lines, a helper's samples charged to the line that called it.
perf names each BPF function `bpf_prog_<tag>_<name>` (a subprogram has a tag of its own).

On a virtual machine without hardware counters perf still samples by `cpu-clock` (a timer):
the sample's address is where the CPU was when the timer fired, so a load that misses the
cache shows on the instructions just after it.
"""
import bisect, collections, json, subprocess, sys

data, sym = sys.argv[1], sys.argv[2]
lines_json = sys.argv[3] if len(sys.argv) > 3 and sys.argv[3].endswith('.json') else None
n = int(sys.argv[-1]) if sys.argv[-1].isdigit() else 30

lines = offs = None
if lines_json:
    fn = sym.split('_', 3)[3]
    d = json.load(open(lines_json))
    lines = sorted([[l[0][1]] + l[1:] for l in d['lines'] if l[0][0] == fn])
    offs = [l[0] for l in lines]

def where(off):
    k = bisect.bisect_right(offs, off) - 1
    return (lines[k][2], lines[k][3]) if k >= 0 else ('?', '?')

out = subprocess.run(['perf', 'script', '-i', data], capture_output=True, text=True).stdout
leaf, byline, byfile, helpers = (collections.Counter() for _ in range(4))
total = 0
chain = []

def flush():
    global total
    at = next((k for k, (name, _) in enumerate(chain) if sym in name), None)
    if at is None:
        return
    total += 1
    leaf[chain[0][0]] += 1
    if lines is not None and chain[at][0] == sym:
        key = where(chain[at][1])
        byline[key] += 1
        byfile[key[0].split(':')[0]] += 1
        if at > 0:
            helpers[(chain[0][0], key[0])] += 1

for line in out.splitlines():
    if not line.strip():
        flush()
        chain = []
    elif line[0] in ' \t':
        parts = line.split()
        if len(parts) >= 2:
            name, _, off = parts[1].partition('+0x')
            chain.append((name, int(off, 16) if off else 0))
    else:
        chain = []
flush()

def show(title, counter):
    print(title)
    for k, c in counter.most_common(n):
        print(f'{100 * c / total:6.2f}%  {k if isinstance(k, str) else "  ".join(k)}')

print(f'{total} samples with {sym} in their chain')
show('-- by leaf function', leaf)
if lines is not None:
    show('-- by source file (a helper charged to its caller)', byfile)
    show('-- helpers, by the line that called them', helpers)
    show('-- by source line', byline)
