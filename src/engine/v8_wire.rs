//! V8's value serialization format, read and written straight between bytes and QuickJS values.
//!
//! This is the one structured-clone representation of the package: the `copy` transfer option,
//! `ExternalCopy`, Callback arguments and results all travel as these bytes. The host side uses
//! Node's own `v8.serialize` / `v8.deserialize`, so the format is exactly what Node writes:
//! version 15, typed arrays and DataViews as Node's host objects (`\` + type index + byte
//! length + bytes), holey arrays sparse, one-byte strings Latin-1 and others UTF-16LE.
//!
//! The reader is total: malformed or truncated input is an error, never a panic or an
//! out-of-bounds read, and nesting is bounded so hostile depth cannot overflow the stack.

use super::fast_map::FastMap;

use rquickjs::{qjs, Ctx, Value};

/// Format version written; Node 18–26 all write 15 and read up to 15.
pub const VERSION: u8 = 15;
/// Deepest nesting accepted in either direction.
pub const MAX_DEPTH: usize = 10_000;
/// Native stack the codec may use below where it started; deeper input is refused before the
/// thread's real stack could run out (every thread we run on has at least 2 MiB).
const STACK_BUDGET: usize = 1024 * 1024;

/// Where the codec's recursion started, to measure how much native stack it has used.
fn stack_position() -> usize {
    let marker = 0u8;
    std::hint::black_box(&marker) as *const u8 as usize
}

fn too_deep(depth: usize, base: usize) -> bool {
    depth > MAX_DEPTH || base.abs_diff(stack_position()) > STACK_BUDGET
}

/// QuickJS-ng 0.16 class ids (`JS_GetClassID`), checked by a test against live values.
pub mod class {
    pub const OBJECT: u32 = 1;
    pub const ARRAY: u32 = 2;
    pub const ERROR: u32 = 3;
    pub const NUMBER: u32 = 4;
    pub const STRING: u32 = 5;
    pub const BOOLEAN: u32 = 6;
    pub const ARGUMENTS: u32 = 8;
    pub const MAPPED_ARGUMENTS: u32 = 9;
    pub const DATE: u32 = 10;
    pub const REGEXP: u32 = 19;
    pub const ARRAY_BUFFER: u32 = 20;
    pub const SHARED_ARRAY_BUFFER: u32 = 21;
    pub const UINT8C_ARRAY: u32 = 22;
    pub const FLOAT64_ARRAY: u32 = 33;
    pub const DATAVIEW: u32 = 34;
    pub const BIG_INT: u32 = 35;
    pub const MAP: u32 = 36;
    pub const SET: u32 = 37;
    pub const PROXY: u32 = 51;
}

/// Why a value could not be cloned or read.
#[derive(Debug)]
pub enum CloneError {
    /// `TypeError: <printed value> could not be cloned.`
    NotCloneable(String),
    /// A top-level value of a type that is never transferable (a symbol).
    Unsupported,
    /// A JS exception is pending in the context (a getter threw, or an allocation failed).
    Exception,
    /// Nesting deeper than `MAX_DEPTH`.
    TooDeep,
    /// The bytes are not a value this reader accepts.
    Malformed(&'static str),
}

impl CloneError {
    pub fn message(&self) -> String {
        match self {
            CloneError::NotCloneable(printed) => format!("{printed} could not be cloned."),
            CloneError::Unsupported => "Unsupported type".into(),
            CloneError::Exception => "exception while cloning".into(),
            CloneError::TooDeep => "Maximum call stack size exceeded".into(),
            CloneError::Malformed(why) => format!("Unable to deserialize cloned data: {why}"),
        }
    }
}

type Result<T> = std::result::Result<T, CloneError>;

mod tag {
    pub const VERSION: u8 = 0xFF;
    pub const PADDING: u8 = 0;
    pub const VERIFY_OBJECT_COUNT: u8 = b'?';
    pub const THE_HOLE: u8 = b'-';
    pub const UNDEFINED: u8 = b'_';
    pub const NULL: u8 = b'0';
    pub const TRUE: u8 = b'T';
    pub const FALSE: u8 = b'F';
    pub const INT32: u8 = b'I';
    pub const UINT32: u8 = b'U';
    pub const DOUBLE: u8 = b'N';
    pub const BIGINT: u8 = b'Z';
    pub const UTF8_STRING: u8 = b'S';
    pub const ONE_BYTE_STRING: u8 = b'"';
    pub const TWO_BYTE_STRING: u8 = b'c';
    pub const OBJECT_REFERENCE: u8 = b'^';
    pub const BEGIN_OBJECT: u8 = b'o';
    pub const END_OBJECT: u8 = b'{';
    pub const BEGIN_SPARSE_ARRAY: u8 = b'a';
    pub const END_SPARSE_ARRAY: u8 = b'@';
    pub const BEGIN_DENSE_ARRAY: u8 = b'A';
    pub const END_DENSE_ARRAY: u8 = b'$';
    pub const DATE: u8 = b'D';
    pub const TRUE_OBJECT: u8 = b'y';
    pub const FALSE_OBJECT: u8 = b'x';
    pub const NUMBER_OBJECT: u8 = b'n';
    pub const BIGINT_OBJECT: u8 = b'z';
    pub const STRING_OBJECT: u8 = b's';
    pub const REGEXP: u8 = b'R';
    pub const BEGIN_MAP: u8 = b';';
    pub const END_MAP: u8 = b':';
    pub const BEGIN_SET: u8 = b'\'';
    pub const END_SET: u8 = b',';
    pub const ARRAY_BUFFER: u8 = b'B';
    pub const ARRAY_BUFFER_VIEW: u8 = b'V';
    pub const HOST_OBJECT: u8 = b'\\';
    pub const ERROR: u8 = b'r';
}

/// Node's host-object type indices for ArrayBufferViews, paired with QuickJS's typed array
/// kinds (`JS_TYPED_ARRAY_*`, offset from the class id of Uint8ClampedArray).
const NODE_VIEW_TYPES: [(u32, u32); 13] = [
    // (node index, QuickJS class id)
    (0, 23),  // Int8Array
    (1, 24),  // Uint8Array
    (2, 22),  // Uint8ClampedArray
    (3, 25),  // Int16Array
    (4, 26),  // Uint16Array
    (5, 27),  // Int32Array
    (6, 28),  // Uint32Array
    (7, 32),  // Float32Array
    (8, 33),  // Float64Array
    (9, 34),  // DataView
    (11, 29), // BigInt64Array
    (12, 30), // BigUint64Array
    (13, 31), // Float16Array
];
/// Node's index for its own Buffer class; it arrives here as a Uint8Array.
const NODE_BUFFER_INDEX: u32 = 10;

/// The constructor names of typed arrays by QuickJS class id, from Uint8ClampedArray on.
const TYPED_ARRAY_NAMES: [&str; 12] = [
    "Uint8ClampedArray",
    "Int8Array",
    "Uint8Array",
    "Int16Array",
    "Uint16Array",
    "Int32Array",
    "Uint32Array",
    "BigInt64Array",
    "BigUint64Array",
    "Float16Array",
    "Float32Array",
    "Float64Array",
];

/// A JS number; `-0` stays negative (rquickjs's `new_number` folds it into integer 0).
pub fn number<'js>(ctx: &Ctx<'js>, d: f64) -> Value<'js> {
    if d == 0.0 && d.is_sign_negative() {
        Value::new_float(ctx.clone(), d)
    } else {
        Value::new_number(ctx.clone(), d)
    }
}

pub fn class_id(value: &Value) -> u32 {
    // SAFETY: reading the class id of a live value.
    unsafe { qjs::JS_GetClassID(value.as_raw()) }
}

