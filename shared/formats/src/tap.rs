//! Test Anything Protocol, versions 12, 13 and 14.
//!
//! - `ok`/`not ok` lines are tests; `# SKIP` → skipped, `not ok # TODO` → xfailed,
//!   `ok # TODO` → xpassed (directives case-insensitive); `\#` is a literal `#`.
//! - YAML diagnostic blocks (`---` … `...`) after a test give its message (`message:`), its
//!   duration (`duration_ms:`) and its details (the whole block).
//! - Indented subtests: the leaves are the tests; a test line that closes an indented block is
//!   a suite, named by its description (or the `# Subtest:` comment). A failing parent whose
//!   children all passed (a plan mismatch inside) is kept as a test too, so the failure shows.
//! - Plans (`1..N`) may come first or last; a top-level plan that does not match the number of
//!   tests is a warning. `1..0 # SKIP` is an empty, skipped run.
//! - `Bail out!` stops the stream: it becomes an `error` result named `Bail out!` with its
//!   reason, so the run is red.
//! - TAP has no reruns, so the same description twice in one suite is two tests: the second is
//!   named `desc #2`, and so on.

use crate::input::Input;
use crate::{Ctx, ParseError, Position};
use std::collections::HashMap;
use verdict_model::{Attempt, Status, TestCase};

struct Group {
    indent: usize,
    name: Option<String>,
    leaves: Vec<TestCase>,
    names: HashMap<String, u32>,
    any_failure: bool,
}

impl Group {
    fn new(indent: usize, name: Option<String>) -> Self {
        Group {
            indent,
            name,
            leaves: Vec::new(),
            names: HashMap::new(),
            any_failure: false,
        }
    }

    /// The name of a new test in this group: a repeated description gets its occurrence number.
    fn unique(&mut self, name: String) -> String {
        let n = self.names.entry(name.clone()).or_insert(0);
        *n += 1;
        if *n == 1 {
            name
        } else {
            format!("{name} #{n}")
        }
    }
}

struct TestLine {
    ok: bool,
    number: Option<u64>,
    description: String,
    directive: Option<(String, String)>,
    duration_ms: Option<u64>,
}

