//! A Python command's parameters, parsed by the Rust framework's `Arg` implementations.

use std::convert::Infallible;

use hellocode_sdk::bot::{Arg, ArgError, ArgInput, ArgSpec, Rest, User};
use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;

/// The kinds `hellocode.Bot` reads from annotations.
#[derive(Debug, Clone, Copy)]
enum Kind {
    /// `str`: one word (or a quoted phrase).
    Word,
    /// `int`.
    Integer,
    /// `float`.
    Number,
    /// `bool`.
    Bool,
    /// `hellocode.Rest`: the rest of the line.
    Rest,
    /// `hellocode.UserArg`: a username, `@` optional.
    User,
}

/// One parameter of a Python command handler.
#[derive(Debug, Clone)]
pub(crate) struct Param {
    kind: Kind,
    optional: bool,
}

impl Param {
    /// `kind` as `hellocode.Bot` names it: word, integer, number, bool, rest, user.
    pub(crate) fn new(name: &str, kind: &str, optional: bool) -> PyResult<Param> {
        let kind = match kind {
            "word" => Kind::Word,
            "integer" => Kind::Integer,
            "number" => Kind::Number,
            "bool" => Kind::Bool,
            "rest" => Kind::Rest,
            "user" => Kind::User,
            other => {
                return Err(PyTypeError::new_err(format!(
                    "parameter {name}: unknown argument kind {other:?}"
                )));
            }
        };
        Ok(Param { kind, optional })
    }

    pub(crate) fn spec(&self) -> ArgSpec {
        let spec = match self.kind {
            Kind::Word => String::spec(),
            Kind::Integer => i64::spec(),
            Kind::Number => f64::spec(),
            Kind::Bool => bool::spec(),
            Kind::Rest => Rest::spec(),
            Kind::User => User::spec(),
        };
        ArgSpec { optional: self.optional, ..spec }
    }

    fn parse(&self, input: &mut ArgInput<'_>) -> Result<Value, ArgError> {
        if self.optional && input.is_empty() {
            return Ok(Value::Missing);
        }
        Ok(match self.kind {
            Kind::Word => Value::Text(String::parse(input)?),
            Kind::Integer => Value::Integer(i64::parse(input)?),
            Kind::Number => Value::Number(f64::parse(input)?),
            Kind::Bool => Value::Bool(bool::parse(input)?),
            Kind::Rest => Value::Text(Rest::parse(input)?.0),
            Kind::User => Value::Text(User::parse(input)?.0),
        })
    }
}

/// A parsed argument on its way to Python (`Missing` becomes None, which `hellocode.Bot`
/// replaces with the parameter's default).
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Value {
    Text(String),
    Integer(i64),
    Number(f64),
    Bool(bool),
    Missing,
}

impl<'py> IntoPyObject<'py> for Value {
    type Target = PyAny;
    type Output = Bound<'py, PyAny>;
    type Error = Infallible;

    fn into_pyobject(self, py: Python<'py>) -> Result<Bound<'py, PyAny>, Infallible> {
        Ok(match self {
            Value::Text(text) => text.into_pyobject(py)?.into_any(),
            Value::Integer(value) => value.into_pyobject(py)?.into_any(),
            Value::Number(value) => value.into_pyobject(py)?.into_any(),
            Value::Bool(value) => value.into_pyobject(py)?.to_owned().into_any(),
            Value::Missing => py.None().into_bound(py),
        })
    }
}

/// Parse the text after a command into its parameters, as the Rust handlers do: left to right,
/// nothing may be left over.
pub(crate) fn parse_params(params: &[Param], text: &str) -> Result<Vec<Value>, ArgError> {
    let mut input = ArgInput::new(text);
    let values = params.iter().map(|param| param.parse(&mut input)).collect::<Result<_, _>>()?;
    input.finish()?;
    Ok(values)
}
