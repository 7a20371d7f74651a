//! Indices of the per-CPU counter array [`crate::map_name::REASONS`]: one counter per verdict
//! and per pass or drop reason, bumped once for every packet `lb` or `decap` sees. Written by
//! the XDP programs, read by lbd (metrics, `lbctl status`).
//!
//! A reason's number says what the program did: `PASS_*` handed the packet to the host stack
//! untouched, `DROP_*` dropped it, `TX_*`/`REDIRECT_*` forwarded it.

/// Not IPv4 (or IPv6 when the program does not handle it yet): not ours.
pub const PASS_NOT_IP: u32 = 0;
/// IP, but not for any VIP (address, port, protocol): the host stack's.
pub const PASS_NOT_VIP: u32 = 1;
/// IP protocol other than TCP, UDP, SCTP or ICMP.
pub const PASS_NOT_L4: u32 = 2;
/// Shorter than an Ethernet header.
pub const PASS_SHORT_ETH: u32 = 3;
/// Shorter than the IP header it announces, or an IPv4 IHL below 5.
pub const PASS_BAD_IP_HEADER: u32 = 4;
/// A non-first IP fragment whose first fragment was not seen (or was seen more than
/// `FRAG_TIMEOUT_NS` ago): not for a VIP, or arrived before its first fragment. The host
/// stack gets it (it owns the datagram when it is not for a VIP; otherwise its reassembly
/// times out without effect). Also an ICMP fragment (echo requests that large are the host's)
/// and any SCTP fragment (SCTP fragments its messages itself, RFC 9260 6.9; a CRC32c over a
/// datagram lb sees only part of cannot be updated).
pub const PASS_FRAGMENT: u32 = 5;
/// Too short for the TCP/UDP ports.
pub const PASS_SHORT_L4: u32 = 6;
/// Forwarded back out of the interface it came in on.
pub const TX: u32 = 7;
/// Forwarded out of another interface.
pub const REDIRECT: u32 = 8;
/// The service has no real server to schedule to (empty table or unset slot).
pub const DROP_NO_REAL: u32 = 9;
/// A table or connection entry named a real-server id with no real server behind it.
pub const DROP_BAD_REAL: u32 = 10;
/// `bpf_xdp_adjust_head` failed (no headroom for the outer header).
pub const DROP_NO_HEADROOM: u32 = 11;
/// The kernel has no route to the real server.
pub const DROP_FIB_NO_ROUTE: u32 = 12;
/// The route exists but the next hop's MAC is unknown (no neighbour entry yet): `dr`,
/// `tun` and ICMP; a `nat` packet goes to the kernel instead ([`PASS_NO_NEIGH`]).
pub const DROP_FIB_NO_NEIGH: u32 = 13;
/// Encapsulation would exceed the egress MTU and the packet is an IPv4 one that may be
/// fragmented (XDP cannot fragment).
pub const DROP_TOO_BIG: u32 = 14;
/// The real server's forwarding method or family is not implemented by this build.
pub const DROP_UNSUPPORTED_METHOD: u32 = 15;
/// The director's own address for this family is not configured.
pub const DROP_NO_SOURCE_ADDR: u32 = 16;
/// A new connection could not be inserted in the connection table (it is still forwarded).
pub const CONN_INSERT_FAILED: u32 = 17;
/// Informational: a packet matched an existing connection.
pub const CONN_HIT: u32 = 18;
/// Informational: a packet started a new connection.
pub const CONN_NEW: u32 = 19;
/// decap: a tunnelled packet (IPIP, IPv6 in IPv4, IPv4 or IPv6 in IPv6) was stripped and
/// passed to the host stack.
pub const DECAP_STRIPPED: u32 = 20;
/// decap: not encapsulated, passed untouched.
pub const DECAP_PASS: u32 = 21;
/// decap: encapsulated but malformed (truncated inner header): passed untouched.
pub const DECAP_BAD: u32 = 22;
/// Forwarding is disabled on the ingress interface (`net.ipv4.conf.IF.forwarding=0`), so the
/// kernel refuses the next-hop lookup; lbd enables it at start.
pub const DROP_FIB_FWD_DISABLED: u32 = 23;
/// A `nat` reply from a real server, rewritten back to the VIP and forwarded.
pub const NAT_REPLY: u32 = 24;
/// `dr`: the real server is not on a directly connected network (the FIB names a gateway);
/// direct routing needs the real server on the director's link.
pub const DROP_DR_NOT_ONLINK: u32 = 25;
/// `nat`: the TTL would reach 0; the host stack gets the packet (and sends ICMP time exceeded).
pub const PASS_TTL_EXCEEDED: u32 = 26;
/// IPv6 with more extension headers than `lb` walks (6) before the transport header.
pub const PASS_IPV6_EXT_LIMIT: u32 = 27;
/// An IPv4 header whose checksum does not verify.
pub const PASS_BAD_IP_CHECKSUM: u32 = 28;
/// An ICMP / ICMPv6 echo request to a VIP, answered by the director.
pub const ICMP_ECHO_REPLY: u32 = 29;
/// An ICMP error about a connection to a VIP, forwarded to that connection's real server.
pub const ICMP_ERROR_FORWARDED: u32 = 30;
/// ICMP that is not for a VIP, or of a kind lb leaves to the host stack.
pub const PASS_ICMP: u32 = 31;
/// An ICMP error about a VIP that matches no connection or service.
pub const PASS_ICMP_NO_FLOW: u32 = 32;
/// A packet too big once encapsulated, answered with ICMP "fragmentation needed" (IPv4 with
/// DF) or ICMPv6 "packet too big" so that the client lowers its packet size.
pub const ICMP_TOO_BIG_SENT: u32 = 33;
/// Informational: a new connection followed its client's persistence template.
pub const PERSIST_HIT: u32 = 34;
/// A frame with more than two VLAN tags: the host stack's.
pub const PASS_VLAN_DEPTH: u32 = 35;
/// A VLAN-tagged frame whose next hop is another interface (the VLAN device) was sent back
/// out of the interface it came in on, tagged as it came (see `vlan.rs`).
pub const TX_VLAN_REDIRECT: u32 = 36;
/// Informational: the first fragment of a datagram was scheduled and its real server
/// remembered for the later fragments.
pub const FRAG_FIRST: u32 = 37;
/// Informational: a later fragment followed its first fragment to the same real server (or,
/// for a `nat` reply, back to the client).
pub const FRAG_FOLLOWED: u32 = 38;
/// An ICMP error a `nat` real server sent about one of its connections, rewritten to come
/// from the VIP and sent to the client.
pub const ICMP_NAT_REPLY: u32 = 39;
/// Informational: a flow's second packet from the client confirmed it: its entry moved from
/// the unconfirmed table into the connection table.
pub const CONN_PROMOTED: u32 = 40;
/// Informational: a first packet took the slot of an older unconfirmed flow (the oldest of
/// its bucket), which is forgotten: its next packet is a new flow.
pub const CONN_NEW_EVICTED: u32 = 41;
/// The connection table is full: a flow's second packet could not confirm it (it stays in
/// the unconfirmed table while its slot lives; it is still forwarded).
pub const CONN_TABLE_FULL: u32 = 42;
/// Informational: flood mode (more new connections per second on this CPU than
/// `flood_rate`): a new connection of a hash-scheduled service (`sh`, `dh`, `mh`) was
/// forwarded by the hash alone and recorded nowhere.
pub const CONN_FLOOD: u32 = 43;
/// Informational: a SYN of a connection in TIME_WAIT or CLOSE (with `conn_reuse_mode` 2, a
/// `dr` / `tun` one in FIN_WAIT too) ended it and started a new connection, scheduled and
/// counted anew (IPVS's `conn_reuse_mode`).
pub const CONN_REUSED: u32 = 44;
/// Informational: a TCP packet other than a SYN, of a flow lb does not hold, was scheduled as
/// a new connection (hash schedulers always; the others with `sloppy_tcp`).
pub const TCP_MID_FLOW: u32 = 45;
/// A TCP packet other than a SYN, of a flow lb does not hold, for a service whose scheduler
/// would pick a real server that knows nothing of it (every scheduler but `sh`, `dh`, `mh`,
/// without `sloppy_tcp`; a RST for all of them): dropped.
pub const DROP_TCP_MID_FLOW: u32 = 46;
/// Informational: an unconfirmed slot was being rewritten by another CPU when read (its check
/// word did not match): taken as no entry.
pub const CONN_NEW_TORN: u32 = 47;
/// The FIB has a route but no neighbour entry for the next hop (a client's entry flushed by
/// a link flap, a real server not resolved yet): the `nat` packet was rewritten (its TTL left
/// to the kernel) and handed to the kernel, which resolves the neighbour and forwards it.
pub const PASS_NO_NEIGH: u32 = 48;
/// A packet of an FTP control connection (to or from a `nat` real server's control port),
/// rewritten for its next hop, handed to lbd's FTP helper (which sends it on).
pub const FTP_HELPER: u32 = 49;
/// Informational: a new flow was the data connection lbd's FTP helper expected (a passive
/// port the real server announced, or an active one the client did).
pub const FTP_DATA: u32 = 50;
/// Informational: a TCP/UDP checksum its sender left for the hardware to finish (the field
/// held the pseudo-header's sum: a veth sender with checksum offload, or GSO on the way) was
/// finished by `lb` before it sent the packet on.
pub const CSUM_COMPLETED: u32 = 51;
/// A unicast frame to another MAC address than the interface's (a switch flooding a frame
/// meant for another host, a bridge port): not for this host, handed to the kernel, which
/// drops it, as it does before IPVS would see it.
pub const PASS_OTHER_HOST: u32 = 52;
/// A `tun` packet too big for the path, IPv4 without DF: tunnelled with the outer DF clear
/// (copied from the inner header, RFC 2003 3.1) and handed to the kernel, which fragments the
/// outer packet as it forwards it.
pub const PASS_TUN_FRAGMENT: u32 = 53;
/// Informational: an SCTP packet whose first chunk is no INIT, of an association lb does not
/// hold, was scheduled as a new association (hash schedulers always; the others with
/// `sloppy_sctp`).
pub const SCTP_MID_FLOW: u32 = 54;
/// An SCTP packet whose first chunk is no INIT, of an association lb does not hold, for a
/// service whose scheduler would pick a real server that knows nothing of it (every
/// scheduler but `sh`, `dh`, `mh`, without `sloppy_sctp`; an ABORT for all of them): dropped
/// (IPVS's `sctp_conn_schedule` schedules only an INIT, or anything but an ABORT with
/// `sloppy_sctp`).
pub const DROP_SCTP_MID_FLOW: u32 = 55;
/// A connection change `lb` could not report to lbd's sync sender (`lb_sync_events` was
/// full): the sender reads the whole table once more instead.
pub const SYNC_EVENT_LOST: u32 = 56;
/// The first packet of a `nat` connection of a firewall-mark service, whose destination
/// could not be kept ([`crate::map_name::NAT_DESTS`] was full): dropped, so that no reply
/// leaves from an address the client did not use (the client sends it again).
pub const DROP_NAT_DEST_FULL: u32 = 57;
/// A reply (or an ICMP error) of a `nat` connection of a firewall-mark service whose kept
/// destination is gone: dropped, as no source address to give it is known.
pub const DROP_NAT_NO_DEST: u32 = 58;
/// `lb` could not hand the packet to the program of its next stage (`lb_new`, `lb_xmit`):
/// its slot in the tail-call map was empty. lbd fills every slot before it attaches `lb`, so
/// this counts a defect.
pub const DROP_TAIL_CALL: u32 = 59;
/// One past the last reason: the size of the counter array.
pub const REASON_MAX: u32 = 60;

