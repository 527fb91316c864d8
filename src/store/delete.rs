//! Hard delete of a tenant or a whole account: every row, version, index entry and event goes.
//! The only operation that changes the past (spec §5.3).

use super::Store;
use super::write::{validate_account, validate_tenant};
use crate::backend::Tenants;
use crate::error::Result;

impl Store {
    /// Deletes every memory of one tenant of `account` (`None` = the default tenant). Returns
    /// the number of memories deleted. Cost: proportional to what is deleted.
    pub fn delete_tenant(&self, account: &str, tenant: Option<&str>) -> Result<u64> {
        validate_account(account)?;
        validate_tenant(tenant)?;
        self.transact(&[account], |w| w.delete(account, Tenants::One(tenant)))
    }

    /// Deletes every memory of `account`, all tenants. Returns the number deleted.
    pub fn delete_account(&self, account: &str) -> Result<u64> {
        validate_account(account)?;
        self.transact(&[account], |w| w.delete(account, Tenants::All))
    }
}
