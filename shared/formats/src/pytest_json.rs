//! pytest-json-report (`pytest --json-report`): `tests[]`, one per node id, with the `setup`,
//! `call` and `teardown` stages.
//!
//! - A test is its node id split as pytest's own JUnit XML does: `tests/test_x.py::TestG::t[1]`
//!   has classname `tests.test_x.TestG`, name `t[1]` and file `tests/test_x.py`, so both
//!   outputs of one suite give the same test ids.
//! - `outcome`: `passed`, `failed`, `error`, `skipped`, `xfailed`, `xpassed`. `rerun`
//!   (pytest-rerunfailures) means the test failed and was run again; its stages are those of
//!   the last run, so it is one failed attempt followed by the last run's outcome (a pass makes
//!   it flaky). A test rerun and failing every time is written `failed` with no trace of the
//!   reruns: the report cannot say it was retried.
//! - The failing stage says why: `crash.message` is the message, `longrepr` the details, and
//!   its captured `stdout`/`stderr` are kept. A skip's reason is taken from its `longrepr`.
//! - The duration is the sum of the stages' (seconds), as pytest's JUnit `time` is by default.

use crate::input::Input;
use crate::json::{for_each_at, seconds};
use crate::{first_line, Ctx, ParseError};
use serde::Deserialize;
use verdict_model::{Attempt, Status, TestCase};

#[derive(Deserialize)]
struct PyTest {
    nodeid: String,
    #[serde(default)]
    lineno: Option<u32>,
    outcome: String,
    #[serde(default)]
    setup: Option<Stage>,
    #[serde(default)]
    call: Option<Stage>,
    #[serde(default)]
    teardown: Option<Stage>,
}

#[derive(Deserialize)]
struct Stage {
    #[serde(default)]
    duration: Option<f64>,
    #[serde(default)]
    outcome: Option<String>,
    #[serde(default)]
    crash: Option<Crash>,
    #[serde(default)]
    longrepr: Option<String>,
    #[serde(default)]
    stdout: Option<String>,
    #[serde(default)]
    stderr: Option<String>,
}

#[derive(Deserialize)]
struct Crash {
    #[serde(default)]
    message: Option<String>,
}

pub(crate) fn parse(input: Input<'_>, ctx: &mut Ctx<'_>) -> Result<(), ParseError> {
    for_each_at(input, "pytest-json-report", &["tests"], |t: PyTest| {
        let case = test_case(&t, ctx);
        ctx.emit(case);
        Ok(())
    })?;
    Ok(())
}

fn test_case(t: &PyTest, ctx: &mut Ctx<'_>) -> TestCase {
    let stages = [&t.setup, &t.call, &t.teardown];
    let duration: f64 = stages
        .iter()
        .filter_map(|s| s.as_ref()?.duration)
        .filter(|d| d.is_finite() && *d > 0.0)
        .sum();
    let failing = stages
        .iter()
        .filter_map(|s| s.as_ref())
        .find(|s| matches!(s.outcome.as_deref(), Some("failed" | "skipped")));
    let (mut attempts, status) = match t.outcome.as_str() {
        "passed" => (Vec::new(), Status::Passed),
        "failed" => (Vec::new(), Status::Failed),
        "error" => (Vec::new(), Status::Error),
        "skipped" => (Vec::new(), Status::Skipped),
        "xfailed" => (Vec::new(), Status::Xfailed),
        "xpassed" => (Vec::new(), Status::Xpassed),
        "rerun" => (vec![Attempt::new(Status::Failed, 0)], last_run(t)),
        other => {
            ctx.warn(
                None,
                format!(
                    "test {:?} has outcome {other:?}, counted as an error",
                    t.nodeid
                ),
            );
            (Vec::new(), Status::Error)
        }
    };
    let mut last = Attempt::new(status, seconds(duration));
    if let Some(stage) = failing.filter(|_| status != Status::Passed && status != Status::Xpassed) {
        last.message = match &stage.crash {
            Some(c) => c.message.as_deref().and_then(first_line),
            None => stage.longrepr.as_deref().and_then(skip_reason),
        };
        last.details = stage.longrepr.clone();
        last.stdout = stage.stdout.clone();
        last.stderr = stage.stderr.clone();
    } else if let Some(call) = &t.call {
        last.stdout = call.stdout.clone();
        last.stderr = call.stderr.clone();
    }
    attempts.push(last);
    let (file, classname, name) = split_nodeid(&t.nodeid);
    TestCase {
        classname,
        name,
        file: Some(file),
        line: t.lineno,
        attempts,
        ..TestCase::default()
    }
}

/// The outcome of a rerun test's last run, from its stages.
fn last_run(t: &PyTest) -> Status {
    let outcome = |s: &Option<Stage>| s.as_ref().and_then(|s| s.outcome.clone());
    match (outcome(&t.setup), outcome(&t.call), outcome(&t.teardown)) {
        (Some(s), _, _) if s == "failed" => Status::Error,
        (_, Some(c), _) if c == "failed" => Status::Failed,
        (_, _, Some(d)) if d == "failed" => Status::Error,
        (_, Some(c), _) if c == "skipped" => Status::Skipped,
        _ => Status::Passed,
    }
}

/// `('path', 25, 'Skipped: reason')`, as pytest-json-report writes a skip, to `reason`.
fn skip_reason(longrepr: &str) -> Option<String> {
    let reason = longrepr
        .rsplit_once("Skipped: ")
        .map_or(longrepr, |(_, r)| r);
    first_line(reason.trim_end_matches(')').trim_end_matches(['\'', '"']))
}

/// `dir/test_x.py::Class::test[p]` to (`dir/test_x.py`, `dir.test_x.Class`, `test[p]`), as
/// pytest's JUnit XML names it. `::` inside the parameters' brackets is not a separator.
fn split_nodeid(nodeid: &str) -> (String, String, String) {
    let head_end = nodeid.find('[').unwrap_or(nodeid.len());
    let cut = nodeid[..head_end].rfind("::");
    let (path, name) = match cut {
        Some(i) => (&nodeid[..i], &nodeid[i + 2..]),
        None => ("", nodeid),
    };
    let mut parts = path.split("::");
    let file = parts.next().unwrap_or_default().to_string();
    let module = file
        .strip_suffix(".py")
        .unwrap_or(&file)
        .replace(['/', '\\'], ".");
    let classname = std::iter::once(module.as_str())
        .chain(parts)
        .filter(|p| !p.is_empty())
        .collect::<Vec<_>>()
        .join(".");
    (file, classname, name.to_string())
}

#[cfg(test)]
mod tests {
    use super::split_nodeid;

    #[test]
    fn should_name_tests_as_pytest_junit_does() {
        let s = |n: &str| {
            let (f, c, t) = split_nodeid(n);
            (f, c, t)
        };
        assert_eq!(
            s("tests/test_x.py::TestG::test_p[a::b]"),
            (
                "tests/test_x.py".into(),
                "tests.test_x.TestG".into(),
                "test_p[a::b]".into()
            )
        );
        assert_eq!(
            s("test_x.py::test_a"),
            ("test_x.py".into(), "test_x".into(), "test_a".into())
        );
    }
}
