//! A control connection's frame as `lb` hands it to the helper: Ethernet (up to two VLAN
//! tags), IPv4 (any header length) or IPv6 (TCP right after the fixed header), TCP. Its
//! addresses, ports and MACs are already those it leaves with; the helper changes the TCP
//! payload, sequence and acknowledgement numbers, and then the lengths and checksums
//! (recomputed whole: a control segment is short).

use std::net::IpAddr;

const ETH_HLEN: usize = 14;
const ETH_P_IP: u16 = 0x0800;
const ETH_P_IPV6: u16 = 0x86dd;
const ETH_P_8021Q: u16 = 0x8100;
const ETH_P_8021AD: u16 = 0x88a8;
const PROTO_TCP: u8 = 6;

/// Why a frame is sent on as it came.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum NotTcp {
    #[error("not IPv4 or IPv6 over Ethernet")]
    NotIp,
    #[error("not TCP (or TCP behind IPv6 extension headers)")]
    NotTcp,
    #[error("truncated or inconsistent headers")]
    Truncated,
}

/// Where the parts of a TCP frame lie.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TcpFrame {
    /// The IP header's offset.
    pub ip: usize,
    pub v6: bool,
    /// The TCP header's offset and length.
    pub tcp: usize,
    pub tcp_len: usize,
    /// The end of the IP packet (the frame may be padded beyond it).
    pub end: usize,
    pub src: IpAddr,
    pub dst: IpAddr,
    pub sport: u16,
    pub dport: u16,
}

fn be16(b: &[u8], at: usize) -> u16 {
    u16::from_be_bytes([b[at], b[at + 1]])
}