// ---------------------------------------------------------------------------------------------
// Strings: QuickJS text as V8 wants it (Latin-1 or UTF-16), and back.

/// The UTF-16 code units of a JS string (lone surrogates kept).
pub fn string_units(ctx: &Ctx, value: &Value) -> Result<Vec<u16>> {
    let mut len = 0usize;
    // SAFETY: `value` is a live string of this context; the buffer is freed below.
    unsafe {
        let ptr = qjs::JS_ToCStringLenUTF16(ctx.as_raw().as_ptr(), &mut len as *mut usize as _, value.as_raw());
        if ptr.is_null() {
            return Err(CloneError::Exception);
        }
        let units = std::slice::from_raw_parts(ptr, len).to_vec();
        qjs::JS_FreeCStringUTF16(ctx.as_raw().as_ptr(), ptr);
        Ok(units)
    }
}

/// Makes a JS string from UTF-16 code units.
pub fn string_from_units<'js>(ctx: &Ctx<'js>, units: &[u16]) -> Result<Value<'js>> {
    // SAFETY: QuickJS copies the buffer; the result is owned by the returned Value.
    unsafe {
        let v = qjs::JS_NewStringUTF16(ctx.as_raw().as_ptr(), units.as_ptr(), units.len() as _);
        owned(ctx, v)
    }
}

/// Makes a JS string from Latin-1 bytes.
pub fn string_from_latin1<'js>(ctx: &Ctx<'js>, bytes: &[u8]) -> Result<Value<'js>> {
    if bytes.is_ascii() {
        // SAFETY: ASCII is valid UTF-8; QuickJS copies it.
        return unsafe {
            let v = qjs::JS_NewStringLen(ctx.as_raw().as_ptr(), bytes.as_ptr() as _, bytes.len() as _);
            owned(ctx, v)
        };
    }
    let units: Vec<u16> = bytes.iter().map(|&b| b as u16).collect();
    string_from_units(ctx, &units)
}

/// Takes ownership of a raw result, turning JS_EXCEPTION into `CloneError::Exception`.
fn owned<'js>(ctx: &Ctx<'js>, v: qjs::JSValue) -> Result<Value<'js>> {
    // SAFETY: `v` was just returned by QuickJS with a reference we now own.
    unsafe {
        if qjs::JS_VALUE_GET_TAG(v) == qjs::JS_TAG_EXCEPTION {
            return Err(CloneError::Exception);
        }
        Ok(Value::from_raw(ctx.clone(), v))
    }
}

// ---------------------------------------------------------------------------------------------
// Writing

/// The structured clone of a string given as UTF-16 (one that may hold lone surrogates, which no
/// UTF-8 string can carry).
pub fn string_clone(units: &[u16]) -> Vec<u8> {
    let mut out = vec![tag::VERSION, VERSION];
    push_string_units(&mut out, units);
    out
}

fn push_varint(out: &mut Vec<u8>, mut n: u64) {
    loop {
        let byte = (n & 0x7F) as u8;
        n >>= 7;
        if n == 0 {
            out.push(byte);
            return;
        }
        out.push(byte | 0x80);
    }
}

fn push_string_units(out: &mut Vec<u8>, units: &[u16]) {
    if units.iter().all(|&u| u <= 0xFF) {
        out.push(tag::ONE_BYTE_STRING);
        push_varint(out, units.len() as u64);
        out.extend(units.iter().map(|&u| u as u8));
    } else {
        let byte_len = units.len() * 2;
        // V8 aligns two-byte payloads: pad so that the bytes start at an even offset.
        if (out.len() + 1 + varint_len(byte_len as u64)) & 1 == 1 {
            out.push(tag::PADDING);
        }
        out.push(tag::TWO_BYTE_STRING);
        push_varint(out, byte_len as u64);
        for u in units {
            out.extend_from_slice(&u.to_le_bytes());
        }
    }
}

pub fn write<'js>(ctx: &Ctx<'js>, value: &Value<'js>) -> Result<Vec<u8>> {
    let mut w = Writer {
        ctx: ctx.clone(),
        out: Vec::with_capacity(256),
        ids: FastMap::with_capacity_and_hasher(1024, Default::default()),
        keys: FastMap::default(),
        get_time: None,
        depth: 0,
        stack_base: stack_position(),
        // SAFETY: reading the pointer of a live object.
        global: unsafe { qjs::JS_VALUE_GET_PTR(ctx.globals().as_raw()) as usize },
    };
    w.out.push(tag::VERSION);
    w.out.push(VERSION);
    w.value(value)?;
    Ok(std::mem::take(&mut w.out))
}

/// Hashes object addresses: identity keys need no DoS-resistant hashing, and SipHash showed in
/// profiles of large copies.

struct Writer<'js> {
    ctx: Ctx<'js>,
    out: Vec<u8>,
    /// Object identity (the QuickJS object pointer) to the id V8 gives it: its write order.
    ids: FastMap<usize, u32>,
    /// Property keys already written once, as their encoded bytes (objects of one shape repeat them).
    keys: FastMap<qjs::JSAtom, Vec<u8>>,
    /// `Date.prototype.getTime`, looked up once per copy.
    get_time: Option<Value<'js>>,
    depth: usize,
    stack_base: usize,
    /// The context's global object (its pointer), which V8 refuses to clone.
    global: usize,
}

impl<'js> Writer<'js> {
    fn varint(&mut self, n: u64) {
        push_varint(&mut self.out, n);
    }

    fn double(&mut self, d: f64) {
        self.out.extend_from_slice(&d.to_le_bytes());
    }

    fn number(&mut self, value: &Value<'js>) {
        if let Some(i) = value.as_int() {
            self.out.push(tag::INT32);
            self.varint(((i << 1) ^ (i >> 31)) as u32 as u64);
        } else {
            self.out.push(tag::DOUBLE);
            self.double(value.as_number().unwrap_or(f64::NAN));
        }
    }

    fn string_units(&mut self, units: &[u16]) {
        push_string_units(&mut self.out, units);
    }

    fn string(&mut self, value: &Value<'js>) -> Result<()> {
        self.string_raw(value.as_raw())
    }

    fn string_raw(&mut self, value: qjs::JSValue) -> Result<()> {
        let raw = self.ctx.as_raw().as_ptr();
        let mut len = 0usize;
        // SAFETY: CESU-8 text of a live string (ASCII strings come straight from QuickJS's own
        // buffer); it is copied or decoded before being freed.
        unsafe {
            let ptr = qjs::JS_ToCStringLen2(raw, &mut len as *mut usize as _, value, true);
            if ptr.is_null() {
                return Err(CloneError::Exception);
            }
            let bytes = std::slice::from_raw_parts(ptr as *const u8, len);
            self.cesu8(bytes);
            qjs::JS_FreeCString(raw, ptr);
        }
        Ok(())
    }

    /// Writes text given as CESU-8 (every UTF-16 unit as its own 1–3 byte sequence).
    fn cesu8(&mut self, bytes: &[u8]) {
        if bytes.is_ascii() {
            self.out.push(tag::ONE_BYTE_STRING);
            self.varint(bytes.len() as u64);
            self.out.extend_from_slice(bytes);
            return;
        }
        let units = cesu8_units(bytes);
        self.string_units(&units);
    }

    fn bigint_payload(&mut self, value: &Value<'js>) -> Result<()> {
        let (negative, mut bytes) = bigint_parts(&self.ctx, value)?;
        while bytes.len() % 8 != 0 {
            bytes.push(0);
        }
        self.varint(((bytes.len() as u64) << 1) | negative as u64);
        self.out.extend_from_slice(&bytes);
        Ok(())
    }

