//! Resource loaders: the resource a policy decides about, loaded once per request.

use std::any::Any;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use serde_json::{Map, Value};

use super::context::into_map;

/// What a [`ResourceLoader`] found: attributes for the policy, and optionally the object itself
/// for the handler (extract it with [`Resource<T>`](crate::Resource), so it is loaded once).
#[derive(Clone, Default)]
pub struct LoadedResource {
    attributes: Map<String, Value>,
    value: Option<Arc<dyn Any + Send + Sync>>,
}

impl fmt::Debug for LoadedResource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LoadedResource")
            .field("attributes", &self.attributes)
            .field("has_value", &self.value.is_some())
            .finish()
    }
}

impl LoadedResource {
    /// Attributes for conditions (`resource.<key>`); a non-object is treated as empty.
    pub fn new(attributes: Value) -> Self {
        LoadedResource {
            attributes: into_map(attributes),
            value: None,
        }
    }

    /// Also hands `value` to the handler.
    pub fn with_value<T: Send + Sync + 'static>(mut self, value: T) -> Self {
        self.value = Some(Arc::new(value));
        self
    }

    pub(crate) fn attributes(&self) -> &Map<String, Value> {
        &self.attributes
    }

    pub(crate) fn value<T: Send + Sync + 'static>(&self) -> Option<Arc<T>> {
        self.value.clone()?.downcast::<T>().ok()
    }
}

/// The boxed future a [`ResourceLoader`] returns.
pub type LoadFuture = Pin<Box<dyn Future<Output = Result<Option<LoadedResource>, String>> + Send>>;

/// Loads the resource a policy decides about, from the request's path parameters. Register one
/// per resource type with
/// [`AuthManagerBuilder::resource_loader`](crate::AuthManagerBuilder::resource_loader).
/// `Ok(None)` answers 404; `Err` answers 500 (the message is logged, never sent).
///
/// Any `Fn(Vec<(String, String)>) -> impl Future<Output = Result<Option<LoadedResource>, String>>`
/// closure is a loader.
pub trait ResourceLoader: Send + Sync + 'static {
    /// Loads the resource named by the path parameters.
    fn load(&self, params: Vec<(String, String)>) -> LoadFuture;
}

impl<F, Fut> ResourceLoader for F
where
    F: Fn(Vec<(String, String)>) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<Option<LoadedResource>, String>> + Send + 'static,
{
    fn load(&self, params: Vec<(String, String)>) -> LoadFuture {
        Box::pin(self(params))
    }
}
