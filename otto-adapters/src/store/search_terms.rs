//! The calls' search terms (`call_search_terms`, see migration 13): written with each
//! change of a customer's name or number, sought by prefix range when a list searches.

use otto_core::calls::{CallSearch, search_terms};
use otto_core::ports::StoreError;
use sea_orm::sea_query::{Alias, Expr, ExprTrait, Query};
use sea_orm::{DatabaseTransaction, Value};
use uuid::Uuid;

use super::entities::calls;
use super::sql;

/// Above every character that can follow a prefix: `term < prefix || LAST` holds for
/// every term that starts with `prefix`, in bytewise order (PostgreSQL's `"C"`
/// collation, SQLite's `BINARY`).
const LAST: char = '\u{10FFFF}';

/// Replaces the terms of call `call_id` by those of its customer's `name` and `number`.
pub(super) async fn reindex_call(
    transaction: &DatabaseTransaction,
    tenant: &str,
    call_id: Uuid,
    name: Option<&str>,
    number: Option<&str>,
) -> Result<(), StoreError> {
    sql::execute(
        transaction,
        "DELETE FROM call_search_terms WHERE tenant_id = $1 AND call_id = $2",
        vec![tenant.into(), call_id.into()],
    )
    .await?;
    index_new_call(transaction, tenant, call_id, name, number).await
}

/// Adds the terms of call `call_id`, created in this transaction (so it has none yet:
/// one statement, on the webhook's hot path).
pub(super) async fn index_new_call(
    transaction: &DatabaseTransaction,
    tenant: &str,
    call_id: Uuid,
    name: Option<&str>,
    number: Option<&str>,
) -> Result<(), StoreError> {
    let terms = search_terms(name, number);
    if terms.is_empty() {
        return Ok(());
    }
    let mut values: Vec<Value> = vec![tenant.into(), call_id.into()];
    let rows: Vec<String> = terms
        .into_iter()
        .map(|term| {
            values.push(term.into());
            format!("($1, ${}, $2)", values.len())
        })
        .collect();
    sql::execute(
        transaction,
        &format!(
            "INSERT INTO call_search_terms (tenant_id, term, call_id) VALUES {}",
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
    let terms = Alias::new("call_search_terms");
    search
        .prefixes()
        .into_iter()
        .map(|prefix| {
            let upper = format!("{prefix}{LAST}");
            Expr::col((calls::Entity, calls::Column::Id)).in_subquery(
                Query::select()
                    .column((terms.clone(), Alias::new("call_id")))
                    .from(terms.clone())
                    .and_where(Expr::col((terms.clone(), Alias::new("tenant_id"))).eq(tenant))
                    .and_where(Expr::col((terms.clone(), Alias::new("term"))).gte(prefix))
                    .and_where(Expr::col((terms.clone(), Alias::new("term"))).lt(upper))
                    .to_owned(),
            )
        })
        .reduce(ExprTrait::and)
        .unwrap_or_else(|| Expr::val(true))
}
