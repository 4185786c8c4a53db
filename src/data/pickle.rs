//! The CIFAR-10 python batches (torchvision's `cifar-10-batches-py/`:
//! `data_batch_1` ... `data_batch_5`, `test_batch`): Python pickles of
//! protocol 2, each a dict with `data` (an `N x 3072` uint8 numpy array, the
//! rows in the channel-major order of the binary format) and `labels` (a
//! list of N ints 0-9), plus `batch_label` and `filenames`, which are read
//! and ignored.
//!
//! This is not an unpickler: it runs the opcodes of protocol 2 that such a
//! batch contains on a small stack machine whose only callables are the
//! five a batch names: `numpy.core.multiarray._reconstruct` (also
//! `numpy._core`), `numpy.ndarray`, `numpy.dtype`, `_codecs.encode` with
//! `latin1` and `__builtin__.bytes` (the last two are how Python 3 writes
//! `bytes` at protocol 2; Python 2, which wrote the original files, uses
//! `SHORT_BINSTRING`/`BINSTRING`). Any other opcode or global, any other
//! protocol, a memo reference to a list or dict, nesting deeper than
//! [`MAX_DEPTH`], bytes after `STOP`, or a dict that is not a batch is a
//! [`DataError::BadPickle`] naming the file, the byte offset and what was
//! wrong. Every length is checked against the bytes left before anything
//! is allocated, so a file of n bytes allocates O(n).

use std::collections::HashMap;
use std::rc::Rc;

use super::cifar::{CLASSES, PIXELS};
use super::DataError;

/// Deepest nesting of tuples, lists and dicts accepted.
pub const MAX_DEPTH: u32 = 16;
/// Longest `module\nname\n` line of a `GLOBAL` opcode accepted.
const MAX_GLOBAL_LINE: usize = 64;
/// Most elements of a tuple that a memo reference may copy.
const MAX_SHARED_TUPLE: usize = 16;

/// The callables a batch names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Callable {
    Reconstruct,
    NdArray,
    Dtype,
    CodecsEncode,
    Bytes,
}

#[derive(Debug, Clone)]
enum V {
    None,
    Bool(bool),
    Int(i64),
    Bytes(Rc<[u8]>),
    Str(Rc<str>),
    Tuple(Vec<V>, u32),
    List(Vec<V>, u32),
    Dict(Vec<(V, V)>, u32),
    Global(Callable),
    Dtype(Rc<str>),
    /// `_reconstruct(ndarray, (0,), b'b')` before its `BUILD`.
    ArrayShell,
    Array {
        shape: Vec<i64>,
        dtype: Rc<str>,
        fortran: bool,
        data: Rc<[u8]>,
    },
    /// A memo slot holding a list or dict (not copied on a memo reference).
    Unshared,
}

impl V {
    fn depth(&self) -> u32 {
        match self {
            V::Tuple(_, d) | V::List(_, d) | V::Dict(_, d) => *d,
            _ => 0,
        }
    }

    fn name(&self) -> &'static str {
        match self {
            V::None => "None",
            V::Bool(_) => "bool",
            V::Int(_) => "int",
            V::Bytes(_) => "bytes",
            V::Str(_) => "str",
            V::Tuple(..) => "tuple",
            V::List(..) => "list",
            V::Dict(..) => "dict",
            V::Global(_) => "global",
            V::Dtype(_) => "dtype",
            V::ArrayShell | V::Array { .. } => "ndarray",
            V::Unshared => "memo slot",
        }
    }

    /// The text of a `str` or of `bytes` (Python 2's `str`).
    fn text(&self) -> Option<&[u8]> {
        match self {
            V::Bytes(b) => Some(b),
            V::Str(s) => Some(s.as_bytes()),
            _ => None,
        }
    }

    /// An int, or a bool as 0/1 (Python 2 writes `False` as `0`).
    fn int(&self) -> Option<i64> {
        match self {
            V::Int(i) => Some(*i),
            V::Bool(b) => Some(i64::from(*b)),
            _ => None,
        }
    }

    /// What a memo slot keeps: the value where copying it is cheap.
    fn for_memo(&self) -> V {
        match self {
            V::Tuple(items, _)
                if items.len() <= MAX_SHARED_TUPLE
                    && items.iter().all(|v| {
                        matches!(
                            v,
                            V::None
                                | V::Bool(_)
                                | V::Int(_)
                                | V::Bytes(_)
                                | V::Str(_)
                                | V::Global(_)
                        )
                    }) =>
            {
                self.clone()
            }
            V::Tuple(..) | V::List(..) | V::Dict(..) | V::ArrayShell | V::Array { .. } => {
                V::Unshared
            }
            other => other.clone(),
        }
    }
}

