use serde::{Deserialize, Serialize};

/// The outcome of one test execution, or of a test after its attempts are merged.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// Ran and passed.
    Passed,
    /// Not run.
    Skipped,
    /// Failed as expected (`xfail`).
    Xfailed,
    /// Passed though expected to fail.
    Xpassed,
    /// An assertion did not hold.
    Failed,
    /// Could not run as written (an exception outside the assertion, a setup failure).
    Error,
}

impl Status {
    /// How bad an outcome is, for "the worst of the attempts": an error (the test could not run
    /// as written) is worse than a failure (an assertion did not hold), which is worse than an
    /// unexpected pass, an expected failure, a skip and a pass, in that order.
    pub fn severity(self) -> u8 {
        match self {
            Status::Passed => 0,
            Status::Skipped => 1,
            Status::Xfailed => 2,
            Status::Xpassed => 3,
            Status::Failed => 4,
            Status::Error => 5,
        }
    }

    /// True for the outcomes that make a run red.
    pub fn is_failure(self) -> bool {
        matches!(self, Status::Failed | Status::Error)
    }

    /// The name in reports, the API and the store.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Passed => "passed",
            Status::Failed => "failed",
            Status::Error => "error",
            Status::Skipped => "skipped",
            Status::Xfailed => "xfailed",
            Status::Xpassed => "xpassed",
        }
    }

    /// The inverse of [`Status::as_str`].
    pub fn parse(name: &str) -> Option<Status> {
        [
            Status::Passed,
            Status::Failed,
            Status::Error,
            Status::Skipped,
            Status::Xfailed,
            Status::Xpassed,
        ]
        .into_iter()
        .find(|s| s.as_str() == name)
    }

    /// The final status of a test from its attempts, independent of their order: passed if any
    /// attempt passed, otherwise the worst attempt. Returns `(status, flaky)`, where `flaky` is
    /// true when an attempt passed and another failed or errored.
    pub fn merge<I: IntoIterator<Item = Status>>(attempts: I) -> Option<(Status, bool)> {
        let mut any_passed = false;
        let mut any_failure = false;
        let mut worst: Option<Status> = None;
        for s in attempts {
            any_passed |= s == Status::Passed;
            any_failure |= s.is_failure();
            worst = Some(match worst {
                Some(w) if w.severity() >= s.severity() => w,
                _ => s,
            });
        }
        let worst = worst?;
        Some(if any_passed {
            (Status::Passed, any_failure)
        } else {
            (worst, false)
        })
    }
}

impl std::fmt::Display for Status {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::Status::*;
    use super::*;

    #[test]
    fn when_any_attempt_passed_should_be_passed_and_flaky_if_another_failed() {
        assert_eq!(Status::merge([Failed, Passed]), Some((Passed, true)));
        assert_eq!(Status::merge([Passed, Error]), Some((Passed, true)));
        assert_eq!(Status::merge([Passed, Skipped]), Some((Passed, false)));
        assert_eq!(Status::merge([Passed]), Some((Passed, false)));
    }

    #[test]
    fn when_no_attempt_passed_should_be_the_worst() {
        assert_eq!(
            Status::merge([Failed, Error, Skipped]),
            Some((Error, false))
        );
        assert_eq!(Status::merge([Skipped, Xfailed]), Some((Xfailed, false)));
        assert_eq!(Status::merge([Xpassed, Failed]), Some((Failed, false)));
        assert_eq!(Status::merge([]), None);
    }

    #[test]
    fn merge_should_not_depend_on_order() {
        let all = [Passed, Failed, Error, Skipped, Xfailed, Xpassed];
        for a in all {
            for b in all {
                for c in all {
                    assert_eq!(Status::merge([a, b, c]), Status::merge([c, a, b]));
                    assert_eq!(Status::merge([a, b, c]), Status::merge([b, c, a]));
                }
            }
        }
    }
}
