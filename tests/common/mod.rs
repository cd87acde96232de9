//! Helpers shared by the integration tests.

use datafusion::arrow::array::{Array, Int64Array};
use datafusion::error::Result;
use datafusion::prelude::SessionContext;

/// The BIGINT columns of the first row of `sql`'s result (None for NULL).
pub async fn first_row(ctx: &SessionContext, sql: &str) -> Result<Vec<Option<i64>>> {
    let batches = ctx.sql(sql).await?.collect().await?;
    let batch = batches.iter().find(|b| b.num_rows() > 0).expect("a row");
    Ok(batch
        .columns()
        .iter()
        .map(|c| {
            let c = c.as_any().downcast_ref::<Int64Array>().expect("BIGINT");
            (!c.is_null(0)).then(|| c.value(0))
        })
        .collect())
}
