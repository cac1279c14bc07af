//! How a test's outcome changed over a stretch of runs, in a form that adds up: [`Flips`], made
//! for each test of a day's duration rollup that failed or passed only on a retry that day
//! ([`Flips::of_day`]), and joined oldest first over a window ([`Flips::then`]), so that its
//! flip rate, the commits it both passed and failed on and the runs that show it flaky are
//! exact over any number of runs, read from the same few objects a window's durations are.
//!
//! A day's objects hold, per run, whether it failed as a whole, and per test the runs (by their
//! place in the object) it did not run in, failed in and passed only on a retry in, and the
//! commits it flipped on ([`Marks`]): nothing for the common test that ran in every run and
//! passed.

use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;

/// Runs that show a test flaky kept, newest first: what `/v1/flaky` lists.
pub const SHOWN_RUNS: usize = 20;

/// A run named with its creation time, so runs sort by time.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct RunAt {
    /// When the run was created (ms since the epoch).
    #[serde(rename = "t")]
    pub created_ms: u64,
    /// The run's key.
    #[serde(rename = "r")]
    pub run: String,
}

/// A test over a stretch of runs, oldest first: its outcome in each run where it ran, a run
/// that failed as a whole ([`crate::Run::failed_as_a_whole`]) left out when it failed there.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Flips {
    /// Runs where it ran, but those left out.
    #[serde(rename = "n")]
    pub ran: u64,
    /// Whether it failed in the first of them.
    #[serde(rename = "a", default)]
    pub first_failed: bool,
    /// Whether it failed in the last of them.
    #[serde(rename = "z", default)]
    pub last_failed: bool,
    /// Changes between failing and not failing from one of them to the next.
    #[serde(rename = "k", default)]
    pub flips: u64,
    /// Runs left out: it failed in a run that failed as a whole.
    #[serde(rename = "i", default)]
    pub infra: u64,
    /// Commits it both failed and did not fail on, in different runs.
    #[serde(rename = "c", default, skip_serializing_if = "BTreeSet::is_empty")]
    pub same_commit: BTreeSet<String>,
    /// Runs that show it flaky: it failed there (not left out) or passed only on a retry.
    #[serde(rename = "m", default)]
    pub shown_runs: u64,
    /// The newest [`SHOWN_RUNS`] of them, newest first.
    #[serde(rename = "s", default, skip_serializing_if = "Vec::is_empty")]
    pub shown: Vec<RunAt>,
    /// The oldest of them.
    #[serde(rename = "o", default, skip_serializing_if = "Option::is_none")]
    pub oldest_shown: Option<RunAt>,
}

/// A run of a day's object, as [`Flips::of_day`] needs it.
#[derive(Debug, Clone, Copy)]
pub struct DayRun<'a> {
    /// The run.
    pub run: &'a str,
    /// When it was created.
    pub created_ms: u64,
    /// Whether it failed as a whole.
    pub infra: bool,
}

/// The runs of one day's object by place, with their order in time (made once per object).
pub struct DayRuns<'a> {
    runs: Vec<DayRun<'a>>,
    /// Their places, oldest first.
    order: Vec<u32>,
}

impl<'a> DayRuns<'a> {
    /// `runs` by place (the order they were folded in).
    pub fn new(runs: Vec<DayRun<'a>>) -> DayRuns<'a> {
        let mut order: Vec<u32> = (0..runs.len() as u32).collect();
        order.sort_by_key(|&i| (runs[i as usize].created_ms, runs[i as usize].run));
        DayRuns { runs, order }
    }
}

/// One test's marks in a day's object, by the runs' places in it (see the module's
/// documentation).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Marks {
    /// The runs it ran in, when not every one: bit `i` is the object's run `i`.
    #[serde(rename = "p", default, skip_serializing_if = "Option::is_none")]
    pub ran: Option<Bits>,
    /// The runs it failed (or errored) in, in order.
    #[serde(rename = "x", default, skip_serializing_if = "Vec::is_empty")]
    pub failed: Vec<u32>,
    /// The runs it passed only on a retry in, in order.
    #[serde(rename = "y", default, skip_serializing_if = "Vec::is_empty")]
    pub retried: Vec<u32>,
    /// Commits on which one of these runs and another run disagreed on it: one failed it, the
    /// other ran it and did not (`same_commit.rs`).
    #[serde(rename = "c", default, skip_serializing_if = "BTreeSet::is_empty")]
    pub same_commit: BTreeSet<String>,
}

