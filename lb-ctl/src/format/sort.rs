//! The order ipvsadm lists services and real servers in: `ipvs_sort_services` and
//! `ipvs_sort_dests` with `ipvs_cmp_services` and `ipvs_cmp_dests` (`libipvs.c`), through
//! glibc's `qsort`.

use std::net::IpAddr;

use lb_model::api::{RealServerView, ServiceView};

use super::names::protocol_number;

/// The services in ipvsadm's order: `ipvs_sort_services(get, ipvs_cmp_services)` unless
/// `--nosort`, which keeps lbd's order, the order they were added in (the kernel's is that of
/// its hash table's buckets, and `ip_vs_svc_hashkey` mixes in the kernel address of the
/// namespace's IPVS state: no order lbd could reproduce).
pub(super) fn sorted(services: &[ServiceView], nosort: bool) -> Vec<&ServiceView> {
    let mut order: Vec<&ServiceView> = services.iter().collect();
    if !nosort {
        glibc_qsort(&mut order, &|a, b| cmp_services(a, b));
    }
    order
}

/// A service's real servers in ipvsadm's order: `ipvs_sort_dests(d, ipvs_cmp_dests)`, or with
/// `--nosort` the kernel's own, newest first: IPVS adds a destination at the head of its
/// service's list (`list_add_rcu` in `__ip_vs_update_dest`; an edit keeps its place), and lbd
/// lists them in the order they were added, so the kernel's is that order reversed.
pub(super) fn sorted_dests(svc: &ServiceView, nosort: bool) -> Vec<&RealServerView> {
    let mut dests: Vec<&RealServerView> = svc.real_servers.iter().collect();
    if nosort {
        dests.reverse();
    } else {
        glibc_qsort(&mut dests, &|a, b| cmp_dests(a, b));
    }
    dests
}

/// An address as libipvs holds it (`union nf_inet_addr`, zeroed around an IPv4 address), as
/// the four 32-bit words ipvsadm compares, in host order (`ntohl`).
fn addr_words(addr: &IpAddr) -> [u32; 4] {
    match addr {
        IpAddr::V4(a) => [u32::from(*a), 0, 0, 0],
        IpAddr::V6(a) => {
            let o = a.octets();
            std::array::from_fn(|i| {
                u32::from_be_bytes([o[4 * i], o[4 * i + 1], o[4 * i + 2], o[4 * i + 3]])
            })
        }
    }
}

/// C's `int r = ntohl(a) - ntohl(b);`: the unsigned difference, wrapped into an `int`.
fn wrapped_diff(a: u32, b: u32) -> i32 {
    a.wrapping_sub(b) as i32
}

/// The address comparison of `ipvs_cmp_services` and `ipvs_cmp_dests`, decided by the first
/// operand's family:
///
/// ```c
/// if (d1->af == AF_INET6)
///         for (i = 0; !r && (i < 4); i++)
///                 r = ntohl(d1->addr.in6.s6_addr32[i]) - ntohl(d2->addr.in6.s6_addr32[i]);
/// else
///         r = ntohl(d1->addr.ip) - ntohl(d2->addr.ip);
/// ```
fn cmp_addr(a: &IpAddr, b: &IpAddr) -> i32 {
    let (wa, wb) = (addr_words(a), addr_words(b));
    let words = if a.is_ipv6() { 4 } else { 1 };
    (0..words)
        .map(|i| wrapped_diff(wa[i], wb[i]))
        .find(|&r| r != 0)
        .unwrap_or(0)
}

/// `AF_INET` (2) or `AF_INET6` (10).
fn af(addr: &IpAddr) -> i32 {
    if addr.is_ipv6() { 10 } else { 2 }
}

/// `ipvs_cmp_services`, exactly: firewall mark, family, protocol number, address, port, each
/// a C `int` difference.
///
/// The address words are subtracted as unsigned numbers and the difference taken as an
/// `int`, so addresses more than 2^31 apart compare the "wrong" way round (ipvsadm lists
/// 192.168.0.1 before 10.0.0.1, since 0x0a000001 - 0xc0a80001 wraps to a positive `int`);
/// lbctl reproduces that, and the order glibc's `qsort` makes of it ([`glibc_qsort`]).
fn cmp_services(a: &ServiceView, b: &ServiceView) -> i32 {
    let mark = |s: &ServiceView| s.fwmark.unwrap_or(0);
    let r = wrapped_diff(mark(a), mark(b));
    if r != 0 {
        return r;
    }
    let r = af(&a.vip) - af(&b.vip);
    if r != 0 {
        return r;
    }
    let r = i32::from(protocol_number(&a.protocol)) - i32::from(protocol_number(&b.protocol));
    if r != 0 {
        return r;
    }
    let r = cmp_addr(&a.vip, &b.vip);
    if r != 0 {
        return r;
    }
    i32::from(a.port) - i32::from(b.port)
}

/// `ipvs_cmp_dests`, exactly: address (with [`cmp_services`]'s wrap-around; the families are
/// not compared, the first operand's decides how many words count), then port.
fn cmp_dests(a: &RealServerView, b: &RealServerView) -> i32 {
    let r = cmp_addr(&a.address, &b.address);
    if r != 0 {
        return r;
    }
    i32::from(a.port) - i32::from(b.port)
}

