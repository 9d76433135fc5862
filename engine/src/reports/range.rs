//! The date range a report or the history covers: presets, custom days,
//! and the buckets the chart groups it in.

use chrono::{DateTime, Datelike, Duration, NaiveDate, TimeZone, Utc};
use serde::{Deserialize, Serialize};

use crate::validate::FieldError;

/// The longest range a report covers, so a typo cannot ask for a century.
pub const MAX_RANGE_DAYS: i64 = 366;

/// A half-open range `[from, to)` on whole hours (UTC): counts are kept per
/// hour, so a report and the history it links to count the same deliveries.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Range {
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
}

/// The range choices offered above a report.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Preset {
    Today,
    Last7Days,
    Last30Days,
    Custom,
}

impl Preset {
    pub const ALL: [Preset; 4] = [
        Preset::Today,
        Preset::Last7Days,
        Preset::Last30Days,
        Preset::Custom,
    ];

    /// The value in the URL query (`?range=7d`).
    pub fn key(self) -> &'static str {
        match self {
            Preset::Today => "today",
            Preset::Last7Days => "7d",
            Preset::Last30Days => "30d",
            Preset::Custom => "custom",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Preset::Today => "Today",
            Preset::Last7Days => "Last 7 days",
            Preset::Last30Days => "Last 30 days",
            Preset::Custom => "Custom",
        }
    }

    pub fn from_key(key: &str) -> Option<Preset> {
        Preset::ALL.into_iter().find(|p| p.key() == key)
    }
}

/// The range a report's query asks for, as the URL carries it.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RangeQuery {
    /// A [`Preset`] key; absent means the last 7 days.
    pub range: Option<String>,
    /// `YYYY-MM-DD`, first day included (custom ranges).
    pub from: Option<String>,
    /// `YYYY-MM-DD`, last day included (custom ranges).
    pub to: Option<String>,
}

impl RangeQuery {
    pub fn preset(&self) -> Preset {
        match self.range.as_deref().filter(|r| !r.is_empty()) {
            None => {
                if self.from.as_deref().is_some_and(|f| !f.is_empty()) {
                    Preset::Custom
                } else {
                    Preset::Last7Days
                }
            }
            Some(key) => Preset::from_key(key).unwrap_or(Preset::Last7Days),
        }
    }

    /// The range at `now`; a custom range's bad dates are field errors.
    pub fn resolve(&self, now: DateTime<Utc>) -> Result<Range, FieldError> {
        let today = midnight(now.date_naive());
        let tomorrow = today + Duration::days(1);
        match self.preset() {
            Preset::Today => Ok(Range {
                from: today,
                to: tomorrow,
            }),
            Preset::Last7Days => Ok(Range {
                from: tomorrow - Duration::days(7),
                to: tomorrow,
            }),
            Preset::Last30Days => Ok(Range {
                from: tomorrow - Duration::days(30),
                to: tomorrow,
            }),
            Preset::Custom => {
                let from = parse_day("from", self.from.as_deref())?;
                let to = match self.to.as_deref().filter(|t| !t.is_empty()) {
                    None => now.date_naive(),
                    Some(_) => parse_day("to", self.to.as_deref())?,
                };
                if to < from {
                    return Err(FieldError::new(
                        "to",
                        "range_reversed",
                        "The end date is before the start date.",
                    ));
                }
                if (to - from).num_days() >= MAX_RANGE_DAYS {
                    return Err(FieldError::new(
                        "to",
                        "range_too_long",
                        format!("A report covers at most {MAX_RANGE_DAYS} days."),
                    ));
                }
                Ok(Range {
                    from: midnight(from),
                    to: midnight(to) + Duration::days(1),
                })
            }
        }
    }
}

fn midnight(day: NaiveDate) -> DateTime<Utc> {
    Utc.from_utc_datetime(&day.and_hms_opt(0, 0, 0).unwrap_or_default())
}

fn parse_day(field: &str, value: Option<&str>) -> Result<NaiveDate, FieldError> {
    let value = value.unwrap_or("").trim();
    if value.is_empty() {
        return Err(FieldError::new(
            field,
            "required",
            "Pick a date for a custom range.",
        ));
    }
    let day = NaiveDate::parse_from_str(value, "%Y-%m-%d").map_err(|_| {
        FieldError::new(
            field,
            "invalid_date",
            format!("{value:?} is not a date like 2026-11-23."),
        )
    })?;
    // Nothing is delivered outside these years, and dates far beyond them
    // would overflow the range's arithmetic.
    if !(1970..=9999).contains(&day.year()) {
        return Err(FieldError::new(
            field,
            "invalid_date",
            format!("{value:?} is outside the years 1970 to 9999."),
        ));
    }
    Ok(day)
}

