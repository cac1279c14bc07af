//! Finding a test in the project: `GET /v1/tests?q=&owner=&tag=&branch=` searches the catalog
//! of the project's newest settled run (of `branch` when given), the suite as it stands, in
//! one object read; a test page then has its history.

use crate::cache::cache;
use crate::params::{limit, Query};
use crate::present::page_json;
use lambda_http::http::StatusCode;
use lambda_http::{Body, Response};
use serde::{Deserialize, Serialize};
use serde_json::json;
use verdict_http::{json, ApiError};
use verdict_store::{CatalogEntry, ProjectName, RunFilter, Store, MAX_SORTED_TESTS};

/// Where the next page of matches starts.
#[derive(Debug, Serialize, Deserialize)]
struct CatalogCursor {
    offset: usize,
}

/// What a search asks for: every word of `q` in the suite, class or name (any case), the
/// owner and a tag exactly (any case).
#[derive(Debug, Default)]
pub(crate) struct Search {
    words: Vec<String>,
    owner: Option<String>,
    tag: Option<String>,
}

impl Search {
    fn new(q: Option<&str>, owner: Option<String>, tag: Option<String>) -> Search {
        Search {
            words: q
                .unwrap_or_default()
                .split_whitespace()
                .map(str::to_lowercase)
                .collect(),
            owner,
            tag,
        }
    }

    fn matches(&self, entry: &CatalogEntry) -> bool {
        let text = format!("{} {} {}", entry.suite, entry.classname, entry.name).to_lowercase();
        self.words.iter().all(|w| text.contains(w.as_str()))
            && self.owner.as_ref().is_none_or(|o| {
                entry
                    .owner
                    .as_ref()
                    .is_some_and(|mine| mine.eq_ignore_ascii_case(o))
            })
            && self
                .tag
                .as_ref()
                .is_none_or(|t| entry.tags.iter().any(|mine| mine.eq_ignore_ascii_case(t)))
    }
}

/// `GET /v1/tests`: the matching tests by name, paged.
pub(crate) async fn tests(
    store: &Store,
    q: &Query<'_>,
    project: &ProjectName,
) -> Result<Response<Body>, ApiError> {
    let search = Search::new(q.get("q").as_deref(), q.get("owner"), q.get("tag"));
    let limit = usize::try_from(limit(q)?).unwrap_or(0);
    let offset = q.start::<CatalogCursor>()?.map_or(0, |c| c.offset);
    let filter = RunFilter {
        branch: q.get("branch"),
        ..RunFilter::default()
    };
    let Some(run) = store.newest_settled(project, &filter).await? else {
        let mut body = page_json(Vec::new(), None);
        body["run_id"] = serde_json::Value::Null;
        body["truncated"] = false.into();
        return Ok(cache(json(StatusCode::OK, &body), 5));
    };
    let catalog = store.catalog(&run).await?;
    let mut matches = catalog.iter().filter(|e| search.matches(e)).skip(offset);
    let items: Vec<serde_json::Value> = matches.by_ref().take(limit).map(|e| json!(e)).collect();
    let next = matches.next().map(|_| CatalogCursor {
        offset: offset + limit,
    });
    let mut body = page_json(items, q.seal(next));
    body["run_id"] = run.run.run_key.as_str().into();
    // The catalog holds a run's first tests by id up to the bound of a sorted view.
    body["truncated"] = (run.summary.tests > MAX_SORTED_TESTS).into();
    Ok(cache(json(StatusCode::OK, &body), 30))
}

#[cfg(test)]
mod tests {
    use super::*;
    use verdict_model::Status;

    fn entry(suite: &str, classname: &str, name: &str) -> CatalogEntry {
        CatalogEntry {
            test_id: name.into(),
            suite: suite.into(),
            classname: classname.into(),
            name: name.into(),
            file: None,
            owner: Some("Team-Payments".into()),
            tags: vec!["slow".into(), "db".into()],
            status: Status::Passed,
            flaky: false,
        }
    }

    #[test]
    fn every_word_must_match_and_owner_and_tag_ignore_case() {
        let e = entry("api", "tests.checkout.CartTest", "test_adds_item");
        let search = |q: &str, owner: Option<&str>, tag: Option<&str>| {
            Search::new(Some(q), owner.map(Into::into), tag.map(Into::into)).matches(&e)
        };
        assert!(search("", None, None));
        assert!(search("cart ADDS", None, None));
        assert!(search("checkout", Some("team-payments"), Some("DB")));
        assert!(!search("cart removes", None, None));
        assert!(!search("cart", Some("team-search"), None));
        assert!(!search("cart", None, Some("fast")));
        let unowned = CatalogEntry {
            owner: None,
            ..e.clone()
        };
        assert!(!Search::new(None, Some("team-payments".into()), None).matches(&unowned));
    }
}
