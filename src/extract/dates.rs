//! Relative time in a fact, read against the day it was said (`recorded_at`, a message's own
//! timestamp, or the request's time): "last week" said on 27 March 2023 is "the week of 20
//! March 2023" in the stored fact, so that it stays true when read a year later. The
//! conversation, kept with every fact (`original_input`), still holds the words as said.
//!
//! Never a date that the words do not give: a phrase that names a day, week, weekend, month,
//! year or season relative to that day is replaced by it; a vague one ("recently", "the other
//! day", "soon", "a few weeks ago") stays as said and the fact is marked with the day it was
//! said ("(as of 27 March 2023)"); a bare weekday is read as the next one when the sentence
//! speaks of the future, the last one when it speaks of the past, and marked otherwise.
//!
//! Conventions: weeks start on Monday; "next Tuesday" is the Tuesday of the following week,
//! "this Friday" the Friday of the current one, "last Friday" the latest Friday before the
//! day; "this weekend" is the Saturday of the current week, "last weekend" the one before;
//! seasons are the northern hemisphere's (spring March–May, summer June–August, autumn
//! September–November); winter, which straddles two years, is only marked.

use std::ops::Range;

use chrono::{Datelike, Duration, Months, NaiveDate, Weekday};

use crate::time::Timestamp;

/// A relative time phrase in a text, and what replaces it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TimePhrase {
    /// Where the phrase is (bytes of the text).
    pub range: Range<usize>,
    /// The phrase as written.
    pub phrase: String,
    /// Its absolute rendering ("on 26 March 2023", "the week of 20 March 2023"), or `None`
    /// when the phrase names no date (it stays, and the text is marked).
    pub resolved: Option<String>,
}

/// `text` with its relative time phrases resolved against `said` (see the module docs), and
/// marked "(as of <day>)" at the end when a vague one stays.
pub fn resolve_time(text: &str, said: Timestamp) -> String {
    let phrases = time_phrases(text, said);
    if phrases.is_empty() {
        return text.to_owned();
    }
    let mut out = String::with_capacity(text.len() + 32);
    let mut at = 0;
    let mut vague = false;
    for p in &phrases {
        out.push_str(&text[at..p.range.start]);
        match &p.resolved {
            Some(resolved) => out.push_str(resolved),
            None => {
                vague = true;
                out.push_str(&p.phrase);
            }
        }
        at = p.range.end;
    }
    out.push_str(&text[at..]);
    if vague && let Some(day) = day_of(said) {
        let end = out.trim_end_matches(['.', '!', ' ']).len();
        out.truncate(end);
        out.push_str(&format!(" (as of {})", render_day(day)));
    }
    out
}

/// The relative time phrases of `text`, in order, each with its resolution against `said`.
pub fn time_phrases(text: &str, said: Timestamp) -> Vec<TimePhrase> {
    let Some(day) = day_of(said) else {
        return Vec::new();
    };
    let words = words(text);
    let tense = tense(&words);
    let mut found = Vec::new();
    let mut i = 0;
    while i < words.len() {
        match phrase_at(&words, i, day, tense) {
            Some((len, when)) => {
                let (start, end) = (words[i].range.start, words[i + len - 1].range.end);
                let bare = i > 0 && PREPOSITIONS.contains(&words[i - 1].lower.as_str());
                found.push(TimePhrase {
                    range: start..end,
                    phrase: text[start..end].to_owned(),
                    resolved: when.map(|w| w.render(bare)),
                });
                i += len;
            }
            None => i += 1,
        }
    }
    found
}

/// Prepositions after which a date is written without its own ("since 26 March 2023").
const PREPOSITIONS: &[&str] = &[
    "since", "until", "till", "by", "from", "before", "after", "on", "in", "during", "of", "for",
];

/// A word of the text: lower-cased, with its place.
struct Word {
    lower: String,
    range: Range<usize>,
}

