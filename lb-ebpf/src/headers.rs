//! Every wire constant and header offset the programs use, by protocol: Ethernet and VLAN,
//! IPv4, IPv6, TCP, UDP, ICMP / ICMPv6, GRE and GUE. Offsets are bytes from the start of
//! their own header.

// Ethernet (IEEE 802.3) and 802.1Q / 802.1ad tags.
pub const ETH_HLEN: usize = 14;
/// The type field's offset (after the two MAC addresses).
pub const ETH_TYPE: usize = 12;
pub const ETH_ALEN: usize = 6;
pub const ETH_P_IP: u16 = 0x0800;
pub const ETH_P_IPV6: u16 = 0x86dd;
pub const ETH_P_8021Q: u16 = 0x8100;
pub const ETH_P_8021AD: u16 = 0x88a8;
/// Bytes of one VLAN tag (TPID + TCI).
pub const VLAN_TAG_LEN: usize = 4;

// IPv4 (RFC 791).
pub const IPV4_HLEN_MIN: usize = 20;
/// IHL is 4 bits of 32-bit words: at most 60 bytes.
pub const IPV4_HLEN_MAX: usize = 60;
pub const IP_TOS: usize = 1;
pub const IP_TOT_LEN: usize = 2;
pub const IP_ID: usize = 4;
/// Flags and fragment offset.
pub const IP_FRAG_OFF: usize = 6;
pub const IP_TTL: usize = 8;
pub const IP_PROTO: usize = 9;
pub const IP_CSUM: usize = 10;
pub const IP_SADDR: usize = 12;
pub const IP_DADDR: usize = 16;
/// "Don't fragment", "more fragments" and the offset mask, in host order of the 16-bit field.
pub const IP_DF: u16 = 0x4000;
pub const IP_MF: u16 = 0x2000;
pub const IP_OFFSET: u16 = 0x1fff;
/// IP protocol numbers of the tunnels (the transport ones are `lb_common::PROTO_*`).
pub const IPPROTO_IPIP: u8 = 4;
/// IPv6 in IP (RFC 2473 / RFC 4213).
pub const IPPROTO_IPV6: u8 = 41;
pub const IPPROTO_GRE: u8 = 47;

// IPv6 (RFC 8200).
pub const IPV6_HLEN: usize = 40;
pub const IP6_PAYLOAD_LEN: usize = 4;
pub const IP6_NEXTHDR: usize = 6;
pub const IP6_HOPLIMIT: usize = 7;
pub const IP6_SADDR: usize = 8;
pub const IP6_DADDR: usize = 24;
/// Extension headers walked to find the transport header (RFC 8200 4).
pub const NEXTHDR_HOP: u8 = 0;
pub const NEXTHDR_ROUTING: u8 = 43;
pub const NEXTHDR_FRAGMENT: u8 = 44;
pub const NEXTHDR_AUTH: u8 = 51;
pub const NEXTHDR_DEST: u8 = 60;
/// TTL / hop limit of the packets the director writes itself: echo replies and ICMP errors it
/// answers with, and the outer header of a tunnel.
pub const OWN_TTL: u8 = 64;
/// The smallest MTU IPv6 allows (RFC 8200 5).
pub const IPV6_MIN_MTU: u32 = 1280;

// TCP (RFC 9293) and UDP (RFC 768).
pub const TCP_HLEN_MIN: usize = 20;
pub const TCP_FLAGS: usize = 13;
pub const TCP_CSUM: usize = 16;
pub const TCP_FIN: u8 = 0x01;
pub const TCP_SYN: u8 = 0x02;
pub const TCP_RST: u8 = 0x04;
pub const TCP_ACK: u8 = 0x10;
pub const UDP_HLEN: usize = 8;
pub const UDP_LEN: usize = 4;
pub const UDP_CSUM: usize = 6;

// ICMP (RFC 792) and ICMPv6 (RFC 4443): type and code, checksum at 2.
pub const ICMP_HLEN: usize = 8;
pub const ICMP_CODE: usize = 1;
pub const ICMP_CSUM: usize = 2;
/// The second word: echo id and sequence, or an error's unused / MTU field.
pub const ICMP_REST: usize = 4;
/// "Fragmentation needed"'s next-hop MTU (RFC 1191), the low half of the second word.
pub const ICMP_NEXT_MTU: usize = 6;
pub const ICMP_ECHO_REPLY: u8 = 0;
pub const ICMP_DEST_UNREACH: u8 = 3;
/// Destination unreachable code 4: fragmentation needed (RFC 1191).
pub const ICMP_FRAG_NEEDED: u8 = 4;
pub const ICMP_ECHO: u8 = 8;
pub const ICMP_TIME_EXCEEDED: u8 = 11;
pub const ICMPV6_DEST_UNREACH: u8 = 1;
pub const ICMPV6_PKT_TOOBIG: u8 = 2;
pub const ICMPV6_TIME_EXCEED: u8 = 3;
pub const ICMPV6_ECHO_REQUEST: u8 = 128;
pub const ICMPV6_ECHO_REPLY: u8 = 129;

// GRE (RFC 2784, RFC 2890): flags, version, protocol type; each option 4 bytes.
pub const GRE_HLEN: usize = 4;
pub const GRE_F_CSUM: u8 = 0x80;
pub const GRE_F_ROUTING: u8 = 0x40;
pub const GRE_F_KEY: u8 = 0x20;
pub const GRE_F_SEQ: u8 = 0x10;
/// The version bits of GRE's second byte.
pub const GRE_VERSION: u8 = 0x07;
pub const GRE_OPT_LEN: usize = 4;

// GUE (draft-ietf-intarea-gue): a 4-byte header after UDP.
pub const GUE_HLEN: usize = 4;
/// UDP and GUE together, as `lb` sends them.
pub const UDP_GUE_HLEN: usize = UDP_HLEN + GUE_HLEN;
