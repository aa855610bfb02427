//! Exceptions crossing the boundary. A thrown value leaves the isolate as a `Thrown`, which
//! keeps what the contract promises (name, message, a V8-shaped stack; primitives as
//! themselves) and nothing that would tie it to the isolate's heap.

use rquickjs::{Ctx, Value};

use super::transfer::Transfer;

/// The exact texts code matches on (API.md, "Exact texts").
pub mod text {
    pub const DISPOSED_SYNC: &str = "Isolated is disposed";
    pub const DISPOSED_ASYNC: &str = "Isolate is disposed";
    pub const DISPOSED_DURING: &str = "Isolate was disposed during execution";
    /// A promise a synchronous call returned, still pending when its isolate was disposed.
    pub const ABANDONED: &str = "Promise was abandoned";
    pub const MEMORY_LIMIT: &str = "Isolate was disposed during execution due to memory limit";
    pub const TIMEOUT: &str = "Script execution timed out.";
    pub const NON_TRANSFERABLE: &str = "A non-transferable value was passed";
    pub const CONTEXT_RELEASED: &str = "Context is released";
    pub const SCRIPT_RELEASED: &str = "Script has been released";
    pub const REFERENCE_RELEASED: &str = "Reference has been released";
    pub const WRONG_ISOLATE_DEREF: &str = "Cannot dereference this into target isolate";
    pub const SYNC_PROMISE_ON_DEFAULT_THREAD: &str = "This function may not be called from the default thread";
    pub const NON_ERROR_OBJECT: &str =
        "An object was thrown from supplied code within isolated-vm, but that object was not an instance of `Error`.";
}

/// An error object's essentials.
#[derive(Clone, Debug, PartialEq)]
pub struct ErrorInfo {
    /// Constructor name (`TypeError`, `MyErr`, …).
    pub name: String,
    pub message: String,
    /// The full V8-shaped stack: `Name: message` then frame lines (no boundary marker).
    pub stack: String,
    /// Whether the host appends the boundary marker and its own frames (not for rejections
    /// delivered through `promise: true`).
    pub boundary: bool,
}

#[derive(Debug)]
pub enum Thrown {
    /// An Error object (or one of ours, like a timeout).
    Error(ErrorInfo),
    /// Any other thrown value (primitives, plain objects as copies).
    Value(Transfer),
}

impl Thrown {
    pub fn error(name: &str, message: impl Into<String>) -> Thrown {
        let message = message.into();
        let stack = format!("{name}: {message}");
        Thrown::Error(ErrorInfo { name: name.into(), message, stack, boundary: true })
    }

    pub fn type_error(message: impl Into<String>) -> Thrown {
        Thrown::error("TypeError", message)
    }

    pub fn plain(message: impl Into<String>) -> Thrown {
        Thrown::error("Error", message)
    }

    pub fn message(&self) -> String {
        match self {
            Thrown::Error(info) => info.message.clone(),
            Thrown::Value(_) => "a value was thrown".into(),
        }
    }

    /// Replaces the message, keeping the stack frames (used to turn QuickJS's `interrupted`
    /// into isolated-vm's timeout text while still naming the running function).
    pub fn with_name_message(self, name: &str, message: &str) -> Thrown {
        let (frames, boundary) = match &self {
            Thrown::Error(info) => (frames_of(&info.stack).to_string(), info.boundary),
            Thrown::Value(_) => (String::new(), true),
        };
        let mut stack = format!("{name}: {message}");
        if !frames.is_empty() {
            stack.push('\n');
            stack.push_str(&frames);
        }
        Thrown::Error(ErrorInfo { name: name.into(), message: message.into(), stack, boundary })
    }
}

/// The frame lines of a V8-shaped stack (everything from the first `    at ` line).
pub fn frames_of(stack: &str) -> &str {
    match stack.find("\n    at ") {
        Some(i) => &stack[i + 1..],
        None => "",
    }
}

fn string_prop<'js>(obj: &rquickjs::Object<'js>, name: &str) -> Option<String> {
    let v: Value = obj.get(name).ok()?;
    if let Some(s) = v.as_string() {
        return s.to_string().ok();
    }
    None
}

/// Reads an exception value into a `Thrown`. Error objects keep name, message and stack; other
/// objects are copied; primitives pass as themselves.
pub fn capture<'js>(ctx: &Ctx<'js>, value: Value<'js>) -> Thrown {
    match super::isolate::Isolate::current() {
        Some(isolate) => isolate.limits.with_grace(|| capture_now(ctx, value)),
        None => capture_now(ctx, value),
    }
}

fn capture_now<'js>(ctx: &Ctx<'js>, value: Value<'js>) -> Thrown {
    if let Some(obj) = value.as_object() {
        if obj.is_error() {
            let message = string_prop(obj, "message").unwrap_or_default();
            let name = string_prop(obj, "name").unwrap_or_else(|| "Error".into());
            let stack = string_prop(obj, "stack").unwrap_or_default();
            let stack = if stack.is_empty() || !stack.starts_with(&name) && !stack.contains(&message) {
                let head = if message.is_empty() { name.clone() } else { format!("{name}: {message}") };
                if stack.is_empty() { head } else { format!("{head}\n{stack}") }
            } else {
                stack
            };
            return Thrown::Error(ErrorInfo { name, message, stack, boundary: true });
        }
    }
    if value.is_object() {
        // isolated-vm refuses to pass other thrown objects on, with this message.
        return Thrown::plain(text::NON_ERROR_OBJECT);
    }
    match super::transfer::export_copy(ctx, &value) {
        Ok(t) => Thrown::Value(t),
        Err(_) => {
            // Not even cloneable: report what it prints as.
            let text = value
                .as_object()
                .and_then(|_| ctx.globals().get::<_, rquickjs::Function>("String").ok())
                .and_then(|f| f.call::<_, String>((value.clone(),)).ok())
                .unwrap_or_else(|| "[object]".into());
            Thrown::Value(Transfer::String(text))
        }
    }
}