pub(crate) fn parse(input: Input<'_>, ctx: &mut Ctx<'_>) -> Result<(), ParseError> {
    let mut groups = vec![Group::new(0, None)];
    // The last test read, held until its YAML block (if any) is read.
    let mut last: Option<(usize, TestCase)> = None;
    let mut yaml: Option<(usize, Vec<String>)> = None;
    let mut plan: Option<(u64, u64)> = None;
    let mut top_level_tests = 0u64;
    let mut pending_subtest_name: Option<(usize, String)> = None;

    for line in input.lines() {
        let (number, raw) = line?;
        let indent = raw.len() - raw.trim_start_matches([' ', '\t']).len();
        let content = raw.trim();

        if let Some((yindent, block)) = yaml.as_mut() {
            // The block ends at `...`, or (unterminated) at the first line indented less than
            // its `---`, which is then read as usual.
            let ends_here = content == "..." && indent <= *yindent + 2;
            let outdented = !content.is_empty() && indent < *yindent;
            if !ends_here && !outdented {
                block.push(raw.get(*yindent..).unwrap_or(content).to_string());
                continue;
            }
            let block = std::mem::take(block);
            yaml = None;
            if let Some((_, case)) = last.as_mut() {
                apply_yaml(case, &block);
            }
            if ends_here {
                continue;
            }
            ctx.warn(
                Some(Position::line(number)),
                "a YAML diagnostic block is not closed by `...`",
            );
        }
        if content.starts_with("---") && last.as_ref().is_some_and(|(i, _)| indent > *i) {
            yaml = Some((indent, Vec::new()));
            continue;
        }
        if let Some(reason) = content.strip_prefix("Bail out!") {
            flush(&mut last, &mut groups, ctx);
            let reason = reason.trim();
            ctx.warn(Some(Position::line(number)), format!("Bail out! {reason}"));
            let mut attempt = Attempt::new(Status::Error, 0);
            attempt.message = Some(if reason.is_empty() {
                "Bail out!".to_string()
            } else {
                reason.to_string()
            });
            groups[0].leaves.push(TestCase {
                name: "Bail out!".to_string(),
                attempts: vec![attempt],
                ..TestCase::default()
            });
            break;
        }
        if let Some(name) = content.strip_prefix("# Subtest:") {
            pending_subtest_name = Some((indent, name.trim().to_string()));
            continue;
        }
        if indent == 0 {
            if let Some(p) = parse_plan(content) {
                plan = Some(p);
                continue;
            }
        }
        let Some(test) = parse_test_line(content) else {
            continue;
        };
        flush(&mut last, &mut groups, ctx);

        // A test line at a shallower indent than the innermost group closes that group: it
        // is the group's parent, a suite.
        let mut closed: Option<Group> = None;
        while groups.len() > 1 && groups.last().is_some_and(|g| g.indent > indent) {
            let inner = groups.pop().expect("checked above");
            if let Some(prev) = closed.take() {
                // Leaves of a deeper group that had no parent line of its own.
                let mut inner = inner;
                inner.any_failure |= prev.any_failure;
                inner.leaves.extend(prev.leaves);
                closed = Some(inner);
            } else {
                closed = Some(inner);
            }
        }
        if indent > groups.last().map_or(0, |g| g.indent) {
            let name = pending_subtest_name
                .take()
                .filter(|(i, _)| *i == indent)
                .map(|(_, n)| n);
            groups.push(Group::new(indent, name));
        }
        if indent == 0 {
            top_level_tests += 1;
        }
        let status = status_of(&test);
        let group = groups
            .last_mut()
            .expect("the top-level group is never popped");
        if let Some(child) = closed {
            let suite_name = if test.description.is_empty() {
                child
                    .name
                    .clone()
                    .unwrap_or_else(|| format!("subtest {}", test.number.unwrap_or(0)))
            } else {
                test.description.clone()
            };
            group.any_failure |= child.any_failure || status.is_failure();
            for mut leaf in child.leaves {
                leaf.suite.insert(0, suite_name.clone());
                group.leaves.push(leaf);
            }
            if !status.is_failure() || child.any_failure {
                emit_ready(&mut groups, ctx);
                continue;
            }
        }
        let group = groups
            .last_mut()
            .expect("the top-level group is never popped");
        group.any_failure |= status.is_failure();
        let name = if test.description.is_empty() {
            format!("test {}", test.number.unwrap_or(top_level_tests))
        } else {
            test.description.clone()
        };
        let name = group.unique(name);
        let mut attempt = Attempt::new(status, test.duration_ms.unwrap_or(0));
        if let Some((_, reason)) = &test.directive {
            attempt.message = (!reason.is_empty()).then(|| reason.clone());
        }
        last = Some((
            indent,
            TestCase {
                name,
                attempts: vec![attempt],
                ..TestCase::default()
            },
        ));
        emit_ready(&mut groups, ctx);
    }
    if yaml.is_some() {
        ctx.warn(None, "a YAML diagnostic block is not closed by `...`");
    }
    flush(&mut last, &mut groups, ctx);
    while groups.len() > 1 {
        let inner = groups.pop().expect("len > 1");
        let name = inner.name.clone();
        let outer = groups.last_mut().expect("len >= 1");
        for mut leaf in inner.leaves {
            if let Some(n) = &name {
                leaf.suite.insert(0, n.clone());
            }
            outer.leaves.push(leaf);
        }
        ctx.warn(None, "subtests end without their parent test line");
    }
    emit_ready(&mut groups, ctx);
    if let Some((start, end)) = plan {
        let planned = end.saturating_sub(start) + 1;
        let planned = if end == 0 { 0 } else { planned };
        if planned != top_level_tests {
            ctx.warn(
                None,
                format!("the plan says {planned} tests but {top_level_tests} were reported"),
            );
        }
    }
    Ok(())
}

/// Moves the held test into its group.
fn flush(last: &mut Option<(usize, TestCase)>, groups: &mut [Group], ctx: &mut Ctx<'_>) {
    if let Some((indent, case)) = last.take() {
        let group = groups
            .iter_mut()
            .rev()
            .find(|g| g.indent <= indent)
            .expect("the top-level group has indent 0");
        group.leaves.push(case);
    }
    emit_ready(groups, ctx);
}