/// How a test ended in one run, as [`Marks::set`] records it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mark {
    /// Not run (absent or skipped).
    Absent,
    /// Ran and did not fail: passed, or an expected failure or unexpected pass.
    Ran,
    /// Failed or errored.
    Failed,
    /// Passed after a failed attempt.
    Retried,
}

impl Marks {
    /// Records how the test ended in run `at` of an object of `runs` runs. `new`: the test was
    /// not in the object before this run, so it ran in none of the others.
    pub fn set(&mut self, at: u32, mark: Mark, runs: u32, new: bool) {
        let mut ran = match self.ran.take() {
            Some(bits) => bits,
            None if new => Bits::default(),
            None => Bits::ones(runs),
        };
        ran.set(at, mark != Mark::Absent);
        self.ran = (!ran.has_all(runs)).then_some(ran);
        set_in(&mut self.failed, at, mark == Mark::Failed);
        set_in(&mut self.retried, at, mark == Mark::Retried);
    }

    /// Whether the test ran in run `at`.
    fn ran_in(&self, at: u32) -> bool {
        self.ran.as_ref().is_none_or(|bits| bits.get(at))
    }

    /// Whether there is nothing to keep: it ran in every run and passed each.
    pub fn is_blank(&self) -> bool {
        *self == Marks::default()
    }

    /// Whether it failed, passed only on a retry or flipped on a commit in any run: what makes
    /// a day's [`Flips`].
    pub fn is_marked(&self) -> bool {
        !self.failed.is_empty() || !self.retried.is_empty() || !self.same_commit.is_empty()
    }
}

/// Puts `at` in (or takes it out of) the sorted list `list`.
fn set_in(list: &mut Vec<u32>, at: u32, present: bool) {
    match (list.binary_search(&at), present) {
        (Err(i), true) => list.insert(i, at),
        (Ok(i), false) => {
            list.remove(i);
        }
        _ => {}
    }
}

/// A set of runs of an object by their places: a bitmap, kept as hex.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Bits(Vec<u8>);

impl Bits {
    /// Runs `0..n`.
    fn ones(n: u32) -> Bits {
        let mut bits = Bits::default();
        for i in 0..n {
            bits.set(i, true);
        }
        bits
    }

    fn get(&self, i: u32) -> bool {
        let byte = self.0.get((i / 8) as usize).copied().unwrap_or(0);
        byte & (1 << (i % 8)) != 0
    }

    fn set(&mut self, i: u32, on: bool) {
        let at = (i / 8) as usize;
        if self.0.len() <= at {
            self.0.resize(at + 1, 0);
        }
        if on {
            self.0[at] |= 1 << (i % 8);
        } else {
            self.0[at] &= !(1 << (i % 8));
        }
    }

    fn has_all(&self, n: u32) -> bool {
        (0..n).all(|i| self.get(i))
    }
}

impl Serialize for Bits {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&hex::encode(&self.0))
    }
}

impl<'de> Deserialize<'de> for Bits {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Bits, D::Error> {
        let text = String::deserialize(deserializer)?;
        hex::decode(text)
            .map(Bits)
            .map_err(serde::de::Error::custom)
    }
}

impl Flips {
    /// A stretch of `ran` runs it ran in and did not fail in.
    pub fn passes(ran: u64) -> Flips {
        Flips {
            ran,
            ..Flips::default()
        }
    }