/// glibc's `qsort`, which is a merge sort (`msort_with_tmp`: the first half, `n / 2`
/// elements, and the second sorted, then merged taking from the first half while
/// `cmp(first, second) <= 0`). ipvsadm's comparisons are not a total order (see
/// [`cmp_services`]), so the order depends on the algorithm: this is glibc's, for the same
/// result. (Rust's own sort may panic on such a comparison.)
fn glibc_qsort<T: Copy>(v: &mut [T], cmp: &dyn Fn(T, T) -> i32) {
    let n = v.len();
    if n <= 1 {
        return;
    }
    let n1 = n / 2;
    glibc_qsort(&mut v[..n1], cmp);
    glibc_qsort(&mut v[n1..], cmp);
    let mut merged = Vec::with_capacity(n);
    let (mut i, mut j) = (0, n1);
    while i < n1 && j < n {
        if cmp(v[i], v[j]) <= 0 {
            merged.push(v[i]);
            i += 1;
        } else {
            merged.push(v[j]);
            j += 1;
        }
    }
    merged.extend_from_slice(&v[i..n1]);
    // What is left of the second half is in place already.
    v[..merged.len()].copy_from_slice(&merged);
}

#[cfg(test)]
mod tests {
    use lb_model::api::{RealServerView, ServiceView};

    use crate::format::{ListFormat, Numeric, list_all, rules};

    /// `ipvs_cmp_services` / `ipvs_cmp_dests` subtract addresses as unsigned words into an
    /// `int` (`r = ntohl(s1->addr.ip) - ntohl(s2->addr.ip)`), and `qsort` is glibc's merge
    /// sort: ipvsadm's order, not the numeric one.
    #[test]
    fn ipvsadm_sort_order_with_wrapped_differences() {
        let svc = |vip: &str, port: u16, reals: &[&str]| ServiceView {
            protocol: "tcp".into(),
            vip: vip.parse().unwrap(),
            port,
            scheduler: "rr".into(),
            real_servers: reals
                .iter()
                .map(|a| RealServerView {
                    address: a.parse().unwrap(),
                    port,
                    forwarding: "tun".into(),
                    weight: 1,
                    ..Default::default()
                })
                .collect(),
            ..Default::default()
        };
        // 0x0a000001 - 0xc0a80001 wraps to a positive int: 10.0.0.1 sorts after 192.168.0.1.
        let services = vec![
            svc("10.0.0.1", 80, &[]),
            svc("192.168.0.1", 80, &[]),
            svc("192.168.0.1", 8080, &[]),
        ];
        assert_eq!(
            list_all(&services, 4096, ListFormat::default(), &Numeric),
            "IP Virtual Server version 1.2.1 (size=4096)\n\
             Prot LocalAddress:Port Scheduler Flags\n  \
             -> RemoteAddress:Port           Forward Weight ActiveConn InActConn\n\
             TCP  192.168.0.1:80 rr\n\
             TCP  192.168.0.1:8080 rr\n\
             TCP  10.0.0.1:80 rr\n"
        );
        // 0.0.0.1 < 96.0.0.1 < 192.0.0.1 < 0.0.0.1: no total order; glibc's msort of
        // [192, 96, 0] sorts [192] and [96, 0] -> [0, 96], then merges: 192 vs 0 says
        // 192 < 0, so 192 first, then 0, 96.
        let cyclic = vec![
            svc("192.0.0.1", 1, &[]),
            svc("96.0.0.1", 1, &[]),
            svc("0.0.0.1", 1, &[]),
        ];
        assert_eq!(
            rules(&cyclic, false, &Numeric),
            "-A -t 192.0.0.1:1 -s rr\n-A -t 0.0.0.1:1 -s rr\n-A -t 96.0.0.1:1 -s rr\n"
        );
        // Real servers of both families: the first operand's family decides how many words
        // count; an IPv4 address is compared with the first 32 bits of an IPv6 one.
        let mixed = svc(
            "10.0.0.1",
            80,
            &["2001:db8::1", "10.1.0.1", "192.168.0.1", "1.0.0.0"],
        );
        assert_eq!(
            rules(&[mixed], false, &Numeric),
            "-A -t 10.0.0.1:80 -s rr\n\
             -a -t 10.0.0.1:80 -r 192.168.0.1:80 -i -w 1 --tun-type ipip\n\
             -a -t 10.0.0.1:80 -r 1.0.0.0:80 -i -w 1 --tun-type ipip\n\
             -a -t 10.0.0.1:80 -r 10.1.0.1:80 -i -w 1 --tun-type ipip\n\
             -a -t 10.0.0.1:80 -r [2001:db8::1]:80 -i -w 1 --tun-type ipip\n"
        );
        // --nosort keeps lbd's order.
        assert_eq!(
            rules(&services, true, &Numeric),
            "-A -t 10.0.0.1:80 -s rr\n-A -t 192.168.0.1:80 -s rr\n-A -t 192.168.0.1:8080 -s rr\n"
        );
    }
}
