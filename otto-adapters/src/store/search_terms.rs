//! The calls' search terms (`call_search_terms`, see migrations 13 and 17): written
//! with each change of a customer's name or number, with the call's start beside each
//! term, and sought by prefix range when a list searches.

use chrono::{DateTime, Utc};
use otto_core::calls::{CallCursor, CallFilter, CallSearch, search_terms};
use otto_core::ports::StoreError;
use sea_orm::sea_query::{Alias, Expr, ExprTrait, PostgresQueryBuilder, Query, SelectStatement};
use sea_orm::{DatabaseBackend, DatabaseTransaction, Value};
use uuid::Uuid;

use super::calls::NewestFirst;
use super::entities::calls;
use super::{sql, stored_time};

/// Above every character that can follow a prefix: `term < prefix || LAST` holds for
/// every term that starts with `prefix`, in bytewise order (PostgreSQL's `"C"`
/// collation, SQLite's `BINARY`).
const LAST: char = '\u{10FFFF}';

/// A call as its terms are written: its id, its start and its customer.
#[derive(Debug, Clone, Copy)]
pub(super) struct TermedCall<'a> {
    pub id: Uuid,
    pub started_at: DateTime<Utc>,
    pub name: Option<&'a str>,
    pub number: Option<&'a str>,
}

/// Replaces the terms of `call` by those of its customer's name and number.
pub(super) async fn reindex_call(
    transaction: &DatabaseTransaction,
    tenant: &str,
    call: TermedCall<'_>,
) -> Result<(), StoreError> {
    sql::execute(
        transaction,
        "DELETE FROM call_search_terms WHERE tenant_id = $1 AND call_id = $2",
        vec![tenant.into(), call.id.into()],
    )
    .await?;
    index_new_call(transaction, tenant, call).await
}

/// Adds the terms of `call`, created in this transaction (so it has none yet: one
/// statement, on the webhook's hot path).
pub(super) async fn index_new_call(
    transaction: &DatabaseTransaction,
    tenant: &str,
    call: TermedCall<'_>,
) -> Result<(), StoreError> {
    let terms = search_terms(call.name, call.number);
    if terms.is_empty() {
        return Ok(());
    }
    let mut values: Vec<Value> = vec![
        tenant.into(),
        call.id.into(),
        stored_time(call.started_at).into(),
    ];
    let rows: Vec<String> = terms
        .into_iter()
        .map(|term| {
            values.push(term.into());
            format!("($1, ${}, $2, $3)", values.len())
        })
        .collect();
    sql::execute(
        transaction,
        &format!(
            "INSERT INTO call_search_terms (tenant_id, term, call_id, started_at) VALUES {}",
            rows.join(", ")
        ),
        values,
    )
    .await?;
    Ok(())
}

/// The condition on `calls` rows that `search` asks for: for each of its prefixes, the
/// call has a term in the prefix's range (an index seek on the terms' primary key).
pub(super) fn matching(tenant: &str, search: &CallSearch) -> Expr {
    search
        .prefixes()
        .into_iter()
        .map(|prefix| {
            Expr::col((calls::Entity, calls::Column::Id))
                .in_subquery(ids_with_prefix(tenant, &prefix))
        })
        .reduce(ExprTrait::and)
        .unwrap_or_else(|| Expr::val(true))
}

