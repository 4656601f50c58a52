//! How a case ends when it does not pass — [`Fail::Fail`] with a reason, or [`Fail::Skip`]
//! with why it cannot run here — and the check macros that return it. A leaf module, so the
//! request helpers (server, user, stream reader) can fail a case without knowing what a case is.

/// Why a case did not pass.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fail {
    /// The server broke the SPEC (or could not be talked to): the reason says how.
    Fail(String),
    /// The case cannot run here (the reason says why); neither a pass nor a failure.
    Skip(String),
}

impl std::fmt::Display for Fail {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Fail::Fail(reason) | Fail::Skip(reason) => f.write_str(reason),
        }
    }
}

/// The result of one case.
pub type CaseResult = Result<(), Fail>;

/// Fails the case with a formatted reason.
#[macro_export]
macro_rules! fail {
    ($($arg:tt)*) => {
        return Err($crate::fail::Fail::Fail(format!($($arg)*)))
    };
}

/// Skips the case with a formatted reason.
#[macro_export]
macro_rules! skip {
    ($($arg:tt)*) => {
        return Err($crate::fail::Fail::Skip(format!($($arg)*)))
    };
}

/// Fails the case with a formatted reason unless the condition holds.
#[macro_export]
macro_rules! check {
    ($cond:expr, $($arg:tt)*) => {
        if !$cond {
            $crate::fail!($($arg)*);
        }
    };
}

/// Fails the case unless the two values are equal, showing both.
#[macro_export]
macro_rules! check_eq {
    ($left:expr, $right:expr, $($arg:tt)*) => {
        match (&$left, &$right) {
            (left, right) => {
                if left != right {
                    $crate::fail!("{}: got {:?}, expected {:?}", format!($($arg)*), left, right);
                }
            }
        }
    };
}