/// Top-level tests are complete as soon as they are read: hand them over.
fn emit_ready(groups: &mut [Group], ctx: &mut Ctx<'_>) {
    for case in groups[0].leaves.drain(..) {
        ctx.emit(case);
    }
}

fn status_of(t: &TestLine) -> Status {
    match t.directive.as_ref().map(|(d, _)| d.as_str()) {
        Some("skip") => Status::Skipped,
        Some("todo") if t.ok => Status::Xpassed,
        Some("todo") => Status::Xfailed,
        _ if t.ok => Status::Passed,
        _ => Status::Failed,
    }
}

fn parse_plan(s: &str) -> Option<(u64, u64)> {
    let rest = s.strip_prefix("1..").map(|r| ("1", r)).or_else(|| {
        let (a, b) = s.split_once("..")?;
        Some((a, b))
    })?;
    let (start, tail) = rest;
    let end: String = tail.chars().take_while(char::is_ascii_digit).collect();
    if end.is_empty() || !start.chars().all(|c| c.is_ascii_digit()) {
        return None;
    }
    Some((start.parse().ok()?, end.parse().ok()?))
}

fn parse_test_line(s: &str) -> Option<TestLine> {
    let (ok, rest) = if let Some(r) = s.strip_prefix("not ok") {
        (false, r)
    } else if let Some(r) = s.strip_prefix("ok") {
        (true, r)
    } else {
        return None;
    };
    if !(rest.is_empty() || rest.starts_with([' ', '\t', '#'])) {
        return None;
    }
    let rest = rest.trim_start();
    let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
    let number = digits.parse().ok();
    let rest = rest[digits.len()..].trim_start();
    let rest = rest
        .strip_prefix("- ")
        .or_else(|| (rest == "-").then_some(""))
        .unwrap_or(rest);

    // Split the description from the directive at the first unescaped `#`.
    let mut description = String::new();
    let mut directive_text = None;
    let mut chars = rest.char_indices();
    while let Some((i, c)) = chars.next() {
        match c {
            '\\' => match chars.next() {
                Some((_, '#')) => description.push('#'),
                Some((_, '\\')) => description.push('\\'),
                Some((_, other)) => {
                    description.push('\\');
                    description.push(other);
                }
                None => description.push('\\'),
            },
            // A directive's `#` starts the description or follows whitespace: `title#skip`
            // is a title.
            '#' if description.is_empty() || description.ends_with(char::is_whitespace) => {
                directive_text = Some(rest[i + 1..].trim());
                break;
            }
            _ => description.push(c),
        }
    }
    let mut directive = None;
    let mut duration_ms = None;
    if let Some(d) = directive_text {
        let lower = d.to_ascii_lowercase();
        for kind in ["skip", "todo"] {
            if lower.starts_with(kind) {
                let reason = d[kind.len()..]
                    .trim_start_matches(|c: char| c.is_ascii_alphabetic())
                    .trim_start_matches(':')
                    .trim();
                directive = Some((kind.to_string(), reason.to_string()));
            }
        }
        if let Some(t) = lower.strip_prefix("time=") {
            let n = t.trim_end_matches("ms");
            duration_ms = n
                .trim()
                .parse::<f64>()
                .ok()
                .filter(|v| v.is_finite() && *v >= 0.0)
                .map(|v| v.round() as u64);
        }
    }
    Some(TestLine {
        ok,
        number,
        description: description.trim().to_string(),
        directive,
        duration_ms,
    })
}

fn apply_yaml(case: &mut TestCase, block: &[String]) {
    let attempt = case
        .attempts
        .last_mut()
        .expect("a TAP test has one attempt");
    for line in block {
        let l = line.trim();
        if let Some(m) = l.strip_prefix("message:") {
            let m = m.trim().trim_matches(|c| c == '\'' || c == '"');
            if !m.is_empty() && m != "|-" && m != "|" && m != ">-" {
                attempt.message = Some(m.to_string());
            }
        } else if let Some(d) = l.strip_prefix("duration_ms:") {
            if let Ok(v) = d.trim().parse::<f64>() {
                if v.is_finite() && v >= 0.0 {
                    attempt.duration_ms = v.round() as u64;
                }
            }
        }
    }
    if !block.is_empty() {
        attempt.details = Some(block.join("\n"));
    }
}
