//! Messages-mode extraction end to end on LoCoMo conversations (`aurra eval extraction
//! --locomo FILE`): do the extracted facts still answer the questions that the raw turns
//! answer?
//!
//! Each conversation is stored twice in one in-memory store. Raw: one memory per turn,
//! `"<speaker>: <text>"`. Extracted: each session goes to the extractor twice, once from
//! each speaker's side (that speaker's messages as `user`, the other's as `assistant`, every
//! message with its speaker's `name`), with the session's date as `recorded_at`, and the
//! facts are written as a messages-mode request writes them (source `agent_session`, the
//! session as channel; the duplicate rule drops a fact both sides yield). Image captions are
//! left out of both. Then every question of categories 1 (multi-hop), 2 (temporal) and 4
//! (single-hop) whose answer has content words is asked of each tenant: the answer is
//! contained when every content term of the answer (analysed as the index analyses text)
//! appears among the top 10 memories — what a reader given those ten would have. (Counting
//! only answers held whole by one memory would penalise atomic facts for what a turn says
//! in one breath: "share stories and make connections" split over two facts.)
//!
//! And of the facts: how many name one of the two speakers; which still hold relative time
//! without a date ("last week" unresolved and unmarked), by a detector of its own rather than
//! the extractor's; and which hold a date that neither the conversation's words nor the
//! resolution of its relative time give (fabricated).

use std::collections::{BTreeMap, HashSet};

use unicode_segmentation::UnicodeSegmentation;

use super::{ACCOUNT, Conversation, Split, parse_locomo, share_or_one};
use crate::error::{Error, Result};
use crate::extract::{Extractor, Turn, time_phrases};
use crate::model::{NewMemory, SearchQuery, SearchType};
use crate::store::{Store, StoreOptions};
use crate::text::Analyzer;
use crate::time::Timestamp;

/// Memories among which an answer is looked for.
pub const TOP: usize = 10;

/// The measure on one split.
#[derive(Clone, Debug, PartialEq)]
pub struct LocomoExtractionReport {
    /// Which conversations.
    pub split: Split,
    /// Conversations in the split.
    pub conversations: usize,
    /// Turns stored raw.
    pub turns: usize,
    /// Facts stored.
    pub facts: usize,
    /// Questions scored (categories 1, 2, 4 with an answer that has content words).
    pub questions: usize,
    /// Questions whose answer is in the top [`TOP`] raw turns.
    pub raw_contained: usize,
    /// Questions whose answer is in the top [`TOP`] facts.
    pub extracted_contained: usize,
    /// Per category: (questions, raw contained, extracted contained).
    pub per_category: BTreeMap<u64, (usize, usize, usize)>,
    /// Facts naming one of the conversation's speakers.
    pub named: usize,
    /// Facts with relative time neither resolved nor marked: (conversation, fact).
    pub unresolved: Vec<(String, String)>,
    /// Facts with a date the conversation does not give: (conversation, fact).
    pub fabricated: Vec<(String, String)>,
    /// Questions the raw turns answer and the facts do not: (conversation, question,
    /// answer, whether some fact holds the answer and search did not rank it in the top).
    pub lost: Vec<(String, String, String, bool)>,
}

impl LocomoExtractionReport {
    /// Share of questions answered by the raw turns.
    pub fn raw(&self) -> f64 {
        share_or_one(self.raw_contained, self.questions)
    }

    /// Share of questions answered by the extracted facts.
    pub fn extracted(&self) -> f64 {
        share_or_one(self.extracted_contained, self.questions)
    }

    /// Extracted over raw (1 when the raw turns answer nothing).
    pub fn ratio(&self) -> f64 {
        share_or_one(self.extracted_contained, self.raw_contained)
    }

    /// Share of facts naming a speaker.
    pub fn naming(&self) -> f64 {
        share_or_one(self.named, self.facts)
    }
}

