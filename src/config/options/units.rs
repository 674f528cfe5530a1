//! The two value syntaxes of Go flags: Kubernetes resource quantities
//! ([`parse_quantity`]) and Go durations ([`parse_go_duration`], printed back
//! by [`format_go_duration`]).

use std::time::Duration;

/// Why a string is not a usable resource quantity.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum QuantityError {
    /// Not of the form `<number>[suffix]`.
    #[error("not a resource quantity (examples: 4Mi, 16M, 1048576)")]
    Malformed,
    /// Below zero.
    #[error("must not be negative")]
    Negative,
    /// Not a whole number of bytes (`1.5`, `0.1Ki`).
    #[error("not a whole number of bytes")]
    Fractional,
    /// Does not fit in 64 bits.
    #[error("too large")]
    TooLarge,
}

/// Parses a Kubernetes resource quantity into a byte count.
///
/// Accepted: a decimal number (`1048576`, `1.5`) with an optional suffix,
/// binary `Ki Mi Gi Ti Pi Ei` (powers of 1024) or decimal `k M G T P E`
/// (powers of 1000), e.g. `4Mi` = 4 194 304 and `4M` = 4 000 000. The result
/// must be a whole, non-negative number of bytes.
pub fn parse_quantity(s: &str) -> Result<u64, QuantityError> {
    let (negative, rest) = match s.as_bytes().first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    let int_len = rest.bytes().take_while(u8::is_ascii_digit).count();
    let (int_digits, rest) = rest.split_at(int_len);
    let (frac_digits, suffix) = match rest.strip_prefix('.') {
        Some(after) => after.split_at(after.bytes().take_while(u8::is_ascii_digit).count()),
        None => ("", rest),
    };
    if int_digits.is_empty() && frac_digits.is_empty() {
        return Err(QuantityError::Malformed);
    }
    let multiplier: u128 = match suffix {
        "" => 1,
        "Ki" => 1 << 10,
        "Mi" => 1 << 20,
        "Gi" => 1 << 30,
        "Ti" => 1 << 40,
        "Pi" => 1 << 50,
        "Ei" => 1 << 60,
        "k" => 1_000,
        "M" => 1_000_000,
        "G" => 1_000_000_000,
        "T" => 1_000_000_000_000,
        "P" => 1_000_000_000_000_000,
        "E" => 1_000_000_000_000_000_000,
        _ => return Err(QuantityError::Malformed),
    };

    let whole = if int_digits.is_empty() {
        0
    } else {
        int_digits
            .parse::<u128>()
            .map_err(|_| QuantityError::TooLarge)?
    };
    let mut bytes = whole
        .checked_mul(multiplier)
        .ok_or(QuantityError::TooLarge)?;

    let frac_digits = frac_digits.trim_end_matches('0');
    if !frac_digits.is_empty() {
        // No multiplier above has more than 18 factors of 2 or 5 in common
        // with 10^n beyond n = 18, so a longer fraction cannot be whole.
        if frac_digits.len() > 18 {
            return Err(QuantityError::Fractional);
        }
        let frac = frac_digits
            .parse::<u128>()
            .map_err(|_| QuantityError::Malformed)?;
        let scale = 10u128.pow(frac_digits.len() as u32);
        let scaled = frac * multiplier; // < 10^18 * 2^60, fits in u128
        if scaled % scale != 0 {
            return Err(QuantityError::Fractional);
        }
        bytes = bytes
            .checked_add(scaled / scale)
            .ok_or(QuantityError::TooLarge)?;
    }

    if negative && bytes != 0 {
        return Err(QuantityError::Negative);
    }
    u64::try_from(bytes).map_err(|_| QuantityError::TooLarge)
}

