//! Hand-written statements for the writes sea-orm's builders cannot express on both
//! backends alike (partial updates with COALESCE, `INSERT ... SELECT ... ON
//! CONFLICT`). Parameters are `$1`, `$2`, ... on both: PostgreSQL's own syntax, and
//! SQLite reads `$N` as parameter N.

use otto_core::ports::StoreError;
use sea_orm::{ConnectionTrait, DatabaseTransaction, QueryResult, Statement, Value};

use super::store_error;

fn statement(transaction: &DatabaseTransaction, sql: &str, values: Vec<Value>) -> Statement {
    Statement::from_sql_and_values(transaction.get_database_backend(), sql, values)
}

/// `$first, $first+1, …`, `count` parameters: one row of a multi-row `VALUES`.
pub(super) fn placeholders(first: usize, count: usize) -> String {
    (first..first + count)
        .map(|n| format!("${n}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// `count` rows of a multi-row `VALUES`, `width` parameters each, numbered on from
/// `$first`: `($1, $2), ($3, $4)` for 2 rows of 2 from 1.
pub(super) fn value_rows(first: usize, width: usize, count: usize) -> String {
    (0..count)
        .map(|row| format!("({})", placeholders(first + row * width, width)))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Runs a statement in `transaction`; returns the rows it affected.
pub(super) async fn execute(
    transaction: &DatabaseTransaction,
    sql: &str,
    values: Vec<Value>,
) -> Result<u64, StoreError> {
    Ok(transaction
        .execute_raw(statement(transaction, sql, values))
        .await
        .map_err(store_error)?
        .rows_affected())
}

/// Runs a query (or a statement with `RETURNING`) in `transaction`.
pub(super) async fn query(
    transaction: &DatabaseTransaction,
    sql: &str,
    values: Vec<Value>,
) -> Result<Vec<QueryResult>, StoreError> {
    transaction
        .query_all_raw(statement(transaction, sql, values))
        .await
        .map_err(store_error)
}

/// Reads column `name` of a raw row.
pub(super) fn column<T: sea_orm::TryGetable>(
    row: &QueryResult,
    name: &str,
) -> Result<T, StoreError> {
    row.try_get("", name)
        .map_err(|error| StoreError::Internal(format!("reading `{name}`: {error}")))
}
