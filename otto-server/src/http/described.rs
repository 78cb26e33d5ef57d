//! An API described without being served. poem-openapi builds the document from
//! the operation types' metadata alone (`OpenApi::meta` and `OpenApi::register` take
//! no value); only routing needs the operations themselves, and with them the state
//! they serve. `Described<T>` carries T's description and routes nothing, so the
//! document can be printed by a process that has no database.

use std::collections::HashMap;
use std::marker::PhantomData;

use poem::endpoint::BoxEndpoint;
use poem::http::Method;
use poem_openapi::OpenApi;
use poem_openapi::registry::{MetaApi, Registry};

/// The description of the operations `T`, serving none of them.
#[derive(Debug)]
pub struct Described<T>(PhantomData<fn() -> T>);

impl<T> Described<T> {
    /// The description of `T`.
    pub fn new() -> Self {
        Described(PhantomData)
    }
}

impl<T: OpenApi> OpenApi for Described<T> {
    fn meta() -> Vec<MetaApi> {
        T::meta()
    }

    fn register(registry: &mut Registry) {
        T::register(registry);
    }

    fn add_routes(self, _routes: &mut HashMap<String, HashMap<Method, BoxEndpoint<'static>>>) {}
}