impl Range {
    /// Hourly bars for up to two days, daily bars beyond.
    pub fn bucket(&self) -> Bucket {
        if self.to - self.from <= Duration::days(2) {
            Bucket::Hour
        } else {
            Bucket::Day
        }
    }

    /// The first day in the range, `YYYY-MM-DD`.
    pub fn first_day(&self) -> String {
        self.from.format("%Y-%m-%d").to_string()
    }

    /// The last day in the range (its end is exclusive), `YYYY-MM-DD`.
    pub fn last_day(&self) -> String {
        (self.to - Duration::seconds(1))
            .format("%Y-%m-%d")
            .to_string()
    }

    /// The query string that reproduces this range as a custom one.
    pub fn as_query(&self) -> String {
        format!("from={}&to={}", self.first_day(), self.last_day())
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Bucket {
    Hour,
    Day,
}

impl Bucket {
    pub fn millis(self) -> i64 {
        match self {
            Bucket::Hour => 3_600_000,
            Bucket::Day => 86_400_000,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::reports::tests::at;

    #[test]
    fn presets_cover_whole_days_up_to_the_end_of_today() {
        let now = at("2026-11-23T15:20:00Z");
        let q = |r: &str| RangeQuery {
            range: Some(r.into()),
            ..RangeQuery::default()
        };
        assert_eq!(
            q("today").resolve(now).unwrap(),
            Range {
                from: at("2026-11-23T00:00:00Z"),
                to: at("2026-11-24T00:00:00Z")
            }
        );
        assert_eq!(
            q("7d").resolve(now).unwrap().from,
            at("2026-11-17T00:00:00Z")
        );
        assert_eq!(
            q("30d").resolve(now).unwrap().from,
            at("2026-10-25T00:00:00Z")
        );
        assert_eq!(
            RangeQuery::default().resolve(now).unwrap(),
            q("7d").resolve(now).unwrap()
        );
    }

    #[test]
    fn dates_at_the_edge_of_the_calendar_are_field_errors_not_panics() {
        let now = at("2026-11-23T12:00:00Z");
        for (from, to) in [
            ("+262142-12-01", "+262142-12-31"),
            ("-262143-01-01", "2026-11-01"),
            ("9999-12-30", "+10000-01-01"),
            ("1969-12-31", "1970-01-02"),
        ] {
            let asked = RangeQuery {
                range: Some("custom".into()),
                from: Some(from.into()),
                to: Some(to.into()),
            };
            let error = asked.resolve(now).unwrap_err();
            assert_eq!(error.code, "invalid_date", "{from}..{to}");
        }
        let last = RangeQuery {
            range: Some("custom".into()),
            from: Some("9999-12-30".into()),
            to: Some("9999-12-31".into()),
        };
        assert_eq!(last.resolve(now).unwrap().last_day(), "9999-12-31");
    }

    #[test]
    fn a_custom_range_includes_its_last_day_and_rejects_bad_dates() {
        let now = at("2026-11-23T15:20:00Z");
        let custom = |from: &str, to: &str| RangeQuery {
            range: Some("custom".into()),
            from: Some(from.into()),
            to: Some(to.into()),
        };
        let range = custom("2026-11-01", "2026-11-02").resolve(now).unwrap();
        assert_eq!(range.from, at("2026-11-01T00:00:00Z"));
        assert_eq!(range.to, at("2026-11-03T00:00:00Z"));
        assert_eq!(range.as_query(), "from=2026-11-01&to=2026-11-02");
        assert_eq!(range.bucket(), Bucket::Hour);
        assert_eq!(
            custom("2026-11-05", "2026-11-01")
                .resolve(now)
                .unwrap_err()
                .code,
            "range_reversed"
        );
        assert_eq!(
            custom("yesterday", "").resolve(now).unwrap_err().field,
            "from"
        );
        assert_eq!(
            custom("2020-01-01", "2026-01-01")
                .resolve(now)
                .unwrap_err()
                .code,
            "range_too_long"
        );
    }
}