    /// The test of `marks` over the runs of one day's object.
    pub fn of_day(day: &DayRuns<'_>, marks: &Marks) -> Flips {
        let has = |list: &[u32], i: u32| list.binary_search(&i).is_ok();
        let mut flips = Flips::default();
        let mut last: Option<bool> = None;
        let mut shown: Vec<u32> = Vec::new();
        for &i in day.order.iter().filter(|&&i| marks.ran_in(i)) {
            let failed = has(&marks.failed, i);
            if failed && day.runs[i as usize].infra {
                flips.infra += 1;
                continue;
            }
            if failed || has(&marks.retried, i) {
                shown.push(i);
            }
            match last {
                None => flips.first_failed = failed,
                Some(before) if before != failed => flips.flips += 1,
                Some(_) => {}
            }
            last = Some(failed);
            flips.ran += 1;
        }
        let at = |i: &u32| {
            let run = &day.runs[*i as usize];
            RunAt {
                created_ms: run.created_ms,
                run: run.run.to_string(),
            }
        };
        flips.last_failed = last.unwrap_or(false);
        flips.same_commit = marks.same_commit.clone();
        flips.shown_runs = shown.len() as u64;
        flips.oldest_shown = shown.first().map(at);
        flips.shown = shown.iter().rev().take(SHOWN_RUNS).map(at).collect();
        flips
    }

    /// This stretch followed by `newer`, the runs after it.
    pub fn then(mut self, newer: Flips) -> Flips {
        if self.ran > 0 && newer.ran > 0 && self.last_failed != newer.first_failed {
            self.flips += 1;
        }
        if self.ran == 0 {
            self.first_failed = newer.first_failed;
        }
        if newer.ran > 0 {
            self.last_failed = newer.last_failed;
        }
        self.ran += newer.ran;
        self.flips += newer.flips;
        self.infra += newer.infra;
        self.same_commit.extend(newer.same_commit);
        self.shown_runs += newer.shown_runs;
        let mut shown = newer.shown;
        shown.extend(self.shown);
        shown.truncate(SHOWN_RUNS);
        self.shown = shown;
        self.oldest_shown = self.oldest_shown.or(newer.oldest_shown);
        self
    }

