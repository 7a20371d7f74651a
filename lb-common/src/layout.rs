//! The byte layout of every type a map holds, as this crate compiles it: name, size, and each
//! field's name, offset and size (`core::mem::offset_of!`). `lb-daemon/tests/map_layout.rs`
//! compares these with the built XDP object's own type information, and
//! [`crate::maps::layout_fingerprint`] hashes them for the layout version check.

use crate::{
    BenchState, BenchWords, ClientHop, Conn, ConnCount, ConnKey4, DecapConfig, Expect, ExpectKey,
    FlowKey, FragEntry, FragKey, GlobalConfig, IfStats, LayoutMeta, Locality, MarkAddr, MarkRule,
    MarkRules, NatDest, NewConn, NextHop, PersistKey, RealConns, RealLimits, RealServer, Service,
    Stats, Template, TraceFilter, TwosDraw, VipKey,
};

/// One field of a type.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Field {
    pub name: &'static str,
    /// Bytes from the start of the type.
    pub offset: usize,
    pub size: usize,
}

/// A type a map holds: its name (without the crate path), size and fields in declaration
/// order (no fields for an integer).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TypeLayout {
    pub name: &'static str,
    pub size: usize,
    pub fields: &'static [Field],
}

/// The size of a field, from an accessor: `field_size(|v: &T| &v.f)`.
pub const fn field_size<T, F>(_: fn(&T) -> &F) -> usize {
    core::mem::size_of::<F>()
}

/// `layout!(Type { field, ... })`: the [`TypeLayout`] of a struct; every field must be named.
macro_rules! layout {
    ($t:ident { $($f:ident),* $(,)? }) => {
        TypeLayout {
            name: stringify!($t),
            size: core::mem::size_of::<$t>(),
            fields: &[$(Field {
                name: stringify!($f),
                offset: core::mem::offset_of!($t, $f),
                size: field_size(|v: &$t| &v.$f),
            }),*],
        }
    };
}