/// The condition on `calls` that keeps one page of `tenant`'s calls matching the
/// filter's search, newest first after `cursor` (one more than `limit`), its ids chosen
/// from the terms' index alone (`call_search_terms_newest`: term, then start, then
/// call), the other words as semi-joins. `None` when the filter asks for more than a
/// search and a time range, which only the calls can answer.
///
/// Most searches read the newest entries of the driving word's whole prefix range,
/// then keep the page's: every matching entry is read and sorted. On PostgreSQL a
/// search by name instead walks the distinct words in the range (one index probe each)
/// and reads at most a page of entries per word, already in order, so its cost follows
/// the words that match rather than the calls (`q=smith` at a tenant with 100,000
/// calls: 0.16 ms against 1.2 ms). Names share few words per prefix; a number is a word
/// of its own, so a number's prefix has as many words as matches and keeps the range.
pub(super) fn page_of_matches(
    backend: DatabaseBackend,
    tenant: &str,
    filter: &CallFilter,
    cursor: Option<CallCursor>,
    limit: u32,
) -> Option<Expr> {
    let only_search_and_time = filter.direction.is_none()
        && filter.answered.is_none()
        && filter.has_recording.is_none()
        && filter.assigned_to.is_none();
    let search = filter.search.as_ref()?;
    let mut prefixes = search.prefixes();
    if !only_search_and_time || prefixes.is_empty() {
        return None;
    }
    // The longest word drives (likely the fewest entries); the others must also match.
    prefixes.sort_by_key(|prefix| std::cmp::Reverse(prefix.len()));
    let (driver, others) = (&prefixes[0], &prefixes[1..]);
    let page = u64::from(limit) + 1;
    let call_in_page = Expr::col((calls::Entity, calls::Column::Id));
    if backend == DatabaseBackend::Postgres && matches!(search, CallSearch::Name(_)) {
        let (entries, mut values) = newest_entries(tenant, filter, cursor, page, others)
            .and_where(Expr::cust("\"entries\".\"term\" = \"matching\".\"term\""))
            .build(PostgresQueryBuilder);
        let (tenant_at, from_at, below_at) =
            (values.0.len() + 1, values.0.len() + 2, values.0.len() + 3);
        values.0.extend([
            tenant.into(),
            driver.as_str().into(),
            format!("{driver}{LAST}").into(),
        ]);
        let next_word = |after: &str| {
            format!(
                "SELECT min(\"words\".\"term\") FROM \"call_search_terms\" AS \"words\" \
                 WHERE \"words\".\"tenant_id\" = ${tenant_at} AND \"words\".\"term\" {after} \
                 AND \"words\".\"term\" < ${below_at}"
            )
        };
        let chosen = format!(
            "(WITH RECURSIVE \"matching\" (\"term\") AS ({first} UNION ALL \
             SELECT ({following}) FROM \"matching\" WHERE \"matching\".\"term\" IS NOT NULL) \
             SELECT \"chosen\".\"call_id\" FROM (SELECT DISTINCT \"page\".\"started_at\", \
             \"page\".\"call_id\" FROM \"matching\" CROSS JOIN LATERAL ({entries}) AS \"page\" \
             ORDER BY \"page\".\"started_at\" DESC, \"page\".\"call_id\" DESC LIMIT {page}) \
             AS \"chosen\")",
            first = next_word(&format!(">= ${from_at}")),
            following = next_word("> \"matching\".\"term\""),
        );
        return Some(Expr::cust_with_values(
            format!("\"calls\".\"id\" IN {chosen}"),
            values.0,
        ));
    }
    let mut chosen_entries = newest_entries(tenant, filter, cursor, page, others);
    chosen_entries
        .distinct()
        .and_where(entry_column("term").gte(driver.as_str()))
        .and_where(entry_column("term").lt(format!("{driver}{LAST}")));
    let chosen = Alias::new("chosen");
    Some(
        call_in_page.in_subquery(
            Query::select()
                .column((chosen.clone(), Alias::new("call_id")))
                .from_subquery(chosen_entries, chosen)
                .to_owned(),
        ),
    )
}

/// `entries.{name}`: a column of the search terms as [`newest_entries`] names them.
fn entry_column(name: &str) -> Expr {
    Expr::col((Alias::new("entries"), Alias::new(name)))
}

/// The newest `page` entries of `tenant`'s terms (as `entries`) in the filter's time
/// range after `cursor`, whose calls also match each of `others`; the caller says which
/// terms.
fn newest_entries(
    tenant: &str,
    filter: &CallFilter,
    cursor: Option<CallCursor>,
    page: u64,
    others: &[String],
) -> SelectStatement {
    let (started_at, call_id) = (entry_column("started_at"), entry_column("call_id"));
    let mut entries = Query::select();
    entries
        .expr(started_at.clone())
        .expr(call_id.clone())
        .from_as(Alias::new("call_search_terms"), Alias::new("entries"))
        .and_where(entry_column("tenant_id").eq(tenant))
        // Never NULL (migration 17 dates every term); stated so that no NULL, which
        // PostgreSQL sorts first, could take a place on the page.
        .and_where(started_at.clone().is_not_null());
    for prefix in others {
        entries.and_where(call_id.clone().in_subquery(ids_with_prefix(tenant, prefix)));
    }
    let newest = NewestFirst {
        started_at,
        id: call_id,
    };
    entries.cond_where(newest.window(filter, cursor));
    for (column, order) in newest.order() {
        entries.order_by_expr(column, order);
    }
    entries.limit(page).to_owned()
}

/// The calls of `tenant` with a term that starts with `prefix` (an index seek on the
/// terms' primary key).
fn ids_with_prefix(tenant: &str, prefix: &str) -> SelectStatement {
    let terms = Alias::new("call_search_terms");
    Query::select()
        .column((terms.clone(), Alias::new("call_id")))
        .from(terms.clone())
        .and_where(Expr::col((terms.clone(), Alias::new("tenant_id"))).eq(tenant))
        .and_where(Expr::col((terms.clone(), Alias::new("term"))).gte(prefix))
        .and_where(Expr::col((terms.clone(), Alias::new("term"))).lt(format!("{prefix}{LAST}")))
        .to_owned()
}