/// The words of `text` (letters, digits, and apostrophes inside a word).
fn words(text: &str) -> Vec<Word> {
    let mut out = Vec::new();
    let mut start = None;
    let chars: Vec<(usize, char)> = text.char_indices().collect();
    for (k, &(i, c)) in chars.iter().enumerate() {
        let inner_apostrophe = matches!(c, '\'' | '’')
            && start.is_some()
            && chars
                .get(k + 1)
                .is_some_and(|(_, next)| next.is_alphanumeric());
        if c.is_alphanumeric() || inner_apostrophe {
            start.get_or_insert(i);
        } else if let Some(s) = start.take() {
            out.push(Word {
                lower: text[s..i].to_lowercase().replace('’', "'"),
                range: s..i,
            });
        }
    }
    if let Some(s) = start {
        out.push(Word {
            lower: text[s..].to_lowercase().replace('’', "'"),
            range: s..text.len(),
        });
    }
    out
}

/// Whether a sentence speaks of the past or the future (for a bare weekday).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Tense {
    Past,
    Future,
    Unknown,
}

fn tense(words: &[Word]) -> Tense {
    const PAST: &[&str] = &[
        "was", "were", "went", "had", "did", "got", "came", "saw", "made", "took", "met", "ran",
        "left", "bought", "told", "said", "gave", "found", "felt", "ate", "wrote", "spent", "won",
        "lost", "began", "flew", "drove", "sang", "wore", "brought", "caught", "taught", "thought",
        "heard", "kept", "slept", "sat", "stood", "spoke", "read", "ago", "wasn't", "weren't",
        "didn't", "hadn't",
    ];
    const FUTURE: &[&str] = &[
        "will", "i'll", "we'll", "you'll", "he'll", "she'll", "they'll", "won't", "gonna",
        "tomorrow", "upcoming", "planning", "plan", "plans", "hoping", "hope", "can't", "excited",
        "going",
    ];
    let past = words.iter().any(|w| {
        PAST.contains(&w.lower.as_str())
            || super::lexicon::IRREGULAR_PAST.contains(&w.lower.as_str())
            || (w.lower.len() > 4 && w.lower.ends_with("ed") && !w.lower.ends_with("eed"))
    });
    let future = words.iter().any(|w| FUTURE.contains(&w.lower.as_str()));
    match (past, future) {
        (true, false) => Tense::Past,
        (false, true) => Tense::Future,
        _ => Tense::Unknown,
    }
}

/// The day `said` falls on (UTC).
fn day_of(said: Timestamp) -> Option<NaiveDate> {
    said.to_datetime().map(|dt| dt.date_naive())
}

/// `26 March 2023`.
pub fn render_day(day: NaiveDate) -> String {
    format!("{} {} {}", day.day(), month_name(day.month()), day.year())
}

fn month_name(month: u32) -> &'static str {
    const NAMES: [&str; 12] = [
        "January",
        "February",
        "March",
        "April",
        "May",
        "June",
        "July",
        "August",
        "September",
        "October",
        "November",
        "December",
    ];
    NAMES[(month.clamp(1, 12) - 1) as usize]
}

fn weekday_name(day: Weekday) -> &'static str {
    match day {
        Weekday::Mon => "Monday",
        Weekday::Tue => "Tuesday",
        Weekday::Wed => "Wednesday",
        Weekday::Thu => "Thursday",
        Weekday::Fri => "Friday",
        Weekday::Sat => "Saturday",
        Weekday::Sun => "Sunday",
    }
}