pub const U32: TypeLayout = TypeLayout {
    name: "u32",
    size: 4,
    fields: &[],
};
pub const U64: TypeLayout = TypeLayout {
    name: "u64",
    size: 8,
    fields: &[],
};
pub const VIP_KEY: TypeLayout = layout!(VipKey {
    addr,
    port,
    proto,
    family
});
/// The data of an LPM trie key (the key is 4 bytes longer: its prefix length first).
pub const MARK_ADDR: TypeLayout = layout!(MarkAddr { family, addr });
pub const MARK_RULE: TypeLayout = layout!(MarkRule {
    mark,
    proto,
    src_len,
    _pad,
    port_lo,
    port_hi,
    src
});
pub const MARK_RULES: TypeLayout = layout!(MarkRules { count, rules });
pub const SERVICE: TypeLayout = layout!(Service {
    id,
    flags,
    sched,
    persist_prefix,
    sched_flags,
    _pad,
    table_off,
    table_len,
    persist_timeout,
});
pub const REAL_SERVER: TypeLayout = layout!(RealServer {
    addr,
    port,
    family,
    method,
    flags,
    tun_port,
    service,
    vport,
    ftp_port,
    vaddr
});
pub const FLOW_KEY: TypeLayout = layout!(FlowKey {
    src,
    dst,
    sport,
    dport,
    proto,
    family,
    _pad
});
pub const CONN_KEY4: TypeLayout = layout!(ConnKey4 {
    src,
    dst,
    sport,
    dport,
    proto,
    _pad
});
pub const CONN: TypeLayout = layout!(Conn {
    real,
    last_seen,
    state,
    flags,
    _pad
});
pub const NEW_CONN: TypeLayout = layout!(NewConn {
    flow,
    real,
    last_seen,
    state,
    flags,
    _pad,
    check
});
pub const NAT_DEST: TypeLayout = layout!(NatDest { addr, since, _pad });
pub const CONN_COUNT: TypeLayout = layout!(ConnCount { entries });
pub const TEMPLATE: TypeLayout = layout!(Template {
    real,
    service,
    last_seen_ns,
    flags,
    _pad
});
pub const REAL_CONNS: TypeLayout = layout!(RealConns { active, inactive });
pub const GLOBAL_CONFIG: TypeLayout = layout!(GlobalConfig {
    src4,
    flags,
    src6,
    mtu,
    lblcr_expiration_s,
    flood_window_max,
    _pad
});
pub const STATS: TypeLayout = layout!(Stats {
    conns,
    in_pkts,
    out_pkts,
    in_bytes,
    out_bytes
});
pub const IF_STATS: TypeLayout = layout!(IfStats {
    mac,
    counted,
    _pad,
    packets,
    bytes,
    aborted,
    drop,
    pass,
    tx,
    redirect
});
pub const NEXT_HOP: TypeLayout = layout!(NextHop {
    ifindex,
    smac,
    dmac,
    expires_ns,
    onlink,
    _pad,
    mtu,
    _pad2,
    src
});
pub const CLIENT_HOP: TypeLayout = layout!(ClientHop {
    dst,
    src,
    ifindex,
    family,
    _pad,
    nh
});
pub const REAL_LIMITS: TypeLayout = layout!(RealLimits {
    upper,
    lower,
    overloaded,
    _pad
});
pub const LOCALITY: TypeLayout = layout!(Locality {
    reals,
    count,
    _pad,
    last_use_ns,
    last_mod_ns
});
pub const TWOS_DRAW: TypeLayout = layout!(TwosDraw {
    off,
    len,
    draw1,
    draw2,
    total,
    rest1,
    rest2,
    id1,
    id2,
    weight1,
    weight2,
    overhead1,
    overhead2,
    last,
    chosen
});
pub const PERSIST_KEY: TypeLayout = layout!(PersistKey {
    service,
    family,
    _pad,
    addr
});
pub const FRAG_KEY: TypeLayout = layout!(FragKey {
    src,
    dst,
    id,
    proto,
    family,
    _pad
});
pub const FRAG_ENTRY: TypeLayout = layout!(FragEntry {
    real,
    service,
    flags,
    _pad,
    created_ns,
    vaddr
});
pub const EXPECT_KEY: TypeLayout = layout!(ExpectKey {
    client,
    vip,
    port,
    proto,
    family
});
pub const EXPECT: TypeLayout = layout!(Expect {
    real,
    _pad,
    created_ns
});
pub const TRACE_FILTER: TypeLayout = layout!(TraceFilter {
    vip,
    client,
    real,
    vip_family,
    client_family,
    _pad,
    max_per_sec,
    _pad2,
});
pub const DECAP_CONFIG: TypeLayout = layout!(DecapConfig { gue_port, _pad });
pub const BENCH_STATE: TypeLayout = layout!(BenchState {
    counter,
    mode,
    restore,
    every,
    seq,
    first_flags,
    est_base,
    est_n,
    est_i,
    table,
    redirect,
    _pad,
    head
});
pub const BENCH_WORDS: TypeLayout = layout!(BenchWords { w });
pub const LAYOUT_META: TypeLayout = layout!(LayoutMeta {
    version,
    _pad,
    fingerprint
});

/// `a == b` in a `const fn`.
pub const fn str_eq(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    if a.len() != b.len() {
        return false;
    }
    let mut i = 0;
    while i < a.len() {
        if a[i] != b[i] {
            return false;
        }
        i += 1;
    }
    true
}

/// FNV-1a (64 bits): a hash that a `const fn` can compute.
pub const FNV_OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
const FNV_PRIME: u64 = 0x0000_0100_0000_01b3;

pub const fn fnv_bytes(mut h: u64, b: &[u8]) -> u64 {
    let mut i = 0;
    while i < b.len() {
        h = (h ^ b[i] as u64).wrapping_mul(FNV_PRIME);
        i += 1;
    }
    h
}

/// A string, length first (so that two strings cannot run into each other).
pub const fn fnv_str(h: u64, s: &str) -> u64 {
    fnv_bytes(fnv_u64(h, s.len() as u64), s.as_bytes())
}

pub const fn fnv_u64(h: u64, v: u64) -> u64 {
    fnv_bytes(h, &v.to_le_bytes())
}

/// A type's name, size and fields; `None` as a type of its own.
pub const fn fnv_type(mut h: u64, t: Option<&TypeLayout>) -> u64 {
    let Some(t) = t else {
        return fnv_u64(h, u64::MAX);
    };
    h = fnv_str(h, t.name);
    h = fnv_u64(h, t.size as u64);
    h = fnv_u64(h, t.fields.len() as u64);
    let mut i = 0;
    while i < t.fields.len() {
        let f = &t.fields[i];
        h = fnv_str(h, f.name);
        h = fnv_u64(h, f.offset as u64);
        h = fnv_u64(h, f.size as u64);
        i += 1;
    }
    h
}