impl std::fmt::Display for LocomoExtractionReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(
            f,
            "{}: {} conversations, {} turns, {} facts, {} questions (categories 1, 2, 4)",
            self.split.as_str(),
            self.conversations,
            self.turns,
            self.facts,
            self.questions
        )?;
        writeln!(
            f,
            "answer in the top {TOP}: raw turns {:.3} ({}), extracted facts {:.3} ({}): {:.2}x",
            self.raw(),
            self.raw_contained,
            self.extracted(),
            self.extracted_contained,
            self.ratio()
        )?;
        for (category, (n, raw, extracted)) in &self.per_category {
            writeln!(
                f,
                "  category {category}: {n} questions, raw {:.3}, extracted {:.3}",
                share_or_one(*raw, *n),
                share_or_one(*extracted, *n)
            )?;
        }
        writeln!(
            f,
            "facts naming a speaker: {:.3} ({} of {})",
            self.naming(),
            self.named,
            self.facts
        )?;
        writeln!(
            f,
            "facts with unresolved relative time: {}; with a date the conversation does not give: {}",
            self.unresolved.len(),
            self.fabricated.len()
        )?;
        for (id, fact) in &self.unresolved {
            writeln!(f, "  unresolved [{id}] {fact}")?;
        }
        for (id, fact) in &self.fabricated {
            writeln!(f, "  fabricated [{id}] {fact}")?;
        }
        let ranked_out = self.lost.iter().filter(|l| l.3).count();
        writeln!(
            f,
            "answered raw, not by the facts: {} ({} held by a fact ranked below the top {TOP}, {} by no fact)",
            self.lost.len(),
            ranked_out,
            self.lost.len() - ranked_out
        )?;
        for (id, question, answer, held) in &self.lost {
            let why = if *held { "ranked out" } else { "not kept" };
            writeln!(f, "  lost [{id}] ({why}) {question} -> {answer}")?;
        }
        Ok(())
    }
}

/// Runs the measure (see the module docs) with `extractor` on the conversations of `json`
/// in a store opened with `options`: one report on every conversation when `held_out` is
/// empty, else one on the conversations named there and one on the rest.
pub fn run_locomo_extraction(
    json: &str,
    extractor: &dyn Extractor,
    options: StoreOptions,
    held_out: &[String],
) -> Result<Vec<LocomoExtractionReport>> {
    let conversations = parse_locomo(json)?;
    for name in held_out {
        if !conversations.iter().any(|c| &c.id == name) {
            return Err(Error::InvalidArgument(format!(
                "held-out conversation {name:?} is not in the file"
            )));
        }
    }
    let store = Store::in_memory_with(options.durable(false))?;
    let analyzer = Analyzer::default();
    let mut stored = Vec::with_capacity(conversations.len());
    for conversation in &conversations {
        stored.push(store_conversation(&store, extractor, conversation)?);
    }
    let splits: Vec<(Split, Vec<usize>)> = if held_out.is_empty() {
        vec![(Split::All, (0..conversations.len()).collect())]
    } else {
        let (held, tuning): (Vec<usize>, Vec<usize>) =
            (0..conversations.len()).partition(|&i| held_out.contains(&conversations[i].id));
        vec![(Split::Tuning, tuning), (Split::HeldOut, held)]
    };
    let method = super::searching(&store)?;
    let mut reports = Vec::new();
    for (split, members) in splits {
        let mut report = LocomoExtractionReport {
            split,
            conversations: members.len(),
            turns: 0,
            facts: 0,
            questions: 0,
            raw_contained: 0,
            extracted_contained: 0,
            per_category: BTreeMap::new(),
            named: 0,
            unresolved: Vec::new(),
            fabricated: Vec::new(),
            lost: Vec::new(),
        };
        for i in members {
            let (conversation, facts) = (&conversations[i], &stored[i]);
            report.turns += conversation.turns.len();
            check_facts(conversation, facts, &mut report);
            ask(&store, &analyzer, method, conversation, facts, &mut report)?;
        }
        reports.push(report);
    }
    Ok(reports)
}

/// A fact with the session it came from: its date and the words said in it.
struct StoredFact {
    decision: String,
    date: Timestamp,
    session_text: String,
}

fn raw_tenant(conversation: &Conversation) -> String {
    format!("raw/{}", conversation.id)
}

fn facts_tenant(conversation: &Conversation) -> String {
    format!("facts/{}", conversation.id)
}