    /// Writes a value we own as a raw QuickJS value (a property just read), releasing it. The
    /// common primitives are written without wrapping them, which profiles showed to matter.
    fn owned_value(&mut self, raw: qjs::JSValue) -> Result<()> {
        // SAFETY: `raw` is an owned, live value of this context; primitives are read by tag,
        // strings read before the value is freed, anything else handed to `Value` ownership.
        unsafe {
            let tag = qjs::JS_VALUE_GET_TAG(raw);
            match tag {
                t if t == qjs::JS_TAG_EXCEPTION => return Err(CloneError::Exception),
                t if t == qjs::JS_TAG_INT => {
                    let i = qjs::JS_VALUE_GET_INT(raw);
                    self.out.push(tag::INT32);
                    self.varint(((i << 1) ^ (i >> 31)) as u32 as u64);
                    return Ok(());
                }
                t if t == qjs::JS_TAG_BOOL => {
                    self.out.push(if qjs::JS_VALUE_GET_INT(raw) != 0 { tag::TRUE } else { tag::FALSE });
                    return Ok(());
                }
                t if t == qjs::JS_TAG_NULL => {
                    self.out.push(tag::NULL);
                    return Ok(());
                }
                t if t == qjs::JS_TAG_UNDEFINED => {
                    self.out.push(tag::UNDEFINED);
                    return Ok(());
                }
                t if t == qjs::JS_TAG_STRING => {
                    let result = self.string_raw(raw);
                    qjs::JS_FreeValue(self.ctx.as_raw().as_ptr(), raw);
                    return result;
                }
                _ => {}
            }
            let value = Value::from_raw(self.ctx.clone(), raw);
            self.value(&value)
        }
    }

    fn value(&mut self, value: &Value<'js>) -> Result<()> {
        use rquickjs::Type;
        match value.type_of() {
            Type::Uninitialized | Type::Undefined => self.out.push(tag::UNDEFINED),
            Type::Null => self.out.push(tag::NULL),
            Type::Bool => self.out.push(if value.as_bool() == Some(true) { tag::TRUE } else { tag::FALSE }),
            Type::Int | Type::Float => self.number(value),
            Type::String => self.string(value)?,
            Type::BigInt => {
                self.out.push(tag::BIGINT);
                self.bigint_payload(value)?;
            }
            Type::Symbol | Type::Function | Type::Constructor | Type::Module | Type::Unknown => {
                return Err(CloneError::NotCloneable(printed(&self.ctx, value)));
            }
            Type::Object | Type::Array | Type::Promise | Type::Exception | Type::Proxy => self.object(value)?,
        }
        Ok(())
    }

    fn object(&mut self, value: &Value<'js>) -> Result<()> {
        // SAFETY: `value` is an object; its pointer identifies it while we hold it.
        let key = unsafe { qjs::JS_VALUE_GET_PTR(value.as_raw()) } as usize;
        if let Some(&id) = self.ids.get(&key) {
            self.out.push(tag::OBJECT_REFERENCE);
            self.varint(id as u64);
            return Ok(());
        }
        let cid = class_id(value);
        // V8 refuses a context's global object (its global proxy is no plain object).
        if cid == class::OBJECT && key == self.global {
            return Err(CloneError::NotCloneable(printed(&self.ctx, value)));
        }
        if !matches!(
            cid,
            class::OBJECT
                | class::ARRAY
                | class::ERROR
                | class::NUMBER
                | class::STRING
                | class::BOOLEAN
                | class::BIG_INT
                | class::DATE
                | class::REGEXP
                | class::ARRAY_BUFFER
                | class::MAP
                | class::SET
                | class::ARGUMENTS
                | class::MAPPED_ARGUMENTS
        ) && !(class::UINT8C_ARRAY..=class::DATAVIEW).contains(&cid)
        {
            return Err(CloneError::NotCloneable(printed(&self.ctx, value)));
        }
        let id = self.ids.len() as u32;
        self.ids.insert(key, id);
        self.depth += 1;
        if too_deep(self.depth, self.stack_base) {
            return Err(CloneError::TooDeep);
        }
        let result = self.object_body(value, cid);
        self.depth -= 1;
        result
    }

    fn object_body(&mut self, value: &Value<'js>, cid: u32) -> Result<()> {
        let ctx = self.ctx.clone();
        match cid {
            class::ARRAY => self.array(value),
            class::DATE => {
                self.out.push(tag::DATE);
                if self.get_time.is_none() {
                    let date: rquickjs::Object = ctx.globals().get("Date").map_err(|_| CloneError::Exception)?;
                    let proto: rquickjs::Object = date.get("prototype").map_err(|_| CloneError::Exception)?;
                    self.get_time = Some(proto.get("getTime").map_err(|_| CloneError::Exception)?);
                }
                let get_time = self.get_time.as_ref().unwrap();
                // SAFETY: calls getTime on the Date; the result is owned and wrapped at once.
                let t = owned(&ctx, unsafe { qjs::JS_Call(ctx.as_raw().as_ptr(), get_time.as_raw(), value.as_raw(), 0, std::ptr::null_mut()) })?;
                self.double(t.as_number().unwrap_or(f64::NAN));
                Ok(())
            }
            class::REGEXP => {
                self.out.push(tag::REGEXP);
                let source = get(&ctx, value, "source")?;
                self.string(&source)?;
                let flags = get(&ctx, value, "flags")?;
                let flags = flags.as_string().and_then(|s| s.to_string().ok()).unwrap_or_default();
                self.varint(regexp_flag_bits(&flags) as u64);
                Ok(())
            }
            class::NUMBER | class::STRING | class::BOOLEAN | class::BIG_INT => {
                let inner = call_method(&ctx, value, "valueOf", ())?;
                match cid {
                    class::NUMBER => {
                        self.out.push(tag::NUMBER_OBJECT);
                        self.double(inner.as_number().unwrap_or(f64::NAN));
                    }
                    class::BOOLEAN => {
                        self.out.push(if inner.as_bool() == Some(true) { tag::TRUE_OBJECT } else { tag::FALSE_OBJECT })
                    }
                    class::BIG_INT => {
                        self.out.push(tag::BIGINT_OBJECT);
                        self.bigint_payload(&inner)?;
                    }
                    _ => {
                        self.out.push(tag::STRING_OBJECT);
                        self.string(&inner)?;
                    }
                }
                Ok(())
            }
            class::MAP | class::SET => {
                let is_map = cid == class::MAP;
                self.out.push(if is_map { tag::BEGIN_MAP } else { tag::BEGIN_SET });
                // Snapshot the entries first, as V8 does, so that user code cannot change the
                // collection while it is written.
                let entries = call_method(&ctx, &get(&ctx, &ctx.globals().into_value(), "Array")?, "from", (value.clone(),))?;
                let entries = entries.into_array().ok_or(CloneError::Exception)?;
                let mut count = 0u64;
                for entry in entries.iter::<Value>() {
                    let entry = entry.map_err(|_| CloneError::Exception)?;
                    if is_map {
                        let pair = entry.as_array().ok_or(CloneError::Exception)?;
                        self.value(&pair.get(0).map_err(|_| CloneError::Exception)?)?;
                        self.value(&pair.get(1).map_err(|_| CloneError::Exception)?)?;
                        count += 2;
                    } else {
                        self.value(&entry)?;
                        count += 1;
                    }
                }
                self.out.push(if is_map { tag::END_MAP } else { tag::END_SET });
                self.varint(count);
                Ok(())
            }
            class::ARRAY_BUFFER => {
                let bytes = array_buffer_bytes(&ctx, value)?;
                self.out.push(tag::ARRAY_BUFFER);
                self.varint(bytes.len() as u64);
                self.out.extend_from_slice(&bytes);
                Ok(())
            }
            class::ERROR => self.error(value),
            c if (class::UINT8C_ARRAY..=class::DATAVIEW).contains(&c) => {
                let bytes = view_bytes(&ctx, value)?;
                let index = NODE_VIEW_TYPES.iter().find(|(_, id)| *id == c).map(|(i, _)| *i).unwrap_or(1);
                self.out.push(tag::HOST_OBJECT);
                self.varint(index as u64);
                self.varint(bytes.len() as u64);
                self.out.extend_from_slice(&bytes);
                Ok(())
            }
            _ => {
                self.out.push(tag::BEGIN_OBJECT);
                let count = self.properties(value, false)?;
                self.out.push(tag::END_OBJECT);
                self.varint(count);
                Ok(())
            }
        }
    }

