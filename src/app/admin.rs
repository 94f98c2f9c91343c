//! Administration (`partypic admin …`): listing accounts and events, setting a host's password,
//! deleting an event with its files. It needs the database, the object store and the password
//! hasher, not a running server.

use std::sync::Arc;

use uuid::Uuid;

use super::{Result, events, hosts};
use crate::{
    db::{Database, EventOverview, HostOverview},
    domain::{
        password::PasswordHasher,
        values::{Email, Password},
    },
    store::PhotoStore,
};

pub struct Admin {
    pub db: Arc<dyn Database>,
    pub store: Arc<dyn PhotoStore>,
    pub hasher: PasswordHasher,
}

impl Admin {
    pub async fn users(&self) -> Result<Vec<HostOverview>> {
        Ok(self.db.hosts_overview().await?)
    }

    pub async fn events(&self) -> Result<Vec<EventOverview>> {
        Ok(self.db.events_overview().await?)
    }

    /// `auth.unknown_account` when no account has this email.
    pub async fn reset_password(&self, email: &Email, password: &Password) -> Result<()> {
        hosts::replace_password(self.db.as_ref(), &self.hasher, email, password).await?;
        Ok(())
    }

    /// `event.not_found` when there is no such event.
    pub async fn delete_event(&self, id: Uuid) -> Result<events::DeletedEvent> {
        events::delete_stored(self.db.as_ref(), self.store.as_ref(), id).await
    }
}
