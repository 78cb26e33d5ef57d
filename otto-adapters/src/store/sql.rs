//! Hand-written statements for the writes sea-orm's builders cannot express on both
//! backends alike (partial updates with COALESCE, `INSERT ... SELECT ... ON
//! CONFLICT`). Parameters are `$1`, `$2`, ... on both: PostgreSQL's own syntax, and
//! SQLite reads `$N` as parameter N.

use sea_orm::{DatabaseBackend, Statement, Value};

/// Builds statements for one backend.
#[derive(Debug, Clone, Copy)]
pub(super) struct Sql(DatabaseBackend);

impl Sql {
    pub(super) fn new(backend: DatabaseBackend) -> Self {
        Sql(backend)
    }

    pub(super) fn statement(self, sql: &str, values: Vec<Value>) -> Statement {
        Statement::from_sql_and_values(self.0, sql, values)
    }
}