/// Names for metrics and listings, indexed by reason.
pub const REASON_NAMES: [&str; REASON_MAX as usize] = [
    "pass_not_ip",
    "pass_not_vip",
    "pass_not_l4",
    "pass_short_eth",
    "pass_bad_ip_header",
    "pass_fragment",
    "pass_short_l4",
    "tx",
    "redirect",
    "drop_no_real",
    "drop_bad_real",
    "drop_no_headroom",
    "drop_fib_no_route",
    "drop_fib_no_neigh",
    "drop_too_big",
    "drop_unsupported_method",
    "drop_no_source_addr",
    "conn_insert_failed",
    "conn_hit",
    "conn_new",
    "decap_stripped",
    "decap_pass",
    "decap_bad",
    "drop_fib_fwd_disabled",
    "nat_reply",
    "drop_dr_not_onlink",
    "pass_ttl_exceeded",
    "pass_ipv6_ext_limit",
    "pass_bad_ip_checksum",
    "icmp_echo_reply",
    "icmp_error_forwarded",
    "pass_icmp",
    "pass_icmp_no_flow",
    "icmp_too_big_sent",
    "persist_hit",
    "pass_vlan_depth",
    "tx_vlan_redirect",
    "frag_first",
    "frag_followed",
    "icmp_nat_reply",
    "conn_promoted",
    "conn_new_evicted",
    "conn_table_full",
    "conn_flood",
    "conn_reused",
    "tcp_mid_flow",
    "drop_tcp_mid_flow",
    "conn_new_torn",
    "pass_no_neigh",
    "ftp_helper",
    "ftp_data",
    "csum_completed",
    "pass_other_host",
    "pass_tun_fragment",
    "sctp_mid_flow",
    "drop_sctp_mid_flow",
    "sync_event_lost",
    "drop_nat_dest_full",
    "drop_nat_no_dest",
    "drop_tail_call",
];
