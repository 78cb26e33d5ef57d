//! The calls' search terms (`call_search_terms`, see migrations 13 and 17): written
//! with each change of a customer's name or number, with the call's start beside each
//! term, and sought by prefix range when a list searches.

use chrono::{DateTime, Utc};
use otto_core::calls::{CallCursor, CallFilter, CallSearch, search_terms};
use otto_core::ports::StoreError;
use sea_orm::sea_query::{Alias, Expr, ExprTrait, Query, SelectStatement};
use sea_orm::{DatabaseTransaction, Value};
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

/// The ids of one page of `tenant`'s calls that match the filter's search, newest
/// first after `cursor` (one more than `limit`), chosen from the terms' index alone
/// (`call_search_terms_newest`: term, then start, then call): the newest entries of
/// one prefix range, the other words as semi-joins. `None` when the filter asks for
/// more than a search and a time range, which only the calls can answer.
pub(super) fn page_of_matches(
    tenant: &str,
    filter: &CallFilter,
    cursor: Option<CallCursor>,
    limit: u32,
) -> Option<SelectStatement> {
    let only_search_and_time = filter.direction.is_none()
        && filter.answered.is_none()
        && filter.has_recording.is_none()
        && filter.assigned_to.is_none();
    let mut prefixes = filter.search.as_ref()?.prefixes();
    if !only_search_and_time || prefixes.is_empty() {
        return None;
    }
    // The longest word drives (likely the fewest entries); the others must also match.
    prefixes.sort_by_key(|prefix| std::cmp::Reverse(prefix.len()));
    let terms = Alias::new("call_search_terms");
    let column = |name: &str| Expr::col((terms.clone(), Alias::new(name)));
    let (started_at, call_id) = (column("started_at"), column("call_id"));
    let mut page = Query::select();
    page.distinct()
        .column((terms.clone(), Alias::new("started_at")))
        .column((terms.clone(), Alias::new("call_id")))
        .from(terms.clone())
        .and_where(column("tenant_id").eq(tenant))
        .and_where(column("term").gte(prefixes[0].as_str()))
        .and_where(column("term").lt(format!("{}{LAST}", prefixes[0])))
        // Never NULL (migration 17 dates every term); stated so that no NULL, which
        // PostgreSQL sorts first, could take a place on the page.
        .and_where(started_at.clone().is_not_null());
    for prefix in &prefixes[1..] {
        page.and_where(call_id.clone().in_subquery(ids_with_prefix(tenant, prefix)));
    }
    let newest = NewestFirst {
        started_at,
        id: call_id,
    };
    page.cond_where(newest.window(filter, cursor));
    for (column, order) in newest.order() {
        page.order_by_expr(column, order);
    }
    page.limit(u64::from(limit) + 1);
    let chosen = Alias::new("chosen");
    Some(
        Query::select()
            .column((chosen.clone(), Alias::new("call_id")))
            .from_subquery(page.to_owned(), chosen)
            .to_owned(),
    )
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