    fn error(&mut self, value: &Value<'js>) -> Result<()> {
        let ctx = self.ctx.clone();
        self.out.push(tag::ERROR);
        let name = get(&ctx, value, "name")?;
        let name = name.as_string().and_then(|s| s.to_string().ok()).unwrap_or_default();
        let prototype_tag = match name.as_str() {
            "EvalError" => Some(b'E'),
            "RangeError" => Some(b'R'),
            "ReferenceError" => Some(b'F'),
            "SyntaxError" => Some(b'S'),
            "TypeError" => Some(b'T'),
            "URIError" => Some(b'U'),
            _ => None,
        };
        if let Some(t) = prototype_tag {
            self.out.push(t);
        }
        let obj = value.as_object().ok_or(CloneError::Exception)?;
        if let Ok(Some(desc)) = own_data(&ctx, obj, "message") {
            if let Some(s) = desc.as_string() {
                self.out.push(b'm');
                self.string(&s.clone().into_value())?;
            }
        }
        let stack = get(&ctx, value, "stack")?;
        if stack.is_string() {
            self.out.push(b's');
            self.string(&stack)?;
        }
        self.out.push(b'.');
        Ok(())
    }

    fn array(&mut self, value: &Value<'js>) -> Result<()> {
        let keys = OwnKeys::of(&self.ctx, value)?;
        let length = value.as_array().ok_or(CloneError::Exception)?.len();
        let index_count = keys.atoms().filter(|a| atom_index(*a).is_some()).count();
        let raw = self.ctx.as_raw().as_ptr();
        if index_count == length {
            // Dense: every element present.
            self.out.push(tag::BEGIN_DENSE_ARRAY);
            self.varint(length as u64);
            for i in 0..length {
                // SAFETY: an owned result, written and released by `owned_value`.
                self.owned_value(unsafe { qjs::JS_GetPropertyUint32(raw, value.as_raw(), i as u32) })?;
            }
            let mut count = 0;
            for atom in keys.atoms().filter(|a| atom_index(*a).is_none()) {
                self.key_value(value, atom)?;
                count += 1;
            }
            self.out.push(tag::END_DENSE_ARRAY);
            self.varint(count);
            self.varint(length as u64);
        } else {
            self.out.push(tag::BEGIN_SPARSE_ARRAY);
            self.varint(length as u64);
            let mut count = 0;
            for atom in keys.atoms() {
                self.key_value(value, atom)?;
                count += 1;
            }
            self.out.push(tag::END_SPARSE_ARRAY);
            self.varint(count);
            self.varint(length as u64);
        }
        Ok(())
    }

    fn key_value(&mut self, object: &Value<'js>, atom: qjs::JSAtom) -> Result<()> {
        let raw = self.ctx.as_raw().as_ptr();
        match atom_index(atom) {
            Some(i) if i < (1 << 30) => {
                self.out.push(tag::INT32);
                let i = i as i32;
                self.varint(((i << 1) ^ (i >> 31)) as u32 as u64);
            }
            _ if self.keys.contains_key(&atom) => {
                let encoded = &self.keys[&atom];
                self.out.extend_from_slice(encoded);
            }
            _ => {
                let start = self.out.len();
                let mut len = 0usize;
                // SAFETY: the key's text is copied before it is freed.
                unsafe {
                    let ptr = qjs::JS_AtomToCStringLen(raw, &mut len as *mut usize as _, atom);
                    if ptr.is_null() {
                        return Err(CloneError::Exception);
                    }
                    let bytes = std::slice::from_raw_parts(ptr as *const u8, len);
                    if bytes.is_ascii() {
                        self.cesu8(bytes);
                    } else {
                        // Keys come as UTF-8 here; re-encode through UTF-16.
                        let units: Vec<u16> = String::from_utf8_lossy(bytes).encode_utf16().collect();
                        self.string_units(&units);
                    }
                    qjs::JS_FreeCString(raw, ptr);
                }
                // Two-byte strings depend on alignment (padding), so only one-byte keys are reused.
                if self.out[start] == tag::ONE_BYTE_STRING && self.keys.len() < 4096 {
                    // SAFETY: the atom stays alive (in the object's key table) while we keep it; we
                    // take our own reference for the cache, released in `Drop for Writer`.
                    let atom = unsafe { qjs::JS_DupAtom(raw, atom) };
                    self.keys.insert(atom, self.out[start..].to_vec());
                }
            }
        }
        // SAFETY: an owned result, written and released by `owned_value`.
        self.owned_value(unsafe { qjs::JS_GetProperty(raw, object.as_raw(), atom) })
    }

    fn properties(&mut self, value: &Value<'js>, _: bool) -> Result<u64> {
        let keys = OwnKeys::of(&self.ctx, value)?;
        let mut count = 0;
        for atom in keys.atoms() {
            self.key_value(value, atom)?;
            count += 1;
        }
        Ok(count)
    }
}

/// QuickJS stores array indexes below 2^31 as tagged-integer atoms.
fn atom_index(atom: qjs::JSAtom) -> Option<u32> {
    const TAG_INT: u32 = 1 << 31;
    (atom & TAG_INT != 0).then_some(atom & !TAG_INT)
}

/// The own enumerable string keys of an object, as QuickJS atoms (freed on drop).
struct OwnKeys<'js> {
    ctx: Ctx<'js>,
    tab: *mut qjs::JSPropertyEnum,
    len: u32,
}

impl<'js> OwnKeys<'js> {
    fn of(ctx: &Ctx<'js>, value: &Value<'js>) -> Result<Self> {
        let mut tab: *mut qjs::JSPropertyEnum = std::ptr::null_mut();
        let mut len: u32 = 0;
        let flags = (qjs::JS_GPN_STRING_MASK | qjs::JS_GPN_ENUM_ONLY) as i32;
        // SAFETY: standard enumeration; the table is freed in `drop`.
        if unsafe { qjs::JS_GetOwnPropertyNames(ctx.as_raw().as_ptr(), &mut tab, &mut len, value.as_raw(), flags) } < 0 {
            return Err(CloneError::Exception);
        }
        Ok(OwnKeys { ctx: ctx.clone(), tab, len })
    }

    fn atoms(&self) -> impl Iterator<Item = qjs::JSAtom> + use<'_, 'js> {
        // SAFETY: `tab` holds `len` entries until drop.
        (0..self.len as usize).map(move |i| unsafe { (*self.tab.add(i)).atom })
    }
}

impl Drop for OwnKeys<'_> {
    fn drop(&mut self) {
        // SAFETY: frees the table and its atoms exactly once.
        unsafe { qjs::JS_FreePropertyEnum(self.ctx.as_raw().as_ptr(), self.tab, self.len) };
    }
}

