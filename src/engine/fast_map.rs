//! A hash map for keys we make ourselves (ids, addresses, atoms): one multiply instead of
//! SipHash, which showed up in profiles of the busiest paths. Not for keys user code chooses
//! (sources, property names): those keep std's keyed hash, so no program can make them collide.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

#[derive(Default)]
pub struct IdHasher(u64);

const GOLDEN: u64 = 0x9E37_79B9_7F4A_7C15;

impl Hasher for IdHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 = (self.0.rotate_left(8) ^ *b as u64).wrapping_mul(GOLDEN);
        }
    }
    fn write_u64(&mut self, n: u64) {
        self.0 = n.wrapping_mul(GOLDEN);
    }
    fn write_usize(&mut self, n: usize) {
        // (Addresses: the low bits are alignment.)
        self.0 = (n as u64 >> 3).wrapping_mul(GOLDEN);
    }
    fn write_u32(&mut self, n: u32) {
        self.0 = (n as u64).wrapping_mul(GOLDEN);
    }
}

pub type FastMap<K, V> = HashMap<K, V, BuildHasherDefault<IdHasher>>;