/// Stores the conversation's turns raw and its sessions' facts; the facts saved.
fn store_conversation(
    store: &Store,
    extractor: &dyn Extractor,
    conversation: &Conversation,
) -> Result<Vec<StoredFact>> {
    let raw: Vec<NewMemory> = conversation
        .turns
        .iter()
        .map(|turn| {
            let mut memory = NewMemory::new(format!("{}: {}", turn.speaker, turn.text))
                .with_tenant(raw_tenant(conversation))
                .with_source("locomo")
                .with_channel(turn.dia_id.clone())
                .with_session(format!("session_{}", turn.session));
            memory.valid_from = turn.date;
            memory.recorded_at = turn.date;
            memory
        })
        .collect();
    store.write_batch(ACCOUNT, raw)?;
    let mut saved = Vec::new();
    let mut sessions: BTreeMap<usize, Vec<&super::Turn>> = BTreeMap::new();
    for turn in &conversation.turns {
        sessions.entry(turn.session).or_default().push(turn);
    }
    let mut last_date = Timestamp::from_micros(0);
    for (session, turns) in sessions {
        let date = turns.iter().find_map(|t| t.date).unwrap_or(last_date);
        last_date = date;
        let session_text: String = turns
            .iter()
            .map(|t| t.text.as_str())
            .collect::<Vec<_>>()
            .join("\n");
        let mut speakers: Vec<&str> = Vec::new();
        for turn in &turns {
            if !speakers.contains(&turn.speaker.as_str()) {
                speakers.push(&turn.speaker);
            }
        }
        for side in &speakers {
            let messages: Vec<Turn> = turns
                .iter()
                .map(|t| {
                    let role = if t.speaker == *side {
                        "user"
                    } else {
                        "assistant"
                    };
                    Turn::new(role, t.text.clone()).named(t.speaker.clone())
                })
                .collect();
            let facts = extractor.extract(&messages, date)?;
            let channel = format!("session_{session}");
            let batch: Vec<NewMemory> = facts
                .iter()
                .map(|fact| {
                    let mut memory = NewMemory::new(fact.decision.clone())
                        .with_tenant(facts_tenant(conversation))
                        .with_source("agent_session")
                        .with_channel(channel.clone())
                        .with_session(channel.clone())
                        .with_importance(fact.importance_score);
                    memory.topic = fact.topic.clone();
                    memory.valid_from = Some(date);
                    memory.recorded_at = Some(date);
                    memory
                })
                .collect();
            for outcome in store.write_batch(ACCOUNT, batch)? {
                if let crate::model::WriteOutcome::Saved(m) = outcome {
                    saved.push(StoredFact {
                        decision: m.decision.clone(),
                        date,
                        session_text: session_text.clone(),
                    });
                }
            }
        }
    }
    Ok(saved)
}

/// Counts the facts naming a speaker, and those with unresolved or fabricated dates.
fn check_facts(
    conversation: &Conversation,
    facts: &[StoredFact],
    report: &mut LocomoExtractionReport,
) {
    let mut speakers: Vec<&str> = Vec::new();
    for turn in &conversation.turns {
        if !speakers.contains(&turn.speaker.as_str()) {
            speakers.push(&turn.speaker);
        }
    }
    for fact in facts {
        report.facts += 1;
        let words: HashSet<String> = word_list(&fact.decision).into_iter().collect();
        if speakers
            .iter()
            .any(|s| words.contains(&s.to_lowercase()) || fact.decision.contains(&format!("{s}'")))
        {
            report.named += 1;
        }
        if !relative_time_words(&fact.decision).is_empty() && !fact.decision.contains("(as of ") {
            report
                .unresolved
                .push((conversation.id.clone(), fact.decision.clone()));
        }
        let source = fact.session_text.to_lowercase();
        // What the session's relative time resolves to, sentence by sentence (a weekday's
        // reading depends on its sentence's tense) and as a whole.
        let resolutions: Vec<String> = fact
            .session_text
            .unicode_sentences()
            .chain(std::iter::once(fact.session_text.as_str()))
            .flat_map(|text| time_phrases(text, fact.date))
            .filter_map(|p| p.resolved)
            .map(|r| r.to_lowercase())
            .collect();
        // The day the session was said is given too (the facts are marked with it).
        let said = fact
            .date
            .to_datetime()
            .map(|dt| crate::extract::render_day(dt.date_naive()).to_lowercase())
            .unwrap_or_default();
        let grounded = |date: &str| {
            let date = date.to_lowercase();
            source.contains(&date)
                || resolutions.iter().any(|r| r.contains(&date))
                || said.contains(&date)
        };
        if date_mentions(&fact.decision).iter().any(|d| !grounded(d)) {
            report
                .fabricated
                .push((conversation.id.clone(), fact.decision.clone()));
        }
    }
}