/// UTF-16 units of CESU-8 text (as QuickJS writes it with `cesu8`: no 4-byte sequences).
fn cesu8_units(bytes: &[u8]) -> Vec<u16> {
    let mut units = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        let (unit, width) = if b < 0x80 {
            (b as u16, 1)
        } else if b & 0xE0 == 0xC0 && i + 1 < bytes.len() {
            ((((b & 0x1F) as u16) << 6) | (bytes[i + 1] & 0x3F) as u16, 2)
        } else if b & 0xF0 == 0xE0 && i + 2 < bytes.len() {
            ((((b & 0x0F) as u16) << 12) | (((bytes[i + 1] & 0x3F) as u16) << 6) | (bytes[i + 2] & 0x3F) as u16, 3)
        } else {
            (0xFFFD, 1)
        };
        units.push(unit);
        i += width;
    }
    units
}

/// A bigint's sign and little-endian magnitude bytes (no trailing zero bytes).
pub fn bigint_parts<'js>(ctx: &Ctx<'js>, value: &Value<'js>) -> Result<(bool, Vec<u8>)> {
    // The magnitude in hex, from QuickJS's own toString(16).
    let text = call_method(ctx, value, "toString", (16,))?;
    let text = text.as_string().ok_or(CloneError::Exception)?.to_string().map_err(|_| CloneError::Exception)?;
    let (negative, hex) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text.as_str()),
    };
    let mut bytes: Vec<u8> = Vec::new();
    let digits = hex.as_bytes();
    let mut i = digits.len();
    while i > 0 {
        let lo = hex_val(digits[i - 1]);
        let hi = if i >= 2 { hex_val(digits[i - 2]) } else { 0 };
        bytes.push(hi << 4 | lo);
        i = i.saturating_sub(2);
    }
    while bytes.last() == Some(&0) {
        bytes.pop();
    }
    Ok((negative, bytes))
}

/// A bigint from its sign and little-endian magnitude bytes.
pub fn bigint_from_parts<'js>(ctx: &Ctx<'js>, negative: bool, magnitude: &[u8]) -> Result<Value<'js>> {
    let mut hex = String::with_capacity(magnitude.len() * 2 + 2);
    hex.push_str("0x");
    for b in magnitude.iter().rev().skip_while(|b| **b == 0) {
        hex.push_str(&format!("{b:02x}"));
    }
    if hex.len() == 2 {
        hex.push('0');
    }
    let big: rquickjs::Function = ctx.globals().get("BigInt").map_err(|_| CloneError::Exception)?;
    let magnitude: Value = big.call((hex,)).map_err(|_| CloneError::Exception)?;
    if !negative {
        return Ok(magnitude);
    }
    let negate: rquickjs::Function = ctx.eval("(x) => -x").map_err(|_| CloneError::Exception)?;
    negate.call((magnitude,)).map_err(|_| CloneError::Exception)
}

impl Drop for Writer<'_> {
    fn drop(&mut self) {
        let raw = self.ctx.as_raw().as_ptr();
        for atom in self.keys.keys() {
            // SAFETY: releases the references taken when the keys were cached.
            unsafe { qjs::JS_FreeAtom(raw, *atom) };
        }
    }
}

fn varint_len(mut n: u64) -> usize {
    let mut len = 1;
    while n >= 0x80 {
        n >>= 7;
        len += 1;
    }
    len
}

fn hex_val(c: u8) -> u8 {
    match c {
        b'0'..=b'9' => c - b'0',
        b'a'..=b'f' => c - b'a' + 10,
        b'A'..=b'F' => c - b'A' + 10,
        _ => 0,
    }
}

fn regexp_flag_bits(flags: &str) -> u32 {
    flags.chars().fold(0, |bits, c| {
        bits | match c {
            'g' => 1,
            'i' => 2,
            'm' => 4,
            'y' => 8,
            'u' => 16,
            's' => 32,
            'd' => 128,
            'v' => 256,
            _ => 0,
        }
    })
}

fn regexp_flags(bits: u64) -> String {
    [(128, 'd'), (1, 'g'), (2, 'i'), (4, 'm'), (32, 's'), (16, 'u'), (256, 'v'), (8, 'y')]
        .iter()
        .filter(|(bit, _)| bits & bit != 0)
        .map(|(_, c)| *c)
        .collect()
}

fn get<'js>(ctx: &Ctx<'js>, object: &Value<'js>, name: &str) -> Result<Value<'js>> {
    let obj = object.as_object().ok_or(CloneError::Exception)?;
    let _ = ctx;
    obj.get::<_, Value>(name).map_err(|_| CloneError::Exception)
}

fn own_data<'js>(ctx: &Ctx<'js>, obj: &rquickjs::Object<'js>, name: &str) -> rquickjs::Result<Option<Value<'js>>> {
    let _ = ctx;
    if !obj.contains_key(name)? {
        return Ok(None);
    }
    // Own property only: a prototype's `message` is not the error's own.
    let has_own: bool = {
        let object_ctor: rquickjs::Object = ctx.globals().get("Object")?;
        let proto: rquickjs::Object = object_ctor.get("prototype")?;
        let has_own: rquickjs::Function = proto.get("hasOwnProperty")?;
        has_own.call((rquickjs::function::This(obj.clone()), name))?
    };
    if !has_own {
        return Ok(None);
    }
    obj.get(name).map(Some)
}

fn call_method<'js, A: rquickjs::function::IntoArgs<'js>>(
    ctx: &Ctx<'js>,
    this: &Value<'js>,
    name: &str,
    args: A,
) -> Result<Value<'js>> {
    let _ = ctx;
    let obj = this.as_object().cloned().or_else(|| {
        // Primitives (bigint) call methods of their prototype.
        let ctor = match this.type_of() {
            rquickjs::Type::BigInt => "BigInt",
            _ => return None,
        };
        let c: rquickjs::Object = ctx.globals().get(ctor).ok()?;
        c.get("prototype").ok()
    });
    let obj = obj.ok_or(CloneError::Exception)?;
    let f: rquickjs::Function = obj.get(name).map_err(|_| CloneError::Exception)?;
    let mut a = rquickjs::function::Args::new(ctx.clone(), 8);
    a.this(this.clone()).map_err(|_| CloneError::Exception)?;
    args.into_args(&mut a).map_err(|_| CloneError::Exception)?;
    f.call_arg(a).map_err(|_| CloneError::Exception)
}

fn array_buffer_bytes(ctx: &Ctx, value: &Value) -> Result<Vec<u8>> {
    let mut size = 0usize;
    // SAFETY: `value` is an ArrayBuffer; the slice is copied before any JS can run.
    unsafe {
        let ptr = qjs::JS_GetArrayBuffer(ctx.as_raw().as_ptr(), &mut size as *mut usize as _, value.as_raw());
        if ptr.is_null() {
            // A detached buffer reads as empty, as in V8.
            return if size == 0 { Ok(Vec::new()) } else { Err(CloneError::Exception) };
        }
        Ok(std::slice::from_raw_parts(ptr, size).to_vec())
    }
}

