//! sea-orm models of the tables the store reads and writes.

/// `tenants`: one row per company; `id` is the Clerk organization id.
pub mod tenants {
    use sea_orm::entity::prelude::*;

    /// A tenant row.
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "tenants")]
    pub struct Model {
        /// The Clerk organization id.
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: String,
        /// Display name.
        pub name: Option<String>,
        /// URL slug.
        pub slug: Option<String>,
        /// When the row was created.
        pub created_at: DateTimeUtc,
        /// When the row last changed.
        pub updated_at: DateTimeUtc,
    }

    /// No relations are navigated.
    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// `calls`: a tenant's phone calls.
pub mod calls {
    use sea_orm::entity::prelude::*;

    /// A call row.
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "calls")]
    pub struct Model {
        /// Otto's id (UUIDv7).
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: Uuid,
        /// The owning tenant.
        pub tenant_id: String,
        /// `callrail`, `twilio`.
        pub provider: String,
        /// The provider's id.
        pub external_id: String,
        /// `inbound` or `outbound`.
        pub direction: String,
        /// Customer name.
        pub customer_name: Option<String>,
        /// Customer number.
        pub customer_number: Option<String>,
        /// Whether someone answered.
        pub answered: bool,
        /// Duration in seconds.
        pub duration_seconds: i32,
        /// Start of the call.
        pub started_at: DateTimeUtc,
        /// Whether the call booked an appointment (unset until someone says).
        pub booked: Option<bool>,
        /// When the booked appointment is.
        pub appointment_at: Option<DateTimeUtc>,
        /// The team's notes.
        pub notes: Option<String>,
        /// The user id of the rep the call is assigned to.
        pub assigned_rep: Option<String>,
        /// When the row was created.
        pub created_at: DateTimeUtc,
        /// When the row last changed.
        pub updated_at: DateTimeUtc,
    }

    /// No relations are navigated.
    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}