struct Machine<'a> {
    bytes: &'a [u8],
    pos: usize,
    path: &'a str,
    stack: Vec<V>,
    marks: Vec<usize>,
    memo: HashMap<u32, V>,
}

impl<'a> Machine<'a> {
    fn err(&self, reason: impl Into<String>) -> DataError {
        DataError::BadPickle {
            path: self.path.into(),
            offset: self.pos,
            reason: reason.into(),
        }
    }

    fn take(&mut self, n: usize, what: &str) -> Result<&'a [u8], DataError> {
        let end = self
            .pos
            .checked_add(n)
            .filter(|&e| e <= self.bytes.len())
            .ok_or_else(|| {
                self.err(format!(
                    "{what} of {n} bytes runs past the end ({} bytes left)",
                    self.bytes.len() - self.pos
                ))
            })?;
        let s = &self.bytes[self.pos..end];
        self.pos = end;
        Ok(s)
    }

    fn u8(&mut self, what: &str) -> Result<u8, DataError> {
        Ok(self.take(1, what)?[0])
    }

    fn u32(&mut self, what: &str) -> Result<u32, DataError> {
        let b = self.take(4, what)?;
        Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }

    fn pop(&mut self, what: &str) -> Result<V, DataError> {
        if self.marks.last().is_some_and(|&m| m >= self.stack.len()) {
            return Err(self.err(format!("{what}: the stack holds only a mark")));
        }
        self.stack
            .pop()
            .ok_or_else(|| self.err(format!("{what}: the stack is empty")))
    }

    fn top(&mut self, what: &str) -> Result<&mut V, DataError> {
        let floor = self.marks.last().copied().unwrap_or(0);
        if self.stack.len() <= floor {
            return Err(self.err(format!("{what}: nothing on the stack")));
        }
        let n = self.stack.len();
        Ok(&mut self.stack[n - 1])
    }

    fn pop_mark(&mut self, what: &str) -> Result<Vec<V>, DataError> {
        let m = self
            .marks
            .pop()
            .ok_or_else(|| self.err(format!("{what} without a mark")))?;
        Ok(self.stack.split_off(m))
    }

    fn push(&mut self, v: V) -> Result<(), DataError> {
        if v.depth() > MAX_DEPTH {
            return Err(self.err(format!("nesting deeper than {MAX_DEPTH}")));
        }
        self.stack.push(v);
        Ok(())
    }

    fn tuple(&mut self, items: Vec<V>) -> Result<(), DataError> {
        let d = 1 + items.iter().map(V::depth).max().unwrap_or(0);
        self.push(V::Tuple(items, d))
    }

    fn append(&mut self, items: Vec<V>) -> Result<(), DataError> {
        let d = 1 + items.iter().map(V::depth).max().unwrap_or(0);
        let too_deep = self.err(format!("nesting deeper than {MAX_DEPTH}"));
        match self.top("APPEND")? {
            V::List(list, depth) => {
                *depth = (*depth).max(d);
                if *depth > MAX_DEPTH {
                    return Err(too_deep);
                }
                list.extend(items);
                Ok(())
            }
            other => {
                let name = other.name();
                Err(self.err(format!("APPEND to a {name}, not a list")))
            }
        }
    }

    fn set_items(&mut self, items: Vec<V>) -> Result<(), DataError> {
        if items.len() % 2 != 0 {
            return Err(self.err("SETITEMS with an odd number of items"));
        }
        let d = 1 + items.iter().map(V::depth).max().unwrap_or(0);
        let too_deep = self.err(format!("nesting deeper than {MAX_DEPTH}"));
        match self.top("SETITEM")? {
            V::Dict(map, depth) => {
                *depth = (*depth).max(d);
                if *depth > MAX_DEPTH {
                    return Err(too_deep);
                }
                let mut it = items.into_iter();
                while let (Some(k), Some(v)) = (it.next(), it.next()) {
                    map.push((k, v));
                }
                Ok(())
            }
            other => {
                let name = other.name();
                Err(self.err(format!("SETITEM on a {name}, not a dict")))
            }
        }
    }

    fn global(&mut self) -> Result<V, DataError> {
        let rest = &self.bytes[self.pos..];
        let window = &rest[..rest.len().min(2 * MAX_GLOBAL_LINE + 2)];
        let mut lines = window.splitn(3, |&b| b == b'\n');
        let (Some(module), Some(name), Some(_)) = (lines.next(), lines.next(), lines.next()) else {
            return Err(self.err("GLOBAL without its two lines"));
        };
        self.pos += module.len() + name.len() + 2;
        let (module, name) = (
            String::from_utf8_lossy(module).into_owned(),
            String::from_utf8_lossy(name).into_owned(),
        );
        let c = match (module.as_str(), name.as_str()) {
            ("numpy.core.multiarray" | "numpy._core.multiarray", "_reconstruct") => {
                Callable::Reconstruct
            }
            ("numpy", "ndarray") => Callable::NdArray,
            ("numpy", "dtype") => Callable::Dtype,
            ("_codecs", "encode") => Callable::CodecsEncode,
            ("__builtin__" | "builtins", "bytes") => Callable::Bytes,
            _ => return Err(self.err(format!("global {module}.{name} is not one a batch uses"))),
        };
        Ok(V::Global(c))
    }

    fn reduce(&mut self, f: V, args: V) -> Result<V, DataError> {
        let V::Global(c) = f else {
            return Err(self.err(format!("REDUCE calls a {}", f.name())));
        };
        let V::Tuple(args, _) = args else {
            return Err(self.err(format!("REDUCE arguments are a {}", args.name())));
        };
        match (c, args.as_slice()) {
            (Callable::Reconstruct, [V::Global(Callable::NdArray), V::Tuple(shape, _), tag])
                if shape.len() == 1
                    && shape[0].int() == Some(0)
                    && tag.text() == Some(b"b".as_slice()) =>
            {
                Ok(V::ArrayShell)
            }
            (Callable::Dtype, [descr, align, copy])
                if align.int().is_some() && copy.int().is_some() =>
            {
                let d = descr
                    .text()
                    .ok_or_else(|| self.err("numpy.dtype of a non-string"))?;
                Ok(V::Dtype(String::from_utf8_lossy(d).into()))
            }
            (Callable::CodecsEncode, [V::Str(s), enc])
                if enc.text() == Some(b"latin1".as_slice()) =>
            {
                let mut out = Vec::with_capacity(s.len());
                for ch in s.chars() {
                    let b = u8::try_from(u32::from(ch))
                        .map_err(|_| self.err("latin1 bytes with a character above U+00FF"))?;
                    out.push(b);
                }
                Ok(V::Bytes(out.into()))
            }
            (Callable::Bytes, []) => Ok(V::Bytes(Rc::from(Vec::new()))),
            (c, a) => Err(self.err(format!(
                "{c:?} called with {} arguments of another form than a batch's",
                a.len()
            ))),
        }
    }

    fn build(&mut self, state: V) -> Result<(), DataError> {
        let err_pos = self.pos;
        let path = self.path;
        let bad = |reason: String| DataError::BadPickle {
            path: path.into(),
            offset: err_pos,
            reason,
        };
        let target = self.top("BUILD")?;
        let V::Tuple(state, _) = state else {
            return Err(bad(format!("BUILD with a {} state", state.name())));
        };
        match target {
            V::Dtype(_) => {
                // (version, byte order, subarray, names, fields, elsize, alignment, flags)
                match state.first().and_then(V::int) {
                    Some(3 | 4) if state.len() >= 8 => Ok(()),
                    _ => Err(bad("a numpy dtype state of another form".into())),
                }
            }
            V::ArrayShell => match state.as_slice() {
                [version, V::Tuple(shape, _), V::Dtype(dtype), fortran, V::Bytes(data)]
                    if version.int() == Some(1) && fortran.int().is_some() =>
                {
                    let shape = shape
                        .iter()
                        .map(|d| {
                            d.int()
                                .ok_or_else(|| bad("a non-integer array dimension".into()))
                        })
                        .collect::<Result<Vec<_>, _>>()?;
                    *target = V::Array {
                        shape,
                        dtype: dtype.clone(),
                        fortran: fortran.int() == Some(1),
                        data: data.clone(),
                    };
                    Ok(())
                }
                _ => Err(bad(
                    "an ndarray state other than (1, shape, dtype, fortran, raw bytes)".into(),
                )),
            },
            other => Err(bad(format!("BUILD on a {}", other.name()))),
        }
    }

    fn step(&mut self) -> Result<bool, DataError> {
        let op = self.u8("opcode")?;
        match op {
            b'}' => self.push(V::Dict(Vec::new(), 1))?,
            b']' => self.push(V::List(Vec::new(), 1))?,
            b')' => self.push(V::Tuple(Vec::new(), 1))?,
            b'(' => self.marks.push(self.stack.len()),
            b'N' => self.push(V::None)?,
            0x88 => self.push(V::Bool(true))?,
            0x89 => self.push(V::Bool(false))?,
            b'K' => {
                let v = self.u8("BININT1")?;
                self.push(V::Int(i64::from(v)))?
            }
            b'M' => {
                let b = self.take(2, "BININT2")?;
                self.push(V::Int(i64::from(u16::from_le_bytes([b[0], b[1]]))))?
            }
            b'J' => {
                let v = self.u32("BININT")? as i32;
                self.push(V::Int(i64::from(v)))?
            }
            0x8a => {
                let n = usize::from(self.u8("LONG1 length")?);
                if n > 8 {
                    return Err(self.err(format!("LONG1 of {n} bytes (at most 8 accepted)")));
                }
                let b = self.take(n, "LONG1")?;
                let mut buf = [if b.last().is_some_and(|&x| x >= 0x80) {
                    0xff
                } else {
                    0
                }; 8];
                buf[..n].copy_from_slice(b);
                self.push(V::Int(i64::from_le_bytes(buf)))?
            }
            b'U' => {
                let n = usize::from(self.u8("SHORT_BINSTRING length")?);
                let b = self.take(n, "SHORT_BINSTRING")?;
                self.push(V::Bytes(b.into()))?
            }
            b'T' => {
                let n = self.u32("BINSTRING length")? as i32;
                let n = usize::try_from(n).map_err(|_| self.err("BINSTRING of negative length"))?;
                let b = self.take(n, "BINSTRING")?;
                self.push(V::Bytes(b.into()))?
            }
            b'X' => {
                let n = self.u32("BINUNICODE length")? as usize;
                let b = self.take(n, "BINUNICODE")?;
                let s = std::str::from_utf8(b).map_err(|_| self.err("BINUNICODE not UTF-8"))?;
                self.push(V::Str(s.into()))?
            }
            b'q' => {
                let i = u32::from(self.u8("BINPUT index")?);
                self.put(i)?
            }
            b'r' => {
                let i = self.u32("LONG_BINPUT index")?;
                self.put(i)?
            }
            b'h' => {
                let i = u32::from(self.u8("BINGET index")?);
                self.get(i)?
            }
            b'j' => {
                let i = self.u32("LONG_BINGET index")?;
                self.get(i)?
            }
            b'c' => {
                let g = self.global()?;
                self.push(g)?
            }
            0x85..=0x87 => {
                let n = usize::from(op - 0x84);
                let floor = self.marks.last().copied().unwrap_or(0);
                if self.stack.len() < floor + n {
                    return Err(self.err(format!("TUPLE{n} with fewer than {n} items")));
                }
                let items = self.stack.split_off(self.stack.len() - n);
                self.tuple(items)?
            }
            b't' => {
                let items = self.pop_mark("TUPLE")?;
                self.tuple(items)?
            }
            b'a' => {
                let v = self.pop("APPEND")?;
                self.append(vec![v])?
            }
            b'e' => {
                let items = self.pop_mark("APPENDS")?;
                self.append(items)?
            }
            b's' => {
                let v = self.pop("SETITEM")?;
                let k = self.pop("SETITEM")?;
                self.set_items(vec![k, v])?
            }
            b'u' => {
                let items = self.pop_mark("SETITEMS")?;
                self.set_items(items)?
            }
            b'R' => {
                let args = self.pop("REDUCE")?;
                let f = self.pop("REDUCE")?;
                let v = self.reduce(f, args)?;
                self.push(v)?
            }
            b'b' => {
                let state = self.pop("BUILD")?;
                self.build(state)?
            }
            b'.' => return Ok(true),
            0x80 => return Err(self.err("PROTO after the start")),
            other => {
                self.pos -= 1;
                return Err(self.err(format!(
                    "opcode 0x{other:02x} is not one a protocol-2 batch uses"
                )));
            }
        }
        Ok(false)
    }

    fn put(&mut self, i: u32) -> Result<(), DataError> {
        let v = self.top("BINPUT")?.for_memo();
        self.memo.insert(i, v);
        Ok(())
    }

    fn get(&mut self, i: u32) -> Result<(), DataError> {
        match self.memo.get(&i) {
            None => Err(self.err(format!("memo {i} was never stored"))),
            Some(V::Unshared) => Err(self.err(format!(
                "memo {i} refers to a list, dict or array (not in a batch)"
            ))),
            Some(v) => {
                let v = v.clone();
                self.push(v)
            }
        }
    }
}

