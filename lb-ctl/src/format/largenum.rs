//! `print_largenum`: counters in a listing.

/// `print_largenum`: a counter in a 9-column field, abbreviated past 8 digits.
///
/// ```c
/// if (format & FMT_EXACT) {
///         len = snprintf(mytmp, 32, "%llu", i);
///         printf("%*llu", len <= 8 ? 9 : len + 1, i);
///         return;
/// }
/// if (i < 100000000)                    printf("%9llu", i);
/// else if (i < 1000000000)              printf("%8lluK", i / 1000);
/// else if (i < 100000000000ULL)         printf("%8lluM", i / 1000000);
/// else if (i < 100000000000000ULL)      printf("%8lluG", i / 1000000000ULL);
/// else                                  printf("%8lluT", i / 1000000000000ULL);
/// ```
pub fn largenum(i: u64, exact: bool) -> String {
    if exact {
        let digits = i.to_string();
        let width = if digits.len() <= 8 {
            9
        } else {
            digits.len() + 1
        };
        return format!("{digits:>width$}");
    }
    if i < 100_000_000 {
        format!("{i:>9}")
    } else if i < 1_000_000_000 {
        format!("{:>8}K", i / 1_000)
    } else if i < 100_000_000_000 {
        format!("{:>8}M", i / 1_000_000)
    } else if i < 100_000_000_000_000 {
        format!("{:>8}G", i / 1_000_000_000)
    } else {
        format!("{:>8}T", i / 1_000_000_000_000)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn largenum_boundaries() {
        let cases: [(u64, &str); 12] = [
            (0, "        0"),
            (99_999_999, " 99999999"),
            (100_000_000, "  100000K"),
            (999_999_999, "  999999K"),
            (1_000_000_000, "    1000M"),
            (99_999_999_999, "   99999M"),
            (100_000_000_000, "     100G"),
            (99_999_999_999_999, "   99999G"),
            (100_000_000_000_000, "     100T"),
            (u64::MAX, "18446744T"),
            (1_500_000, "  1500000"),
            (123_456_789, "  123456K"),
        ];
        for (n, want) in cases {
            let got = largenum(n, false);
            assert_eq!(got, want, "{n}");
        }
        assert_eq!(largenum(0, true), "        0");
        assert_eq!(largenum(12_345_678, true), " 12345678");
        assert_eq!(largenum(123_456_789, true), " 123456789");
        assert_eq!(largenum(u64::MAX, true), " 18446744073709551615");
    }
}
