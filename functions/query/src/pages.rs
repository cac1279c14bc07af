//! Reading a listing page after page, for the answers that need more than one page.

use verdict_http::ApiError;
use verdict_store::{Cursor, Page, StoreError};

/// Reads pages of a listing, following its cursor, until `enough` says the items read so far
/// suffice, the listing ends, or `max` items were read; true when it stopped at `max` or with more left.
pub(crate) async fn read_pages<T, L, F, Fut>(
    max: usize,
    enough: impl Fn(&[T]) -> bool,
    mut page: F,
) -> Result<(Vec<T>, bool), ApiError>
where
    F: FnMut(Option<Cursor<L>>) -> Fut,
    Fut: std::future::Future<Output = Result<Page<T, L>, StoreError>>,
{
    let mut items = Vec::new();
    let mut start = None;
    loop {
        let next = page(start).await?;
        items.extend(next.items);
        if items.len() >= max {
            items.truncate(max);
            return Ok((items, true));
        }
        match next.next {
            Some(cursor) if !enough(&items) => start = Some(cursor),
            more => return Ok((items, more.is_some())),
        }
    }
}

/// Every page of a listing, up to `max` items; true when there were more.
pub(crate) async fn all_pages<T, L, F, Fut>(max: usize, page: F) -> Result<(Vec<T>, bool), ApiError>
where
    F: FnMut(Option<Cursor<L>>) -> Fut,
    Fut: std::future::Future<Output = Result<Page<T, L>, StoreError>>,
{
    read_pages(max, |_| false, page).await
}

/// Queries one page may take to fill itself when a filter leaves items out.
const FILL_QUERIES: usize = 8;

/// One page of `limit` items of a filtered listing: a Query evaluates at most `Limit` items
/// before its filter, so a filter that keeps few would answer short or empty pages; this reads
/// on, each Query asking only for what the page still lacks (so it never reads past what it
/// returns and the cursor stays exact), up to [`FILL_QUERIES`] Queries.
pub(crate) async fn fill_page<T, L, F, Fut>(
    limit: i32,
    start: Option<Cursor<L>>,
    mut page: F,
) -> Result<Page<T, L>, ApiError>
where
    F: FnMut(Option<Cursor<L>>, i32) -> Fut,
    Fut: std::future::Future<Output = Result<Page<T, L>, StoreError>>,
{
    let mut items = Vec::new();
    let mut start = start;
    for _ in 0..FILL_QUERIES {
        let remaining = limit - i32::try_from(items.len()).unwrap_or(limit);
        let next = page(start, remaining).await?;
        items.extend(next.items);
        start = next.next;
        if start.is_none() || items.len() >= usize::try_from(limit).unwrap_or(0) {
            break;
        }
    }
    Ok(Page { items, next: start })
}
