//! Finding a result of a parsed report by its name, for the tests that check one test.

use verdict_formats::Report;
use verdict_model::TestResult;

/// The result named `name`; panics listing the names there are.
pub(crate) fn by_name<'a>(r: &'a Report, name: &str) -> &'a TestResult {
    r.results
        .iter()
        .find(|t| t.name == name)
        .unwrap_or_else(|| {
            panic!(
                "no test {name:?} in {:?}",
                r.results.iter().map(|t| &t.name).collect::<Vec<_>>()
            )
        })
}
