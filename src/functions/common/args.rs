//! The constant arguments of mlfusion's table functions, declared once per
//! function ([`Signature`]), and the session they are called in.
//!
//! Every argument is a string literal (DataFusion plans table-function
//! arguments against an empty schema). The arity and type errors come from
//! the declaration: they name the function, list its arguments and show an
//! example.

use datafusion::catalog::{Session, TableFunctionArgs};
use datafusion::common::{plan_datafusion_err, plan_err, Result, ScalarValue};
use datafusion::execution::SessionState;
use datafusion::logical_expr::Expr;

/// The DataFusion session a table function runs in (mlfusion's table
/// functions plan SQL and resolve sources in it).
pub fn session_state<'a>(function: &str, session: &'a dyn Session) -> Result<&'a SessionState> {
    session
        .as_any()
        .downcast_ref::<SessionState>()
        .ok_or_else(|| plan_datafusion_err!("{function}: needs a DataFusion SessionState"))
}

/// A table function's arguments: their names, the first `required` of them
/// required and the rest optional, and an example call for messages.
pub struct Signature {
    pub function: &'static str,
    pub names: &'static [&'static str],
    pub required: usize,
    pub example: &'static str,
}

/// The values of a call's arguments, in declaration order (`None` for an
/// optional argument not given).
pub struct Args<'a> {
    signature: &'a Signature,
    values: Vec<Option<String>>,
}

impl Signature {
    /// `(model, source, label [, options])`.
    fn list(&self) -> String {
        let mut list = self.names[..self.required].join(", ");
        for (i, name) in self.names[self.required..].iter().enumerate() {
            let comma = if self.required + i == 0 { "" } else { ", " };
            list.push_str(&format!(" [{comma}{name}"));
        }
        list.push_str(&"]".repeat(self.names.len() - self.required));
        format!("({})", list.trim_start())
    }

    /// Checks the number and the types of the arguments of a call.
    pub fn bind(&self, args: &TableFunctionArgs) -> Result<Args<'_>> {
        self.bind_exprs(args.exprs())
    }

    fn bind_exprs(&self, exprs: &[Expr]) -> Result<Args<'_>> {
        let function = self.function;
        if self.names.is_empty() && !exprs.is_empty() {
            return plan_err!("{function}: takes no arguments, e.g. {}", self.example);
        }
        if exprs.len() < self.required || exprs.len() > self.names.len() {
            return plan_err!(
                "{function}: expects {}, got {} arguments; e.g. {}",
                self.list(),
                exprs.len(),
                self.example
            );
        }
        let values = self
            .names
            .iter()
            .enumerate()
            .map(|(i, name)| exprs.get(i).map(|e| self.string(name, e)).transpose())
            .collect::<Result<_>>()?;
        Ok(Args {
            signature: self,
            values,
        })
    }

    /// The string value of the argument `name`.
    fn string(&self, name: &str, expr: &Expr) -> Result<String> {
        match expr {
            Expr::Literal(ScalarValue::Utf8(Some(s)), _)
            | Expr::Literal(ScalarValue::LargeUtf8(Some(s)), _)
            | Expr::Literal(ScalarValue::Utf8View(Some(s)), _) => Ok(s.clone()),
            other => plan_err!(
                "{}: argument {name} must be a string literal, got {other}; e.g. {}",
                self.function,
                self.example
            ),
        }
    }
}

impl Args<'_> {
    fn index(&self, name: &str) -> usize {
        self.signature
            .names
            .iter()
            .position(|n| *n == name)
            .unwrap_or_else(|| panic!("{} declares no argument {name}", self.signature.function))
    }

    /// The value of the argument `name`; empty for an optional argument not
    /// given (an options string).
    pub fn get(&self, name: &str) -> &str {
        self.values[self.index(name)].as_deref().unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use datafusion::logical_expr::lit;

    use super::*;

    const TRAIN: Signature = Signature {
        function: "ml_train",
        names: &["model", "source", "label", "options"],
        required: 3,
        example: "ml_train('churn', 'train_rows', 'churned', 'model_type=logistic_reg')",
    };

    #[test]
    fn binds_required_and_optional_arguments() -> Result<()> {
        let args = TRAIN.bind_exprs(&[lit("m"), lit("s"), lit("y")])?;
        assert_eq!((args.get("model"), args.get("label")), ("m", "y"));
        assert_eq!(args.get("options"), "");
        let args = TRAIN.bind_exprs(&[lit("m"), lit("s"), lit("y"), lit("a=1")])?;
        assert_eq!(args.get("options"), "a=1");
        Ok(())
    }

    #[test]
    fn errors_come_from_the_declaration() {
        let error = TRAIN
            .bind_exprs(&[lit("m")])
            .err()
            .unwrap()
            .strip_backtrace();
        assert_eq!(
            error,
            "Error during planning: ml_train: expects (model, source, label [, options]), got 1 \
             arguments; e.g. ml_train('churn', 'train_rows', 'churned', 'model_type=logistic_reg')"
        );
        let error = TRAIN
            .bind_exprs(&[lit("m"), lit(1), lit("y")])
            .err()
            .unwrap()
            .strip_backtrace();
        assert!(
            error.contains("ml_train: argument source must be a string literal, got Int32(1)"),
            "{error}"
        );
        let none = Signature {
            function: "ml_models",
            names: &[],
            required: 0,
            example: "SELECT * FROM ml_models()",
        };
        assert!(none.bind_exprs(&[]).is_ok());
        let error = none
            .bind_exprs(&[lit("x")])
            .err()
            .unwrap()
            .strip_backtrace();
        assert_eq!(
            error,
            "Error during planning: ml_models: takes no arguments, e.g. SELECT * FROM ml_models()"
        );
        let split = Signature {
            function: "ml_split",
            names: &["source", "options"],
            required: 1,
            example: "",
        };
        assert_eq!(split.list(), "(source [, options])");
    }
}