/// Asks the conversation's questions of its raw and its extracted tenant.
fn ask(
    store: &Store,
    analyzer: &Analyzer,
    method: SearchType,
    conversation: &Conversation,
    facts: &[StoredFact],
    report: &mut LocomoExtractionReport,
) -> Result<()> {
    let fact_terms: Vec<HashSet<String>> = facts
        .iter()
        .map(|f| analyzer.terms(&f.decision).into_iter().collect())
        .collect();
    for question in &conversation.questions {
        if ![1, 2, 4].contains(&question.category) {
            continue;
        }
        let Some(answer) = &question.answer else {
            continue;
        };
        let wanted: HashSet<String> = analyzer.terms(answer).into_iter().collect();
        if wanted.is_empty() {
            continue;
        }
        let contained = |tenant: String| -> Result<bool> {
            let found = store.search(
                ACCOUNT,
                &SearchQuery::new(question.text.clone())
                    .tenant(tenant)
                    .limit(TOP)
                    .method(method),
            )?;
            let retrieved: HashSet<String> = found
                .hits
                .iter()
                .flat_map(|hit| analyzer.terms(&hit.memory.decision))
                .collect();
            Ok(wanted.is_subset(&retrieved))
        };
        let raw = contained(raw_tenant(conversation))?;
        let extracted = contained(facts_tenant(conversation))?;
        report.questions += 1;
        report.raw_contained += usize::from(raw);
        report.extracted_contained += usize::from(extracted);
        if raw && !extracted {
            let held = fact_terms.iter().any(|terms| wanted.is_subset(terms));
            report.lost.push((
                conversation.id.clone(),
                question.text.clone(),
                answer.clone(),
                held,
            ));
        }
        let entry = report.per_category.entry(question.category).or_default();
        entry.0 += 1;
        entry.1 += usize::from(raw);
        entry.2 += usize::from(extracted);
    }
    Ok(())
}

/// Lower-cased words (apostrophes inside kept).
fn word_list(text: &str) -> Vec<String> {
    text.split(|c: char| !(c.is_alphanumeric() || c == '\'' || c == '’'))
        .map(|w| w.trim_matches(['\'', '’']).to_lowercase().replace('’', "'"))
        .filter(|w| !w.is_empty())
        .collect()
}

/// Relative time in `text` that names no absolute date: "yesterday", "last week", "next
/// Friday", "two weeks ago", "in a month", a bare weekday, "recently". The eval's own list,
/// kept apart from the extractor's resolver so that what the resolver misses shows.
pub fn relative_time_words(text: &str) -> Vec<String> {
    const SINGLE: &[&str] = &[
        "yesterday",
        "yesterday's",
        "today",
        "today's",
        "tonight",
        "tonight's",
        "tomorrow",
        "tomorrow's",
        "ago",
        "recently",
        "lately",
        "nowadays",
        "soon",
        "someday",
    ];
    const RELATIVE: &[&str] = &["last", "next", "this", "coming", "past", "previous"];
    const UNITS: &[&str] = &[
        "week",
        "weekend",
        "month",
        "year",
        "night",
        "morning",
        "afternoon",
        "evening",
        "summer",
        "spring",
        "fall",
        "autumn",
        "winter",
        "days",
        "weeks",
        "months",
        "years",
    ];
    const WEEKDAYS: &[&str] = &[
        "monday",
        "tuesday",
        "wednesday",
        "thursday",
        "friday",
        "saturday",
        "sunday",
    ];
    const COUNTS: &[&str] = &[
        "a", "an", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten",
        "few", "couple",
    ];
    let words = word_list(text);
    let mut found = Vec::new();
    for (i, w) in words.iter().enumerate() {
        let next = words.get(i + 1).map_or("", String::as_str);
        let previous = if i > 0 { words[i - 1].as_str() } else { "" };
        if SINGLE.contains(&w.as_str()) {
            found.push(w.clone());
        } else if RELATIVE.contains(&w.as_str())
            && (UNITS.contains(&next) || WEEKDAYS.contains(&next))
        {
            found.push(format!("{w} {next}"));
        } else if w == "other" && previous == "the" && matches!(next, "day" | "week" | "night") {
            found.push(format!("the other {next}"));
        } else if w == "in"
            // "in a day" is a duration ("Rome wasn't built in a day"), not a date.
            && !(matches!(next, "a" | "one") && words.get(i + 2).is_some_and(|u| u == "day"))
            && (COUNTS.contains(&next) || next.parse::<u32>().is_ok_and(|n| n <= 100))
            && words.get(i + 2).is_some_and(|u| {
                matches!(
                    u.as_str(),
                    "day" | "days" | "week" | "weeks" | "month" | "months" | "year" | "years"
                )
            })
        {
            found.push(format!("in {next} {}", words[i + 2]));
        } else if WEEKDAYS.contains(&w.as_str())
            && !RELATIVE.contains(&previous)
            && !matches!(previous, "every" | "each")
            && !next.chars().next().is_some_and(|c| c.is_ascii_digit())
        {
            found.push(w.clone());
        }
    }
    found
}

