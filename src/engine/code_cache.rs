//! Compiled code shared by every isolate in the process: QuickJS bytecode by source.
//!
//! Parsing is QuickJS's most expensive step for the short snippets that hosts send again and
//! again (the same tool wrappers and accessors for every agent run, the same program retried);
//! reading bytecode back costs a fraction of it. V8 keeps a compilation cache for the same
//! reason (per isolate). The bytecode is immutable and made only by this process from source
//! that compiled without error, so any isolate may read it: reading builds fresh objects in that
//! isolate's own runtime and atoms, exactly as compiling there would. Bounded in bytes; when
//! full, the oldest entries go first.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};

use super::state::Source;

/// Total bytes kept (sources and bytecode).
const MAX_BYTES: usize = 8 << 20;
/// Larger entries are not kept: one big script would push out everything else.
const MAX_ENTRY: usize = 512 << 10;

#[derive(Default)]
struct Cache {
    entries: HashMap<Source, Arc<[u8]>>,
    order: VecDeque<Source>,
    bytes: usize,
}

static CACHE: Mutex<Option<Cache>> = Mutex::new(None);

fn size_of(source: &Source, bytecode: &[u8]) -> usize {
    source.code.len() + source.filename.len() + bytecode.len()
}

/// The key of a module's source in the cache and in its cachedData's seal: apart from every
/// script's (a script whose code began with a NUL character would not compile, so none is ever
/// kept under such a key).
pub fn module_key(source: &Source) -> Source {
    Source { code: format!("\0module\n{}", source.code), ..source.clone() }
}

/// The bytecode compiled earlier for exactly this source (code, filename and offsets).
pub fn get(source: &Source) -> Option<Arc<[u8]>> {
    CACHE.lock().unwrap().as_ref()?.entries.get(source).cloned()
}

/// Keeps the bytecode of a source that compiled without error.
pub fn put(source: &Source, bytecode: Arc<[u8]>) {
    let size = size_of(source, &bytecode);
    if size > MAX_ENTRY {
        return;
    }
    let mut guard = CACHE.lock().unwrap();
    let cache = guard.get_or_insert_with(Cache::default);
    if cache.entries.contains_key(source) {
        return;
    }
    while cache.bytes + size > MAX_BYTES {
        let Some(oldest) = cache.order.pop_front() else { break };
        if let Some(old) = cache.entries.remove(&oldest) {
            cache.bytes -= size_of(&oldest, &old);
        }
    }
    cache.bytes += size;
    cache.order.push_back(source.clone());
    cache.entries.insert(source.clone(), bytecode);
}

// -- cachedData ---------------------------------------------------------------------------------
//
// `compileScript`'s `produceCachedData` hands out a script's bytecode, and `cachedData` hands it
// back to skip parsing. QuickJS's bytecode reader trusts its input (bad bytecode can crash the
// process), so data is sealed with a tag keyed by a secret made at random for this process, and
// only data that carries a valid tag for exactly the source being compiled is read back; anything
// else (other source, another process, tampering) is rejected and the source is compiled.

const SEAL_MAGIC: &[u8; 8] = b"IQJS-CD1";
const TAG_LEN: usize = 16;

fn tag(source: &Source, bytecode: &[u8]) -> [u8; TAG_LEN] {
    use std::hash::{BuildHasher, Hash, Hasher};
    use std::sync::OnceLock;
    // Two independently keyed SipHash states (random keys, this process only): a 128-bit tag.
    static KEYS: OnceLock<[std::collections::hash_map::RandomState; 2]> = OnceLock::new();
    let keys = KEYS.get_or_init(|| [Default::default(), Default::default()]);
    let mut out = [0u8; TAG_LEN];
    for (k, key) in keys.iter().enumerate() {
        let mut h = key.build_hasher();
        source.hash(&mut h);
        bytecode.hash(&mut h);
        out[k * 8..k * 8 + 8].copy_from_slice(&h.finish().to_le_bytes());
    }
    out
}

/// The cachedData of `source`'s bytecode.
pub fn seal(source: &Source, bytecode: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(SEAL_MAGIC.len() + TAG_LEN + bytecode.len());
    out.extend_from_slice(SEAL_MAGIC);
    out.extend_from_slice(&tag(source, bytecode));
    out.extend_from_slice(bytecode);
    out
}

/// Takes cachedData for `source` into the cache when it is genuine; false when rejected.
pub fn accept(source: &Source, data: &[u8]) -> bool {
    let Some(rest) = data.strip_prefix(SEAL_MAGIC.as_slice()) else { return false };
    if rest.len() < TAG_LEN {
        return false;
    }
    let (given, bytecode) = rest.split_at(TAG_LEN);
    // Bytecode this process compiled for exactly this source and still keeps is genuine as it
    // is: comparing it costs far less than computing the tag over a large source.
    if get(source).is_some_and(|kept| *kept == *bytecode) {
        return true;
    }
    if given != tag(source, bytecode) {
        return false;
    }
    put(source, Arc::from(bytecode));
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    fn source(code: &str) -> Source {
        Source { code: code.into(), filename: "f".into(), line_offset: 0, column_offset: 0 }
    }

    /// The cache is one per process: tests that fill it run one at a time.
    static SERIAL: Mutex<()> = Mutex::new(());

    #[test]
    fn keeps_by_exact_source_and_evicts_oldest_first() {
        let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
        let a = source("cache-test-a");
        put(&a, Arc::from(vec![1u8; 16]));
        assert_eq!(get(&a).as_deref(), Some(&[1u8; 16][..]));
        // Same code elsewhere is another entry.
        assert!(get(&Source { line_offset: 1, ..a.clone() }).is_none());
        // Oversized entries are refused.
        let big = source("cache-test-big");
        put(&big, Arc::from(vec![0u8; MAX_ENTRY + 1]));
        assert!(get(&big).is_none());
        // Filling the cache pushes out the oldest entry.
        for i in 0..(MAX_BYTES / (MAX_ENTRY / 2)) + 2 {
            put(&source(&format!("cache-test-fill-{i}")), Arc::from(vec![0u8; MAX_ENTRY / 2]));
        }
        assert!(get(&a).is_none());
        assert!(CACHE.lock().unwrap().as_ref().unwrap().bytes <= MAX_BYTES);
    }

    #[test]
    fn cached_data_is_read_back_only_for_its_own_source_and_untouched() {
        let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
        let a = source("cached-data-a");
        let data = seal(&a, &[9, 8, 7]);
        assert!(accept(&a, &data));
        assert_eq!(get(&a).as_deref(), Some(&[9u8, 8, 7][..]));
        let b = source("cached-data-b");
        assert!(!accept(&b, &data), "another source");
        let mut tampered = data.clone();
        *tampered.last_mut().unwrap() ^= 1;
        let c = source("cached-data-c");
        assert!(!accept(&c, &seal(&a, &[1])), "a tag for other bytecode");
        assert!(!accept(&a, &tampered), "changed bytecode");
        assert!(!accept(&a, &data[..10]), "truncated");
        assert!(!accept(&a, b"garbage"), "garbage");
        assert!(get(&c).is_none());
    }
}