/// The bytes a typed array or DataView looks at.
fn view_bytes(ctx: &Ctx, value: &Value) -> Result<Vec<u8>> {
    let raw = ctx.as_raw().as_ptr();
    let mut offset = 0usize;
    let mut length = 0usize;
    let mut per_element = 0usize;
    // SAFETY: `value` is a typed array or DataView of this context; the buffer is released below.
    unsafe {
        let buffer = if class_id(value) == class::DATAVIEW {
            let obj = value.as_object().ok_or(CloneError::Exception)?;
            offset = obj.get::<_, f64>("byteOffset").map_err(|_| CloneError::Exception)? as usize;
            length = obj.get::<_, f64>("byteLength").map_err(|_| CloneError::Exception)? as usize;
            let b: Value = obj.get("buffer").map_err(|_| CloneError::Exception)?;
            qjs::JS_DupValue(raw, b.as_raw())
        } else {
            qjs::JS_GetTypedArrayBuffer(
                raw,
                value.as_raw(),
                &mut offset as *mut usize as _,
                &mut length as *mut usize as _,
                &mut per_element as *mut usize as _,
            )
        };
        let buffer = owned(&ctx.clone(), buffer)?;
        let all = array_buffer_bytes(ctx, &buffer)?;
        all.get(offset..offset.saturating_add(length)).map(|s| s.to_vec()).ok_or(CloneError::Malformed("view out of range"))
    }
}

/// How a value that cannot be cloned is printed in the error, as V8 prints it.
pub fn printed<'js>(ctx: &Ctx<'js>, value: &Value<'js>) -> String {
    use rquickjs::Type;
    match value.type_of() {
        Type::Symbol => {
            let desc = value
                .as_symbol()
                .and_then(|s| s.description().ok())
                .and_then(|d| d.as_string().and_then(|s| s.to_string().ok()));
            format!("Symbol({})", desc.unwrap_or_default())
        }
        Type::Function | Type::Constructor => {
            let text: Option<String> = value
                .as_function()
                .and_then(|f| call_method(ctx, &f.clone().into_value(), "toString", ()).ok())
                .and_then(|s| s.as_string().and_then(|s| s.to_string().ok()));
            text.unwrap_or_else(|| "function".into())
        }
        _ => {
            let tag = value
                .as_object()
                .and_then(|o| o.get::<_, rquickjs::Object>("constructor").ok())
                .and_then(|c| c.get::<_, String>("name").ok())
                .unwrap_or_else(|| "Object".into());
            format!("#<{tag}>")
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Reading

pub fn read<'js>(ctx: &Ctx<'js>, bytes: &[u8]) -> Result<Value<'js>> {
    let mut r = Reader { ctx: ctx.clone(), bytes, pos: 0, objects: Vec::new(), depth: 0, version: 0, stack_base: stack_position() };
    r.header()?;
    r.value()
}

struct Reader<'a, 'js> {
    ctx: Ctx<'js>,
    bytes: &'a [u8],
    pos: usize,
    objects: Vec<Value<'js>>,
    depth: usize,
    version: u8,
    stack_base: usize,
}

