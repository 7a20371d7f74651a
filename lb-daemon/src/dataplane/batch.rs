//! Reading a whole hash map, and writing many of its entries, in a few system calls:
//! `BPF_MAP_LOOKUP_BATCH` and `BPF_MAP_UPDATE_BATCH` (Linux 5.6), which aya 0.14 does not
//! wrap. A walk key by key costs two system calls per entry (the next key, then its value); a
//! batch copies up to [`BATCH`] entries per call, so lbd's upkeep (expiry, listings, sync)
//! reads a table of millions of connections in a fraction of the time it holds the data plane,
//! and the sync receiver refreshes thousands of entries in one call.

use std::{
    io,
    os::fd::{AsFd, AsRawFd},
};

use aya::{
    Pod,
    maps::{HashMap, IterableMap, MapData},
};

/// `enum bpf_cmd` (include/uapi/linux/bpf.h).
const BPF_MAP_LOOKUP_BATCH: libc::c_long = 24;

/// Entries per system call. A hash map's batch ends on a bucket's boundary, and a bucket
/// holds a handful of entries, so any size well above that works.
const BATCH: usize = 4096;

/// The batch part of `union bpf_attr`.
#[repr(C)]
#[derive(Default)]
struct BatchAttr {
    in_batch: u64,
    out_batch: u64,
    keys: u64,
    values: u64,
    count: u32,
    map_fd: u32,
    elem_flags: u64,
    flags: u64,
}
const _: () = assert!(core::mem::size_of::<BatchAttr>() == 56);

/// Every entry of `map`, by batches. An entry added or removed while the walk goes on may be
/// seen or not, as with a walk key by key.
pub fn lookup_all<K: Pod, V: Pod>(map: &MapData) -> io::Result<Vec<(K, V)>> {
    let fd = map.fd().as_fd().as_raw_fd();
    // SAFETY: `Pod` types are plain data, for which all zero bytes are a value.
    let mut keys: Vec<K> = vec![unsafe { core::mem::zeroed() }; BATCH];
    // SAFETY: as above.
    let mut values: Vec<V> = vec![unsafe { core::mem::zeroed() }; BATCH];
    let mut out = Vec::new();
    // The kernel's position between calls: for a hash map, a bucket index (4 bytes); 8 are
    // given.
    let mut token = [0u64; 2];
    let mut first = true;
    loop {
        let mut attr = BatchAttr {
            in_batch: if first { 0 } else { token.as_ptr() as u64 },
            out_batch: token[1..].as_mut_ptr() as u64,
            keys: keys.as_mut_ptr() as u64,
            values: values.as_mut_ptr() as u64,
            count: BATCH as u32,
            map_fd: fd as u32,
            ..Default::default()
        };
        // SAFETY: `attr` is the batch member of `union bpf_attr` with its size; the kernel
        // writes at most `count` keys and values into buffers of that many, and the next
        // position into `token[1]`.
        let rc = unsafe {
            libc::syscall(
                libc::SYS_bpf,
                BPF_MAP_LOOKUP_BATCH,
                &mut attr as *mut BatchAttr,
                core::mem::size_of::<BatchAttr>(),
            )
        };
        let err = (rc < 0).then(io::Error::last_os_error);
        let n = (attr.count as usize).min(BATCH);
        out.extend(keys[..n].iter().copied().zip(values[..n].iter().copied()));
        match err {
            None => {}
            // The end of the map: the entries of the last batch are in `count`.
            Some(e) if e.raw_os_error() == Some(libc::ENOENT) => return Ok(out),
            Some(e) => return Err(e),
        }
        token[0] = token[1];
        first = false;
    }
}

/// Every entry of a hash map: by batches, or key by key on a kernel without batch lookups.
pub fn entries<K: Pod, V: Pod>(map: &HashMap<MapData, K, V>) -> Vec<(K, V)> {
    match lookup_all(map.map()) {
        Ok(v) => v,
        Err(e) => {
            tracing::debug!(error = %e, "batch lookup refused; reading the map key by key");
            map.iter().filter_map(|r| r.ok()).collect()
        }
    }
}

/// `enum bpf_cmd`: `BPF_MAP_UPDATE_BATCH` (Linux 5.6).
const BPF_MAP_UPDATE_BATCH: libc::c_long = 26;

/// Writes `keys[i] -> values[i]` for every `i`, up to [`BATCH`] entries a system call, as
/// `BPF_ANY` (the kernel's batch update takes no other element flag: `generic_map_update_batch`
/// refuses `BPF_NOEXIST` and `BPF_EXIST` with EINVAL). The kernel writes in order and stops at
/// the first element it cannot write: the error comes back with how many were written before it
/// (`Err((written, error))`), so the caller knows which element failed.
pub fn update_all<K: Pod, V: Pod>(
    map: &MapData,
    keys: &[K],
    values: &[V],
) -> Result<(), (usize, io::Error)> {
    assert_eq!(keys.len(), values.len(), "one value a key");
    let fd = map.fd().as_fd().as_raw_fd();
    let mut done = 0;
    while done < keys.len() {
        let n = (keys.len() - done).min(BATCH);
        let mut attr = BatchAttr {
            keys: keys[done..].as_ptr() as u64,
            values: values[done..].as_ptr() as u64,
            count: n as u32,
            map_fd: fd as u32,
            ..Default::default()
        };
        // SAFETY: `attr` is the batch member of `union bpf_attr` with its size; the kernel
        // reads `count` keys and values from slices holding at least that many, and writes
        // back only `count`.
        let rc = unsafe {
            libc::syscall(
                libc::SYS_bpf,
                BPF_MAP_UPDATE_BATCH,
                &mut attr as *mut BatchAttr,
                core::mem::size_of::<BatchAttr>(),
            )
        };
        if rc < 0 {
            let e = io::Error::last_os_error();
            return Err((done + (attr.count as usize).min(n), e));
        }
        done += n;
    }
    Ok(())
}

/// Writes existing entries of a hash map (`BPF_EXIST`): by batches, key by key from the first
/// element a batch could not write (a kernel without batch updates, an entry removed since the
/// caller looked). Returns, for each entry, whether it was written; an entry that no longer
/// exists is not brought back by the key-by-key part.
pub fn update_existing<K: Pod, V: Pod>(
    map: &mut HashMap<MapData, K, V>,
    keys: &[K],
    values: &[V],
) -> Vec<bool> {
    let from = match update_all(map.map(), keys, values) {
        Ok(()) => return vec![true; keys.len()],
        Err((written, e)) => {
            tracing::debug!(error = %e, written, "batch update stopped; writing key by key");
            written
        }
    };
    let mut out = vec![true; from];
    for (k, v) in keys[from..].iter().zip(&values[from..]) {
        out.push(map.insert(k, v, BPF_EXIST).is_ok());
    }
    out
}

/// `BPF_EXIST` (include/uapi/linux/bpf.h): update an element only if it exists.
pub const BPF_EXIST: u64 = 2;
/// `BPF_NOEXIST`: create an element only if it does not exist.
pub const BPF_NOEXIST: u64 = 1;