    /// Changes of outcome per change possible, to three decimals (0 over fewer than 2 runs).
    pub fn flip_rate(&self) -> f64 {
        if self.ran < 2 {
            return 0.0;
        }
        ((self.flips as f64 / (self.ran - 1) as f64) * 1000.0).round() / 1000.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// One run of a test's history, oldest first: whether the run failed as a whole, and how
    /// the test ended.
    type Step = (bool, Mark);

    /// What a brute-force reading of `history` says: (ran, flips, infra, shown runs), over the
    /// runs by index.
    fn recount(history: &[Step]) -> (u64, u64, u64, u64) {
        let considered: Vec<(usize, &Step)> = history
            .iter()
            .enumerate()
            .filter(|(_, s)| s.1 != Mark::Absent && !(s.0 && s.1 == Mark::Failed))
            .collect();
        let flips = considered
            .windows(2)
            .filter(|w| (w[0].1 .1 == Mark::Failed) != (w[1].1 .1 == Mark::Failed))
            .count() as u64;
        let infra = history
            .iter()
            .filter(|s| s.0 && s.1 == Mark::Failed)
            .count() as u64;
        let shown = considered
            .iter()
            .filter(|(_, s)| matches!(s.1, Mark::Failed | Mark::Retried))
            .count() as u64;
        (considered.len() as u64, flips, infra, shown)
    }

    /// `history` folded into one day's marks in the order `order` gives, as `Flips`.
    fn folded(history: &[Step], order: &[usize]) -> Flips {
        let names: Vec<String> = (0..history.len()).map(|i| format!("r{i:02}")).collect();
        let mut runs = Vec::new();
        let mut marks = Marks::default();
        for (n, &i) in order.iter().enumerate() {
            runs.push(DayRun {
                run: &names[i],
                created_ms: i as u64,
                infra: history[i].0,
            });
            marks.set(n as u32, history[i].1, n as u32 + 1, n == 0);
        }
        Flips::of_day(&DayRuns::new(runs), &marks)
    }

    fn history() -> Vec<Step> {
        use Mark::*;
        vec![
            (false, Ran),
            (false, Failed),
            (false, Absent),
            (true, Failed),
            (false, Retried),
            (false, Failed),
            (false, Failed),
            (false, Ran),
            (true, Ran),
            (false, Absent),
            (false, Failed),
        ]
    }

    #[test]
    fn a_day_folded_in_any_order_reads_as_its_history() {
        let history = history();
        let expected = recount(&history);
        let forward: Vec<usize> = (0..history.len()).collect();
        let orders = [
            forward.clone(),
            forward.iter().rev().copied().collect(),
            vec![5, 0, 10, 3, 1, 9, 2, 8, 4, 7, 6],
        ];
        for order in orders {
            let flips = folded(&history, &order);
            let read = (flips.ran, flips.flips, flips.infra, flips.shown_runs);
            assert_eq!(read, expected, "order {order:?}");
            assert_eq!(flips.oldest_shown.as_ref().unwrap().run, "r01");
            let shown: Vec<&str> = flips.shown.iter().map(|r| r.run.as_str()).collect();
            assert_eq!(shown, ["r10", "r06", "r05", "r04", "r01"], "newest first");
        }
    }

    #[test]
    fn days_joined_oldest_first_read_as_one_stretch() {
        let history = history();
        let whole = folded(&history, &(0..history.len()).collect::<Vec<_>>());
        for cut in 0..=history.len() {
            let (a, b) = history.split_at(cut);
            let older = folded(a, &(0..a.len()).collect::<Vec<_>>());
            let mut newer = folded(b, &(0..b.len()).collect::<Vec<_>>());
            // The second day's runs count from 0 again: name and time them as the whole does.
            for run in newer.shown.iter_mut().chain(newer.oldest_shown.as_mut()) {
                let i: usize = run.run[1..].parse().unwrap();
                run.run = format!("r{:02}", i + cut);
                run.created_ms += cut as u64;
            }
            let joined = older.then(newer);
            assert_eq!(
                (
                    joined.ran,
                    joined.flips,
                    joined.first_failed,
                    joined.last_failed
                ),
                (
                    whole.ran,
                    whole.flips,
                    whole.first_failed,
                    whole.last_failed
                ),
                "cut at {cut}"
            );
            assert_eq!(joined.shown_runs, whole.shown_runs);
            assert_eq!(joined.oldest_shown, whole.oldest_shown);
        }
    }

    #[test]
    fn a_stretch_of_passes_joins_like_the_days_it_stands_for() {
        use Mark::*;
        let failing = folded(&[(false, Failed)], &[0]);
        assert_eq!(Flips::passes(3).then(failing.clone()).flips, 1);
        assert_eq!(failing.clone().then(Flips::passes(3)).flips, 1);
        assert_eq!(
            Flips::passes(0)
                .then(failing.clone())
                .then(Flips::passes(0)),
            failing,
            "no runs change nothing"
        );
        let passing = folded(&[(false, Ran), (false, Retried)], &[1, 0]);
        assert_eq!(Flips::passes(2).then(passing).flip_rate(), 0.0);
    }

    #[test]
    fn a_test_that_ran_in_every_run_keeps_no_bitmap() {
        let mut marks = Marks::default();
        marks.set(0, Mark::Ran, 1, true);
        marks.set(1, Mark::Failed, 2, false);
        assert_eq!(marks.ran, None);
        marks.set(2, Mark::Absent, 3, false);
        assert_eq!(marks.ran, Some(Bits(vec![0b011])));
        // The run folded again with the test in it: every run again.
        marks.set(2, Mark::Retried, 3, false);
        assert_eq!((marks.ran.clone(), marks.retried.clone()), (None, vec![2]));
        let mut late = Marks::default();
        late.set(3, Mark::Ran, 4, true);
        assert_eq!(late.ran, Some(Bits(vec![0b1000])), "new in the fourth run");
        let text = serde_json::to_string(&late).unwrap();
        assert_eq!(text, r#"{"p":"08"}"#);
        assert_eq!(serde_json::from_str::<Marks>(&text).unwrap(), late);
    }
}