/// What a phrase names.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum When {
    /// A day, with the part of it the phrase named ("night").
    Day(NaiveDate, Option<&'static str>),
    /// A day named by its weekday ("on Friday 24 March 2023").
    Weekday(NaiveDate),
    /// A day's ("28 March 2023's opening").
    DayPossessive(NaiveDate),
    /// The week starting on this Monday, with "earlier in" / "later in".
    Week(NaiveDate, Option<&'static str>),
    /// The weekend starting on this Saturday.
    Weekend(NaiveDate),
    /// A month (its first day), with "earlier in" / "later in".
    Month(NaiveDate, Option<&'static str>),
    /// A year, with "earlier in" / "later in".
    Year(i32, Option<&'static str>),
    /// A season of a year.
    Season(&'static str, i32),
    /// About a day ("about three days ago": "around 24 March 2023").
    AroundDay(NaiveDate),
}

impl When {
    /// The same time, named as approximate ("about five years ago": "around 2018").
    fn around(self) -> When {
        match self {
            When::Day(d, _) | When::Weekday(d) | When::DayPossessive(d) => When::AroundDay(d),
            When::Week(d, _) => When::Week(d, Some("around")),
            When::Month(d, _) => When::Month(d, Some("around")),
            When::Year(y, _) => When::Year(y, Some("around")),
            other => other,
        }
    }

    /// The rendering; `bare`: after a preposition of the text's own, without one.
    fn render(self, bare: bool) -> String {
        let (preposition, noun) = match self {
            When::Day(d, None) => ("on", render_day(d)),
            When::Day(d, Some(part)) => ("on", format!("the {part} of {}", render_day(d))),
            When::DayPossessive(d) => ("", format!("{}'s", render_day(d))),
            When::Weekday(d) => (
                "on",
                format!("{} {}", weekday_name(d.weekday()), render_day(d)),
            ),
            When::Week(d, None) => ("in", format!("the week of {}", render_day(d))),
            When::Week(d, Some(side)) => (side, format!("the week of {}", render_day(d))),
            When::Weekend(d) => ("on", format!("the weekend of {}", render_day(d))),
            When::Month(d, None) => ("in", format!("{} {}", month_name(d.month()), d.year())),
            When::Month(d, Some(side)) => (side, format!("{} {}", month_name(d.month()), d.year())),
            When::Year(y, None) => ("in", y.to_string()),
            When::Year(y, Some(side)) => (side, y.to_string()),
            When::Season(season, y) => ("in", format!("the {season} of {y}")),
            When::AroundDay(d) => ("around", render_day(d)),
        };
        if preposition.is_empty() || (bare && matches!(preposition, "on" | "in")) {
            noun
        } else {
            format!("{preposition} {noun}")
        }
    }
}

/// The Monday of `day`'s week.
fn monday(day: NaiveDate) -> NaiveDate {
    day - Duration::days(i64::from(day.weekday().num_days_from_monday()))
}

fn weekday_of(word: &str) -> Option<Weekday> {
    Some(match word {
        "monday" => Weekday::Mon,
        "tuesday" => Weekday::Tue,
        "wednesday" => Weekday::Wed,
        "thursday" => Weekday::Thu,
        "friday" => Weekday::Fri,
        "saturday" => Weekday::Sat,
        "sunday" => Weekday::Sun,
        _ => return None,
    })
}

/// A small count in words or digits ("a", "two", "3", "a couple of").
fn count_at(words: &[Word], i: usize) -> Option<(usize, i64)> {
    let w = words.get(i)?.lower.as_str();
    if w == "a" || w == "an" {
        if words.get(i + 1).is_some_and(|n| n.lower == "couple")
            && words.get(i + 2).is_some_and(|n| n.lower == "of")
        {
            return Some((3, 2));
        }
        return Some((1, 1));
    }
    if w == "couple" && words.get(i + 1).is_some_and(|n| n.lower == "of") {
        return Some((2, 2));
    }
    const NUMBERS: [&str; 13] = [
        "zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten",
        "eleven", "twelve",
    ];
    if let Some(n) = NUMBERS.iter().position(|x| *x == w) {
        return (n > 0).then_some((1, n as i64));
    }
    match w.parse::<i64>() {
        Ok(n) if (1..=100).contains(&n) => Some((1, n)),
        _ => None,
    }
}

/// A unit of time, singular or plural.
fn unit_of(word: &str) -> Option<&'static str> {
    Some(match word {
        "day" | "days" => "day",
        "week" | "weeks" => "week",
        "month" | "months" => "month",
        "year" | "years" => "year",
        "weekend" | "weekends" => "weekend",
        _ => return None,
    })
}

/// `n` units after `day` (before, when negative).
fn shifted(day: NaiveDate, unit: &str, n: i64) -> Option<When> {
    Some(match unit {
        "day" => When::Day(day + Duration::days(n), None),
        "week" => When::Week(monday(day + Duration::weeks(n)), None),
        "month" => When::Month(add_months(first_of_month(day), n)?, None),
        "weekend" => When::Weekend(monday(day) + Duration::days(5) + Duration::weeks(n)),
        _ => When::Year(day.year() + i32::try_from(n).ok()?, None),
    })
}

fn first_of_month(day: NaiveDate) -> NaiveDate {
    day.with_day(1).expect("every month has a first day")
}

fn add_months(day: NaiveDate, n: i64) -> Option<NaiveDate> {
    let months = Months::new(u32::try_from(n.unsigned_abs()).ok()?);
    if n >= 0 {
        day.checked_add_months(months)
    } else {
        day.checked_sub_months(months)
    }
}

/// The phrase starting at word `i`, if any: how many words it takes and what it names
/// (`None`: a vague phrase, kept and marked).
fn phrase_at(
    words: &[Word],
    i: usize,
    day: NaiveDate,
    tense: Tense,
) -> Option<(usize, Option<When>)> {
    let w = |k: usize| words.get(i + k).map_or("", |w| w.lower.as_str());
    let is = |k: usize, options: &[&str]| options.contains(&w(k));
    const PARTS: &[&str] = &["morning", "afternoon", "evening", "night"];
    let part = |k: usize| -> Option<&'static str> { PARTS.iter().copied().find(|p| w(k) == *p) };
    // Vague phrases first (several start like precise ones: "a few days ago").
    for vague in VAGUE {
        if vague.iter().enumerate().all(|(k, v)| match *v {
            "*unit" => unit_of(w(k)).is_some(),
            v => w(k) == v,
        }) {
            return Some((vague.len(), None));
        }
    }
    match w(0) {
        "the" if w(1) == "night" && w(2) == "before" && w(3) == "last" => {
            return Some((4, Some(When::Day(day - Duration::days(2), Some("night")))));
        }
        "the" if w(1) == "day" && w(2) == "before" && w(3) == "yesterday" => {
            return Some((4, Some(When::Day(day - Duration::days(2), None))));
        }
        "the" if w(1) == "day" && w(2) == "after" && w(3) == "tomorrow" => {
            return Some((4, Some(When::Day(day + Duration::days(2), None))));
        }
        "yesterday" => {
            return Some(match part(1) {
                Some(p) => (2, Some(When::Day(day - Duration::days(1), Some(p)))),
                None => (1, Some(When::Day(day - Duration::days(1), None))),
            });
        }
        "tomorrow" => {
            return Some(match part(1) {
                Some(p) => (2, Some(When::Day(day + Duration::days(1), Some(p)))),
                None => (1, Some(When::Day(day + Duration::days(1), None))),
            });
        }
        "today" => return Some((1, Some(When::Day(day, None)))),
        // "tomorrow's opening": the day's, written as a date's.
        "yesterday's" | "today's" | "tomorrow's" | "tonight's" => {
            let offset = match w(0) {
                "yesterday's" => -1,
                "tomorrow's" => 1,
                _ => 0,
            };
            return Some((1, Some(When::DayPossessive(day + Duration::days(offset)))));
        }
        "tonight" => return Some((1, Some(When::Day(day, Some("night"))))),
        "earlier" | "later" if w(1) == "today" => {
            return Some((2, Some(When::Day(day, None))));
        }
        "earlier" | "later" if w(1) == "this" && is(2, &["week", "month", "year"]) => {
            let side = if w(0) == "earlier" {
                "earlier in"
            } else {
                "later in"
            };
            let when = match w(2) {
                "week" => When::Week(monday(day), Some(side)),
                "month" => When::Month(first_of_month(day), Some(side)),
                _ => When::Year(day.year(), Some(side)),
            };
            return Some((3, Some(when)));
        }
        // "this past Friday", "past Monday": the last one before the day.
        "this" | "past"
            if weekday_of(if w(0) == "this" { w(2) } else { w(1) }).is_some()
                && (w(0) == "past" || w(1) == "past") =>
        {
            let len = if w(0) == "this" { 3 } else { 2 };
            let weekday = weekday_of(w(len - 1))?;
            return Some((len, bare_weekday(day, weekday, Tense::Past)));
        }
        // "this coming weekend", "this coming Friday": the next one; "this coming week":
        // the one after this.
        "this" if w(1) == "coming" => {
            return match w(2) {
                "weekend" => {
                    let saturday = monday(day) + Duration::days(5);
                    Some((3, Some(When::Weekend(saturday))))
                }
                other if weekday_of(other).is_some() => {
                    Some((3, bare_weekday(day, weekday_of(other)?, Tense::Future)))
                }
                "week" => Some((3, Some(When::Week(monday(day) + Duration::weeks(1), None)))),
                "month" => Some((
                    3,
                    Some(When::Month(add_months(first_of_month(day), 1)?, None)),
                )),
                "year" => Some((3, Some(When::Year(day.year() + 1, None)))),
                _ => None,
            };
        }
        "this" if w(1) == "past" && is(2, &["week", "weekend", "month", "year"]) => {
            // "this past weekend": the last one.
            let when = match w(2) {
                "week" => When::Week(monday(day) - Duration::weeks(1), None),
                "weekend" => When::Weekend(monday(day) + Duration::days(5) - Duration::weeks(1)),
                "month" => When::Month(add_months(first_of_month(day), -1)?, None),
                _ => When::Year(day.year() - 1, None),
            };
            return Some((3, Some(when)));
        }
        "last" | "this" | "next" => {
            let step: i64 = match w(0) {
                "last" => -1,
                "this" => 0,
                _ => 1,
            };
            if w(0) == "last" && w(1) == "night" {
                return Some((2, Some(When::Day(day - Duration::days(1), Some("night")))));
            }
            if w(0) == "this" && PARTS.contains(&w(1)) {
                return Some((2, Some(When::Day(day, part(1)))));
            }
            match w(1) {
                "week" => {
                    return Some((
                        2,
                        Some(When::Week(monday(day) + Duration::weeks(step), None)),
                    ));
                }
                "weekend" => {
                    let saturday = monday(day) + Duration::days(5);
                    return Some((2, Some(When::Weekend(saturday + Duration::weeks(step)))));
                }
                "month" => {
                    return Some((
                        2,
                        Some(When::Month(add_months(first_of_month(day), step)?, None)),
                    ));
                }
                "year" => return Some((2, Some(When::Year(day.year() + step as i32, None)))),
                "spring" | "summer" | "autumn" | "fall" => {
                    let (first, last) = match w(1) {
                        "spring" => (3, 5),
                        "summer" => (6, 8),
                        _ => (9, 11),
                    };
                    let name = match w(1) {
                        "spring" => "spring",
                        "summer" => "summer",
                        _ => "autumn",
                    };
                    let year = match step {
                        // The latest one that has begun before the day.
                        -1 if day.month() > last => day.year(),
                        -1 => day.year() - 1,
                        0 => day.year(),
                        // The first one that has not begun yet.
                        _ if day.month() < first => day.year(),
                        _ => day.year() + 1,
                    };
                    return Some((2, Some(When::Season(name, year))));
                }
                "winter" => return Some((2, None)),
                other => {
                    if let Some(weekday) = weekday_of(other) {
                        // "last Friday": the last one before the day; "this" and "next": in
                        // this week and the next.
                        if step == -1 {
                            return Some((2, bare_weekday(day, weekday, Tense::Past)));
                        }
                        let in_week =
                            monday(day) + Duration::days(i64::from(weekday.num_days_from_monday()));
                        return Some((2, Some(When::Weekday(in_week + Duration::weeks(step)))));
                    }
                }
            }
        }
        "in" => {
            // "in two weeks": a count of days, weeks, months or years from the day.
            // Not a duration ("built it in two weeks", "Rome wasn't built in a day").
            if let Some((len, n)) = count_at(words, i + 1)
                && let Some(unit) = unit_of(w(1 + len))
                && !is(2 + len, &["ago", "old", "time", "or", "and"])
                && tense != Tense::Past
                && !(unit == "day" && n == 1)
            {
                return Some((2 + len, shifted(day, unit, n)));
            }
        }
        // "about five years ago": around the time it names; "over a year ago", "more than
        // two weeks ago": before it, so no date is named.
        "about" | "around" | "roughly" | "approximately" | "nearly" | "almost" | "over"
        | "under" | "more" | "less" => {
            let from = usize::from(matches!(w(0), "more" | "less") && w(1) == "than") + 1;
            if let Some((len, n)) = count_at(words, i + from)
                && let Some(unit) = unit_of(w(from + len))
                && w(from + len + 1) == "ago"
            {
                let when = match w(0) {
                    "over" | "under" | "more" | "less" => None,
                    _ => shifted(day, unit, -n).map(When::around),
                };
                return Some((from + len + 2, when));
            }
        }
        "on" => {
            if let Some(weekday) = weekday_of(w(1)) {
                return Some((2, bare_weekday(day, weekday, tense)));
            }
        }
        _ => {
            if let Some(weekday) = weekday_of(w(0))
                && !(i > 0 && is_habitual(words[i - 1].lower.as_str()))
            {
                return Some((1, bare_weekday(day, weekday, tense)));
            }
        }
    }
    // "three weeks ago", "a couple of days ago".
    if let Some((len, n)) = count_at(words, i)
        && let Some(unit) = unit_of(w(len))
        && w(len + 1) == "ago"
    {
        return Some((len + 2, shifted(day, unit, -n)));
    }
    None
}

/// Words before a weekday that make it a habit, not a date ("every Friday").
fn is_habitual(word: &str) -> bool {
    matches!(
        word,
        "every" | "each" | "most" | "some" | "last" | "this" | "next"
    )
}

/// A weekday named alone ("this coming", "last" or "this past" say the tense): the next one
/// after the day for the future, the last one before it for the past, else vague.
fn bare_weekday(day: NaiveDate, weekday: Weekday, tense: Tense) -> Option<When> {
    let ahead = (i64::from(weekday.num_days_from_monday())
        - i64::from(day.weekday().num_days_from_monday()))
    .rem_euclid(7);
    match tense {
        Tense::Future => Some(When::Weekday(
            day + Duration::days(if ahead == 0 { 7 } else { ahead }),
        )),
        Tense::Past => Some(When::Weekday(
            day - Duration::days(if ahead == 0 { 7 } else { 7 - ahead }),
        )),
        Tense::Unknown => None,
    }
}

/// Phrases that name no date: kept as said, and the text marked with its day. `*unit` is
/// any unit of time.
const VAGUE: &[&[&str]] = &[
    &["the", "other", "day"],
    &["the", "other", "week"],
    &["the", "other", "night"],
    &["a", "few", "*unit", "ago"],
    &["a", "few", "*unit", "back"],
    &["few", "*unit", "ago"],
    &["several", "*unit", "ago"],
    &["some", "*unit", "ago"],
    &["many", "*unit", "ago"],
    &["a", "while", "ago"],
    &["a", "while", "back"],
    &["some", "time", "ago"],
    &["a", "long", "time", "ago"],
    &["not", "so", "long", "ago"],
    &["not", "long", "ago"],
    &["so", "long", "ago"],
    &["long", "ago"],
    &["recently"],
    &["lately"],
    &["soon"],
    &["someday"],
    &["these", "days"],
    &["nowadays"],
    &["in", "a", "few", "*unit"],
    &["in", "the", "past", "few", "*unit"],
    &["over", "the", "past", "few", "*unit"],
    &["the", "past", "few", "*unit"],
    // A stretch up to the day said ("in the past week", "over the last few days").
    &["the", "past", "*unit"],
    // Relative to another time the conversation names, not to the day said.
    &["the", "previous", "*unit"],
    &["the", "following", "*unit"],
    &["the", "coming", "*unit"],
    &["the", "next", "*unit"],
    &["the", "past", "couple", "of", "*unit"],
    &["the", "last", "few", "*unit"],
    &["the", "last", "couple", "of", "*unit"],
    &["in", "the", "coming", "*unit"],
    &["in", "the", "next", "few", "*unit"],
];

#[cfg(test)]
mod tests {
    use super::*;

    /// Monday 27 March 2023, 15:00 UTC.
    fn monday_27_march() -> Timestamp {
        Timestamp::parse("2023-03-27T15:00:00Z").unwrap()
    }

    fn resolved(text: &str) -> String {
        resolve_time(text, monday_27_march())
    }

    #[test]
    fn days_weeks_months_and_years_relative_to_the_day_said() {
        assert_eq!(
            resolved("I went to a support group yesterday."),
            "I went to a support group on 26 March 2023."
        );
        assert_eq!(
            resolved("I started last week"),
            "I started in the week of 20 March 2023"
        );
        assert_eq!(
            resolved("I start next week"),
            "I start in the week of 3 April 2023"
        );
        assert_eq!(
            resolved("busy this week"),
            "busy in the week of 27 March 2023"
        );
        assert_eq!(resolved("I moved last month"), "I moved in February 2023");
        assert_eq!(resolved("I move next month"), "I move in April 2023");
        assert_eq!(resolved("I graduated last year"), "I graduated in 2022");
        assert_eq!(resolved("we marry next year"), "we marry in 2024");
        assert_eq!(
            resolved("the exam is tomorrow"),
            "the exam is on 28 March 2023"
        );
        assert_eq!(resolved("I ran today"), "I ran on 27 March 2023");
        assert_eq!(
            resolved("I slept badly last night"),
            "I slept badly on the night of 26 March 2023"
        );
        assert_eq!(
            resolved("it rained the day before yesterday"),
            "it rained on 25 March 2023"
        );
    }

    #[test]
    fn weekdays_weekends_and_counts() {
        assert_eq!(
            resolved("I saw her last Friday"),
            "I saw her on Friday 24 March 2023"
        );
        assert_eq!(
            resolved("my interview is next Tuesday"),
            "my interview is on Tuesday 4 April 2023"
        );
        assert_eq!(
            resolved("the party is this Friday"),
            "the party is on Friday 31 March 2023"
        );
        assert_eq!(
            resolved("we camped last weekend"),
            "we camped on the weekend of 25 March 2023"
        );
        assert_eq!(
            resolved("we camp this weekend"),
            "we camp on the weekend of 1 April 2023"
        );
        assert_eq!(resolved("I quit 3 days ago"), "I quit on 24 March 2023");
        assert_eq!(
            resolved("I quit two weeks ago"),
            "I quit in the week of 13 March 2023"
        );
        assert_eq!(resolved("I moved 5 years ago"), "I moved in 2018");
        assert_eq!(
            resolved("I fly in two weeks"),
            "I fly in the week of 10 April 2023"
        );
        assert_eq!(
            resolved("a couple of days ago I fell"),
            "on 25 March 2023 I fell"
        );
        assert_eq!(
            resolved("I went there last summer"),
            "I went there in the summer of 2022"
        );
        assert_eq!(resolved("I go next summer"), "I go in the summer of 2023");
        assert_eq!(
            resolved("we camped two weekends ago"),
            "we camped on the weekend of 18 March 2023"
        );
        assert_eq!(
            resolved("the trip this past weekend"),
            "the trip on the weekend of 25 March 2023"
        );
        assert_eq!(resolved("tomorrow's opening"), "28 March 2023's opening");
        // A duration, not a date.
        assert_eq!(
            resolved("Rome wasn't built in a day"),
            "Rome wasn't built in a day"
        );
        assert_eq!(
            resolved("I built it in two weeks"),
            "I built it in two weeks"
        );
    }

    #[test]
    fn a_bare_weekday_follows_the_tense_or_stays() {
        assert_eq!(
            resolved("I will meet him on Friday"),
            "I will meet him on Friday 31 March 2023"
        );
        assert_eq!(
            resolved("I visited them on Saturday"),
            "I visited them on Saturday 25 March 2023"
        );
        assert_eq!(
            resolved("Meetings on Friday are fun"),
            "Meetings on Friday are fun (as of 27 March 2023)"
        );
        // A habit is not a date.
        assert_eq!(resolved("I swim every Friday"), "I swim every Friday");
    }

    /// An approximate count names an approximate time; "over a year ago" names none.
    #[test]
    fn about_and_over_a_count_ago() {
        for (said, read) in [
            (
                "I started playing guitar about five years ago",
                "I started playing guitar around 2018",
            ),
            (
                "We met roughly two weeks ago",
                "We met around the week of 13 March 2023",
            ),
            (
                "I called her about three days ago",
                "I called her around 24 March 2023",
            ),
            (
                "I moved here over a year ago",
                "I moved here over a year ago (as of 27 March 2023)",
            ),
            (
                "I quit more than two months ago",
                "I quit more than two months ago (as of 27 March 2023)",
            ),
        ] {
            assert_eq!(resolved(said), read, "{said}");
        }
    }

    /// "this past" and "this coming" with a weekday or a weekend; phrases relative to
    /// another time the conversation names ("the previous week") are kept and marked.
    #[test]
    fn past_coming_and_relative_to_another_time() {
        for (said, read) in [
            (
                "I met her this past Friday",
                "I met her on Friday 24 March 2023",
            ),
            (
                "I went there past Monday",
                "I went there on Monday 20 March 2023",
            ),
            (
                "We're going this coming weekend",
                "We're going on the weekend of 1 April 2023",
            ),
            (
                "I'll call this coming Monday",
                "I'll call on Monday 3 April 2023",
            ),
            (
                "I saw it the night before last",
                "I saw it on the night of 25 March 2023",
            ),
            (
                "I saw it the day before yesterday",
                "I saw it on 25 March 2023",
            ),
            (
                "I saw him the previous week",
                "I saw him the previous week (as of 27 March 2023)",
            ),
            (
                "I start the following month",
                "I start the following month (as of 27 March 2023)",
            ),
            (
                "I'm busy the coming month",
                "I'm busy the coming month (as of 27 March 2023)",
            ),
        ] {
            assert_eq!(resolved(said), read, "{said}");
        }
    }

    #[test]
    fn vague_phrases_stay_and_the_fact_is_marked() {
        assert_eq!(
            resolved("I recently started pottery."),
            "I recently started pottery (as of 27 March 2023)"
        );
        assert_eq!(
            resolved("I saw it the other day"),
            "I saw it the other day (as of 27 March 2023)"
        );
        assert_eq!(
            resolved("I moved a few years ago"),
            "I moved a few years ago (as of 27 March 2023)"
        );
        assert_eq!(
            resolved("I've been reading a lot in the past week"),
            "I've been reading a lot in the past week (as of 27 March 2023)"
        );
        assert_eq!(
            resolved("It rained over the last few days"),
            "It rained over the last few days (as of 27 March 2023)"
        );
        assert_eq!(resolved("I love pottery"), "I love pottery");
    }

    #[test]
    fn a_preposition_of_the_text_is_not_doubled() {
        assert_eq!(
            resolved("I've been sick since yesterday"),
            "I've been sick since 26 March 2023"
        );
        assert_eq!(
            resolved("It was due by next Tuesday"),
            "It was due by Tuesday 4 April 2023"
        );
    }

    #[test]
    fn month_ends_and_year_ends_are_crossed_correctly() {
        let new_year = Timestamp::parse("2024-01-01T09:00:00Z").unwrap();
        assert_eq!(
            resolve_time("I moved last month", new_year),
            "I moved in December 2023"
        );
        assert_eq!(resolve_time("yesterday", new_year), "on 31 December 2023");
        assert_eq!(
            resolve_time("last week", new_year),
            "in the week of 25 December 2023"
        );
        let end_of_march = Timestamp::parse("2023-03-31T09:00:00Z").unwrap();
        assert_eq!(resolve_time("next month", end_of_march), "in April 2023");
    }
}