/// Why a string is not a Go duration.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum DurationError {
    /// Not of the form `<number><unit>…`.
    #[error("not a duration (examples: 5s, 1m30s, 500ms)")]
    Malformed,
    /// A number without a unit (other than a lone `0`).
    #[error("missing unit in duration (ns, us, ms, s, m or h)")]
    MissingUnit,
    /// A unit Go does not know.
    #[error("unknown unit {0:?} in duration (ns, us, ms, s, m or h)")]
    UnknownUnit(String),
    /// Beyond Go's range of about 292 years.
    #[error("duration out of range")]
    Overflow,
    /// Below zero where only non-negative durations make sense.
    #[error("must not be negative")]
    Negative,
}

/// Parses a non-negative Go duration string (`time.ParseDuration` syntax).
///
/// A duration is an optional sign and one or more `<decimal><unit>` parts:
/// `300ms`, `1.5h`, `2h45m`, `.5s`; units `ns`, `us` (or `µs`), `ms`, `s`,
/// `m`, `h`. A lone `0` needs no unit. `-0s` is zero; any other negative
/// duration is [`DurationError::Negative`].
pub fn parse_go_duration(s: &str) -> Result<Duration, DurationError> {
    match parse_signed_duration(s)? {
        (true, d) if !d.is_zero() => Err(DurationError::Negative),
        (_, d) => Ok(d),
    }
}

/// Parses a Go duration into `(is_negative, magnitude)`.
pub(super) fn parse_signed_duration(s: &str) -> Result<(bool, Duration), DurationError> {
    let (negative, mut rest) = match s.as_bytes().first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    if rest == "0" {
        return Ok((negative, Duration::ZERO));
    }
    if rest.is_empty() {
        return Err(DurationError::Malformed);
    }
    // Go's limit: |d| ≤ 2^63 - 1 ns, or 2^63 ns when negative.
    let limit: u128 = i64::MAX as u128 + u128::from(negative);
    let mut total: u128 = 0;
    while !rest.is_empty() {
        let int_len = rest.bytes().take_while(u8::is_ascii_digit).count();
        let (int_digits, after) = rest.split_at(int_len);
        let (frac_digits, after) = match after.strip_prefix('.') {
            Some(a) => a.split_at(a.bytes().take_while(u8::is_ascii_digit).count()),
            None => ("", after),
        };
        if int_digits.is_empty() && frac_digits.is_empty() {
            return Err(DurationError::Malformed);
        }
        let unit_len = after
            .find(|c: char| c == '.' || c.is_ascii_digit())
            .unwrap_or(after.len());
        if unit_len == 0 {
            return Err(DurationError::MissingUnit);
        }
        let (unit, after) = after.split_at(unit_len);
        let unit_nanos: u128 = match unit {
            "ns" => 1,
            "us" | "\u{b5}s" | "\u{3bc}s" => 1_000,
            "ms" => 1_000_000,
            "s" => 1_000_000_000,
            "m" => 60_000_000_000,
            "h" => 3_600_000_000_000,
            other => return Err(DurationError::UnknownUnit(other.to_owned())),
        };
        let whole = if int_digits.is_empty() {
            0
        } else {
            int_digits
                .parse::<u128>()
                .map_err(|_| DurationError::Overflow)?
        };
        let mut nanos = whole
            .checked_mul(unit_nanos)
            .ok_or(DurationError::Overflow)?;
        nanos += go_fraction_nanos(frac_digits, unit_nanos);
        total = total.checked_add(nanos).ok_or(DurationError::Overflow)?;
        if total > limit {
            return Err(DurationError::Overflow);
        }
        rest = after;
    }
    let nanos = u64::try_from(total).map_err(|_| DurationError::Overflow)?;
    Ok((negative, Duration::from_nanos(nanos)))
}

/// Parses a Go duration (`time.ParseDuration`) into signed nanoseconds, Go's
/// `time.Duration`: negative values are allowed, down to -2^63 ns.
pub fn parse_go_duration_nanos(s: &str) -> Result<i64, DurationError> {
    let (negative, d) = parse_signed_duration(s)?;
    let nanos = i128::try_from(d.as_nanos()).map_err(|_| DurationError::Overflow)?;
    i64::try_from(if negative { -nanos } else { nanos }).map_err(|_| DurationError::Overflow)
}