/// Runs the pickle to its `STOP` and returns the one value left.
fn run(bytes: &[u8], path: &str) -> Result<V, DataError> {
    let mut m = Machine {
        bytes,
        pos: 0,
        path,
        stack: Vec::new(),
        marks: Vec::new(),
        memo: HashMap::new(),
    };
    match bytes {
        [0x80, 2, ..] => m.pos = 2,
        [0x80, p, ..] => return Err(m.err(format!("pickle protocol {p}, expected 2"))),
        _ => return Err(m.err("no PROTO 2 header (0x80 0x02)")),
    }
    while !m.step()? {}
    if m.pos != bytes.len() {
        return Err(m.err(format!("{} bytes after STOP", bytes.len() - m.pos)));
    }
    if !m.marks.is_empty() || m.stack.len() != 1 {
        return Err(m.err(format!(
            "STOP with {} values and {} marks on the stack",
            m.stack.len(),
            m.marks.len()
        )));
    }
    m.pop("STOP")
}

/// Splits a CIFAR-10 python batch into labels (one per image) and pixels
/// (`PIXELS` per image, in file order), as the binary reader does.
pub fn parse_cifar_pickle(bytes: &[u8], path: &str) -> Result<(Vec<u8>, Vec<u8>), DataError> {
    let end = bytes.len();
    let bad = |reason: String| DataError::BadPickle {
        path: path.into(),
        offset: end,
        reason,
    };
    let V::Dict(entries, _) = run(bytes, path)? else {
        return Err(bad("the pickled value is not a dict".into()));
    };
    let field = |name: &str| {
        entries
            .iter()
            .find(|(k, _)| k.text() == Some(name.as_bytes()))
            .map(|(_, v)| v)
            .ok_or_else(|| bad(format!("no '{name}' key")))
    };
    let V::Array {
        shape,
        dtype,
        fortran,
        data,
    } = field("data")?
    else {
        return Err(bad("'data' is not a numpy array".into()));
    };
    if &**dtype != "u1" || *fortran {
        return Err(bad(format!(
            "'data' has dtype {dtype}{}, expected C-ordered u1 (uint8)",
            if *fortran { " in Fortran order" } else { "" }
        )));
    }
    let n = match shape.as_slice() {
        [n, w] if *w == PIXELS as i64 && *n >= 1 => *n as usize,
        _ => {
            return Err(bad(format!(
                "'data' has shape {shape:?}, expected (N, {PIXELS})"
            )))
        }
    };
    if n.checked_mul(PIXELS) != Some(data.len()) {
        return Err(bad(format!(
            "'data' of shape ({n}, {PIXELS}) holds {} bytes",
            data.len()
        )));
    }
    let V::List(labels, _) = field("labels")? else {
        return Err(bad("'labels' is not a list".into()));
    };
    if labels.len() != n {
        return Err(DataError::Inconsistent {
            what: path.into(),
            reason: format!("{n} images but {} labels", labels.len()),
        });
    }
    let labels = labels
        .iter()
        .enumerate()
        .map(|(index, l)| match l.int() {
            Some(x) if (0..i64::from(CLASSES)).contains(&x) => Ok(x as u8),
            Some(x) if (0..=255).contains(&x) => Err(DataError::BadLabel {
                path: path.into(),
                index,
                label: x as u8,
            }),
            Some(x) => Err(bad(format!("label {index} is {x}, not a class 0-9"))),
            None => Err(bad(format!("label {index} is a {}, not an int", l.name()))),
        })
        .collect::<Result<Vec<u8>, _>>()?;
    Ok((labels, data.to_vec()))
}