impl<'a, 'js> Reader<'a, 'js> {
    fn header(&mut self) -> Result<()> {
        if self.peek() == Some(tag::VERSION) {
            self.pos += 1;
            let v = self.varint()?;
            if !(13..=15).contains(&v) {
                return Err(CloneError::Malformed("unsupported format version"));
            }
            self.version = v as u8;
        }
        Ok(())
    }

    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.pos).copied()
    }

    fn byte(&mut self) -> Result<u8> {
        let b = self.peek().ok_or(CloneError::Malformed("truncated"))?;
        self.pos += 1;
        Ok(b)
    }

    fn tag(&mut self) -> Result<u8> {
        loop {
            let t = self.byte()?;
            if t != tag::PADDING {
                return Ok(t);
            }
        }
    }

    fn peek_tag(&mut self) -> Result<u8> {
        while self.peek() == Some(tag::PADDING) {
            self.pos += 1;
        }
        self.peek().ok_or(CloneError::Malformed("truncated"))
    }

    fn varint(&mut self) -> Result<u64> {
        let mut n: u64 = 0;
        let mut shift = 0;
        loop {
            let b = self.byte()?;
            if shift < 64 {
                n |= ((b & 0x7F) as u64) << shift;
            }
            shift += 7;
            if b & 0x80 == 0 {
                return Ok(n);
            }
            if shift > 70 {
                return Err(CloneError::Malformed("varint too long"));
            }
        }
    }

    fn length(&mut self) -> Result<usize> {
        let n = self.varint()?;
        if n > (self.bytes.len() - self.pos) as u64 {
            return Err(CloneError::Malformed("length past the end"));
        }
        Ok(n as usize)
    }

    fn raw(&mut self, n: usize) -> Result<&'a [u8]> {
        let end = self.pos.checked_add(n).filter(|&e| e <= self.bytes.len()).ok_or(CloneError::Malformed("truncated"))?;
        let s = &self.bytes[self.pos..end];
        self.pos = end;
        Ok(s)
    }

    fn double(&mut self) -> Result<f64> {
        let b = self.raw(8)?;
        Ok(f64::from_le_bytes(b.try_into().unwrap()))
    }

    fn js<T>(&self, r: rquickjs::Result<T>) -> Result<T> {
        r.map_err(|_| CloneError::Exception)
    }

    fn number(&self, d: f64) -> Value<'js> {
        number(&self.ctx, d)
    }

    fn value(&mut self) -> Result<Value<'js>> {
        self.depth += 1;
        if too_deep(self.depth, self.stack_base) {
            return Err(CloneError::TooDeep);
        }
        let t = self.tag()?;
        let v = self.value_of(t);
        self.depth -= 1;
        v
    }

    fn value_of(&mut self, t: u8) -> Result<Value<'js>> {
        let ctx = self.ctx.clone();
        Ok(match t {
            tag::UNDEFINED => Value::new_undefined(ctx),
            tag::NULL => Value::new_null(ctx),
            tag::TRUE => Value::new_bool(ctx, true),
            tag::FALSE => Value::new_bool(ctx, false),
            tag::INT32 => {
                let z = self.varint()? as u32;
                let i = ((z >> 1) as i32) ^ -((z & 1) as i32);
                Value::new_int(ctx, i)
            }
            tag::UINT32 => {
                let n = self.varint()? as u32;
                self.number(n as f64)
            }
            tag::DOUBLE => {
                let d = self.double()?;
                self.number(d)
            }
            tag::BIGINT => self.bigint()?,
            tag::UTF8_STRING | tag::ONE_BYTE_STRING | tag::TWO_BYTE_STRING => self.string_of(t)?,
            tag::OBJECT_REFERENCE => {
                let id = self.varint()? as usize;
                self.objects.get(id).cloned().ok_or(CloneError::Malformed("bad object reference"))?
            }
            tag::BEGIN_OBJECT => {
                let obj = self.js(rquickjs::Object::new(ctx))?;
                self.objects.push(obj.clone().into_value());
                let n = self.properties(&obj, tag::END_OBJECT)?;
                let expected = self.varint()?;
                if expected != n {
                    return Err(CloneError::Malformed("property count mismatch"));
                }
                obj.into_value()
            }
            tag::BEGIN_SPARSE_ARRAY => {
                let length = self.varint()?;
                if length > u32::MAX as u64 {
                    return Err(CloneError::Malformed("array too long"));
                }
                let arr = self.js(rquickjs::Array::new(ctx.clone()))?;
                self.js(arr.as_object().set("length", length as f64))?;
                self.objects.push(arr.clone().into_value());
                self.properties(arr.as_object(), tag::END_SPARSE_ARRAY)?;
                self.varint()?;
                self.varint()?;
                arr.into_value()
            }
            tag::BEGIN_DENSE_ARRAY => {
                let length = self.length()?;
                let arr = self.js(rquickjs::Array::new(ctx.clone()))?;
                self.objects.push(arr.clone().into_value());
                for i in 0..length {
                    if self.peek_tag()? == tag::THE_HOLE {
                        self.pos += 1;
                        continue;
                    }
                    let v = self.value()?;
                    define_index(&ctx, arr.as_object(), i as u32, v)?;
                }
                self.js(arr.as_object().set("length", length as f64))?;
                self.properties(arr.as_object(), tag::END_DENSE_ARRAY)?;
                self.varint()?;
                self.varint()?;
                arr.into_value()
            }
            tag::DATE => {
                let t = self.double()?;
                // SAFETY: creates a new Date owned by the returned Value.
                let v = owned(&ctx, unsafe { qjs::JS_NewDate(ctx.as_raw().as_ptr(), t) })?;
                self.objects.push(v.clone());
                v
            }
            tag::TRUE_OBJECT | tag::FALSE_OBJECT | tag::NUMBER_OBJECT | tag::BIGINT_OBJECT | tag::STRING_OBJECT => {
                let inner = match t {
                    tag::TRUE_OBJECT => Value::new_bool(ctx.clone(), true),
                    tag::FALSE_OBJECT => Value::new_bool(ctx.clone(), false),
                    tag::NUMBER_OBJECT => {
                        let d = self.double()?;
                        self.number(d)
                    }
                    tag::BIGINT_OBJECT => self.bigint()?,
                    _ => {
                        let st = self.tag()?;
                        self.string_of(st)?
                    }
                };
                let object_ctor: rquickjs::Function = self.js(ctx.globals().get("Object"))?;
                let boxed: Value = self.js(object_ctor.call((inner,)))?;
                self.objects.push(boxed.clone());
                boxed
            }
            tag::REGEXP => {
                let st = self.tag()?;
                let source = self.string_of(st)?;
                let flags = regexp_flags(self.varint()?);
                let ctor: rquickjs::Constructor = self.js(ctx.globals().get("RegExp"))?;
                let re: Value = self.js(ctor.construct((source, flags)))?;
                self.objects.push(re.clone());
                re
            }
            tag::BEGIN_MAP | tag::BEGIN_SET => {
                let is_map = t == tag::BEGIN_MAP;
                let ctor: rquickjs::Constructor = self.js(ctx.globals().get(if is_map { "Map" } else { "Set" }))?;
                let collection: rquickjs::Object = self.js(ctor.construct(()))?;
                self.objects.push(collection.clone().into_value());
                let adder: rquickjs::Function = self.js(collection.get(if is_map { "set" } else { "add" }))?;
                let end = if is_map { tag::END_MAP } else { tag::END_SET };
                let mut count = 0u64;
                loop {
                    if self.peek_tag()? == end {
                        self.pos += 1;
                        break;
                    }
                    let k = self.value()?;
                    if is_map {
                        let v = self.value()?;
                        self.js(adder.call::<_, Value>((rquickjs::function::This(collection.clone()), k, v)))?;
                        count += 2;
                    } else {
                        self.js(adder.call::<_, Value>((rquickjs::function::This(collection.clone()), k)))?;
                        count += 1;
                    }
                }
                if self.varint()? != count {
                    return Err(CloneError::Malformed("collection size mismatch"));
                }
                collection.into_value()
            }
            tag::ARRAY_BUFFER => {
                let n = self.length()?;
                let bytes = self.raw(n)?;
                // SAFETY: QuickJS copies the bytes into a new ArrayBuffer.
                let buf = owned(&ctx, unsafe { qjs::JS_NewArrayBufferCopy(ctx.as_raw().as_ptr(), bytes.as_ptr(), n as _) })?;
                self.objects.push(buf.clone());
                if self.peek() == Some(tag::ARRAY_BUFFER_VIEW) {
                    self.pos += 1;
                    return self.native_view(buf);
                }
                buf
            }
            tag::HOST_OBJECT => self.host_view()?,
            tag::ERROR => self.error()?,
            tag::VERIFY_OBJECT_COUNT => {
                self.varint()?;
                return self.value_of_next();
            }
            _ => return Err(CloneError::Malformed("unknown tag")),
        })
    }

    fn value_of_next(&mut self) -> Result<Value<'js>> {
        let t = self.tag()?;
        self.value_of(t)
    }

    fn string_of(&mut self, t: u8) -> Result<Value<'js>> {
        let n = self.length()?;
        let bytes = self.raw(n)?;
        match t {
            tag::ONE_BYTE_STRING => string_from_latin1(&self.ctx, bytes),
            tag::TWO_BYTE_STRING => {
                if n % 2 != 0 {
                    return Err(CloneError::Malformed("odd two-byte string"));
                }
                let units: Vec<u16> = bytes.chunks_exact(2).map(|c| u16::from_le_bytes([c[0], c[1]])).collect();
                string_from_units(&self.ctx, &units)
            }
            tag::UTF8_STRING => {
                let s = std::str::from_utf8(bytes).map_err(|_| CloneError::Malformed("invalid UTF-8"))?;
                self.js(rquickjs::String::from_str(self.ctx.clone(), s)).map(|s| s.into_value())
            }
            _ => Err(CloneError::Malformed("expected a string")),
        }
    }

    fn bigint(&mut self) -> Result<Value<'js>> {
        let bitfield = self.varint()?;
        let bytes = self.raw((bitfield >> 1) as usize)?;
        bigint_from_parts(&self.ctx, bitfield & 1 == 1, bytes)
    }

    fn properties(&mut self, obj: &rquickjs::Object<'js>, end: u8) -> Result<u64> {
        let raw = self.ctx.as_raw().as_ptr();
        let mut count = 0;
        loop {
            let t = self.peek_tag()?;
            if t == end {
                self.pos += 1;
                return Ok(count);
            }
            let atom = self.key_atom(t)?;
            let value = self.value();
            let value = match value {
                Ok(v) => v,
                Err(e) => {
                    // SAFETY: releases the atom made above.
                    unsafe { qjs::JS_FreeAtom(raw, atom) };
                    return Err(e);
                }
            };
            // SAFETY: the value reference goes to QuickJS; the atom is freed after use.
            let r = unsafe {
                let r = qjs::JS_DefinePropertyValue(raw, obj.as_raw(), atom, qjs::JS_DupValue(raw, value.as_raw()), qjs::JS_PROP_C_W_E as i32);
                qjs::JS_FreeAtom(raw, atom);
                r
            };
            if r < 0 {
                return Err(CloneError::Exception);
            }
            count += 1;
        }
    }

    /// A property key as an atom, made straight from the bytes where possible.
    fn key_atom(&mut self, t: u8) -> Result<qjs::JSAtom> {
        let raw = self.ctx.as_raw().as_ptr();
        let atom = match t {
            tag::ONE_BYTE_STRING | tag::UTF8_STRING => {
                self.pos += 1;
                let n = self.length()?;
                let bytes = self.raw(n)?;
                if bytes.is_ascii() || t == tag::UTF8_STRING && std::str::from_utf8(bytes).is_ok() {
                    // SAFETY: ASCII (or checked UTF-8) text; QuickJS copies it.
                    unsafe { qjs::JS_NewAtomLen(raw, bytes.as_ptr() as _, bytes.len() as _) }
                } else {
                    let text: String = bytes.iter().map(|&b| b as char).collect();
                    // SAFETY: as above.
                    unsafe { qjs::JS_NewAtomLen(raw, text.as_ptr() as _, text.len() as _) }
                }
            }
            tag::INT32 => {
                self.pos += 1;
                let z = self.varint()? as u32;
                let i = ((z >> 1) as i32) ^ -((z & 1) as i32);
                if i >= 0 {
                    // SAFETY: a plain integer atom.
                    unsafe { qjs::JS_NewAtomUInt32(raw, i as u32) }
                } else {
                    let text = i.to_string();
                    // SAFETY: ASCII text; QuickJS copies it.
                    unsafe { qjs::JS_NewAtomLen(raw, text.as_ptr() as _, text.len() as _) }
                }
            }
            _ => {
                let key = self.value()?;
                // SAFETY: converts a live key value.
                unsafe { qjs::JS_ValueToAtom(raw, key.as_raw()) }
            }
        };
        if atom == qjs::JS_ATOM_NULL {
            return Err(CloneError::Exception);
        }
        Ok(atom)
    }

    fn typed_array(&mut self, class: u32, buffer: Value<'js>, offset: usize, length: usize) -> Result<Value<'js>> {
        let ctx = self.ctx.clone();
        let name = if class == class::DATAVIEW {
            "DataView"
        } else {
            TYPED_ARRAY_NAMES[(class - class::UINT8C_ARRAY) as usize]
        };
        let element = element_size(class);
        if length % element != 0 || offset % element != 0 {
            return Err(CloneError::Malformed("misaligned view"));
        }
        let ctor: rquickjs::Constructor = self.js(ctx.globals().get(name))?;
        let count = if class == class::DATAVIEW { length } else { length / element };
        let view: Value = self.js(ctor.construct((buffer, offset as f64, count as f64)))?;
        self.objects.push(view.clone());
        Ok(view)
    }

    fn native_view(&mut self, buffer: Value<'js>) -> Result<Value<'js>> {
        let sub = self.byte()?;
        let offset = self.varint()? as usize;
        let length = self.varint()? as usize;
        if self.version >= 14 {
            self.varint()?; // flags
        }
        let class = match sub {
            b'b' => 23,
            b'B' => 24,
            b'C' => 22,
            b'w' => 25,
            b'W' => 26,
            b'd' => 27,
            b'D' => 28,
            b'q' => 29,
            b'Q' => 30,
            b'h' => 31,
            b'f' => 32,
            b'F' => 33,
            b'?' => class::DATAVIEW,
            _ => return Err(CloneError::Malformed("unknown view type")),
        };
        let mut size = 0usize;
        // SAFETY: reading the size of the buffer we just made.
        unsafe { qjs::JS_GetArrayBuffer(self.ctx.as_raw().as_ptr(), &mut size as *mut usize as _, buffer.as_raw()) };
        if offset.checked_add(length).is_none_or(|end| end > size) {
            return Err(CloneError::Malformed("view out of range"));
        }
        self.typed_array(class, buffer, offset, length)
    }

    fn host_view(&mut self) -> Result<Value<'js>> {
        let index = self.varint()? as u32;
        let n = self.length()?;
        let bytes = self.raw(n)?;
        let class = if index == NODE_BUFFER_INDEX {
            24
        } else {
            NODE_VIEW_TYPES.iter().find(|(i, _)| *i == index).map(|(_, c)| *c).ok_or(CloneError::Malformed("unknown host object"))?
        };
        let ctx = self.ctx.clone();
        // The buffer is not an object of the stream (Node writes only the view), so it takes no id.
        // SAFETY: QuickJS copies the bytes.
        let buf = owned(&ctx, unsafe { qjs::JS_NewArrayBufferCopy(ctx.as_raw().as_ptr(), bytes.as_ptr(), n as _) })?;
        self.typed_array(class, buf, 0, n)
    }

    fn error(&mut self) -> Result<Value<'js>> {
        let ctx = self.ctx.clone();
        let mut ctor_name = "Error";
        let mut message: Option<Value> = None;
        let mut stack: Option<Value> = None;
        let mut cause: Option<Value> = None;
        // Reserve the id now: V8 assigns it before the fields.
        let id = self.objects.len();
        self.objects.push(Value::new_undefined(ctx.clone()));
        loop {
            match self.byte()? {
                b'E' => ctor_name = "EvalError",
                b'R' => ctor_name = "RangeError",
                b'F' => ctor_name = "ReferenceError",
                b'S' => ctor_name = "SyntaxError",
                b'T' => ctor_name = "TypeError",
                b'U' => ctor_name = "URIError",
                b'm' => {
                    let t = self.tag()?;
                    message = Some(self.string_of(t)?);
                }
                b's' => {
                    let t = self.tag()?;
                    stack = Some(self.string_of(t)?);
                }
                b'c' => cause = Some(self.value()?),
                b'.' => break,
                _ => return Err(CloneError::Malformed("unknown error field")),
            }
        }
        let ctor: rquickjs::Constructor = self.js(ctx.globals().get(ctor_name))?;
        let err: rquickjs::Object = self.js(ctor.construct(()))?;
        if let Some(m) = message {
            define(&ctx, &err, rquickjs::String::from_str(ctx.clone(), "message").unwrap().into_value(), m)?;
            set_non_enumerable(&ctx, &err, "message")?;
        }
        if let Some(s) = stack {
            self.js(err.set("stack", s))?;
        }
        if let Some(c) = cause {
            self.js(err.set("cause", c))?;
            set_non_enumerable(&ctx, &err, "cause")?;
        }
        self.objects[id] = err.clone().into_value();
        Ok(err.into_value())
    }
}

