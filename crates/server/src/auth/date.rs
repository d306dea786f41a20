//! The SigV4 timestamp: ISO 8601 basic format, `YYYYMMDDTHHMMSSZ`, always UTC.

/// A parsed `X-Amz-Date`, as whole seconds since the Unix epoch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct AmzDate {
    /// Seconds since 1970-01-01T00:00:00Z (negative before it).
    pub(super) unix_secs: i64,
}

impl AmzDate {
    /// Parses `YYYYMMDDTHHMMSSZ` strictly: exactly 16 ASCII characters, a real
    /// calendar date, hours < 24, minutes and seconds < 60. `None` otherwise.
    pub(super) fn parse(text: &str) -> Option<AmzDate> {
        let bytes = text.as_bytes();
        if bytes.len() != 16 || bytes[8] != b'T' || bytes[15] != b'Z' {
            return None;
        }
        let year = digits(&bytes[0..4])?;
        let month = digits(&bytes[4..6])?;
        let day = digits(&bytes[6..8])?;
        let hour = digits(&bytes[9..11])?;
        let minute = digits(&bytes[11..13])?;
        let second = digits(&bytes[13..15])?;
        if !(1..=12).contains(&month)
            || day < 1
            || day > days_in_month(year, month)
            || hour > 23
            || minute > 59
            || second > 59
        {
            return None;
        }
        let days = days_from_civil(year, month, day);
        Some(AmzDate {
            unix_secs: days * 86_400 + hour * 3_600 + minute * 60 + second,
        })
    }

    /// Milliseconds since the Unix epoch.
    pub(super) fn unix_ms(self) -> i64 {
        self.unix_secs.saturating_mul(1_000)
    }

    /// The date as `YYYYMMDDTHHMMSSZ` (for error messages).
    pub(crate) fn from_unix_ms(unix_ms: i64) -> AmzDate {
        AmzDate {
            unix_secs: unix_ms.div_euclid(1_000),
        }
    }
}

impl std::fmt::Display for AmzDate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let days = self.unix_secs.div_euclid(86_400);
        let secs_of_day = self.unix_secs.rem_euclid(86_400);
        let (year, month, day) = civil_from_days(days);
        write!(
            f,
            "{year:04}{month:02}{day:02}T{:02}{:02}{:02}Z",
            secs_of_day / 3_600,
            secs_of_day % 3_600 / 60,
            secs_of_day % 60
        )
    }
}

/// Parses a run of ASCII digits (no sign, no spaces).
fn digits(bytes: &[u8]) -> Option<i64> {
    bytes.iter().try_fold(0_i64, |acc, &b| {
        b.is_ascii_digit().then(|| acc * 10 + i64::from(b - b'0'))
    })
}

fn is_leap(year: i64) -> bool {
    (year % 4 == 0 && year % 100 != 0) || year % 400 == 0
}

fn days_in_month(year: i64, month: i64) -> i64 {
    match month {
        2 if is_leap(year) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's
/// `days_from_civil`).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// Inverse of [`days_from_civil`].
pub(crate) fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}