/// The nanoseconds of a fraction `.digits` of `unit_nanos`, rounded as Go's
/// `time.ParseDuration` rounds them: the digits that fit in 63 bits (the rest
/// ignored) as `f`, then `uint64(float64(f) * (float64(unit) / 10^kept))`.
/// Truncating towards zero drops anything finer than a nanosecond; the float
/// step can differ by 1 ns from exact arithmetic (`0.03337410780500h`).
fn go_fraction_nanos(digits: &str, unit_nanos: u128) -> u128 {
    let (mut f, mut scale, mut overflow) = (0u64, 1f64, false);
    for c in digits.bytes() {
        if overflow {
            continue;
        }
        if f > i64::MAX as u64 / 10 {
            overflow = true;
            continue;
        }
        let y = f * 10 + u64::from(c - b'0');
        if y > 1 << 63 {
            overflow = true;
            continue;
        }
        f = y;
        scale *= 10.0;
    }
    if f == 0 {
        return 0;
    }
    // Float to integer casts saturate; the caller's range check catches that.
    (f as f64 * (unit_nanos as f64 / scale)) as u128
}

/// Formats a duration as Go's `time.Duration.String()` does: `1.5s`,
/// `2m3.5s`, `1h0m0s`, `1.234567ms`, `850µs`, `12ns`, `0s`.
pub fn format_go_duration(d: Duration) -> String {
    // Go's durations are signed 64-bit nanoseconds; longer ones saturate.
    crate::config::time::format_go_duration(i64::try_from(d.as_nanos()).unwrap_or(i64::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantities() {
        let ok = [
            ("0", 0),
            ("1048576", 1_048_576),
            ("+5", 5),
            ("-0", 0),
            ("1Ki", 1024),
            ("4Mi", 4 << 20),
            ("2Gi", 2 << 30),
            ("1Ti", 1 << 40),
            ("1Pi", 1 << 50),
            ("1Ei", 1 << 60),
            ("1k", 1000),
            ("4M", 4_000_000),
            ("3G", 3_000_000_000),
            ("2T", 2_000_000_000_000),
            ("1P", 1_000_000_000_000_000),
            ("1.5Ki", 1536),
            ("0.5Mi", 512 << 10),
            (".5k", 500),
            ("1.", 1),
            ("2.000", 2),
            ("1.25Gi", 5 << 28),
        ];
        for (s, want) in ok {
            assert_eq!(parse_quantity(s), Ok(want), "{s}");
        }
        let bad = [
            ("", QuantityError::Malformed),
            ("abc", QuantityError::Malformed),
            ("4MB", QuantityError::Malformed),
            ("4K", QuantityError::Malformed),
            ("4 Mi", QuantityError::Malformed),
            ("Mi", QuantityError::Malformed),
            (".", QuantityError::Malformed),
            ("1.2.3", QuantityError::Malformed),
            ("--1", QuantityError::Malformed),
            ("-1", QuantityError::Negative),
            ("-4Mi", QuantityError::Negative),
            ("1.5", QuantityError::Fractional),
            ("0.1Ki", QuantityError::Fractional),
            ("1.0000000000000000001", QuantityError::Fractional),
            ("16Ei", QuantityError::TooLarge),
            ("18446744073709551616", QuantityError::TooLarge),
            (
                "99999999999999999999999999999999999999999",
                QuantityError::TooLarge,
            ),
        ];
        for (s, want) in bad {
            assert_eq!(parse_quantity(s), Err(want), "{s}");
        }
        assert_eq!(parse_quantity("18446744073709551615"), Ok(u64::MAX));
    }

    #[test]
    fn durations() {
        let ok = [
            ("0", Duration::ZERO),
            ("-0", Duration::ZERO),
            ("0s", Duration::ZERO),
            ("5s", Duration::from_secs(5)),
            ("+5s", Duration::from_secs(5)),
            ("1m30s", Duration::from_secs(90)),
            ("500ms", Duration::from_millis(500)),
            ("1.5s", Duration::from_millis(1500)),
            (".5s", Duration::from_millis(500)),
            ("1.s", Duration::from_secs(1)),
            ("2h45m", Duration::from_secs(2 * 3600 + 45 * 60)),
            ("1h1m1s1ms1us1ns", Duration::new(3661, 1_001_001)),
            ("10µs", Duration::from_micros(10)),
            ("10μs", Duration::from_micros(10)),
            ("1.0000000005s", Duration::from_secs(1)),
            ("0.000000001s", Duration::from_nanos(1)),
            (
                "9223372036854775807ns",
                Duration::from_nanos(i64::MAX as u64),
            ),
        ];
        for (s, want) in ok {
            assert_eq!(parse_go_duration(s), Ok(want), "{s}");
        }
        let bad = [
            ("", DurationError::Malformed),
            ("-", DurationError::Malformed),
            ("s", DurationError::Malformed),
            (".s", DurationError::Malformed),
            ("5", DurationError::MissingUnit),
            ("1s5", DurationError::MissingUnit),
            ("5sec", DurationError::UnknownUnit("sec".to_owned())),
            ("5d", DurationError::UnknownUnit("d".to_owned())),
            ("5 s", DurationError::UnknownUnit(" s".to_owned())),
            ("-5s", DurationError::Negative),
            ("9223372036854775808ns", DurationError::Overflow),
            ("3000000h", DurationError::Overflow),
            (
                "99999999999999999999999999999999999999999h",
                DurationError::Overflow,
            ),
        ];
        for (s, want) in bad {
            assert_eq!(parse_go_duration(s), Err(want), "{s}");
        }
        // Go's float rounding of fractions (exact arithmetic gives ...098).
        assert_eq!(
            parse_go_duration("0.03337410780500h"),
            Ok(Duration::from_nanos(120_146_788_097))
        );
        assert_eq!(
            parse_go_duration("0.9631660860230555h"),
            Ok(Duration::from_nanos(3_467_397_909_683))
        );
        // Digits past 63 bits of fraction are ignored, not an error.
        assert_eq!(
            parse_go_duration("1.00000000000000000000000000001s"),
            Ok(Duration::from_secs(1))
        );
        assert_eq!(parse_go_duration_nanos("-1.5s"), Ok(-1_500_000_000));
        assert_eq!(parse_go_duration_nanos("+2m"), Ok(120_000_000_000));
        assert_eq!(
            parse_go_duration_nanos("-9223372036854775808ns"),
            Ok(i64::MIN)
        );
        assert_eq!(
            parse_go_duration_nanos("9223372036854775808ns"),
            Err(DurationError::Overflow)
        );
        // Go allows exactly 2^63 ns when negative.
        assert_eq!(
            parse_signed_duration("-9223372036854775808ns"),
            Ok((true, Duration::from_nanos(1 << 63)))
        );
    }

    #[test]
    fn go_duration_strings() {
        let cases = [
            (Duration::ZERO, "0s"),
            (Duration::from_nanos(12), "12ns"),
            (Duration::from_micros(850), "850\u{b5}s"),
            (Duration::from_nanos(1_234_567), "1.234567ms"),
            (Duration::from_millis(500), "500ms"),
            (Duration::from_secs(8), "8s"),
            (Duration::from_millis(1500), "1.5s"),
            (Duration::from_millis(123_500), "2m3.5s"),
            (Duration::from_secs(3600), "1h0m0s"),
        ];
        for (d, want) in cases {
            assert_eq!(format_go_duration(d), want);
            assert_eq!(parse_go_duration(want), Ok(d), "{want}");
        }
    }
}