fn be32(b: &[u8], at: usize) -> u32 {
    u32::from_be_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

impl TcpFrame {
    pub fn parse(f: &[u8]) -> Result<Self, NotTcp> {
        let mut at = ETH_HLEN - 2;
        let mut tags = 0;
        let ethertype = loop {
            let t = be16(f.get(at..at + 2).ok_or(NotTcp::Truncated)?, 0);
            if (t == ETH_P_8021Q || t == ETH_P_8021AD) && tags < 2 {
                tags += 1;
                at += 4;
                continue;
            }
            break t;
        };
        let ip = at + 2;
        let (v6, tcp, end, src, dst) = match ethertype {
            ETH_P_IP => {
                let h = f.get(ip..ip + 20).ok_or(NotTcp::Truncated)?;
                if h[0] >> 4 != 4 || h[9] != PROTO_TCP {
                    return Err(NotTcp::NotTcp);
                }
                let ihl = (h[0] & 0x0f) as usize * 4;
                let total = be16(h, 2) as usize;
                // A fragment never reaches the helper whole; leave it alone.
                if be16(h, 6) & 0x3fff != 0 {
                    return Err(NotTcp::NotTcp);
                }
                let src = IpAddr::from([h[12], h[13], h[14], h[15]]);
                let dst = IpAddr::from([h[16], h[17], h[18], h[19]]);
                (false, ip + ihl, ip + total, src, dst)
            }
            ETH_P_IPV6 => {
                let h = f.get(ip..ip + 40).ok_or(NotTcp::Truncated)?;
                if h[6] != PROTO_TCP {
                    return Err(NotTcp::NotTcp);
                }
                let a: [u8; 16] = h[8..24].try_into().expect("16 bytes");
                let b: [u8; 16] = h[24..40].try_into().expect("16 bytes");
                (
                    true,
                    ip + 40,
                    ip + 40 + be16(h, 4) as usize,
                    IpAddr::from(a),
                    IpAddr::from(b),
                )
            }
            _ => return Err(NotTcp::NotIp),
        };
        let t = f.get(tcp..tcp + 20).ok_or(NotTcp::Truncated)?;
        let tcp_len = (t[12] >> 4) as usize * 4;
        if tcp_len < 20 || end > f.len() || tcp + tcp_len > end {
            return Err(NotTcp::Truncated);
        }
        Ok(TcpFrame {
            ip,
            v6,
            tcp,
            tcp_len,
            end,
            src,
            dst,
            sport: be16(t, 0),
            dport: be16(t, 2),
        })
    }

    /// The TCP payload's range in the frame.
    pub fn payload(&self) -> std::ops::Range<usize> {
        self.tcp + self.tcp_len..self.end
    }

    pub fn seq(&self, f: &[u8]) -> u32 {
        be32(f, self.tcp + 4)
    }

    pub fn ack(&self, f: &[u8]) -> u32 {
        be32(f, self.tcp + 8)
    }

    /// Whether the segment carries an acknowledgement (ACK set).
    pub fn has_ack(&self, f: &[u8]) -> bool {
        f[self.tcp + 13] & 0x10 != 0
    }

    pub fn set_seq(&self, f: &mut [u8], v: u32) {
        f[self.tcp + 4..self.tcp + 8].copy_from_slice(&v.to_be_bytes());
    }

    pub fn set_ack(&self, f: &mut [u8], v: u32) {
        f[self.tcp + 8..self.tcp + 12].copy_from_slice(&v.to_be_bytes());
    }

    /// Replaces `range` of the payload (frame offsets) with `with`: the frame is cut to the
    /// IP packet's end, the IP length follows; checksums are left to [`TcpFrame::finish`].
    pub fn splice(&mut self, f: &mut Vec<u8>, range: std::ops::Range<usize>, with: &[u8]) {
        f.truncate(self.end);
        f.splice(range.clone(), with.iter().copied());
        let grown = with.len() as isize - range.len() as isize;
        self.end = (self.end as isize + grown) as usize;
        if self.v6 {
            let len = (self.end - self.ip - 40) as u16;
            f[self.ip + 4..self.ip + 6].copy_from_slice(&len.to_be_bytes());
        } else {
            let len = (self.end - self.ip) as u16;
            f[self.ip + 2..self.ip + 4].copy_from_slice(&len.to_be_bytes());
        }
    }

    /// Recomputes the IPv4 header checksum and the TCP checksum.
    pub fn finish(&self, f: &mut [u8]) {
        if !self.v6 {
            let ihl = self.tcp - self.ip;
            f[self.ip + 10..self.ip + 12].fill(0);
            let c = fold(sum(&f[self.ip..self.ip + ihl], 0));
            f[self.ip + 10..self.ip + 12].copy_from_slice(&(!c).to_be_bytes());
        }
        f[self.tcp + 16..self.tcp + 18].fill(0);
        let seg_len = self.end - self.tcp;
        let mut s = match (self.src, self.dst) {
            (IpAddr::V4(a), IpAddr::V4(b)) => sum(&b.octets(), sum(&a.octets(), 0)),
            (a, b) => sum(&octets(b), sum(&octets(a), 0)),
        };
        s += PROTO_TCP as u32 + seg_len as u32;
        let c = fold(sum(&f[self.tcp..self.end], s));
        f[self.tcp + 16..self.tcp + 18].copy_from_slice(&(!c).to_be_bytes());
    }
}

fn octets(a: IpAddr) -> [u8; 16] {
    match a {
        IpAddr::V4(a) => a.to_ipv6_mapped().octets(),
        IpAddr::V6(a) => a.octets(),
    }
}

/// The one's-complement sum of `b` as 16-bit words (RFC 1071), added to `acc`.
fn sum(b: &[u8], mut acc: u32) -> u32 {
    let mut chunks = b.chunks_exact(2);
    for c in &mut chunks {
        acc += u16::from_be_bytes([c[0], c[1]]) as u32;
        acc = (acc & 0xffff) + (acc >> 16);
    }
    if let [last] = chunks.remainder() {
        acc += (*last as u32) << 8;
    }
    acc
}

fn fold(mut s: u32) -> u16 {
    while s >> 16 != 0 {
        s = (s & 0xffff) + (s >> 16);
    }
    s as u16
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 1071 checksum, written out again here (not the module's `sum`/`fold`).
    fn csum(parts: &[&[u8]]) -> u16 {
        let bytes: Vec<u8> = parts.concat();
        let mut s: u64 = 0;
        for (i, b) in bytes.iter().enumerate() {
            s += if i % 2 == 0 {
                (*b as u64) << 8
            } else {
                *b as u64
            };
        }
        while s > 0xffff {
            s = (s & 0xffff) + (s >> 16);
        }
        !(s as u16)
    }

    /// An Ethernet + IPv4 + TCP frame with `payload`, one VLAN tag, and 4 bytes of padding.
    fn frame(payload: &[u8]) -> Vec<u8> {
        let mut f = vec![0u8; 12];
        f.extend_from_slice(&[0x81, 0x00, 0x00, 0x07, 0x08, 0x00]);
        let total = 20 + 20 + payload.len();
        let mut ip = vec![
            0x45,
            0,
            (total >> 8) as u8,
            total as u8,
            0,
            1,
            0x40,
            0,
            64,
            6,
            0,
            0,
        ];
        ip.extend_from_slice(&[198, 18, 1, 100, 198, 18, 0, 10]);
        let mut tcp = vec![
            0, 21, 0xc3, 0x50, 0, 0, 0x03, 0xe8, 0, 0, 0, 1, 0x50, 0x18, 0xff, 0xff,
        ];
        tcp.extend_from_slice(&[0, 0, 0, 0]);
        f.extend_from_slice(&ip);
        f.extend_from_slice(&tcp);
        f.extend_from_slice(payload);
        f.extend_from_slice(&[0xee; 4]);
        f
    }

    fn check(f: &[u8], payload: &[u8]) {
        let ip = &f[18..38];
        assert_eq!(csum(&[ip]), 0, "IPv4 header checksum");
        let total = u16::from_be_bytes([ip[2], ip[3]]) as usize;
        assert_eq!(total, 40 + payload.len());
        let seg = &f[38..18 + total];
        assert_eq!(&seg[20..], payload);
        let len = (seg.len() as u16).to_be_bytes();
        let pseudo = [&ip[12..20], &[0, 6], &len[..]].concat();
        assert_eq!(csum(&[&pseudo, seg]), 0, "TCP checksum");
    }

    #[test]
    fn a_spliced_payload_gets_its_lengths_and_checksums() {
        let old = b"227 Entering Passive Mode (198,18,0,11,234,96).\r\n";
        let mut f = frame(old);
        let mut t = TcpFrame::parse(&f).unwrap();
        assert_eq!((t.ip, t.tcp, t.sport, t.dport), (18, 38, 21, 50000));
        assert_eq!(&f[t.payload()], old);
        assert_eq!(t.seq(&f), 1000);
        let p = t.payload().start;
        t.splice(&mut f, p + 27..p + 45, b"198,18,1,100,234,96");
        t.set_seq(&mut f, 1004);
        t.finish(&mut f);
        check(&f, b"227 Entering Passive Mode (198,18,1,100,234,96).\r\n");
        assert_eq!(TcpFrame::parse(&f).unwrap().seq(&f), 1004);
        // Odd length, shorter than before.
        let mut g = frame(old);
        let mut t = TcpFrame::parse(&g).unwrap();
        let p = t.payload().start;
        t.splice(&mut g, p..p + 4, b"2");
        t.finish(&mut g);
        check(&g, b"2Entering Passive Mode (198,18,0,11,234,96).\r\n");
    }

    #[test]
    fn what_is_not_tcp_over_ip_is_left_alone() {
        let mut f = frame(b"x");
        f[27] = 17;
        assert_eq!(TcpFrame::parse(&f), Err(NotTcp::NotTcp));
        let mut g = frame(b"x");
        g[16] = 0x08;
        g[17] = 0x06;
        assert_eq!(TcpFrame::parse(&g), Err(NotTcp::NotIp));
        assert_eq!(TcpFrame::parse(&frame(b"x")[..40]), Err(NotTcp::Truncated));
    }
}
