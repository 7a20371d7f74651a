#!/usr/bin/env python3
"""The line table of a loaded BPF program's machine code, for `attribute.py`.

    jit_lines.py                 lists the loaded programs: id, tag, name
    jit_lines.py TAG OUT.json    waits (up to 100 s) for a program with that tag to be
                                 loaded, then writes where each source line's code starts in
                                 each of its functions (main and subprograms)

The tag is a hash of the program's instructions, so it is the same in every run of one
build: list the programs while `lb-bench` runs, then start this before the run to profile.
The kernel gives the machine code's line table (`BPF_OBJ_GET_INFO_BY_FD`: jited_ksyms,
line_info, jited_line_info) and the source lines' text (the program's BTF strings). Needs
root (x86-64: the `bpf` system call is number 321).
"""
import ctypes, struct, sys, json, time, os
libc = ctypes.CDLL(None, use_errno=True)
SYS_bpf = 321
def bpf(cmd, attr):
    buf = ctypes.create_string_buffer(attr, len(attr))
    r = libc.syscall(SYS_bpf, cmd, buf, len(attr))
    return r, buf.raw
def next_id(i):
    r, b = bpf(11, struct.pack('<II', i, 0) + b'\0'*120)
    return struct.unpack_from('<I', b, 4)[0] if r == 0 else None
def fd_by_id(i, cmd=13):
    r, _ = bpf(cmd, struct.pack('<I', i) + b'\0'*124)
    return r
def info(fd, size, fill=None):
    ib = ctypes.create_string_buffer(size)
    if fill:
        for off, fmt, v in fill:
            struct.pack_into(fmt, ib, off, v)
    attr = struct.pack('<IIQ', fd, size, ctypes.addressof(ib)) + b'\0'*112
    r, _ = bpf(15, attr)
    return r, ib
def programs():
    """(id, an open fd, its bpf_prog_info) of each loaded program; the caller closes fd."""
    i = 0
    while True:
        i = next_id(i)
        if i is None:
            return
        fd = fd_by_id(i)
        if fd < 0:
            continue
        r, ib = info(fd, 232)
        if r == 0:
            yield i, fd, ib
        else:
            os.close(fd)
if len(sys.argv) < 3:
    for i, fd, ib in programs():
        print(i, ib.raw[8:16].hex(), ib.raw[64:80].rstrip(b'\0').decode())
        os.close(fd)
    sys.exit(0)
tag = sys.argv[1]; out = sys.argv[2]
found = None
for _ in range(20000):
    for i, fd, ib in programs():
        if ib.raw[8:16].hex() == tag:
            found = (fd, ib)
            break
        os.close(fd)
    if found: break
    time.sleep(0.005)
if not found:
    sys.exit(f'no program with tag {tag} was loaded')
fd, ib = found
g = lambda fmt, off: struct.unpack_from(fmt, ib.raw, off)[0]
jlen = g('<I',16); nksym = g('<I',104); nli = g('<I',148); njli = g('<I',168); btf_id = g('<I',128)
lrs = g('<I',172); jrs = g('<I',176)
jit = ctypes.create_string_buffer(jlen); ks = ctypes.create_string_buffer(8*nksym)
li = ctypes.create_string_buffer(lrs*nli); jli = ctypes.create_string_buffer(jrs*njli)
r, ib2 = info(fd, 232, [(16,'<I',jlen),(24,'<Q',ctypes.addressof(jit)),(104,'<I',nksym),(112,'<Q',ctypes.addressof(ks)),
  (148,'<I',nli),(152,'<Q',ctypes.addressof(li)),(160,'<Q',ctypes.addressof(jli)),(168,'<I',njli),(172,'<I',lrs),(176,'<I',jrs)])
assert r == 0, ctypes.get_errno()
# BTF strings
bfd = fd_by_id(btf_id, 19)
r, bi = info(bfd, 32)
bsize = struct.unpack_from('<I', bi.raw, 8)[0]
bb = ctypes.create_string_buffer(bsize)
r, bi = info(bfd, 32, [(0,'<Q',ctypes.addressof(bb)),(8,'<I',bsize)])
braw = bb.raw
hdr_len, type_off, type_len, str_off, str_len = struct.unpack_from('<IIIII', braw, 4)
strs = braw[hdr_len+str_off: hdr_len+str_off+str_len]
def s(o): return strs[o:strs.index(b'\0', o)].decode(errors='replace')
ksyms = list(struct.unpack_from('<%dQ' % nksym, ks.raw, 0))
# The functions' names (perf names a function bpf_prog_<its tag>_<its name>): func_info, in
# the order of jited_ksyms, gives each one's BTF type, whose name is a string of the BTF.
nfi = g('<I', 144); firs = g('<I', 132)
fi = ctypes.create_string_buffer(firs * nfi)
r, _ = info(fd, 232, [(132,'<I',firs),(136,'<Q',ctypes.addressof(fi)),(144,'<I',nfi)])
types = braw[hdr_len+type_off: hdr_len+type_off+type_len]
extra = {1:lambda v:4, 3:lambda v:12, 4:lambda v:12*v, 5:lambda v:12*v, 6:lambda v:8*v, 13:lambda v:8*v,
         14:lambda v:4, 15:lambda v:12*v, 17:lambda v:4, 19:lambda v:12*v}
names = [None]; o = 0
while o < len(types):
    no, inf, _ = struct.unpack_from('<III', types, o)
    kind, vlen = (inf >> 24) & 0x1f, inf & 0xffff
    names.append(s(no)); o += 12 + extra.get(kind, lambda v: 0)(vlen)
fnames = [names[struct.unpack_from('<II', fi.raw, k*firs)[1]] for k in range(nfi)]
lines = []
for k in range(nli):
    insn, fno, lo, lc = struct.unpack_from('<IIII', li.raw, k*lrs)
    addr = struct.unpack_from('<Q', jli.raw, k*jrs)[0]
    lines.append([addr, insn, s(fno).split('/')[-1] + ':' + str(lc >> 10), s(lo).strip()[:100]])
# Each line is written as (its function's name, its offset in that function): perf names a
# function by its tag and name and reports a sample as an offset in it.
funcs = sorted(zip(ksyms, fnames))
for l in lines:
    k = max(i for i, (a, _) in enumerate(funcs) if a <= l[0])
    l[0] = [funcs[k][1], l[0] - funcs[k][0]]
json.dump({'lines': lines}, open(out, 'w'))
print('dumped', len(lines), 'lines of', nksym, 'functions')
