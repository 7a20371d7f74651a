//! Sequence-number adjustment of a control connection whose server->client stream changed
//! length (a `227` reply rewritten to the VIP), as IPVS's `ip_vs_app.c` does it
//! (`vs_fix_seq`, `vs_fix_ack_seq`, `vs_seq_update`): the server's sequence numbers are
//! shifted by the bytes added so far on the way to the client, and the client's
//! acknowledgements shifted back on the way to the server. Segments from before the last
//! change (retransmissions) get the delta of before it.

/// TCP's sequence-space "a is after b" (RFC 793's modular comparison).
fn after(a: u32, b: u32) -> bool {
    (a.wrapping_sub(b) as i32) > 0
}

/// IPVS's `struct ip_vs_seq`, for one direction (server -> client).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SeqAdjust {
    /// The server's sequence number of the last segment whose length changed.
    init_seq: u32,
    /// Bytes added to the stream from `init_seq` on (negative: removed).
    delta: i32,
    /// The delta before the last change.
    previous_delta: i32,
    /// Whether any change happened (IPVS's `IP_VS_CONN_F_OUT_SEQ`).
    set: bool,
}

impl SeqAdjust {
    /// The sequence number a server's segment starting at `seq` has toward the client.
    pub fn seq_out(&self, seq: u32) -> u32 {
        let d = if after(seq, self.init_seq) {
            self.delta
        } else {
            self.previous_delta
        };
        seq.wrapping_add(d as u32)
    }

    /// The acknowledgement number a client's `ack` has toward the server.
    pub fn ack_in(&self, ack: u32) -> u32 {
        let d = if after(ack, self.init_seq.wrapping_add(self.delta as u32)) {
            self.delta
        } else {
            self.previous_delta
        };
        ack.wrapping_sub(d as u32)
    }

    /// The server's segment at `seq` (its own numbering) changed length by `diff` bytes.
    /// A retransmission of an earlier change is not counted again.
    pub fn changed(&mut self, seq: u32, diff: i32) {
        if !self.set || after(seq, self.init_seq) {
            self.previous_delta = self.delta;
            self.delta += diff;
            self.init_seq = seq;
            self.set = true;
        }
    }

    /// Whether no segment ever changed length (nothing to adjust).
    pub fn is_identity(&self) -> bool {
        self.delta == 0 && self.previous_delta == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn later_segments_shift_and_earlier_ones_do_not() {
        let mut s = SeqAdjust::default();
        assert!(s.is_identity());
        assert_eq!((s.seq_out(1000), s.ack_in(1000)), (1000, 1000));
        // The segment at 1000 grew by 4 bytes ("10,0,0,5" -> "198,18,1,100").
        s.changed(1000, 4);
        assert_eq!(
            s.seq_out(1000),
            1000,
            "the changed segment itself keeps its start"
        );
        assert_eq!(s.seq_out(1050), 1054, "what follows it moves on");
        // The client acknowledges the rewritten stream: back in the server's numbering.
        assert_eq!(s.ack_in(1054), 1050);
        assert_eq!(s.ack_in(1000), 1000, "an ack from before the change");
        // A retransmission of the changed segment is not counted twice.
        s.changed(1000, 4);
        assert_eq!(s.seq_out(1050), 1054);
        // A second change later: 1054 + 2.
        s.changed(2000, 2);
        assert_eq!(s.seq_out(2100), 2106);
        assert_eq!(
            s.seq_out(1500),
            1504,
            "between the changes: the first delta"
        );
        assert_eq!(s.ack_in(2106), 2100);
    }

    #[test]
    fn sequence_numbers_wrap() {
        let mut s = SeqAdjust::default();
        s.changed(u32::MAX - 10, -3);
        assert_eq!(s.seq_out(5), 2);
        assert_eq!(s.ack_in(2), 5);
    }
}
