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

/// Why a [`ResourceLoader`] could not load. The message is logged, never sent.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum LoadError {
    /// Where the resource lives cannot be reached: 503.
    Unavailable(String),
    /// Anything else: 500.
    Failed(String),
}

impl fmt::Display for LoadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LoadError::Unavailable(m) => write!(f, "unavailable: {m}"),
            LoadError::Failed(m) => f.write_str(m),
        }
    }
}

impl From<String> for LoadError {
    fn from(message: String) -> Self {
        LoadError::Failed(message)
    }
}

impl From<&str> for LoadError {
    fn from(message: &str) -> Self {
        LoadError::Failed(message.to_owned())
    }
}

impl From<crate::store::StoreError> for LoadError {
    fn from(e: crate::store::StoreError) -> Self {
        if e.is_unavailable() {
            LoadError::Unavailable(e.to_string())
        } else {
            LoadError::Failed(e.to_string())
        }
    }
}

/// The boxed future a [`ResourceLoader`] returns.
pub type LoadFuture =
    Pin<Box<dyn Future<Output = Result<Option<LoadedResource>, LoadError>> + Send>>;

/// Loads the resource a policy decides about, from the request's path parameters. Register one
/// per resource type with
/// [`AuthManagerBuilder::resource_loader`](crate::AuthManagerBuilder::resource_loader).
/// `Ok(None)` answers 404; `Err` answers 503 for [`LoadError::Unavailable`] (a
/// [`StoreError`](crate::store::StoreError) that could not reach its store converts to it) and
/// 500 otherwise (the message is logged, never sent).
///
/// Any `Fn(Vec<(String, String)>) -> impl Future<Output = Result<Option<LoadedResource>, E>>`
/// closure is a loader, for an error `E` such as `String` or `StoreError`.
pub trait ResourceLoader: Send + Sync + 'static {
    /// Loads the resource named by the path parameters.
    fn load(&self, params: Vec<(String, String)>) -> LoadFuture;
}

impl<F, Fut, E> ResourceLoader for F
where
    F: Fn(Vec<(String, String)>) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<Option<LoadedResource>, E>> + Send + 'static,
    E: Into<LoadError>,
{
    fn load(&self, params: Vec<(String, String)>) -> LoadFuture {
        let future = self(params);
        Box::pin(async move { future.await.map_err(Into::into) })
    }
}