/// The absolute dates `text` mentions: "7 May 2023", "May 2023", a year.
fn date_mentions(text: &str) -> Vec<String> {
    const MONTHS: &[&str] = &[
        "january",
        "february",
        "march",
        "april",
        "may",
        "june",
        "july",
        "august",
        "september",
        "october",
        "november",
        "december",
    ];
    let words = word_list(text);
    let year = |w: &str| w.len() == 4 && w.parse::<u32>().is_ok_and(|y| (1900..=2100).contains(&y));
    let mut found = Vec::new();
    let mut i = 0;
    while i < words.len() {
        let w = words[i].as_str();
        let next = words.get(i + 1).map_or("", String::as_str);
        let after = words.get(i + 2).map_or("", String::as_str);
        if w.parse::<u32>().is_ok_and(|d| (1..=31).contains(&d))
            && MONTHS.contains(&next)
            && year(after)
        {
            found.push(format!("{w} {next} {after}"));
            i += 3;
        } else if MONTHS.contains(&w) && year(next) {
            found.push(format!("{w} {next}"));
            i += 2;
        } else if year(w) {
            found.push(w.to_owned());
            i += 1;
        } else {
            i += 1;
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::extract::RulesExtractor;

    #[test]
    fn the_detector_finds_relative_time_and_not_resolved_dates() {
        assert_eq!(relative_time_words("I went there last week"), ["last week"]);
        assert_eq!(relative_time_words("She called yesterday"), ["yesterday"]);
        assert_eq!(relative_time_words("Two weeks ago we met"), ["ago"]);
        assert_eq!(relative_time_words("I fly in two weeks"), ["in two weeks"]);
        assert_eq!(relative_time_words("See you on Friday"), ["friday"]);
        assert!(relative_time_words("I swim every Friday").is_empty());
        assert!(
            relative_time_words("on Friday 24 March 2023 in the week of 20 March 2023").is_empty()
        );
    }

    #[test]
    fn dates_are_found_whole() {
        assert_eq!(
            date_mentions("Caroline went on 7 May 2023 and in June 2024, not in 1999."),
            ["7 may 2023", "june 2024", "1999"]
        );
    }

    #[test]
    fn raw_and_extracted_answers_are_counted_apart() {
        let file = serde_json::json!([{
            "sample_id": "conv-1",
            "conversation": {
                "speaker_a": "Caroline", "speaker_b": "Melanie",
                "session_1_date_time": "1:56 pm on 8 May, 2023",
                "session_1": [
                    {"speaker": "Caroline", "dia_id": "D1:1", "text": "I went to the LGBTQ support group yesterday."},
                    {"speaker": "Melanie", "dia_id": "D1:2", "text": "That's awesome! I painted a sunrise last year."},
                    {"speaker": "Caroline", "dia_id": "D1:3", "text": "Wow, so cool!"}
                ]
            },
            "qa": [
                {"question": "When did Caroline go to the support group?", "answer": "7 May 2023", "evidence": ["D1:1"], "category": 2},
                {"question": "What did Melanie paint?", "answer": "a sunrise", "evidence": ["D1:2"], "category": 4},
                {"question": "Who is cool?", "answer": "so cool", "evidence": ["D1:3"], "category": 4},
                {"question": "Open?", "answer": "x y", "evidence": ["D1:3"], "category": 3}
            ]
        }]);
        let reports =
            run_locomo_extraction(&file.to_string(), &RulesExtractor, StoreOptions::new(), &[])
                .unwrap();
        let report = &reports[0];
        assert_eq!((report.conversations, report.turns), (1, 3));
        // Both sides yield the same two facts; the duplicate rule keeps one of each.
        assert_eq!(report.facts, 2, "{report}");
        assert_eq!(report.named, 2);
        // The date is only in the fact; the sunrise in both; "so cool" in the raw turn only.
        assert_eq!(report.questions, 3);
        assert_eq!((report.raw_contained, report.extracted_contained), (2, 2));
        assert_eq!(report.per_category[&2], (1, 0, 1));
        assert!(
            report.unresolved.is_empty() && report.fabricated.is_empty(),
            "{report}"
        );
    }
}