fn element_size(class: u32) -> usize {
    match class {
        22..=24 => 1,
        25 | 26 | 31 => 2,
        27 | 28 | 32 => 4,
        29 | 30 | 33 => 8,
        _ => 1,
    }
}

/// Defines an own enumerable data property (never calls a setter, so `__proto__` stays a key).
fn define<'js>(ctx: &Ctx<'js>, obj: &rquickjs::Object<'js>, key: Value<'js>, value: Value<'js>) -> Result<()> {
    let raw = ctx.as_raw().as_ptr();
    // SAFETY: the atom is freed after use; the value reference is handed to QuickJS.
    unsafe {
        let atom = qjs::JS_ValueToAtom(raw, key.as_raw());
        if atom == qjs::JS_ATOM_NULL {
            return Err(CloneError::Exception);
        }
        let v = qjs::JS_DupValue(raw, value.as_raw());
        let r = qjs::JS_DefinePropertyValue(raw, obj.as_raw(), atom, v, qjs::JS_PROP_C_W_E as i32);
        qjs::JS_FreeAtom(raw, atom);
        if r < 0 {
            return Err(CloneError::Exception);
        }
    }
    Ok(())
}

fn define_index<'js>(ctx: &Ctx<'js>, obj: &rquickjs::Object<'js>, index: u32, value: Value<'js>) -> Result<()> {
    let raw = ctx.as_raw().as_ptr();
    // SAFETY: the value reference is handed to QuickJS.
    unsafe {
        let v = qjs::JS_DupValue(raw, value.as_raw());
        if qjs::JS_DefinePropertyValueUint32(raw, obj.as_raw(), index, v, qjs::JS_PROP_C_W_E as i32) < 0 {
            return Err(CloneError::Exception);
        }
    }
    Ok(())
}

fn set_non_enumerable<'js>(ctx: &Ctx<'js>, obj: &rquickjs::Object<'js>, name: &str) -> Result<()> {
    let object_ctor: rquickjs::Object = ctx.globals().get("Object").map_err(|_| CloneError::Exception)?;
    let define: rquickjs::Function = object_ctor.get("defineProperty").map_err(|_| CloneError::Exception)?;
    let desc = rquickjs::Object::new(ctx.clone()).map_err(|_| CloneError::Exception)?;
    desc.set("enumerable", false).map_err(|_| CloneError::Exception)?;
    define.call::<_, Value>((obj.clone(), name, desc)).map_err(|_| CloneError::Exception)?;
    Ok(())
}
