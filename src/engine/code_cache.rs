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

#[cfg(test)]
mod tests {
    use super::*;

    fn source(code: &str) -> Source {
        Source { code: code.into(), filename: "f".into(), line_offset: 0, column_offset: 0 }
    }

    #[test]
    fn keeps_by_exact_source_and_evicts_oldest_first() {
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
}
